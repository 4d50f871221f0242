"""Generative models with known truth and vectorized Monte Carlo coverage studies.

A coverage study draws ``R`` replications; each replication is a fresh pool of
``T`` historical tasks plus one current task (the last one), with real and
synthetic samples for every task. Only sufficient statistics are drawn, and
exactly: for Bernoulli outcomes the success counts ``k ~ Binomial(n, p)`` (the
sample mean is ``k/n`` and the sample variance ``k(n − k)/(n(n − 1))``); for
Gaussian outcomes the sample mean ``~ N(θ, σ²/n)`` and the independent sample
variance ``~ σ² χ²_{n−1}/(n − 1)``. A study of ``R × T`` tasks therefore needs
``O(R·T)`` random numbers whatever the sample sizes, and every method runs
once per method × α on a whole block of replications at a time.

Models (:data:`MODELS`):

``bernoulli``
    The paper's experiment 1: ``p_j ~ Beta(a, b)``, ``ε_j ~ N(bias, tau²)``,
    ``p~_j = clip(p_j + ε_j, 0, 1)``, ``n`` real and ``synthetic_n`` synthetic
    Bernoulli observations per task.
``gaussian``
    Gaussian outcomes with SD ``sigma``; ``θ_j ~ N(mean, sd²)`` (by default
    the mean and SD of ``Beta(2, 2)``) and a Gaussian task-level bias
    ``θ~_j = θ_j + ε_j``, ``ε_j ~ N(bias, tau²)``.
``heavy-tail``
    As ``gaussian`` but ``ε_j = bias + tau · t_ν / sqrt(ν / (ν − 2))``: Student
    t bias with ``ν = df`` degrees of freedom (3 by default), scaled to SD ``tau``.
``unequal-n``
    As ``bernoulli`` but real sample sizes differ systematically across tasks:
    historical task ``j`` (in time order) has ``n_j`` on a geometric grid from
    ``n_min`` (oldest) to ``n`` (newest); the current task has ``n``. Tasks stay
    exchangeable, their data do not: the setting of ``task-only``.
``drift``
    As ``bernoulli`` but the bias drifts linearly with task time:
    ``ε_j ~ N(bias − drift·(T + 1 − j)/T, tau²)`` for task ``j = 1..T+1``, so the
    oldest task's mean bias is ``bias − drift`` and the current task's is
    ``bias``. Exchangeability fails; recency weights (``weighted``) help.
``attribute``
    As ``bernoulli`` but the bias depends on a binary task attribute ``g``:
    ``ε_j ~ N(bias + shift·g_j, tau²)``. Historical tasks have ``g_j = 1`` with
    probability ``share``; the current task has ``g = 1``. Weights that favour
    tasks with the current task's attribute (``weighted``) restore validity.

Every task ``j`` has time ``j`` (the current task is at ``T + 1``), so recency
weights ``decay ** (T + 1 − j)`` are fixed before any data is seen.

Reproducibility: replications are drawn in blocks of a fixed size that depends
only on ``T`` (``max(1, 2**18 // (T + 1))`` replications); block ``b`` draws
from its own generator ``default_rng(SeedSequence(seed).spawn(n_blocks)[b])``.
A seeded study is reproducible bit for bit, and memory stays bounded by one
block whatever ``R``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from synthinfer._columns import OUTPUT_COLUMNS
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation, check_alpha
from synthinfer.intervals import WaldInterval
from synthinfer.methods import METHODS, Calibration, History, calibrate

__all__ = [
    "DEFAULT_METHODS",
    "MODELS",
    "SUMMARY_COLUMNS",
    "SimulatedTasks",
    "SimulationModel",
    "StudyResult",
    "block_size",
    "coverage_study",
    "simulate_tasks",
    "study_weights",
]

FloatArray = NDArray[np.float64]

MODELS = ("bernoulli", "gaussian", "heavy-tail", "unequal-n", "drift", "attribute")
"""Names of the generative models."""

DEFAULT_METHODS = ("exchangeable", "task-only", "finite-sample", "synthetic-only")
"""The paper's four methods of experiment 1."""

SUMMARY_COLUMNS = (
    "method",
    "alpha",
    "coverage",
    "coverage_mcse",
    "mean_width",
    "median_width",
    "w1",
    "w2",
    "w3",
    "reps",
    "tasks",
)
"""Columns of :attr:`StudyResult.summary`, in order."""

