"""Labelled pairs: what ``ppi`` and ``hybrid`` read from a target's few real labels.

A *labelled pair* is a unit with both real and synthetic rows (same ``task``
and ``unit``); a unit with synthetic rows only is *unlabelled*. Rows of one
unit are averaged first (the unit is the cluster), each unit keeping its
survey weight. From them come, per coordinate:

* the target's prediction-powered interval family (:func:`ppi_family`):
  PPI++ for a mean (:func:`synthinfer.intervals.ppi_mean`, weighted when the
  table has ``weight``), the rectified-CDF interval for a quantile;
* the target's gap estimate from its ``m`` labelled pairs, and each history
  task's gap estimate from a seeded random subsample of ``m`` of its labelled
  pairs, by the one function :func:`label_gap`.

A summary table gives the same quantities in the optional columns
``ppi_estimate``, ``ppi_se`` (a Wald interval), ``n_labelled`` (the number
``m`` of labelled pairs behind them, which the Student critical value needs)
and ``label_gap_estimate``, ``label_gap_se``.

The labelled units must be a random subsample of the task's units: PPI and
the label gaps are unbiased only then (see ``docs/labels.md``).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthinfer._validation import split_list
from synthinfer.data._estimand import Estimand
from synthinfer.data._resample import Side, task_arrays
from synthinfer.data._taskdata import TaskData
from synthinfer.intervals import (
    IntervalFamily,
    WaldInterval,
    ppi_mean,
    ppi_quantile,
    sample_quantile,
)

__all__ = [
    "LABEL_COLUMNS",
    "LabelledSample",
    "Labels",
    "check_target_labels",
    "label_gap",
    "ppi_family",
    "split_targets",
]

LABEL_COLUMNS = ("ppi_estimate", "ppi_se", "label_gap_estimate", "label_gap_se")
"""Optional summary-table columns with a task's labelled-sample estimates."""

NEEDS_PAIRS = (
    "needs labelled pairs: units with both real and synthetic rows in a unit-level table "
    "with a 'unit' column (name the task with --target), or the columns 'ppi_estimate' "
    "and 'ppi_se' in a summary table"
)


@dataclass(frozen=True)
class LabelledSample:
    """One task's unit-level values: labelled pairs and unlabelled synthetic units.

    Attributes
    ----------
    real, synth : ndarray
        Real and synthetic unit means of the labelled pairs (aligned).
    unlabelled : ndarray
        Synthetic unit means of the units without real rows.
    weights, unlabelled_weights : ndarray or None
        Survey weights of those units (``None`` when the table has none).
    clustered : bool
        Whether some unit has several rows of one source.
    """

    real: np.ndarray
    synth: np.ndarray
    unlabelled: np.ndarray
    weights: np.ndarray | None = None
    unlabelled_weights: np.ndarray | None = None
    clustered: bool = False

    @property
    def m(self) -> int:
        """The number of labelled pairs."""
        return int(self.real.size)

    def labelled_only(self, keep: np.ndarray) -> LabelledSample:
        """The sample with only the labelled pairs ``keep`` (positions) left labelled.

        The other labelled units lose their real values and join the
        unlabelled units (their synthetic values all stay).
        """
        drop = np.setdiff1d(np.arange(self.m), keep)
        unlabelled = np.concatenate([self.synth[drop], self.unlabelled])
        weights = unlabelled_weights = None
        if self.weights is not None and self.unlabelled_weights is not None:
            weights = self.weights[keep]
            unlabelled_weights = np.concatenate([self.weights[drop], self.unlabelled_weights])
        return LabelledSample(
            self.real[keep],
            self.synth[keep],
            unlabelled,
            weights,
            unlabelled_weights,
            self.clustered,
        )


def _unit_means(side: Side) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's mean value and its weight (the mean weight of its rows)."""
    shares = side.shares
    totals = np.bincount(side.units, weights=shares, minlength=side.n_units)
    sums = np.bincount(side.units, weights=shares * side.values, minlength=side.n_units)
    return sums / totals, totals


