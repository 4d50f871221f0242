"""``infer`` and ``backtest``: statistics, calibration of every (target, history) pair."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthinfer._columns import BACKTEST_COLUMNS
from synthinfer._validation import (
    check_choice,
)
from synthinfer.allocation import AUTO_ALLOCATION, Allocation
from synthinfer.data import (
    Estimand,
    TaskData,
    TaskStatistics,
    backtest_folds,
    design_allocation,
)
from synthinfer.evaluate._history import adjuster, group_history, history_for
from synthinfer.evaluate._settings import (
    PROTOCOLS,
    InferOptions,
    Progress,
    Settings,
    resamples,
)
from synthinfer.methods import calibrate
from synthinfer.results import BacktestResult, InferenceResult, IntervalResult, coverage_summary

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack


__all__ = ["backtest", "infer"]


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


def _tracker(data: TaskData, settings: Settings, n_targets: int, progress) -> _Tracker:
    n_coords = len(data.coords)
    statistics_work = len(data.tasks) * n_coords if resamples(data, settings) else 0
    return _Tracker(progress, statistics_work + n_targets * n_coords)


def _statistics(data: TaskData, settings: Settings, tracker: _Tracker) -> dict[str, TaskStatistics]:
    return data.statistics(
        estimand=settings.estimand,
        interval=settings.interval,
        bounds=settings.bounds,
        n_bootstrap=settings.n_bootstrap,
        seed=settings.seed,
        progress=tracker.advance if resamples(data, settings) else None,
    )


def _calibrate_all(
    data: TaskData,
    statistics: dict[str, TaskStatistics],
    plan: Iterable[tuple[str, list[str]]],
    settings: Settings,
    tracker: _Tracker,
) -> list[IntervalResult]:
    """Run every method and level for each (target, history) pair of ``plan``."""
    make_fields = adjuster(data, settings)
    n_coords = len(data.coords)
    results = []
    for target, history in plan:
        if settings.group_by is not None:
            history = group_history(data, target, history, settings.group_by)
        for coord, stats in statistics.items():
            target_family = stats.synth.take(stats.index_of([target]))
            past = history_for(data, stats, target, history, settings, make_fields)
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
