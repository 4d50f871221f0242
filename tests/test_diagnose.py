"""Diagnostics of task exchangeability on simulated and bundled data."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer.diagnose import _holm, diagnose
from synthinfer.plot import plot_diagnostics


def _paper_model(n_tasks: int, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """The paper's simulated tasks in summary format; ``drift`` adds a bias trend in time."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n_tasks)
    time = np.arange(n_tasks, dtype=float)
    p_synth = np.clip(p + rng.normal(0.05, 0.1, n_tasks) + drift * (time / n_tasks - 0.5), 0, 1)
    real = rng.binomial(1000, p) / 1000
    synth = rng.binomial(2000, p_synth) / 2000
    synth_se = np.sqrt(synth * (1 - synth) / 2000)
    return pd.DataFrame(
        {
            "task": [f"t{i}" for i in range(n_tasks)],
            "synth_estimate": synth,
            "synth_se": synth_se,
            "real_estimate": real,
            "gap_estimate": real - synth,
            "gap_se": np.sqrt(real * (1 - real) / 1000 + synth_se**2),
            "time": time,
        }
    )


def _pew_scalar() -> pd.DataFrame:
    """96 scalar GPT-4o Pew tasks with attribute role (co-partisan / opposition)."""
    path = resources.files("synthinfer") / "datasets/data/pew_approval_gpt4o.csv"
    raw = pd.read_csv(str(path))
    raw = raw[raw["party"] != "Other"].copy()
    raw["role"] = np.where(
        raw["party"] == raw["president"].map({"Trump": "Rep", "Biden": "Dem"}), "co", "opp"
    )
    raw["cell"] = raw["region"] + " / " + raw["president"] + " " + raw["wave"]
    raw = raw[raw.groupby("cell")["n"].transform("min") >= 100]
    return pd.DataFrame(
        {
            "task": raw["cell"] + " / " + raw["role"],
            "synth_estimate": raw["synth_mean"],
            "synth_se": raw["synth_se"],
            "real_estimate": raw["real_mean"],
            "gap_estimate": raw["gap_mean"],
            "gap_se": raw["gap_se"],
            "role": raw["role"],
            "time": raw["wave_number"],
        }
    )


def test_paper_model_finds_nothing():
    report = diagnose(_paper_model(100, seed=1))
    assert report.flagged == ()
    assert "Nothing flagged" in report.summary()
    assert {f.test for f in report.findings} == {
        "trend",
        "synth_estimate",
        "calibration",
        "outliers",
    }


def test_drifting_bias_flags_the_trend_and_suggests_weighted():
    report = diagnose(_paper_model(100, seed=1, drift=0.3))
    trend = next(f for f in report.findings if f.test == "trend")
    assert trend.flagged
    assert trend.p_adjusted <= 0.05
    assert "'weighted'" in trend.remedy
    assert trend.statistic < 0  # bias rises in time, so gaps (real − synthetic) fall


def test_pew_flags_the_role_dependence():
    frame = _pew_scalar()
    assert len(frame) == 96
    report = diagnose(frame, n_permutations=999)
    role = next(f for f in report.findings if f.test == "attribute:role")
    assert role.flagged
    assert "--group-by role" in role.remedy
    assert "synth_estimate" in {f.test for f in report.flagged}


def test_outlier_and_subgroup_miscalibration_are_reported():
    frame = _paper_model(60, seed=2).drop(columns="time")
    frame["kind"] = np.where(np.arange(60) % 3 == 0, "wide", "narrow")
    rng = np.random.default_rng(0)
    frame.loc[frame.kind == "wide", "gap_estimate"] = rng.normal(0, 0.6, 20)
    frame.loc[5, "gap_estimate"] = 9.0
    report = diagnose(frame, n_permutations=999)
    assert report.outliers[0] == "t5" or "t5" in report.outliers
    calibration = next(f for f in report.findings if f.test == "calibration")
    assert calibration.flagged
    assert "kind=wide" in calibration.message


