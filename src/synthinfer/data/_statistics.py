"""Per-task interval families from a unit-level table (one coordinate).

Wald statistics are computed with grouped, vectorized reductions; bootstrap
and exact-quantile constructions work task by task on that task's values
(each task's resampling is itself vectorized over replicates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
)
from synthinfer.intervals._families import sample_quantile

if TYPE_CHECKING:
    from synthinfer.data._taskdata import Estimand, TaskData, TaskStatistics

__all__ = ["unit_moments", "unit_statistics"]

INTERVALS = ("wald", "hoeffding", "bootstrap")
_BOOTSTRAP_CELLS = 4_000_000


def unit_moments(
    rows: pd.DataFrame, tasks: list[str], paired: bool, weighted: bool
) -> pd.DataFrame:
    """Per-task counts, means and estimator variances, from :mod:`synthinfer.tables._units`."""
    from synthinfer.tables._units import unit_statistics as reduce_units

    columns = ["task", "source", "value"] + ["weight"] * weighted + ["unit"] * paired
    return reduce_units(rows[columns], engine="pandas").set_index("task").reindex(tasks)


def _check_sizes(moments: pd.DataFrame, what: str, name: str) -> None:
    small = moments.index[moments["n"] < 2]
    if len(small):
        raise ValueError(
            f"{name}: task {small[0]!r} has {int(moments.loc[small[0], 'n'])} {what} "
            f"observation(s); a standard error needs at least 2 (add data, or give a summary "
            f"table with a known standard error)"
        )


def unit_statistics(
    data: TaskData,
    coord: str,
    estimand: Estimand,
    interval: str | None,
    bounds: tuple[float, float] | None,
    n_bootstrap: int,
    rng: np.random.Generator,
    *,
    progress: Callable[[int], None] | None = None,
) -> TaskStatistics:
    """Interval families for one coordinate of a unit-level table.

    Parameters
    ----------
    data : TaskData
        A unit-level ``TaskData``.
    coord : str
        Coordinate (``""`` for a scalar estimand).
    estimand : Estimand
        Mean or quantile.
    interval : str or None
        ``wald``, ``hoeffding``, ``bootstrap`` or ``None`` (automatic).
    bounds : tuple of float or None
        Data range; required by Hoeffding.
    n_bootstrap : int
        Bootstrap replicates.
    rng : numpy.random.Generator
        Randomness for the bootstrap.
    progress : callable, optional
        Called with 1 after each task's resampling.

    Returns
    -------
    TaskStatistics
    """
    from synthinfer.data._taskdata import TaskStatistics

    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
    rows = data._coord_rows(coord)
    tasks = list(data.tasks)
    history = set(data.history_tasks)
    weighted = "weight" in rows.columns
    paired = "unit" in rows.columns
    if estimand.kind == "quantile":
        if interval in ("wald", "hoeffding"):
            raise ValueError(
                f"--interval {interval} is for means; a quantile estimand uses the exact "
                f"order-statistic interval (default) or --interval bootstrap"
            )
        synth, gap, observed = _quantile_families(
            rows,
            tasks,
            history,
            estimand.quantile,
            interval,
            weighted,
            paired,
            n_bootstrap,
            rng,
            data.name,
        )
    elif interval == "bootstrap":
        synth, gap, observed = _bootstrap_families(
            rows, tasks, history, None, weighted, paired, n_bootstrap, rng, progress
        )
    elif interval == "hoeffding":
        synth, gap, observed = _hoeffding_families(rows, tasks, paired, weighted, bounds, data.name)
    else:
        synth, gap, observed = _wald_families(rows, tasks, paired, weighted, data.name)
    truth = _real_estimates(rows, tasks, estimand, weighted)
    is_history = np.array([task in history for task in tasks])
    return TaskStatistics(
        coord=coord,
        tasks=np.asarray(tasks, dtype=object),
        is_history=is_history,
        synth=synth,
        gap=gap,
        observed=np.where(is_history, observed, np.nan),
        truth=np.where(is_history, truth, np.nan),
    )


def _real_estimates(
    rows: pd.DataFrame, tasks: list[str], estimand: Estimand, weighted: bool
) -> np.ndarray:
    if estimand.kind == "mean":
        paired = "unit" in rows.columns
        return unit_moments(rows, tasks, paired, weighted)["real_mean"].to_numpy(dtype=float)
    real = rows[rows["source"] == "real"]
    estimates = {}
    for task, group in real.groupby("task", sort=False):
        weights = group["weight"].to_numpy() if weighted else None
        estimates[task] = sample_quantile(group["value"].to_numpy(), estimand.quantile, weights)
    return np.array([estimates.get(task, np.nan) for task in tasks], dtype=float)


def _wald_families(
    rows: pd.DataFrame, tasks: list[str], paired: bool, weighted: bool, name: str
) -> tuple[IntervalFamily, IntervalFamily, np.ndarray]:
    """Wald families from per-task means and estimator variances (see :mod:`synthinfer.tables`)."""
    moments = unit_moments(rows, tasks, paired, weighted)
    _check_sizes(moments.rename(columns={"n_synth": "n"}), "synthetic", name)
    history = moments[moments["n_real"] > 0]
    _check_sizes(history.rename(columns={"n_real": "n"}), "real", name)
    if paired:
        _check_sizes(history.rename(columns={"n_pairs": "n"}), "paired", name)

    def column(label: str) -> np.ndarray:
        return moments[label].to_numpy(dtype=float)

    synth = WaldInterval(column("synth_mean"), np.sqrt(column("synth_var")))
    gap = WaldInterval(column("gap_mean"), np.sqrt(column("gap_var")))
    return synth, gap, column("real_mean") - column("synth_mean")


def _hoeffding_families(
    rows: pd.DataFrame,
    tasks: list[str],
    paired: bool,
    weighted: bool,
    bounds: tuple[float, float] | None,
    name: str,
) -> tuple[IntervalFamily, IntervalFamily, np.ndarray]:
    if bounds is None:
        raise ValueError("--interval hoeffding needs the data's range: give --bounds LO,HI")
    if weighted:
        raise ValueError(
            "--interval hoeffding assumes equally weighted observations; drop the 'weight' "
            "column or use --interval wald (Hájek) or bootstrap"
        )
    outside = (rows["value"] < bounds[0]) | (rows["value"] > bounds[1])
    if outside.any():
        raise ValueError(
            f"{name}: {int(outside.sum())} value(s) fall outside --bounds "
            f"{bounds[0]:g},{bounds[1]:g} "
            f"(e.g. {rows.loc[outside, 'value'].iloc[0]:g}); Hoeffding needs bounded data"
        )
    moments = unit_moments(rows, tasks, paired, False)

    def column(label: str) -> np.ndarray:
        values = moments[label].to_numpy(dtype=float)
        return np.where(values > 0, values, np.nan) if label.startswith("n_") else values

    synth_mean, synth_n = column("synth_mean"), column("n_synth")
    observed = column("real_mean") - synth_mean
    if paired:
        gap_family = HoeffdingInterval.for_paired_gap(column("gap_mean"), column("n_pairs"), bounds)
    else:
        gap_family = HoeffdingInterval.for_unpaired_gap(observed, column("n_real"), synth_n, bounds)
    return HoeffdingInterval.for_mean(synth_mean, synth_n, bounds), gap_family, observed


def _task_arrays(rows: pd.DataFrame, task: str, paired: bool, weighted: bool):
    """Real and synthetic values (and weights) of one task; paired rows aligned by unit."""
    group = rows[rows["task"] == task]
    real = group[group["source"] == "real"]
    synth = group[group["source"] == "synthetic"]
    if paired and len(real):
        real = real.sort_values("unit", kind="stable")
        synth = synth.set_index("unit").loc[real["unit"]].reset_index()
    weights = (
        (real["weight"].to_numpy(float), synth["weight"].to_numpy(float))
        if weighted
        else (None, None)
    )
    return real["value"].to_numpy(float), synth["value"].to_numpy(float), weights


def _statistic(values: np.ndarray, weights: np.ndarray | None, quantile: float | None) -> float:
    if quantile is None:
        return float(np.average(values, weights=weights))
    return sample_quantile(values, quantile, weights)


def _resampled_statistic(
    values: np.ndarray,
    weights: np.ndarray | None,
    quantile: float | None,
    index: np.ndarray,
) -> np.ndarray:
    """The statistic of each resample (rows of ``index``), vectorized over resamples."""
    resampled = values[index]
    if quantile is None:
        if weights is None:
            return resampled.mean(axis=1)
        w = weights[index]
        return (w * resampled).sum(axis=1) / w.sum(axis=1)
    if weights is None:
        return np.quantile(resampled, quantile, axis=1, method="inverted_cdf")
    order = np.argsort(resampled, axis=1, kind="stable")
    sorted_values = np.take_along_axis(resampled, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights[index], order, axis=1), axis=1)
    cumulative /= cumulative[:, -1:]
    position = np.argmax(cumulative >= quantile - 1e-12, axis=1)
    return sorted_values[np.arange(len(index)), position]


def _bootstrap_draws(
    real: np.ndarray,
    synth: np.ndarray,
    weights: tuple[np.ndarray | None, np.ndarray | None],
    quantile: float | None,
    paired: bool,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the synthetic statistic and of the gap (NaN without real data)."""
    synth_draws = np.empty(n_bootstrap)
    gap_draws = np.full(n_bootstrap, np.nan)
    size = max(synth.size, real.size, 1)
    chunk = max(1, _BOOTSTRAP_CELLS // size)
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        synth_index = rng.integers(0, synth.size, size=(stop - start, synth.size))
        if real.size and paired:
            pair_index = rng.integers(0, real.size, size=(stop - start, real.size))
            real_stat = _resampled_statistic(real, weights[0], quantile, pair_index)
            paired_synth = _resampled_statistic(synth, weights[1], quantile, pair_index)
            gap_draws[start:stop] = real_stat - paired_synth
        synth_draws[start:stop] = _resampled_statistic(synth, weights[1], quantile, synth_index)
        if real.size and not paired:
            real_index = rng.integers(0, real.size, size=(stop - start, real.size))
            real_stat = _resampled_statistic(real, weights[0], quantile, real_index)
            gap_draws[start:stop] = real_stat - synth_draws[start:stop]
    return synth_draws, gap_draws


def _bootstrap_families(
    rows: pd.DataFrame,
    tasks: list[str],
    history: set[str],
    quantile: float | None,
    weighted: bool,
    paired: bool,
    n_bootstrap: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> tuple[IntervalFamily, IntervalFamily, np.ndarray]:
    if int(n_bootstrap) < 100:
        raise ValueError(f"n_bootstrap must be at least 100, got {n_bootstrap}")
    n_tasks = len(tasks)
    synth_estimate = np.empty(n_tasks)
    observed = np.full(n_tasks, np.nan)
    synth_draws = np.empty((n_tasks, n_bootstrap))
    gap_draws = np.full((n_tasks, n_bootstrap), np.nan)
    for i, task in enumerate(tasks):
        real, synth, weights = _task_arrays(rows, task, paired, weighted)
        synth_estimate[i] = _statistic(synth, weights[1], quantile)
        if task in history:
            observed[i] = _statistic(real, weights[0], quantile) - synth_estimate[i]
        synth_draws[i], gap_draws[i] = _bootstrap_draws(
            real, synth, weights, quantile, paired, n_bootstrap, rng
        )
        if progress is not None:
            progress(1)
    return (
        BootstrapInterval(synth_estimate, synth_draws),
        BootstrapInterval(observed, gap_draws),
        observed,
    )


def _quantile_families(
    rows: pd.DataFrame,
    tasks: list[str],
    history: set[str],
    quantile: float,
    interval: str | None,
    weighted: bool,
    paired: bool,
    n_bootstrap: int,
    rng: np.random.Generator,
    name: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[IntervalFamily, IntervalFamily, np.ndarray]:
    synth_boot, gap, observed = _bootstrap_families(
        rows, tasks, history, quantile, weighted, paired, n_bootstrap, rng, progress
    )
    if interval == "bootstrap":
        return synth_boot, gap, observed
    if weighted:
        raise ValueError(
            f"{name}: the exact order-statistic quantile interval needs unweighted data; "
            f"use --interval bootstrap for survey-weighted quantiles"
        )
    samples = tuple(
        rows.loc[(rows["task"] == task) & (rows["source"] == "synthetic"), "value"].to_numpy(float)
        for task in tasks
    )
    return OrderStatisticInterval(samples, quantile), gap, observed
