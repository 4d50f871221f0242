"""Vectorized Monte Carlo coverage studies on the generative models of :mod:`._models`.

A coverage study draws ``R`` replications of ``T`` historical tasks plus one
current task (see :func:`~synthinfer.studies.simulate_tasks`); every method
runs once per method × α on a whole block of replications at a time, and is
scored against its own target. The per method × α summary is
:func:`synthinfer.results.coverage_statistics` of the replications, with the
mean width decomposition beside it.

Reproducibility: replications are drawn in blocks of a fixed size that depends
only on ``T`` (``max(1, 2**18 // (T + 1))`` replications); block ``b`` draws
from its own generator ``default_rng(SeedSequence(seed).spawn(n_blocks)[b])``.
A seeded study is reproducible bit for bit, and memory stays bounded by one
block whatever ``R``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from synthinfer._columns import STUDY_COLUMNS, STUDY_REP_COLUMNS
from synthinfer._html import result_html
from synthinfer._validation import check_alphas, check_choices, split_list
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation, design_se
from synthinfer.intervals import IntervalFamily
from synthinfer.methods import METHODS, Calibration, History, calibrate
from synthinfer.results import coverage_statistics
from synthinfer.studies._models import (
    SimulationModel,
    check_size,
    root_seed,
    simulate_tasks,
    study_weights,
)

__all__ = [
    "DEFAULT_METHODS",
    "StudyResult",
    "block_size",
    "coverage_study",
    "group_subsets",
]

FloatArray = NDArray[np.float64]

DEFAULT_METHODS = ("exchangeable", "task-only", "finite-sample", "synthetic-only")
"""The paper's four methods of experiment 1."""

_BLOCK_CELLS = 2**18
_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class StudyResult:
    """Result of a Monte Carlo coverage study.

    Attributes
    ----------
    summary_frame : pandas.DataFrame
        One row per method × α with the columns
        :data:`synthinfer._columns.STUDY_COLUMNS`.
    per_rep : pandas.DataFrame or None
        One row per replication × method × α with the columns
        :data:`synthinfer._columns.STUDY_REP_COLUMNS` (kept only when asked for).
    model : SimulationModel
        The generative model.
    reps, tasks : int
        Replications ``R`` and historical tasks ``T``.
    seed : int
        Entropy of the root seed sequence: passing it as ``seed`` reproduces the study.
    allocation : str
        The budget split used.
    bounds : (float, float) or None
        The range final intervals were clipped to.
    weights : str
        The task weights of ``weighted`` (empty when none).
    """

    summary_frame: pd.DataFrame
    per_rep: pd.DataFrame | None
    model: SimulationModel
    reps: int
    tasks: int
    seed: int
    allocation: str
    bounds: tuple[float, float] | None = None
    weights: str = field(default="")

    def to_frame(self) -> pd.DataFrame:
        """Coverage and widths per method × α (:data:`synthinfer._columns.STUDY_COLUMNS`)."""
        return self.summary_frame

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())

    def summary(self) -> str:
        """The study's settings and its coverage table as text."""
        head = (
            f"coverage study: model {self.model.name}, R = {self.reps}, T = {self.tasks}, "
            f"allocation {self.allocation}, seed {self.seed}"
        )
        return (
            head
            + "\n"
            + self.summary_frame.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        )


@dataclass(frozen=True)
class _Outcome:
    """What one method × α gave on one block of replications."""

    covered: NDArray[np.bool_]
    width: FloatArray
    feasible: NDArray[np.bool_]
    w1_sum: float
    w2_sum: float
    w2_count: int
    w3_sum: float


class _Accumulator:
    """Running coverage and width statistics of one method × α over all blocks.

    The width decomposition is summed over finite intervals only, as the
    coverage and widths of :func:`~synthinfer.results.coverage_statistics`.
    """

    def __init__(self, reps: int) -> None:
        self.covered = np.zeros(reps, dtype=bool)
        self.width = np.empty(reps)
        self.feasible = np.zeros(reps, dtype=bool)
        self.sums = np.zeros(3)
        self.w2_count = 0

    def add(self, start: int, outcome: _Outcome) -> None:
        stop = start + outcome.covered.size
        self.covered[start:stop] = outcome.covered
        self.width[start:stop] = outcome.width
        self.feasible[start:stop] = outcome.feasible
        self.sums += (outcome.w1_sum, outcome.w2_sum, outcome.w3_sum)
        self.w2_count += outcome.w2_count

    def row(self, method: str, alpha: float, tasks: int) -> dict[str, object]:
        """The summary row of this method × α (the columns of ``STUDY_COLUMNS``)."""
        statistics = coverage_statistics(self.covered, self.width, self.feasible)
        finite = statistics["finite"]
        return {
            "method": method,
            "alpha": alpha,
            **statistics,
            "w1": self.sums[0] / finite if finite else math.nan,
            "w2": self.sums[1] / self.w2_count if self.w2_count else math.nan,
            "w3": self.sums[2] / finite if finite else math.nan,
            "reps": self.covered.size,
            "tasks": tasks,
        }


