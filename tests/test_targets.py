"""Targets by name (``targets=`` / ``--target``), method ``ppi`` and the labelled-pair inputs."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthinfer import infer
from synthinfer.cli import app
from synthinfer.data import Estimand, TaskData, label_gap
from synthinfer.intervals import WaldInterval, ppi_mean, ppi_quantile

ALPHA = 0.1


def labelled_table(
    n_tasks: int = 22,
    n_units: int = 120,
    labelled: int = 60,
    target_labels: int = 30,
    seed: int = 0,
    weighted: bool = False,
    draws: int = 1,
) -> pd.DataFrame:
    """Paired unit-level rows: history tasks with ``labelled`` real units, the last task
    (``target``) with ``target_labels``; every unit has ``draws`` synthetic rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tasks):
        task = "target" if t == n_tasks - 1 else f"h{t:02d}"
        real = rng.normal(rng.normal(0, 1), 1.0, n_units)
        bias = rng.normal(0.3, 0.2)
        weights = rng.uniform(0.5, 2.0, n_units)
        labels = target_labels if task == "target" else labelled
        for u in range(n_units):
            w = {"weight": weights[u]} if weighted else {}
            if u < labels:
                rows.append({"task": task, "source": "real", "value": real[u], "unit": u, **w})
            for _ in range(draws):
                synth = 0.8 * real[u] + bias + rng.normal(0, 0.5)
                rows.append({"task": task, "source": "synthetic", "value": synth, "unit": u, **w})
    return pd.DataFrame(rows)


def unit_arrays(frame: pd.DataFrame, task: str):
    """The task's labelled unit means (real, synthetic), unlabelled synthetic unit means."""
    rows = frame[frame["task"] == task]
    real = rows[rows["source"] == "real"].groupby("unit")["value"].mean()
    synth = rows[rows["source"] == "synthetic"].groupby("unit")["value"].mean()
    labelled = synth.index.isin(real.index)
    return real.sort_index(), synth[labelled].sort_index(), synth[~labelled]


def one(result, method: str):
    (row,) = [r for r in result.intervals if r.method == method]
    return row


def test_a_named_task_is_a_target_left_out_of_the_history():
    frame = labelled_table()
    result = infer(frame, targets="target", method="exchangeable,ppi")
    assert {r.task for r in result.intervals} == {"target"}
    assert one(result, "exchangeable").n_history == 21
    plain = infer(frame[frame["task"] != "target"], targets="h00", method="exchangeable")
    assert one(plain, "exchangeable").n_history == 20


def student_factor(alpha: float, m: int, fitted: int) -> float:
    """``t_{m−k}(1 − a/2)·sqrt(m/(m − k))/z(1 − a/2)``, from scipy.stats (independently)."""
    from scipy.stats import norm, t

    return t.ppf(1 - alpha / 2, m - fitted) * np.sqrt(m / (m - fitted)) / norm.ppf(1 - alpha / 2)


def test_ppi_is_ppi_plus_plus_on_the_targets_pairs_and_unlabelled_units():
    frame = labelled_table()
    result = infer(frame, targets=["target"], method="ppi,synthetic-only", ppi_critical="normal")
    real, synth, unlabelled = unit_arrays(frame, "target")
    assert len(real) == 30 and len(unlabelled) == 90
    expected = ppi_mean(real.to_numpy(), synth.to_numpy(), unlabelled.to_numpy())
    lower, upper = expected.interval(ALPHA)
    row = one(result, "ppi")
    assert row.lower == pytest.approx(float(lower), abs=1e-12)
    assert row.upper == pytest.approx(float(upper), abs=1e-12)
    assert row.estimate == pytest.approx(float(expected.estimate), abs=1e-12)
    assert (row.w1, row.w2, row.w3, row.n_history) == (pytest.approx(upper - lower), 0, 0, 0)
    assert (row.alpha1, row.alpha2, row.alpha3) == (ALPHA, 0.0, 0.0)
    # the synthetic estimate is over all synthetic units, labelled or not
    all_synth = frame[(frame["task"] == "target") & (frame["source"] == "synthetic")]["value"]
    assert row.synth_estimate == pytest.approx(all_synth.mean(), abs=1e-12)
    assert one(result, "synthetic-only").synth_estimate == pytest.approx(all_synth.mean())


