"""``infer`` and ``backtest``: statistics, calibration of every (target, history) pair."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthinfer._columns import BACKTEST_COLUMNS, TARGET_LABELS_COLUMN, TASK_GROUP_COLUMN
from synthinfer._validation import (
    check_choice,
)
from synthinfer.allocation import AUTO_ALLOCATION, Allocation
from synthinfer.data import (
    Estimand,
    Labels,
    TaskData,
    TaskStatistics,
    backtest_folds,
    check_target_labels,
    design_allocation,
    split_targets,
)
from synthinfer.evaluate._groups import TaskGroups
from synthinfer.evaluate._history import (
    LABEL_METHODS,
    adjuster,
    group_history,
    history_for,
    method_history,
)
from synthinfer.evaluate._settings import (
    PROTOCOLS,
    InferOptions,
    Progress,
    Settings,
    resamples,
)
from synthinfer.methods import calibrate
from synthinfer.results import BacktestResult, InferenceResult, IntervalResult, coverage_summary
from synthinfer.tables import ReadOptions

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
    labels: Labels | None = None,
) -> list[IntervalResult]:
    """Run every method and level for each (target, history) pair of ``plan``.

    ``labels`` gives ``ppi`` and ``hybrid`` the targets' labelled pairs.
    """
    make_fields = adjuster(data, settings)
    n_coords = len(data.coords)
    results = []
    plan = list(plan)
    groups = TaskGroups.of(data, plan, settings)
    for target, history in plan:
        if settings.group_by is not None:
            history = group_history(data, target, history, settings.group_by)
        if groups is not None:
            history = groups.other_groups(target, history)
        for coord, stats in statistics.items():
            target_family = stats.synth.take(stats.index_of([target]))
            past = history_for(data, stats, target, history, settings, make_fields, labels)
            if groups is not None:
                past = groups.attach(past, target, history)
            for method in settings.methods:
                seen = method_history(past, method)
                for alpha in settings.alphas:
                    level = alpha / n_coords
                    allocation = design_allocation(settings.allocation, method, level, seen, stats)
                    calibration = calibrate(method, target_family, seen, level, allocation)
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
                            history=seen,
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
    task_group: str | None = None,
    coverage: str | None = None,
    targets: str | Sequence[str] | None = None,
    ppi_critical: str = "student",
    read: ReadOptions | dict | None = None,
    progress: Progress | None = None,
) -> InferenceResult:
    """Calibrated intervals for every target task (tasks with synthetic data only,
    and the tasks named in ``targets``).

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
        ``synthetic-only``, ``hybrid``, ``ppi`` (prediction-powered inference
        from the target's own labelled pairs; see ``docs/labels.md``).
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
    task_group : str, optional
        Task attribute whose levels are the exchangeable units (e.g. the
        question of question × subgroup cells): each target is calibrated
        across the other groups, and history cells of its own group are left
        out of its history (see ``docs/nested.md``). Methods
        ``exchangeable``, ``finite-sample`` and ``synthetic-only``.
    coverage : {"cell", "group"}, optional
        With ``task_group``: ``cell`` (default) covers a random cell of a new
        group with probability ``>= 1 − alpha``; ``group`` covers all cells of
        a new group at once with probability ``>= 1 − alpha``.
    targets : str or sequence of str, optional
        Tasks to treat as targets even though they have real rows (comma
        lists too): they leave the history, and their labelled pairs (units
        with both real and synthetic rows) serve ``ppi`` and ``hybrid``.
        Other methods use their synthetic data only. A name not in the data
        is an error.
    ppi_critical : {"student", "normal"}
        Critical value of the target's PPI interval in ``ppi`` and
        ``hybrid``: ``student`` (default) widens ``ppi_py``'s interval so that
        it keeps its level with few labelled pairs (a summary table then
        needs an ``n_labelled`` column); ``normal`` gives ``ppi_py``'s
        numbers exactly (see ``docs/labels.md``).
    read : ReadOptions or dict, optional
        How ``data`` is read when it is a wide score table (one row per item,
        a human and a judge score column) or an evaluation log (promptfoo,
        Inspect AI): ``real``, ``synthetic``, ``task_col``, ``unit_col``,
        ``format_in`` (see :meth:`TaskData.load`).
    progress : callable, optional
        Called as ``progress(done, total)`` as work finishes (the command line
        draws a progress bar with it on a terminal).

    Returns
    -------
    InferenceResult
    """
    data = TaskData.load(data, **ReadOptions.of(read).keywords())
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
        task_group=task_group,
        coverage=coverage,
        targets=targets,
        ppi_critical=ppi_critical,
    )
    target_tasks, history = split_targets(data, settings.targets)
    settings = settings.for_data(data)
    plan = [(target, history) for target in target_tasks]
    groups = TaskGroups.of(data, plan, settings)
    if groups is not None:
        groups.warn_shared(plan)
    tracker = _tracker(data, settings, len(plan), progress)
    statistics = _statistics(data, settings, tracker)
    results = _calibrate_all(data, statistics, plan, settings, tracker, _labels(data, settings))
    _warn_infeasible(results)
    return InferenceResult(tuple(results), seed=settings.seed, randomized=settings.randomized(data))


def _labels(data: TaskData, settings: Settings, simulate: int | None = None) -> Labels | None:
    """The labelled-pair inputs when ``ppi`` or ``hybrid`` runs (else nothing is read)."""
    if not LABEL_METHODS & set(settings.methods):
        return None
    return Labels(
        data, settings.estimand, settings.seed, settings.methods, simulate, settings.ppi_critical
    )


def _label_counts(
    data: TaskData, settings: Settings, target_labels: int | str | Sequence[int] | None
) -> tuple[int, ...]:
    """The backtest's label counts ``m``, checked against the data and the methods."""
    if settings.targets:
        raise ValueError(
            "targets (--target) is an option of infer; a backtest holds out its history tasks "
            "itself (give them labels with --target-labels M)"
        )
    counts = check_target_labels(target_labels)
    uses_labels = sorted(LABEL_METHODS & set(settings.methods))
    if counts and data.kind != "unit":
        raise ValueError(
            f"{data.name}: --target-labels draws labelled units, so it needs a unit-level "
            f"table with a 'unit' column (a summary table gives 'ppi_estimate', 'ppi_se')"
        )
    if counts and (data.rows is None or not data.rows.paired):
        raise ValueError(
            f"{data.name}: --target-labels needs labelled pairs: a 'unit' column pairing real "
            f"and synthetic rows"
        )
    if uses_labels and data.kind == "unit" and not counts:
        raise ValueError(
            f"method '{uses_labels[0]}' in a backtest needs --target-labels M: each held-out "
            f"task then keeps M of its labelled units as labels (all of them would make its "
            f"real estimate the truth itself)"
        )
    return counts


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
    del arguments["data"], arguments["read"]
    progress = arguments.pop("progress")
    return Settings.from_arguments(**arguments), progress


def backtest(
    data: TaskData | pd.DataFrame,
    *,
    protocol: str = "loo",
    split_time: float | str | None = None,
    time_col: str = "time",
    target_labels: int | str | Sequence[int] | None = None,
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
    target_labels : int or sequence of int, optional
        Simulated labelling for ``ppi`` and ``hybrid``: each held-out task
        keeps a seeded random ``m`` of its labelled units as its labels (the
        rest become unlabelled; all its synthetic rows stay), once per ``m``
        given. ``truth`` stays the task's full real estimate; the rows and
        the summary gain a ``target_labels`` column. A held-out task with
        fewer than ``m`` labelled units (or none left unlabelled) is left out
        at that ``m``, with a warning that counts them.
    **options
        The keyword options of :func:`infer` (``alpha``, ``method``, ...,
        ``progress``), with its defaults.

    Returns
    -------
    BacktestResult
        Per-task rows with ``truth`` and ``covered``, and a summary of
        coverage and widths per method × alpha × coordinate.
    """
    data = TaskData.load(data, **ReadOptions.of(options.get("read")).keywords())
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
    counts = _label_counts(data, settings, target_labels)
    tracker = _tracker(data, settings, len(plan) * max(len(counts), 1), progress)
    statistics = _statistics(data, settings, tracker)
    results, labelled = [], []
    for count in counts or (None,):
        labels = _labels(data, settings, count)
        folds = plan if labels is None else labels.held_out(plan)
        found = _calibrate_all(data, statistics, folds, settings, tracker, labels)
        results += found
        labelled += [count] * len(found)
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
    if counts:
        tasks[TARGET_LABELS_COLUMN] = labelled
    groups = TaskGroups.of(data, plan, settings)
    if groups is not None:
        tasks[TASK_GROUP_COLUMN] = groups.label_of(tasks["task"])
    return BacktestResult(
        tasks=tasks,
        summary_frame=coverage_summary(tasks),
        protocol=protocol,
        seed=settings.seed,
        randomized=settings.randomized(data),
        intervals=tuple(results),
    )
