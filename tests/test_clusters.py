"""Repeated draws are clusters, empty values are non-response (issue 13 items 5-6).

The ``unit`` of a unit-level table is the cluster: the K synthetic answers of a
persona are averaged into one observation before pairing, standard errors
count units (the CR1 cluster-robust variance of the mean), and the bootstrap
resamples units. An empty value is a non-response: left out of every
estimate, counted per task and source, and reported in one warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import synthinfer
from synthinfer.data import TaskData
from synthinfer.tables import unit_statistics

pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")

ALPHA = 0.1
Z = float(stats.norm.ppf(1 - ALPHA / 2))
MU, GAP = 0.3, 0.2  # population mean of the persona effects; real − synthetic


def lazy(frame: pd.DataFrame, form: str):
    """The frame as pandas, a polars lazy frame or a DuckDB relation."""
    if form == "polars-lazy":
        return pl.from_pandas(frame).lazy()
    if form == "duckdb":
        return duckdb.from_df(frame)
    return frame


FORMS = ["pandas", "polars-lazy"]


def persona_table(
    rng: np.random.Generator, replicates: int, units: int, draws: int, *, paired: bool
) -> pd.DataFrame:
    """One task per replicate: ``units`` personas with ``draws`` correlated synthetic answers.

    A persona's answers share its effect (``N(MU, 1)``) plus draw noise
    (``N(0, 1)``); paired tables add one real answer per persona (the effect
    plus ``GAP`` plus noise).
    """
    effect = rng.normal(MU, 1.0, size=(replicates, units))
    answers = effect[:, :, None] + rng.normal(0.0, 1.0, size=(replicates, units, draws))
    names = np.array([f"r{i:05d}" for i in range(replicates)])
    frame = pd.DataFrame(
        {
            "task": np.repeat(names, units * draws),
            "source": "synthetic",
            "value": answers.ravel(),
            "unit": np.tile(np.repeat(np.arange(units), draws), replicates),
        }
    )
    if not paired:
        return frame
    real = effect + GAP + rng.normal(0.0, 0.5, size=(replicates, units))
    real_rows = pd.DataFrame(
        {
            "task": np.repeat(names, units),
            "source": "real",
            "value": real.ravel(),
            "unit": np.tile(np.arange(units), replicates),
        }
    )
    return pd.concat([real_rows, frame], ignore_index=True)


def coverage(hits: np.ndarray) -> tuple[float, float]:
    """The coverage and its Monte Carlo standard error at the nominal level."""
    return float(np.mean(hits)), float(np.sqrt(ALPHA * (1 - ALPHA) / hits.size))


def wald_hits(statistics: pd.DataFrame, kind: str, truth: float) -> np.ndarray:
    mean, var = statistics[f"{kind}_mean"], statistics[f"{kind}_var"]
    return (np.abs(mean - truth) <= Z * np.sqrt(var)).to_numpy()


# ------------------------------------------------------------------ Monte Carlo
REPLICATES, UNITS = 2000, 40


@pytest.mark.parametrize("draws", [1, 5, 25])
@pytest.mark.parametrize("paired", [False, True], ids=["unpaired", "paired"])
def test_coverage_of_the_synthetic_mean_holds_for_any_number_of_draws(draws, paired):
    """Coverage stays at 1 − α within 4 Monte Carlo SEs; with draws as rows it collapses.

    Unpaired: each replicate is a target with synthetic draws only, and the
    interval is ``infer(..., method="synthetic-only")`` (beside three paired
    history tasks). Paired: each replicate is a history task (one real answer
    per persona); the interval is the synthetic Wald interval of the per-task
    statistics, and the paired gap's interval is checked as well.
    """
    rng = np.random.default_rng(1000 * draws + paired)
    frame = persona_table(rng, REPLICATES, UNITS, draws, paired=paired)
    if paired:
        statistics = unit_statistics(frame)
        assert (statistics["n_synth"] == UNITS).all()
        assert (statistics["n_synth_rows"] == UNITS * draws).all()
        assert (statistics["n_pairs"] == UNITS).all()
        hits = wald_hits(statistics, "synth", MU)
        gap, gap_se = coverage(wald_hits(statistics, "gap", GAP))
        assert abs(gap - (1 - ALPHA)) <= 4 * gap_se, gap
    else:
        history = persona_table(rng, 3, UNITS, draws, paired=True)
        history = history.assign(task="h" + history["task"])
        result = synthinfer.infer(
            pd.concat([history, frame], ignore_index=True), method="synthetic-only", alpha=ALPHA
        ).to_frame()
        assert len(result) == REPLICATES
        hits = ((result["lower"] <= MU) & (result["upper"] >= MU)).to_numpy()
    covered, se = coverage(hits)
    assert abs(covered - (1 - ALPHA)) <= 4 * se, covered
    # The same draws counted as independent rows (no 'unit'): far too narrow once K is large.
    naive = unit_statistics(frame.drop(columns="unit"))
    naive_covered, _ = coverage(wald_hits(naive, "synth", MU))
    if draws == 1:
        assert naive_covered == pytest.approx(
            coverage(wald_hits(unit_statistics(frame), "synth", MU))[0]
        )
    if draws == 25:
        assert naive_covered < 1 - ALPHA - 6 * se, naive_covered


@pytest.mark.parametrize("paired", [False, True], ids=["unpaired", "paired"])
def test_a_lazy_backend_gives_the_same_cluster_statistics(paired):
    frame = persona_table(np.random.default_rng(7), 50, 20, 25, paired=paired)
    expected = unit_statistics(frame)
    for form in ("polars-lazy", "duckdb"):
        got = unit_statistics(lazy(frame, form))
        pd.testing.assert_frame_equal(got, expected, rtol=1e-12, check_dtype=False)


# ------------------------------------------------------------- cluster formulas
def test_cluster_variance_is_cr1_by_unit():
    """Balanced clusters: the mean of unit means and its variance are the pooled mean's CR1."""
    rng = np.random.default_rng(3)
    frame = persona_table(rng, 1, 12, 6, paired=False)
    row = unit_statistics(frame).iloc[0]
    x = frame["value"].to_numpy()
    groups = frame["unit"].to_numpy()
    n_units, mean = 12, x.mean()
    scores = np.bincount(groups, weights=x - mean)
    cr1 = n_units / (n_units - 1) * np.sum(scores**2) / x.size**2
    assert row["synth_mean"] == pytest.approx(mean, rel=1e-13)
    assert row["synth_var"] == pytest.approx(cr1, rel=1e-12)
    assert (row["n_synth"], row["n_synth_rows"]) == (12, 72)


