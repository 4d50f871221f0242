"""The PPI engine reproduces the reference implementation ppi_py, and covers."""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from synthinfer.intervals import (
    PPIQuantileInterval,
    WaldInterval,
    ppi_mean,
    ppi_power_tuning,
    ppi_quantile,
    ppi_student_factor,
)


def _reference():
    """``ppi_py``; numba, which it loads, must not take ``tests/coverage`` for coverage.py."""
    shadow = sys.modules.get("coverage", None)
    if shadow is None or not hasattr(shadow, "types"):
        sys.modules["coverage"] = None  # type: ignore[assignment]
    try:
        return pytest.importorskip("ppi_py")
    finally:
        if shadow is None:
            sys.modules.pop("coverage", None)
        else:
            sys.modules["coverage"] = shadow


ppi_py = _reference()

ALPHA = 0.1
CASES = [(seed, n, big_n) for seed in (0, 1, 2) for n, big_n in ((20, 50), (100, 1000), (7, 400))]


def _pairs(seed: int, n: int, big_n: int, weighted: bool = False):
    """Correlated real/synthetic values (continuous), and optional weights."""
    rng = np.random.default_rng(seed)
    real = rng.normal(1.0, 1.0, n)
    synth = 0.7 * real + rng.normal(0.3, 0.6, n)
    unlabelled = rng.normal(1.0, 0.9, big_n)
    if not weighted:
        return real, synth, unlabelled, None, None
    return real, synth, unlabelled, rng.uniform(0.2, 3.0, n), rng.uniform(0.2, 3.0, big_n)


