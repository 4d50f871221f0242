"""Planning: exact minimum history sizes and expected widths that match simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.plan import (
    PlanModel,
    expected_normal_order_statistic,
    expected_width,
    fit_plan_model,
    min_history_for,
    plan_table,
)
from synthinfer.plot import plot_plan


def _feasible(n_history: int, alpha: float, method: str = "exchangeable", **kwargs) -> bool:
    gaps = np.linspace(-1, 1, n_history)
    history = History(gap=WaldInterval(gaps, 0.01), observed=gaps)
    target = WaldInterval(np.array([0.5]), np.array([0.01]))
    return bool(calibrate(method, target, history, alpha, **kwargs).feasible[0])


@pytest.mark.parametrize(("alpha", "expected"), [(0.05, 57), (0.1, 28), (0.2, 14)])
def test_min_history_matches_order_statistics_and_the_core(alpha, expected):
    # T + 1 >= 2 / alpha3 with alpha3 = 0.7 alpha: 2/0.035 = 57.1, 2/0.07 = 28.6, 2/0.14 = 14.3
    assert min_history_for(alpha) == expected
    assert _feasible(expected, alpha)
    assert not _feasible(expected - 1, alpha)


@pytest.mark.parametrize(
    ("alpha", "kwargs", "method"),
    [(0.1, {"allocation": "abs:0.005,0.005"}, "exchangeable"), (0.1, {}, "finite-sample")],
)
def test_min_history_other_allocations_and_methods(alpha, kwargs, method):
    needed = min_history_for(alpha, method=method, **kwargs)
    assert _feasible(needed, alpha, method, **kwargs)
    assert not _feasible(needed - 1, alpha, method, **kwargs)


def test_min_history_per_coordinate():
    assert min_history_for(0.2, n_coords=2) == min_history_for(0.1)
    with pytest.raises(ValueError, match="n_coords"):
        min_history_for(0.1, n_coords=0)
    with pytest.raises(ValueError, match="planning method"):
        min_history_for(0.1, method="weighted")


def test_expected_normal_order_statistics_known_values():
    # E[max of 2] = 1/sqrt(pi); E[max of 3] = 3/(2 sqrt(pi)) (David & Nagaraja, Order Statistics)
    assert expected_normal_order_statistic(2, 2) == pytest.approx(1 / np.sqrt(np.pi), abs=1e-9)
    assert expected_normal_order_statistic(3, 3) == pytest.approx(1.5 / np.sqrt(np.pi), abs=1e-9)
    assert expected_normal_order_statistic(3, 5) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="rank"):
        expected_normal_order_statistic(0, 5)


def test_expected_width_matches_normal_simulation_exactly():
    """Pure hierarchical normal model: prediction equals the simulated mean width (3 SE)."""
    rng = np.random.default_rng(3)
    model = PlanModel(mu=0.02, tau=0.08, sigma_real=0.5, sigma_synth=0.4)
    reps, n_history, n, m = 20000, 40, 500, 1000
    s = model.gap_se(n, m)
    gaps = rng.normal(model.mu, np.sqrt(model.tau**2 + s**2), size=(reps, n_history))
    target = WaldInterval(np.zeros(reps), np.full(reps, model.sigma_synth / np.sqrt(m)))
    cal = calibrate("exchangeable", target, History(gap=WaldInterval(gaps, s)), 0.1)
    width = cal.upper - cal.lower
    predicted = expected_width(model, n_history, n, m, alpha=0.1)
    assert abs(width.mean() - predicted.width) <= 3 * width.std() / np.sqrt(reps)
    assert predicted.w1 == pytest.approx(cal.w1[0])
    assert predicted.w2 == pytest.approx(cal.w2.mean(), rel=1e-9)


def _bernoulli(reps, n_history, n, m, seed):
    """The paper's simulated model: p ~ Beta(2, 2), p~ = clip(p + N(0.05, 0.1²))."""
    rng = np.random.default_rng(seed)
    shape = (reps, n_history + 1)
    p = rng.beta(2.0, 2.0, shape)
    p_synth = np.clip(p + rng.normal(0.05, 0.1, shape), 0, 1)
    real = rng.binomial(n, p) / n
    synth = rng.binomial(m, p_synth) / m
    synth_se = np.sqrt(synth * (1 - synth) / m)
    gap_se = np.sqrt(real * (1 - real) / n + synth_se**2)
    return real - synth, gap_se, synth, synth_se