def test_per_coordinate_findings():
    a, b = _paper_model(40, seed=3), _paper_model(40, seed=4)
    frame = pd.concat([a.assign(coord="co"), b.assign(coord="opp")])
    report = diagnose(frame, n_permutations=199)
    assert {f.coord for f in report.findings} == {"co", "opp"}
    assert report.n_history == 80
    assert len(report.to_frame()) == len(report.findings)
    assert report.to_dict()["n_permutations"] == 199


def test_holm_adjustment_exact():
    np.testing.assert_allclose(_holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(_holm([0.5, 0.9]), [1.0, 1.0])


def test_permutation_p_values_are_valid_under_the_null():
    """Gaps independent of time and synthetic estimate: flags stay rare (Holm, outlier cutoff)."""
    rng = np.random.default_rng(8)
    flagged = []
    for _ in range(40):
        frame = _paper_model(30, seed=int(rng.integers(1 << 30)))
        frame["gap_estimate"] = rng.normal(0.05, 0.1, 30)
        flagged.append(bool(diagnose(frame, n_permutations=199, seed=1).flagged))
    assert sum(flagged) <= 6  # Binomial(40, 0.06): P(X >= 7) < 0.03


def test_errors_name_what_is_wrong():
    frame = _paper_model(10, seed=0)
    with pytest.raises(ValueError, match=r"\['gap_estimate'\]"):
        diagnose(frame.drop(columns="gap_estimate"))
    with pytest.raises(ValueError, match="n_permutations"):
        diagnose(frame, n_permutations=10)
    with pytest.raises(ValueError, match=r"\['zzz'\]"):
        diagnose(frame, attributes=["zzz"])
    with pytest.raises(ValueError, match="at least 4"):
        diagnose(frame.head(3))


def test_plot_diagnostics():
    import matplotlib

    matplotlib.use("Agg")
    axes = plot_diagnostics(_paper_model(20, seed=0))
    assert axes[0].get_xlabel() == "time"
    assert axes[1].get_xlabel() == "synthetic estimate"


def test_cli_diagnose(tmp_path):
    import json

    from typer.testing import CliRunner

    from synthinfer.cli import app

    path = tmp_path / "pew.csv"
    _pew_scalar().to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["diagnose", str(path), "--permutations", "199", "--plot", str(tmp_path / "d.png")]
    )
    assert result.exit_code == 0, result.output
    assert "FLAG attribute:role" in result.output
    assert "--group-by role" in result.output
    assert (tmp_path / "d.png").stat().st_size > 0
    result = runner.invoke(app, ["diagnose", str(path), "--permutations", "199", "-f", "json"])
    assert json.loads(result.output)["n_history"] == 96
    result = runner.invoke(app, ["diagnose", str(path), "--attribute", "nope"])
    assert result.exit_code == 2
    assert "['nope']" in result.output


# --- remedies that can run at the user's alpha -----------------------------------------


def _grouped(n_tasks: int, n_groups: int, seed: int, effect: float = 0.3) -> pd.DataFrame:
    """History whose gap depends strongly on a categorical attribute ``org``."""
    frame = _paper_model(n_tasks, seed=seed).drop(columns="time")
    frame["org"] = [f"org{i % n_groups:02d}" for i in range(n_tasks)]
    shift = effect * (np.arange(n_tasks) % n_groups) / n_groups
    frame["gap_estimate"] = frame["gap_estimate"] + shift
    return frame


def _finding(report, test, coord=""):
    return next(f for f in report.findings if f.test == test and f.coord == coord)


def test_pew_does_not_suggest_group_by_wave():
    from synthinfer.datasets import load_dataset

    report = diagnose(load_dataset("pew"), n_permutations=999)
    wave = _finding(report, "attribute:wave", "co")
    assert wave.flagged and wave.feasible
    # before: "calibrate within groups (--group-by wave) or adjust (--adjust wave)", with
    # 4 tasks per wave and coordinate, so every interval of --group-by wave is infinite
    assert "(--group-by wave)" not in wave.remedy
    assert "not --group-by wave: the smallest group (wave = " in wave.remedy
    assert "has 4 history task(s), and a finite band at alpha 0.1 (0.05 per coordinate)" in (
        wave.remedy
    )
    assert "needs at least 39" in wave.remedy
    assert wave.remedy.startswith("adjust for it (--adjust wave)")
    assert "--group-by wave" not in " ".join(r.split("; not")[0] for r in report.remedies)


