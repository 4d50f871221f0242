"""The conformal core against its definitions, in exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from synthinfer.allocation import Allocation
from synthinfer.conformal import (
    conformal_lower,
    conformal_ranks,
    conformal_upper,
    effective_sample_size,
    min_history,
    weighted_lower,
    weighted_upper,
)


def _allocation_levels() -> list[float]:
    """Budgets alpha3 (and alpha3 / D) produced by the allocations used in the paper."""
    levels = set()
    for alpha in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        for spec in ("prop:0.1,0.2,0.7", "prop:0.05,0.10,0.85", "abs:0.005,0.005"):
            budgets = Allocation.parse(spec).split(alpha)
            levels.add(budgets[2])
            # per coordinate (D = 2), as Algorithm 3 does before splitting
            levels.add(Allocation.parse(spec).split(alpha / 2)[2])
    levels.update({0.1 * 0.7, 0.05 * 0.85 / 2, 0.2 * 0.85 / 2, 0.15 * 0.7})
    return sorted(levels)


LEVELS = [i / 1000 for i in range(1, 1000)] + _allocation_levels()


def exact_ranks(n_history: int, level: float) -> tuple[int, int]:
    """k_L = floor((T+1)a/2), k_U = ceil((T+1)(1-a/2)) with ``a`` the decimal level exactly.

    The decimal level is the float written with 12 significant digits, so that the
    product ``0.1 * 0.7`` (0.06999999999999999 in floating point) means 0.07.
    """
    a = Fraction(f"{level:.12g}")
    n_plus_one = n_history + 1
    return math.floor(n_plus_one * a / 2), math.ceil(n_plus_one * (1 - a / 2))


def test_conformal_ranks_match_exact_definition():
    mismatches = []
    for level in LEVELS:
        for n_history in range(201):
            got = conformal_ranks(n_history, level)
            if got != exact_ranks(n_history, level):
                mismatches.append((n_history, level, got, exact_ranks(n_history, level)))
    assert mismatches == []


def test_conformal_ranks_examples_by_hand():
    # T = 19, a = 0.1: (T+1)a/2 = 1 exactly (rounds to 0.99999... in floats), k_U = ceil(19) = 19
    assert conformal_ranks(19, 0.1) == (1, 19)
    # T = 18: 19 * 0.05 = 0.95 -> k_L = 0 (lower end -inf), k_U = ceil(18.05) = 19 > T
    assert conformal_ranks(18, 0.1) == (0, 19)
    # 0.1 * 0.7 = 0.06999999999999999 in floats; T = 199 gives 200 * 0.035 = 7 exactly
    # and 200 * (1 - 0.035) = 193 exactly
    assert conformal_ranks(199, 0.1 * 0.7) == (7, 193)
    assert conformal_ranks(199, 0.07) == (7, 193)
    assert conformal_ranks(0, 0.5) == (0, 1)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_conformal_ranks_reject_bad_levels(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        conformal_ranks(10, bad)


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_conformal_ranks_reject_bad_history(bad):
    with pytest.raises(ValueError, match="n_history must be a non-negative integer"):
        conformal_ranks(bad, 0.1)


def brute_force_min_history(level: float) -> int:
    n_history = 0
    while exact_ranks(n_history, level)[0] < 1:
        n_history += 1
    return n_history


def test_min_history_is_smallest_feasible_history():
    for level in LEVELS:
        needed = min_history(level)
        assert needed == brute_force_min_history(level), level
        k_lower, k_upper = conformal_ranks(needed, level)
        assert k_lower >= 1 and k_upper <= needed
        if needed > 0:
            assert conformal_ranks(needed - 1, level)[0] < 1


def test_min_history_known_values():
    # 2/a - 1: a = 0.1 -> 19; a = 0.07 -> 27.57 -> 28; a = 0.0425 -> 46.06 -> 47
    assert min_history(0.1) == 19
    assert min_history(0.07) == 28
    assert min_history(0.0425) == 47


def kth_by_sorting(values: np.ndarray, rank: int) -> np.ndarray:
    return np.sort(values, axis=-1)[..., rank - 1]


@pytest.mark.parametrize("n_history", [1, 2, 5, 19, 20, 39, 40, 57])
@pytest.mark.parametrize("level", [0.05, 0.1, 0.2, 0.5, 0.07, 0.02125])
def test_conformal_lower_upper_equal_sorted_order_statistics(n_history, level):
    rng = np.random.default_rng(n_history)
    # integers give many ties; three leading rows are vectorized replications
    values = rng.integers(-3, 4, size=(3, n_history)).astype(float)
    k_lower, k_upper = exact_ranks(n_history, level)
    lower = conformal_lower(values, level)
    upper = conformal_upper(values, level)
    assert lower.shape == upper.shape == (3,)
    if k_lower < 1:
        assert np.all(lower == -np.inf)
    else:
        np.testing.assert_array_equal(lower, kth_by_sorting(values, k_lower))
    if k_upper > n_history:
        assert np.all(upper == np.inf)
    else:
        np.testing.assert_array_equal(upper, kth_by_sorting(values, k_upper))
    # each row alone gives the same answer as the vectorized call
    for row in range(3):
        assert conformal_lower(values[row], level) == lower[row]
        assert conformal_upper(values[row], level) == upper[row]


def test_conformal_quantiles_by_hand():
    values = np.array([0.3, -0.1, 0.2, 0.2, 0.5, 0.0, 0.1, 0.4, -0.2, 0.6])
    # T = 10, a = 0.5: k_L = floor(11 * 0.25) = 2, k_U = ceil(11 * 0.75) = 9
    # sorted: -0.2, -0.1, 0.0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6
    assert conformal_lower(values, 0.5) == -0.1
    assert conformal_upper(values, 0.5) == 0.5
    # a = 0.1: k_L = floor(0.55) = 0 -> -inf, k_U = ceil(10.45) = 11 > 10 -> +inf
    assert conformal_lower(values, 0.1) == -np.inf
    assert conformal_upper(values, 0.1) == np.inf


def test_conformal_quantiles_infinite_for_empty_history():
    assert conformal_lower(np.empty((4, 0)), 0.5).tolist() == [-np.inf] * 4
    assert conformal_upper(np.empty((4, 0)), 0.5).tolist() == [np.inf] * 4


@pytest.mark.parametrize("n_history", [*range(60), 99, 100, 150])
def test_weighted_with_unit_weights_equals_unweighted_exactly(n_history):
    rng = np.random.default_rng(100 + n_history)
    values = rng.integers(-5, 6, size=(4, n_history)).astype(float)
    values[1] = rng.normal(size=n_history)
    ones = np.ones(n_history)
    for level in [0.01, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.9, 0.0425, 0.02125]:
        np.testing.assert_array_equal(
            weighted_upper(values, ones, level), conformal_upper(values, level)
        )
        np.testing.assert_array_equal(
            weighted_lower(values, ones, level), conformal_lower(values, level)
        )


def brute_force_weighted_upper(values, weights, level) -> float:
    """PAPER.md Algorithm 2: the smallest value whose weighted CDF reaches 1 − a/2.

    Mass w_j / (Σw + 1) on v_j and 1 / (Σw + 1) on +inf, computed with exact fractions.
    """
    total = sum(Fraction(w) for w in weights) + 1
    target = 1 - Fraction(f"{level:.12g}") / 2
    for candidate in sorted(set(values)):
        mass = sum(Fraction(w) for v, w in zip(values, weights, strict=True) if v <= candidate)
        if mass / total >= target:
            return candidate
    return math.inf


def brute_force_weighted_lower(values, weights, level) -> float:
    """The mirror image: the largest value whose weighted upper tail mass reaches 1 − a/2.

    Mass 1 / (Σw + 1) sits on −inf. This is the definition that gives the k_L-th
    smallest value with unit weights (Algorithm 2 "likewise", Algorithm 1 exactly).
    """
    total = sum(Fraction(w) for w in weights) + 1
    target = 1 - Fraction(f"{level:.12g}") / 2
    for candidate in sorted(set(values), reverse=True):
        mass = sum(Fraction(w) for v, w in zip(values, weights, strict=True) if v >= candidate)
        if mass / total >= target:
            return candidate
    return -math.inf


@pytest.mark.parametrize("seed", range(40))
def test_weighted_quantiles_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_history = int(rng.integers(1, 40))
    values = rng.integers(-4, 5, size=n_history).astype(float)
    if seed % 2:
        values = rng.normal(size=n_history)
    weights = rng.uniform(0, 1, size=n_history)
    weights[rng.uniform(size=n_history) < 0.1] = 0.0
    for level in (0.05, 0.1, 0.2, 0.35, 0.5, 0.8):
        assert weighted_upper(values, weights, level) == brute_force_weighted_upper(
            values.tolist(), weights.tolist(), level
        )
        assert weighted_lower(values, weights, level) == brute_force_weighted_lower(
            values.tolist(), weights.tolist(), level
        )


def test_weighted_quantiles_vectorize_over_rows():
    rng = np.random.default_rng(7)
    values = rng.normal(size=(5, 30))
    weights = rng.uniform(size=(5, 30))
    upper = weighted_upper(values, weights, 0.2)
    lower = weighted_lower(values, weights, 0.2)
    assert upper.shape == lower.shape == (5,)
    for row in range(5):
        assert upper[row] == brute_force_weighted_upper(values[row], weights[row], 0.2)
        assert lower[row] == brute_force_weighted_lower(values[row], weights[row], 0.2)


def test_weighted_quantiles_infinite_when_mass_falls_short():
    values = np.arange(30.0)
    # Σw = 3, mass at +inf = 1/4 > a/2 = 0.1 -> infinite band
    weights = np.full(30, 0.1)
    assert weighted_upper(values, weights, 0.2) == np.inf
    assert weighted_lower(values, weights, 0.2) == -np.inf
    # zero weights everywhere: all mass on the current task
    assert weighted_upper(values, np.zeros(30), 0.5) == np.inf


def test_weighted_zero_weight_tasks_do_not_count():
    values = np.array([0.0, 1.0, 2.0, 3.0, 100.0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    # mass 1/5 each on 0..3, 1/5 at +inf: the 0.6 quantile (a = 0.8) is 2.0;
    # the outlier 100 with weight 0 is ignored
    assert weighted_upper(values, weights, 0.8) == 2.0


@pytest.mark.parametrize("bad", [[-0.1, 0.5], [0.5, 1.5], [np.nan, 0.5], [np.inf, 0.5]])
def test_weighted_rejects_bad_weights(bad):
    with pytest.raises(ValueError, match=r"task weights must be finite numbers in \[0, 1\]"):
        weighted_upper([1.0, 2.0], bad, 0.2)


def test_effective_sample_size():
    assert effective_sample_size(np.ones(10)) == 10.0
    # (0.5 + 1)^2 / (0.25 + 1) = 2.25 / 1.25 = 1.8
    assert effective_sample_size([0.5, 1.0]) == pytest.approx(1.8, abs=1e-15)
    assert effective_sample_size(np.zeros(3)) == 0.0
    rows = effective_sample_size(np.array([[1.0, 1.0, 0.0], [0.2, 0.2, 0.2]]))
    np.testing.assert_allclose(rows, [2.0, 3.0], rtol=1e-14)
    rng = np.random.default_rng(3)
    weights = rng.uniform(size=(4, 25))
    expected = weights.sum(axis=1) ** 2 / (weights**2).sum(axis=1)
    np.testing.assert_allclose(effective_sample_size(weights), expected, rtol=1e-14)