def labelled_sample(rows: pd.DataFrame, paired: bool, weighted: bool) -> LabelledSample:
    """One task's :class:`LabelledSample` from its rows (``task_arrays`` pairs them)."""
    sample = task_arrays(rows, paired, paired, weighted)
    real, real_weights = _unit_means(sample.real)
    synth, synth_weights = _unit_means(sample.synth)
    pairs = sample.pairs if sample.paired else 0
    return LabelledSample(
        real=real[:pairs],
        synth=synth[:pairs],
        unlabelled=synth[pairs:],
        weights=real_weights[:pairs] if weighted else None,
        unlabelled_weights=synth_weights[pairs:] if weighted else None,
        clustered=not (sample.real.singletons and sample.synth.singletons),
    )


def label_gap(
    real: np.ndarray, synth: np.ndarray, weights: np.ndarray | None, estimand: Estimand
) -> tuple[float, float]:
    """The gap estimate ``real − synthetic`` over labelled pairs, and its standard error.

    Mean: the (Hájek) mean of the differences, with standard error
    ``sd/sqrt(m)`` (``ddof = 1``) or, weighted, ``sqrt(Σw²(d − d̄)²)/Σw``, as
    every paired gap of the package. Quantile: the difference of the two
    sample quantiles (standard error NaN: none is defined).

    Parameters
    ----------
    real, synth : ndarray
        The pairs' real and synthetic values.
    weights : ndarray or None
        Their survey weights.
    estimand : Estimand
        Mean or quantile.

    Returns
    -------
    (float, float)
        NaN standard error with fewer than two pairs.
    """
    m = real.size
    if m == 0:
        return np.nan, np.nan
    if estimand.kind == "quantile":
        q = float(estimand.quantile)  # type: ignore[arg-type]
        return sample_quantile(real, q, weights) - sample_quantile(synth, q, weights), np.nan
    differences = real - synth
    if weights is None:
        gap = float(differences.mean())
        se = float(differences.std(ddof=1) / np.sqrt(m)) if m > 1 else np.nan
        return gap, se
    total = float(weights.sum())
    gap = float(np.sum(weights * differences) / total)
    se = float(np.sqrt(np.sum(weights**2 * (differences - gap) ** 2)) / total) if m > 1 else np.nan
    return gap, se


def ppi_family(sample: LabelledSample, estimand: Estimand, task: str) -> IntervalFamily:
    """The prediction-powered interval family of one task (one task on the last axis).

    Raises
    ------
    ValueError
        Without labelled pairs or unlabelled units, or for a quantile of
        clustered units (several rows per unit).
    """
    if sample.m < 2:
        raise ValueError(
            f"method 'ppi' on target {task!r}: it has {sample.m} labelled pair(s) and "
            f"{NEEDS_PAIRS}; at least 2 are needed"
        )
    if sample.unlabelled.size == 0:
        raise ValueError(
            f"method 'ppi' on target {task!r}: every unit is labelled, so there is no "
            f"unlabelled synthetic data to add; its real estimate needs no calibration"
        )
    arrays = (sample.real, sample.synth, sample.unlabelled)
    weights = {"weights": sample.weights, "unlabelled_weights": sample.unlabelled_weights}
    if estimand.kind == "mean":
        family = ppi_mean(*arrays, **weights)
        return WaldInterval(family.estimate[None], family.se[None])
    if sample.clustered:
        raise ValueError(
            f"method 'ppi' on target {task!r}: a PPI quantile needs one row per unit, but "
            f"some units have several rows (repeated draws); use the mean"
        )
    return ppi_quantile(*arrays, float(estimand.quantile), **weights)  # type: ignore[arg-type]


