"""Method ``hybrid``: the target's few labelled pairs and the history's gap band together.

The target has ``m`` labelled pairs (units with a real and a synthetic answer),
so its gap ``Δ = θ − θ~`` has an unbiased estimate ``g`` with standard error
``s``. Every history task gets the same covariate ``(g_j, s_j)`` from a seeded
random subsample of ``m`` of its labelled pairs. From the ``T + 1`` covariates
alone (history and target together, a symmetric function of the tasks) an
empirical-Bayes shrinkage predicts each task's gap,

    f_j = μ + B (g_j − μ),   μ = mean(g),   B = τ² / (τ² + mean(s²)),
    τ² = max(0, var(g) − mean(s²)),

and the residuals of the history gap-interval ends, ``Δ^L_j − f_j`` and
``Δ^U_j − f_j``, are calibrated with the conformal quantiles of Algorithm 1.
Because ``f`` never looks at a response, the residuals of the ``T + 1`` tasks
are exchangeable whenever the tasks together with their ``m``-subsamples are,
and the band ``f_{T+1} + [Qlo, Qhi]`` keeps the guarantee of Algorithm 1 (see
``docs/hybrid.md`` for the proof). Finally the interval is intersected with the
target's own prediction-powered interval at a share of the level (a union
bound; with the Student critical value of ``ppi`` by default, so that it holds
at small ``m``), so that with many labels it is never much wider than ``ppi``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import conformal_lower, conformal_upper, min_history
from synthinfer.intervals import IntervalFamily
from synthinfer.methods._calibration import (
    Calibration,
    FloatArray,
    History,
    MissingInputError,
    assemble,
    band_widths,
)
from synthinfer.methods._ppi import ppi_interval

__all__ = [
    "HYBRID_PPI_SHARE",
    "hybrid",
    "hybrid_calibration",
    "label_shrinkage",
]

HYBRID_PPI_SHARE = 0.1
"""Share of ``alpha`` given to the target's prediction-powered interval (fixed in advance)."""

NEEDS_LABELS = (
    "method 'hybrid' needs the target's labelled pairs (units with both a real and a "
    "synthetic answer): name the target with --target and give it a few labelled units"
)