def test_student_ppi_is_the_normal_interval_widened_by_the_student_factor():
    frame = labelled_table()
    normal = one(infer(frame, targets="target", method="ppi", ppi_critical="normal"), "ppi")
    student = one(infer(frame, targets="target", method="ppi"), "ppi")
    assert student.history.n_labelled.tolist() == [30.0]
    assert student.history.ppi_critical == "student"
    centre = (normal.lower + normal.upper) / 2
    half = (normal.upper - normal.lower) / 2 * student_factor(ALPHA, 30, 2)
    assert (student.lower, student.upper) == (
        pytest.approx(centre - half, abs=1e-12),
        pytest.approx(centre + half, abs=1e-12),
    )
    assert student.estimate == normal.estimate
    # the CLI option
    with pytest.raises(ValueError, match="ppi_critical must be one of"):
        infer(frame, targets="target", method="ppi", ppi_critical="t")


def test_ppi_recomputes_at_another_level():
    result = infer(labelled_table(), targets="target", method="ppi")
    row = one(result, "ppi")
    wider = row.at(0.02)
    assert wider.lower < row.lower and wider.upper > row.upper
    assert (wider.lower + wider.upper) / 2 == pytest.approx((row.lower + row.upper) / 2)


def test_ppi_averages_repeated_draws_per_unit_and_uses_survey_weights():
    frame = labelled_table(weighted=True, draws=3, n_tasks=3)
    result = infer(frame, targets="target", method="ppi", ppi_critical="normal")
    rows = frame[frame["task"] == "target"]
    real, synth, unlabelled = unit_arrays(frame, "target")
    weight = rows.groupby("unit")["weight"].first()
    expected = ppi_mean(
        real.to_numpy(),
        synth.to_numpy(),
        unlabelled.to_numpy(),
        weights=weight.loc[real.index].to_numpy(),
        unlabelled_weights=weight.loc[unlabelled.index].to_numpy(),
    )
    lower, upper = expected.interval(ALPHA)
    row = one(result, "ppi")
    assert (row.lower, row.upper) == (pytest.approx(float(lower)), pytest.approx(float(upper)))


def test_ppi_quantile_uses_the_rectified_cdf():
    from scipy.stats import t

    frame = labelled_table(n_tasks=3, target_labels=8)
    options = {"targets": "target", "method": "ppi", "estimand": "quantile:0.5"}
    result = infer(frame, ppi_critical="normal", **options)
    real, synth, unlabelled = unit_arrays(frame, "target")
    family = ppi_quantile(real.to_numpy(), synth.to_numpy(), unlabelled.to_numpy(), 0.5)
    lower, upper = family.interval(ALPHA)
    row = one(result, "ppi")
    assert (row.lower, row.upper) == (float(lower[0]), float(upper[0]))
    assert row.estimate == float(family.estimate[0])
    # Student: the grid points whose t-test (m − 1 df, unbiased variance) keeps F(g) = q
    student = one(infer(frame, **options), "ppi")
    (grid,), (z,) = family.grids, family.z_scores
    p_values = 2 * t.sf(np.abs(z) * np.sqrt(7 / 8), 7)
    kept = grid[p_values > ALPHA]
    assert (student.lower, student.upper) == (kept[0], kept[-1])
    assert student.lower < row.lower and student.upper > row.upper
    assert student.estimate == row.estimate


def test_a_quantile_of_clustered_units_is_refused():
    frame = labelled_table(n_tasks=3, draws=2)
    with pytest.raises(ValueError, match="one row per unit"):
        infer(
            frame,
            targets="target",
            method="ppi",
            estimand="quantile:0.5",
            interval="bootstrap",
            n_bootstrap=100,
        )


def test_unknown_target_names_are_an_error():
    with pytest.raises(ValueError, match=r"not in the data: 'nope'"):
        infer(labelled_table(n_tasks=3), targets="target,nope", method="ppi")


def test_ppi_refuses_targets_without_labels():
    frame = labelled_table(n_tasks=3)
    unlabelled = frame[~((frame["task"] == "target") & (frame["source"] == "real"))]
    with pytest.raises(ValueError, match="needs labelled pairs"):
        infer(unlabelled, method="ppi")
    # the same target without unit ids: no pairs
    with pytest.raises(ValueError, match="needs labelled pairs"):
        infer(frame.drop(columns="unit"), targets="target", method="ppi")


