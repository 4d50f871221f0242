"""Drift weights for Algorithm 2 and the Barber et al. bound terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.weights import barber_bound_terms, kernel_weights, recency_weights


def test_kernel_weights_gaussian_and_categorical():
    history = pd.DataFrame({"time": [0.0, 1.0, 2.0, 3.0], "role": ["co", "opp", "co", "opp"]})
    target = {"time": 3.0, "role": "opp"}
    weights = kernel_weights(history, target, columns="time,role", bandwidth=1.0, mismatch=0.25)
    sd = np.std([0.0, 1.0, 2.0, 3.0])
    expected = np.exp(-(((np.array([0, 1, 2, 3]) - 3) / sd) ** 2) / 2) * np.array(
        [0.75, 1, 0.75, 1]
    )
    np.testing.assert_allclose(weights, expected)
    assert weights[-1] == 1.0
    assert np.all((weights >= 0) & (weights <= 1))


def test_kernel_weights_exact_match_only():
    history = pd.DataFrame({"role": ["co", "opp", "co"]})
    np.testing.assert_array_equal(
        kernel_weights(history, {"role": "co"}, columns=["role"], mismatch=1.0), [1, 0, 1]
    )


def test_kernel_weights_errors():
    history = pd.DataFrame({"time": [0.0, 1.0]})
    with pytest.raises(ValueError, match=r"\['age'\]"):
        kernel_weights(history, {"time": 1.0}, columns="age")
    with pytest.raises(ValueError, match="bandwidth"):
        kernel_weights(history, {"time": 1.0}, columns="time", bandwidth=0.0)
    with pytest.raises(ValueError, match="mismatch"):
        kernel_weights(history, {"time": 1.0}, columns="time", mismatch=2.0)


def test_recency_weights():
    np.testing.assert_allclose(recency_weights([0, 1, 2], 0.5), [1, 0.5, 0.25])
    with pytest.raises(ValueError, match="decay"):
        recency_weights([1], 0.0)
    with pytest.raises(ValueError, match="ages"):
        recency_weights([-1], 0.5)


def test_barber_bound_terms_exact():
    bound = barber_bound_terms([1.0, 0.5, 0.0], tv_bounds=[0.0, 0.2, 1.0])
    np.testing.assert_allclose(bound.p, [1 / 2.5, 0.5 / 2.5, 0.0])
    assert bound.p_target == pytest.approx(1 / 2.5)
    assert bound.sum_p == pytest.approx(1.5 / 2.5)
    assert bound.coverage_gap == pytest.approx(2 * (0.5 / 2.5) * 0.2)
    assert bound.max_gap == pytest.approx(2 * 1.5 / 2.5)
    assert bound.coverage_lower_bound(0.1) == pytest.approx(0.9 - 0.08)
    assert barber_bound_terms([1.0] * 9).coverage_lower_bound(0.1) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        barber_bound_terms([1.5])
    with pytest.raises(ValueError, match="total-variation"):
        barber_bound_terms([1.0], tv_bounds=2.0)


@pytest.mark.slow
def test_kernel_weighted_intervals_cover_under_attribute_drift():
    """Bias drifts smoothly in a task attribute: kernel weights keep coverage, unlike none."""
    rng = np.random.default_rng(5)
    reps, n_history, alpha = 2000, 200, 0.2
    x = rng.uniform(0, 1, size=(reps, n_history + 1))
    x[:, -1] = 1.0  # the target sits at the edge of the attribute range
    gaps = 0.6 * x + rng.normal(0, 0.03, size=x.shape)
    se = np.full_like(x, 0.005)
    # kernel_weights on every replication at once: the same Gaussian kernel, bandwidth 0.1 sd
    weights = np.exp(-(((x[:, :-1] - 1.0) / x[:, :-1].std(axis=1, keepdims=True)) ** 2) / 0.02)
    first = kernel_weights(pd.DataFrame({"x": x[0, :-1]}), {"x": 1.0}, columns="x", bandwidth=0.1)
    np.testing.assert_allclose(weights[0], first)
    target = WaldInterval(np.zeros(reps), np.full(reps, 0.001))
    gap = WaldInterval(gaps[:, :-1], se[:, :-1])
    weighted = calibrate("weighted", target, History(gap=gap, weights=weights), alpha)
    plain = calibrate("exchangeable", target, History(gap=gap), alpha)
    truth = gaps[:, -1]
    tol = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    covered = (weighted.lower <= truth) & (truth <= weighted.upper)
    assert covered.mean() >= 1 - alpha - tol
    assert np.mean((plain.lower <= truth) & (truth <= plain.upper)) < 1 - alpha - tol
