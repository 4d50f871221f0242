"""The paper's algorithms on arrays, one small function each, looked up by name.

Each method takes the synthetic interval family of the current task(s), the
historical gap information and a level, and returns a :class:`Calibration`:
arrays over targets (and over any leading axes, such as Monte Carlo
replications). History arrays carry the historical tasks on their last axis;
their leading axes broadcast against the targets, so one history can serve
many targets and a leave-one-out stack can give each target its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from synthinfer._validation import check_alpha, check_choice, check_choices
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import (
    conformal_lower,
    conformal_upper,
    effective_sample_size,
    median_gap,
    min_history,
    weighted_lower,
    weighted_upper,
)
from synthinfer.intervals import IntervalFamily

__all__ = [
    "ADJUSTED_TASK_ONLY",
    "METHODS",
    "NEEDS_GAP_SE",
    "Calibration",
    "GapModel",
    "History",
    "MissingInputError",
    "calibrate",
    "check_methods",
    "exchangeable",
    "finite_sample",
    "synthetic_only",
    "task_only",
    "weighted",
]

FloatArray = NDArray[np.float64]


ADJUSTED_TASK_ONLY = (
    "--adjust cannot be combined with method 'task-only': its guarantee rests on a band "
    "that can only grow when a history interval grows, and the covariate-adjusted band can "
    "shrink (see docs/beyond.md); use 'exchangeable' or 'finite-sample' with --adjust"
)
"""Why covariate adjustment refuses ``task-only`` (Algorithm 5)."""


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
    """

    gap: IntervalFamily | None = None
    observed: FloatArray | None = None
    weights: FloatArray | None = None
    covariates: FloatArray | None = None
    target_covariates: FloatArray | None = None
    gap_model: GapModel | None = None
    missing_gap_reason: str = field(default="the data has no 'gap_se' column", repr=False)

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
        return _required(self.observed, method, needs)

    def require_weights(self, method: str) -> FloatArray:
        """The task weights, or a clear error."""
        needs = (
            "task weights: add a 'task_weight' column (values in [0, 1]) or give a recency "
            "decay (--decay RHO) with a 'time' column"
        )
        return _required(self.weights, method, needs)


def _required(values: FloatArray | None, method: str, needs: str) -> FloatArray:
    """``values`` as a float array, or :class:`MissingInputError` saying what ``method`` needs."""
    if values is None:
        raise MissingInputError(f"method '{method}' needs {needs}")
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class Calibration:
    """Arrays over targets describing calibrated intervals (before clipping).

    Attributes
    ----------
    method : {"exchangeable", "weighted", "finite-sample", "task-only", "synthetic-only"}
        The method (a key of :data:`METHODS`).
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
        without weights).
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

    @property
    def message(self) -> str:
        """Why the interval is infinite, or an empty string."""
        if bool(np.all(self.feasible)):
            return ""
        if self.method == "synthetic-only":
            return "the synthetic interval itself is infinite"
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


def _band_widths(
    gap_lower: FloatArray, gap_upper: FloatArray, spread: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``w3 = spread`` and ``w2 = (Δ^U − Δ^L) − w3``, NaN where the band is infinite."""
    finite = np.isfinite(gap_lower) & np.isfinite(gap_upper) & np.isfinite(spread)
    with np.errstate(invalid="ignore"):
        w2 = np.where(finite, (gap_upper - gap_lower) - spread, np.nan)
    w3 = np.where(np.isfinite(spread), spread, np.inf)
    return w2, w3


