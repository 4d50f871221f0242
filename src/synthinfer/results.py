"""Result objects: one frozen dataclass per interval, and collections of them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from synthinfer._columns import (
    COVERAGE_COLUMNS,
    GROUP_COVERAGE_COLUMN,
    OUTPUT_COLUMNS,
    TARGET_LABELS_COLUMN,
    TASK_GROUP_COLUMN,
)
from synthinfer._html import result_html
from synthinfer.allocation import Allocation
from synthinfer.intervals import IntervalFamily
from synthinfer.methods import Calibration, History, calibrate, coverage_statement
from synthinfer.pvalues import joint_pvalues, pvalue_frame, result_pvalue

__all__ = [
    "BacktestResult",
    "InferenceResult",
    "IntervalResult",
    "coverage_statistics",
    "coverage_summary",
    "register_html_renderer",
    "render_html",
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

        The allocation keeps its proportions ``α1 : α2 : α3`` (an ``abs:`` split
        becomes the proportions it gave at this result's level), so the family
        of intervals over ``alpha`` is nested and :meth:`pvalue` inverts it.

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
        allocation = self._proportional_allocation()
        calibration = calibrate(
            self.method, self.target, self.history, alpha / self.n_coords, allocation
        )
        return IntervalResult.from_calibration(
            calibration,
            task=self.task,
            coord=self.coord,
            alpha=alpha,
            n_coords=self.n_coords,
            bounds=self.bounds,
            allocation=allocation,
            target=self.target,
            history=self.history,
        )

    def _proportional_allocation(self) -> Allocation:
        """The allocation as proportions: ``abs:A1,A2`` becomes the shares it gave here."""
        allocation = self.allocation
        budgets = (self.alpha1, self.alpha2, self.alpha3)
        if allocation is None or allocation.kind != "abs" or not min(budgets) > 0:
            return allocation  # methods that do not split the level ignore it
        total = sum(budgets)
        return Allocation("prop", (self.alpha1 / total, self.alpha2 / total, self.alpha3 / total))

    def pvalue(self, null: float, alternative: str = "two-sided") -> float:
        """The p-value of ``null``: the smallest level whose interval (:meth:`at`) excludes it.

        ``p ≤ α`` exactly when ``at(α)`` excludes ``null`` (``greater``: when
        ``at(2α).lower > null``; ``less``: when ``at(2α).upper < null``); see
        :mod:`synthinfer.pvalues`.

        Parameters
        ----------
        null : float
            The null value (inside the bounds, when there are bounds).
        alternative : {"two-sided", "greater", "less"}
            The alternative hypothesis: ``θ ≠ null``, ``θ > null`` or ``θ < null``.

        Returns
        -------
        float
        """
        return result_pvalue(self, null, alternative)

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
        grouped = self.history is not None and self.history.groups is not None
        if grouped and self.method != "synthetic-only":
            groups = f"{self.history.n_groups} history groups"
            lines.append(f"  {coverage_statement(self.history.coverage)}; {groups}")
        if not self.feasible:
            lines.append(f"  INFINITE: {self.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


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

    def to_html(self, **options: Any) -> str:
        """A self-contained HTML report; ``options`` as in :func:`synthinfer.report.to_html`.

        Pass ``data=`` (the task data) to include the diagnostics and the gap plot.
        """
        return render_html(self, **options)

    def pvalue(
        self, null: float | Mapping[str, float], alternative: str = "two-sided"
    ) -> pd.DataFrame:
        """p-values of ``null`` (a number, or one per coordinate) for every interval.

        Returns
        -------
        pandas.DataFrame
            One row per task × coordinate × method × α: ``task, coord, method,
            alpha, null, alternative, pvalue`` (see :meth:`IntervalResult.pvalue`).
        """
        return pvalue_frame(self.intervals, null, alternative)

    def joint_pvalue(
        self, null: float | Mapping[str, float], alternative: str = "two-sided"
    ) -> pd.DataFrame:
        """Joint p-values per task × method × α: the smallest over coordinates.

        ``p_joint ≤ α`` exactly when the rectangle at ``α`` (each coordinate at
        ``α/D``) excludes the null vector (see :func:`synthinfer.pvalues.joint_pvalues`).
        """
        return joint_pvalues(self.pvalue(null, alternative))

    def summary(self) -> str:
        """Readable summaries of all intervals."""
        return "\n".join(interval.summary() for interval in self.intervals)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


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
    intervals : tuple of IntervalResult
        The held-out intervals with their statistics (for :meth:`pvalue`).
    """

    tasks: pd.DataFrame = field(repr=False)
    summary_frame: pd.DataFrame = field(repr=False)
    protocol: str
    seed: int | None = None
    randomized: bool = False
    intervals: tuple[IntervalResult, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        _with_seed(self.tasks, self.seed)
        _with_seed(self.summary_frame, self.seed)

    def to_frame(self) -> pd.DataFrame:
        """The per-task rows (``attrs["seed"]``: the seed)."""
        return self.tasks

    def summary(self) -> str:
        """The coverage summary as text (and, with task groups, the guarantee asked for)."""
        text = self.summary_frame.to_string(index=False)
        histories = [r.history for r in self.intervals if r.history is not None]
        grouped = [h for h in histories if h.groups is not None]
        if grouped:
            statement = coverage_statement(grouped[0].coverage)
            text += f"\n{statement}; whole groups held out (group_coverage: all cells covered)"
        return text

    def __str__(self) -> str:
        return f"backtest ({self.protocol})\n" + self.summary()

    def _repr_html_(self) -> str:
        """The coverage summary under the summary's first line (shown in Jupyter)."""
        return result_html(self.summary(), self.summary_frame)

    def pvalue(
        self, null: float | Mapping[str, float], alternative: str = "two-sided"
    ) -> pd.DataFrame:
        """p-values of ``null`` for every held-out interval (as :meth:`InferenceResult.pvalue`)."""
        if not self.intervals:
            raise ValueError("this backtest keeps no intervals to compute p-values from")
        return pvalue_frame(self.intervals, null, alternative)

    def to_html(self, **options: Any) -> str:
        """A self-contained HTML report; ``options`` as in :func:`synthinfer.report.to_html`.

        Pass ``data=`` (the task data) to include the diagnostics and the gap plot.
        """
        return render_html(self, **options)

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
        Per-task backtest rows (with ``target_labels``, one summary per label count).

    Returns
    -------
    pandas.DataFrame
    """
    if TARGET_LABELS_COLUMN in tasks.columns:
        return _per_label_count(tasks)
    rows = []
    multi = tasks["coord"].nunique() > 1
    grouped = TASK_GROUP_COLUMN in tasks.columns
    for (method, alpha), group in tasks.groupby(["method", "alpha"], sort=False):
        for coord, part in group.groupby("coord", sort=False):
            rows.append({"method": method, "alpha": alpha, "coord": coord, **_summary_row(part)})
        if multi:
            rows.append({"method": method, "alpha": alpha, "coord": "all", **_summary_row(group)})
    if grouped:
        return _with_group_coverage(tasks, rows, multi)
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def _per_label_count(tasks: pd.DataFrame) -> pd.DataFrame:
    """:func:`coverage_summary` for each simulated label count ``m``, with its ``target_labels``."""
    parts = []
    for count, part in tasks.groupby(TARGET_LABELS_COLUMN, sort=False, dropna=False):
        summary = coverage_summary(part.drop(columns=TARGET_LABELS_COLUMN))
        summary[TARGET_LABELS_COLUMN] = count
        parts.append(summary)
    return pd.concat(parts, ignore_index=True)


def _with_group_coverage(tasks: pd.DataFrame, rows: list[dict], multi: bool) -> pd.DataFrame:
    """The summary rows plus ``group_coverage``: the share of groups whose every cell covers.

    A group counts when all its intervals (cells × coordinates for the pooled
    row) are finite; it is covered when every one of them covers.
    """
    for row in rows:
        part = tasks[(tasks["method"] == row["method"]) & (tasks["alpha"] == row["alpha"])]
        if not (multi and row["coord"] == "all"):
            part = part[part["coord"] == row["coord"]]
        feasible = part["feasible"].astype(bool) & np.isfinite(part["width"].astype(float))
        by_group = part.assign(_finite=feasible).groupby(TASK_GROUP_COLUMN)
        whole = by_group["_finite"].all()
        covered = by_group["covered"].all()[whole]
        row[GROUP_COVERAGE_COLUMN] = float(covered.mean()) if len(covered) else math.nan
    return pd.DataFrame(rows, columns=[*COVERAGE_COLUMNS, GROUP_COVERAGE_COLUMN])


_HTML_RENDERER: list[Any] = []


def register_html_renderer(render: Any) -> None:
    """Set the function behind every result's ``to_html`` (:mod:`synthinfer.report` does).

    The report draws plots, on a floor above this module, so the result
    classes reach it through this registration; ``import synthinfer`` makes it.
    """
    _HTML_RENDERER[:] = [render]


def render_html(result: object, **options: Any) -> str:
    """``result`` as a self-contained HTML report (:func:`synthinfer.report.to_html`)."""
    if not _HTML_RENDERER:
        raise ImportError("the HTML report is not loaded: import synthinfer.report first")
    return _HTML_RENDERER[0](result, **options)
