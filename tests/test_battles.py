"""Battle logs: win rates, Bradley-Terry fits, summary tables and the arena pipeline."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit

from synthinfer.arena import (
    ELO_SCALE,
    BattleCounts,
    BattleModel,
    arena,
    arena_summary,
    fit_bradley_terry,
    place_model,
    rank_interval,
    read_battles,
    simulate_battles,
    win_rate_summary,
)
from synthinfer.data import TaskData
from synthinfer.datasets import dataset_path
from synthinfer.evaluate import backtest

BATTLES = Path(str(dataset_path("arena_judge_battles")))
SCORE = {"a": 1.0, "tie": 0.5, "b": 0.0}


@pytest.fixture(scope="module")
def counts() -> BattleCounts:
    return read_battles(BATTLES)


def _row_scores(frame: pd.DataFrame, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-battle human and judge scores of ``model`` (row loop reference)."""
    side_a = frame["model_a"] == model
    side_b = frame["model_b"] == model
    h = frame["human"].map(SCORE).to_numpy()
    j = frame["judge"].map(SCORE).to_numpy()
    human = np.r_[h[side_a], 1 - h[side_b]]
    judge = np.r_[j[side_a], 1 - j[side_b]]
    return human, judge


def test_win_rates_match_row_level(counts: BattleCounts) -> None:
    frame = pd.read_csv(BATTLES)
    table = win_rate_summary(counts).set_index("task")
    assert len(table) == 20
    for model in ("gpt-4", "koala-13b", "guanaco-33b"):
        human, judge = _row_scores(frame, model)
        n = human.size
        row = table.loc[model]
        assert row["n_real"] == row["n_synth"] == n
        assert row["real_estimate"] == pytest.approx(human.mean(), rel=1e-12)
        assert row["synth_estimate"] == pytest.approx(judge.mean(), rel=1e-12)
        assert row["synth_se"] == pytest.approx(judge.std(ddof=1) / np.sqrt(n), rel=1e-12)
        assert row["gap_se"] == pytest.approx((human - judge).std(ddof=1) / np.sqrt(n), rel=1e-12)
        assert row["gap_estimate"] == pytest.approx(human.mean() - judge.mean(), abs=1e-14)


def test_fit_two_models_closed_form() -> None:
    wins = np.array([[0.0, 30.0], [10.0, 0.0]])
    fit = fit_bradley_terry(wins, wins + wins.T)
    assert fit.strengths[1] == pytest.approx(np.log(10 / 30), abs=1e-10)
    # Fisher information of β_1: n p (1 − p) with p = 1/4, n = 40.
    assert fit.se[1] == pytest.approx(1 / np.sqrt(40 * 0.25 * 0.75), rel=1e-8)
    assert fit.se[0] == 0.0


def test_fit_matches_generic_optimizer(counts: BattleCounts) -> None:
    wins, games = counts.human_wins()
    fit = fit_bradley_terry(wins, games, reference=3)

    def negative_loglik(free: np.ndarray) -> float:
        beta = np.insert(free, 3, 0.0)
        return float((wins * np.logaddexp(0.0, -(beta[:, None] - beta[None, :]))).sum())

    start = np.zeros(counts.n_models - 1)
    generic = optimize.minimize(negative_loglik, start, method="BFGS", options={"gtol": 1e-8})
    np.testing.assert_allclose(np.delete(fit.strengths, 3), generic.x, atol=1e-4)
    assert fit.strengths[3] == 0.0
    assert np.all(np.delete(fit.se, 3) > 0)


def test_fit_se_is_inverse_information() -> None:
    rng = np.random.default_rng(1)
    games = rng.integers(20, 60, size=(4, 4)).astype(float)
    games = np.triu(games, 1) + np.triu(games, 1).T
    wins = np.round(games * expit(rng.normal(size=(4, 4))), 0)
    wins = np.triu(wins, 1) + np.tril(games - wins.T, -1)
    fit = fit_bradley_terry(wins, games, reference=0)
    beta = fit.strengths
    p = expit(beta[:, None] - beta[None, :])
    v = games * p * (1 - p)
    information = np.diag(v.sum(1)) - v
    expected = np.sqrt(np.diag(np.linalg.inv(information[1:, 1:])))
    np.testing.assert_allclose(fit.se[1:], expected, rtol=1e-8)
    score = wins.sum(1) - (games * p).sum(1)
    np.testing.assert_allclose(score[1:], 0.0, atol=1e-8)


def test_disconnected_field() -> None:
    wins = np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 3.0], [0.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="do not connect the models"):
        fit_bradley_terry(wins, wins + wins.T, models=["a", "b", "c"])


