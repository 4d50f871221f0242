"""``plan_labels``: labels needed for a width, from a history's labelled pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from synthinfer.methods import hybrid_ppi_share
from synthinfer.plan import expected_normal_order_statistic
from synthinfer.plan_labels import LabelModel, LabelPlan, label_widths, plan_labels

TAU, SIGMA_LABEL, SIGMA_SYNTH = 0.1, 0.4, 0.5


def unit_table(n_history=40, pairs=200, synthetic=400, seed=0) -> pd.DataFrame:
    """History tasks with ``pairs`` labelled units of ``synthetic``; one target without labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_history + 1):
        gap = rng.normal(0.05, TAU)
        synth = rng.normal(0.5, SIGMA_SYNTH, synthetic)
        task = f"t{j:02d}" if j < n_history else "target"
        rows.append(
            pd.DataFrame(
                {"task": task, "source": "synthetic", "value": synth, "unit": np.arange(synthetic)}
            )
        )
        if j < n_history:
            real = synth[:pairs] + gap + rng.normal(0, SIGMA_LABEL, pairs)
            rows.append(
                pd.DataFrame(
                    {"task": task, "source": "real", "value": real, "unit": np.arange(pairs)}
                )
            )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def plan() -> LabelPlan:
    return plan_labels(unit_table(), width=0.3, alpha=0.1)


def test_the_model_is_estimated_from_the_pairs(plan):
    assert plan.n_history == 40 and plan.n_pairs == 200 and plan.max_m == 200
    assert plan.n_synth == 400
    # 40 tasks × 199 degrees of freedom: the pooled SDs are within a few percent
    assert plan.sigma_label == pytest.approx(SIGMA_LABEL, rel=0.03)
    assert plan.sigma_synth == pytest.approx(SIGMA_SYNTH, rel=0.03)
    # τ from 40 gaps: its SE is about τ/sqrt(2·39) plus the noise of the gaps
    assert plan.tau == pytest.approx(TAU, abs=0.04)


def test_answers_are_the_smallest_m_reaching_the_width(plan):
    model = LabelModel(
        plan.n_history,
        plan.n_pairs,
        plan.max_m,
        plan.n_synth,
        plan.tau,
        plan.sigma_label,
        plan.sigma_synth,
    )
    for column, m in (("ppi_width", plan.m_ppi), ("hybrid_width", plan.m_hybrid)):
        assert m is not None and m >= 2
        around = label_widths(model, np.array([m - 1, m]), alpha=0.1)[column].to_numpy()
        assert around[1] <= 0.3 < around[0]
    assert {plan.m_ppi, plan.m_hybrid} <= set(plan.table["m"])
    assert "labelled pairs" in plan.summary() and str(plan) == plan.summary()
    assert plan.to_frame().columns.tolist()[:3] == ["m", "ppi_width", "hybrid_width"]


def test_ppi_and_no_label_widths_match_their_formulas():
    model = LabelModel(100, 2000.0, 2000, 2000.0, TAU, SIGMA_LABEL, SIGMA_SYNTH)
    table = label_widths(model, np.array([0, 1, 10]), alpha=0.1)
    assert np.isinf(table["ppi_width"][0]) and np.isinf(table["ppi_width"][1])
    se = math.sqrt(SIGMA_SYNTH**2 / 2000 + SIGMA_LABEL**2 / 10)
    assert table["ppi_width"][2] == pytest.approx(2 * stats.t.isf(0.05, 8) * se)
    # m = 0: Algorithm 1's expected width with residual SD sqrt(τ² + σ²/n), prop 0.1,0.2,0.7
    w1 = 2 * stats.norm.isf(0.01 / 2) * SIGMA_SYNTH / math.sqrt(2000)
    w2 = 2 * stats.norm.isf(0.02 / 2) * SIGMA_LABEL / math.sqrt(2000)
    spread = expected_normal_order_statistic(98, 100) - expected_normal_order_statistic(3, 100)
    w3 = math.sqrt(TAU**2 + SIGMA_LABEL**2 / 2000) * spread
    assert table["hybrid_width"][0] == pytest.approx(w1 + w2 + w3)
    assert table["shrinkage"][0] == 0.0
    assert table["shrinkage"][2] == pytest.approx(TAU**2 / (TAU**2 + SIGMA_LABEL**2 / 10))


