"""The paper's algorithms (1, 2, 4, 5 and the synthetic-only baseline) on arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import (
    conformal_lower,
    conformal_upper,
    effective_sample_size,
    median_gap,
    weighted_lower,
    weighted_upper,
)
from synthinfer.intervals import IntervalFamily
from synthinfer.methods._calibration import (
    Calibration,
    FloatArray,
    History,
    MissingInputError,
    assemble,
    band_widths,
)
from synthinfer.methods._nested import (
    nested_exchangeable,
    nested_finite_sample,
    unsupported_with_groups,
)

__all__ = [
    "ADJUSTED_TASK_ONLY",
    "adjusted_band",
    "band_centre",
    "exchangeable",
    "finite_sample",
    "synthetic_only",
    "task_only",
    "weighted",
]

ADJUSTED_TASK_ONLY = (
    "--adjust cannot be combined with method 'task-only': its guarantee rests on a band "
    "that can only grow when a history interval grows, and the covariate-adjusted band can "
    "shrink (see docs/beyond.md); use 'exchangeable' or 'finite-sample' with --adjust"
)
"""Why covariate adjustment refuses ``task-only`` (Algorithm 5)."""


def gap_calibration(
    method: str,
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation,
    *,
    gap_level: Callable[[float, int], float],
    weighted_by: FloatArray | None = None,
) -> Calibration:
    """Algorithms 1, 2 and 5: synthetic interval plus a conformal band of gap intervals."""
    if history.groups is not None:
        if method != "exchangeable":
            raise ValueError(unsupported_with_groups(method))
        return nested_exchangeable(target, history, alpha, allocation)
    split = allocation.split(alpha)
    alpha1, alpha2, alpha3 = split
    gap = history.require_gap(method)
    n_history = history.n_history
    synth = target.interval(alpha1)
    if n_history == 0:
        infinite = np.full(np.shape(target.estimate), np.inf)
        widths = (synth[1] - synth[0], np.nan, infinite)
        band = (-infinite, infinite)
        return assemble(method, alpha, split, target, synth, band, widths, 0, 0.0, np.nan)
    gap_lo, gap_hi = gap.interval(gap_level(alpha2, n_history))
    midpoint = (gap_lo + gap_hi) / 2.0
    if history.gap_model is not None:
        if weighted_by is not None:
            raise ValueError("covariate adjustment cannot be combined with method 'weighted'")
        if method == "task-only":
            raise ValueError(ADJUSTED_TASK_ONLY)
        band_lo, band_hi, spread = adjusted_band(history, gap_lo, gap_hi, alpha3)
        with np.errstate(invalid="ignore"):
            spread = np.minimum(spread, band_hi - band_lo)
        w2, w3 = band_widths(band_lo, band_hi, spread)
        widths = (synth[1] - synth[0], w2, w3)
        centre = band_centre(band_lo, band_hi, median_gap(midpoint))
        return assemble(
            method,
            alpha,
            split,
            target,
            synth,
            (band_lo, band_hi),
            widths,
            n_history,
            n_history,
            centre,
        )
    if weighted_by is None:
        band = (conformal_lower(gap_lo, alpha3), conformal_upper(gap_hi, alpha3))
        spread = conformal_upper(midpoint, alpha3) - conformal_lower(midpoint, alpha3)
        n_effective: FloatArray | float = float(n_history)
    else:
        band = (
            weighted_lower(gap_lo, weighted_by, alpha3),
            weighted_upper(gap_hi, weighted_by, alpha3),
        )
        spread = weighted_upper(midpoint, weighted_by, alpha3) - weighted_lower(
            midpoint, weighted_by, alpha3
        )
        full_weights = np.broadcast_to(weighted_by, gap_lo.shape)
        n_effective = effective_sample_size(full_weights)
        w2, w3 = band_widths(band[0], band[1], spread)
        widths = (synth[1] - synth[0], w2, w3)
        centre = median_gap(midpoint, full_weights)
        calibration = assemble(
            method, alpha, split, target, synth, band, widths, n_history, n_effective, centre
        )
        return replace(calibration, weight_total=full_weights.sum(axis=-1))
    w2, w3 = band_widths(band[0], band[1], spread)
    widths = (synth[1] - synth[0], w2, w3)
    centre = median_gap(midpoint)
    return assemble(
        method, alpha, split, target, synth, band, widths, n_history, n_effective, centre
    )


def band_centre(band_lo: FloatArray, band_hi: FloatArray, fallback: FloatArray) -> FloatArray:
    """The centre of an adjusted band, or ``fallback`` where the band is infinite."""
    finite = np.isfinite(band_lo) & np.isfinite(band_hi)
    with np.errstate(invalid="ignore"):
        return np.where(finite, (band_lo + band_hi) / 2.0, fallback)


def adjusted_band(
    history: History, gap_lo: FloatArray, gap_hi: FloatArray, level: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Covariate-adjusted band for each target (one history, targets on leading axes)."""
    model = history.gap_model
    if model is None or history.covariates is None or history.target_covariates is None:
        raise MissingInputError("covariate adjustment needs covariates for history and target")
    if np.ndim(gap_lo) != 1:
        raise ValueError("covariate adjustment takes a one-dimensional history (one target's)")
    covariates = np.asarray(history.covariates, dtype=float)
    targets = np.asarray(history.target_covariates, dtype=float)
    flat = targets.reshape(-1, targets.shape[-1])
    bands = np.array([model.band(gap_lo, gap_hi, covariates, row, level) for row in flat])
    shape = targets.shape[:-1]
    return bands[:, 0].reshape(shape), bands[:, 1].reshape(shape), bands[:, 2].reshape(shape)