PER_REP_COLUMNS = (
    "rep",
    *(c for c in OUTPUT_COLUMNS if c not in ("task", "coord", "n_effective")),
    "truth",
    "covered",
)
"""Columns of :attr:`StudyResult.per_rep`: DESIGN's output columns, one row per replication."""

_BLOCK_CELLS = 2**18
_GAUSSIAN_MODELS = frozenset({"gaussian", "heavy-tail"})
_FINITE_SAMPLE_TARGET = frozenset({"finite-sample"})


@dataclass(frozen=True)
class SimulationModel:
    """A generative model of tasks with real and synthetic samples.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    n : int
        Real sample size per task (the current task's, for ``unequal-n``).
    synthetic_n : int
        Synthetic sample size per task.
    bias : float
        Mean synthetic bias ``E[θ~ − θ]`` (the current task's, for ``drift``).
    tau : float
        SD of the task-level bias across tasks.
    beta_a, beta_b : float
        ``Beta(a, b)`` law of the real success probabilities (Bernoulli models).
    mean, sd : float
        Normal law of the real means ``θ_j`` (Gaussian models).
    sigma : float
        Outcome SD within a task (Gaussian models).
    df : float
        Degrees of freedom of the Student t bias (``heavy-tail``; > 2).
    n_min : int
        Smallest real sample size (``unequal-n``, the oldest task's).
    drift : float
        Total drift of the mean bias across the history (``drift``).
    shift : float
        Extra bias of tasks with attribute 1 (``attribute``).
    share : float
        Share of historical tasks with attribute 1 (``attribute``).
    """

    name: str = "bernoulli"
    n: int = 1000
    synthetic_n: int = 2000
    bias: float = 0.05
    tau: float = 0.10
    beta_a: float = 2.0
    beta_b: float = 2.0
    mean: float = 0.5
    sd: float = math.sqrt(0.05)
    sigma: float = 0.5
    df: float = 3.0
    n_min: int = 20
    drift: float = 0.4
    shift: float = 0.3
    share: float = 0.5

    def __post_init__(self) -> None:
        if self.name not in MODELS:
            raise ValueError(f"model must be one of {list(MODELS)}, got {self.name!r}")
        for name in ("n", "synthetic_n", "n_min"):
            value = getattr(self, name)
            if int(value) != value or value < 2:
                raise ValueError(
                    f"{name} must be an integer of at least 2 (a sample variance needs two "
                    f"observations), got {value!r}"
                )
            object.__setattr__(self, name, int(value))
        for name in ("bias", "tau", "beta_a", "beta_b", "mean", "sd", "sigma", "drift", "shift"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("tau", "sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        for name in ("beta_a", "beta_b", "sigma"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not (self.df > 2 and math.isfinite(self.df)):
            raise ValueError(
                f"df must be a finite number above 2 (finite variance), got {self.df!r}"
            )
        if not (0.0 <= self.share <= 1.0):
            raise ValueError(f"share must lie in [0, 1], got {self.share!r}")
        if self.name == "unequal-n" and self.n_min > self.n:
            raise ValueError(f"n_min ({self.n_min}) must not exceed n ({self.n}) for 'unequal-n'")

    @classmethod
    def parse(cls, model: str | SimulationModel, **params: float) -> SimulationModel:
        """Build a model from a name and parameters (``None`` values keep defaults).

        Parameters
        ----------
        model : str or SimulationModel
            Model name or an existing model (whose parameters ``params`` override).
        **params
            Any field of :class:`SimulationModel`.

        Returns
        -------
        SimulationModel
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown model parameters {unknown}; known: {sorted(known)}")
        given = {key: value for key, value in params.items() if value is not None}
        if isinstance(model, SimulationModel):
            return replace(model, **given)
        return cls(name=str(model), **given)

    @property
    def outcome(self) -> str:
        """``"bernoulli"`` or ``"gaussian"``: the law of one observation."""
        return "gaussian" if self.name in _GAUSSIAN_MODELS else "bernoulli"

    def real_sizes(self, tasks: int) -> NDArray[np.int64]:
        """Real sample sizes of the ``T`` historical tasks and the current one, shape ``(T+1,)``."""
        sizes = np.full(tasks + 1, self.n, dtype=np.int64)
        if self.name == "unequal-n" and tasks > 0:
            sizes[:-1] = np.round(np.geomspace(self.n_min, self.n, tasks)).astype(np.int64)
        return sizes


@dataclass(frozen=True)
class SimulatedTasks:
    """Sufficient statistics of ``R`` replications of ``T + 1`` tasks.

    Arrays have shape ``(R, T + 1)``; the last column is the current task.

    Attributes
    ----------
    theta, synth_theta : ndarray
        True real and synthetic estimands.
    real_estimate, real_se : ndarray
        Real sample mean and its standard error (ddof 1).
    synth_estimate, synth_se : ndarray
        Synthetic sample mean and its standard error (ddof 1).
    n_real : ndarray
        Real sample sizes, shape ``(T + 1,)``.
    n_synth : int
        Synthetic sample size.
    time : ndarray
        Task times ``1..T+1``.
    attribute : ndarray or None
        Binary task attribute (``attribute`` model only).
    """

    theta: FloatArray
    synth_theta: FloatArray
    real_estimate: FloatArray
    real_se: FloatArray
    synth_estimate: FloatArray
    synth_se: FloatArray
    n_real: NDArray[np.int64]
    n_synth: int
    time: NDArray[np.int64]
    attribute: NDArray[np.int64] | None = None

    @property
    def reps(self) -> int:
        """Number of replications ``R``."""
        return int(self.theta.shape[0])

    @property
    def tasks(self) -> int:
        """Number of historical tasks ``T``."""
        return int(self.theta.shape[1]) - 1

    @property
    def gap_estimate(self) -> FloatArray:
        """Observed historical gaps ``θ̂(S_j) − θ̂(S~_j)``, shape ``(R, T)``."""
        return self.real_estimate[:, :-1] - self.synth_estimate[:, :-1]

    @property
    def gap_se(self) -> FloatArray:
        """Unpaired gap SEs ``sqrt(s_r²/n + s_s²/N)``, shape ``(R, T)``."""
        return np.hypot(self.real_se[:, :-1], self.synth_se[:, :-1])

    def target(self) -> WaldInterval:
        """Wald family of the current task's synthetic mean, shape ``(R,)``."""
        return WaldInterval(self.synth_estimate[:, -1], self.synth_se[:, -1])

    def history(self, weights: FloatArray | None = None) -> History:
        """The historical tasks as a :class:`~synthinfer.methods.History`."""
        gap = WaldInterval(self.gap_estimate, self.gap_se)
        return History(gap=gap, observed=gap.estimate, weights=weights)

    def truth(self, method: str) -> FloatArray:
        """Each method's target: the current task's real sample mean for ``finite-sample``,
        its population parameter otherwise; shape ``(R,)``."""
        if method in _FINITE_SAMPLE_TARGET:
            return self.real_estimate[:, -1]
        return self.theta[:, -1]


def _bernoulli_sample(
    rng: np.random.Generator, p: FloatArray, n: NDArray[np.int64] | int
) -> tuple[FloatArray, FloatArray]:
    """Mean and SE (ddof 1) of ``n`` Bernoulli(p) draws, from the binomial count."""
    n = np.asarray(n, dtype=np.int64)
    count = rng.binomial(n, p).astype(float)
    size = n.astype(float)
    mean = count / size
    variance = count * (size - count) / (size * (size - 1.0))
    return mean, np.sqrt(variance / size)


def _gaussian_sample(
    rng: np.random.Generator, theta: FloatArray, sigma: float, n: NDArray[np.int64] | int
) -> tuple[FloatArray, FloatArray]:
    """Mean and SE (ddof 1) of ``n`` N(θ, σ²) draws: mean ~ N(θ, σ²/n), s² ~ σ²χ²/(n−1)."""
    size = np.asarray(n, dtype=float)
    mean = theta + sigma / np.sqrt(size) * rng.standard_normal(theta.shape)
    variance = sigma**2 * rng.chisquare(size - 1.0, theta.shape) / (size - 1.0)
    return mean, np.sqrt(variance / size)


def _bias(
    model: SimulationModel, rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[FloatArray, NDArray[np.int64] | None]:
    """Task-level biases ``ε`` (synthetic − real) and the attribute, shape ``(R, T+1)``."""
    reps, width = shape
    tasks = width - 1
    if model.name == "heavy-tail":
        scale = model.tau / math.sqrt(model.df / (model.df - 2.0))
        return model.bias + scale * rng.standard_t(model.df, shape), None
    noise = rng.normal(0.0, model.tau, shape) if model.tau > 0 else np.zeros(shape)
    if model.name == "drift":
        age = np.arange(tasks, -1, -1, dtype=float)
        return model.bias - model.drift * age / max(tasks, 1) + noise, None
    if model.name == "attribute":
        attribute = np.ones(shape, dtype=np.int64)
        attribute[:, :-1] = rng.random((reps, tasks)) < model.share
        return model.bias + model.shift * attribute + noise, attribute
    return model.bias + noise, None


def simulate_tasks(
    model: str | SimulationModel, reps: int, tasks: int, *, rng: np.random.Generator
) -> SimulatedTasks:
    """Draw the sufficient statistics of ``reps`` replications of ``tasks + 1`` tasks.

    Parameters
    ----------
    model : str or SimulationModel
        Generative model (a name takes the default parameters).
    reps : int
        Number of replications ``R``.
    tasks : int
        Number of historical tasks ``T``; the current task comes on top.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    SimulatedTasks
        Arrays of shape ``(R, T + 1)``, the current task last.

    Examples
    --------
    >>> sim = simulate_tasks("bernoulli", 3, 40, rng=np.random.default_rng(0))
    >>> sim.theta.shape, sim.gap_se.shape
    ((3, 41), (3, 40))
    """
    model = SimulationModel.parse(model)
    reps, tasks = _check_size(reps, "reps", 1), _check_size(tasks, "tasks", 0)
    shape = (reps, tasks + 1)
    n_real = model.real_sizes(tasks)
    if model.outcome == "bernoulli":
        theta = rng.beta(model.beta_a, model.beta_b, shape)
    else:
        theta = rng.normal(model.mean, model.sd, shape)
    bias, attribute = _bias(model, rng, shape)
    synth_theta = theta + bias
    if model.outcome == "bernoulli":
        np.clip(synth_theta, 0.0, 1.0, out=synth_theta)
        real_estimate, real_se = _bernoulli_sample(rng, theta, n_real)
        synth_estimate, synth_se = _bernoulli_sample(rng, synth_theta, model.synthetic_n)
    else:
        real_estimate, real_se = _gaussian_sample(rng, theta, model.sigma, n_real)
        synth_estimate, synth_se = _gaussian_sample(
            rng, synth_theta, model.sigma, model.synthetic_n
        )
    return SimulatedTasks(
        theta=theta,
        synth_theta=synth_theta,
        real_estimate=real_estimate,
        real_se=real_se,
        synth_estimate=synth_estimate,
        synth_se=synth_se,
        n_real=n_real,
        n_synth=model.synthetic_n,
        time=np.arange(1, tasks + 2),
        attribute=attribute,
    )


def _check_size(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def study_weights(
    sim: SimulatedTasks,
    *,
    decay: float | None = None,
    attribute_weight: float | None = None,
    uniform: bool = False,
) -> FloatArray | None:
    """Task weights for ``weighted``, fixed before the data is seen.

    Parameters
    ----------
    sim : SimulatedTasks
        The simulated tasks (for their times and attributes).
    decay : float, optional
        Recency weights ``decay ** (t_current − t_j)`` with ``decay`` in ``(0, 1]``.
    attribute_weight : float, optional
        Weight in ``[0, 1]`` of historical tasks whose attribute differs from
        the current task's (those that share it get 1); ``attribute`` model only.
    uniform : bool
        All weights 1 (``weighted`` then equals ``exchangeable``).

    Returns
    -------
    ndarray or None
        Weights broadcastable to ``(R, T)`` (products of the requested kinds),
        or ``None`` when none are requested.
    """
    weights: FloatArray | None = None
    if decay is not None:
        if not (0.0 < decay <= 1.0):
            raise ValueError(f"decay must lie in (0, 1], got {decay!r}")
        age = (sim.time[-1] - sim.time[:-1]).astype(float)
        weights = decay**age
    if attribute_weight is not None:
        if not (0.0 <= attribute_weight <= 1.0):
            raise ValueError(f"attribute weight must lie in [0, 1], got {attribute_weight!r}")
        if sim.attribute is None:
            raise ValueError(
                "attribute weights need a task attribute: use the 'attribute' model, or "
                "drop the attribute weight"
            )
        same = sim.attribute[:, :-1] == sim.attribute[:, -1:]
        by_attribute = np.where(same, 1.0, attribute_weight)
        weights = by_attribute if weights is None else weights * by_attribute
    if weights is None and uniform:
        weights = np.ones(sim.tasks)
    return weights


@dataclass(frozen=True)
class StudyResult:
    """Result of a Monte Carlo coverage study.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per method × α with :data:`SUMMARY_COLUMNS`.
    per_rep : pandas.DataFrame or None
        One row per replication × method × α with :data:`PER_REP_COLUMNS`
        (kept only when asked for).
    model : SimulationModel
        The generative model.
    reps, tasks : int
        Replications ``R`` and historical tasks ``T``.
    seed : int
        Entropy of the root seed sequence: passing it as ``seed`` reproduces the study.
    allocation : str
        The budget split used.
    """

    summary: pd.DataFrame
    per_rep: pd.DataFrame | None
    model: SimulationModel
    reps: int
    tasks: int
    seed: int
    allocation: str
    bounds: tuple[float, float] | None = None
    weights: str = field(default="")

    def __str__(self) -> str:
        head = (
            f"coverage study: model {self.model.name}, R = {self.reps}, T = {self.tasks}, "
            f"allocation {self.allocation}, seed {self.seed}"
        )
        return head + "\n" + self.summary.to_string(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True)
class _Outcome:
    """What one method × α gave on one block of replications."""

    covered: NDArray[np.bool_]
    width: FloatArray
    w1_sum: float
    w2_sum: float
    w2_count: int
    w3_sum: float


class _Accumulator:
    """Running coverage and width statistics of one method × α over all blocks."""

    def __init__(self, reps: int) -> None:
        self.covered = np.zeros(reps, dtype=bool)
        self.width = np.empty(reps)
        self.sums = np.zeros(3)
        self.w2_count = 0

    def add(self, start: int, outcome: _Outcome) -> None:
        stop = start + outcome.covered.size
        self.covered[start:stop] = outcome.covered
        self.width[start:stop] = outcome.width
        self.sums += (outcome.w1_sum, outcome.w2_sum, outcome.w3_sum)
        self.w2_count += outcome.w2_count

    def row(self, method: str, alpha: float, tasks: int) -> dict[str, object]:
        reps = self.covered.size
        coverage = float(self.covered.mean())
        with np.errstate(invalid="ignore"):
            mean_width = float(np.mean(self.width))
        return {
            "method": method,
            "alpha": alpha,
            "coverage": coverage,
            "coverage_mcse": math.sqrt(coverage * (1.0 - coverage) / reps),
            "mean_width": mean_width,
            "median_width": float(np.median(self.width)),
            "w1": self.sums[0] / reps,
            "w2": self.sums[1] / self.w2_count if self.w2_count else math.nan,
            "w3": self.sums[2] / reps,
            "reps": reps,
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

    def run(
        self, block: tuple[int, int, np.random.SeedSequence]
    ) -> tuple[int, int, list[_Outcome], list[pd.DataFrame]]:
        """Simulate one block and run every method × α on it."""
        start, size, seed = block
        sim = simulate_tasks(self.model, size, self.tasks, rng=np.random.default_rng(seed))
        weights = study_weights(
            sim,
            decay=self.decay,
            attribute_weight=self.attribute_weight,
            uniform=self.uniform_weights,
        )
        target, history = sim.target(), sim.history(weights)
        outcomes, frames = [], []
        for method, alpha in self.keys:
            cal = calibrate(method, target, history, alpha, self.allocation)
            lower, upper = _clip(cal.lower, self.bounds), _clip(cal.upper, self.bounds)
            truth = sim.truth(method)
            covered = (lower <= truth) & (truth <= upper)
            with np.errstate(invalid="ignore"):
                width = upper - lower
            outcomes.append(
                _Outcome(
                    covered=covered,
                    width=width,
                    w1_sum=float(np.sum(cal.w1)),
                    w2_sum=float(np.nansum(cal.w2)),
                    w2_count=int(np.count_nonzero(~np.isnan(cal.w2))),
                    w3_sum=float(np.sum(cal.w3)),
                )
            )
            if self.per_rep:
                frames.append(_per_rep_frame(start, method, cal, lower, upper, truth, covered))
        return start, size, outcomes, frames


def _run_blocks(plan: _Plan, blocks, workers: int):
    """Run blocks in order, on ``workers`` threads (NumPy releases the GIL)."""
    if workers <= 1:
        yield from map(plan.run, blocks)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(plan.run, blocks)


def _clip(values: FloatArray, bounds: tuple[float, float] | None) -> FloatArray:
    return values if bounds is None else np.clip(values, bounds[0], bounds[1])


def _per_rep_frame(
    start: int, method: str, cal: Calibration, lower, upper, truth, covered
) -> pd.DataFrame:
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
            "truth": truth,
            "covered": covered,
        }
    )


def _check_methods(methods: Sequence[str], has_weights: bool) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(methods))
    if not methods:
        raise ValueError("give at least one method, e.g. exchangeable,finite-sample")
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if "weighted" in methods and not has_weights:
        raise ValueError(
            "method 'weighted' needs task weights: give decay (recency weights, --decay RHO), "
            "attribute_weight (--attribute-weight W, 'attribute' model), or uniform_weights "
            "(--uniform-weights: all weights 1, which equals 'exchangeable')"
        )
    return methods


def _check_bounds(bounds: Sequence[float] | None) -> tuple[float, float] | None:
    if bounds is None:
        return None
    low, high = (float(v) for v in bounds)
    if not (low < high):
        raise ValueError(f"bounds must be LO,HI with LO < HI, got {bounds!r}")
    return low, high


def _weights_label(decay, attribute_weight, uniform: bool) -> str:
    parts = []
    if decay is not None:
        parts.append(f"decay {decay:g}")
    if attribute_weight is not None:
        parts.append(f"attribute weight {attribute_weight:g}")
    if not parts and uniform:
        parts.append("uniform")
    return ", ".join(parts)


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
        Generative model (see :data:`MODELS`).
    reps : int
        Replications ``R``.
    tasks : int
        Historical tasks ``T`` per replication.
    methods : sequence of str
        Method names.
    alphas : sequence of float
        Levels.
    allocation : Allocation or str
        Budget split, e.g. ``"prop:0.1,0.2,0.7"`` or ``"abs:0.005,0.005"``.
    bounds : (float, float), optional
        Clip final intervals to this range (e.g. ``(0, 1)``).
    decay, attribute_weight, uniform_weights
        Task weights for ``weighted`` (see :func:`study_weights`); one of
        them is required when ``weighted`` is among ``methods``.
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
    >>> list(result.summary["method"])
    ['exchangeable', 'task-only', 'finite-sample', 'synthetic-only']
    """
    model = SimulationModel.parse(model)
    reps, tasks = _check_size(reps, "reps", 1), _check_size(tasks, "tasks", 1)
    has_weights = decay is not None or attribute_weight is not None or uniform_weights
    methods = _check_methods(methods, has_weights)
    alphas = tuple(dict.fromkeys(check_alpha(a) for a in alphas))
    if not alphas:
        raise ValueError("give at least one alpha, e.g. 0.1")
    allocation = Allocation.parse(allocation)
    for alpha in alphas:
        allocation.split(alpha)
    bounds = _check_bounds(bounds)
    root = np.random.SeedSequence(seed)
    entropy = int(root.entropy)  # type: ignore[arg-type]
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
    summary = pd.DataFrame(
        [totals[key].row(key[0], key[1], tasks) for key in keys], columns=list(SUMMARY_COLUMNS)
    )
    per_rep_frame = None
    if per_rep:
        per_rep_frame = pd.concat(frames, ignore_index=True)
        order = np.lexsort(
            (per_rep_frame["rep"], per_rep_frame["alpha"], _method_rank(per_rep_frame, methods))
        )
        per_rep_frame = per_rep_frame.iloc[order].reset_index(drop=True)
    return StudyResult(
        summary=summary,
        per_rep=per_rep_frame,
        model=model,
        reps=reps,
        tasks=tasks,
        seed=entropy,
        allocation=allocation.spec,
        bounds=bounds,
        weights=_weights_label(decay, attribute_weight, uniform_weights),
    )


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(1, min(4, os.cpu_count() or 1))
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def _method_rank(frame: pd.DataFrame, methods: Sequence[str]) -> NDArray[np.int64]:
    rank = {method: index for index, method in enumerate(methods)}
    return frame["method"].map(rank).to_numpy(dtype=np.int64)