@pytest.mark.parametrize("method", ["exchangeable", "task-only", "finite-sample"])
@pytest.mark.parametrize(("n_history", "n", "m"), [(30, 1000, 2000), (100, 200, 500)])
def test_predicted_width_within_10_percent_of_bernoulli_simulation(method, n_history, n, m):
    gap, gap_se, synth, synth_se = _bernoulli(1000, n_history, n, m, seed=n_history)
    history = History(gap=WaldInterval(gap[:, :-1], gap_se[:, :-1]), observed=gap[:, :-1])
    target = WaldInterval(synth[:, -1], synth_se[:, -1])
    cal = calibrate(method, target, history, 0.1)
    simulated = np.mean(cal.upper - cal.lower)
    # stated values: E[p(1 − p)] = 0.2 under Beta(2, 2); bias N(0.05, 0.1²)
    stated = PlanModel(mu=-0.05, tau=0.1, sigma_real=np.sqrt(0.2), sigma_synth=np.sqrt(0.2))
    assert expected_width(stated, n_history, n, m, method=method).width == pytest.approx(
        simulated, rel=0.10
    )
    big_gap, big_se, _, big_synth_se = _bernoulli(1, 300, 1000, 2000, seed=99)
    fitted = fit_plan_model(
        pd.DataFrame(
            {"gap_estimate": big_gap[0], "gap_se": big_se[0], "synth_se": big_synth_se[0]}
        ),
        n_real=1000,
        n_synth=2000,
    )
    assert expected_width(fitted, n_history, n, m, method=method).width == pytest.approx(
        simulated, rel=0.10
    )


def test_fit_plan_model_recovers_parameters_and_reads_size_columns():
    rng = np.random.default_rng(0)
    n_tasks = 2000
    gap_se = np.full(n_tasks, 0.02)
    frame = pd.DataFrame(
        {
            "gap_estimate": rng.normal(0.1, np.sqrt(0.05**2 + 0.02**2), n_tasks),
            "gap_se": gap_se,
            "synth_se": np.full(n_tasks, 0.01),
            "n_real": 400,
            "n_synth": 1000,
        }
    )
    model = fit_plan_model(frame)
    assert model.mu == pytest.approx(0.1, abs=0.005)
    assert model.tau == pytest.approx(0.05, rel=0.08)
    assert model.sigma_synth == pytest.approx(0.01 * np.sqrt(1000))
    assert model.gap_se(400, 1000) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="'n_real' column"):
        fit_plan_model(frame.drop(columns="n_real"))
    with pytest.raises(ValueError, match=r"\['gap_se'\]"):
        fit_plan_model(frame.drop(columns="gap_se"))


def test_plan_table_and_plot_mark_infeasible_designs():
    import matplotlib

    matplotlib.use("Agg")
    model = PlanModel(0.0, 0.1, 0.5, 0.5)
    table = plan_table(model, [10, 28, 100], [500], [1000, 4000])
    assert len(table) == 6
    assert list(table.loc[table.n_history == 10, "feasible"]) == [False, False]
    assert np.isinf(table.loc[table.n_history == 10, "width"]).all()
    assert table.loc[table.n_history == 100, "width"].is_monotonic_decreasing
    assert plot_plan(table).get_xlabel() == "history tasks T"
    with pytest.raises(ValueError, match="tau"):
        PlanModel(0.0, -1.0, 0.5, 0.5)


def test_cli_plan(tmp_path):
    from typer.testing import CliRunner

    from synthinfer.cli import app

    runner = CliRunner()
    stated = ["--mu", "0", "--tau", "0.1", "--sigma-real", "0.45", "--sigma-synth", "0.45"]
    result = runner.invoke(app, ["plan", "--alpha", "0.05,0.1,0.2", *stated])
    assert result.exit_code == 0, result.output
    for alpha, needed in ((0.05, 57), (0.1, 28), (0.2, 14)):
        assert f"alpha = {alpha:g} (exchangeable, prop:0.1,0.2,0.7, D = 1): at least {needed}" in (
            result.output
        )
    result = runner.invoke(app, ["plan", *stated, "--tasks", "30,100", "--n", "500", "-f", "csv"])
    table = pd.read_csv(__import__("io").StringIO(result.output))
    assert list(table["n_history"]) == [30, 100]
    expected = expected_width(PlanModel(0, 0.1, 0.45, 0.45), 100, 500, 2000).width
    assert table["width"].iloc[1] == pytest.approx(expected, abs=1e-6)
    history = tmp_path / "h.csv"
    gap, gap_se, _, synth_se = _bernoulli(1, 80, 1000, 2000, seed=1)
    pd.DataFrame(
        {
            "task": range(80),
            "synth_estimate": 0.5,
            "gap_estimate": gap[0, :-1],
            "gap_se": gap_se[0, :-1],
            "synth_se": synth_se[0, :-1],
        }
    ).to_csv(history, index=False)
    result = runner.invoke(app, ["plan", str(history), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 2
    assert "--history-n" in result.output
    result = runner.invoke(
        app,
        [
            "plan",
            str(history),
            "--history-n",
            "1000",
            "--history-synthetic-n",
            "2000",
            "--plot",
            str(tmp_path / "p.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "gap model: mu" in result.output
    assert (tmp_path / "p.png").stat().st_size > 0
    # Without a gap model, plan reports the exact minimum history sizes only.
    minimum = runner.invoke(app, ["plan", "--alpha", "0.05,0.1,0.2", "-f", "csv"])
    assert minimum.exit_code == 0, minimum.output
    table = pd.read_csv(__import__("io").StringIO(minimum.stdout))
    assert list(table["min_history"]) == [57, 28, 14]
