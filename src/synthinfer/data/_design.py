"""The allocation of one calibration, chosen from its design when it is ``auto``."""

from __future__ import annotations

import numpy as np

from synthinfer.adjust import SplitConformalGapModel
from synthinfer.allocation import AUTO_ALLOCATION, Allocation
from synthinfer.data._estimand import TaskStatistics
from synthinfer.methods import History, design_ppi_share

__all__ = ["design_allocation"]


def design_allocation(
    allocation: Allocation, method: str, alpha: float, history: History, stats: TaskStatistics
) -> Allocation:
    """The allocation of one target, coordinate, method and level (``auto`` resolved).

    ``auto`` (:func:`synthinfer.allocation.auto_allocation`) sees only the
    design: the number of tasks the conformal step ranks (the weight total for
    ``weighted``, the calibration tasks of a split-conformal adjustment), the
    per-coordinate level, and the coordinate's standard errors
    (:attr:`TaskStatistics.design_ses`); never the gaps.

    Parameters
    ----------
    allocation : Allocation
        The allocation asked for; ``prop`` and ``abs`` are returned unchanged.
    method : str
        The method (``task-only`` puts its gap intervals at ``alpha2 / T``).
    alpha : float
        The per-coordinate level ``alpha / D``.
    history : History
        The target's history.
    stats : TaskStatistics
        The coordinate's per-task statistics.

    Returns
    -------
    Allocation
    """
    if not allocation.is_auto:
        return allocation
    n_history = history.n_history
    ranked: float = n_history
    if history.groups is not None:  # the conformal step ranks task groups
        ranked = float(history.n_groups or 0)
    elif method == "weighted" and history.weights is not None:
        ranked = float(np.sum(history.weights))
    elif isinstance(history.gap_model, SplitConformalGapModel):
        # as synthinfer.adjust's split: round(fraction·T) tasks fit (1..T-1), the rest calibrate
        fitted = round(history.gap_model.fit_fraction * n_history)
        ranked = n_history - (min(max(fitted, 1), n_history - 1) if n_history >= 2 else 0)
    synth_se, gap_se = stats.design_ses
    return allocation.resolve(
        _band_level(method, alpha, history),
        ranked,
        synth_se=synth_se,
        gap_se=gap_se,
        gap_divisor=max(n_history, 1) if method == "task-only" else 1,
    )


def _band_level(method: str, alpha: float, history: History) -> float:
    """The level the conformal band of ``method`` gets: ``hybrid`` with labels keeps the
    share :func:`synthinfer.methods.design_ppi_share` of it for the PPI interval (from
    ``m``, ``T``, ``alpha`` and the allocation only), so ``auto`` splits the rest."""
    if method != "hybrid" or history.target_label_gap is None or history.gap_model is not None:
        return alpha
    return alpha * (1.0 - design_ppi_share(history, alpha, AUTO_ALLOCATION))