def test_a_59_model_table_does_not_suggest_group_by_org():
    report = diagnose(_grouped(59, 12, seed=4), n_permutations=999)
    org = _finding(report, "attribute:org")
    assert org.flagged and org.feasible
    assert "(--group-by org)" not in org.remedy
    assert "not --group-by org: the smallest group" in org.remedy
    assert "(--adjust org)" in org.remedy
    calibrate_within = [r for r in report.remedies if "calibrate within groups" in r]
    assert calibrate_within == []


def test_group_by_is_suggested_when_every_group_is_large_enough():
    report = diagnose(_grouped(120, 2, seed=5), n_permutations=999)
    org = _finding(report, "attribute:org")
    assert org.remedy.startswith("calibrate within groups (--group-by org) or adjust")
    assert "not " not in org.remedy


def test_the_given_allocation_is_named_when_only_a_larger_alpha3_works():
    # alpha 0.2: any split needs 9 history tasks per group, prop:0.1,0.2,0.7 needs 14
    report = diagnose(_grouped(40, 4, seed=6, effect=0.6), alpha=0.2, n_permutations=999)
    org = _finding(report, "attribute:org")
    assert org.flagged and org.feasible
    assert "calibrate within groups (--group-by org) (the smallest group" in org.remedy
    assert "has 10 history task(s): enough only with a larger alpha3 than prop:0.1,0.2,0.7" in (
        org.remedy
    )
    assert "which needs 14" in org.remedy
    auto = diagnose(
        _grouped(40, 4, seed=6, effect=0.6), alpha=0.2, n_permutations=999, allocation="auto"
    )
    assert "enough only with" not in _finding(auto, "attribute:org").remedy


def test_no_remedy_is_feasible_with_too_small_a_history():
    report = diagnose(_grouped(15, 3, seed=7, effect=0.9), n_permutations=999)
    org = _finding(report, "attribute:org")
    assert org.flagged and not org.feasible
    assert org.remedy.startswith("no remedy is feasible at alpha 0.1 with 15 history tasks; ")
    assert "--group-by org: the smallest group" in org.remedy
    assert "--adjust org: there are 15 history task(s)" in org.remedy
    assert org.remedy not in report.remedies
    assert report.summary().splitlines()[-1] == (
        "No remedy is feasible at alpha 0.1 with 15 history tasks: add history tasks or "
        "raise alpha."
    )


def test_adjust_is_not_suggested_for_a_target_level_the_history_lacks():
    frame = _grouped(60, 2, seed=8)
    target = frame.iloc[[0]].assign(
        task="new", org="org99", real_estimate=np.nan, gap_estimate=np.nan, gap_se=np.nan
    )
    report = diagnose(pd.concat([frame, target], ignore_index=True), n_permutations=999)
    org = _finding(report, "attribute:org")
    assert org.flagged and not org.feasible
    assert org.remedy.startswith("no remedy is feasible at alpha 0.1 with 60 history tasks; ")
    assert "--adjust org: target task(s) have org = 'org99', a level no history task has" in (
        org.remedy
    )
    assert "--group-by org: the smallest group (org = 'org99') has 0 history task(s)" in (
        org.remedy
    )


def test_remedy_messages_show_no_numpy_reprs():
    frame = _grouped(15, 3, seed=7, effect=0.9)
    frame["org"] = frame["org"].astype("category")
    text = diagnose(frame, n_permutations=199).summary()
    assert "np." not in text and "array(" not in text


def test_diagnose_and_plan_take_a_path_or_any_dataframe(tmp_path):
    import polars as pl

    from synthinfer.plan import fit_plan_model

    table = synthinfer.pew_tasks(scalar=True)
    path = tmp_path / "pew.csv"
    table.to_csv(path, index=False)
    expected = diagnose(table, n_permutations=199).to_frame()
    for source in (path, str(path), pl.from_pandas(table), pl.from_pandas(table).lazy()):
        got = diagnose(source, n_permutations=199).to_frame()
        pd.testing.assert_frame_equal(got, expected)
        assert fit_plan_model(source, n_synth=500) == fit_plan_model(table, n_synth=500)