@pytest.mark.parametrize("form", FORMS)
def test_paired_draws_are_averaged_per_unit_before_pairing(form):
    """Unit means first (unequal numbers of draws), then paired differences; weights per unit."""
    frame = pd.DataFrame(
        {
            "task": ["a"] * 9 + ["t"] * 3,
            "source": ["real"] * 3 + ["synthetic"] * 6 + ["synthetic"] * 3,
            "value": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0],
            "unit": ["u1", "u2", "u3", "u1", "u1", "u2", "u3", "u3", "u4", "p", "p", "q"],
            "weight": [2.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 2.0],
        }
    )
    got = unit_statistics(lazy(frame, form)).set_index("task")
    real, synth = np.array([1.0, 0.0, 1.0]), np.array([0.5, 0.0, 1.0, 0.5])  # u1..u4
    w_real, w_synth = np.array([2.0, 1.0, 1.0]), np.array([2.0, 1.0, 1.0, 3.0])

    def hajek(x, w):
        mu = np.sum(w * x) / np.sum(w)
        return mu, np.sum(w**2 * (x - mu) ** 2) / np.sum(w) ** 2

    a = got.loc["a"]
    assert a[["n_real", "n_synth", "n_pairs", "n_synth_rows"]].tolist() == [3, 4, 3, 6]
    assert (a["synth_mean"], a["synth_var"]) == pytest.approx(hajek(synth, w_synth))
    assert (a["real_mean"], a["real_var"]) == pytest.approx(hajek(real, w_real))
    # u4 is unlabelled: in the synthetic estimate, not in the gap
    assert (a["gap_mean"], a["gap_var"]) == pytest.approx(hajek(real - synth[:3], w_real))
    t = got.loc["t"]
    assert (t["synth_mean"], t["n_synth"]) == pytest.approx(
        (hajek(np.array([0.5, 1.0]), np.array([1.0, 2.0]))[0], 2)
    )
    unweighted = unit_statistics(lazy(frame.drop(columns="weight"), form)).set_index("task")
    assert unweighted.loc["a", "synth_mean"] == pytest.approx(synth.mean())
    assert unweighted.loc["a", "synth_var"] == pytest.approx(synth.var(ddof=1) / 4)
    assert unweighted.loc["a", "gap_var"] == pytest.approx((real - synth[:3]).var(ddof=1) / 3)


