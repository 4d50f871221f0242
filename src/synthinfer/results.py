"""Result objects: one frozen dataclass per interval, and collections of them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from synthinfer._columns import COVERAGE_COLUMNS, OUTPUT_COLUMNS
from synthinfer.allocation import Allocation
from synthinfer.intervals import IntervalFamily
from synthinfer.methods import Calibration, History, calibrate

__all__ = [
    "BacktestResult",
    "InferenceResult",
    "IntervalResult",
    "coverage_statistics",
    "coverage_summary",
]


def clip_to_bounds(
    lower: float, upper: float, bounds: tuple[float, float] | None
) -> tuple[float, float]:
    """Clip an interval to ``bounds`` (infinite ends become the bounds)."""
    if bounds is None:
        return float(lower), float(upper)
    low, high = bounds
    return float(np.clip(lower, low, high)), float(np.clip(upper, low, high))


@dataclass(frozen=True)
class IntervalResult:
    """A calibrated interval for one task, coordinate, method and level.

    ``alpha`` is the overall level; ``alpha1..3`` are the per-coordinate
    budgets (they sum to ``alpha / D`` for a ``D``-dimensional estimand).
    ``lower``/``upper`` are final (clipped to ``bounds`` when given);
    ``w1 + w2 + w3`` is the unclipped width. ``feasible`` is false when the
    method's interval is infinite. ``estimate`` is the calibrated point: the
    synthetic estimate ``synth_estimate`` plus the median history gap (clipped
    to ``bounds``); report it, not ``synth_estimate``, as the point estimate.
    ``allocation`` is the split used (``auto`` resolved for this target and
    coordinate); :meth:`at` keeps its proportions.
    """

    task: str
    coord: str
    method: str
    alpha: float
    alpha1: float
    alpha2: float
    alpha3: float
    estimate: float
    lower: float
    upper: float
    synth_lower: float
    synth_upper: float
    gap_lower: float
    gap_upper: float
    w1: float
    w2: float
    w3: float
    feasible: bool
    n_history: int
    n_effective: float
    synth_estimate: float = math.nan
    bounds: tuple[float, float] | None = None
    message: str = ""
    n_coords: int = field(default=1, repr=False)
    allocation: Allocation | None = field(default=None, repr=False, compare=False)
    target: IntervalFamily | None = field(default=None, repr=False, compare=False)
    history: History | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_calibration(
        cls,
        calibration: Calibration,
        *,
        task: str,
        coord: str,
        alpha: float,
        n_coords: int,
        bounds: tuple[float, float] | None,
        allocation: Allocation,
        target: IntervalFamily,
        history: History,
    ) -> IntervalResult:
        """Build from a one-target :class:`Calibration`."""

        def scalar(values) -> float:
            return float(np.asarray(values).reshape(-1)[0])

        lower, upper = clip_to_bounds(scalar(calibration.lower), scalar(calibration.upper), bounds)
        return cls(
            task=task,
            coord=coord,
            method=calibration.method,
            alpha=alpha,
            alpha1=calibration.alpha1,
            alpha2=calibration.alpha2,
            alpha3=calibration.alpha3,
            estimate=clip_to_bounds(scalar(calibration.estimate), math.nan, bounds)[0],
            lower=lower,
            upper=upper,
            synth_lower=scalar(calibration.synth_lower),
            synth_upper=scalar(calibration.synth_upper),
            gap_lower=scalar(calibration.gap_lower),
            gap_upper=scalar(calibration.gap_upper),
            w1=scalar(calibration.w1),
            w2=scalar(calibration.w2),
            w3=scalar(calibration.w3),
            feasible=bool(np.asarray(calibration.feasible).reshape(-1)[0]),
            n_history=calibration.n_history,
            n_effective=scalar(calibration.n_effective),
            synth_estimate=scalar(calibration.synth_estimate),
            bounds=bounds,
            message=calibration.message,
            n_coords=n_coords,
            allocation=allocation,
            target=target,
            history=history,
        )

    @property
    def width(self) -> float:
        """``upper − lower`` (infinite for an infinite interval without bounds)."""
        return self.upper - self.lower

    def at(self, alpha: float) -> IntervalResult:
        """Recompute the interval at another overall level from the kept statistics.

        Parameters
        ----------
        alpha : float
            New overall level in ``(0, 1)``.

        Returns
        -------
        IntervalResult
        """
        if self.target is None or self.history is None or self.allocation is None:
            raise ValueError("this result keeps no statistics to recompute from")
        calibration = calibrate(
            self.method, self.target, self.history, alpha / self.n_coords, self.allocation
        )
        return IntervalResult.from_calibration(
            calibration,
            task=self.task,
            coord=self.coord,
            alpha=alpha,
            n_coords=self.n_coords,
            bounds=self.bounds,
            allocation=self.allocation,
            target=self.target,
            history=self.history,
        )

    def to_dict(self) -> dict[str, object]:
        """The output columns of DESIGN.md as a dictionary."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name in OUTPUT_COLUMNS}
        values["width"] = self.width
        return {column: values[column] for column in OUTPUT_COLUMNS}

    def to_frame(self) -> pd.DataFrame:
        """The interval as a one-row frame with the output columns."""
        return pd.DataFrame([self.to_dict()], columns=list(OUTPUT_COLUMNS))

    def summary(self) -> str:
        """A few readable lines describing the interval and its width decomposition."""
        level = f"{100 * (1 - self.alpha):g}%"
        name = self.task + (f" [{self.coord}]" if self.coord else "")
        unclipped = self.w1 + self.w2 + self.w3
        decomposition = (
            f"w1 {self.w1:.4g} (synthetic noise) + w2 {self.w2:.4g} (history gap noise) + "
            f"w3 {self.w3:.4g} (bias spread)"
        )
        if self.bounds is not None and not np.isclose(unclipped, self.width):
            width_line = (
                f"  width {self.width:.4g} after clipping to [{self.bounds[0]:g}, "
                f"{self.bounds[1]:g}]; unclipped {unclipped:.4g} = {decomposition}"
            )
        else:
            width_line = f"  width {self.width:.4g} = {decomposition}"
        lines = [
            f"{name}: {self.method} {level} interval [{self.lower:.4g}, {self.upper:.4g}], "
            f"estimate {self.estimate:.4g} (synthetic estimate {self.synth_estimate:.4g})",
            width_line,
            f"  budgets alpha1={self.alpha1:g}, alpha2={self.alpha2:g}, alpha3={self.alpha3:g}; "
            f"{self.n_history} history tasks",
        ]
        if not self.feasible:
            lines.append(f"  INFINITE: {self.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class InferenceResult:
    """Intervals for every target task × coordinate × method × level.

    Attributes
    ----------
    intervals : tuple of IntervalResult
        One per row of :meth:`to_frame`.
    seed : int or None
        The seed of the run (default 0); ``to_frame().attrs["seed"]`` too.
    randomized : bool
        Whether the intervals depend on it (bootstrap, quantile intervals, a
        split-conformal adjustment); the command line then prints the seed.
    """

    intervals: tuple[IntervalResult, ...]
    seed: int | None = None
    randomized: bool = False

    def __iter__(self) -> Iterator[IntervalResult]:
        return iter(self.intervals)

    def __len__(self) -> int:
        return len(self.intervals)

    def __getitem__(self, index: int) -> IntervalResult:
        return self.intervals[index]

    def to_frame(self) -> pd.DataFrame:
        """One row per interval with DESIGN.md's output columns (``attrs["seed"]``: the seed)."""
        rows = [interval.to_dict() for interval in self.intervals]
        return _with_seed(pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS)), self.seed)

    def at(self, alpha: float) -> InferenceResult:
        """Every interval recomputed at another overall level (allocation proportions fixed)."""
        return replace(self, intervals=tuple(interval.at(alpha) for interval in self.intervals))

    def summary(self) -> str:
        """Readable summaries of all intervals."""
        return "\n".join(interval.summary() for interval in self.intervals)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class BacktestResult:
    """Per-task backtest rows and their coverage summary.

    Attributes
    ----------
    tasks : pandas.DataFrame
        One row per held-out task × coordinate × method × level, with the
        output columns plus ``truth`` and ``covered``.
    summary_frame : pandas.DataFrame
        Coverage and widths per method × level × coordinate (and pooled over
        coordinates as ``coord = "all"`` for a multidimensional estimand).
    protocol : str
        ``loo`` or ``temporal``.
    seed : int or None
        The seed of the run (default 0); ``to_frame().attrs["seed"]`` too.
    randomized : bool
        Whether the intervals depend on the seed.
    """

    tasks: pd.DataFrame = field(repr=False)
    summary_frame: pd.DataFrame = field(repr=False)
    protocol: str
    seed: int | None = None
    randomized: bool = False

    def __post_init__(self) -> None:
        _with_seed(self.tasks, self.seed)
        _with_seed(self.summary_frame, self.seed)

    def to_frame(self) -> pd.DataFrame:
        """The per-task rows (``attrs["seed"]``: the seed)."""
        return self.tasks

    def summary(self) -> str:
        """The coverage summary as text."""
        return self.summary_frame.to_string(index=False)

    def __str__(self) -> str:
        return f"backtest ({self.protocol})\n" + self.summary()

    def with_tasks(self, tasks: pd.DataFrame) -> BacktestResult:
        """A copy with different per-task rows (summary recomputed, seed kept)."""
        return replace(self, tasks=tasks, summary_frame=coverage_summary(tasks))


