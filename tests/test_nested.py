"""Task groups: exact bands, levels, refusals, evaluate hooks, backtests and the command line.

Coverage by Monte Carlo is in ``tests/coverage/test_nested_coverage.py``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.cli import app
from synthinfer.conformal import conformal_lower, conformal_upper
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate, nested_band
from synthinfer.methods._nested import (
    cell_weights,
    group_extremes,
    group_gap_intervals,
    group_sizes,
)

ALLOCATION = "prop:0.1,0.2,0.7"


def history(values, groups, *, se=0.01, coverage="cell", target_cells=1) -> History:
    values = np.asarray(values, dtype=float)
    return History(
        gap=WaldInterval(values, np.full(values.shape, se)),
        observed=values,
        groups=np.asarray(groups),
        coverage=coverage,
        target_cells=target_cells,
    )


# ------------------------------------------------------------------------ array pieces


def test_group_sizes_weights_and_extremes_by_hand():
    groups = np.array([2, 0, 2, 1, 2])
    assert group_sizes(groups).tolist() == [3, 1, 3, 1, 3]
    assert cell_weights(groups).tolist() == pytest.approx([1 / 3, 1, 1 / 3, 1, 1 / 3])
    lower = np.array([[5.0, 1.0, 3.0, 2.0, 4.0], [0.0, 9.0, -1.0, 8.0, 7.0]])
    lowest, highest = group_extremes(lower, lower + 10, groups)
    assert lowest.tolist() == [[1.0, 2.0, 3.0], [9.0, 8.0, -1.0]]
    assert highest.tolist() == [[11.0, 12.0, 15.0], [19.0, 18.0, 17.0]]


def test_cell_band_by_hand():
    # groups {1}, {2, 5}, {3, 4}: masses 1/4 and 1/8 per cell, 1/4 on ±inf
    values = np.array([1.0, 2.0, 5.0, 3.0, 4.0])
    groups = np.array([0, 1, 1, 2, 2])
    # upper at 1 − a/2: cumulative masses 1/4, 3/8, 1/2, 5/8, 3/4 at 1, 2, 3, 4, 5
    assert nested_band(values, values, groups, 0.5, "cell")[1] == 5.0  # needs 0.75
    assert nested_band(values, values, groups, 0.8, "cell")[1] == 4.0  # needs 0.6
    assert nested_band(values, values, groups, 0.6, "cell")[1] == 5.0  # needs 0.7
    # lower, mirrored: masses from above 1/8 (5, 4, 3, 2 each), then 1/4 (1): cumulative
    # 1/8, 1/4, 3/8, 1/2, 3/4, so 1 - a/2 <= 3/4 for every a >= 0.5 gives 1
    for alpha in (0.5, 0.6, 0.8):
        assert nested_band(values, values, groups, alpha, "cell")[0] == 1.0
    # at a = 0.2 the finite mass 3/4 falls short of 0.9: -inf
    assert nested_band(values, values, groups, 0.2, "cell")[0] == -math.inf
    # two groups and the new one: the new group's mass 1/3 exceeds a/2 for every a <= 0.5
    assert nested_band(values[:3], values[:3], groups[:3], 0.5, "cell")[1] == math.inf


def test_group_band_is_conformal_over_group_extremes():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 60))
    groups = np.repeat(np.arange(20), 3)
    lowest, highest = group_extremes(values - 1, values + 1, groups)
    band = nested_band(values - 1, values + 1, groups, 0.2, "group")
    np.testing.assert_array_equal(band[0], conformal_lower(lowest, 0.2))
    np.testing.assert_array_equal(band[1], conformal_upper(highest, 0.2))


@pytest.mark.parametrize("alpha", [0.1, 0.15, 0.2, 0.3, 0.5])
@pytest.mark.parametrize("n_groups", [5, 9, 19, 20, 39])
def test_cell_band_of_agreeing_cells_is_the_band_over_groups(alpha, n_groups):
    rng = np.random.default_rng(n_groups)
    per_group = rng.normal(size=n_groups)
    sizes = rng.integers(1, 6, size=n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    values = per_group[groups]
    band = nested_band(values, values, groups, alpha, "cell")
    assert band[0] == conformal_lower(per_group, alpha)
    assert band[1] == conformal_upper(per_group, alpha)


@pytest.mark.parametrize("coverage", ["cell", "group"])
@pytest.mark.parametrize("method", ["exchangeable", "finite-sample"])
def test_one_cell_per_group_is_the_paper_exactly(method, coverage):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(4, 30))
    target = WaldInterval(rng.normal(size=(4, 1)), np.full((4, 1), 0.05))
    plain_history = History(gap=WaldInterval(values, 0.02), observed=values)
    plain = calibrate(method, target, plain_history, 0.2, ALLOCATION)
    grouped_history = History(
        gap=WaldInterval(values, 0.02), observed=values, groups=np.arange(30), coverage=coverage
    )
    grouped = calibrate(method, target, grouped_history, 0.2, ALLOCATION)
    for name in ("lower", "upper", "estimate", "w1", "w2", "w3"):
        np.testing.assert_allclose(getattr(grouped, name), getattr(plain, name), err_msg=name)
    assert grouped.n_groups == 30
    np.testing.assert_array_equal(grouped.n_effective, 30.0)


def test_group_coverage_levels_are_bonferroni_over_cells():
    values = np.linspace(-1, 1, 12)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    gap = WaldInterval(values, np.full(12, 0.1))
    lower, upper = group_gap_intervals(gap, groups, 0.2, "group")
    for size in (2, 3, 4):
        index = group_sizes(groups) == size
        expected = gap.take(np.flatnonzero(index)).interval(0.2 / size)
        np.testing.assert_allclose(lower[index], expected[0])
        np.testing.assert_allclose(upper[index], expected[1])
    np.testing.assert_allclose(
        group_gap_intervals(gap, groups, 0.2, "cell")[0], gap.interval(0.2)[0]
    )
    target = WaldInterval(np.array([0.5, 0.6, 0.7]), np.array([0.02, 0.03, 0.04]))
    cells = history(np.tile(values, 5), np.arange(60) // 3, coverage="group", target_cells=3)
    calibration = calibrate("exchangeable", target, cells, 0.2, ALLOCATION)
    expected = target.interval(calibration.alpha1 / 3)
    np.testing.assert_allclose(calibration.synth_lower, expected[0])
    np.testing.assert_allclose(calibration.synth_upper, expected[1])
    assert calibration.alpha1 + calibration.alpha2 + calibration.alpha3 == pytest.approx(0.2)


def test_too_few_groups_give_an_infinite_band_that_says_how_many_are_needed():
    values = np.random.default_rng(2).normal(size=40)
    target = WaldInterval(np.array([0.5]), np.array([0.05]))
    calibration = calibrate(
        "exchangeable", target, history(values, np.repeat(np.arange(10), 4)), 0.2, ALLOCATION
    )
    assert not calibration.feasible.any()
    assert np.isinf(calibration.upper).all() and np.isinf(calibration.lower).all()
    assert "10 history task groups (40 tasks)" in calibration.message
    assert "at least 14 groups" in calibration.message  # alpha3 = 0.14: T + 1 >= 2/0.14
    empty = calibrate("finite-sample", target, history(np.empty(0), np.empty(0, int)), 0.2)
    assert not empty.feasible.any()


@pytest.mark.parametrize("method", ["weighted", "task-only"])
def test_methods_without_a_group_version_refuse(method):
    values = np.zeros(30)
    past = History(
        gap=WaldInterval(values, 0.1), observed=values, weights=np.ones(30), groups=np.arange(30)
    )
    with pytest.raises(ValueError, match=f"method '{method}' does not support task groups"):
        calibrate(method, WaldInterval(np.zeros(1), np.ones(1)), past, 0.2, ALLOCATION)


def test_an_unknown_coverage_is_an_error():
    with pytest.raises(ValueError, match="coverage must be one of"):
        nested_band(np.zeros(3), np.zeros(3), np.arange(3), 0.2, "cells")


def test_group_codes_must_match_the_history():
    with pytest.raises(ValueError, match="one integer code per history task"):
        calibrate(
            "finite-sample",
            WaldInterval(np.zeros(1), np.ones(1)),
            history(np.zeros(5), [0, 1]),
            0.2,
        )


# --------------------------------------------------------------------- evaluate and CLI


def nested_table(n_questions=24, n_cells=4, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    question = np.repeat([f"q{i:02d}" for i in range(n_questions)], n_cells)
    region = np.tile([f"r{j}" for j in range(n_cells)], n_questions)
    bias = np.repeat(rng.normal(0.05, 0.1, n_questions), n_cells)
    synth = rng.uniform(0.2, 0.8, question.size)
    gap = bias + rng.normal(0, 0.02, question.size)
    return pd.DataFrame(
        {
            "task": [f"{q} / {r}" for q, r in zip(question, region, strict=True)],
            "synth_estimate": synth,
            "synth_se": 0.01,
            "real_estimate": synth + gap,
            "gap_se": 0.01,
            "question": question,
        }
    )


def test_backtest_holds_out_whole_groups_and_reports_group_coverage():
    table = nested_table()
    result = synthinfer.backtest(
        table, task_group="question", method=["exchangeable", "finite-sample"], alpha=0.2
    )
    tasks = result.to_frame()
    assert (tasks["n_history"] == len(table) - 4).all()  # the held-out cell's 3 siblings too
    assert (tasks["n_effective"] == 23).all()
    assert tasks["task_group"].tolist()[:4] == ["q00"] * 4
    summary = result.summary_frame
    assert "group_coverage" in summary.columns
    for (method, alpha), part in tasks.groupby(["method", "alpha"]):
        expected = part.groupby("task_group")["covered"].all().mean()
        row = summary[(summary["method"] == method) & (summary["alpha"] == alpha)]
        assert row["group_coverage"].item() == pytest.approx(expected)
    assert "group_coverage" not in synthinfer.backtest(table, alpha=0.2).summary_frame.columns
    assert "coverage 'cell': a cell drawn at random from a new task group" in result.summary()


def test_auto_allocation_ranks_groups_not_cells():
    # 11 history questions of 8 cells: finite only if alpha3 >= 1/6, which auto must see
    result = synthinfer.backtest(
        synthinfer.pew_tasks(scalar=True), task_group="wave", alpha=0.2, bounds=(0, 1)
    )
    tasks = result.to_frame()
    assert tasks["feasible"].all()
    assert (tasks["alpha3"] >= 2 / 12 - 1e-12).all()


def test_backtest_loo_by_group_equals_calibrating_each_group_as_new():
    table = nested_table()
    held = table[table["question"] == "q05"]
    rest = table[table["question"] != "q05"]
    target = held.assign(real_estimate=np.nan, gap_se=np.nan)
    for coverage in ("cell", "group"):
        options = {"task_group": "question", "coverage": coverage, "alpha": 0.2}
        inferred = synthinfer.infer(pd.concat([rest, target]), **options).to_frame()
        backtested = synthinfer.backtest(table, **options).to_frame()
        backtested = backtested[backtested["task_group"] == "q05"]
        np.testing.assert_allclose(inferred["lower"], backtested["lower"])
        np.testing.assert_allclose(inferred["upper"], backtested["upper"])


def test_infer_leaves_history_cells_of_the_target_group_out_and_says_so():
    table = nested_table()
    table.loc[table["task"] == "q03 / r0", ["real_estimate", "gap_se"]] = np.nan
    with pytest.warns(UserWarning, match=r"3 history task\(s\) share a target's task group"):
        result = synthinfer.infer(table, task_group="question", coverage="group", alpha=0.2)
    interval = result[0]
    assert interval.n_history == len(table) - 4
    assert "coverage 'group'" in interval.summary()
    assert "23 history groups" in str(interval)
    again = interval.at(0.3)
    assert again.history is not None and again.history.coverage == "group"
    assert again.width <= interval.width


def test_multidimensional_groups_split_alpha_per_coordinate():
    result = synthinfer.backtest(
        synthinfer.pew_tasks(), task_group="wave", method="finite-sample", alpha=0.4
    )
    tasks = result.to_frame()
    assert set(tasks["coord"]) == {"co", "opp"}
    np.testing.assert_allclose(tasks["alpha3"], 0.2)
    assert (tasks["n_effective"] == 11).all()
    assert tasks["feasible"].all()
    pooled = result.summary_frame.query("coord == 'all'")
    assert pooled["group_coverage"].notna().all()


def test_unit_level_tables_take_task_groups():
    rng = np.random.default_rng(4)
    rows = []
    for q in range(20):
        bias = rng.normal(0, 0.1)
        for cell in range(3):
            task = f"q{q}-{cell}"
            p = rng.uniform(0.3, 0.7)
            for source, shift in (("real", bias), ("synthetic", 0.0)):
                values = rng.normal(p + shift, 1.0, 30)
                rows += [(task, source, v, f"q{q}") for v in values]
    table = pd.DataFrame(rows, columns=["task", "source", "value", "question"])
    result = synthinfer.backtest(table, task_group="question", alpha=0.3, bounds="none")
    assert (result.to_frame()["n_effective"] == 19).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"coverage": "group"}, "--coverage needs --task-group COL"),
        ({"task_group": "question", "coverage": "cells"}, "coverage"),
        ({"task_group": "question", "method": "task-only"}, "does not support task groups"),
        ({"task_group": "question", "adjust": "synth_estimate"}, "--adjust cannot be combined"),
        ({"task_group": "nope"}, "--task-group 'nope' names no task-level column"),
    ],
)
def test_bad_task_group_options_stop_with_one_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        synthinfer.backtest(nested_table(), alpha=0.2, **options)


def test_a_task_without_a_group_is_an_error():
    table = nested_table().astype({"question": object})
    table.loc[0, "question"] = None
    with pytest.raises(ValueError, match="has no value in --task-group column 'question'"):
        synthinfer.backtest(table, task_group="question", alpha=0.2)


def test_command_line_task_group_and_coverage(tmp_path):
    path = tmp_path / "cells.csv"
    nested_table().to_csv(path, index=False)
    runner = CliRunner()
    options = ["backtest", str(path), "--alpha", "0.2", "--task-group", "question"]
    result = runner.invoke(app, [*options, "--coverage", "group"])
    assert result.exit_code == 0, result.output
    assert "group_coverage" in result.output
    rows = runner.invoke(app, [*options, "--format", "csv"])
    assert rows.exit_code == 0, rows.output
    assert rows.output.splitlines()[0].endswith(",truth,covered,task_group")
    wrong = runner.invoke(app, ["backtest", str(path), "--coverage", "group"])
    assert wrong.exit_code == 2
    assert "--coverage needs --task-group" in wrong.output


def test_warning_free_backtest_with_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        synthinfer.backtest(nested_table(), task_group="question", alpha=0.2)


# ---------------------------------------------------------------------------- planning


@pytest.mark.parametrize("coverage", ["cell", "group"])
@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3, 0.5])
def test_min_groups_is_the_first_group_count_with_a_finite_band(alpha, coverage):
    needed = synthinfer.min_groups_for(alpha, method="finite-sample", coverage=coverage)
    assert needed >= 2 / alpha - 1 - 1e-9
    target = WaldInterval(np.array([0.0]), np.array([0.1]))
    for n_groups, finite in ((needed - 1, False), (needed, True)):
        values = np.random.default_rng(n_groups).normal(size=3 * n_groups)
        past = history(values, np.arange(3 * n_groups) // 3, coverage=coverage)
        calibration = calibrate("finite-sample", target, past, alpha)
        assert bool(calibration.feasible.all()) is finite


def test_plan_command_reports_the_groups_needed():
    result = CliRunner().invoke(
        app, ["plan", "--alpha", "0.1", "--method", "finite-sample", "--cells-per-group", "8"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "min_groups" in line)
    header, row = lines[start : start + 2]
    assert header.split()[-2:] == ["min_groups", "min_group_cells"]
    assert row.split()[-2:] == ["19", "152"]
