"""Safe defaults (issue 11, items 3, 4, 5 and 8): each trap a new user fell into, as a test.

* 3: proportions from a 0/1 unit-level table stay within [0, 1] by default;
  bounds that cut through the data are refused.
* 4: the default allocation (``auto``) is finite whenever some split is, and is
  chosen from the design only: on the bundled Pew table a backtest with no
  options gives finite intervals, coverage >= 0.9 and about the paper's width.
* 5: summaries count infinite intervals instead of calling them covered; plots too.
* 8: randomized results repeat by default (seed 0) and carry their seed.

Each test fails on the behaviour before the issue (paper split by default, no
default bounds, infinite intervals summarized as covered, unseeded bootstrap).
"""

from __future__ import annotations

import io
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.allocation import (
    AUTO_ALLOCATION,
    DEFAULT_ALLOCATION,
    Allocation,
    auto_allocation,
)
from synthinfer.arena import arena, simulate_battles
from synthinfer.cli import app
from synthinfer.conformal import conformal_ranks
from synthinfer.results import coverage_statistics, coverage_summary

runner = CliRunner()
PAPER_PEW_WIDTH = 0.365  # PAPER.md, experiment 2: pooled mean width at alpha = 0.1 (LOO)


def quiet(function, *args, **kwargs):
    """Call ``function`` with warnings silenced (the tests look at results, not notes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# ---------------------------------------------------------------- 3: bounds


def binary_table(seed: int = 0, n_history: int = 30, n: int = 40) -> pd.DataFrame:
    """A unit-level table of 0/1 answers whose target's synthetic rate is near 1."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_history):
        p = rng.uniform(0.3, 0.9)
        for source, rate in (("real", p), ("synthetic", min(p + 0.1, 1.0))):
            rows += [(f"h{j}", source, float(v)) for v in rng.random(n) < rate]
    rows += [("target", "synthetic", float(v)) for v in rng.random(n) < 0.97]
    return pd.DataFrame(rows, columns=["task", "source", "value"])


def test_proportions_from_a_01_table_stay_within_0_1_by_default():
    table = binary_table()
    unbounded = quiet(synthinfer.infer, table, bounds="none")[0]
    assert unbounded.feasible and 1.0 < unbounded.upper < np.inf  # the trap: a proportion > 1
    with pytest.warns(UserWarning, match=r"values are 0/1: bounds \[0, 1\]") as caught:
        result = synthinfer.infer(table)
    interval = result[0]
    assert interval.feasible and 0.0 <= interval.lower <= interval.upper <= 1.0
    assert interval.upper == 1.0 and interval.bounds == (0.0, 1.0)
    assert sum("values are 0/1" in str(w.message) for w in caught) == 1  # said once
    backtest = quiet(synthinfer.backtest, table.query("task != 'target'"))
    assert backtest.tasks["lower"].min() >= 0.0 and backtest.tasks["upper"].max() <= 1.0


def test_no_default_bounds_for_other_values_or_summary_tables(summary_table):
    table = binary_table()
    table.loc[0, "value"] = 0.5  # not 0/1 any more
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note about bounds
        assert synthinfer.infer(table)[0].bounds is None
        assert synthinfer.infer(summary_table)[0].bounds is None


def test_explicit_bounds_must_hold_the_data(summary_table):
    table = binary_table()
    table["value"] *= 100  # a 0-100 scale with the 0-1 bounds of a proportion
    with pytest.raises(ValueError, match=r"value\(s\) fall outside --bounds 0,1 \(e\.g\. 100\)"):
        synthinfer.infer(table, bounds=(0, 1))
    percent = summary_table.assign(
        synth_estimate=summary_table["synth_estimate"] * 100,
        real_estimate=summary_table["real_estimate"] * 100,
    )
    with pytest.raises(ValueError, match="column 'synth_estimate' fall outside --bounds 0,1"):
        synthinfer.backtest(percent, bounds="0,1")
    # bounds that hold the data are fine
    assert synthinfer.infer(table, bounds=(0, 100))[0].upper <= 100