def test_predictions_track_the_simulated_widths():
    # docs/hybrid.md's table (paper model, T = 100, n = N = 2000): simulated mean widths
    simulated = {
        10: (0.492, 0.406),
        50: (0.194, 0.239),
        100: (0.138, 0.160),
        250: (0.091, 0.100),
        1000: (0.056, 0.061),
    }
    model = LabelModel(100, 2000.0, 2000, 2000.0, TAU, SIGMA_LABEL, SIGMA_SYNTH)
    table = label_widths(model, np.array(list(simulated)), alpha=0.1).set_index("m")
    for m, (ppi, hybrid) in simulated.items():
        assert table.loc[m, "ppi_width"] == pytest.approx(ppi, rel=0.05)
        assert table.loc[m, "hybrid_width"] == pytest.approx(hybrid, rel=0.05)


def test_hybrid_predicts_with_the_methods_ppi_share():
    model = LabelModel(100, 2000.0, 2000, 2000.0, TAU, SIGMA_LABEL, SIGMA_SYNTH)
    grid = np.array([0, 2, 5, 100, 1000])
    table = label_widths(model, grid, alpha=0.1)
    expected = [hybrid_ppi_share(m, 100, 0.1) for m in grid]
    np.testing.assert_array_equal(table["ppi_share"], expected)
    assert table["ppi_share"][0] == 0.0 and table["ppi_share"][4] == pytest.approx(0.7171, abs=1e-4)
    # at m = 1000 the share is the cap: the width is the Student PPI interval at 0.1·(1 − cap)
    se = math.sqrt(SIGMA_SYNTH**2 / 2000 + SIGMA_LABEL**2 / 1000) * math.sqrt(998 / 1000)
    level = 0.1 * table["ppi_share"][4]
    ppi_at_share = 2 * stats.t.isf(level / 2, 998) * math.sqrt(1000 / 998) * se
    assert table["hybrid_width"][4] == pytest.approx(ppi_at_share)
    assert table["hybrid_width"][4] < table["hybrid_band_width"][4]


def test_hybrid_is_limited_to_the_history_pairs():
    model = LabelModel(100, 50.0, 50, 2000.0, TAU, SIGMA_LABEL, SIGMA_SYNTH)
    table = label_widths(model, np.array([0, 1, 2, 50, 51]), alpha=0.1)["hybrid_width"]
    assert np.isnan(table[1]) and np.isnan(table[4])  # one pair has no SE; 51 > 50 pairs
    assert np.all(np.isfinite(table[[0, 2, 3]]))


def test_unreachable_width_says_so():
    result = plan_labels(unit_table(), width=0.01, m_grid=[0, 10, 100])
    assert result.m_hybrid is None and result.m_ppi is None
    assert "not reached" in result.summary()
    assert result.table["m"].tolist() == [0, 10, 100]


def test_bad_inputs_are_refused():
    table = unit_table(n_history=5)
    with pytest.raises(ValueError, match="width must be a positive number"):
        plan_labels(table, width=0)
    summary = pd.DataFrame(
        {
            "task": ["a", "b", "c"],
            "synth_estimate": [0.1, 0.2, 0.3],
            "synth_se": [0.01, 0.01, 0.01],
            "gap_estimate": [0.0, 0.1, np.nan],
            "gap_se": [0.01, 0.01, np.nan],
        }
    )
    with pytest.raises(ValueError, match="unit-level table with labelled pairs"):
        plan_labels(summary, width=0.2)
    unpaired = table.drop(columns="unit")
    with pytest.raises(ValueError, match="at least 3 history tasks"):
        plan_labels(unpaired, width=0.2)


def test_cli_plan_labels_for_width(tmp_path):
    from synthinfer.cli import app

    path = tmp_path / "history.csv"
    unit_table().to_csv(path, index=False)
    result = CliRunner().invoke(app, ["plan", str(path), "--labels-for-width", "0.3"])
    assert result.exit_code == 0, result.output
    plan = plan_labels(path, width=0.3)
    assert f"hybrid: m = {plan.m_hybrid} labelled pairs" in result.output
    assert f"ppi: m = {plan.m_ppi} labelled pairs" in result.output
