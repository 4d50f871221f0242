"""Per-task interval families of one coordinate of a unit-level table.

Wald intervals come straight from the per-task sufficient statistics that
:mod:`synthinfer.tables` computed where the data lives. Hoeffding intervals
need the counts and means too, and one pass to check the values lie within
the bounds. Bootstrap and exact-quantile constructions need each task's
values: they are read back a batch of tasks at a time
(:class:`synthinfer.tables.UnitRows`), and each task's resampling is
vectorized over replicates.

Every count here is a count of units (the clusters of a table with ``unit``;
rows otherwise), and a task is paired when some unit has rows of both
sources (a table with ``unit`` may also hold unpaired tasks: targets, and
tasks whose real and synthetic units share no id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthinfer.data._estimand import Estimand, TaskStatistics
from synthinfer.data._resample import bootstrap_draws, side_statistic, task_arrays
from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
)
from synthinfer.tables import UnitRows

__all__ = ["INTERVALS", "CoordinateRows", "unit_families"]

INTERVALS = ("wald", "hoeffding", "bootstrap")

Families = tuple[IntervalFamily, IntervalFamily, np.ndarray]


@dataclass(frozen=True)
class CoordinateRows:
    """One coordinate of a unit-level table: its per-task statistics and its rows.

    Attributes
    ----------
    coord : str
        The coordinate (``""`` for a scalar estimand).
    moments : pandas.DataFrame
        :func:`synthinfer.tables.unit_statistics` columns, indexed by task,
        in the order of ``tasks``.
    tasks : tuple of str
        History tasks, then targets.
    history : frozenset of str
        Tasks with real data.
    rows : UnitRows
        The rows, read back per task when a construction needs them.
    name : str
        The data's name for messages.
    """

    coord: str
    moments: pd.DataFrame
    tasks: tuple[str, ...]
    history: frozenset
    rows: UnitRows
    name: str

    def column(self, label: str) -> np.ndarray:
        """One statistic over the tasks, as floats."""
        return self.moments[label].to_numpy(dtype=float)

    @property
    def paired(self) -> np.ndarray:
        """Per task, whether its gap is paired (some unit has rows of both sources)."""
        shared = self._count("n_pairs") + self._count("n_pairs_lost")
        return (shared > 0) & self.rows.paired

    def _count(self, label: str) -> np.ndarray:
        """A count column over the tasks (0 where absent)."""
        if label not in self.moments.columns:
            return np.zeros(len(self.moments), dtype=np.int64)
        return self.moments[label].fillna(0).to_numpy(dtype=np.int64)

    def per_task(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each task's rows in turn (task order), read a batch of tasks at a time."""
        sizes = self._count("n_real_rows") + self._count("n_synth_rows")
        return self.rows.per_task(self.tasks, sizes, self.coord)


