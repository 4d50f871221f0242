"""What a method returns (:class:`Calibration`) and what history gives it (:class:`History`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from synthinfer.conformal import (
    min_history,
)
from synthinfer.intervals import IntervalFamily

__all__ = [
    "Calibration",
    "FloatArray",
    "GapModel",
    "History",
    "MissingInputError",
    "assemble",
    "band_widths",
]

FloatArray = NDArray[np.float64]


class MissingInputError(ValueError):
    """A method needs an input (a column, weights) that the data does not have."""


@runtime_checkable
class GapModel(Protocol):
    """A covariate-adjusted conformal band for one target (see ``synthinfer.adjust``).

    ``band`` receives the historical gap interval ends ``lower``/``upper``
    (shape ``(T,)``; equal for observed gaps), their covariates ``(T, p)``, the
    target's covariates ``(p,)`` and the conformal level, and returns
    ``(gap_lower, gap_upper, spread)`` where ``spread`` is the band's width
    computed from the gap midpoints (the ``w3`` part).
    """

    def band(
        self,
        lower: FloatArray,
        upper: FloatArray,
        covariates: FloatArray,
        target_covariates: FloatArray,
        alpha: float,
    ) -> tuple[float, float, float]:
        """Return ``(gap_lower, gap_upper, spread)`` for one target."""
        ...


@dataclass(frozen=True)
class History:
    """What the historical tasks contribute.

    Parameters
    ----------
    gap : IntervalFamily or None
        Gap interval family ``θ − θ~`` of the historical tasks (tasks on the
        last axis); ``None`` when no gap standard errors exist.
    observed : ndarray or None
        Observed gaps ``θ̂(S_j) − θ̂(S~_j)`` (for ``finite-sample``).
    weights : ndarray or None
        Task weights in ``[0, 1]`` (for ``weighted``).
    covariates : ndarray or None
        Covariates of the historical tasks, shape ``(T, p)``, for ``gap_model``.
    target_covariates : ndarray or None
        Covariates of the target(s), shape ``(..., p)``.
    gap_model : GapModel or None
        Covariate-adjusted band; when given, it replaces the plain conformal
        quantiles (a one-dimensional history is required).
    labelled : IntervalFamily or None
        The target's own prediction-powered interval family, from its
        labelled pairs (for ``ppi`` and ``hybrid``); leading axes as the target.
    label_gap, label_gap_se : ndarray or None
        Each history task's gap estimate from ``m`` of its labelled pairs (a
        seeded random subsample, ``m`` the target's number of labelled
        units) and its standard error, tasks on the last axis (for ``hybrid``).
    target_label_gap, target_label_gap_se : ndarray or None
        The target's gap estimate from its own ``m`` labelled pairs and its
        standard error (for ``hybrid``).
    n_labelled : ndarray or None
        The target's number ``m`` of labelled pairs (leading axes as the
        target): the Student critical value of the PPI interval needs it
        (``ppi`` refuses without it; ``hybrid`` then does not intersect with
        the PPI interval; see ``docs/labels.md``).
    ppi_critical : {"student", "normal"}
        Critical value of the target's PPI interval in ``ppi`` and ``hybrid``:
        Student (valid at small ``m``) or ``ppi_py``'s normal one.
    groups : ndarray of int or None
        Task-group code of each historical task (shape ``(T,)``): groups, not
        tasks, are the exchangeable units (see ``synthinfer.methods._nested``).
    coverage : {"cell", "group"}
        With ``groups``: cover a random cell of the target's group, or all of
        its cells at once.
    target_cells : int
        With ``groups``: the number of cells of the target's group (``group``
        coverage bounds its synthetic intervals by a union over them).
    """

    gap: IntervalFamily | None = None
    observed: FloatArray | None = None
    weights: FloatArray | None = None
    covariates: FloatArray | None = None
    target_covariates: FloatArray | None = None
    gap_model: GapModel | None = None
    labelled: IntervalFamily | None = None
    label_gap: FloatArray | None = None
    label_gap_se: FloatArray | None = None
    target_label_gap: FloatArray | None = None
    target_label_gap_se: FloatArray | None = None
    n_labelled: FloatArray | None = None
    ppi_critical: str = "student"
    groups: NDArray[np.int_] | None = None
    coverage: str = "cell"
    target_cells: int = 1
    missing_gap_reason: str = field(default="the data has no 'gap_se' column", repr=False)

    @property
    def n_groups(self) -> int | None:
        """Number of historical task groups, or ``None`` without groups."""
        if self.groups is None:
            return None
        return int(np.unique(self.groups).size)

    @property
    def n_history(self) -> int:
        """Number ``T`` of historical tasks."""
        if self.gap is not None:
            return int(np.shape(self.gap.estimate)[-1])
        if self.observed is not None:
            return int(np.shape(self.observed)[-1])
        return 0

    def require_gap(self, method: str) -> IntervalFamily:
        """The gap family, or a clear error naming ``gap_se`` and the method."""
        if self.gap is None:
            raise MissingInputError(
                f"method '{method}' needs gap standard errors (column 'gap_se'), but "
                f"{self.missing_gap_reason}; add 'gap_se' to the table or use "
                f"'finite-sample' or 'synthetic-only'"
            )
        return self.gap

    def require_observed(self, method: str) -> FloatArray:
        """The observed gaps, or a clear error."""
        needs = "observed gaps (columns 'gap_estimate' or 'real_estimate') for the history tasks"
        return required(self.observed, method, needs)

    def require_weights(self, method: str) -> FloatArray:
        """The task weights, or a clear error."""
        needs = (
            "task weights: add a 'task_weight' column (values in [0, 1]) or give a recency "
            "decay (--decay RHO) with a 'time' column"
        )
        return required(self.weights, method, needs)


def required(values: FloatArray | None, method: str, needs: str) -> FloatArray:
    """``values`` as a float array, or :class:`MissingInputError` saying what ``method`` needs."""
    if values is None:
        raise MissingInputError(f"method '{method}' needs {needs}")
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class Calibration:
    """Arrays over targets describing calibrated intervals (before clipping).

    Attributes
    ----------
    method : str
        The method (a key of :data:`METHODS`): ``exchangeable``, ``weighted``,
        ``finite-sample``, ``task-only``, ``synthetic-only``, ``hybrid`` or ``ppi``.
    alpha, alpha1, alpha2, alpha3 : float
        The level and its split.
    estimate : ndarray
        Calibrated point estimate: the synthetic estimate plus the median
        history gap (weighted for ``weighted``; the centre of the adjusted band
        under covariate adjustment; no correction for ``synthetic-only``).
        NaN without history.
    synth_lower, synth_upper : ndarray
        Synthetic interval at ``alpha1``.
    gap_lower, gap_upper : ndarray
        Conformal gap band ``[Δ^L, Δ^U]``.
    lower, upper : ndarray
        Final interval ``[L~ + Δ^L, U~ + Δ^U]``.
    w1, w2, w3 : ndarray
        Width decomposition (``w2`` is NaN when the band is infinite).
    feasible : ndarray of bool
        Whether the interval is finite.
    n_history : int
        Number of historical tasks.
    n_effective : ndarray
        Effective number of historical tasks (Kish; equals ``n_history``
        without weights; the number of task groups with groups).
    n_groups : int or None
        Number of historical task groups (``None`` without groups).
    """

    method: str
    alpha: float
    alpha1: float
    alpha2: float
    alpha3: float
    estimate: FloatArray
    synth_lower: FloatArray
    synth_upper: FloatArray
    gap_lower: FloatArray
    gap_upper: FloatArray
    lower: FloatArray
    upper: FloatArray
    w1: FloatArray
    w2: FloatArray
    w3: FloatArray
    feasible: NDArray[np.bool_]
    n_history: int
    n_effective: FloatArray
    synth_estimate: FloatArray
    weight_total: FloatArray | None = None
    n_groups: int | None = None

    @property
    def message(self) -> str:
        """Why the interval is infinite, or an empty string."""
        if bool(np.all(self.feasible)):
            return ""
        if self.method == "synthetic-only":
            return "the synthetic interval itself is infinite"
        if self.method == "ppi":
            return (
                "the target's PPI interval is infinite: too few labelled pairs for the Student "
                "critical value (a mean needs m >= 3, a quantile m >= 2), or the quantile grid "
                "accepted no value at this level (add labelled pairs or raise alpha)"
            )
        if self.weight_total is not None:
            total = float(np.min(self.weight_total))
            needed_total = 2.0 / self.alpha3 - 1.0
            if total < needed_total - 1e-9:
                return (
                    f"the history weights sum to {total:.3g}, so the current task's mass "
                    f"1/(sum + 1) = {1 / (total + 1):.3g} exceeds alpha3/2 = {self.alpha3 / 2:g}; "
                    f"a finite band needs weights summing to at least {needed_total:.3g} "
                    f"(raise alpha, slow the decay, or add history tasks)"
                )
        needed = min_history(self.alpha3)
        if self.n_groups is not None and self.n_groups < needed:
            return (
                f"{self.n_groups} history task groups ({self.n_history} tasks) are too few for "
                f"a finite band at alpha3 = {self.alpha3:g}: the group is the exchangeable unit, "
                f"so at least {needed} groups are needed (raise alpha or add history groups)"
            )
        if self.n_history < needed:
            return (
                f"{self.n_history} history tasks are too few for a finite band at "
                f"alpha3 = {self.alpha3:g}; at least {needed} are needed "
                f"(raise alpha or alpha3, or add history tasks)"
            )
        return (
            "the band is infinite: too little weighted history mass or an infinite "
            "per-task interval (see w1, w2)"
        )


def band_widths(
    gap_lower: FloatArray, gap_upper: FloatArray, spread: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``w3 = spread`` and ``w2 = (Δ^U − Δ^L) − w3``, NaN where the band is infinite."""
    finite = np.isfinite(gap_lower) & np.isfinite(gap_upper) & np.isfinite(spread)
    with np.errstate(invalid="ignore"):
        w2 = np.where(finite, (gap_upper - gap_lower) - spread, np.nan)
    w3 = np.where(np.isfinite(spread), spread, np.inf)
    return w2, w3


