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
target's own prediction-powered interval at a share ``ρ`` of the level (a
union bound; with the Student critical value of ``ppi`` by default, so that it
holds at small ``m``). The share grows with ``m`` by a rule fixed in advance
(:func:`hybrid_ppi_share`: ``ρ = min(m/(m + c), ρ_T)``, from the design only),
so that with many labels ``hybrid`` is close to ``ppi``'s width.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

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
    "HYBRID_PPI_SCALE",
    "HYBRID_PPI_SHARE",
    "design_ppi_share",
    "hybrid",
    "hybrid_calibration",
    "hybrid_ppi_share",
    "label_shrinkage",
]

HYBRID_PPI_SHARE = 0.1
"""Share of ``alpha`` given to the target's prediction-powered interval when its ``m``
is unknown (``ppi_critical="normal"`` without ``n_labelled``)."""

HYBRID_PPI_SCALE = 75.0
"""The ``c`` of :func:`hybrid_ppi_share`: the share is ``m/(m + c)`` below its cap."""

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


def hybrid_ppi_share(
    m: float,
    n_history: int,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
    *,
    scale: float = HYBRID_PPI_SCALE,
) -> float:
    """The share ``ρ`` of ``alpha`` that :func:`hybrid` gives the target's PPI interval.

    ``ρ = min(m/(m + c), ρ_T)`` with ``c = scale`` (:data:`HYBRID_PPI_SCALE`), and
    ``ρ = 0`` at ``m = 0``. ``ρ_T`` is the largest share that leaves a finite
    conformal band for ``n_history`` tasks at the level ``(1 − ρ)·alpha``
    split by ``allocation`` (0 when ``n_history`` is too small even at
    ``alpha``). The share is a function of the design alone (``m``, ``T``,
    ``alpha``, the allocation), never of a response, so the union bound of
    ``docs/hybrid.md`` holds with it.

    Parameters
    ----------
    m : float
        The target's number of labelled pairs (``>= 0``).
    n_history : int
        Number ``T`` of history tasks the band ranks.
    alpha : float
        Miscoverage level of the whole interval.
    allocation : Allocation
        Split of the band's level; for ``auto``, ``ρ_T`` is that of the paper's
        ``prop:0.1,0.2,0.7`` (the split ``auto`` aims its band rank at), so that
        ``auto`` resolved at ``(1 − ρ)·alpha`` keeps a rank-one band.
    scale : float
        The constant ``c > 0``, fixed in advance (the default was chosen from
        the simulations of ``benchmarks/hybrid_widths.py``).

    Returns
    -------
    float
        ``ρ`` in ``[0, 1)``.

    Examples
    --------
    >>> hybrid_ppi_share(75, 100, 0.1)
    0.5
    >>> round(hybrid_ppi_share(1000, 100, 0.1), 4)  # the cap: 1 − 2/(101 · 0.07)
    0.7171
    >>> hybrid_ppi_share(0, 100, 0.1)
    0.0
    """
    m = float(m)
    if not (math.isfinite(m) and m >= 0):
        raise ValueError(f"m (the target's labelled pairs) must be a number >= 0, got {m!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if m == 0:
        return 0.0
    cap = _largest_share(int(n_history), float(alpha), Allocation.parse(allocation))
    return min(m / (m + scale), cap)


@lru_cache(maxsize=1024)
def _largest_share(n_history: int, alpha: float, allocation: Allocation) -> float:
    """``ρ_T``: the largest share keeping the band finite at ``(1 − ρ)·alpha`` (bisection)."""
    if not _finite_band(n_history, alpha, allocation):
        return 0.0
    feasible, infeasible = 0.0, 1.0
    for _ in range(60):
        middle = (feasible + infeasible) / 2.0
        if _finite_band(n_history, alpha * (1.0 - middle), allocation):
            feasible = middle
        else:
            infeasible = middle
    return feasible


def _finite_band(n_history: int, level: float, allocation: Allocation) -> bool:
    """Whether ``n_history`` tasks give a finite band at ``level`` split by ``allocation``."""
    if level <= 0.0:
        return False
    if allocation.is_auto:
        allocation = DEFAULT_ALLOCATION
    if allocation.kind == "abs" and level - sum(allocation.values) <= 1e-15:
        return False  # nothing left for alpha3
    return min_history(allocation.split(level)[2]) <= n_history


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
    ``history.ppi_critical`` (:func:`synthinfer.methods.ppi_interval`). The
    share is :func:`hybrid_ppi_share` of the target's ``m``
    (``history.n_labelled``): ``ρ = 0`` for a target without labels (the band
    is then Algorithm 1's), for the Student critical value without ``m``, or
    with too few history tasks for a finite band below ``α``; ``ρ =``
    :data:`HYBRID_PPI_SHARE` for the normal critical value without ``m``.

    Parameters
    ----------
    target : IntervalFamily
        Synthetic interval family of the current task(s).
    history : History
        Needs ``gap``, ``label_gap``, ``label_gap_se``, ``target_label_gap``,
        ``target_label_gap_se`` and ``labelled``; ``n_labelled`` for the PPI share.
        The labelled targets of one call share one ``m``.
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
    return hybrid_calibration(target, history, alpha, allocation, ppi_share=None)


def hybrid_calibration(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
    *,
    ppi_share: float | None = None,
) -> Calibration:
    """:func:`hybrid` with the PPI share ``ppi_share`` in ``[0, 1)`` (0: no intersection).

    Any share fixed before seeing the data keeps the guarantee; ``None`` (the
    default) is the design share of :func:`hybrid`, :func:`hybrid_ppi_share`.
    A fixed share that leaves the band infinite is dropped (the band gets ``α``).
    """
    if ppi_share is not None and not 0.0 <= ppi_share < 1.0:
        raise ValueError(f"ppi_share must lie in [0, 1), got {ppi_share!r}")
    gap = history.require_gap("hybrid")
    if history.gap_model is not None:
        raise ValueError(
            "method 'hybrid' already predicts each task's gap from its labels: it cannot be "
            "combined with --adjust; run 'hybrid' without it (task weights are not used)"
        )
    _, _, target_gap, target_se, _ = _label_inputs(history)
    has_labels = np.isfinite(target_gap) & np.isfinite(target_se)
    if ppi_share is None:
        ppi_share = design_ppi_share(history, alpha, allocation, has_labels)
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


def design_ppi_share(
    history: History,
    alpha: float,
    allocation: Allocation,
    has_labels: NDArray[np.bool_] | None = None,
) -> float:
    """The share :func:`hybrid` uses for ``history``'s labelled targets (one ``m``).

    :func:`hybrid_ppi_share` of the labelled targets' ``history.n_labelled``;
    0 without labels or without ``m`` under the Student critical value,
    :data:`HYBRID_PPI_SHARE` for the normal critical value without ``m``.
    ``has_labels`` defaults to the targets with a finite label gap.
    """
    if has_labels is None:
        if history.target_label_gap is None:
            return 0.0
        has_labels = np.isfinite(np.asarray(history.target_label_gap, dtype=float))
    if not bool(np.any(has_labels)):
        return 0.0
    if history.n_labelled is None:
        return HYBRID_PPI_SHARE if history.ppi_critical == "normal" else 0.0
    counts = np.broadcast_to(np.asarray(history.n_labelled, dtype=float), np.shape(has_labels))
    distinct = np.unique(counts[has_labels])
    if distinct.size != 1:
        raise ValueError(
            "method 'hybrid' splits alpha by the target's number m of labelled pairs, and "
            f"the targets of one call have different m ({_listed(distinct)}): calibrate the "
            "targets of each m separately"
        )
    return hybrid_ppi_share(float(distinct[0]), history.n_history, alpha, allocation)


def _listed(values: NDArray[np.float64]) -> str:
    """Up to five values, comma-separated (``…`` when there are more)."""
    shown = ", ".join(f"{v:g}" for v in values[:5])
    return shown + (", …" if values.size > 5 else "")


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
