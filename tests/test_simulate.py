"""Generative models and the coverage-study engine (fast, exact checks)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from synthinfer._columns import STUDY_COLUMNS, STUDY_REP_COLUMNS
from synthinfer.cli import app as synthinfer_app
from synthinfer.methods import calibrate
from synthinfer.studies import (
    MODELS,
    SimulationModel,
    block_size,
    coverage_study,
    group_subsets,
    simulate_tasks,
    study_weights,
)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- sufficient statistics -------------------------------------------------------------


def test_bernoulli_statistics_equal_wald_from_the_individual_observations():
    sim = simulate_tasks(SimulationModel(n=37, synthetic_n=53), 4, 6, seed=_rng(1))
    for estimate, se, n in (
        (sim.real_estimate, sim.real_se, 37),
        (sim.synth_estimate, sim.synth_se, 53),
    ):
        counts = np.rint(estimate * n).astype(int)
        np.testing.assert_allclose(counts, estimate * n, atol=1e-9)  # k/n exactly
        for k, mean, s in zip(counts.ravel(), estimate.ravel(), se.ravel(), strict=True):
            sample = np.r_[np.ones(k), np.zeros(n - k)]
            assert mean == pytest.approx(sample.mean(), abs=1e-15)
            assert s == pytest.approx(sample.std(ddof=1) / math.sqrt(n), abs=1e-15)


def test_gap_is_unpaired_difference_with_hypot_se():
    sim = simulate_tasks("bernoulli", 3, 5, seed=_rng(2))
    np.testing.assert_array_equal(
        sim.gap_estimate, sim.real_estimate[:, :-1] - sim.synth_estimate[:, :-1]
    )
    expected = np.sqrt(sim.real_se[:, :-1] ** 2 + sim.synth_se[:, :-1] ** 2)
    np.testing.assert_allclose(sim.gap_se, expected, rtol=1e-14)


def test_shapes_and_current_task_last():
    sim = simulate_tasks("bernoulli", 7, 40, seed=_rng(3))
    assert sim.theta.shape == (7, 41)
    assert (sim.reps, sim.tasks) == (7, 40)
    np.testing.assert_array_equal(sim.time, np.arange(1, 42))
    assert sim.target().estimate.shape == (7,)
    np.testing.assert_array_equal(sim.truth("exchangeable"), sim.theta[:, -1])
    np.testing.assert_array_equal(sim.truth("finite-sample"), sim.real_estimate[:, -1])
    history = sim.history()
    assert history.n_history == 40
    np.testing.assert_array_equal(history.observed, sim.gap_estimate)


def test_synthetic_probability_is_clipped_so_synthetic_se_can_be_zero():
    model = SimulationModel(bias=0.9, tau=0.0)
    sim = simulate_tasks(model, 50, 10, seed=_rng(4))
    assert sim.synth_theta.max() == 1.0
    at_one = sim.synth_theta == 1.0
    assert at_one.any()
    np.testing.assert_array_equal(sim.synth_estimate[at_one], 1.0)
    np.testing.assert_array_equal(sim.synth_se[at_one], 0.0)


def test_gaussian_sample_variance_has_the_scaled_chi_square_law():
    model = SimulationModel("gaussian", n=5, synthetic_n=5, sigma=2.0, tau=0.0, bias=0.0)
    sim = simulate_tasks(model, 20000, 1, seed=_rng(5))
    variance = (sim.real_se**2 * 5).ravel()  # s² = n · se²
    # E[s²] = σ² = 4 and Var[s²] = 2σ⁴/(n − 1) = 8; 40000 draws give SE sqrt(8/40000).
    assert abs(variance.mean() - 4.0) < 4 * math.sqrt(8 / variance.size)
    residual = (sim.real_estimate - sim.theta).ravel()
    assert abs(residual.std() - 2.0 / math.sqrt(5)) < 0.02


def test_drift_bias_is_linear_in_task_time():
    model = SimulationModel("drift", tau=0.0, bias=0.1, drift=0.08, beta_a=50, beta_b=50)
    sim = simulate_tasks(model, 3, 8, seed=_rng(6))
    bias = sim.synth_theta - sim.theta
    expected = 0.1 - 0.08 * np.arange(8, -1, -1) / 8
    np.testing.assert_allclose(bias, np.broadcast_to(expected, bias.shape), atol=1e-12)


def test_attribute_model_current_task_has_attribute_one_and_shifted_bias():
    model = SimulationModel("attribute", tau=0.0, bias=0.0, shift=0.2, share=0.3)
    sim = simulate_tasks(model, 4000, 10, seed=_rng(7))
    assert sim.attribute is not None
    assert (sim.attribute[:, -1] == 1).all()
    share = sim.attribute[:, :-1].mean()
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 40000)
    inside = (sim.theta + 0.2 * sim.attribute < 1.0) & (sim.theta > 0)
    np.testing.assert_allclose(
        (sim.synth_theta - sim.theta)[inside], 0.2 * sim.attribute[inside], atol=1e-12
    )


def test_unequal_n_sizes_run_geometrically_from_n_min_to_n():
    model = SimulationModel("unequal-n", n=1000, n_min=10)
    sizes = model.real_sizes(3)
    np.testing.assert_array_equal(sizes, [10, 100, 1000, 1000])
    sim = simulate_tasks(model, 2, 3, seed=_rng(8))
    counts = sim.real_estimate * sizes
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)


def test_heavy_tail_bias_has_sd_tau():
    model = SimulationModel("heavy-tail", tau=0.1, bias=0.0, df=5.0)
    sim = simulate_tasks(model, 20000, 4, seed=_rng(9))
    bias = (sim.synth_theta - sim.theta).ravel()
    # t_5 scaled to SD 0.1: E|X| = 0.1 · sqrt(3/5) · 2·sqrt(5)Γ(3)/(sqrt(π)·4·Γ(5/2)).
    expected = 0.1 * math.sqrt(3 / 5) * 2 * math.sqrt(5) * 2 / (math.sqrt(math.pi) * 4 * 1.32934)
    assert abs(np.abs(bias).mean() - expected) < 0.002


@pytest.mark.parametrize("name", MODELS)
def test_every_model_runs_and_is_reproducible(name):
    first = simulate_tasks(name, 5, 12, seed=_rng(10))
    second = simulate_tasks(name, 5, 12, seed=_rng(10))
    for field in ("theta", "synth_theta", "real_estimate", "real_se", "synth_estimate"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert np.isfinite(first.gap_se).all()


# --- model validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "poisson"}, "model must be one of"),
        ({"n": 1}, "n must be an integer of at least 2"),
        ({"synthetic_n": 2.5}, "synthetic_n must be an integer"),
        ({"tau": -0.1}, "tau must be non-negative"),
        ({"df": 2.0}, "df must be a finite number above 2"),
        ({"share": 1.5}, r"share must lie in \[0, 1\]"),
        ({"name": "unequal-n", "n": 50, "n_min": 100}, "n_min"),
        ({"bias": math.nan}, "bias must be a finite number"),
    ],
)
def test_model_errors(params, message):
    with pytest.raises(ValueError, match=message):
        SimulationModel(**params)


def test_parse_overrides_and_rejects_unknown_parameters():
    model = SimulationModel.parse("drift", drift=0.3, tau=None)
    assert (model.name, model.drift, model.tau) == ("drift", 0.3, 0.10)
    assert SimulationModel.parse(model, n=50).n == 50
    with pytest.raises(ValueError, match="unknown model parameters"):
        SimulationModel.parse("bernoulli", slope=1.0)


# --- weights -------------------------------------------------------------------------


def test_recency_and_attribute_weights():
    sim = simulate_tasks("attribute", 3, 4, seed=_rng(11))
    recency = study_weights(sim, decay=0.5)
    np.testing.assert_allclose(recency, [0.0625, 0.125, 0.25, 0.5])  # 0.5 ** (5 - t)
    by_attribute = study_weights(sim, attribute_weight=0.2)
    expected = np.where(sim.attribute[:, :-1] == 1, 1.0, 0.2)
    np.testing.assert_array_equal(by_attribute, expected)
    np.testing.assert_allclose(
        study_weights(sim, decay=0.5, attribute_weight=0.2), expected * recency
    )
    np.testing.assert_array_equal(study_weights(sim, uniform=True), np.ones(4))
    assert study_weights(sim) is None


@pytest.mark.parametrize("decay", [1.0, 0.99, 0.95, 0.5, 0.3, 1e-3])
def test_recency_weights_are_the_powers_of_decay_bit_for_bit(decay):
    sim = simulate_tasks("drift", 2, 250, seed=_rng(13))
    age = (sim.time[-1] - sim.time[:-1]).astype(float)
    weights = study_weights(sim, decay=decay)
    assert weights.dtype == np.float64
    assert weights.tobytes() == (decay**age).tobytes()


def test_weight_errors():
    sim = simulate_tasks("bernoulli", 2, 3, seed=_rng(12))
    with pytest.raises(ValueError, match="decay must lie in"):
        study_weights(sim, decay=0.0)
    with pytest.raises(ValueError, match="attribute weights need a task attribute"):
        study_weights(sim, attribute_weight=0.5)


def test_weighted_needs_weights_and_uniform_weights_equal_exchangeable():
    with pytest.raises(ValueError, match="method 'weighted' needs task weights"):
        coverage_study(reps=10, tasks=30, methods=["weighted"], seed=1)
    result = coverage_study(
        reps=300, tasks=30, methods=["exchangeable", "weighted"], uniform_weights=True, seed=1
    )
    rows = result.summary_frame.set_index("method")
    for column in ("coverage", "mean_width", "w1", "w2", "w3"):
        assert rows.loc["weighted", column] == rows.loc["exchangeable", column]


# --- coverage study ------------------------------------------------------------------


def test_study_summary_columns_and_consistency_with_per_rep_rows():
    result = coverage_study(
        reps=250, tasks=40, alphas=[0.1, 0.2], allocation="abs:0.005,0.005", seed=3, per_rep=True
    )
    assert tuple(result.summary_frame.columns) == STUDY_COLUMNS
    assert tuple(result.per_rep.columns) == STUDY_REP_COLUMNS
    assert len(result.per_rep) == 250 * 4 * 2
    for row in result.summary_frame.itertuples(index=False):
        rows = result.per_rep[(result.per_rep["method"] == row.method)]
        rows = rows[rows["alpha"] == row.alpha]
        assert row.coverage == rows["covered"].mean()
        assert row.coverage_mcse == pytest.approx(
            math.sqrt(row.coverage * (1 - row.coverage) / 250)
        )
        assert row.mean_width == pytest.approx(rows["width"].mean())
        assert row.median_width == pytest.approx(rows["width"].median())
        assert row.w3 == pytest.approx(rows["w3"].mean())
        assert (row.reps, row.tasks) == (250, 40)


def test_study_scores_each_method_against_its_own_target():
    result = coverage_study(reps=50, tasks=30, seed=4, per_rep=True)
    sim = simulate_tasks(
        "bernoulli", 50, 30, seed=np.random.default_rng(np.random.SeedSequence(4).spawn(1)[0])
    )
    frame = result.per_rep
    finite = frame[frame["method"] == "finite-sample"]
    exchangeable = frame[frame["method"] == "exchangeable"]
    np.testing.assert_array_equal(finite["truth"], sim.real_estimate[:, -1])
    np.testing.assert_array_equal(exchangeable["truth"], sim.theta[:, -1])
    cal = calibrate("exchangeable", sim.target(), sim.history(), 0.1)
    np.testing.assert_array_equal(exchangeable["lower"], cal.lower)
    np.testing.assert_array_equal(exchangeable["upper"], cal.upper)


def test_seeded_study_is_reproducible_bit_for_bit_across_blocks():
    reps = block_size(200) * 2 + 7  # three blocks, the last one partial
    first = coverage_study(reps=reps, tasks=200, seed=11, per_rep=True)
    second = coverage_study(reps=reps, tasks=200, seed=11, per_rep=True)
    pd.testing.assert_frame_equal(first.summary_frame, second.summary_frame)
    pd.testing.assert_frame_equal(first.per_rep, second.per_rep)
    other = coverage_study(reps=reps, tasks=200, seed=12)
    assert not first.summary_frame["mean_width"].equals(other.summary_frame["mean_width"])


def test_full_blocks_do_not_depend_on_the_number_of_replications():
    size = block_size(300)
    short = coverage_study(reps=size, tasks=300, seed=5, per_rep=True).per_rep
    long = coverage_study(reps=2 * size, tasks=300, seed=5, per_rep=True).per_rep
    pd.testing.assert_frame_equal(
        short.reset_index(drop=True),
        long[long["rep"] < size].reset_index(drop=True),
    )


def test_unseeded_study_records_a_seed_that_reproduces_it():
    first = coverage_study(reps=40, tasks=25)
    again = coverage_study(reps=40, tasks=25, seed=first.seed)
    pd.testing.assert_frame_equal(first.summary_frame, again.summary_frame)


def test_progress_callback_counts_every_replication():
    done = []
    reps = block_size(500) + 3
    coverage_study(reps=reps, tasks=500, methods=["finite-sample"], seed=1, progress=done.append)
    assert sum(done) == reps
    assert len(done) == 2


def test_bounds_clip_final_intervals():
    result = coverage_study(reps=200, tasks=40, bounds=(0, 1), seed=6, per_rep=True)
    frame = result.per_rep
    assert frame["lower"].min() >= 0.0
    assert frame["upper"].max() <= 1.0
    assert (frame["lower"] == 0.0).any()


def test_infeasible_band_gives_infinite_width_not_a_silent_number():
    # T = 10 at alpha3 = 0.07 needs 28 history tasks.
    result = coverage_study(reps=20, tasks=10, methods=["exchangeable"], seed=1, per_rep=True)
    assert not result.per_rep["feasible"].any()
    assert np.isinf(result.per_rep["width"]).all()
    # infinite intervals are counted, not summarized as covering: no finite one to summarize
    row = result.summary_frame.iloc[0]
    assert (row["finite"], row["infinite"]) == (0, 20)
    assert math.isnan(row["coverage"]) and math.isnan(row["mean_width"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reps": 0}, "reps must be an integer of at least 1"),
        ({"tasks": 0}, "tasks must be an integer of at least 1"),
        ({"methods": ["alg1"]}, "method must be one of"),
        ({"methods": []}, "at least one method"),
        ({"alphas": [1.5]}, "alpha must lie strictly between 0 and 1"),
        ({"allocation": "abs:0.05,0.05"}, "leaves nothing for alpha3"),
        ({"bounds": (1, 0)}, "bounds must be LO,HI"),
    ],
)
def test_study_errors(kwargs, message):
    options = {"reps": 10, "tasks": 30, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        coverage_study(**options)


def test_str_names_the_study():
    text = str(coverage_study(reps=20, tasks=30, seed=1))
    assert "model bernoulli, R = 20, T = 30" in text


# --- command line --------------------------------------------------------------------


@pytest.fixture
def app() -> typer.Typer:
    return synthinfer_app


def test_cli_simulate_csv_matches_the_library(app):
    runner = CliRunner()
    args = ["simulate", "--tasks", "40", "--reps", "300", "--seed", "9", "--alpha", "0.1,0.15"]
    result = runner.invoke(app, [*args, "--allocation", "abs:0.005,0.005", "--format", "csv"])
    assert result.exit_code == 0, result.output
    from io import StringIO

    frame = pd.read_csv(StringIO(result.stdout))
    expected = coverage_study(
        reps=300, tasks=40, alphas=[0.1, 0.15], allocation="abs:0.005,0.005", seed=9
    ).summary_frame
    assert list(frame.columns) == list(STUDY_COLUMNS)
    np.testing.assert_allclose(frame["coverage"], expected["coverage"])
    np.testing.assert_allclose(frame["mean_width"], expected["mean_width"], rtol=1e-12)


def test_cli_simulate_per_rep_file_and_model_options(app, tmp_path):
    runner = CliRunner()
    per_rep = tmp_path / "reps.csv"
    summary = tmp_path / "summary.csv"
    result = runner.invoke(
        app,
        [
            "simulate", "--model", "drift", "--drift", "0.3", "--tasks", "60", "--reps", "50",
            "--method", "exchangeable", "-m", "weighted", "--decay", "0.95", "--seed", "2",
            "--per-rep", str(per_rep), "--out", str(summary),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(per_rep)
    assert len(rows) == 100
    assert set(rows["method"]) == {"exchangeable", "weighted"}
    expected = coverage_study(
        SimulationModel("drift", drift=0.3), reps=50, tasks=60,
        methods=["exchangeable", "weighted"], decay=0.95, seed=2,
    ).summary_frame  # fmt: skip
    np.testing.assert_allclose(pd.read_csv(summary)["mean_width"], expected["mean_width"])


def test_cli_simulate_table_and_json(app):
    runner = CliRunner()
    table = runner.invoke(app, ["simulate", "--tasks", "30", "--reps", "20", "--seed", "1"])
    assert table.exit_code == 0, table.output
    assert "model bernoulli: R = 20, T = 30" in table.stdout
    assert "coverage_mcse" in table.stdout
    as_json = runner.invoke(
        app, ["simulate", "--tasks", "10", "--reps", "5", "-m", "exchangeable", "-f", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert '"infinite": 5' in as_json.stdout and '"mean_width": null' in as_json.stdout


def test_cli_simulate_errors_are_one_line(app):
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--method", "weighted", "--reps", "5"])
    assert result.exit_code == 2
    assert "error: method 'weighted' needs task weights" in result.output
    result = runner.invoke(app, ["simulate", "--bounds", "0", "--reps", "5"])
    assert result.exit_code == 2
    assert "--bounds takes two numbers" in result.output


def test_results_do_not_depend_on_the_number_of_threads():
    reps = block_size(150) * 3 + 11
    one = coverage_study(reps=reps, tasks=150, seed=21, per_rep=True, workers=1)
    two = coverage_study(reps=reps, tasks=150, seed=21, per_rep=True, workers=2)
    pd.testing.assert_frame_equal(one.summary_frame, two.summary_frame)
    pd.testing.assert_frame_equal(one.per_rep, two.per_rep)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        coverage_study(reps=5, tasks=30, workers=0)


# --- group-conditional subsets ------------------------------------------------------


def test_group_subsets_keep_same_group_history_and_target():
    groups = np.array([[0, 1, 0, 1, 0], [1, 1, 0, 1, 1], [0, 1, 1, 1, 0]])
    values = np.arange(15.0).reshape(3, 5)
    seen = {}
    for reps, subset in group_subsets({"v": values}, groups):
        for row, rep in enumerate(reps):
            seen[int(rep)] = subset["v"][row].tolist()
    # Same-group history in its original order, then the target.
    assert seen == {0: [0.0, 2.0, 4.0], 1: [5.0, 6.0, 8.0, 9.0], 2: [10.0, 14.0]}