def _with_seed(frame: pd.DataFrame, seed: int | None) -> pd.DataFrame:
    """``frame`` with the run's seed in ``frame.attrs["seed"]`` (no column is added)."""
    frame.attrs["seed"] = seed
    return frame


def coverage_statistics(
    covered: ArrayLike, width: ArrayLike, feasible: ArrayLike | None = None
) -> dict[str, float]:
    """Coverage and widths over the finite intervals, and how many were infinite.

    The one place where coverage is summarized: backtests (over held-out
    tasks) and simulation studies (over replications) both call it. An
    infinite interval (``feasible`` false; clipped to bounds or not) says
    nothing about calibration: it is counted in ``infinite`` and left out of
    the coverage and the widths, which are NaN when no interval is finite.

    Parameters
    ----------
    covered : array_like of bool
        Whether each interval covered its truth.
    width : array_like of float
        Each interval's width (``inf`` for an infinite interval).
    feasible : array_like of bool, optional
        Whether each interval is finite (default: its width is finite).

    Returns
    -------
    dict
        ``finite`` and ``infinite`` (counts), and over the finite intervals
        ``coverage``, ``coverage_mcse`` (``sqrt(c (1 − c) / n)``),
        ``mean_width`` and ``median_width``.
    """
    hits = np.asarray(covered, dtype=float).reshape(-1)
    widths = np.asarray(width, dtype=float).reshape(-1)
    finite = np.isfinite(widths)
    if feasible is not None:
        finite &= np.asarray(feasible, dtype=bool).reshape(-1)
    n_finite = int(finite.sum())
    if n_finite == 0:
        coverage = mean_width = median_width = mcse = math.nan
    else:
        coverage = float(hits[finite].mean())
        mean_width = float(widths[finite].mean())
        median_width = float(np.median(widths[finite]))
        mcse = math.sqrt(coverage * (1.0 - coverage) / n_finite)
    return {
        "finite": n_finite,
        "infinite": int(finite.size - n_finite),
        "coverage": coverage,
        "coverage_mcse": mcse,
        "mean_width": mean_width,
        "median_width": median_width,
    }