@pytest.mark.parametrize(("seed", "n", "big_n"), CASES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("lam", [None, 1.0])
def test_ppi_mean_equals_ppi_py(seed, n, big_n, weighted, lam):
    real, synth, unlabelled, w, w_u = _pairs(seed, n, big_n, weighted)
    family = ppi_mean(real, synth, unlabelled, lam=lam, weights=w, unlabelled_weights=w_u)
    lower, upper = family.interval(ALPHA)
    ref_lower, ref_upper = ppi_py.ppi_mean_ci(
        real, synth, unlabelled, alpha=ALPHA, lam=lam, w=w, w_unlabeled=w_u
    )
    ref_point = ppi_py.ppi_mean_pointestimate(
        real, synth, unlabelled, lam=lam, w=w, w_unlabeled=w_u
    )
    assert float(lower) == pytest.approx(float(np.ravel(ref_lower)[0]), abs=1e-8)
    assert float(upper) == pytest.approx(float(np.ravel(ref_upper)[0]), abs=1e-8)
    assert float(family.estimate) == pytest.approx(float(np.ravel(ref_point)[0]), abs=1e-8)


@pytest.mark.parametrize(("seed", "n", "big_n"), CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_power_tuning_equals_ppi_py_and_is_clipped(seed, n, big_n, weighted):
    from ppi_py.ppi import _calc_lam_glm

    real, synth, unlabelled, w, w_u = _pairs(seed, n, big_n, weighted)
    lam = ppi_power_tuning(real, synth, unlabelled, weights=w, unlabelled_weights=w_u)
    wn = np.ones(n) if w is None else w / w.sum() * n
    wun = np.ones(big_n) if w_u is None else w_u / w_u.sum() * big_n
    classic = (wun * unlabelled).mean() + (wn * (real - synth)).mean()
    ref = _calc_lam_glm(
        (wn * (real - classic))[:, None],
        (wn * (synth - classic))[:, None],
        (wun * (unlabelled - classic))[:, None],
        np.eye(1),
        clip=True,
    )
    assert float(lam) == pytest.approx(float(ref), abs=1e-10)
    assert 0.0 <= float(lam) <= 1.0


def test_power_tuning_clips_at_both_ends():
    rng = np.random.default_rng(5)
    real = rng.normal(size=200)
    # anti-correlated predictions: tuning gives 0 (the classical interval)
    assert float(ppi_power_tuning(real, -real, rng.normal(size=500))) == 0.0
    # predictions far more variable than the covariance allows: clipped inside [0, 1]
    noisy = real + rng.normal(scale=10, size=200)
    assert 0.0 <= float(ppi_power_tuning(real, noisy, rng.normal(size=500))) < 0.1
    # constant predictions: lambda 0, and the interval is the real-data Wald interval
    lam = ppi_power_tuning(real, np.ones(200), np.ones(500))
    assert float(lam) == 0.0
    family = ppi_mean(real, np.ones(200), np.ones(500))
    assert float(family.estimate) == pytest.approx(real.mean(), abs=1e-12)
    assert float(family.se) == pytest.approx(real.std() / np.sqrt(200), abs=1e-12)


def test_lambda_zero_is_the_classical_interval_and_leading_axes_broadcast():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(4, 30))
    synth = real + rng.normal(size=(4, 30))
    unlabelled = rng.normal(size=(4, 80))
    family = ppi_mean(real, synth, unlabelled, lam=0.0)
    assert isinstance(family, WaldInterval)
    np.testing.assert_allclose(family.estimate, real.mean(-1), atol=1e-12)
    np.testing.assert_allclose(family.se, real.std(-1) / np.sqrt(30), atol=1e-12)
    tuned = ppi_mean(real, synth, unlabelled)
    for i in range(4):
        one = ppi_mean(real[i], synth[i], unlabelled[i])
        assert float(tuned.estimate[i]) == pytest.approx(float(one.estimate), abs=1e-12)
        assert float(tuned.se[i]) == pytest.approx(float(one.se), abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "big_n"), CASES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("q", [0.25, 0.5, 0.9])
def test_ppi_quantile_equals_ppi_py_on_the_exact_grid(seed, n, big_n, weighted, q):
    real, synth, unlabelled, w, w_u = _pairs(seed, n, big_n, weighted)
    family = ppi_quantile(real, synth, unlabelled, q, weights=w, unlabelled_weights=w_u)
    lower, upper = family.interval(ALPHA)
    ref = ppi_py.ppi_quantile_ci(
        real, synth, unlabelled, q, alpha=ALPHA, exact_grid=True, w=w, w_unlabeled=w_u
    )
    point = ppi_py.ppi_quantile_pointestimate(
        real, synth, unlabelled, q, exact_grid=True, w=w, w_unlabeled=w_u
    )
    assert (float(lower[0]), float(upper[0])) == pytest.approx(tuple(ref), abs=1e-8)
    assert float(family.estimate[0]) == pytest.approx(float(point), abs=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_ppi_quantile_equals_ppi_py_on_the_linear_grid(seed):
    real, synth, unlabelled, _, _ = _pairs(seed, 60, 300)
    family = ppi_quantile(real, synth, unlabelled, 0.5, grid="linear")
    ref = ppi_py.ppi_quantile_ci(real, synth, unlabelled, 0.5, alpha=ALPHA)
    point = ppi_py.ppi_quantile_pointestimate(real, synth, unlabelled, 0.5)
    lower, upper = family.interval(ALPHA)
    assert (float(lower[0]), float(upper[0])) == pytest.approx(tuple(ref), abs=1e-8)
    assert float(family.estimate[0]) == pytest.approx(float(point), abs=1e-8)


def test_quantile_family_takes_stacks_and_widens_with_confidence():
    fams = [ppi_quantile(*_pairs(s, 40, 200)[:3], 0.5) for s in range(3)]
    family = PPIQuantileInterval.stack(fams)
    picked = family.take([2, 0])
    np.testing.assert_array_equal(picked.estimate, family.estimate[[2, 0]])
    narrow = family.interval(0.3)
    wide = family.interval(0.01)
    assert np.all(wide[0] <= narrow[0]) and np.all(wide[1] >= narrow[1])
    with pytest.raises(ValueError, match="between 0 and 1"):
        family.interval(1.5)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="pair up"):
        ppi_mean(np.ones(3), np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="at least one labelled real"):
        ppi_mean(np.ones(0), np.ones(0), np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        ppi_mean(np.array([1.0, np.nan]), np.ones(2), np.ones(5))
    with pytest.raises(ValueError, match="non-negative"):
        ppi_mean(np.ones(2), np.ones(2), np.ones(3), weights=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"q in \(0, 1\)"):
        ppi_quantile(np.ones(2), np.ones(2), np.ones(3), 1.0)


def _coverage_mean(lam, reps=4000, n=50, big_n=500, seed=11):
    """Monte Carlo coverage of the PPI mean interval, vectorized over replications."""
    rng = np.random.default_rng(seed)
    truth = 0.0
    real = rng.normal(truth, 1.0, (reps, n))
    synth = real + rng.normal(0.4, 0.5, (reps, n))
    unlabelled = rng.normal(truth, 1.0, (reps, big_n)) + rng.normal(0.4, 0.5, (reps, big_n))
    lower, upper = ppi_mean(real, synth, unlabelled, lam=lam).interval(ALPHA)
    return float(np.mean((lower <= truth) & (truth <= upper))), reps


@pytest.mark.parametrize("lam", [None, 1.0])
def test_ppi_mean_covers_at_the_nominal_level(lam):
    coverage, reps = _coverage_mean(lam)
    mcse = np.sqrt(ALPHA * (1 - ALPHA) / reps)
    # asymptotically exact: both sides, with room for the finite-n z-approximation
    assert coverage >= 1 - ALPHA - 3 * mcse - 0.01
    assert coverage <= 1 - ALPHA + 3 * mcse + 0.01


def test_ppi_quantile_covers_the_median():
    rng = np.random.default_rng(4)
    reps, covered = 300, 0
    for _ in range(reps):
        real = rng.normal(size=80)
        synth = real + rng.normal(0.5, 0.5, 80)
        unlabelled = rng.normal(size=400) + rng.normal(0.5, 0.5, 400)
        lower, upper = ppi_quantile(real, synth, unlabelled, 0.5).interval(ALPHA)
        covered += bool(lower[0] <= 0.0 <= upper[0])
    mcse = np.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert covered / reps >= 1 - ALPHA - 3 * mcse


def _unit_table(real, synth, unlabelled, w=None, w_u=None):
    """A unit-level table: the target ``t`` (labelled pairs, then unlabelled units) and a
    history task ``h`` fully labelled."""
    n, big_n = real.size, unlabelled.size
    weights = np.concatenate([w, w_u]) if w is not None else np.ones(n + big_n)
    values = np.concatenate([synth, unlabelled])
    rows = [
        {"task": "t", "source": "synthetic", "value": v, "unit": u, "weight": weights[u]}
        for u, v in enumerate(values)
    ]
    rows += [
        {"task": "t", "source": "real", "value": v, "unit": u, "weight": weights[u]}
        for u, v in enumerate(real)
    ]
    for u in range(10):
        for source in ("real", "synthetic"):
            rows.append({"task": "h", "source": source, "value": u / 3, "unit": u, "weight": 1.0})
    frame = pd.DataFrame(rows)
    return frame if w is not None else frame.drop(columns="weight")


@pytest.mark.parametrize(("seed", "n", "big_n"), [(0, 20, 50), (1, 7, 400), (2, 100, 1000)])
@pytest.mark.parametrize("weighted", [False, True])
def test_infer_ppi_normal_equals_ppi_py_through_the_public_api(seed, n, big_n, weighted):
    from synthinfer import infer

    real, synth, unlabelled, w, w_u = _pairs(seed, n, big_n, weighted)
    frame = _unit_table(real, synth, unlabelled, w, w_u)
    result = infer(frame, targets="t", method="ppi", ppi_critical="normal", bounds="none")
    (row,) = result.intervals
    ref_lower, ref_upper = ppi_py.ppi_mean_ci(
        real, synth, unlabelled, alpha=ALPHA, w=w, w_unlabeled=w_u
    )
    ref_point = ppi_py.ppi_mean_pointestimate(real, synth, unlabelled, w=w, w_unlabeled=w_u)
    assert row.lower == pytest.approx(float(np.ravel(ref_lower)[0]), abs=1e-8)
    assert row.upper == pytest.approx(float(np.ravel(ref_upper)[0]), abs=1e-8)
    assert row.estimate == pytest.approx(float(np.ravel(ref_point)[0]), abs=1e-8)
    # the default (Student) keeps the centre and widens by the factor, exactly
    (student,) = infer(frame, targets="t", method="ppi", bounds="none").intervals
    factor = ppi_student_factor(ALPHA, n, fitted=2)
    assert (student.upper - student.lower) == pytest.approx(
        (row.upper - row.lower) * factor, rel=1e-12
    )
    assert student.lower + student.upper == pytest.approx(row.lower + row.upper, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_infer_ppi_quantile_normal_equals_ppi_py_and_student_contains_it(seed):
    from synthinfer import infer

    real, synth, unlabelled, _, _ = _pairs(seed, 15, 300)
    frame = _unit_table(real, synth, unlabelled)
    options = {"targets": "t", "method": "ppi", "estimand": "quantile:0.5", "bounds": "none"}
    (row,) = infer(frame, ppi_critical="normal", **options).intervals
    ref = ppi_py.ppi_quantile_ci(real, synth, unlabelled, 0.5, alpha=ALPHA, exact_grid=True)
    assert (row.lower, row.upper) == (
        pytest.approx(float(np.ravel(ref[0])[0]), abs=1e-8),
        pytest.approx(float(np.ravel(ref[1])[0]), abs=1e-8),
    )
    (student,) = infer(frame, **options).intervals
    assert student.lower <= row.lower and student.upper >= row.upper
    assert student.upper - student.lower > row.upper - row.lower


def test_ppi_student_factor_formula_and_edges():
    from scipy.stats import norm, t

    for m, k in ((5, 1), (5, 2), (20, 2), (1000, 1)):
        expected = t.ppf(0.95, m - k) * np.sqrt(m / (m - k)) / norm.ppf(0.95)
        assert float(ppi_student_factor(0.1, m, fitted=k)) == pytest.approx(expected, rel=1e-12)
    assert float(ppi_student_factor(0.1, 10**8, fitted=2)) == pytest.approx(1.0, abs=1e-6)
    factors = ppi_student_factor(0.1, np.array([1.0, 2.0, 3.0]), fitted=2)
    assert np.isinf(factors[:2]).all() and np.isfinite(factors[2])
    assert np.isinf(ppi_student_factor(0.1, 1.0, fitted=1))
    with pytest.raises(ValueError, match="fitted must be 1"):
        ppi_student_factor(0.1, 5, fitted=3)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        ppi_student_factor(1.5, 5)


def test_an_infinite_ppi_interval_says_why():
    from synthinfer.methods import History, calibrate

    target = WaldInterval(np.array([0.5]), np.array([0.01]))
    history = History(labelled=WaldInterval(np.array([0.6]), np.array([0.05])))
    result = calibrate("ppi", target, replace(history, n_labelled=np.array([2.0])), ALPHA)
    assert not result.feasible.any()
    assert "too few labelled pairs" in result.message
    assert "history tasks" not in result.message
    finite = calibrate("ppi", target, replace(history, n_labelled=np.array([3.0])), ALPHA)
    assert finite.feasible.all() and finite.message == ""
    with pytest.raises(ValueError, match="needs the target's number m of labelled pairs"):
        calibrate("ppi", target, history, ALPHA)
    normal = calibrate("ppi", target, replace(history, ppi_critical="normal"), ALPHA)
    np.testing.assert_allclose(normal.upper, 0.6 + 0.05 * 1.6448536269514722)