def label_shrinkage(
    label_gap: FloatArray,
    label_gap_se: FloatArray,
    target_label_gap: FloatArray,
    target_label_gap_se: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Empirical-Bayes gap predictions from the label gaps of all ``T + 1`` tasks.

    Parameters
    ----------
    label_gap, label_gap_se : ndarray
        History tasks' label-gap estimates and standard errors, tasks on the last axis.
    target_label_gap, target_label_gap_se : ndarray
        The target's, shape of the leading axes.

    Returns
    -------
    history_prediction : ndarray
        ``f_j`` for the history tasks, shape ``(..., T)``.
    target_prediction : ndarray
        ``f_{T+1}``, shape ``(...)``.
    shrinkage : ndarray
        The common factor ``B`` in ``[0, 1]``, shape ``(...)``.

    Notes
    -----
    ``μ``, ``τ²`` and ``B`` are symmetric functions of the ``T + 1`` covariates
    and use no gap interval, which is what keeps the residuals exchangeable.
    """
    gaps = _stacked(label_gap, target_label_gap)
    variances = _stacked(label_gap_se, target_label_gap_se) ** 2
    centre = gaps.mean(axis=-1, keepdims=True)
    noise = variances.mean(axis=-1, keepdims=True)
    ddof = 1 if gaps.shape[-1] > 1 else 0
    spread = np.maximum(gaps.var(axis=-1, ddof=ddof, keepdims=True) - noise, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shrinkage = np.where(spread + noise > 0, spread / (spread + noise), 1.0)
    prediction = centre + shrinkage * (gaps - centre)
    return prediction[..., :-1], prediction[..., -1], shrinkage[..., 0]


def _stacked(history_values: FloatArray, target_values: FloatArray) -> FloatArray:
    """History values ``(..., T)`` and the target's ``(...)`` as one ``(..., T + 1)`` array."""
    history_values = np.asarray(history_values, dtype=float)
    target_values = np.asarray(target_values, dtype=float)[..., None]
    shape = np.broadcast_shapes(history_values.shape[:-1], target_values.shape[:-1])
    return np.concatenate(
        [
            np.broadcast_to(history_values, (*shape, history_values.shape[-1])),
            np.broadcast_to(target_values, (*shape, 1)),
        ],
        axis=-1,
    )


def _label_inputs(
    history: History,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntervalFamily]:
    """The four label arrays and the target's PPI family, checked; clear errors otherwise."""
    arrays = (
        history.label_gap,
        history.label_gap_se,
        history.target_label_gap,
        history.target_label_gap_se,
    )
    if history.labelled is None or any(values is None for values in arrays):
        raise MissingInputError(NEEDS_LABELS)
    gap, gap_se, target_gap, target_se = (np.asarray(v, dtype=float) for v in arrays)
    if np.shape(gap)[-1] != history.n_history:
        raise ValueError(
            f"method 'hybrid': label_gap has {np.shape(gap)[-1]} history tasks but the gap "
            f"intervals have {history.n_history}; compute both for the same history tasks"
        )
    for name, values in (("label_gap_se", gap_se), ("target_label_gap_se", target_se)):
        if np.any(values < 0):
            raise ValueError(f"method 'hybrid': {name} must be non-negative standard errors")
    if np.any(np.isfinite(target_gap) & ~np.isfinite(target_se)) or np.any(
        np.isfinite(gap) & ~np.isfinite(gap_se)
    ):
        raise ValueError(
            "method 'hybrid' needs a standard error for every label gap, and some are "
            "missing (NaN; a quantile's label gap has none): use 'ppi' or 'exchangeable' "
            "for this estimand"
        )
    labelled = np.isfinite(target_gap) & np.isfinite(target_se)
    history_ok = np.all(np.isfinite(gap) & np.isfinite(gap_se), axis=-1)
    if np.any(labelled & ~np.broadcast_to(history_ok, labelled.shape)):
        raise ValueError(
            "method 'hybrid': some history tasks have no label gap or no standard error "
            "(NaN) while the target has labels; every history task needs at least m labelled "
            "pairs (m = the target's number of labelled units): drop those tasks or lower m"
        )
    return gap, gap_se, target_gap, target_se, history.labelled


def hybrid(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Hybrid of the target's labels and the history: shrinkage-conformal band ∩ PPI.

    ``[L~ + f + Qlo_{α3}(Δ^L − f_hist), U~ + f + Qhi_{α3}(Δ^U − f_hist)]`` at the
    level ``(1 − ρ)·α`` split by ``allocation``, intersected with the target's
    prediction-powered interval at ``ρ·α`` with the critical value
    ``history.ppi_critical`` (:func:`synthinfer.methods.ppi_interval`; ``ρ =``
    :data:`HYBRID_PPI_SHARE`). ``ρ = 0`` for a target without labels (the
    band is then Algorithm 1's), for the Student critical value without
    ``history.n_labelled``, or with too few history tasks for a finite band
    at ``(1 − ρ)·α``.

    Parameters
    ----------
    target : IntervalFamily
        Synthetic interval family of the current task(s).
    history : History
        Needs ``gap``, ``label_gap``, ``label_gap_se``, ``target_label_gap``,
        ``target_label_gap_se`` and ``labelled``; ``n_labelled`` for the PPI share.
    alpha : float
        Miscoverage level.
    allocation : Allocation
        Split of the band's level ``(1 − ρ)·α`` into ``(α1, α2, α3)``.

    Returns
    -------
    Calibration
        ``alpha1 + alpha2 + alpha3 = (1 − ρ)·alpha``; ``w1`` (synthetic noise),
        ``w2`` (history and label noise) and ``w3`` (gap spread the labels do not
        explain) describe the band's interval, scaled by the share of it the
        intersection with the PPI interval keeps, so that ``w1 + w2 + w3`` is
        the reported width.
    """
    return hybrid_calibration(target, history, alpha, allocation, ppi_share=HYBRID_PPI_SHARE)


def hybrid_calibration(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
    *,
    ppi_share: float = HYBRID_PPI_SHARE,
) -> Calibration:
    """:func:`hybrid` with the PPI share ``ppi_share`` in ``[0, 1)`` (0: no intersection).

    Any share fixed before seeing the data keeps the guarantee; :func:`hybrid`
    uses :data:`HYBRID_PPI_SHARE`.
    """
    if not 0.0 <= ppi_share < 1.0:
        raise ValueError(f"ppi_share must lie in [0, 1), got {ppi_share!r}")
    gap = history.require_gap("hybrid")
    if history.gap_model is not None:
        raise ValueError(
            "method 'hybrid' already predicts each task's gap from its labels: it cannot be "
            "combined with --adjust; run 'hybrid' without it (task weights are not used)"
        )
    _, _, target_gap, target_se, _ = _label_inputs(history)
    has_labels = np.isfinite(target_gap) & np.isfinite(target_se)
    if history.n_labelled is None and history.ppi_critical == "student":
        ppi_share = 0.0  # without m the Student PPI interval cannot be formed
    band_alpha = _band_level(alpha, allocation, history.n_history, ppi_share, has_labels)
    split = allocation.split(band_alpha)
    alpha1, alpha2, alpha3 = split
    synth = target.interval(alpha1)
    n_history = history.n_history
    if n_history == 0:
        infinite = np.full(np.shape(target.estimate), np.inf)
        widths = (synth[1] - synth[0], np.nan, infinite)
        band = (-infinite, infinite)
        calibration = assemble("hybrid", alpha, split, target, synth, band, widths, 0, 0.0, 0.0)
        return _with_ppi(calibration, history, alpha - band_alpha, has_labels)
    band, widths, centre = _shrinkage_band(history, gap, has_labels, (alpha2, alpha3))
    calibration = assemble(
        "hybrid",
        alpha,
        split,
        target,
        synth,
        band,
        (synth[1] - synth[0], *widths),
        n_history,
        n_history,
        centre,
    )
    return _with_ppi(calibration, history, alpha - band_alpha, has_labels)


def _shrinkage_band(
    history: History,
    gap: IntervalFamily,
    has_labels: NDArray[np.bool_],
    levels: tuple[float, float],
) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray], FloatArray]:
    """The conformal band of the residuals ``Δ^{L,U}_j − f_j`` around ``f_{T+1}``.

    Returns the band ``(Δ^L, Δ^U)``, its widths ``(w2, w3)`` and the centre
    ``f_{T+1} + median(mid_j − f_j)``; targets without labels get ``f ≡ 0``.
    """
    alpha2, alpha3 = levels
    history_fit, target_fit, _ = label_shrinkage(
        np.where(has_labels[..., None], history.label_gap, 0.0),
        np.where(has_labels[..., None], history.label_gap_se, 0.0),
        np.where(has_labels, history.target_label_gap, 0.0),
        np.where(has_labels, history.target_label_gap_se, 0.0),
    )
    gap_lo, gap_hi = gap.interval(alpha2)
    band = (
        target_fit + conformal_lower(gap_lo - history_fit, alpha3),
        target_fit + conformal_upper(gap_hi - history_fit, alpha3),
    )
    residual = (gap_lo + gap_hi) / 2.0 - history_fit
    spread = conformal_upper(residual, alpha3) - conformal_lower(residual, alpha3)
    return band, band_widths(band[0], band[1], spread), target_fit + np.median(residual, axis=-1)


def _band_level(
    alpha: float,
    allocation: Allocation,
    n_history: int,
    ppi_share: float,
    has_labels: NDArray[np.bool_],
) -> float:
    """The band's level: ``(1 − ρ)·α``, or ``α`` without labels or with too few history tasks.

    With fewer history tasks than a finite band at ``(1 − ρ)·α`` needs, the
    whole level goes to the band: it is then finite when ``T`` suffices at
    ``α``, and otherwise infinite with a message saying how many tasks are
    needed (``ppi`` is the method for a target without a usable history).
    The choice depends on the design alone (``T``, ``α``, the allocation and
    whether the target has labels), never on the data, so the guarantee holds.
    """
    shared = alpha * (1.0 - ppi_share)
    if ppi_share == 0.0 or not bool(np.any(has_labels)):
        return alpha
    if min_history(allocation.split(shared)[2]) > n_history:
        return alpha
    return shared


def _with_ppi(
    calibration: Calibration,
    history: History,
    ppi_alpha: float,
    has_labels: NDArray[np.bool_],
) -> Calibration:
    """Intersect the band's interval with the target's PPI interval at ``ppi_alpha``.

    Two valid intervals that do not meet (a rare miss of one of them) are
    replaced by their hull, a superset; the widths are rescaled so that
    ``w1 + w2 + w3`` stays the reported width.
    """
    if ppi_alpha <= 0.0 or history.labelled is None:
        return calibration
    shape = calibration.lower.shape
    ppi = ppi_interval(history.labelled, ppi_alpha, history.n_labelled, history.ppi_critical)
    ppi_lo, ppi_hi = (np.broadcast_to(v, shape) for v in ppi)
    use = np.broadcast_to(has_labels, shape)
    lower = np.where(use, np.maximum(calibration.lower, ppi_lo), calibration.lower)
    upper = np.where(use, np.minimum(calibration.upper, ppi_hi), calibration.upper)
    disjoint = lower > upper
    lower = np.where(disjoint, np.minimum(calibration.lower, ppi_lo), lower)
    upper = np.where(disjoint, np.maximum(calibration.upper, ppi_hi), upper)
    band_width = calibration.upper - calibration.lower
    width = upper - lower
    finite = np.isfinite(width)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(
            finite & np.isfinite(band_width) & (band_width > 0), width / band_width, 1.0
        )
    w1 = np.where(finite & ~np.isfinite(band_width), width, calibration.w1 * scale)
    w2 = np.where(finite & ~np.isfinite(band_width), 0.0, calibration.w2 * scale)
    w3 = np.where(finite & ~np.isfinite(band_width), 0.0, calibration.w3 * scale)
    estimate = np.clip(calibration.estimate, lower, upper)
    return _replaced(calibration, lower, upper, (w1, w2, w3), estimate)


def _replaced(
    calibration: Calibration,
    lower: FloatArray,
    upper: FloatArray,
    widths: tuple[FloatArray, FloatArray, FloatArray],
    estimate: FloatArray,
) -> Calibration:
    return replace(
        calibration,
        lower=lower,
        upper=upper,
        w1=widths[0],
        w2=widths[1],
        w3=widths[2],
        estimate=estimate,
        feasible=np.isfinite(lower) & np.isfinite(upper),
    )
