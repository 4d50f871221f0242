"""Seeded Monte Carlo coverage against exactly known coverage, checked on both sides.

A lower bound ``coverage >= 1 − α`` cannot notice a method that runs at the
wrong level when the method is conservative anyway. Here every case has a
coverage that is known exactly, from the paper's definitions (PAPER.md,
"Ingredients every algorithm uses", Algorithms 1, 2, 4 and 5) and the normal
distribution, and the Monte Carlo estimate over ``R`` replications must land
within ``K`` Monte Carlo standard errors of it on both sides:

    |ĉ − c| <= K · sqrt(c (1 − c) / R),  K = 4.

The reference values never call the library's conformal code: the ranks
``k_L = floor((T+1)·a/2)`` and ``k_U = ceil((T+1)·(1 − a/2))`` are computed
here in exact rational arithmetic from the decimal levels, and every case is
chosen so that ``(T+1)·a/2`` is not an integer (no floating-point rounding can
decide a rank). Every case is non-vacuous: all bands are finite and the exact
coverage lies strictly between 0 and 1.

The cases and where their exact coverage comes from:

* Wald interval, normal data with known SE: ``1 − a`` (``P(|Z| <= z_{1−a/2})``).
* Algorithm 1 (and 5, and 2 with unit weights) with continuous gaps and no
  per-task noise: ``(k_U − k_L) / (T+1)`` at ``a = α3``. The interval is
  ``[θ~ + Δ_(k_L), θ~ + Δ_(k_U)]``; with ``T + 1`` exchangeable continuous gaps,
  the number ``r`` of historical gaps below the current one is uniform on
  ``{0, …, T}``, and ``Δ_(k_L) <= Δ_{T+1} <= Δ_(k_U)`` exactly when
  ``k_L <= r <= k_U − 1``.
* Algorithm 4 with continuous observed gaps: the same count at ``a = α``,
  which lies in ``[1 − α, 1 − α + 2/(T+1))``.
* Algorithm 1 with one common gap and synthetic noise only: ``1 − α1`` (the
  band is the point ``δ``, so the interval covers exactly when the synthetic
  Wald interval at ``α1`` does).
* Algorithms 1, 5 and 2 (unit weights) with Gaussian gaps, Gaussian gap
  estimates and Gaussian synthetic estimates: a one-dimensional integral of a
  multinomial probability, evaluated by Gauss–Hermite quadrature (derivation in
  :func:`gaussian_coverage`).
* Algorithm 2 with two classes of fixed weights and no per-task noise: a
  hypergeometric sum (derivation in :func:`weighted_rank_coverage`).

``R = 40,000`` puts one Monte Carlo standard error near 0.0015 at coverage 0.9,
so a rank off by one (a change of ``1/(T+1) >= 0.02``), a conformal step at
``2·α3``, a one-sided Wald ``z`` and Algorithm 5 without its Bonferroni
correction each move some case by many standard errors
(``benchmarks/mutation_check.py`` runs those mutations).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import gammaln, ndtr, ndtri, xlogy

from synthinfer.allocation import Allocation
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate

pytestmark = pytest.mark.slow

R = 40_000
K = 4.0
GAP_METHODS = ("exchangeable", "task-only", "weighted")


# --- reference values


def budgets(alpha: str, spec: str) -> tuple[Fraction, Fraction, Fraction]:
    """``(α1, α2, α3)`` exactly, for a decimal ``alpha`` and an allocation spec."""
    kind, _, rest = spec.partition(":")
    values = [Fraction(v) for v in rest.split(",")]
    level = Fraction(alpha)
    if kind == "prop":
        total = sum(values)
        return tuple(level * v / total for v in values)  # type: ignore[return-value]
    return values[0], values[1], level - values[0] - values[1]


def exact_ranks(n_history: int, level: Fraction) -> tuple[int, int]:
    """PAPER.md: ``k_L = floor((T+1)·a/2)``, ``k_U = ceil((T+1)·(1 − a/2))``, exactly."""
    lower = (n_history + 1) * level / 2
    upper = (n_history + 1) * (1 - level / 2)
    # keep floating-point rounding out of the reference: neither position is an integer
    assert lower.denominator != 1 and upper.denominator != 1, (n_history, level)
    return math.floor(lower), math.ceil(upper)


def rank_coverage(n_history: int, level: Fraction) -> Fraction:
    """``P(k_L <= r <= k_U − 1)`` for ``r`` uniform on ``{0..T}``: ``(k_U − k_L)/(T+1)``."""
    k_lower, k_upper = exact_ranks(n_history, level)
    return Fraction(min(k_upper, n_history + 1) - max(k_lower, 0), n_history + 1)


def _multinomial_lower_cdf(
    n: int, a_max: int, b_max: int, p1: np.ndarray, p2: np.ndarray
) -> np.ndarray:
    """``P(A <= a_max, B <= b_max)`` for ``(A, B, n − A − B) ~ Multinomial(n; p1, p2, rest)``."""
    a = np.arange(n + 1)[:, None, None]
    b = np.arange(n + 1)[None, :, None]
    rest = n - a - b
    valid = (rest >= 0) & (a <= a_max) & (b <= b_max)
    rest = np.where(rest >= 0, rest, 0)
    p3 = np.clip(1.0 - p1 - p2, 0.0, 1.0)
    log_pmf = (
        gammaln(n + 1)
        - gammaln(a + 1)
        - gammaln(b + 1)
        - gammaln(rest + 1)
        + xlogy(a, p1)
        + xlogy(b, p2)
        + xlogy(rest, p3)
    )
    return np.where(valid, np.exp(log_pmf), 0.0).sum(axis=(0, 1))


def gaussian_coverage(
    n_history: int,
    ranks: tuple[int, int],
    z_synth: float,
    z_gap: float,
    synth_se: float,
    gap_se: float,
    gap_sd: float,
    nodes: int = 160,
) -> float:
    """Exact coverage of ``[L~ + Δ^L, U~ + Δ^U]`` in the Gaussian model (Algorithm 1).

    Model: gaps ``Δ_j ~ N(μ, τ²)`` i.i.d. over the ``T + 1`` tasks; historical gap
    estimates ``Δ̂_j = Δ_j + σ ε_j`` with intervals ``Δ̂_j ± z_gap σ``; the current
    synthetic estimate ``θ~ + e`` with ``e ~ N(0, s²)`` and interval
    ``θ~ + e ± z_synth s``; truth ``θ = θ~ + Δ_{T+1}``.

    With ``y = Δ_{T+1} − e ~ N(μ, τ² + s²)``, the interval covers exactly when
    ``Δ^L <= y + z_synth s`` and ``Δ^U >= y − z_synth s``. ``Δ^L`` (the ``k_L``-th
    smallest lower end) exceeds ``t`` iff more than ``T − k_L`` lower ends do, and
    ``Δ^U`` (the ``k_U``-th smallest upper end) falls below ``t'`` iff at least
    ``k_U`` upper ends do. Given ``y``, each historical task independently has its
    lower end above ``y + z_synth s`` (probability ``p1``), its upper end below
    ``y − z_synth s`` (``p2``), or neither; the first two exclude each other. So

        coverage = E_y[ P(A <= T − k_L, B <= k_U − 1) ],  (A, B) ~ Multinomial(T; p1, p2)

    with ``p1 = P(Δ̂ > y + z_synth s + z_gap σ)``, ``p2 = P(Δ̂ < y − z_synth s − z_gap σ)``
    and ``Δ̂ ~ N(μ, τ² + σ²)``. The coverage does not depend on ``μ``; the
    expectation over ``y`` is a Gauss–Hermite sum.
    """
    k_lower, k_upper = ranks
    u, w = hermegauss(nodes)
    y = math.sqrt(gap_sd**2 + synth_se**2) * u
    sd = math.sqrt(gap_sd**2 + gap_se**2)
    shift = z_synth * synth_se + z_gap * gap_se
    p1 = ndtr(-(y + shift) / sd)
    p2 = ndtr((y - shift) / sd)
    inner = _multinomial_lower_cdf(n_history, n_history - k_lower, k_upper - 1, p1, p2)
    return float(inner @ (w / w.sum()))


def weighted_rank_coverage(
    counts: tuple[int, int], weights: tuple[Fraction, Fraction], level: Fraction
) -> Fraction:
    """Exact coverage of Algorithm 2's band with no per-task noise, two weight classes.

    PAPER.md, Algorithm 2: ``Δ^U`` is the smallest historical value whose
    cumulative mass ``Σ_{Δ_i <= v} w_i / (Σw + 1)`` reaches ``1 − a/2``. The
    current gap exceeds ``Δ^U`` exactly when the historical gaps below it carry
    mass ``W_below >= c = (1 − a/2)(Σw + 1)``; by symmetry it falls below ``Δ^L``
    exactly when ``W_above = Σw − W_below >= c``. Under exchangeability the
    number ``r`` of historical gaps below the current one is uniform on
    ``{0..T}`` and, given ``r``, which tasks they are is a uniform ``r``-subset,
    so with ``i`` of them in class 0 (hypergeometric):

        coverage = (1/(T+1)) Σ_r Σ_i C(m0, i) C(m1, r − i) / C(T, r) · 1[W_below < c, W_above < c]

    with ``W_below = i·w0 + (r − i)·w1``.
    """
    (m0, m1), (w0, w1) = counts, weights
    n_history = m0 + m1
    total = m0 * w0 + m1 * w1
    threshold = (1 - level / 2) * (total + 1)
    result = Fraction(0)
    for r in range(n_history + 1):
        for i in range(max(0, r - m1), min(r, m0) + 1):
            below = i * w0 + (r - i) * w1
            # keep tie-breaking out of the reference: no mass sits on the threshold
            assert below != threshold and total - below != threshold
            if below < threshold and total - below < threshold:
                share = Fraction(math.comb(m0, i) * math.comb(m1, r - i), math.comb(n_history, r))
                result += share
    return result / (n_history + 1)


# --- helpers


def check_budgets(alpha: str, spec: str) -> tuple[Fraction, Fraction, Fraction]:
    """The exact budgets, after checking the library splits ``alpha`` the same way."""
    exact = budgets(alpha, spec)
    split = Allocation.parse(spec).split(float(alpha))
    np.testing.assert_allclose(split, [float(v) for v in exact], rtol=1e-12, atol=0)
    return exact


def assert_coverage(calibration, truth: np.ndarray, exact: float) -> float:
    """Every band finite, and the coverage within ``K`` standard errors of ``exact``."""
    assert 0.0 < exact < 1.0
    assert np.all(calibration.feasible), "a case with infinite bands would be vacuous"
    observed = float(np.mean((calibration.lower <= truth) & (truth <= calibration.upper)))
    tolerance = K * math.sqrt(exact * (1.0 - exact) / truth.size)
    assert abs(observed - exact) <= tolerance, (calibration.method, observed, exact, tolerance)
    return observed


def unit_weighted_equals_exchangeable(target, history: History, alpha: float, spec: str) -> None:
    """PAPER.md, Algorithm 2: with all weights 1 it is Algorithm 1 exactly."""
    ones = History(gap=history.gap, weights=np.ones(np.shape(history.gap.estimate)))
    unit = calibrate("weighted", target, ones, alpha, spec)
    plain = calibrate("exchangeable", target, history, alpha, spec)
    np.testing.assert_array_equal(unit.lower, plain.lower)
    np.testing.assert_array_equal(unit.upper, plain.upper)


# --- Wald interval


@pytest.mark.parametrize("level", [0.05, 0.1, 0.2, 0.3])
def test_wald_interval_and_synthetic_only_cover_exactly_one_minus_alpha(level):
    # estimate ~ N(θ, se²) with the SE known: P(|Z| <= z_{1−a/2}) = 1 − a exactly
    rng = np.random.default_rng([11, round(level * 100)])
    theta = rng.uniform(-1.0, 1.0, size=R)
    se = rng.uniform(0.01, 0.5, size=R)
    estimate = theta + se * rng.standard_normal(R)
    family = WaldInterval(estimate, se)
    lower, upper = family.interval(level)
    covered = float(np.mean((lower <= theta) & (theta <= upper)))
    exact = 1.0 - level
    assert abs(covered - exact) <= K * math.sqrt(exact * level / R), covered
    # the synthetic-only baseline is the same interval at the full level
    baseline = calibrate("synthetic-only", family, History(), level)
    assert_coverage(baseline, theta, exact)


# --- Algorithm 1, ranks

# (T, alpha, allocation): exact coverage (k_U − k_L)/(T+1) at a = α3
#   T = 19, α3 = 0.14: k = (1, 19), 18/20 = 0.9
#   T = 49, α3 = 0.14: k = (3, 47), 44/50 = 0.88
#   T = 30, α3 = 0.18: k = (2, 29), 27/31 ≈ 0.871
#   T = 40, α3 = 0.09: k = (1, 40), 39/41 ≈ 0.951
RANK_CASES = [
    (19, "0.2", "prop:0.1,0.2,0.7"),
    (49, "0.2", "prop:0.1,0.2,0.7"),
    (30, "0.3", "prop:0.2,0.2,0.6"),
    (40, "0.1", "abs:0.005,0.005"),
]


@pytest.mark.parametrize(("n_history", "alpha", "spec"), RANK_CASES)
def test_gap_methods_without_task_noise_cover_exactly_at_the_ranks(n_history, alpha, spec):
    _, _, alpha3 = check_budgets(alpha, spec)
    exact = float(rank_coverage(n_history, alpha3))
    rng = np.random.default_rng([21, n_history, round(float(alpha) * 100)])
    # any continuous law of the gaps gives the same coverage (a skewed one here)
    gaps = rng.gamma(2.0, 0.05, size=(R, n_history + 1)) - 0.05
    theta_synth = rng.uniform(0.2, 0.8, size=R)
    # zero SEs: the synthetic interval is the point θ~ and each gap interval the point Δ_j
    target = WaldInterval(theta_synth, np.zeros(R))
    history = History(
        gap=WaldInterval(gaps[:, :-1], np.zeros((R, n_history))),
        weights=np.ones(n_history),
    )
    truth = theta_synth + gaps[:, -1]
    for method in GAP_METHODS:
        assert_coverage(calibrate(method, target, history, float(alpha), spec), truth, exact)
    unit_weighted_equals_exchangeable(target, history, float(alpha), spec)


# --- Algorithm 4

# (T, alpha): exact coverage (k_U − k_L)/(T+1) at a = α, inside [1 − α, 1 − α + 2/(T+1))
#   T = 24, α = 0.10: k = (1, 24), 23/25 = 0.92
#   T = 40, α = 0.15: k = (3, 38), 35/41 ≈ 0.854
#   T = 29, α = 0.25: k = (3, 27), 24/30 = 0.80
FINITE_SAMPLE_CASES = [(24, "0.1"), (40, "0.15"), (29, "0.25")]


@pytest.mark.parametrize(("n_history", "alpha"), FINITE_SAMPLE_CASES)
def test_finite_sample_continuous_coverage_is_exact_and_inside_its_band(n_history, alpha):
    level = Fraction(alpha)
    exact = rank_coverage(n_history, level)
    # PAPER.md, Algorithm 4: coverage in [1 − α, 1 − α + 2/(T+1)) without ties
    assert 1 - level <= exact < 1 - level + Fraction(2, n_history + 1)
    rng = np.random.default_rng([31, n_history, round(float(alpha) * 100)])
    shape = (R, n_history + 1)
    # observed gaps Δ̂_j = Δ_j + se_j ε_j: i.i.d. over tasks and continuous (no ties)
    se = rng.uniform(0.005, 0.05, size=shape)
    observed = rng.normal(0.05, 0.1, size=shape) + se * rng.standard_normal(shape)
    synth_hat = rng.uniform(0.2, 0.8, size=R)
    target = WaldInterval(synth_hat, rng.uniform(0.005, 0.02, size=R))
    history = History(observed=observed[:, :-1])
    # the finite-sample target: the current task's real estimate θ~(S~) + Δ̂_{T+1}
    truth = synth_hat + observed[:, -1]
    assert_coverage(calibrate("finite-sample", target, history, float(alpha)), truth, float(exact))


# --- Algorithm 1, α1


@pytest.mark.parametrize("method", GAP_METHODS)
def test_common_gap_with_synthetic_noise_covers_exactly_one_minus_alpha1(method):
    # every task has the same gap δ, known without error: the band is [δ, δ] and the
    # interval [L~ + δ, U~ + δ] covers θ~ + δ exactly when the Wald interval at α1 covers θ~
    n_history, alpha, spec = 30, "0.2", "prop:0.5,0.1,0.4"
    alpha1, _, alpha3 = check_budgets(alpha, spec)
    exact = float(1 - alpha1)  # 0.9
    rng = np.random.default_rng([41, GAP_METHODS.index(method)])
    delta = rng.uniform(-0.1, 0.1, size=(R, 1))
    gaps = np.broadcast_to(delta, (R, n_history))
    theta_synth = rng.uniform(0.2, 0.8, size=R)
    se = rng.uniform(0.005, 0.05, size=R)
    target = WaldInterval(theta_synth + se * rng.standard_normal(R), se)
    # fixed weights; their sum (about 28.5) exceeds 2/α3 − 1 = 24, so the band is finite
    weights = rng.uniform(0.9, 1.0, size=n_history)
    assert weights.sum() > 2 / float(alpha3) - 1
    history = History(gap=WaldInterval(gaps, np.zeros((R, n_history))), weights=weights)
    truth = theta_synth + delta[:, 0]
    assert_coverage(calibrate(method, target, history, float(alpha), spec), truth, exact)


# --- Algorithm 1, all noise

# (T, alpha, allocation, synthetic SE s, gap SE σ, gap spread τ); exact coverage by
# gaussian_coverage: 0.9363 / 0.9508 for Algorithms 1 / 5 in the first case (k = (2, 28)),
# 0.9618 / 0.9718 in the second (k = (2, 43))
GAUSSIAN_CASES = [
    (29, "0.3", "prop:0.2,0.2,0.6", 0.1, 0.1, 1.0),
    (44, "0.2", "prop:0.25,0.25,0.5", 0.1, 0.1, 1.0),
]


def test_gaussian_reference_reduces_to_the_rank_formula():
    # without per-task noise the integral is the rank count (k_U − k_L)/(T+1)
    for n_history, alpha, spec in RANK_CASES:
        alpha3 = budgets(alpha, spec)[2]
        value = gaussian_coverage(n_history, exact_ranks(n_history, alpha3), 1.0, 1.0, 0, 0, 1)
        assert value == pytest.approx(float(rank_coverage(n_history, alpha3)), abs=1e-9)
    # and the quadrature has converged
    ranks = exact_ranks(29, budgets("0.3", "prop:0.2,0.2,0.6")[2])
    coarse = gaussian_coverage(29, ranks, 1.3, 1.3, 0.1, 0.1, 1.0, nodes=160)
    fine = gaussian_coverage(29, ranks, 1.3, 1.3, 0.1, 0.1, 1.0, nodes=300)
    assert coarse == pytest.approx(fine, abs=1e-8)


@pytest.mark.parametrize(
    ("n_history", "alpha", "spec", "synth_se", "gap_se", "gap_sd"), GAUSSIAN_CASES
)
def test_gap_methods_with_gaussian_noise_match_the_exact_integral(
    n_history, alpha, spec, synth_se, gap_se, gap_sd
):
    alpha1, alpha2, alpha3 = check_budgets(alpha, spec)
    ranks = exact_ranks(n_history, alpha3)
    z_synth = float(-ndtri(float(alpha1) / 2))
    rng = np.random.default_rng([51, n_history])
    shape = (R, n_history + 1)
    gaps = rng.normal(0.05, gap_sd, size=shape)
    gap_hat = gaps + gap_se * rng.standard_normal(shape)
    theta_synth = rng.uniform(0.2, 0.8, size=R)
    target = WaldInterval(theta_synth + synth_se * rng.standard_normal(R), np.full(R, synth_se))
    history = History(
        gap=WaldInterval(gap_hat[:, :-1], np.full((R, n_history), gap_se)),
        weights=np.ones(n_history),
    )
    truth = theta_synth + gaps[:, -1]
    # gap intervals at α2 (Algorithms 1 and 2) or α2/T (Algorithm 5, Bonferroni)
    gap_levels = {
        "exchangeable": alpha2,
        "weighted": alpha2,
        "task-only": alpha2 / n_history,
    }
    for method in GAP_METHODS:
        z_gap = float(-ndtri(float(gap_levels[method]) / 2))
        exact = gaussian_coverage(n_history, ranks, z_synth, z_gap, synth_se, gap_se, gap_sd)
        assert_coverage(calibrate(method, target, history, float(alpha), spec), truth, exact)
    unit_weighted_equals_exchangeable(target, history, float(alpha), spec)


# --- Algorithm 2


@pytest.mark.parametrize(
    ("alpha", "spec"), [("0.2", "prop:0.1,0.2,0.7"), ("0.3", "prop:0.2,0.2,0.6")]
)
def test_weighted_without_task_noise_covers_exactly(alpha, spec):
    # T = 30 fixed weights: 12 tasks at 1/2, 18 at 1 (Σw = 24), in a fixed shuffled order.
    # weighted_rank_coverage: α3 = 0.14 gives c = 23.25 and coverage 141/155 ≈ 0.9097;
    # α3 = 0.18 gives c = 22.75 and 3871/4495 ≈ 0.8612
    counts, classes = (12, 18), (Fraction(1, 2), Fraction(1))
    n_history = sum(counts)
    _, _, alpha3 = check_budgets(alpha, spec)
    exact = float(weighted_rank_coverage(counts, classes, alpha3))
    rng = np.random.default_rng([61, round(float(alpha) * 100)])
    weights = rng.permutation(np.repeat([float(c) for c in classes], counts))
    gaps = rng.logistic(0.05, 0.05, size=(R, n_history + 1))
    theta_synth = rng.uniform(0.2, 0.8, size=R)
    target = WaldInterval(theta_synth, np.zeros(R))
    history = History(gap=WaldInterval(gaps[:, :-1], np.zeros((R, n_history))), weights=weights)
    truth = theta_synth + gaps[:, -1]
    assert_coverage(calibrate("weighted", target, history, float(alpha), spec), truth, exact)