def test_cli_says_so_and_turns_bounds_off(tmp_path):
    path = tmp_path / "answers.csv"
    binary_table().to_csv(path, index=False)
    default = runner.invoke(app, ["infer", str(path), "-f", "csv"])
    assert default.exit_code == 0, default.output
    assert "values are 0/1: bounds [0, 1]" in default.stderr
    assert pd.read_csv(io.StringIO(default.stdout))["upper"].max() <= 1.0
    off = runner.invoke(app, ["infer", str(path), "-f", "csv", "--bounds", "none"])
    assert off.exit_code == 0, off.output
    assert "values are 0/1" not in off.stderr
    assert pd.read_csv(io.StringIO(off.stdout))["upper"].max() > 1.0


# ---------------------------------------------------------- 4: the allocation


@pytest.mark.parametrize("alpha", [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
@pytest.mark.parametrize("n_history", [0, 1, 5, 9, 19, 20, 27, 28, 39, 40, 47, 100, 1000])
def test_auto_is_finite_whenever_some_split_is(alpha, n_history):
    budgets = auto_allocation(alpha, n_history).split(alpha)
    assert sum(budgets) == pytest.approx(alpha, rel=1e-12)
    assert min(budgets) > 0
    k_lower, k_upper = conformal_ranks(n_history, budgets[2])
    some_split_is_finite = alpha > 2 / (n_history + 1) * (1 + 1e-9)
    assert (k_lower >= 1 and k_upper <= n_history) == some_split_is_finite
    if some_split_is_finite:
        # alpha3 sits exactly at its rank: no budget is wasted on the band
        assert budgets[2] == pytest.approx(2 * k_lower / (n_history + 1), rel=1e-12)
        # the band's rank is never below the paper's split's
        paper_rank = conformal_ranks(n_history, DEFAULT_ALLOCATION.split(alpha)[2])[0]
        assert k_lower >= paper_rank
        assert budgets[0] + budgets[1] >= 0.1 * alpha * (1 - 1e-9) or k_lower == 1


def test_auto_splits_the_rest_by_standard_errors():
    # equal standard errors: z(a1/2) + z(a2/2) is smallest at a1 = a2
    even = auto_allocation(0.1, 100, synth_se=0.01, gap_se=0.01).split(0.1)
    assert even[0] == pytest.approx(even[1], rel=1e-4)
    # a noisier synthetic estimate gets more of the rest; never less than a tenth of it
    noisy = auto_allocation(0.1, 100, synth_se=0.05, gap_se=0.01).split(0.1)
    assert noisy[0] > noisy[1] and noisy[1] >= 0.1 * (noisy[0] + noisy[1]) - 1e-12
    # without standard errors: the paper's 1 : 2
    plain = auto_allocation(0.1, 100).split(0.1)
    assert plain[1] == pytest.approx(2 * plain[0], rel=1e-12)
    # the split minimizes z(a1/2)·s1 + z(a2/(2m))·s2 (m = T for task-only) over the rest
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    for synth_se, gap_se, divisor in [(0.01, 0.01, 100), (0.05, 0.01, 1), (0.002, 0.03, 40)]:
        a1, a2, _ = auto_allocation(
            0.1, 100, synth_se=synth_se, gap_se=gap_se, gap_divisor=divisor
        ).split(0.1)
        rest = a1 + a2

        def objective(share, synth_se=synth_se, gap_se=gap_se, divisor=divisor, rest=rest):
            return synth_se * z(1 - share * rest / 2) + gap_se * z(
                1 - (1 - share) * rest / (2 * divisor)
            )

        grid = np.linspace(0.1, 0.9, 801)
        assert objective(a1 / rest) <= min(objective(g) for g in grid) + 1e-9


def test_auto_is_a_spec_resolved_per_design():
    assert Allocation.parse("auto") is AUTO_ALLOCATION
    assert AUTO_ALLOCATION.spec == "auto" and AUTO_ALLOCATION.is_auto
    with pytest.raises(ValueError, match="resolve it"):
        AUTO_ALLOCATION.split(0.1)
    fixed = Allocation.parse("prop:0.05,0.10,0.85")
    assert fixed.resolve(0.05, 47) is fixed
    assert AUTO_ALLOCATION.resolve(0.05, 47) == auto_allocation(0.05, 47)


def test_default_backtest_of_the_pew_table_is_finite_and_covers():
    # before: prop:0.1,0.2,0.7 at alpha / 2 = 0.05 needs 56 history tasks, Pew has 47: all infinite
    result = quiet(synthinfer.backtest, synthinfer.pew_tasks())
    assert result.tasks["feasible"].all() and np.isfinite(result.tasks["width"]).all()
    summary = result.summary_frame.set_index("coord")
    assert (summary["infinite"] == 0).all()
    assert (summary["coverage"] >= 0.9).all()
    pooled = summary.loc["all", "mean_width"]
    # the paper's allocation prop:0.05,0.10,0.85 with bounds [0, 1] gives 0.365 pooled
    assert 0.9 * PAPER_PEW_WIDTH <= pooled <= 1.02 * PAPER_PEW_WIDTH
    bounded = quiet(synthinfer.backtest, synthinfer.pew_tasks(), bounds=(0, 1))
    assert bounded.summary_frame.set_index("coord").loc["all", "mean_width"] < PAPER_PEW_WIDTH


def test_default_cli_backtest_of_the_exported_pew_table(tmp_path):
    path = tmp_path / "pew.csv"
    exported = runner.invoke(app, ["datasets", "export", "pew", "--out", str(path)])
    assert exported.exit_code == 0, exported.output
    result = runner.invoke(app, ["backtest", str(path)])
    assert result.exit_code == 0, result.output
    assert "infinite (feasible = false)" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "backtest (loo):"
    summary = pd.read_csv(io.StringIO("\n".join(lines[1:])), sep=r"\s+")
    summary = summary.set_index("coord")
    assert list(summary.index) == ["co", "opp", "all"]
    assert (summary["infinite"] == 0).all() and (summary["finite"] > 0).all()
    assert (summary["coverage"] >= 0.9).all()
    assert summary.loc["all", "mean_width"] == pytest.approx(PAPER_PEW_WIDTH, rel=0.02)


def test_auto_never_looks_at_the_gaps(summary_table):
    shuffled = summary_table.copy()
    rng = np.random.default_rng(3)
    history = shuffled["real_estimate"].notna()
    shuffled.loc[history, "real_estimate"] = rng.uniform(0, 1, size=int(history.sum()))
    budgets = ["alpha1", "alpha2", "alpha3"]
    for method in ("exchangeable", "task-only", "weighted"):
        options = {"alpha": [0.1, 0.3], "method": method}
        if method == "weighted":
            options["decay"] = 0.95
        first = synthinfer.backtest(summary_table.iloc[:25], **options).tasks
        second = synthinfer.backtest(shuffled.iloc[:25], **options).tasks
        pd.testing.assert_frame_equal(first[budgets], second[budgets])


def test_auto_counts_the_weight_a_weighted_band_ranks(summary_table):
    # weights 0.8 ** |25 − t| sum to 3.98: the paper's alpha3 = 0.35 needs 4.71, auto needs 3
    paper = quiet(
        synthinfer.infer,
        summary_table,
        alpha=0.5,
        method="weighted",
        decay=0.8,
        allocation="prop:0.1,0.2,0.7",
    )[0]
    auto = synthinfer.infer(summary_table, alpha=0.5, method="weighted", decay=0.8)[0]
    assert not paper.feasible and auto.feasible
    weights = 0.8 ** (25 - np.arange(25.0))
    assert auto.alpha3 == pytest.approx(2 / (weights.sum() + 1), rel=1e-9)


def test_auto_counts_the_calibration_tasks_of_a_split_adjustment(summary_table):
    # 25 history tasks: 12 fit the model, 13 calibrate, so the band needs alpha3 >= 2/14
    options = {"alpha": 0.15, "adjust": "synth_estimate", "adjust_mode": "split"}
    auto = synthinfer.infer(summary_table, **options)
    assert auto[0].feasible and auto[0].alpha3 == pytest.approx(2 / 14, rel=1e-9)
    assert auto.randomized and auto.seed == 0  # the split is seeded
    paper = quiet(synthinfer.infer, summary_table, **options, allocation="prop:0.1,0.2,0.7")
    assert not paper[0].feasible


def test_at_keeps_the_resolved_proportions(summary_table):
    interval = synthinfer.infer(summary_table, alpha=0.3)[0]
    again = interval.at(0.15)
    assert again.alpha3 / 0.15 == pytest.approx(interval.alpha3 / 0.3, rel=1e-12)
    assert again.alpha1 / again.alpha2 == pytest.approx(interval.alpha1 / interval.alpha2)


# ---------------------------------------------------------------- 5: summaries


def test_infinite_intervals_clipped_to_bounds_are_not_covered(make_summary):
    table = make_summary(10)  # T = 9 in leave-one-out: the paper's split needs 28
    result = quiet(
        synthinfer.backtest, table.iloc[:10], bounds=(0, 1), allocation="prop:0.1,0.2,0.7"
    )
    assert (result.tasks["width"] == 1.0).all() and result.tasks["covered"].all()
    assert not result.tasks["feasible"].any()
    row = result.summary_frame.iloc[0]
    # before: coverage 1 at mean width 1
    assert (row["finite"], row["infinite"]) == (0, 10)
    assert math.isnan(row["coverage"]) and math.isnan(row["mean_width"])


def test_summary_is_over_finite_intervals_with_the_infinite_counted():
    tasks = pd.DataFrame(
        {
            "task": ["a", "b", "c", "d"],
            "coord": "",
            "method": "exchangeable",
            "alpha": 0.1,
            "width": [0.2, 0.4, 1.0, np.inf],
            "covered": [True, False, True, True],
            "feasible": [True, True, False, False],
            "w1": [0.1, 0.1, 0.1, 0.1],
            "w2": [0.05, 0.15, np.nan, np.nan],
            "w3": [0.05, 0.15, np.inf, np.inf],
        }
    )
    row = coverage_summary(tasks).iloc[0]
    assert (row["finite"], row["infinite"]) == (2, 2)
    assert row["coverage"] == 0.5 and row["joint_coverage"] == 0.5
    assert row["mean_width"] == pytest.approx(0.3) and row["median_width"] == pytest.approx(0.3)
    assert row["w3"] == pytest.approx(0.1)
    statistics = coverage_statistics([True, True, False], [0.1, np.inf, 0.3])
    assert statistics["finite"] == 2 and statistics["coverage"] == 0.5


def test_forest_plot_counts_infinite_intervals_as_such():
    pytest.importorskip("matplotlib").use("Agg")
    from synthinfer.plot import forest_plot

    rows = pd.DataFrame(
        {
            "task": [f"t{i}" for i in range(4)],
            "method": "exchangeable",
            "alpha": 0.1,
            "estimate": 0.5,
            "lower": [0.4, 0.3, 0.0, 0.0],
            "upper": [0.6, 0.45, 1.0, 1.0],
            "truth": [0.5, 0.5, 0.5, 0.5],
            "feasible": [True, True, False, False],
        }
    )
    ax = forest_plot(rows, bounds=(0, 1))
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "exchangeable: covers 1/2, 2 infinite" in labels  # before: "covers 3/4"
    all_infinite = forest_plot(rows.assign(feasible=False, lower=0.0, upper=1.0), bounds=(0, 1))
    labels = [text.get_text() for text in all_infinite.get_legend().get_texts()]
    assert "exchangeable: 4 infinite" in labels  # before: "covers 4/4"


# ---------------------------------------------------------------- 8: seeds


def test_bootstrap_intervals_repeat_and_carry_their_seed(make_long):
    frame = make_long(n_history=9, paired=True, seed=8)
    options = {"alpha": 0.5, "interval": "bootstrap", "n_bootstrap": 300}
    first, again = synthinfer.infer(frame, **options), synthinfer.infer(frame, **options)
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
    assert first.seed == 0 and first.randomized
    assert first.to_frame().attrs["seed"] == 0
    other = synthinfer.infer(frame, **options, seed=5)
    assert other.seed == 5 and not first.to_frame()["lower"].equals(other.to_frame()["lower"])
    fresh = synthinfer.infer(frame, **options, seed=None)
    assert isinstance(fresh.seed, int)  # the drawn seed, kept: it repeats the run
    repeat = synthinfer.infer(frame, **options, seed=fresh.seed)
    pd.testing.assert_frame_equal(fresh.to_frame(), repeat.to_frame())
    backtest = synthinfer.backtest(frame.query("task != 'target'"), **options)
    assert backtest.seed == 0 and backtest.randomized
    assert backtest.to_frame().attrs["seed"] == 0
    wald = synthinfer.infer(frame, alpha=0.5)
    assert not wald.randomized and wald.seed == 0


def test_cli_notes_the_seed_of_randomized_runs_only(tmp_path, make_long):
    path = tmp_path / "long.csv"
    make_long(n_history=9, paired=True, seed=8).to_csv(path, index=False)
    boot = ["infer", str(path), "--alpha", "0.5", "--interval", "bootstrap", "-f", "csv"]
    first = runner.invoke(app, [*boot, "--n-bootstrap", "200"])
    second = runner.invoke(app, [*boot, "--n-bootstrap", "200"])
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert "note: seed 0 (change with --seed)" in first.stderr
    seeded = runner.invoke(app, [*boot, "--n-bootstrap", "200", "--seed", "3"])
    assert "note: seed 3 (change with --seed)" in seeded.stderr
    wald = runner.invoke(app, ["infer", str(path), "--alpha", "0.5", "-f", "csv"])
    assert wald.exit_code == 0 and "seed" not in wald.stderr


def battle_log() -> pd.DataFrame:
    log = simulate_battles(14, 6000, seed=2).battles
    return log.astype(dict.fromkeys(("model_a", "model_b", "human", "judge"), str))


def test_two_bradley_terry_arena_runs_are_identical():
    log = battle_log()
    options = {"estimand": "bradley-terry", "protocol": "loo", "alpha": 0.3, "n_gap_bootstrap": 100}
    first, second = arena(log, **options), arena(log, **options)
    assert first.tasks["feasible"].all()
    pd.testing.assert_frame_equal(first.tasks, second.tasks)  # before: up to 0.55 Elo apart
    assert first.seed == 0 and first.randomized
    assert first.to_frame().attrs["seed"] == 0
    win_rate = arena(log, estimand="win-rate", protocol="loo", alpha=0.3)
    assert not win_rate.randomized


def test_cli_bradley_terry_runs_are_identical_and_say_their_seed(tmp_path):
    path = tmp_path / "battles.csv"
    battle_log().to_csv(path, index=False)
    command = ["arena", str(path), "--estimand", "bradley-terry", "--protocol", "loo"]
    command += ["--alpha", "0.3", "--n-gap-bootstrap", "100"]
    first, second = runner.invoke(app, command), runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert re.search(r"^note: seed 0 \(change with --seed\)$", first.stderr, re.MULTILINE)
