"""infer and backtest: protocols, and every option reaching every path (library level)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import synthinfer
from synthinfer._columns import BACKTEST_COLUMNS, OUTPUT_COLUMNS
from synthinfer.allocation import Allocation
from synthinfer.conformal import conformal_lower, conformal_upper, weighted_lower, weighted_upper
from synthinfer.data._taskdata import TaskData

ALPHA = 0.3  # alpha3 = 0.21: with T = 24, k_L = floor(25 * 0.105) = 2, k_U = ceil(22.375) = 23
PAPER = "prop:0.1,0.2,0.7"  # the hand computations use the paper's split (the default is "auto")


def hand_interval(frame: pd.DataFrame, target: str, history: list[str], alpha: float):
    """Algorithm 1 on a summary table, by hand."""
    alpha1, alpha2, alpha3 = Allocation.parse("prop:0.1,0.2,0.7").split(alpha)
    rows = frame.set_index("task")
    z1, z2 = stats.norm.isf(alpha1 / 2), stats.norm.isf(alpha2 / 2)
    gap = rows.loc[history, "real_estimate"] - rows.loc[history, "synth_estimate"]
    gap_se = rows.loc[history, "gap_se"]
    lower = conformal_lower((gap - z2 * gap_se).to_numpy(), alpha3)
    upper = conformal_upper((gap + z2 * gap_se).to_numpy(), alpha3)
    synth, synth_se = rows.loc[target, "synth_estimate"], rows.loc[target, "synth_se"]
    return synth - z1 * synth_se + lower, synth + z1 * synth_se + upper


def test_infer_output_columns_and_hand_computation(summary_table):
    result = synthinfer.infer(summary_table, alpha=ALPHA, allocation=PAPER)
    frame = result.to_frame()
    assert list(frame.columns) == list(OUTPUT_COLUMNS)
    row = frame.iloc[0]
    history = [f"t{j:02d}" for j in range(25)]
    lower, upper = hand_interval(summary_table, "t25", history, ALPHA)
    assert row["lower"] == pytest.approx(lower, rel=1e-12)
    assert row["upper"] == pytest.approx(upper, rel=1e-12)
    assert row["n_history"] == 25
    assert row["width"] == pytest.approx(row["upper"] - row["lower"])


def test_loo_backtest_holds_out_each_task(summary_table):
    result = synthinfer.backtest(
        summary_table.iloc[:25], alpha=ALPHA, protocol="loo", allocation=PAPER
    )
    tasks = result.tasks
    assert list(tasks.columns) == list(BACKTEST_COLUMNS)
    assert len(tasks) == 25
    assert (tasks["n_history"] == 24).all()
    frame = summary_table.iloc[:25]
    for target in ("t00", "t07", "t24"):
        history = [t for t in frame["task"] if t != target]
        lower, upper = hand_interval(frame, target, history, ALPHA)
        row = tasks.set_index("task").loc[target]
        assert row["lower"] == pytest.approx(lower, rel=1e-12)
        assert row["upper"] == pytest.approx(upper, rel=1e-12)
        truth = frame.set_index("task").loc[target, "real_estimate"]
        assert row["truth"] == pytest.approx(truth)
        assert row["covered"] == (lower <= truth <= upper)
    summary = result.summary_frame
    assert len(summary) == 1
    assert summary["coverage"].iloc[0] == pytest.approx(tasks["covered"].mean())
    assert summary["mean_width"].iloc[0] == pytest.approx(tasks["width"].mean())


def test_backtest_warns_about_left_out_targets(summary_table):
    with pytest.warns(UserWarning, match=r"1 target task\(s\) without real data are left out"):
        result = synthinfer.backtest(summary_table, alpha=ALPHA)
    assert "t25" not in set(result.tasks["task"])


def test_temporal_protocol(summary_table):
    frame = summary_table.iloc[:25]
    result = synthinfer.backtest(
        frame, protocol="temporal", split_time=20, alpha=ALPHA, allocation=PAPER
    )
    tasks = result.tasks
    # history: time < 20 (t00..t19); predicted: t20..t24
    assert sorted(tasks["task"]) == [f"t{j}" for j in range(20, 25)]
    assert (tasks["n_history"] == 20).all()
    history = [f"t{j:02d}" for j in range(20)]
    lower, upper = hand_interval(frame, "t22", history, ALPHA)
    row = tasks.set_index("task").loc["t22"]
    assert (row["lower"], row["upper"]) == (pytest.approx(lower), pytest.approx(upper))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"--protocol temporal needs --split-time"),
        ({"split_time": 100}, r"leaves 25 history task\(s\) before and 0 at or after"),
        ({"split_time": 0}, r"leaves 0 history task\(s\) before"),
        ({"split_time": 5, "time_col": "when"}, r"needs a task-level time column 'when'"),
    ],
)
def test_temporal_protocol_errors(summary_table, kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthinfer.backtest(summary_table.iloc[:25], protocol="temporal", alpha=ALPHA, **kwargs)


def test_bad_protocol(summary_table):
    with pytest.raises(ValueError, match="protocol must be one of"):
        synthinfer.backtest(summary_table.iloc[:25], protocol="kfold")


def test_bounds_clip_in_infer_and_backtest(make_summary):
    frame = make_summary(25)
    # push the target near 1 so the upper end crosses it
    frame.loc[25, "synth_estimate"] = 0.99
    raw = synthinfer.infer(frame, alpha=ALPHA, allocation=PAPER)[0]
    clipped = synthinfer.infer(frame, alpha=ALPHA, bounds=(0, 1), allocation=PAPER)[0]
    assert raw.upper > 1
    assert clipped.upper == 1.0
    assert clipped.lower == raw.lower
    assert clipped.width == pytest.approx(1.0 - raw.lower)
    # the decomposition stays unclipped
    assert clipped.w3 == raw.w3
    backtest_raw = synthinfer.backtest(frame.iloc[:25], alpha=ALPHA, allocation=PAPER).tasks
    backtest_clip = synthinfer.backtest(
        frame.iloc[:25], alpha=ALPHA, bounds="0,0.9", allocation=PAPER
    ).tasks
    # (the estimates lie in [0.21, 0.99]: bounds must hold them, see test_safe_defaults)
    assert (backtest_raw["upper"] > 0.9).any()
    assert (backtest_clip["upper"] <= 0.9).all()
    assert (backtest_clip["lower"] >= 0.0).all()
    np.testing.assert_allclose(
        backtest_clip["upper"], np.clip(backtest_raw["upper"], 0, 0.9), rtol=0, atol=0
    )


@pytest.mark.parametrize("bounds", ["1,0", "0", "a,b", (0.0, np.inf)])
def test_bad_bounds(summary_table, bounds):
    with pytest.raises(ValueError, match="bounds must be"):
        synthinfer.infer(summary_table, alpha=ALPHA, bounds=bounds)


def test_decay_changes_weighted_results_and_n_effective(summary_table):
    alpha = 0.5  # alpha3 = 0.35: a finite band needs weights summing to 2 / 0.35 − 1 = 4.71
    plain = synthinfer.infer(
        summary_table, alpha=alpha, method="weighted", decay=1.0, allocation=PAPER
    )[0]
    exchangeable = synthinfer.infer(
        summary_table, alpha=alpha, method="exchangeable", allocation=PAPER
    )[0]
    # decay 1 gives unit weights: Algorithm 1 exactly
    assert (plain.lower, plain.upper) == (exchangeable.lower, exchangeable.upper)
    assert plain.n_effective == pytest.approx(25.0)
    decayed = synthinfer.infer(
        summary_table, alpha=alpha, method="weighted", decay=0.9, allocation=PAPER
    )[0]
    # weights 0.9 ** |25 − time_j| for times 0..24 (the target is at time 25); sum 8.35
    weights = 0.9 ** (25 - np.arange(25.0))
    assert decayed.n_effective == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    assert decayed.n_effective < 25
    _, alpha2, alpha3 = Allocation.parse("prop:0.1,0.2,0.7").split(alpha)
    history = summary_table.iloc[:25]
    gap = history["real_estimate"] - history["synth_estimate"]
    z2 = stats.norm.isf(alpha2 / 2)
    band_lo = weighted_lower((gap - z2 * history["gap_se"]).to_numpy(), weights, alpha3)
    band_hi = weighted_upper((gap + z2 * history["gap_se"]).to_numpy(), weights, alpha3)
    assert np.isfinite(band_lo) and np.isfinite(band_hi)
    assert decayed.gap_lower == pytest.approx(band_lo)
    assert decayed.gap_upper == pytest.approx(band_hi)
    assert (decayed.lower, decayed.upper) != (plain.lower, plain.upper)
    frame = synthinfer.infer(
        summary_table, alpha=alpha, method="weighted", decay=0.9, allocation=PAPER
    ).to_frame()
    assert frame["n_effective"].iloc[0] == pytest.approx(decayed.n_effective)
    # a faster decay leaves too little weight: infinite, with a message about the weights
    with pytest.warns(UserWarning, match="history weights sum to"):
        fast = synthinfer.infer(
            summary_table, alpha=alpha, method="weighted", decay=0.5, allocation=PAPER
        )[0]
    assert not fast.feasible


def test_decay_errors(summary_table):
    with pytest.raises(ValueError, match=r"decay must lie in \(0, 1\]"):
        synthinfer.infer(summary_table, alpha=ALPHA, method="weighted", decay=1.5)
    with pytest.raises(ValueError, match="--decay needs a 'time' column"):
        synthinfer.infer(
            summary_table.drop(columns="time"), alpha=ALPHA, method="weighted", decay=0.9
        )


def test_task_weight_column_of_a_summary_table(summary_table):
    frame = summary_table.copy()
    frame["task_weight"] = np.where(np.arange(26) % 3 == 0, 0.2, 1.0)
    frame.loc[25, "task_weight"] = np.nan
    result = synthinfer.infer(frame, alpha=ALPHA, method="weighted")[0]
    weights = frame["task_weight"].to_numpy()[:25]
    assert result.n_effective == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    bad = frame.copy()
    bad.loc[0, "task_weight"] = 2.0
    with pytest.raises(ValueError, match=r"'task_weight' must lie in \[0, 1\]"):
        synthinfer.infer(bad, alpha=ALPHA, method="weighted")


def test_group_by_restricts_history(summary_table):
    frame = summary_table.iloc[:25]  # 13 'even' and 12 'odd' tasks
    result = synthinfer.backtest(frame, alpha=0.5, group_by="group", allocation=PAPER)
    tasks = result.tasks.set_index("task")
    assert tasks.loc["t00", "n_history"] == 12  # 13 even tasks minus the held-out one
    assert tasks.loc["t01", "n_history"] == 11
    history = [f"t{j:02d}" for j in range(0, 25, 2) if j != 4]
    lower, upper = hand_interval(frame, "t04", history, 0.5)
    assert tasks.loc["t04", "lower"] == pytest.approx(lower)
    assert tasks.loc["t04", "upper"] == pytest.approx(upper)
    inferred = synthinfer.infer(summary_table, alpha=0.5, group_by="group", allocation=PAPER)[0]
    assert inferred.n_history == 12  # t25 is odd: t01, t03, ..., t23
    with pytest.raises(ValueError, match="--group-by 'colour' names no task-level column"):
        synthinfer.infer(summary_table, alpha=0.5, group_by="colour")


def test_several_alphas_and_methods_give_one_row_each(pew_table):
    data = TaskData.read(pew_table)
    methods = ["exchangeable", "finite-sample", "synthetic-only"]
    alphas = [0.1, 0.2]
    tasks = synthinfer.backtest(
        data, alpha=alphas, method=methods, allocation="prop:0.05,0.10,0.85"
    ).tasks
    assert len(tasks) == 48 * 2 * 3 * 2  # task × coord × method × alpha
    counts = tasks.groupby(["task", "coord", "method", "alpha"]).size()
    assert (counts == 1).all() and len(counts) == 48 * 2 * 3 * 2


def test_interval_result_at_equals_fresh_run(summary_table):
    result = synthinfer.infer(
        summary_table, alpha=ALPHA, method=["exchangeable", "finite-sample"], allocation=PAPER
    )
    for interval in result:
        for alpha in (0.2, 0.5):
            again = interval.at(alpha)
            fresh = next(
                r
                for r in synthinfer.infer(
                    summary_table, alpha=alpha, method=interval.method, allocation=PAPER
                )
                if r.task == interval.task
            )
            assert again.to_dict() == fresh.to_dict()
    bounded = synthinfer.infer(summary_table, alpha=ALPHA, bounds=(0, 1), allocation=PAPER)
    fresh = synthinfer.infer(summary_table, alpha=0.5, bounds=(0, 1), allocation=PAPER)
    pd.testing.assert_frame_equal(bounded.at(0.5).to_frame(), fresh.to_frame())


def test_at_with_coordinates_uses_alpha_over_d(pew_table):
    data = TaskData.read(pew_table)
    tasks = list(data.history_tasks)
    frame = data.frame.copy()
    # make the last task a target: drop its real data
    frame.loc[frame["task"] == tasks[-1], ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    result = synthinfer.infer(frame, alpha=0.1, allocation="prop:0.05,0.10,0.85")
    assert {r.coord for r in result} == {"co", "opp"}
    for r in result:
        assert r.alpha == 0.1
        assert r.alpha1 + r.alpha2 + r.alpha3 == pytest.approx(0.05)
    fresh = synthinfer.infer(frame, alpha=0.2, allocation="prop:0.05,0.10,0.85")
    pd.testing.assert_frame_equal(result.at(0.2).to_frame(), fresh.to_frame())


def test_infer_needs_targets(summary_table):
    with pytest.raises(ValueError, match="no target tasks"):
        synthinfer.infer(summary_table.iloc[:25], alpha=ALPHA)


def test_progress_callback_counts_every_piece_of_work():
    # Bootstrap statistics (one call per task) and one call per held-out task,
    # ending exactly at the announced total.
    rng = np.random.default_rng(3)
    rows = [
        (f"t{t}", source, float(rng.random() < 0.5))
        for t in range(6)
        for source in ("real", "synthetic")
        for _ in range(30)
    ]
    frame = pd.DataFrame(rows, columns=["task", "source", "value"])
    calls = []
    synthinfer.backtest(
        frame,
        alpha=0.5,
        interval="bootstrap",
        n_bootstrap=100,
        seed=1,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (12, 12)
    assert [done for done, _ in calls] == list(range(1, 13))


def test_decay_in_backtests_measures_age_from_the_held_out_task(summary_table):
    # Held-out task t10 (time 10): its history t00..t24 minus itself gets weights
    # 0.9 ** |10 − time_j|, tasks after it included; not ages from the newest task.
    frame = summary_table.iloc[:25]
    result = synthinfer.backtest(frame, alpha=0.5, method="weighted", decay=0.9)
    row = result.tasks.set_index("task").loc["t10"]
    times = np.array([t for t in range(25) if t != 10], dtype=float)
    weights = 0.9 ** np.abs(10.0 - times)
    assert row["n_effective"] == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    from_newest = 0.9 ** (24.0 - times)
    assert row["n_effective"] != pytest.approx(from_newest.sum() ** 2 / (from_newest**2).sum())


def test_alpha_and_level():
    table = synthinfer.pew_tasks(scalar=True)
    with pytest.raises(ValueError, match=r"for a 90% interval use alpha 0\.1"):
        synthinfer.backtest(table, alpha=0.9)
    with pytest.raises(ValueError, match="not both"):
        synthinfer.backtest(table, alpha=0.1, level=0.9)
    by_level = synthinfer.backtest(table, level=0.85, method="finite-sample").tasks
    by_alpha = synthinfer.backtest(table, alpha=0.15, method="finite-sample").tasks
    pd.testing.assert_frame_equal(by_level, by_alpha)


def test_estimate_is_the_calibrated_point_not_the_synthetic_one():
    # On Pew the synthetic estimates are far off (the naive interval covers nothing):
    # the reported estimate is synthetic + median history gap, inside the interval.
    table = synthinfer.pew_tasks(scalar=True)
    result = synthinfer.backtest(table, alpha=0.1, allocation="prop:0.05,0.10,0.85")
    tasks = result.tasks
    history = table.set_index("task")
    row = tasks.iloc[0]
    others = history.drop(index=row["task"])
    gaps = others["gap_estimate"].to_numpy(float)
    assert row["synth_estimate"] == pytest.approx(history.loc[row["task"], "synth_estimate"])
    assert row["estimate"] == pytest.approx(row["synth_estimate"] + np.median(gaps))
    inside = (tasks["lower"] <= tasks["estimate"]) & (tasks["estimate"] <= tasks["upper"])
    assert inside.all()
    # the synthetic estimate is biased: the calibrated point moves by the median gap
    assert (tasks["estimate"] - tasks["synth_estimate"]).abs().min() > 0.01
