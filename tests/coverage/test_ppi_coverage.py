"""Seeded Monte Carlo coverage of method ``ppi`` from ``m`` labelled pairs (``docs/labels.md``).

Each replication is one target task, drawn as in ``test_hybrid_coverage.py``:
``θ ~ N(0.5, 0.05)``, gap ``Δ ~ N(0.05, τ²)`` with ``τ = 0.1`` (the paper's
model) or ``τ = 0.3`` (bias varying widely across tasks), ``θ~ = θ − Δ``;
synthetic unit values ``θ~ + N(0, 0.5²)``, real values of the labelled pairs
``synthetic + Δ + N(0, 0.4²)``, ``m`` labelled pairs and ``N`` unlabelled
units. The engine (:func:`synthinfer.intervals.ppi_mean`) runs on the stacked
replications; the method ``ppi`` reads its interval through
:func:`synthinfer.methods.calibrate`.

Checks:

* Student (default, PPI++): coverage ``>= 1 − α − 3·MCSE`` for ``m`` in
  5, 20, 100, 1000 in both models;
* classic PPI (``λ = 1``) at ``m = 5``, where the rectifier is a mean of
  normal differences and the unlabelled term is negligible: the Student
  interval covers ``1 − α`` and the normal one ``P(|t₄| ≤ z·sqrt(4/5))``
  (0.787 at ``α = 0.1``), both to within ``3·MCSE`` on both sides;
* the Student quantile interval covers the median at small ``m``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthinfer.intervals import WaldInterval, ppi_mean, ppi_quantile, ppi_student_factor
from synthinfer.methods import History, calibrate

pytestmark = pytest.mark.slow

ALPHA = 0.1
SIGMA, SYNTH_SD = 0.4, 0.5
TAUS = {"paper": 0.1, "wide": 0.3}
M_VALUES = (5, 20, 100, 1000)
CHUNK = 500


def mcse(reps: int, alpha: float = ALPHA) -> float:
    return math.sqrt(alpha * (1 - alpha) / reps)


def draw(rng, reps: int, m: int, big_n: int, tau: float):
    """Truths, labelled real and synthetic values ``(reps, m)``, unlabelled ``(reps, N)``."""
    theta = rng.normal(0.5, math.sqrt(0.05), (reps, 1))
    delta = rng.normal(0.05, tau, (reps, 1))
    synth = theta - delta + SYNTH_SD * rng.standard_normal((reps, m))
    real = synth + delta + SIGMA * rng.standard_normal((reps, m))
    unlabelled = theta - delta + SYNTH_SD * rng.standard_normal((reps, big_n))
    return theta[:, 0], real, synth, unlabelled


def method_coverage(m: int, tau: float, reps: int, seed: int, critical: str) -> float:
    """Coverage of method ``ppi`` (PPI++), in chunks of replications."""
    rng = np.random.default_rng(seed)
    big_n = max(1000, 2 * m)
    covered = 0
    for start in range(0, reps, CHUNK):
        size = min(CHUNK, reps - start)
        theta, real, synth, unlabelled = draw(rng, size, m, big_n, tau)
        family = ppi_mean(real, synth, unlabelled)
        history = History(
            labelled=WaldInterval(family.estimate, family.se),
            n_labelled=np.full(size, float(m)),
            ppi_critical=critical,
        )
        target = WaldInterval(np.zeros(size), np.ones(size))
        result = calibrate("ppi", target, history, ALPHA)
        covered += int(np.sum((result.lower <= theta) & (theta <= result.upper)))
    return covered / reps


@pytest.mark.parametrize("model", sorted(TAUS))
@pytest.mark.parametrize("m", M_VALUES)
def test_student_ppi_covers_for_every_m(model, m):
    reps = 3000
    coverage = method_coverage(m, TAUS[model], reps, seed=1000 * m + len(model), critical="student")
    assert coverage >= 1 - ALPHA - 3 * mcse(reps), (model, m, coverage)


def classic_coverage(critical: str, m: int = 5, reps: int = 20_000, seed: int = 7) -> float:
    """Coverage of classic PPI (``λ = 1``) at ``m``: Student factor with ``k = 1``, or normal."""
    rng = np.random.default_rng(seed)
    covered = 0
    for start in range(0, reps, 2 * CHUNK):
        size = min(2 * CHUNK, reps - start)
        theta, real, synth, unlabelled = draw(rng, size, m, 4000, TAUS["paper"])
        family = ppi_mean(real, synth, unlabelled, lam=1.0)
        factor = 1.0 if critical == "normal" else ppi_student_factor(ALPHA, m, fitted=1)
        half = (family.interval(ALPHA)[1] - family.estimate) * factor
        covered += int(np.sum(np.abs(family.estimate - theta) <= half))
    return covered / reps


def test_classic_student_ppi_is_exact_at_m_5():
    reps = 20_000
    coverage = classic_coverage("student", reps=reps)
    # the unlabelled term adds < 0.1% of the variance: allow 0.002 beyond 3 MCSE
    assert abs(coverage - (1 - ALPHA)) <= 3 * mcse(reps) + 0.002, coverage


def test_normal_ppi_undercovers_at_m_5_by_the_known_amount():
    from scipy.stats import norm, t

    reps = 20_000
    coverage = classic_coverage("normal", reps=reps)
    exact = 1 - 2 * t.sf(norm.ppf(1 - ALPHA / 2) * math.sqrt(4 / 5), 4)  # 0.787
    assert abs(coverage - exact) <= 3 * mcse(reps, 1 - exact) + 0.002, (coverage, exact)
    assert coverage < 1 - ALPHA - 3 * mcse(reps)


def test_normal_method_ppi_undercovers_at_m_5_and_student_does_not():
    reps = 3000
    normal = method_coverage(5, TAUS["paper"], reps, seed=3, critical="normal")
    student = method_coverage(5, TAUS["paper"], reps, seed=3, critical="student")
    assert normal < 1 - ALPHA - 3 * mcse(reps) < student, (normal, student)


@pytest.mark.parametrize("m", [5, 20])
def test_student_ppi_quantile_covers_the_median(m):
    rng = np.random.default_rng(m)
    reps, covered = 1000, 0
    theta, real, synth, unlabelled = draw(rng, reps, m, 300, TAUS["wide"])
    for i in range(reps):
        family = ppi_quantile(real[i], synth[i], unlabelled[i], 0.5)
        lower, upper = family.interval(ALPHA, n_labelled=m)
        # the real values are normal around θ: θ is their median
        covered += bool(lower[0] <= theta[i] <= upper[0])
    assert covered / reps >= 1 - ALPHA - 3 * mcse(reps), covered / reps