def block_size(tasks: int) -> int:
    """Replications per random-number block at ``T`` historical tasks (fixed by ``T``)."""
    return max(1, _BLOCK_CELLS // (int(tasks) + 1))


def _blocks(reps: int, tasks: int, seed: int) -> Iterator[tuple[int, int, np.random.SeedSequence]]:
    """``(start, size, seed sequence)`` of each block of replications."""
    size = block_size(tasks)
    n_blocks = math.ceil(reps / size)
    children = np.random.SeedSequence(seed).spawn(n_blocks)
    for index, child in enumerate(children):
        start = index * size
        yield start, min(size, reps - start), child


@dataclass(frozen=True)
class _Plan:
    """Everything one block of a study needs (shared, read-only, across threads)."""

    model: SimulationModel
    tasks: int
    keys: tuple[tuple[str, float], ...]
    allocation: Allocation
    bounds: tuple[float, float] | None
    decay: float | None
    attribute_weight: float | None
    uniform_weights: bool
    per_rep: bool

    def run(self, block: tuple[int, int, np.random.SeedSequence]) -> BlockResult:
        """Simulate one block and run every method × α on it."""
        start, size, seed = block
        sim = simulate_tasks(self.model, size, self.tasks, seed=seed)
        weights = study_weights(
            sim,
            decay=self.decay,
            attribute_weight=self.attribute_weight,
            uniform=self.uniform_weights,
        )
        target, history = sim.target(), sim.history(weights)
        outcomes, frames = [], []
        for method, alpha in self.keys:
            allocation = self.allocation
            if allocation.is_auto:
                allocation = self.resolve(method, alpha, target, history)
            cal = calibrate(method, target, history, alpha, allocation)
            outcome, frame = self.score(start, method, cal, sim.truth(method))
            outcomes.append(outcome)
            if frame is not None:
                frames.append(frame)
        return start, size, outcomes, frames

    def resolve(
        self, method: str, alpha: float, target: IntervalFamily, history: History
    ) -> Allocation:
        """``auto`` for one block: ``T`` (the least weight total for ``weighted``) and the
        block's median standard errors, as :func:`synthinfer.data.design_allocation`."""
        ranked = float(self.tasks)
        if method == "weighted" and history.weights is not None:
            ranked = float(np.min(np.sum(history.weights, axis=-1)))
        return self.allocation.resolve(
            alpha,
            ranked,
            synth_se=design_se(target),
            gap_se=design_se(history.gap),
            gap_divisor=self.tasks if method == "task-only" else 1,
        )

    def score(
        self, start: int, method: str, cal: Calibration, truth: FloatArray
    ) -> tuple[_Outcome, pd.DataFrame | None]:
        """Clip one method × α's intervals, score them, and keep per-replication rows if asked."""
        lower, upper = _clip(cal.lower, self.bounds), _clip(cal.upper, self.bounds)
        covered = (lower <= truth) & (truth <= upper)
        with np.errstate(invalid="ignore"):
            width = upper - lower
        finite = cal.feasible & np.isfinite(width)
        outcome = _Outcome(
            covered=covered,
            width=width,
            feasible=finite,
            w1_sum=float(np.sum(cal.w1[finite])),
            w2_sum=float(np.nansum(cal.w2[finite])),
            w2_count=int(np.count_nonzero(~np.isnan(cal.w2[finite]))),
            w3_sum=float(np.sum(cal.w3[finite])),
        )
        frame = None
        if self.per_rep:
            frame = _per_rep_frame(start, method, cal, lower, upper, truth, covered)
        return outcome, frame


Block = tuple[int, int, np.random.SeedSequence]
BlockResult = tuple[int, int, list[_Outcome], list[pd.DataFrame]]


def _run_blocks(plan: _Plan, blocks: Iterable[Block], workers: int) -> Iterator[BlockResult]:
    """Run blocks in order, on ``workers`` threads (NumPy releases the GIL)."""
    if workers <= 1:
        yield from map(plan.run, blocks)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(plan.run, blocks)


def _clip(values: FloatArray, bounds: tuple[float, float] | None) -> FloatArray:
    return values if bounds is None else np.clip(values, bounds[0], bounds[1])


def _per_rep_frame(
    start: int,
    method: str,
    cal: Calibration,
    lower: FloatArray,
    upper: FloatArray,
    truth: FloatArray,
    covered: NDArray[np.bool_],
) -> pd.DataFrame:
    """One row per replication of a block (the columns of ``STUDY_REP_COLUMNS``)."""
    size = truth.size
    return pd.DataFrame(
        {
            "rep": np.arange(start, start + size),
            "method": method,
            "alpha": cal.alpha,
            "alpha1": cal.alpha1,
            "alpha2": cal.alpha2,
            "alpha3": cal.alpha3,
            "estimate": cal.estimate,
            "lower": lower,
            "upper": upper,
            "width": upper - lower,
            "synth_lower": cal.synth_lower,
            "synth_upper": cal.synth_upper,
            "gap_lower": cal.gap_lower,
            "gap_upper": cal.gap_upper,
            "w1": cal.w1,
            "w2": cal.w2,
            "w3": cal.w3,
            "feasible": cal.feasible,
            "n_history": cal.n_history,
            "synth_estimate": cal.synth_estimate,
            "truth": truth,
            "covered": covered,
        },
        columns=list(STUDY_REP_COLUMNS),
    )


def _check_methods(methods: Sequence[str] | str, has_weights: bool) -> tuple[str, ...]:
    """Method names, each known, without repeats; ``weighted`` only with weights."""
    names = split_list(methods)
    if not names:
        raise ValueError("give at least one method, e.g. exchangeable,finite-sample")
    methods = tuple(dict.fromkeys(check_choices(names, METHODS, "method")))
    if "weighted" in methods and not has_weights:
        raise ValueError(
            "method 'weighted' needs task weights: give decay (recency weights, --decay RHO), "
            "attribute_weight (--attribute-weight W, 'attribute' model), or uniform_weights "
            "(--uniform-weights: all weights 1, which equals 'exchangeable')"
        )
    return methods


def _check_bounds(bounds: Sequence[float] | None) -> tuple[float, float] | None:
    """``None`` or a pair ``LO < HI`` (either end may be infinite)."""
    if bounds is None:
        return None
    low, high = (float(v) for v in bounds)
    if not (low < high):
        raise ValueError(f"bounds must be LO,HI with LO < HI, got {bounds!r}")
    return low, high


def _workers(workers: int | None) -> int:
    """Threads for blocks of replications: the CPUs (at most 4) unless given."""
    if workers is None:
        return max(1, min(_DEFAULT_WORKERS, os.cpu_count() or 1))
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def _weights_label(decay: float | None, attribute_weight: float | None, uniform: bool) -> str:
    parts = []
    if decay is not None:
        parts.append(f"decay {decay:g}")
    if attribute_weight is not None:
        parts.append(f"attribute weight {attribute_weight:g}")
    if not parts and uniform:
        parts.append("uniform")
    return ", ".join(parts)


def _levels(alphas: Sequence[float] | float | str) -> tuple[float, ...]:
    """The levels, each in (0, 1), without repeats."""
    scalar = isinstance(alphas, str | int | float)
    return tuple(dict.fromkeys(check_alphas(alphas if scalar else list(alphas))))


def _allocation(allocation: Allocation | str, alphas: Sequence[float]) -> Allocation:
    """The budget split, checked to split every level (``auto`` is chosen per block)."""
    allocation = Allocation.parse(allocation)
    for alpha in alphas:
        if not allocation.is_auto:
            allocation.split(alpha)
    return allocation


def _method_rank(frame: pd.DataFrame, methods: Sequence[str]) -> NDArray[np.int64]:
    rank = {method: index for index, method in enumerate(methods)}
    return frame["method"].map(rank).to_numpy(dtype=np.int64)


def _sorted_per_rep(frames: list[pd.DataFrame], methods: Sequence[str]) -> pd.DataFrame:
    """Per-replication rows ordered by method (as given), α, then replication."""
    frame = pd.concat(frames, ignore_index=True)
    order = np.lexsort((frame["rep"], frame["alpha"], _method_rank(frame, methods)))
    return frame.iloc[order].reset_index(drop=True)


def coverage_study(
    model: str | SimulationModel = "bernoulli",
    *,
    reps: int = 1000,
    tasks: int = 100,
    methods: Sequence[str] = DEFAULT_METHODS,
    alphas: Sequence[float] = (0.1,),
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    bounds: Sequence[float] | None = None,
    decay: float | None = None,
    attribute_weight: float | None = None,
    uniform_weights: bool = False,
    seed: int | None = None,
    per_rep: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> StudyResult:
    """Monte Carlo coverage of methods on fresh replications of a generative model.

    Each method is scored against its own target: the current task's
    population parameter for ``exchangeable``, ``weighted``, ``task-only`` and
    ``synthetic-only``; the current task's real sample mean for
    ``finite-sample``.

    Parameters
    ----------
    model : str or SimulationModel
        Generative model (see :data:`~synthinfer.studies.MODELS`).
    reps : int
        Replications ``R``.
    tasks : int
        Historical tasks ``T`` per replication.
    methods : sequence of str
        Method names.
    alphas : sequence of float
        Levels.
    allocation : Allocation or str
        Budget split, e.g. ``"prop:0.1,0.2,0.7"`` (the paper's, the default),
        ``"abs:0.005,0.005"``, or ``"auto"`` (chosen from ``T`` and each
        block's standard errors, see :mod:`synthinfer.allocation`).
    bounds : (float, float), optional
        Clip final intervals to this range (e.g. ``(0, 1)``).
    decay, attribute_weight, uniform_weights
        Task weights for ``weighted`` (see
        :func:`~synthinfer.studies.study_weights`); one of them is required
        when ``weighted`` is among ``methods``.
    seed : int, optional
        Root seed; ``None`` draws fresh entropy (kept in the result's ``seed``).
    per_rep : bool
        Keep one row per replication × method × α in ``per_rep``.
    progress : callable, optional
        Called with the number of replications finished after each block.
    workers : int, optional
        Threads that run blocks of replications in parallel (default: the
        number of CPUs, at most 4). Results do not depend on it.

    Returns
    -------
    StudyResult

    Examples
    --------
    >>> result = coverage_study(reps=200, tasks=40, alphas=[0.1], seed=1)
    >>> list(result.summary_frame["method"])
    ['exchangeable', 'task-only', 'finite-sample', 'synthetic-only']
    """
    model = SimulationModel.parse(model)
    reps, tasks = check_size(reps, "reps", 1), check_size(tasks, "tasks", 1)
    has_weights = decay is not None or attribute_weight is not None or uniform_weights
    methods = _check_methods(methods, has_weights)
    alphas = _levels(alphas)
    allocation = _allocation(allocation, alphas)
    bounds = _check_bounds(bounds)
    entropy = int(np.random.SeedSequence(root_seed(seed)).entropy)  # type: ignore[arg-type]
    keys = tuple((method, alpha) for method in methods for alpha in alphas)
    plan = _Plan(
        model=model,
        tasks=tasks,
        keys=keys,
        allocation=allocation,
        bounds=bounds,
        decay=decay,
        attribute_weight=attribute_weight,
        uniform_weights=uniform_weights,
        per_rep=per_rep,
    )
    totals = {key: _Accumulator(reps) for key in keys}
    frames: list[pd.DataFrame] = []
    blocks = _blocks(reps, tasks, entropy)
    for start, size, outcomes, block_frames in _run_blocks(plan, blocks, _workers(workers)):
        for key, outcome in zip(keys, outcomes, strict=True):
            totals[key].add(start, outcome)
        frames.extend(block_frames)
        if progress is not None:
            progress(size)
    rows = [totals[key].row(key[0], key[1], tasks) for key in keys]
    return StudyResult(
        summary_frame=pd.DataFrame(rows, columns=list(STUDY_COLUMNS)),
        per_rep=_sorted_per_rep(frames, methods) if per_rep else None,
        model=model,
        reps=reps,
        tasks=tasks,
        seed=entropy,
        allocation=allocation.spec,
        bounds=bounds,
        weights=_weights_label(decay, attribute_weight, uniform_weights),
    )


def group_subsets(
    arrays: dict[str, NDArray], groups: ArrayLike
) -> Iterator[tuple[NDArray[np.intp], dict[str, NDArray]]]:
    """Restrict each replication's history to the target's group, batched by group size.

    Monte Carlo studies keep tasks on the last axis with the target last
    (shape ``(R, T + 1)``). Replications whose target group has the same
    number of history members are gathered together, so one vectorized call
    of the core per distinct size calibrates them all.

    Parameters
    ----------
    arrays : dict of ndarray
        Per-task arrays of shape ``(R, T + 1)`` (target in the last column).
    groups : array_like
        Group labels, shape ``(R, T + 1)``.

    Yields
    ------
    replications : ndarray of int
        Indices of the replications in this batch.
    subset : dict of ndarray
        The arrays restricted to each replication's same-group history
        (in their original order) followed by the target.
    """
    labels = np.asarray(groups)
    same = labels[:, :-1] == labels[:, -1:]
    sizes = same.sum(axis=1)
    order = np.argsort(~same, axis=1, kind="stable")
    for size in np.unique(sizes):
        replications = np.flatnonzero(sizes == size)
        pick = order[replications, :size]
        yield (
            replications,
            {
                name: np.concatenate(
                    [
                        np.take_along_axis(values[replications, :-1], pick, 1),
                        values[replications, -1:],
                    ],
                    axis=1,
                )
                for name, values in arrays.items()
            },
        )