def unit_families(
    data: CoordinateRows,
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
    data : CoordinateRows
        The coordinate's statistics and rows.
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
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
    truth = data.column("real_mean")
    if estimand.kind == "quantile":
        if interval in ("wald", "hoeffding"):
            raise ValueError(
                f"--interval {interval} is for means; a quantile estimand uses the exact "
                f"order-statistic interval (default) or --interval bootstrap"
            )
        (synth, gap, observed), truth = _quantile_families(
            data, estimand.quantile, interval, n_bootstrap, rng, progress
        )
    elif interval == "bootstrap":
        synth, gap, observed, _ = _bootstrap_families(data, None, n_bootstrap, rng, progress)
    elif interval == "hoeffding":
        synth, gap, observed = _hoeffding_families(data, bounds)
    else:
        synth, gap, observed = _wald_families(data)
    is_history = np.array([task in data.history for task in data.tasks])
    return TaskStatistics(
        coord=data.coord,
        tasks=np.asarray(data.tasks, dtype=object),
        is_history=is_history,
        synth=synth,
        gap=gap,
        observed=np.where(is_history, observed, np.nan),
        truth=np.where(is_history, truth, np.nan),
    )


def _check_sizes(counts: pd.Series, what: str, name: str) -> None:
    small = counts.index[counts < 2]
    if len(small):
        raise ValueError(
            f"{name}: task {small[0]!r} has {int(counts[small[0]])} {what} "
            f"observation(s); a standard error needs at least 2 (add data, or give a summary "
            f"table with a known standard error)"
        )


def _wald_families(data: CoordinateRows) -> Families:
    """Wald families from per-task means and estimator variances."""
    moments, name = data.moments, data.name
    _check_sizes(moments["n_synth"], "synthetic", name)
    history = moments[moments["n_real"] > 0]
    _check_sizes(history["n_real"], "real", name)
    _check_sizes(
        moments.loc[data.paired & (moments["n_real"] > 0).to_numpy(), "n_pairs"], "paired", name
    )
    synth = WaldInterval(data.column("synth_mean"), np.sqrt(data.column("synth_var")))
    gap = WaldInterval(data.column("gap_mean"), np.sqrt(data.column("gap_var")))
    return synth, gap, data.column("real_mean") - data.column("synth_mean")


def _hoeffding_families(data: CoordinateRows, bounds: tuple[float, float] | None) -> Families:
    if bounds is None:
        raise ValueError("--interval hoeffding needs the data's range: give --bounds LO,HI")
    if data.rows.weighted:
        raise ValueError(
            "--interval hoeffding assumes equally weighted observations; drop the 'weight' "
            "column or use --interval wald (Hájek) or bootstrap"
        )
    outside = data.rows.outside(bounds[0], bounds[1], data.coord)
    if outside.count:
        raise ValueError(
            f"{data.name}: {outside.count} value(s) fall outside --bounds "
            f"{bounds[0]:g},{bounds[1]:g} (e.g. {outside.example:g}); Hoeffding needs bounded data"
        )

    def column(label: str) -> np.ndarray:
        values = data.column(label)
        return np.where(values > 0, values, np.nan) if label.startswith("n_") else values

    synth_mean, synth_n = column("synth_mean"), column("n_synth")
    observed = column("real_mean") - synth_mean
    paired = HoeffdingInterval.for_paired_gap(column("gap_mean"), column("n_pairs"), bounds)
    unpaired = HoeffdingInterval.for_unpaired_gap(observed, column("n_real"), synth_n, bounds)
    gap_family = HoeffdingInterval(
        np.where(data.paired, paired.estimate, unpaired.estimate),
        np.where(data.paired, paired.scale, unpaired.scale),
    )
    return HoeffdingInterval.for_mean(synth_mean, synth_n, bounds), gap_family, observed


def _bootstrap_families(
    data: CoordinateRows,
    quantile: float | None,
    n_bootstrap: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None,
) -> tuple[IntervalFamily, IntervalFamily, np.ndarray, _Samples]:
    """Bootstrap families, and each task's synthetic values and real statistic."""
    if int(n_bootstrap) < 100:
        raise ValueError(f"n_bootstrap must be at least 100, got {n_bootstrap}")
    n_tasks = len(data.tasks)
    synth_estimate = np.empty(n_tasks)
    observed = np.full(n_tasks, np.nan)
    real_estimate = np.full(n_tasks, np.nan)
    synth_draws = np.empty((n_tasks, n_bootstrap))
    gap_draws = np.full((n_tasks, n_bootstrap), np.nan)
    samples, clustered = [], ""
    paired = data.paired
    for i, (task, group) in enumerate(data.per_task()):
        sample = task_arrays(group, data.rows.paired, bool(paired[i]), data.rows.weighted)
        if sample.paired and not sample.pairs:
            _check_sizes(pd.Series({task: 0}), "paired", data.name)
        samples.append(sample.synth.values)
        if not (sample.synth.singletons and sample.real.singletons):
            clustered = clustered or task
        synth_estimate[i] = side_statistic(sample.synth, quantile)
        if sample.real.values.size:
            real_estimate[i] = side_statistic(sample.real, quantile)
        if task in data.history:
            observed[i] = real_estimate[i] - synth_estimate[i]
        synth_draws[i], gap_draws[i] = bootstrap_draws(sample, quantile, n_bootstrap, rng)
        if progress is not None:
            progress(1)
    return (
        BootstrapInterval(synth_estimate, synth_draws),
        BootstrapInterval(observed, gap_draws),
        observed,
        _Samples(tuple(samples), real_estimate, clustered),
    )


@dataclass(frozen=True)
class _Samples:
    """Each task's synthetic values and real statistic (kept from the bootstrap's read).

    ``clustered`` names a task with a unit of several rows (``""`` if none).
    """

    synthetic: tuple[np.ndarray, ...]
    real_estimate: np.ndarray
    clustered: str = ""


def _quantile_families(
    data: CoordinateRows,
    quantile: float,
    interval: str | None,
    n_bootstrap: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None,
) -> tuple[Families, np.ndarray]:
    """Quantile families (exact order statistics, or bootstrap) and the real quantiles."""
    if interval != "bootstrap" and data.rows.weighted:
        raise ValueError(
            f"{data.name}: the exact order-statistic quantile interval needs unweighted data; "
            f"use --interval bootstrap for survey-weighted quantiles"
        )
    synth_boot, gap, observed, samples = _bootstrap_families(
        data, quantile, n_bootstrap, rng, progress
    )
    truth = samples.real_estimate
    if interval == "bootstrap":
        return (synth_boot, gap, observed), truth
    if samples.clustered:
        raise ValueError(
            f"{data.name}: the exact order-statistic quantile interval assumes independent "
            f"rows, but units of task {samples.clustered!r} have several rows (repeated "
            f"draws); use --interval bootstrap, which resamples units"
        )
    return (OrderStatisticInterval(samples.synthetic, quantile), gap, observed), truth