def _seed(*parts: object) -> np.random.Generator:
    """A generator seeded by ``parts`` (texts by their CRC-32), stable across runs."""
    words = [zlib.crc32(str(p).encode()) if isinstance(p, str) else int(p) for p in parts]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class Labels:
    """Labelled-pair inputs of ``ppi`` and ``hybrid`` for one run.

    Parameters
    ----------
    data : TaskData
        The task data.
    estimand : Estimand
        What is estimated.
    seed : int
        The run's seed; every subsample derives from it.
    methods : tuple of str
        The run's methods (``ppi`` refuses targets without labels at once).
    simulate : int, optional
        In a backtest: each held-out task keeps a seeded random ``simulate``
        of its labelled pairs as labels (see :meth:`held_out` for tasks
        with fewer).
    ppi_critical : {"student", "normal"}
        Critical value of the target's PPI interval (``History.ppi_critical``).
    """

    data: TaskData
    estimand: Estimand
    seed: int
    methods: tuple[str, ...] = ()
    simulate: int | None = None
    ppi_critical: str = "student"
    _samples: dict[str, dict[str, LabelledSample]] = field(default_factory=dict, repr=False)
    _warned: set = field(default_factory=set, repr=False)

    def sample(self, coord: str, task: str) -> LabelledSample:
        """One task's labelled sample (all tasks of a coordinate are read at the first call)."""
        if coord not in self._samples:
            self._samples[coord] = self._read(coord)
        return self._samples[coord][task]

    def _read(self, coord: str) -> dict[str, LabelledSample]:
        rows = self.data.rows
        tasks = list(self.data.tasks)
        if rows is None:
            return {}
        frame = rows.read(tasks, coord)
        groups = dict(tuple(frame.groupby("task", sort=False)))
        empty = frame.iloc[:0]
        return {
            task: labelled_sample(groups.get(task, empty), rows.paired, rows.weighted)
            for task in tasks
        }

    def target_sample(self, coord: str, target: str) -> LabelledSample:
        """The target's labels: all its pairs, or a seeded ``simulate`` of them in a backtest."""
        sample = self.sample(coord, target)
        if self.simulate is None:
            return sample
        if not self._can_label(sample):
            raise ValueError(
                f"{self.data.name}: held-out task {target!r} has {sample.m} labelled pair(s) "
                f"and {sample.unlabelled.size} unlabelled unit(s); --target-labels "
                f"{self.simulate} needs at least {self.simulate} pairs and one more unit"
            )
        keep = _seed(self.seed, "target-labels", target, self.simulate).choice(
            sample.m, self.simulate, replace=False
        )
        return sample.labelled_only(np.sort(keep))

    def _can_label(self, sample: LabelledSample) -> bool:
        """Whether ``simulate`` labels can be drawn with some unit left unlabelled."""
        m = int(self.simulate or 0)
        return sample.m >= m and sample.m + sample.unlabelled.size > m

    def held_out(self, plan: Sequence[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
        """The backtest folds whose held-out task can keep ``simulate`` labels.

        A held-out task with fewer labelled pairs than ``simulate``, or with no
        unit left unlabelled after drawing them, is left out of the backtest at
        that ``m`` (a warning counts them): every row at ``m`` then has
        exactly ``m`` labels.
        """
        if self.simulate is None or self.data.kind != "unit":
            return list(plan)
        kept = [
            fold
            for fold in plan
            if all(self._can_label(self.sample(coord, fold[0])) for coord in self.data.coords)
        ]
        if len(kept) < len(plan):
            left = [fold[0] for fold in plan if fold not in kept]
            warnings.warn(
                f"{self.data.name}: {len(left)} held-out task(s) have fewer than "
                f"--target-labels {self.simulate} labelled pairs, or no unit left unlabelled "
                f"(e.g. {left[0]!r}); they are left out of the backtest at m = {self.simulate}",
                stacklevel=4,
            )
        return kept

    def fields(self, coord: str, target: str, history: Sequence[str]) -> dict:
        """The ``History`` fields ``labelled``, ``n_labelled`` (the target's ``m``),
        ``ppi_critical``, ``label_gap(_se)`` and ``target_label_gap(_se)``.

        Empty when the target has no labelled pairs (``ppi`` then refuses);
        the label gaps only when ``hybrid`` runs. A summary table's ``m`` is
        its ``n_labelled`` column (``None`` without it).
        """
        if self.data.kind == "summary":
            return self._summary_fields(coord, target, history)
        sample = self.target_sample(coord, target)
        try:
            labelled = ppi_family(sample, self.estimand, target)
        except ValueError:
            if "ppi" in self.methods:
                raise
            return {}
        found = {
            "labelled": labelled,
            "n_labelled": np.array([float(sample.m)]),
            "ppi_critical": self.ppi_critical,
        }
        if "hybrid" not in self.methods:
            return found
        gap, se = label_gap(sample.real, sample.synth, sample.weights, self.estimand)
        gaps, ses = self._history_gaps(coord, target, history, sample.m)
        return {
            **found,
            "label_gap": gaps,
            "label_gap_se": ses,
            "target_label_gap": np.array([gap]),
            "target_label_gap_se": np.array([se]),
        }

    def _history_gaps(
        self, coord: str, target: str, history: Sequence[str], m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each history task's gap from a seeded random ``m`` of its pairs (NaN with fewer)."""
        gaps = np.full(len(history), np.nan)
        ses = np.full(len(history), np.nan)
        short = []
        for i, task in enumerate(history):
            sample = self.sample(coord, task)
            if sample.m < m:
                short.append((task, sample.m))
                continue
            keep = _seed(self.seed, "label-gap", target, task, m).choice(sample.m, m, replace=False)
            weights = None if sample.weights is None else sample.weights[keep]
            pair = sample.real[keep], sample.synth[keep]
            gaps[i], ses[i] = label_gap(*pair, weights, self.estimand)
        if short:
            task, count = short[0]
            self._warn_once(
                ("short history", m),
                f"{self.data.name}: {len(short)} history task(s) have fewer than m = {m} "
                f"labelled pairs (e.g. {task!r} with {count}); 'hybrid' leaves them out of "
                f"the history of targets with {m} labels",
            )
        return gaps, ses

    def _summary_fields(self, coord: str, target: str, history: Sequence[str]) -> dict:
        frame = self.data.frame
        if "coord" in frame.columns:
            frame = frame[frame["coord"] == coord]
        rows = frame.set_index("task")

        def column(name: str, tasks: Sequence[str]) -> np.ndarray:
            if name not in rows.columns:
                return np.full(len(tasks), np.nan)
            return rows[name].reindex(list(tasks)).to_numpy(dtype=float)

        estimate, se = column("ppi_estimate", [target]), column("ppi_se", [target])
        if not (np.isfinite(estimate).all() and np.isfinite(se).all()):
            if "ppi" in self.methods:
                raise ValueError(f"method 'ppi' on target {target!r} {NEEDS_PAIRS}")
            return {}
        return {
            "labelled": WaldInterval(estimate, se),
            "n_labelled": self._summary_count(column("n_labelled", [target]), target),
            "ppi_critical": self.ppi_critical,
            "label_gap": column("label_gap_estimate", history),
            "label_gap_se": column("label_gap_se", history),
            "target_label_gap": column("label_gap_estimate", [target]),
            "target_label_gap_se": column("label_gap_se", [target]),
        }

    def _summary_count(self, count: np.ndarray, target: str) -> np.ndarray | None:
        """The target's ``n_labelled`` from a summary table: ``None`` when empty, else checked."""
        if np.isnan(count).all():
            return None
        whole = np.isfinite(count) & (count == np.round(count)) & (count >= 1)
        if not whole.all():
            raise ValueError(
                f"{self.data.name}: column 'n_labelled' of target {target!r} must be the whole "
                f"number of labelled pairs behind 'ppi_estimate' and 'ppi_se', got {count[0]!r}"
            )
        return count

    def _warn_once(self, key: tuple, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, stacklevel=4)


def split_targets(data: TaskData, named: Sequence[str]) -> tuple[list[str], list[str]]:
    """Targets (tasks without real rows, then the ``named`` ones) and the remaining history.

    Raises
    ------
    ValueError
        When a named task does not exist, or when there is no target at all.
    """
    unknown = [task for task in named if task not in set(data.tasks)]
    if unknown:
        raise ValueError(
            f"{data.name}: --target names task(s) not in the data: "
            f"{', '.join(map(repr, unknown[:5]))} (tasks are e.g. "
            f"{', '.join(map(repr, data.tasks[:5]))})"
        )
    chosen = set(named)
    targets = [*data.target_tasks, *(t for t in named if t not in set(data.target_tasks))]
    if not targets:
        raise ValueError(
            f"{data.name}: no target tasks (tasks with synthetic rows only); every task has "
            f"real data. Name tasks with a few real labels as targets with --target TASK, or "
            f"check calibration on the history with a backtest"
        )
    return targets, [t for t in data.history_tasks if t not in chosen]


def check_target_labels(target_labels: int | str | Sequence[int] | None) -> tuple[int, ...]:
    """The backtest's simulated label counts ``m`` (positive integers, in order, no repeats)."""
    if target_labels is None:
        return ()
    items = [target_labels] if isinstance(target_labels, int) else target_labels
    counts = []
    for item in split_list(items):  # type: ignore[arg-type]
        try:
            count = int(item)
        except ValueError:
            count = 0
        if count < 2 or str(count) != item.strip():
            raise ValueError(
                f"--target-labels takes whole numbers of labelled units, each at least 2, "
                f"got {item!r}"
            )
        counts.append(count)
    return tuple(dict.fromkeys(counts))