def test_ppi_refuses_a_target_whose_every_unit_is_labelled():
    frame = labelled_table(n_tasks=3, target_labels=120)
    with pytest.raises(ValueError, match="every unit is labelled"):
        infer(frame, targets="target", method="ppi")


def test_other_methods_run_as_before_and_read_no_labels():
    frame = labelled_table()
    result = infer(frame, targets="target", method="exchangeable")
    row = one(result, "exchangeable")
    assert row.history.labelled is None and row.history.label_gap is None
    both = infer(frame, targets="target", method="exchangeable,ppi")
    same = one(both, "exchangeable")
    assert (same.lower, same.upper) == (row.lower, row.upper)


def test_label_gaps_for_hybrid_are_seeded_subsamples_of_m_pairs():
    frame = labelled_table()
    result = infer(frame, targets="target", method="hybrid", seed=3)
    history = one(result, "hybrid").history
    real, synth, _ = unit_arrays(frame, "target")
    differences = real.to_numpy() - synth.to_numpy()
    assert float(history.target_label_gap[0]) == pytest.approx(differences.mean(), abs=1e-12)
    assert float(history.target_label_gap_se[0]) == pytest.approx(
        differences.std(ddof=1) / np.sqrt(30), abs=1e-12
    )
    assert history.label_gap.shape == (21,) and np.all(np.isfinite(history.label_gap_se))
    np.testing.assert_array_equal(history.n_labelled, [30.0])
    # each history gap is the mean over 30 of its 60 pairs: it lies within their range
    h_real, h_synth, _ = unit_arrays(frame, "h00")
    h_diff = h_real.to_numpy() - h_synth.to_numpy()
    assert h_diff.min() <= history.label_gap[0] <= h_diff.max()
    assert history.label_gap[0] != pytest.approx(h_diff.mean())
    again = one(infer(frame, targets="target", method="hybrid", seed=3), "hybrid").history
    np.testing.assert_array_equal(again.label_gap, history.label_gap)
    other = one(infer(frame, targets="target", method="hybrid", seed=4), "hybrid").history
    assert not np.array_equal(other.label_gap, history.label_gap)


def test_history_tasks_with_fewer_than_m_pairs_leave_hybrids_history_with_a_warning():
    frame = labelled_table()
    short = (frame["task"] == "h03") & (frame["source"] == "real") & (frame["unit"] >= 10)
    frame = frame[~short]
    with pytest.warns(UserWarning, match=r"1 history task\(s\) have fewer than m = 30"):
        result = infer(frame, targets="target", method="hybrid,exchangeable")
    assert one(result, "hybrid").n_history == 20
    assert one(result, "exchangeable").n_history == 21


def test_label_gap_formulas():
    real, synth = np.array([1.0, 2.0, 4.0]), np.array([0.5, 1.0, 1.0])
    gap, se = label_gap(real, synth, None, Estimand())
    d = real - synth
    assert (gap, se) == (pytest.approx(d.mean()), pytest.approx(d.std(ddof=1) / np.sqrt(3)))
    w = np.array([1.0, 2.0, 1.0])
    gap, se = label_gap(real, synth, w, Estimand())
    hajek = np.sum(w * d) / w.sum()
    assert gap == pytest.approx(hajek)
    assert se == pytest.approx(np.sqrt(np.sum(w**2 * (d - hajek) ** 2)) / w.sum())
    gap, se = label_gap(real, synth, None, Estimand.parse("quantile:0.5"))
    assert gap == pytest.approx(2.0 - 1.0) and np.isnan(se)
    assert np.isnan(label_gap(real[:1], synth[:1], None, Estimand())[1])


def summary_with_labels() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "task": [f"h{i}" for i in range(25)] + ["target"],
            "synth_estimate": rng.normal(0.5, 0.1, 26),
            "synth_se": 0.02,
            "gap_estimate": [*rng.normal(0.1, 0.05, 25), np.nan],
            "gap_se": 0.03,
            "label_gap_estimate": rng.normal(0.1, 0.05, 26),
            "label_gap_se": 0.04,
        }
    )
    frame["ppi_estimate"] = np.where(frame["task"] == "target", 0.62, np.nan)
    frame["ppi_se"] = np.where(frame["task"] == "target", 0.03, np.nan)
    return frame