def _assemble(
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


def _gap_calibration(
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
    split = allocation.split(alpha)
    alpha1, alpha2, alpha3 = split
    gap = history.require_gap(method)
    n_history = history.n_history
    synth = target.interval(alpha1)
    if n_history == 0:
        infinite = np.full(np.shape(target.estimate), np.inf)
        widths = (synth[1] - synth[0], np.nan, infinite)
        band = (-infinite, infinite)
        return _assemble(method, alpha, split, target, synth, band, widths, 0, 0.0, np.nan)
    gap_lo, gap_hi = gap.interval(gap_level(alpha2, n_history))
    midpoint = (gap_lo + gap_hi) / 2.0
    if history.gap_model is not None:
        if weighted_by is not None:
            raise ValueError("covariate adjustment cannot be combined with method 'weighted'")
        if method == "task-only":
            raise ValueError(ADJUSTED_TASK_ONLY)
        band_lo, band_hi, spread = _adjusted_band(history, gap_lo, gap_hi, alpha3)
        with np.errstate(invalid="ignore"):
            spread = np.minimum(spread, band_hi - band_lo)
        w2, w3 = _band_widths(band_lo, band_hi, spread)
        widths = (synth[1] - synth[0], w2, w3)
        centre = _band_centre(band_lo, band_hi, median_gap(midpoint))
        return _assemble(
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
        w2, w3 = _band_widths(band[0], band[1], spread)
        widths = (synth[1] - synth[0], w2, w3)
        centre = median_gap(midpoint, full_weights)
        calibration = _assemble(
            method, alpha, split, target, synth, band, widths, n_history, n_effective, centre
        )
        return replace(calibration, weight_total=full_weights.sum(axis=-1))
    w2, w3 = _band_widths(band[0], band[1], spread)
    widths = (synth[1] - synth[0], w2, w3)
    centre = median_gap(midpoint)
    return _assemble(
        method, alpha, split, target, synth, band, widths, n_history, n_effective, centre
    )


def _band_centre(band_lo: FloatArray, band_hi: FloatArray, fallback: FloatArray) -> FloatArray:
    """The centre of an adjusted band, or ``fallback`` where the band is infinite."""
    finite = np.isfinite(band_lo) & np.isfinite(band_hi)
    with np.errstate(invalid="ignore"):
        return np.where(finite, (band_lo + band_hi) / 2.0, fallback)


def _adjusted_band(
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
    return _gap_calibration(
        "exchangeable", target, history, alpha, allocation, gap_level=lambda a2, _t: a2
    )


def task_only(
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation = DEFAULT_ALLOCATION,
) -> Calibration:
    """Algorithm 5: task-only exchangeability, gap intervals at ``α2 / T`` (Bonferroni)."""
    return _gap_calibration(
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
    return _gap_calibration(
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
    observed = history.require_observed("finite-sample")
    estimate = np.asarray(target.estimate, dtype=float)
    n_history = int(observed.shape[-1])
    centre = median_gap(observed)
    if n_history == 0:
        band = (np.full(estimate.shape, -np.inf), np.full(estimate.shape, np.inf))
    elif history.gap_model is not None:
        band_lo, band_hi, _ = _adjusted_band(history, observed, observed, alpha)
        band = (band_lo, band_hi)
        centre = _band_centre(band_lo, band_hi, centre)
    else:
        band = (conformal_lower(observed, alpha), conformal_upper(observed, alpha))
    spread = band[1] - band[0]
    widths = (
        0.0,
        np.where(np.isfinite(spread), 0.0, np.nan),
        np.where(np.isfinite(spread), spread, np.inf),
    )
    return _assemble(
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
    return _assemble(
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


Method = Callable[[IntervalFamily, History, float, Allocation], Calibration]

METHODS: dict[str, Method] = {
    "exchangeable": exchangeable,
    "weighted": weighted,
    "finite-sample": finite_sample,
    "task-only": task_only,
    "synthetic-only": synthetic_only,
}

NEEDS_GAP_SE = frozenset({"exchangeable", "weighted", "task-only"})


def check_methods(method: str | Sequence[str]) -> tuple[str, ...]:
    """Method names (comma-separated text or a sequence), each a key of :data:`METHODS`."""
    return check_choices(method, METHODS, "method")


def calibrate(
    method: str,
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
) -> Calibration:
    """Run the method called ``method`` at level ``alpha``.

    Parameters
    ----------
    method : str
        One of ``exchangeable``, ``weighted``, ``finite-sample``, ``task-only``,
        ``synthetic-only``.
    target : IntervalFamily
        Synthetic interval family of the current task(s).
    history : History
        Historical gap information (tasks on the last axis).
    alpha : float
        Miscoverage level in ``(0, 1)`` (already divided by ``D`` for a
        multidimensional estimand).
    allocation : Allocation or str
        Budget split; ignored by ``finite-sample`` and ``synthetic-only``.

    Returns
    -------
    Calibration
    """
    alpha = check_alpha(alpha)
    method = check_choice(method, METHODS, "method")
    return METHODS[method](target, history, alpha, Allocation.parse(allocation))