def assemble(
    method: str,
    alpha: float,
    split: tuple[float, float, float],
    target: IntervalFamily,
    synth: tuple[FloatArray, FloatArray],
    band: tuple[FloatArray, FloatArray],
    widths: tuple[FloatArray, FloatArray, FloatArray],
    n_history: int,
    n_effective: FloatArray | float,
    centre: FloatArray | float,
) -> Calibration:
    estimate = np.asarray(target.estimate, dtype=float)
    shape = np.broadcast_shapes(
        estimate.shape, np.shape(band[0]), np.shape(synth[0]), np.shape(centre)
    )

    def full(values) -> FloatArray:
        return np.broadcast_to(np.asarray(values, dtype=float), shape).copy()

    synth_lower, synth_upper = full(synth[0]), full(synth[1])
    gap_lower, gap_upper = full(band[0]), full(band[1])
    lower = synth_lower + gap_lower
    upper = synth_upper + gap_upper
    feasible = np.isfinite(lower) & np.isfinite(upper)
    return Calibration(
        method=method,
        alpha=alpha,
        alpha1=split[0],
        alpha2=split[1],
        alpha3=split[2],
        estimate=full(estimate + centre),
        synth_lower=synth_lower,
        synth_upper=synth_upper,
        gap_lower=gap_lower,
        gap_upper=gap_upper,
        lower=lower,
        upper=upper,
        w1=full(widths[0]),
        w2=full(widths[1]),
        w3=full(widths[2]),
        feasible=feasible,
        n_history=n_history,
        n_effective=full(n_effective),
        synth_estimate=full(estimate),
    )
