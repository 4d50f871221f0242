"""Nested tasks: cells inside exchangeable groups (a question broken down by subgroup).

When the tasks are the cells of questions (question × region, question ×
party), the cells of one question share its bias, and a new question is a new
draw of the whole group: the *groups* are exchangeable, not the cells. With
``G`` historical groups, group ``g`` holding ``n_g`` cells, two guarantees are
available, each keeping the paper's split ``α1 + α2 + α3 = α``:

``cell``
    A cell drawn at random from the new group is covered with probability at
    least ``1 − α``. The band is the group-weighted conformal quantile: each
    historical cell has mass ``(1/n_g) / (G + 1)``, the new group mass
    ``1/(G + 1)`` at ``±∞`` (Dunn, Wasserman and Ramdas, 2022; Lee, Barber and
    Willett, 2023). Synthetic intervals at ``α1``, gap intervals at ``α2``.
``group``
    Every cell of the new group is covered at once with probability at least
    ``1 − α``. Each group's score is its lowest lower and highest upper gap
    end; the band is the conformal ``Qlo``/``Qhi`` of those ``G`` scores at
    ``α3``. The union bound over cells puts the synthetic intervals of the
    ``m`` target cells at ``α1/m`` and the gap intervals of group ``g`` at
    ``α2/n_g``.

With one cell per group both reduce exactly to Algorithm 1 (``exchangeable``)
and Algorithm 4 (``finite-sample``). Proofs are in ``docs/nested.md``.
Everything here works on arrays: the historical cells on the last axis,
any leading axes (targets, Monte Carlo replications) broadcast.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer.allocation import Allocation
from synthinfer.conformal import (
    conformal_lower,
    conformal_upper,
    median_gap,
    weighted_lower,
    weighted_upper,
)
from synthinfer.intervals import IntervalFamily
from synthinfer.methods._calibration import (
    Calibration,
    FloatArray,
    History,
    assemble,
    band_widths,
)

__all__ = [
    "COVERAGES",
    "GROUP_METHODS",
    "cell_weights",
    "coverage_statement",
    "group_extremes",
    "group_gap_intervals",
    "group_sizes",
    "nested_band",
    "nested_exchangeable",
    "nested_finite_sample",
    "unsupported_with_groups",
]

COVERAGES = ("cell", "group")
"""The guarantees available with task groups."""

GROUP_METHODS = ("exchangeable", "finite-sample", "synthetic-only")
"""Methods that accept task groups (``synthetic-only`` uses no history at all)."""


def unsupported_with_groups(method: str) -> str:
    """The refusal of a method that has no task-group version."""
    return (
        f"method {method!r} does not support task groups (--task-group); use one of "
        f"{', '.join(map(repr, GROUP_METHODS))}"
    )


def coverage_statement(coverage: str) -> str:
    """One sentence saying what ``cell`` or ``group`` coverage guarantees."""
    if coverage == "group":
        return (
            "coverage 'group': all cells of a new task group covered at once with "
            "probability >= 1 - alpha (groups are the exchangeable units)"
        )
    return (
        "coverage 'cell': a cell drawn at random from a new task group covered with "
        "probability >= 1 - alpha (groups are the exchangeable units)"
    )


def _codes(groups: ArrayLike, n_tasks: int) -> NDArray[np.int_]:
    codes = np.asarray(groups)
    if codes.ndim != 1 or codes.size != n_tasks or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"task groups must be one integer code per history task ({n_tasks}), "
            f"got an array of shape {codes.shape} and type {codes.dtype}"
        )
    return codes


def group_sizes(groups: ArrayLike) -> NDArray[np.int_]:
    """The size ``n_g`` of each task's group (one entry per task)."""
    codes = np.asarray(groups)
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return counts[inverse]


def cell_weights(groups: ArrayLike) -> FloatArray:
    """Weight ``1/n_g`` of each task, so that every group counts once."""
    return 1.0 / group_sizes(groups).astype(float)


