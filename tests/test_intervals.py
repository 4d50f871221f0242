"""Interval families: Wald, Hoeffding, bootstrap percentile, exact order statistics."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
)
from synthinfer.intervals._families import order_statistic_ranks, sample_quantile


def test_wald_interval_formula():
    estimate = np.array([[0.2, 0.5, 0.9], [0.1, 0.0, -1.0]])
    se = np.array([[0.01, 0.0, 0.1], [1.0, 2.0, 0.5]])
    family = WaldInterval(estimate, se)
    for level in (0.01, 0.05, 0.1, 0.3):
        z = stats.norm.ppf(1 - level / 2)
        lower, upper = family.interval(level)
        np.testing.assert_allclose(lower, estimate - z * se, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(upper, estimate + z * se, rtol=1e-14, atol=1e-15)
    # z at 0.05 is 1.959963984540054
    assert family.interval(0.05)[1][1, 2] == pytest.approx(-1.0 + 0.5 * 1.959963984540054)
    # zero standard error: a degenerate interval at the estimate
    lower, upper = family.interval(0.05)
    assert lower[0, 1] == upper[0, 1] == 0.5


def test_wald_broadcasts_scalar_se():
    family = WaldInterval([0.0, 1.0], 0.5)
    assert family.se.shape == (2,)
    np.testing.assert_allclose(family.interval(0.1)[0], [-0.5 * 1.6448536269514722, 0.1775731865])


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 2.0])
def test_interval_levels_outside_unit_interval_fail(level):
    families = [
        WaldInterval([0.0], [1.0]),
        HoeffdingInterval([0.0], [1.0]),
        BootstrapInterval([0.0], [[0.0, 1.0, 2.0]]),
        OrderStatisticInterval((np.arange(10.0),), 0.5),
    ]
    for family in families:
        with pytest.raises(ValueError, match="interval level must lie strictly between 0 and 1"):
            family.interval(level)


def test_hoeffding_mean_formula():
    # half-width (b − a) · sqrt(log(2/α) / (2n)) for data in [a, b]
    n = np.array([10, 100, 1000])
    family = HoeffdingInterval.for_mean([0.5, 0.5, 0.5], n, (0.0, 1.0))
    for level in (0.05, 0.1, 0.2):
        half = np.sqrt(np.log(2 / level) / (2 * n))
        np.testing.assert_allclose(family.interval(level)[1] - 0.5, half, rtol=1e-14)
        np.testing.assert_allclose(0.5 - family.interval(level)[0], half, rtol=1e-14)
    wide = HoeffdingInterval.for_mean([50.0], [25], (0.0, 100.0))
    # 100 * sqrt(log(40) / 50) at α = 0.05
    assert wide.interval(0.05)[1][0] - 50 == pytest.approx(100 * math.sqrt(math.log(40) / 50))


def test_hoeffding_unpaired_gap_formula():
    # half-width sqrt(2 σ² log(2/α)) with σ² = (b − a)² (1/n + 1/m) / 4
    n, m, bounds = np.array([30.0, 200.0]), np.array([50.0, 400.0]), (-1.0, 3.0)
    family = HoeffdingInterval.for_unpaired_gap([0.1, -0.2], n, m, bounds)
    sigma2 = 16.0 * (1 / n + 1 / m) / 4
    for level in (0.05, 0.1):
        lower, upper = family.interval(level)
        half = np.sqrt(2 * sigma2 * np.log(2 / level))
        np.testing.assert_allclose(upper - np.array([0.1, -0.2]), half, rtol=1e-14)
        np.testing.assert_allclose(np.array([0.1, -0.2]) - lower, half, rtol=1e-14)


def test_hoeffding_paired_gap_formula():
    # differences lie in [−(b − a), b − a]: range 2(b − a), half-width 2(b − a) sqrt(log(2/α)/(2n))
    family = HoeffdingInterval.for_paired_gap([0.0, 0.3], [40, 90], (0.0, 1.0))
    half = 2 * np.sqrt(np.log(2 / 0.1) / (2 * np.array([40, 90])))
    lower, upper = family.interval(0.1)
    np.testing.assert_allclose(upper, np.array([0.0, 0.3]) + half, rtol=1e-14)
    np.testing.assert_allclose(lower, np.array([0.0, 0.3]) - half, rtol=1e-14)


def test_bootstrap_percentile_interval():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2, 3, 500))
    family = BootstrapInterval(draws.mean(axis=-1), draws)
    lower, upper = family.interval(0.1)
    np.testing.assert_array_equal(lower, np.quantile(draws, 0.05, axis=-1))
    np.testing.assert_array_equal(upper, np.quantile(draws, 0.95, axis=-1))
    np.testing.assert_allclose(family.se, draws.std(axis=-1, ddof=1))
    # by hand: 0..100, 5% and 95% percentiles (linear interpolation) are 5 and 95
    simple = BootstrapInterval([50.0], [np.arange(101.0)])
    assert simple.interval(0.1) == (pytest.approx([5.0]), pytest.approx([95.0]))


def test_bootstrap_draws_shape_checked():
    with pytest.raises(
        ValueError, match=r"bootstrap draws must have shape estimate.shape \+ \(B,\)"
    ):
        BootstrapInterval([0.0, 1.0], np.zeros((3, 10)))


def test_take_gathers_tasks_on_last_axis():
    estimate = np.arange(12.0).reshape(3, 4)
    se = np.arange(12.0).reshape(3, 4) / 10
    index = np.array([3, 0, 0])
    wald = WaldInterval(estimate, se).take(index)
    np.testing.assert_array_equal(wald.estimate, estimate[:, index])
    np.testing.assert_array_equal(
        wald.interval(0.1)[0], WaldInterval(estimate, se).interval(0.1)[0][:, index]
    )
    hoeffding = HoeffdingInterval(estimate, se).take([1])
    np.testing.assert_array_equal(hoeffding.scale, se[:, [1]])
    draws = np.arange(3 * 4 * 5.0).reshape(3, 4, 5)
    boot = BootstrapInterval(estimate, draws).take([2, 1])
    np.testing.assert_array_equal(boot.draws, draws[:, [2, 1], :])
    samples = (np.array([3.0, 1.0, 2.0]), np.array([5.0, 4.0]), np.array([9.0]))
    order = OrderStatisticInterval(samples, 0.5).take([2, 0])
    np.testing.assert_array_equal(order.estimate, [9.0, 2.0])
    with pytest.raises(ValueError, match="one-dimensional task index"):
        OrderStatisticInterval(samples, 0.5).take([[0, 1]])
    for family in (wald, hoeffding, boot, order):
        assert isinstance(family, IntervalFamily)


def exact_binom_cdf(n: int, q: Fraction) -> list[Fraction]:
    """[P(B <= k) for k = 0..n] for B ~ Binomial(n, q) in exact rational arithmetic."""
    cdf, total = [], Fraction(0)
    for i in range(n + 1):
        total += math.comb(n, i) * q**i * (1 - q) ** (n - i)
        cdf.append(total)
    return cdf


QUANTILES = ["0.1", "0.25", "0.5", "0.75", "0.9"]
LEVELS = ["0.05", "0.1", "0.2", "0.25", "0.5"]


@pytest.mark.parametrize("quantile", QUANTILES)
@pytest.mark.parametrize("level", LEVELS)
def test_order_statistic_ranks_match_binomial_definition(quantile, level):
    q, a = Fraction(quantile), Fraction(level)
    for n in range(1, 61):
        lower_rank, upper_rank = order_statistic_ranks(n, float(q), float(a))
        cdf = exact_binom_cdf(n, q)
        # l − 1 is the largest k with P(B <= k) <= a/2 (l = 0: none, lower end −inf)
        below = [k for k in range(n + 1) if cdf[k] <= a / 2]
        assert lower_rank == (below[-1] + 1 if below else 0), (n, quantile, level)
        # u − 1 is the smallest k with P(B <= k) >= 1 − a/2 (u = n + 1: upper end +inf)
        above = [k for k in range(n + 1) if cdf[k] >= 1 - a / 2]
        assert upper_rank == above[0] + 1, (n, quantile, level)
        # exact coverage P(l <= B <= u − 1) >= 1 − a, with B ranging over 0..n
        low = max(lower_rank, 0)
        high = min(upper_rank - 1, n)
        coverage = cdf[high] - (cdf[low - 1] if low >= 1 else 0)
        assert coverage >= 1 - a, (n, quantile, level)


def test_order_statistic_interval_infinite_when_n_too_small():
    # n = 3, q = 0.5, a = 0.1: P(B <= 0) = 1/8 > 0.05, so no lower rank (−inf);
    # P(B <= 2) = 7/8 < 0.95, so the upper rank is 4 > n (+inf)
    family = OrderStatisticInterval((np.array([1.0, 2.0, 3.0]),), 0.5)
    lower, upper = family.interval(0.1)
    assert lower[0] == -np.inf and upper[0] == np.inf
    assert family.estimate[0] == 2.0


def test_order_statistic_interval_by_hand():
    # n = 20, q = 0.5, a = 0.1: P(B <= 5) = 0.0207, P(B <= 6) = 0.0577 -> l = 6;
    # P(B <= 13) = 0.9423, P(B <= 14) = 0.9793 -> u = 15
    assert order_statistic_ranks(20, 0.5, 0.1) == (6, 15)
    sample = np.arange(20.0)[::-1] * 2  # unsorted; order statistics are 0, 2, ..., 38
    lower, upper = OrderStatisticInterval((sample,), 0.5).interval(0.1)
    assert lower[0] == 10.0  # X_(6)
    assert upper[0] == 28.0  # X_(15)


def test_sample_quantile_inverted_cdf():
    values = np.array([4.0, 1.0, 3.0, 2.0])
    # smallest value whose empirical CDF reaches q: q = 0.5 -> 2, q = 0.51 -> 3
    assert sample_quantile(values, 0.5) == 2.0
    assert sample_quantile(values, 0.51) == 3.0
    # weights 1, 1, 1, 5 on 1, 2, 3, 4: CDF 1/8, 2/8, 3/8, 1 -> the median is 4
    assert sample_quantile([1.0, 2.0, 3.0, 4.0], 0.5, weights=[1, 1, 1, 5]) == 4.0
    assert sample_quantile([1.0, 2.0, 3.0, 4.0], 0.375, weights=[1, 1, 1, 5]) == 3.0
