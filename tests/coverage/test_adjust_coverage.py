"""Seeded Monte Carlo: adjusted and group-conditional calibration keep coverage, and narrow.

Generative models (self-contained here): ``R`` pools of ``T + 1`` Bernoulli
tasks, the last one the target, ``n = 1000`` real and ``N = 2000`` synthetic
answers per task, ``p ~ Beta(2, 2)``.

* ``attribute``: ``p~ = clip(p ± 0.2 + N(0, 0.05²))`` with the sign set by a
  binary task attribute ``g ~ Bernoulli(1/2)``;
* ``linear``: ``p~ = clip(0.5 + 0.5 (p − 0.5) + N(0, 0.01²))`` (a judge that
  compresses scores: the gap is linear in the synthetic estimate);
* ``null``: the paper's model, ``p~ = clip(p + N(0.05, 0.1²))``, ``g`` unrelated.

Tolerances are three Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthinfer.adjust import (
    full_conformal_band,
    full_conformal_upper,
    split_conformal_band,
)
from synthinfer.allocation import Allocation
from synthinfer.conformal import conformal_ranks
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.studies import group_subsets

pytestmark = pytest.mark.slow

ALPHA = 0.1
ALLOCATION = "prop:0.1,0.2,0.7"
REPS = 1000
TASKS = 100


def _tolerance(level: float, reps: int) -> float:
    return 3.0 * np.sqrt(level * (1.0 - level) / reps)


def _simulate(model: str, reps: int = REPS, tasks: int = TASKS, seed: int = 2026) -> dict:
    rng = np.random.default_rng(seed)
    shape = (reps, tasks + 1)
    group = rng.integers(0, 2, size=shape).astype(float)
    p = rng.beta(2.0, 2.0, size=shape)
    if model == "attribute":
        p_synth = p + np.where(group == 1, 0.2, -0.2) + rng.normal(0.0, 0.05, size=shape)
    elif model == "linear":
        p_synth = 0.5 + 0.5 * (p - 0.5) + rng.normal(0.0, 0.01, size=shape)
    else:
        p_synth = p + rng.normal(0.05, 0.10, size=shape)
    p_synth = np.clip(p_synth, 0.0, 1.0)
    real = rng.binomial(1000, p) / 1000
    synth = rng.binomial(2000, p_synth) / 2000
    synth_se = np.sqrt(synth * (1 - synth) / 2000)
    return {
        "group": group,
        "truth": p,
        "real": real,
        "synth": synth,
        "synth_se": synth_se,
        "gap": real - synth,
        "gap_se": np.sqrt(real * (1 - real) / 1000 + synth_se**2),
    }


def _target(sim):
    return WaldInterval(sim["synth"][:, -1], sim["synth_se"][:, -1])


def _truth(sim, method):
    return sim["real"][:, -1] if method == "finite-sample" else sim["truth"][:, -1]


def _unadjusted(sim, method="exchangeable"):
    history = History(
        gap=WaldInterval(sim["gap"][:, :-1], sim["gap_se"][:, :-1]), observed=sim["gap"][:, :-1]
    )
    cal = calibrate(method, _target(sim), history, ALPHA, ALLOCATION)
    truth = _truth(sim, method)
    return (cal.lower <= truth) & (truth <= cal.upper), cal.upper - cal.lower


def _history_ends(sim, method):
    _, a2, a3 = Allocation.parse(ALLOCATION).split(ALPHA)
    if method == "finite-sample":
        observed = sim["gap"][:, :-1]
        return observed, observed, ALPHA
    gap = WaldInterval(sim["gap"][:, :-1], sim["gap_se"][:, :-1])
    return (*gap.interval(a2), a3)


def _adjusted(sim, names, method="exchangeable"):
    """The adjusted interval exactly as ``calibrate`` assembles it with the full-conformal model."""
    lo, hi, level = _history_ends(sim, method)
    covariates = np.stack([sim[name] for name in names], axis=-1)
    band_lo, band_hi, _ = full_conformal_band(lo, hi, covariates, level)
    target = _target(sim)
    if method == "finite-sample":
        synth_lo = synth_hi = target.estimate
    else:
        synth_lo, synth_hi = target.interval(Allocation.parse(ALLOCATION).split(ALPHA)[0])
    lower, upper = synth_lo + band_lo, synth_hi + band_hi
    truth = _truth(sim, method)
    return (lower <= truth) & (truth <= upper), upper - lower


def _group_conditional(sim, method="exchangeable"):
    """History restricted to the target's group; one core call per distinct group size."""
    n_reps = len(sim["group"])
    covered = np.zeros(n_reps, dtype=bool)
    width = np.zeros(n_reps)
    for reps, sub in group_subsets(sim, sim["group"]):
        covered[reps], width[reps] = _unadjusted(sub, method)
    return covered, width