def _summary_row(group: pd.DataFrame) -> dict[str, float]:
    feasible = group["feasible"].astype(bool) & np.isfinite(group["width"].astype(float))
    statistics = coverage_statistics(group["covered"], group["width"], feasible)
    finite = group[feasible]
    rectangles = group.assign(_finite=feasible).groupby("task")
    whole = rectangles["_finite"].all()
    joint = rectangles["covered"].all()[whole]
    return {
        "tasks": group["task"].nunique(),
        **statistics,
        "joint_coverage": float(joint.mean()) if len(joint) else math.nan,
        "w1": _mean(finite["w1"]),
        "w2": _mean(finite["w2"]),
        "w3": _mean(finite["w3"]),
    }


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


def coverage_summary(tasks: pd.DataFrame) -> pd.DataFrame:
    """Coverage and widths over finite intervals, per method × alpha × coordinate.

    ``finite`` and ``infinite`` count the intervals; ``coverage``,
    ``coverage_mcse``, the widths and ``w1..w3`` are over the finite ones
    (an infinite interval clipped to bounds is not "covered"; see
    :func:`coverage_statistics`). For a multidimensional estimand a pooled
    row with ``coord = "all"`` is added: ``coverage`` and widths pooled over
    coordinates, and ``joint_coverage`` the share of tasks with a finite
    rectangle whose whole rectangle covers.

    Parameters
    ----------
    tasks : pandas.DataFrame
        Per-task backtest rows.

    Returns
    -------
    pandas.DataFrame
    """
    rows = []
    multi = tasks["coord"].nunique() > 1
    for (method, alpha), group in tasks.groupby(["method", "alpha"], sort=False):
        for coord, part in group.groupby("coord", sort=False):
            rows.append({"method": method, "alpha": alpha, "coord": coord, **_summary_row(part)})
        if multi:
            rows.append({"method": method, "alpha": alpha, "coord": "all", **_summary_row(group)})
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))