def group_extremes(
    lower: ArrayLike, upper: ArrayLike, groups: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Each group's smallest ``lower`` and largest ``upper`` along the last axis.

    Parameters
    ----------
    lower, upper : array_like
        Values over tasks (last axis), leading axes broadcast.
    groups : array_like of int
        Group code of each task.

    Returns
    -------
    tuple of ndarray
        Shapes ``(..., G)``, groups in the order of their codes.
    """
    codes = np.asarray(groups)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    lowest = np.minimum.reduceat(np.asarray(lower, dtype=float)[..., order], starts, axis=-1)
    highest = np.maximum.reduceat(np.asarray(upper, dtype=float)[..., order], starts, axis=-1)
    return lowest, highest


def nested_band(
    lower: ArrayLike, upper: ArrayLike, groups: ArrayLike, alpha: float, coverage: str
) -> tuple[FloatArray, FloatArray]:
    """The conformal gap band across groups at level ``alpha``.

    ``cell``: the weighted ``alpha/2`` and ``1 − alpha/2`` quantiles putting
    mass ``(1/n_g)/(G + 1)`` on each cell and ``1/(G + 1)`` on ``∓∞``.
    ``group``: ``Qlo_alpha`` of the groups' smallest lower ends and
    ``Qhi_alpha`` of their largest upper ends.

    Parameters
    ----------
    lower, upper : array_like
        Historical gap interval ends (or observed gaps), tasks on the last axis.
    groups : array_like of int
        Group code of each historical task.
    alpha : float
        Conformal level (``alpha3``).
    coverage : {"cell", "group"}

    Returns
    -------
    tuple of ndarray
        ``(Δ^L, Δ^U)``; infinite with fewer than ``2/alpha − 1`` groups.
    """
    if coverage not in COVERAGES:
        raise ValueError(f"coverage must be one of {COVERAGES}, got {coverage!r}")
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    if coverage == "group":
        lowest, highest = group_extremes(lower, upper, groups)
        return conformal_lower(lowest, alpha), conformal_upper(highest, alpha)
    weights = cell_weights(groups)
    return weighted_lower(lower, weights, alpha), weighted_upper(upper, weights, alpha)


def group_gap_intervals(
    gap: IntervalFamily, groups: ArrayLike, alpha2: float, coverage: str
) -> tuple[FloatArray, FloatArray]:
    """Historical gap intervals: at ``alpha2`` (``cell``) or ``alpha2 / n_g`` (``group``)."""
    if coverage != "group":
        return gap.interval(alpha2)
    sizes = group_sizes(groups)
    shape = np.shape(gap.estimate)
    lower, upper = np.empty(shape), np.empty(shape)
    for size in np.unique(sizes):
        index = np.flatnonzero(sizes == size)
        part_lower, part_upper = gap.take(index).interval(alpha2 / float(size))
        lower[..., index] = part_lower
        upper[..., index] = part_upper
    return lower, upper


def _spread(midpoint: FloatArray, groups: ArrayLike, alpha: float, coverage: str) -> FloatArray:
    """``w3``: the width of the band built from the gap midpoints."""
    low, high = nested_band(midpoint, midpoint, groups, alpha, coverage)
    return high - low


def _no_adjustment(history: History) -> None:
    if history.gap_model is not None:
        raise ValueError("covariate adjustment (--adjust) cannot be combined with task groups")


def nested_exchangeable(
    target: IntervalFamily, history: History, alpha: float, allocation: Allocation
) -> Calibration:
    """Algorithm 1 with task groups as the exchangeable units.

    ``[L~ + Δ^L, U~ + Δ^U]`` with ``[Δ^L, Δ^U]`` from :func:`nested_band` at
    ``α3``; for ``group`` coverage the synthetic interval is at
    ``α1 / history.target_cells`` and group ``g``'s gap intervals at ``α2 / n_g``.
    """
    _no_adjustment(history)
    split = allocation.split(alpha)
    alpha1, alpha2, alpha3 = split
    gap = history.require_gap("exchangeable")
    n_history = history.n_history
    cells = max(int(history.target_cells), 1) if history.coverage == "group" else 1
    synth = target.interval(alpha1 / cells)
    if n_history == 0:
        infinite = np.full(np.shape(target.estimate), np.inf)
        widths = (synth[1] - synth[0], np.nan, infinite)
        calibration = assemble(
            "exchangeable",
            alpha,
            split,
            target,
            synth,
            (-infinite, infinite),
            widths,
            0,
            0.0,
            np.nan,
        )
        return replace(calibration, n_groups=0)
    groups = _codes(history.groups, n_history)
    gap_lo, gap_hi = group_gap_intervals(gap, groups, alpha2, history.coverage)
    band = nested_band(gap_lo, gap_hi, groups, alpha3, history.coverage)
    midpoint = (gap_lo + gap_hi) / 2.0
    w2, w3 = band_widths(band[0], band[1], _spread(midpoint, groups, alpha3, history.coverage))
    centre = median_gap(midpoint, cell_weights(groups))
    calibration = assemble(
        "exchangeable",
        alpha,
        split,
        target,
        synth,
        band,
        (synth[1] - synth[0], w2, w3),
        n_history,
        float(history.n_groups or 0),
        centre,
    )
    return replace(calibration, n_groups=history.n_groups)


def nested_finite_sample(target: IntervalFamily, history: History, alpha: float) -> Calibration:
    """Algorithm 4 with task groups: ``θ~(S~) + [Δ^L, Δ^U]`` from the observed gaps.

    The whole level goes to the band across groups (:func:`nested_band`).
    """
    _no_adjustment(history)
    observed = history.require_observed("finite-sample")
    estimate = np.asarray(target.estimate, dtype=float)
    n_history = int(observed.shape[-1])
    if n_history == 0:
        band = (np.full(estimate.shape, -np.inf), np.full(estimate.shape, np.inf))
        centre: FloatArray | float = np.nan
    else:
        groups = _codes(history.groups, n_history)
        band = nested_band(observed, observed, groups, alpha, history.coverage)
        centre = median_gap(observed, cell_weights(groups))
    spread = band[1] - band[0]
    widths = (
        0.0,
        np.where(np.isfinite(spread), 0.0, np.nan),
        np.where(np.isfinite(spread), spread, np.inf),
    )
    calibration = assemble(
        "finite-sample",
        alpha,
        (0.0, 0.0, alpha),
        target,
        (estimate, estimate),
        band,
        widths,
        n_history,
        float(history.n_groups or 0),
        centre,
    )
    return replace(calibration, n_groups=history.n_groups or 0)