@pytest.fixture(scope="module")
def sims():
    return {name: _simulate(name) for name in ("attribute", "linear", "null")}


def test_full_conformal_end_has_exact_rank_coverage():
    """Continuous exchangeable (x, y): P(y ≤ upper) = k_U/(T+1) exactly (no ties)."""
    rng = np.random.default_rng(7)
    reps, n_history, alpha = 6000, 19, 0.2
    x = rng.normal(size=(reps, n_history + 1, 2))
    y = (
        np.sin(2 * x[..., 0])
        + x[..., 1] ** 2
        + (1 + np.abs(x[..., 0])) * rng.standard_t(3, size=(reps, n_history + 1))
    )
    upper = full_conformal_upper(y[:, :-1], x, alpha, penalty=0.5)
    lower = -full_conformal_upper(-y[:, :-1], x, alpha, penalty=0.5)
    expected = conformal_ranks(n_history, alpha)[1] / (n_history + 1)
    tol = _tolerance(expected, reps)
    assert abs(np.mean(y[:, -1] <= upper) - expected) <= tol
    assert abs(np.mean(y[:, -1] >= lower) - expected) <= tol
    both = np.mean((lower <= y[:, -1]) & (y[:, -1] <= upper))
    assert both >= 1 - alpha - _tolerance(1 - alpha, reps)


@pytest.mark.parametrize(
    ("model", "names"),
    [("attribute", ["group"]), ("attribute", ["synth", "group"]), ("linear", ["synth"])],
)
def test_adjusted_keeps_coverage_and_is_at_most_0_6_of_the_width(sims, model, names):
    sim = sims[model]
    covered, width = _adjusted(sim, names)
    base_covered, base_width = _unadjusted(sim)
    assert covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)
    assert np.all(np.isfinite(width))
    assert width.mean() <= 0.6 * base_width.mean()
    assert base_covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)


@pytest.mark.parametrize("method", ["finite-sample"])  # task-only refuses --adjust
def test_adjusted_keeps_coverage_for_other_methods(sims, method):
    covered, width = _adjusted(sims["attribute"], ["synth", "group"], method)
    _, base_width = _unadjusted(sims["attribute"], method)
    assert covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)
    assert width.mean() <= 0.6 * base_width.mean()


def test_finite_sample_adjusted_is_not_conservative(sims):
    covered, _ = _adjusted(sims["linear"], ["synth"], "finite-sample")
    assert covered.mean() <= 1 - ALPHA + 2 / (TASKS + 1) + _tolerance(1 - ALPHA, REPS)


def test_group_conditional_keeps_coverage_and_narrows(sims):
    covered, width = _group_conditional(sims["attribute"])
    _, base_width = _unadjusted(sims["attribute"])
    assert covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)
    assert np.all(np.isfinite(width))
    assert width.mean() <= 0.6 * base_width.mean()


def test_unrelated_attribute_costs_little(sims):
    """Null model: adjusting for g costs < 2% width; grouping by g (half the history) < 15%."""
    _, base_width = _unadjusted(sims["null"])
    covered, width = _adjusted(sims["null"], ["group"])
    assert covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)
    assert width.mean() <= 1.02 * base_width.mean()
    covered, width = _group_conditional(sims["null"])
    assert covered.mean() >= 1 - ALPHA - _tolerance(1 - ALPHA, REPS)
    assert width.mean() <= 1.15 * base_width.mean()


def test_split_mode_keeps_coverage_and_narrows(sims):
    sim = {k: v[:400] for k, v in sims["attribute"].items()}
    lo, hi, level = _history_ends(sim, "exchangeable")
    covariates = np.stack([sim["synth"], sim["group"]], axis=-1)
    bands = np.array(
        [
            split_conformal_band(lo[r], hi[r], covariates[r, :-1], covariates[r, -1], level, seed=r)
            for r in range(lo.shape[0])
        ]
    )
    synth_lo, synth_hi = _target(sim).interval(Allocation.parse(ALLOCATION).split(ALPHA)[0])
    lower, upper = synth_lo + bands[:, 0], synth_hi + bands[:, 1]
    truth = sim["truth"][:, -1]
    assert np.mean((lower <= truth) & (truth <= upper)) >= 1 - ALPHA - _tolerance(1 - ALPHA, 400)
    assert np.mean(upper - lower) <= 0.6 * np.mean(_unadjusted(sim)[1])