def test_summary_tables_give_ppi_as_a_wald_interval_and_label_gaps():
    frame = summary_with_labels()
    result = infer(frame, method="ppi,hybrid", ppi_critical="normal")
    row = one(result, "ppi")
    lower, upper = WaldInterval(np.array([0.62]), np.array([0.03])).interval(ALPHA)
    assert (row.lower, row.upper) == (pytest.approx(lower[0]), pytest.approx(upper[0]))
    assert row.estimate == pytest.approx(0.62)
    history = one(result, "hybrid").history
    np.testing.assert_allclose(history.label_gap, frame["label_gap_estimate"][:25])
    assert float(history.target_label_gap[0]) == pytest.approx(frame["label_gap_estimate"][25])
    # the label columns are not task attributes
    assert "ppi_se" not in TaskData.load(frame).attributes.columns
    with pytest.raises(ValueError, match="'ppi_estimate' and 'ppi_se'"):
        infer(frame.drop(columns=["ppi_estimate", "ppi_se"]), method="ppi")


def test_a_summary_table_needs_n_labelled_for_the_student_ppi_interval():
    frame = summary_with_labels()
    with pytest.raises(ValueError, match=r"add a column 'n_labelled'.*ppi_critical='normal'"):
        infer(frame, method="ppi")
    # hybrid without m does not intersect with the PPI interval (and says so in its docs)
    plain = one(infer(frame, method="hybrid"), "hybrid")
    assert plain.history.n_labelled is None
    frame["n_labelled"] = np.where(frame["task"] == frame["task"].iloc[-1], 12, np.nan)
    row = one(infer(frame, method="ppi,hybrid"), "ppi")
    half = 0.03 * 1.6448536269514722 * student_factor(ALPHA, 12, 2)
    assert (row.lower, row.upper) == (pytest.approx(0.62 - half), pytest.approx(0.62 + half))
    assert "n_labelled" not in TaskData.load(frame).attributes.columns
    frame.loc[frame.index[-1], "n_labelled"] = 2.5
    with pytest.raises(ValueError, match=r"'n_labelled' of target .* whole number"):
        infer(frame, method="ppi")


def test_cli_target_option(tmp_path):
    path = tmp_path / "labels.csv"
    labelled_table(n_tasks=3).to_csv(path, index=False)
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.invoke(
            app, ["infer", str(path), "--target", "target", "--method", "ppi", "--format", "csv"]
        )
    assert result.exit_code == 0, result.output
    assert "ppi" in result.stdout and "target" in result.stdout
    rows = {}
    for critical in ("normal", "student"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arguments = ["infer", str(path), "--target", "target", "--method", "ppi"]
            out = runner.invoke(app, [*arguments, "--ppi-critical", critical, "--format", "csv"])
        assert out.exit_code == 0, out.output
        rows[critical] = pd.read_csv(io.StringIO(out.stdout)).iloc[0]
    expected = one(infer(path, targets="target", method="ppi", ppi_critical="normal"), "ppi")
    assert rows["normal"]["upper"] == pytest.approx(expected.upper)
    assert rows["student"]["upper"] > rows["normal"]["upper"]
    missing = runner.invoke(app, ["infer", str(path), "--target", "nope", "--method", "ppi"])
    assert missing.exit_code == 2 and "not in the data" in missing.output


def test_auto_splits_hybrids_band_level_and_keeps_the_ppi_share():
    # 21 history tasks: a finite band needs alpha3 >= 2/22. The target's m = 30 labels give
    # the PPI share 30/(30 + 75) (below the cap 1 − 2/(22·0.7·0.2) = 0.351), so auto must
    # split the band's 0.2·75/105, not the whole 0.2, or the share left for the PPI
    # interval would leave the band infinite and be dropped
    table = labelled_table()
    result = infer(table, targets="target", method="hybrid", alpha=0.2, bounds="none")
    interval = one(result, "hybrid")
    band_level = 0.2 * 75 / 105
    assert interval.alpha1 + interval.alpha2 + interval.alpha3 == pytest.approx(band_level)
    assert interval.alpha3 >= 2 / 22 - 1e-12 and interval.feasible
    band_only = infer(
        table, targets="target", method="exchangeable", alpha=band_level, bounds="none"
    )
    assert interval.width <= one(band_only, "exchangeable").width + 1e-12