def test_place_model_closed_form() -> None:
    field = np.array([0.3, -1.0])
    wins = np.array([[12.0, 0.0], [7.5, 0.0]])
    games = np.array([[20.0, 0.0], [10.0, 0.0]])
    strength, se = place_model(wins, games, field)
    expected = 0.3 + np.log(np.array([12.0, 7.5]) / np.array([8.0, 2.5]))
    np.testing.assert_allclose(strength, expected, atol=1e-10)
    p = np.array([0.6, 0.75])
    np.testing.assert_allclose(se, 1 / np.sqrt(np.array([20.0, 10.0]) * p * (1 - p)), rtol=1e-8)


def test_rank_interval() -> None:
    field = np.array([2.0, 1.0, 0.0, -1.0])
    best, worst = rank_interval(np.array([0.5, -np.inf]), np.array([1.5, np.inf]), field)
    assert best.tolist() == [2, 1]
    assert worst.tolist() == [3, 5]


def test_bradley_terry_summary(counts: BattleCounts) -> None:
    summary = arena_summary(counts, estimand="bradley-terry", n_gap_bootstrap=60, seed=0)
    table = summary.table.set_index("task")
    assert summary.reference == "vicuna-13b"  # most battles; never a task
    assert "vicuna-13b" not in table.index and len(table) == 19
    assert (table["reference"] == "vicuna-13b").all()
    np.testing.assert_allclose(
        table["gap_estimate"], table["real_estimate"] - table["synth_estimate"], atol=1e-12
    )
    assert (table["gap_se"] > 0).all() and (table["synth_se"] > 0).all()
    again = arena_summary(counts, estimand="bradley-terry", n_gap_bootstrap=60, seed=0)
    pd.testing.assert_frame_equal(again.table, summary.table)
    # held-out placement: the real strength of gpt-4 against the field without it
    field = summary.field["gpt-4"]
    assert field.size == 19 and np.all(np.diff(field) <= 0)
    assert table.loc["gpt-4", "real_estimate"] > field[0]  # gpt-4 tops the human ranking


def test_bootstrap_gap_se_matches_row_bootstrap(counts: BattleCounts) -> None:
    """Multinomial cell counts give the same gap SE as resampling battles."""
    from synthinfer.arena._bradley_terry import bootstrap_gap_se, place_human_and_judge
    from synthinfer.arena._summary import field_strengths

    model = counts.index("koala-13b")
    wins, games = counts.human_wins()
    ref = counts.index("vicuna-13b")
    field = field_strengths(counts, wins, games, counts.is_history, ref, exclude=model)
    cells = counts.paired[model]
    cell_se = bootstrap_gap_se(cells, field, 2000, np.random.default_rng(0))
    # resample the battles themselves (one row per battle: opponent, human, judge)
    flat = cells.reshape(-1)
    rows = np.repeat(np.arange(flat.size), flat)
    rng = np.random.default_rng(1)
    picks = rows[rng.integers(0, rows.size, size=(2000, rows.size))]
    resampled = np.zeros((2000, flat.size))
    np.add.at(resampled, (np.arange(2000)[:, None], picks), 1.0)
    human, judge = place_human_and_judge(resampled.reshape((2000, *cells.shape)), field)
    direct = np.std(human.strength - judge.strength, ddof=1)
    assert cell_se == pytest.approx(direct, rel=0.1)


def test_arena_equals_backtest_on_summary(tmp_path: Path) -> None:
    for estimand in ("win-rate", "bradley-terry"):
        result = arena(
            BATTLES,
            estimand=estimand,
            protocol="loo",
            alpha=[0.2, 0.3],
            method=["exchangeable", "finite-sample", "synthetic-only"],
            n_gap_bootstrap=50,
            seed=3,
        )
        path = tmp_path / f"{estimand}.csv"
        result.summary_table.to_csv(path, index=False)
        direct = backtest(
            TaskData.read(path),
            protocol="loo",
            alpha=[0.2, 0.3],
            method=["exchangeable", "finite-sample", "synthetic-only"],
        ).tasks
        for column in ("lower", "upper", "truth", "covered"):
            np.testing.assert_array_equal(result.tasks[column], direct[column])
        assert result.coverage is not None
        cover = result.coverage.set_index(["method", "alpha"])["coverage"]
        assert cover[("exchangeable", 0.2)] >= 0.8
        assert cover[("synthetic-only", 0.2)] < 0.6