@pytest.mark.parametrize("form", FORMS)
def test_tasks_whose_units_never_meet_are_unpaired_clusters(form):
    """Real rows by respondent, synthetic draws by persona: each side clustered, gap unpaired."""
    frame = pd.DataFrame(
        {
            "task": ["a"] * 10,
            "source": ["real"] * 4 + ["synthetic"] * 6,
            "value": [1.0, 3.0, 2.0, 2.0, 0.0, 1.0, 2.0, 2.0, 4.0, 5.0],
            "unit": ["r1", "r1", "r2", "r3", "p1", "p1", "p2", "p2", "p3", "p3"],
        }
    )
    row = unit_statistics(lazy(frame, form)).iloc[0]
    real, synth = np.array([2.0, 2.0, 2.0]), np.array([0.5, 2.0, 4.5])
    assert row["n_pairs"] == 0 and (row["n_real"], row["n_real_rows"]) == (3, 4)
    assert row["real_var"] == pytest.approx(0.0)
    assert row["synth_var"] == pytest.approx(synth.var(ddof=1) / 3)
    assert row["gap_mean"] == pytest.approx(real.mean() - synth.mean())
    assert row["gap_var"] == pytest.approx(row["real_var"] + row["synth_var"])


@pytest.mark.parametrize("form", FORMS)
def test_cluster_errors(form):
    base = pd.DataFrame(
        {
            "task": ["a"] * 6,
            "source": ["real", "real", "synthetic", "synthetic", "synthetic", "synthetic"],
            "value": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            "unit": ["u1", "u2", "u1", "u1", "u2", "u3"],
            "weight": [1.0, 2.0, 1.0, 1.0, 2.0, 1.0],
        }
    )
    unit_statistics(lazy(base, form))  # u3 unlabelled: fine
    alone = base.assign(unit=["u1", "u9", "u1", "u1", "u2", "u3"])
    with pytest.raises(
        ValueError, match=r"1 unit\(s\) of history tasks appear on one side only: real"
    ):
        unit_statistics(lazy(alone, form))
    varying = base.assign(weight=[1.0, 2.0, 1.0, 1.5, 2.0, 1.0])
    with pytest.raises(
        ValueError, match=r"1 unit\(s\) carry different values in column 'weight' on"
    ):
        unit_statistics(lazy(varying, form))