def exchangeable(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Algorithm 1: inference under task exchangeability (population target).

    ``[L~ + Qlo_{α3}(Δ^L), U~ + Qhi_{α3}(Δ^U)]`` with the synthetic interval at
    ``α1`` and historical gap intervals at ``α2``.
    """
    return gap_calibration(
        "exchangeable", target, history, alpha, allocation, gap_level=lambda a2, _t: a2
    )


def task_only(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Algorithm 5: task-only exchangeability, gap intervals at ``α2 / T`` (Bonferroni)."""
    return gap_calibration(
        "task-only", target, history, alpha, allocation, gap_level=lambda a2, t: a2 / t
    )


def weighted(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Algorithm 2: weighted conformal band with fixed task weights in ``[0, 1]``.

    With all weights equal to one this is Algorithm 1 exactly.
    """
    weights = history.require_weights("weighted")
    return gap_calibration(
        "weighted",
        target,
        history,
        alpha,
        allocation,
        gap_level=lambda a2, _t: a2,
        weighted_by=weights,
    )


def finite_sample(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Algorithm 4: target the current task's real-sample estimate.

    ``[θ~(S~) + Qlo_α(Δ̂), θ~(S~) + Qhi_α(Δ̂)]``; the allocation is not used
    (the whole level goes to the conformal step).
    """
    del allocation
    if history.groups is not None:
        return nested_finite_sample(target, history, alpha)
    observed = history.require_observed("finite-sample")
    estimate = np.asarray(target.estimate, dtype=float)
    n_history = int(observed.shape[-1])
    centre = median_gap(observed)
    if n_history == 0:
        band = (np.full(estimate.shape, -np.inf), np.full(estimate.shape, np.inf))
    elif history.gap_model is not None:
        band_lo, band_hi, _ = adjusted_band(history, observed, observed, alpha)
        band = (band_lo, band_hi)
        centre = band_centre(band_lo, band_hi, centre)
    else:
        band = (conformal_lower(observed, alpha), conformal_upper(observed, alpha))
    spread = band[1] - band[0]
    widths = (
        0.0,
        np.where(np.isfinite(spread), 0.0, np.nan),
        np.where(np.isfinite(spread), spread, np.inf),
    )
    return assemble(
        "finite-sample",
        alpha,
        (0.0, 0.0, alpha),
        target,
        (estimate, estimate),
        band,
        widths,
        n_history,
        float(n_history),
        centre,
    )


def synthetic_only(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Naive baseline: the synthetic interval at the full level, treating synthetic data as real."""
    del allocation
    synth = target.interval(alpha)
    zero = np.zeros(np.shape(target.estimate))
    widths = (synth[1] - synth[0], zero, zero)
    return assemble(
        "synthetic-only",
        alpha,
        (alpha, 0.0, 0.0),
        target,
        synth,
        (zero, zero),
        widths,
        history.n_history,
        float(history.n_history),
        0.0,
    )
