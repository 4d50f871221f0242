"""Inference for target tasks and backtests over history tasks.

``infer`` calibrates every target task against all history tasks;
``backtest`` holds history tasks out (leave-one-out, or by time) and scores
the intervals against their real estimates.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd

from synthinfer._columns import BACKTEST_COLUMNS
from synthinfer._validation import (
    check_bounds,
    check_choice,
    check_count,
    check_levels,
    check_range,
    check_seed,
    split_list,
)
from synthinfer.adjust import ADJUST_MODES, CovariateAdjustment, group_history_mask
from synthinfer.allocation import AUTO_ALLOCATION, Allocation
from synthinfer.data import (
    Estimand,
    TaskData,
    TaskStatistics,
    backtest_folds,
    design_allocation,
)
from synthinfer.methods import ADJUSTED_TASK_ONLY, History, calibrate, check_methods
from synthinfer.results import BacktestResult, InferenceResult, IntervalResult, coverage_summary
from synthinfer.weights import kernel_weights, recency_weights

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["Adjustment", "InferOptions", "Settings", "Weighting", "backtest", "infer"]

PROTOCOLS = ("loo", "temporal")


@dataclass(frozen=True)
class Weighting:
    """How ``weighted`` weighs history tasks (Algorithm 2): the options ``decay``,
    ``kernel``, ``bandwidth`` and ``mismatch`` of :func:`infer`, checked."""

    decay: float | None = None
    kernel: tuple[str, ...] = ()
    bandwidth: float = 1.0
    mismatch: float = 0.5

    @property
    def active(self) -> bool:
        """Whether recency or kernel weights replace the ``task_weight`` column."""
        return self.decay is not None or bool(self.kernel)


@dataclass(frozen=True)
class Adjustment:
    """Covariate-adjusted calibration (:mod:`synthinfer.adjust`): the options
    ``adjust`` (as ``columns``; empty for none), ``adjust_mode`` (as ``mode``) and
    ``penalty`` of :func:`infer`, checked."""

    columns: tuple[str, ...] = ()
    mode: str = "full"
    penalty: float = 1.0


@dataclass(frozen=True)
class Settings:
    """Validated options shared by ``infer`` and ``backtest``.

    Built by :meth:`from_arguments`, the one place where their arguments are checked.
    """

    alphas: tuple[float, ...]
    methods: tuple[str, ...]
    allocation: Allocation
    bounds: tuple[float, float] | None
    estimand: Estimand
    interval: str | None
    group_by: str | None
    n_bootstrap: int
    seed: int
    weighting: Weighting
    adjustment: Adjustment
    auto_bounds: bool = False

    @classmethod
    def from_arguments(
        cls,
        *,
        alpha: float | str | Sequence[float] | None,
        level: float | str | Sequence[float] | None,
        method: str | Sequence[str],
        allocation: str | Allocation,
        bounds: tuple[float, float] | str | None,
        estimand: str | Estimand,
        interval: str | None,
        group_by: str | None,
        n_bootstrap: int,
        seed: int | None,
        decay: float | None,
        kernel: str | Sequence[str] | None,
        bandwidth: float,
        mismatch: float,
        adjust: str | Sequence[str] | None,
        adjust_mode: str,
        penalty: float,
    ) -> Settings:
        """Check every option once, with one clear message per problem.

        ``bounds=None`` asks for the default bounds of the data (``auto_bounds``,
        see :meth:`for_data`); ``seed=None`` draws a fresh seed, kept so that
        the run can be repeated.
        """
        methods = check_methods(method)
        adjustment = Adjustment(
            columns=tuple(split_list(adjust)),
            mode=check_choice(adjust_mode, ADJUST_MODES, "adjust_mode"),
            penalty=check_range(penalty, "penalty", 0.0),
        )
        if adjustment.columns and "weighted" in methods:
            raise ValueError("--adjust cannot be combined with method 'weighted'")
        if adjustment.columns and methods == ("synthetic-only",):
            raise ValueError("--adjust has no effect on 'synthetic-only'; pick another method")
        if adjustment.columns and "task-only" in methods:
            raise ValueError(ADJUSTED_TASK_ONLY)
        return cls(
            alphas=check_levels(alpha, level),
            methods=methods,
            allocation=Allocation.parse(allocation),
            bounds=check_bounds(bounds),
            estimand=Estimand.parse(estimand),
            interval=interval,
            group_by=group_by,
            n_bootstrap=check_count(n_bootstrap, "n_bootstrap"),
            seed=_seed(seed),
            weighting=Weighting(
                decay=None
                if decay is None
                else check_range(decay, "decay", 0.0, 1.0, low_open=True),
                kernel=tuple(split_list(kernel)),
                bandwidth=check_range(bandwidth, "bandwidth", 0.0, low_open=True),
                mismatch=check_range(mismatch, "mismatch", 0.0, 1.0),
            ),
            adjustment=adjustment,
            auto_bounds=bounds is None,
        )

    def for_data(self, data: TaskData) -> Settings:
        """The settings with the data's bounds: checked when given, else the default.

        Explicit bounds must hold the data (:meth:`TaskData.check_bounds`).
        Without bounds, a unit-level table whose values are all 0 or 1 gets
        ``[0, 1]``, said once in a warning; ``bounds="none"`` turns it off.
        """
        if self.bounds is not None:
            data.check_bounds(self.bounds)
            return self
        default = data.default_bounds() if self.auto_bounds else None
        if default is None:
            return self
        warnings.warn(
            f"{data.name}: values are 0/1: bounds [0, 1] (give bounds='none' to turn off)",
            stacklevel=3,
        )
        return replace(self, bounds=default)

    def randomized(self, data: TaskData) -> bool:
        """Whether a run on ``data`` draws random numbers (bootstrap, quantiles, a split)."""
        split = bool(self.adjustment.columns) and self.adjustment.mode == "split"
        return _resamples(data, self) or split


def _seed(seed: int | None) -> int:
    """The checked seed; ``None`` draws fresh entropy (returned, so the run can be repeated)."""
    checked = check_seed(seed)
    return int(np.random.SeedSequence().entropy) if checked is None else checked


def _decay_weights(data: TaskData, target: str, history: Sequence[str], decay: float) -> np.ndarray:
    """Recency weights ``decay ** |time_target − time_j|`` for one target.

    Age is measured from the target itself, so a leave-one-out backtest weighs
    each held-out task's neighbours in time most (tasks after it too), exactly
    as ``infer`` weighs the history of a new task.
    """
    if "time" not in data.attributes.columns:
        raise ValueError(f"{data.name}: --decay needs a 'time' column (task-level)")
    times = data.attributes["time"]
    involved = [*history, target]
    if times.loc[involved].isna().any():
        missing = times.loc[involved][times.loc[involved].isna()].index[0]
        raise ValueError(f"{data.name}: task {missing!r} has no 'time'; --decay needs every time")
    ages = np.abs(float(times.loc[target]) - times.loc[list(history)].to_numpy(dtype=float))
    return recency_weights(ages, decay)


def _task_weights(data: TaskData, history: Sequence[str]) -> np.ndarray | None:
    if "task_weight" not in data.attributes.columns:
        return None
    weights = data.attributes.loc[list(history), "task_weight"]
    if weights.isna().any():
        raise ValueError(
            f"{data.name}: column 'task_weight' is empty for history task "
            f"{weights.index[weights.isna()][0]!r}"
        )
    return weights.to_numpy(dtype=float)


def _weights(
    data: TaskData, target: str, history: Sequence[str], settings: Settings
) -> np.ndarray | None:
    """Task weights for ``weighted``: recency and/or kernel similarity, else ``task_weight``.

    Recency (``--decay``) and kernel (``--kernel``) weights multiply when both are given.
    """
    weighting = settings.weighting
    if not weighting.active:
        return _task_weights(data, history)
    weights = np.ones(len(history))
    if weighting.decay is not None:
        weights = weights * _decay_weights(data, target, history, weighting.decay)
    if weighting.kernel:
        weights = weights * kernel_weights(
            data.attributes.loc[list(history)],
            data.attributes.loc[target],
            columns=weighting.kernel,
            bandwidth=weighting.bandwidth,
            mismatch=weighting.mismatch,
        )
    return weights


def _group_history(data: TaskData, target: str, history: Sequence[str], column: str) -> list[str]:
    if column not in data.attributes.columns:
        raise ValueError(
            f"{data.name}: --group-by {column!r} names no task-level column "
            f"(available: {', '.join(map(repr, data.attributes.columns)) or 'none'})"
        )
    groups = data.attributes[column]
    value = groups.loc[target]
    if pd.isna(value):
        raise ValueError(
            f"{data.name}: task {target!r} has no value in --group-by column {column!r}"
        )
    mask = group_history_mask(groups.loc[list(history)].to_numpy(), value)
    return [task for task, keep in zip(history, mask, strict=True) if keep]


AdjusterFactory = Callable[[TaskData, TaskStatistics, str, Sequence[str]], dict]


def _history_for(
    data: TaskData,
    stats: TaskStatistics,
    target: str,
    history: Sequence[str],
    settings: Settings,
    adjuster: AdjusterFactory | None,
) -> History:
    index = stats.index_of(history)
    weights = None
    if "weighted" in settings.methods:
        weights = _weights(data, target, history, settings)
    extra = adjuster(data, stats, target, history) if adjuster is not None else {}
    return History(
        gap=None if stats.gap is None else stats.gap.take(index),
        observed=stats.observed[index],
        weights=weights,
        missing_gap_reason=stats.missing_gap_reason or "the data has no gap standard errors",
        **extra,
    )


Progress = Callable[[int, int], None]


class InferOptions(TypedDict, total=False):
    """The keyword options of :func:`infer`, which :func:`backtest` takes too.

    Each is documented, with its default, in :func:`infer`.
    """

    alpha: float | Sequence[float] | None
    level: float | Sequence[float] | None
    method: str | Sequence[str]
    allocation: str | Allocation
    bounds: tuple[float, float] | str | None
    estimand: str | Estimand
    interval: str | None
    decay: float | None
    group_by: str | None
    adjust: str | Sequence[str] | None
    adjust_mode: str
    n_bootstrap: int
    seed: int | None
    kernel: str | Sequence[str] | None
    bandwidth: float
    mismatch: float
    penalty: float
    progress: Progress | None


@dataclass
class _Tracker:
    """Counts finished work and reports ``(done, total)`` to a progress callback."""

    report: Progress | None
    total: int
    done: int = 0

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.report is not None:
            self.report(self.done, self.total)


def _resamples(data: TaskData, settings: Settings) -> bool:
    """Whether per-task statistics need resampling (the slow part of long runs)."""
    return data.kind == "unit" and (
        settings.interval == "bootstrap" or settings.estimand.kind == "quantile"
    )


def _tracker(data: TaskData, settings: Settings, n_targets: int, progress) -> _Tracker:
    n_coords = len(data.coords)
    statistics_work = len(data.tasks) * n_coords if _resamples(data, settings) else 0
    return _Tracker(progress, statistics_work + n_targets * n_coords)


def _statistics(data: TaskData, settings: Settings, tracker: _Tracker) -> dict[str, TaskStatistics]:
    return data.statistics(
        estimand=settings.estimand,
        interval=settings.interval,
        bounds=settings.bounds,
        n_bootstrap=settings.n_bootstrap,
        seed=settings.seed,
        progress=tracker.advance if _resamples(data, settings) else None,
    )


def _calibrate_all(
    data: TaskData,
    statistics: dict[str, TaskStatistics],
    plan: Iterable[tuple[str, list[str]]],
    settings: Settings,
    tracker: _Tracker,
) -> list[IntervalResult]:
    """Run every method and level for each (target, history) pair of ``plan``."""
    adjuster = _adjuster(data, settings)
    n_coords = len(data.coords)
    results = []
    for target, history in plan:
        if settings.group_by is not None:
            history = _group_history(data, target, history, settings.group_by)
        for coord, stats in statistics.items():
            target_family = stats.synth.take(stats.index_of([target]))
            past = _history_for(data, stats, target, history, settings, adjuster)
            for method in settings.methods:
                for alpha in settings.alphas:
                    level = alpha / n_coords
                    allocation = design_allocation(settings.allocation, method, level, past, stats)
                    calibration = calibrate(method, target_family, past, level, allocation)
                    results.append(
                        IntervalResult.from_calibration(
                            calibration,
                            task=target,
                            coord=coord,
                            alpha=alpha,
                            n_coords=n_coords,
                            bounds=settings.bounds,
                            allocation=allocation,
                            target=target_family,
                            history=past,
                        )
                    )
            tracker.advance()
    return results


def _adjuster(data: TaskData, settings: Settings) -> AdjusterFactory | None:
    """Covariate-adjusted history fields per fold; the covariate design is built once."""
    adjustment = settings.adjustment
    if not adjustment.columns:
        return None
    covariates = CovariateAdjustment(
        data.attributes,
        adjustment.columns,
        mode=adjustment.mode,
        seed=settings.seed,
        penalty=adjustment.penalty,
    )

    def factory(data: TaskData, stats: TaskStatistics, target: str, history: Sequence[str]):
        return covariates.history_fields(stats, target, history)

    return factory


def _warn_infeasible(results: Sequence[IntervalResult]) -> None:
    infeasible = [r for r in results if not r.feasible]
    if infeasible:
        first = infeasible[0]
        warnings.warn(
            f"{len(infeasible)} interval(s) are infinite (feasible = false), e.g. "
            f"{first.task!r} by {first.method} at alpha {first.alpha:g}: {first.message}",
            stacklevel=3,
        )


def infer(
    data: TaskData | pd.DataFrame,
    *,
    alpha: float | Sequence[float] | None = None,
    level: float | Sequence[float] | None = None,
    method: str | Sequence[str] = "exchangeable",
    allocation: str | Allocation = AUTO_ALLOCATION,
    bounds: tuple[float, float] | str | None = None,
    estimand: str | Estimand = "mean",
    interval: str | None = None,
    decay: float | None = None,
    group_by: str | None = None,
    adjust: str | Sequence[str] | None = None,
    adjust_mode: str = "full",
    n_bootstrap: int = 2000,
    seed: int | None = 0,
    kernel: str | Sequence[str] | None = None,
    bandwidth: float = 1.0,
    mismatch: float = 0.5,
    penalty: float = 1.0,
    progress: Progress | None = None,
) -> InferenceResult:
    """Calibrated intervals for every target task (tasks with synthetic data only).

    Parameters
    ----------
    data : TaskData or pandas.DataFrame
        Task data in either format; targets are tasks without real data.
    alpha : float or sequence of float, optional
        Overall miscoverage level(s) in ``(0, 0.5]`` (default 0.1). A
        ``D``-dimensional estimand uses ``alpha / D`` per coordinate (Algorithm 3).
    level : float or sequence of float, optional
        Confidence level(s) ``1 − alpha`` instead of ``alpha`` (give one of the two).
    method : str or sequence of str
        ``exchangeable``, ``weighted``, ``finite-sample``, ``task-only``,
        ``synthetic-only``.
    allocation : str or Allocation
        Budget split: ``auto`` (default; chosen per target and coordinate
        from the history size and standard errors, never the gaps, and finite
        whenever some split is: see :mod:`synthinfer.allocation`),
        ``prop:A,B,C`` or ``abs:A1,A2``.
    bounds : (float, float) or "LO,HI" or "none", optional
        Range of the estimand: final intervals are clipped to it (and
        Hoeffding assumes it); the data must lie within it. By default a
        unit-level table whose values are all 0 or 1 gets ``[0, 1]`` (with a
        warning that says so); ``"none"`` turns that off.
    estimand : str
        ``mean`` or ``quantile:Q`` (unit-level data).
    interval : {"wald", "hoeffding", "bootstrap"}, optional
        Interval construction for unit-level data.
    decay : float, optional
        Recency decay ``RHO`` for ``weighted``: weight ``RHO ** |target_time − time|``,
        age measured from each target (each held-out task in a backtest).
        Without it, ``weighted`` uses the ``task_weight`` column.
    group_by : str, optional
        Task attribute: calibrate each target on history tasks of its group only.
    adjust : str or sequence of str, optional
        Covariates (task attributes and/or ``synth_estimate``) for a
        covariate-adjusted band (see :mod:`synthinfer.adjust`).
    adjust_mode : {"full", "split"}
        Full conformal (ridge) or split conformal adjustment.
    n_bootstrap : int
        Bootstrap replicates for bootstrap and quantile intervals.
    seed : int, optional
        Seed for the bootstrap, quantile intervals and the split (default 0,
        so runs repeat exactly; ``None`` draws a fresh one). The result keeps
        it in ``seed`` (and ``to_frame().attrs["seed"]``).
    kernel : str or sequence of str, optional
        Task attributes for similarity weights in ``weighted``
        (:func:`synthinfer.weights.kernel_weights`); multiplies recency weights
        when ``decay`` is given too.
    bandwidth, mismatch : float
        Kernel bandwidth (in standard deviations of numeric attributes) and
        the weight penalty per mismatching categorical attribute.
    penalty : float
        Ridge penalty of the covariate-adjusted gap model.
    progress : callable, optional
        Called as ``progress(done, total)`` as work finishes (the command line
        draws a progress bar with it on a terminal).

    Returns
    -------
    InferenceResult
    """
    data = TaskData.load(data)
    settings = Settings.from_arguments(
        alpha=alpha,
        level=level,
        method=method,
        allocation=allocation,
        bounds=bounds,
        estimand=estimand,
        interval=interval,
        group_by=group_by,
        n_bootstrap=n_bootstrap,
        seed=seed,
        decay=decay,
        kernel=kernel,
        bandwidth=bandwidth,
        mismatch=mismatch,
        adjust=adjust,
        adjust_mode=adjust_mode,
        penalty=penalty,
    )
    if not data.target_tasks:
        raise ValueError(
            f"{data.name}: no target tasks (tasks with synthetic rows only); every task has "
            f"real data. To check calibration on them, run a backtest"
        )
    settings = settings.for_data(data)
    history = list(data.history_tasks)
    plan = [(target, history) for target in data.target_tasks]
    tracker = _tracker(data, settings, len(plan), progress)
    results = _calibrate_all(data, _statistics(data, settings, tracker), plan, settings, tracker)
    _warn_infeasible(results)
    return InferenceResult(tuple(results), seed=settings.seed, randomized=settings.randomized(data))


def _checked_options(options: InferOptions) -> tuple[Settings, Progress | None]:
    """:func:`infer`'s keyword options, checked with its defaults (its signature lists them once).

    An unknown option is the ``TypeError`` that a call with it would raise.
    """
    try:
        bound = inspect.signature(infer).bind(None, **options)
    except TypeError as error:
        raise TypeError(f"backtest() {error}") from None
    bound.apply_defaults()
    arguments: dict[str, Any] = dict(bound.arguments)
    del arguments["data"]
    progress = arguments.pop("progress")
    return Settings.from_arguments(**arguments), progress


def backtest(
    data: TaskData | pd.DataFrame,
    *,
    protocol: str = "loo",
    split_time: float | str | None = None,
    time_col: str = "time",
    **options: Unpack[InferOptions],
) -> BacktestResult:
    """Hold history tasks out and check the intervals against their real estimates.

    Parameters
    ----------
    data : TaskData or pandas.DataFrame
        Task data; only history tasks take part (targets are left out with a
        warning that counts them).
    protocol : {"loo", "temporal"}
        ``loo`` holds out each history task in turn with all others as
        history; ``temporal`` uses tasks with ``time < split_time`` as
        history and predicts the rest.
    split_time : float or str, optional
        Split for ``temporal`` (a number or an ISO date).
    time_col : str
        Task-level time column for ``temporal``.
    **options
        The keyword options of :func:`infer` (``alpha``, ``method``, ...,
        ``progress``), with its defaults.

    Returns
    -------
    BacktestResult
        Per-task rows with ``truth`` and ``covered``, and a summary of
        coverage and widths per method × alpha × coordinate.
    """
    data = TaskData.load(data)
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    settings, progress = _checked_options(options)
    settings = settings.for_data(data)
    if data.target_tasks:
        warnings.warn(
            f"{data.name}: {len(data.target_tasks)} target task(s) without real data are left "
            f"out of the backtest",
            stacklevel=2,
        )
    plan = backtest_folds(data, protocol, split_time, time_col)
    tracker = _tracker(data, settings, len(plan), progress)
    statistics = _statistics(data, settings, tracker)
    results = _calibrate_all(data, statistics, plan, settings, tracker)
    _warn_infeasible(results)
    tasks = InferenceResult(tuple(results)).to_frame()
    truths = {
        (coord, task): float(value)
        for coord, stats in statistics.items()
        for task, value in zip(stats.tasks, stats.truth, strict=True)
    }
    tasks["truth"] = [truths[(r.coord, r.task)] for r in results]
    tasks["covered"] = (tasks["lower"] <= tasks["truth"]) & (tasks["truth"] <= tasks["upper"])
    tasks = tasks[list(BACKTEST_COLUMNS)]
    return BacktestResult(
        tasks=tasks,
        summary_frame=coverage_summary(tasks),
        protocol=protocol,
        seed=settings.seed,
        randomized=settings.randomized(data),
    )
