"""Method ``ppi``: prediction-powered inference from the target's own labelled pairs.

The target's PPI interval is read with a critical value (``ppi_critical``):

* ``"student"`` (default): the ``ppi_py`` half-width scaled by
  :func:`synthinfer.intervals.ppi_student_factor`, which needs the number
  ``m`` of labelled pairs and keeps the level at small ``m``;
* ``"normal"``: ``ppi_py``'s Wald interval exactly (it undercovers at small ``m``).

Both ``ppi`` and ``hybrid`` read it through :func:`ppi_interval`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.intervals import IntervalFamily, PPIQuantileInterval, ppi_student_factor
from synthinfer.methods._calibration import (
    Calibration,
    FloatArray,
    History,
    MissingInputError,
    assemble,
)

__all__ = [
    "NEEDS_LABEL_COUNT",
    "NEEDS_PPI_LABELS",
    "PPI_CRITICAL",
    "ppi",
    "ppi_interval",
    "student_ppi",
]

PPI_CRITICAL = ("student", "normal")
"""Critical values of the PPI interval: Student (valid at small ``m``, default) or ``ppi_py``'s."""

NEEDS_PPI_LABELS = (
    "method 'ppi' needs the target's labelled pairs (units with both a real and a synthetic "
    "answer in a unit-level table with 'unit'; name the target with --target), or the "
    "columns 'ppi_estimate' and 'ppi_se' in a summary table"
)
"""Why ``ppi`` refuses a target without labels."""

NEEDS_LABEL_COUNT = (
    "method 'ppi' with the Student critical value (ppi_critical='student', the default) needs "
    "the target's number m of labelled pairs: add a column 'n_labelled' to the summary table "
    "(the m behind 'ppi_estimate' and 'ppi_se'), or ask for ppi_py's normal interval with "
    "ppi_critical='normal' (--ppi-critical normal), which undercovers at small m"
)
"""Why the Student PPI interval refuses a target whose ``m`` is unknown."""


def student_ppi(
    labelled: IntervalFamily, level: float, n_labelled: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """The PPI interval at ``level`` with the Student critical value, from ``m`` pairs.

    A Wald family (PPI++ for a mean, ``λ`` tuned on the pairs) keeps its
    centre and has its half-width scaled by ``ppi_student_factor(level, m,
    fitted=2)``; a quantile family uses Student p-values on ``m − 1`` degrees
    of freedom (:meth:`PPIQuantileInterval.interval`). Infinite when ``m ≤ 2``
    (a mean) or ``m < 2`` (a quantile).

    Parameters
    ----------
    labelled : IntervalFamily
        The target's PPI family (:class:`WaldInterval` or :class:`PPIQuantileInterval`).
    level : float
        Miscoverage level.
    n_labelled : array_like
        Number ``m`` of labelled pairs, broadcast against the family.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper ends.
    """
    if isinstance(labelled, PPIQuantileInterval):
        return labelled.interval(level, n_labelled=n_labelled)
    lower, upper = labelled.interval(level)
    factor = ppi_student_factor(level, n_labelled, fitted=2)
    with np.errstate(invalid="ignore"):
        half = (upper - lower) / 2.0 * factor
        centre = (lower + upper) / 2.0
    infinite = np.isinf(factor) | ~np.isfinite(half) | ~np.isfinite(centre)
    return np.where(infinite, -np.inf, centre - half), np.where(infinite, np.inf, centre + half)


def ppi_interval(
    labelled: IntervalFamily,
    level: float,
    n_labelled: ArrayLike | None,
    critical: str = "student",
) -> tuple[FloatArray, FloatArray]:
    """The target's PPI interval at ``level`` with the critical value ``critical``.

    Parameters
    ----------
    labelled : IntervalFamily
        The target's PPI family.
    level : float
        Miscoverage level.
    n_labelled : array_like or None
        Number ``m`` of labelled pairs (needed for ``"student"``).
    critical : {"student", "normal"}
        ``"student"``: :func:`student_ppi`; ``"normal"``: ``ppi_py``'s interval.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper ends.

    Raises
    ------
    MissingInputError
        For ``"student"`` without ``n_labelled``.
    """
    if critical == "normal":
        return labelled.interval(level)
    if critical != "student":
        raise ValueError(f"ppi_critical must be 'student' or 'normal', got {critical!r}")
    if n_labelled is None:
        raise MissingInputError(NEEDS_LABEL_COUNT)
    return student_ppi(labelled, level, n_labelled)


def ppi(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """The target's prediction-powered interval at the full level ``alpha``.

    No history enters: the interval is ``history.labelled`` (PPI++ for a
    mean, the rectified-CDF interval for a quantile) at ``alpha``, with the
    critical value ``history.ppi_critical`` (:func:`ppi_interval`). It is
    reported as the "synthetic" interval with a zero gap band, so ``w1`` is
    its width and ``w2 = w3 = 0``; ``estimate`` is the PPI point estimate and
    ``synth_estimate`` the target's synthetic estimate.

    Parameters
    ----------
    target : IntervalFamily
        Synthetic interval family of the current task(s) (for ``synth_estimate``).
    history : History
        Needs ``labelled``, the target's PPI family, and ``n_labelled`` for
        the Student critical value.
    alpha : float
        Miscoverage level.
    allocation : Allocation
        Unused (the whole level goes to the PPI interval).

    Returns
    -------
    Calibration
        ``alpha1 = alpha``, ``alpha2 = alpha3 = 0``, ``n_history = 0``.

    Raises
    ------
    MissingInputError
        When the target has no labelled pairs, or (Student) no label count.
    """
    del allocation
    labelled = history.labelled
    if labelled is None:
        raise MissingInputError(NEEDS_PPI_LABELS)
    lower, upper = ppi_interval(labelled, alpha, history.n_labelled, history.ppi_critical)
    zero = np.zeros(np.broadcast_shapes(np.shape(lower), np.shape(target.estimate)))
    centre = np.asarray(labelled.estimate, dtype=float) - np.asarray(target.estimate, dtype=float)
    return assemble(
        "ppi",
        alpha,
        (alpha, 0.0, 0.0),
        target,
        (lower, upper),
        (zero, zero),
        (upper - lower, zero, zero),
        0,
        0.0,
        centre,
    )