def test_bradley_terry_columns() -> None:
    result = arena(
        BATTLES, estimand="bradley-terry", alpha=0.3, method="finite-sample", n_gap_bootstrap=30
    )
    tasks = result.tasks
    np.testing.assert_allclose(tasks["lower_elo"], tasks["lower"] * ELO_SCALE)
    np.testing.assert_allclose(tasks["width_elo"], tasks["width"] * ELO_SCALE)
    assert (tasks["rank_lower"] <= tasks["rank_upper"]).all()
    assert tasks["rank_lower"].min() >= 1 and tasks["rank_upper"].max() <= 20
    gpt4 = tasks.set_index("task").loc["gpt-4"]
    field = result.arena_summary.field["gpt-4"]
    assert gpt4["rank_lower"] == 1 + (field > gpt4["upper"]).sum()
    assert gpt4["rank_upper"] == 1 + (field > gpt4["lower"]).sum()
    assert "arena bradley-terry backtest (loo), reference 'vicuna-13b' = 0" in str(result)


def test_anchor_and_temporal() -> None:
    sim = simulate_battles(16, 16_000, release_order=True, seed=5)
    counts = read_battles(sim.battles)
    assert counts.order()[:3] == ["model-00", "model-01", "model-02"]
    table = win_rate_summary(counts, anchor=4)
    assert set(table["task"]) == {f"model-{k:02d}" for k in range(4, 16)}
    assert "time" in table.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = arena(
            counts,
            estimand="bradley-terry",
            protocol="temporal",
            split_time=10,
            anchor=2,
            alpha=0.4,
            method="finite-sample",
            n_gap_bootstrap=20,
        )
    assert result.arena_summary.reference == "model-00"
    assert set(result.tasks["task"]) == {f"model-{k:02d}" for k in range(10, 16)}
    assert (result.tasks["n_history"] == 8).all()  # models 2..9 (0 and 1 are anchors)


def test_targets_are_inferred() -> None:
    frame = pd.read_csv(BATTLES)
    new = (frame["model_a"] == "gpt-4") | (frame["model_b"] == "gpt-4")
    frame.loc[new, "human"] = None
    with pytest.warns(UserWarning, match="autorater-only battle side"):
        result = arena(frame, protocol=None, alpha=0.3, method=["exchangeable", "synthetic-only"])
    assert set(result.tasks["task"]) == {"gpt-4"}
    assert result.coverage is None
    row = result.summary_table.set_index("task").loc["gpt-4"]
    assert row["n_real"] == 0 and np.isnan(row["real_estimate"])
    judge = frame.loc[new]
    score = np.where(judge["model_a"] == "gpt-4", 1, -1) * (judge["judge"].map(SCORE) - 0.5) + 0.5
    assert row["synth_estimate"] == pytest.approx(score.mean())
    with pytest.raises(ValueError, match="nothing to infer"):
        arena(BATTLES, protocol=None)


def test_errors(tmp_path: Path, counts: BattleCounts) -> None:
    with pytest.raises(ValueError, match="model 'nobody' appears in no battle"):
        arena_summary(counts, estimand="bradley-terry", reference="nobody")
    with pytest.raises(ValueError, match="ordering models by release needs times"):
        win_rate_summary(counts, anchor=3)
    releases = pd.DataFrame({"model": ["gpt-4", "ghost"], "time": [1.0, 2.0]})
    with pytest.raises(ValueError, match="model 'ghost' appears in no battle"):
        read_battles(BATTLES, releases=releases)
    with pytest.raises(ValueError, match="estimand must be one of"):
        arena_summary(counts, estimand="elo")
    with pytest.raises(ValueError, match="protocol must be one of"):
        arena(counts, protocol="kfold")


def test_release_table(counts: BattleCounts) -> None:
    releases = pd.DataFrame(
        {"model": list(counts.models), "release_date": pd.date_range("2023-01-01", periods=20)}
    )
    read = read_battles(BATTLES, releases=releases)
    assert read.order()[0] == counts.models[0]
    assert read.times.iloc[0] == pytest.approx(2023.0)


def test_simulator_truth() -> None:
    model = BattleModel.draw(6, release_order=True, seed=2)
    battles = model.battles(400_000, seed=3)
    pairs = pd.crosstab(battles["model_a"], battles["model_b"]).to_numpy()
    pairs = (pairs + pairs.T) / (pairs + pairs.T).sum()
    weights = model.pair_weights() / model.pair_weights().sum()
    np.testing.assert_allclose(pairs, weights, atol=3e-3)
    counts = read_battles(battles)
    table = win_rate_summary(counts).set_index("task")
    truth = model.true_win_rate()
    z = (table["real_estimate"] - truth.reindex(table.index)) / table["real_se"]
    assert np.abs(z).max() < 4.5
    ties = (battles["human"] == "tie").mean()
    assert 0.05 < ties < 0.3
    assert model.true_strength(model.models[2])[model.models[2]] == 0.0
    with pytest.raises(ValueError, match="tie_rate must lie in"):
        BattleModel.draw(4, tie_rate=0.7)