# ------------------------------------------------------------------ non-response
@pytest.mark.parametrize("form", FORMS)
def test_non_response_is_counted_reported_and_left_out(form):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "task": np.repeat(["q1", "q2", "t"], 8),
            "source": np.tile(["real"] * 4 + ["synthetic"] * 4, 3),
            "value": rng.normal(size=24),
        }
    )
    frame = frame[~((frame["task"] == "t") & (frame["source"] == "real"))]
    holes = frame.copy()
    holes.loc[[4, 5, 9], "value"] = np.nan  # q1: 2 synthetic; q2: 1 real
    with pytest.warns(UserWarning) as caught:
        got = unit_statistics(lazy(holes, form)).set_index("task")
    texts = [str(w.message) for w in caught if "non-response" in str(w.message)]
    assert texts == [
        "data: 3 empty values (non-response) left out of every estimate: "
        "task 'q1' 2 synthetic, task 'q2' 1 real"
    ]
    assert got["n_missing_synth"].tolist() == [2, 0, 0]
    assert got["n_missing_real"].tolist() == [0, 1, 0]
    assert got["n_synth"].tolist() == [2, 4, 4] and got["n_real"].tolist() == [4, 3, 0]
    left_out = unit_statistics(holes.dropna(subset=["value"])).set_index("task")
    counts = ["n_missing_synth", "n_missing_real"]
    pd.testing.assert_frame_equal(
        got.drop(columns=counts), left_out.drop(columns=counts), rtol=1e-12
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit_statistics(lazy(frame, form))  # no empty value: no warning


@pytest.mark.parametrize("form", FORMS)
def test_a_paired_unit_losing_its_synthetic_answer_drops_out_of_the_pair(form):
    frame = pd.DataFrame(
        {
            "task": ["a"] * 8 + ["t"] * 2,
            "source": ["real"] * 4 + ["synthetic"] * 4 + ["synthetic"] * 2,
            "value": [1.0, 2.0, 4.0, 3.0, 1.5, 1.0, np.nan, 2.0, 1.0, 2.0],
            "unit": ["u1", "u2", "u3", "u4", "u1", "u2", "u3", "u4", "p", "q"],
        }
    )
    with pytest.warns(
        UserWarning, match=r"1 unit with real and synthetic rows left out of the paired gap"
    ):
        a = unit_statistics(lazy(frame, form)).set_index("task").loc["a"]
    d = np.array([1.0 - 1.5, 2.0 - 1.0, 3.0 - 2.0])  # u3 is out of the pairs
    assert a[["n_pairs", "n_pairs_lost", "n_real", "n_synth", "n_missing_synth"]].tolist() == [
        3,
        1,
        4,
        3,
        1,
    ]
    assert a["real_mean"] == pytest.approx(2.5)  # u3's real answer still counts
    assert (a["gap_mean"], a["gap_var"]) == pytest.approx((d.mean(), d.var(ddof=1) / 3))


def test_empty_strings_in_a_csv_file_are_non_response_but_text_is_an_error(tmp_path: Path):
    text = "task,source,value\n" + "".join(
        f"{task},{source},{value}\n"
        for task, source, value in [
            ("a", "real", "1"),
            ("a", "real", ""),
            ("a", "real", "0"),
            ("a", "synthetic", "1"),
            ("a", "synthetic", "  "),
            ("a", "synthetic", "0"),
            ("a", "synthetic", "1"),
            ("t", "synthetic", "0"),
            ("t", "synthetic", "1"),
        ]
    )
    path = tmp_path / "answers.csv"
    path.write_text(text)
    with pytest.warns(
        UserWarning, match=r"2 empty values \(non-response\).*task 'a' 1 synthetic and 1 real"
    ):
        got = unit_statistics(path).set_index("task")
    assert got.loc["a", ["n_real", "n_synth", "n_missing_real", "n_missing_synth"]].tolist() == [
        2,
        3,
        1,
        1,
    ]
    assert got.loc["a", "synth_mean"] == pytest.approx(2 / 3)
    bad = tmp_path / "bad.csv"
    bad.write_text(text + "t,synthetic,abc\n")
    with pytest.raises(
        ValueError, match=r"bad\.csv: column 'value' has non-numeric values \('abc' at line 11\)"
    ):
        unit_statistics(bad)
    infinite = tmp_path / "inf.csv"
    infinite.write_text(text + "t,synthetic,inf\n")
    with pytest.raises(ValueError, match=r"column 'value' has infinite values at line 11"):
        unit_statistics(infinite)


@pytest.mark.parametrize("form", FORMS)
def test_empty_strings_in_a_text_column_are_non_response(form):
    frame = pd.DataFrame(
        {
            "task": ["a"] * 6,
            "source": ["real"] * 3 + ["synthetic"] * 3,
            "value": ["1", "", "0", " 1 ", "0", " "],
        }
    )
    with pytest.warns(UserWarning, match="non-response"):
        row = unit_statistics(lazy(frame, form)).iloc[0]
    assert [row["n_real"], row["n_synth"]] == [2, 2]
    with pytest.raises(
        ValueError, match=r"column 'value' has 1 non-numeric value\(s\) \(e\.g\. 'abc'\)"
    ):
        unit_statistics(lazy(frame.assign(value=["1", "", "abc", "1", "0", ""]), form))


# --------------------------------------------------------- rows read back per task
def test_bootstrap_resamples_units_and_exact_quantiles_need_independent_rows():
    rng = np.random.default_rng(11)
    history = persona_table(rng, 4, 30, 10, paired=True).assign(task=lambda f: "h" + f["task"])
    target = persona_table(rng, 1, 30, 10, paired=False).assign(task="target")
    frame = pd.concat([history, target], ignore_index=True)
    frame.loc[frame.index[::37], "value"] = np.nan  # some non-response, unequal draws per unit
    with pytest.warns(UserWarning, match="non-response"):
        data = TaskData.from_frame(frame)
    wald = data.statistics()[""]
    boot = data.statistics(interval="bootstrap", n_bootstrap=2000, seed=3)[""]
    np.testing.assert_allclose(boot.synth.estimate, wald.synth.estimate, rtol=1e-12)
    # resampling units: the bootstrap standard error is the cluster one, not the rows' one
    np.testing.assert_allclose(boot.synth.se, wald.synth.se, rtol=0.12)
    np.testing.assert_allclose(boot.gap.se[:4], wald.gap.se[:4], rtol=0.12)
    naive = TaskData.from_frame(frame.drop(columns="unit").dropna()).statistics()[""]
    assert np.all(boot.synth.se > 2 * naive.synth.se)
    with pytest.raises(ValueError, match=r"assumes independent rows.*--interval bootstrap"):
        data.statistics(estimand="quantile:0.5")
    quantiles = data.statistics(
        estimand="quantile:0.5", interval="bootstrap", n_bootstrap=200, seed=1
    )
    assert np.isfinite(quantiles[""].synth.estimate).all()
    hoeffding = data.statistics(interval="hoeffding", bounds=(-10.0, 10.0))[""]
    scale = 20.0 / np.sqrt(2.0 * 30)  # 30 units per task, whatever their rows
    np.testing.assert_allclose(hoeffding.synth.scale, scale)
