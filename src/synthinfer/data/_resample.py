"""Bootstrap replicates of one task's statistics, vectorized over replicates.

The statistic is the (weighted) mean or a (weighted) sample quantile. The
bootstrap resamples units, not rows: a table's ``unit`` is the cluster (its
rows are repeated draws of one persona, several judge samples of a battle),
and in a paired task a unit's real and synthetic values stay together.
Without ``unit`` every row is its own unit.

Each unit counts once, whatever its number of rows: the mean is the mean of
the unit means (weighted by the unit's survey weight), and a quantile is the
quantile of the values with each row weighted by its unit's weight shared
among the unit's rows. When every unit has a single row these are the plain
(or survey-weighted) statistics of the rows, computed exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthinfer.intervals import sample_quantile

__all__ = ["Side", "TaskSample", "bootstrap_draws", "side_statistic", "statistic", "task_arrays"]

_BOOTSTRAP_CELLS = 4_000_000


@dataclass(frozen=True)
class Side:
    """One source's values of a task, grouped by unit.

    Attributes
    ----------
    values : ndarray
        The values (empty ones left out), the rows of a unit together.
    weights : ndarray or None
        Their survey weights (``None``: unweighted).
    units : ndarray of int
        Each row's unit, numbered ``0, 1, ...`` in the order of the rows.
    n_units : int
        The number of units.
    """

    values: np.ndarray
    weights: np.ndarray | None
    units: np.ndarray
    n_units: int

    @property
    def singletons(self) -> bool:
        """Whether every unit has a single row (then rows and units coincide)."""
        return self.n_units == self.values.size

    @property
    def shares(self) -> np.ndarray:
        """Each row's share of its unit: the unit's weight over its number of rows."""
        sizes = np.bincount(self.units, minlength=self.n_units)[self.units]
        weight = np.ones(self.values.size) if self.weights is None else self.weights
        return weight / sizes


@dataclass(frozen=True)
class TaskSample:
    """One task's real and synthetic sides.

    Attributes
    ----------
    real, synth : Side
        The two sources.
    pairs : int
        In a paired task, the units ``0 .. pairs − 1`` of both sides are the
        same units (labelled pairs, in that order); other units follow
        (synthetic units without real rows: unlabelled).
    paired : bool
        Whether the task's gap is paired (some unit has rows of both sources).
    """

    real: Side
    synth: Side
    pairs: int
    paired: bool


def _side(rows: pd.DataFrame, order: list, weighted: bool) -> Side:
    """The rows grouped by unit in ``order`` (stable within a unit)."""
    codes = pd.Index(order).get_indexer(rows["unit"]) if len(order) else np.zeros(0, int)
    rank = np.argsort(codes, kind="stable")
    weights = rows["weight"].to_numpy(float)[rank] if weighted else None
    return Side(rows["value"].to_numpy(float)[rank], weights, codes[rank], len(order))


def task_arrays(group: pd.DataFrame, units: bool, paired: bool, weighted: bool) -> TaskSample:
    """Real and synthetic values of one task, grouped by unit; pairs aligned first.

    Parameters
    ----------
    group : pandas.DataFrame
        The task's rows with a value (``source``, ``value``, and ``weight``,
        ``unit`` as present).
    units : bool
        Whether the rows carry ``unit`` (else each row is its own unit).
    paired : bool
        Whether the task's gap is paired.
    weighted : bool
        Whether the rows carry survey weights.

    Returns
    -------
    TaskSample
        Rows keep the table's order, except in a paired task, where the
        labelled units come first in sorted order (aligned on both sides),
        then the real units that lost their synthetic values, then the
        unlabelled synthetic units.
    """
    real = group[group["source"] == "real"]
    synth = group[group["source"] == "synthetic"]
    if not units:
        real, synth = (
            real.assign(unit=np.arange(len(real))),
            synth.assign(unit=np.arange(len(synth))),
        )
    real_units = list(pd.unique(real["unit"]))
    synth_units = list(pd.unique(synth["unit"]))
    pairs = 0
    if units and paired and len(real):
        in_synth = set(synth_units)
        ordered = list(pd.unique(real["unit"].sort_values(kind="stable")))
        both = [u for u in ordered if u in in_synth]
        pairs, in_real = len(both), set(ordered)
        real_units = both + [u for u in ordered if u not in in_synth]
        synth_units = both + [u for u in synth_units if u not in in_real]
    return TaskSample(
        _side(real, real_units, weighted),
        _side(synth, synth_units, weighted),
        pairs,
        bool(units and paired and len(real)),
    )


def statistic(values: np.ndarray, weights: np.ndarray | None, quantile: float | None) -> float:
    """The (weighted) mean, or the (weighted) sample quantile ``quantile``."""
    if quantile is None:
        return float(np.average(values, weights=weights))
    return sample_quantile(values, quantile, weights)


def side_statistic(side: Side, quantile: float | None) -> float:
    """The statistic of one side, each unit counting once (see the module)."""
    if side.singletons:
        return statistic(side.values, side.weights, quantile)
    return statistic(side.values, side.shares, quantile)


def _resampled(
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


def _counts(index: np.ndarray, size: int) -> np.ndarray:
    """How often each of ``size`` units is drawn in each resample (rows of ``index``)."""
    offsets = index + size * np.arange(len(index))[:, None]
    return np.bincount(offsets.ravel(), minlength=len(index) * size).reshape(len(index), size)


def _clustered(side: Side, counts: np.ndarray, quantile: float | None) -> np.ndarray:
    """The statistic of each resample of units (``counts``: draws per unit, per resample)."""
    shares = side.shares
    if quantile is None:
        sums = np.bincount(side.units, weights=shares * side.values, minlength=side.n_units)
        totals = np.bincount(side.units, weights=shares, minlength=side.n_units)
        return (counts @ sums) / (counts @ totals)
    order = np.argsort(side.values, kind="stable")
    weights = counts[:, side.units[order]] * shares[order]
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    position = np.argmax(cumulative >= quantile - 1e-12, axis=1)
    return side.values[order][position]


def _padded(counts: np.ndarray, size: int) -> np.ndarray:
    """``counts`` of the first units, with zeros for the other units up to ``size``."""
    return np.pad(counts, ((0, 0), (0, size - counts.shape[1])))


def bootstrap_draws(
    sample: TaskSample,
    quantile: float | None,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the synthetic statistic and of the gap (NaN without real data).

    Units are resampled with replacement: the synthetic units for the
    synthetic statistic; in a paired task the labelled pairs for the gap
    (real minus synthetic over the same resampled units); otherwise the real
    units independently, the gap being the real minus the synthetic replicate.
    """
    real, synth, pairs = sample.real, sample.synth, sample.pairs
    if real.singletons and synth.singletons:
        return _row_draws(sample, quantile, n_bootstrap, rng)
    synth_draws = np.empty(n_bootstrap)
    gap_draws = np.full(n_bootstrap, np.nan)
    chunk = max(1, _BOOTSTRAP_CELLS // max(synth.values.size, real.values.size, 1))
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        synth_index = rng.integers(0, synth.n_units, size=(stop - start, synth.n_units))
        if real.values.size and sample.paired and pairs:
            pair_counts = _counts(rng.integers(0, pairs, size=(stop - start, pairs)), pairs)
            real_stat = _clustered(real, _padded(pair_counts, real.n_units), quantile)
            paired_synth = _clustered(synth, _padded(pair_counts, synth.n_units), quantile)
            gap_draws[start:stop] = real_stat - paired_synth
        synth_draws[start:stop] = _clustered(synth, _counts(synth_index, synth.n_units), quantile)
        if real.values.size and not sample.paired:
            real_index = rng.integers(0, real.n_units, size=(stop - start, real.n_units))
            real_stat = _clustered(real, _counts(real_index, real.n_units), quantile)
            gap_draws[start:stop] = real_stat - synth_draws[start:stop]
    return synth_draws, gap_draws


def _row_draws(
    sample: TaskSample, quantile: float | None, n_bootstrap: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bootstrap_draws` when every unit is one row: rows are resampled directly."""
    real, synth = sample.real.values, sample.synth.values
    weights = (sample.real.weights, sample.synth.weights)
    pairs = sample.pairs
    synth_draws = np.empty(n_bootstrap)
    gap_draws = np.full(n_bootstrap, np.nan)
    size = max(synth.size, real.size, 1)
    chunk = max(1, _BOOTSTRAP_CELLS // size)
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        synth_index = rng.integers(0, synth.size, size=(stop - start, synth.size))
        if real.size and sample.paired and pairs:
            pair_index = rng.integers(0, pairs, size=(stop - start, pairs))
            pair_real = real[:pairs], None if weights[0] is None else weights[0][:pairs]
            pair_synth = synth[:pairs], None if weights[1] is None else weights[1][:pairs]
            real_stat = _resampled(*pair_real, quantile, pair_index)
            paired_synth = _resampled(*pair_synth, quantile, pair_index)
            gap_draws[start:stop] = real_stat - paired_synth
        synth_draws[start:stop] = _resampled(synth, weights[1], quantile, synth_index)
        if real.size and not sample.paired:
            real_index = rng.integers(0, real.size, size=(stop - start, real.size))
            real_stat = _resampled(real, weights[0], quantile, real_index)
            gap_draws[start:stop] = real_stat - synth_draws[start:stop]
    return synth_draws, gap_draws
