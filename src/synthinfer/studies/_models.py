"""Generative models of tasks with known truth, drawn as exact sufficient statistics.

Each replication is a fresh pool of ``T`` historical tasks plus one current
task (the last one), with real and synthetic samples for every task. Only
sufficient statistics are drawn, and exactly: for Bernoulli outcomes the
success counts ``k ~ Binomial(n, p)`` (the sample mean is ``k/n`` and the
sample variance ``k(n − k)/(n(n − 1))``); for Gaussian outcomes the sample
mean ``~ N(θ, σ²/n)`` and the independent sample variance
``~ σ² χ²_{n−1}/(n − 1)``. ``R × T`` tasks therefore need ``O(R·T)`` random
numbers whatever the sample sizes.

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from synthinfer._validation import check_choice, check_range, check_seed, shown
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History
from synthinfer.weights import recency_weights

__all__ = [
    "MODELS",
    "Seed",
    "SimulatedTasks",
    "SimulationModel",
    "check_size",
    "generator",
    "root_seed",
    "simulate_tasks",
    "study_weights",
]

FloatArray = NDArray[np.float64]

Seed = int | np.random.Generator | np.random.SeedSequence | None
"""What ``seed`` accepts: an int, a SeedSequence, a Generator (used as it is) or None."""

MODELS = ("bernoulli", "gaussian", "heavy-tail", "unequal-n", "drift", "attribute")
"""Names of the generative models."""

_GAUSSIAN_MODELS = frozenset({"gaussian", "heavy-tail"})
_SAMPLE_SIZES = ("n", "synthetic_n", "n_min")
_FINITE = ("bias", "tau", "beta_a", "beta_b", "mean", "sd", "sigma", "drift", "shift")
_FINITE_SAMPLE_TARGET = frozenset({"finite-sample"})


def check_size(value: int, name: str, minimum: int, reason: str = "") -> int:
    """A count of tasks, replications or observations: a whole number ``>= minimum``.

    Parameters
    ----------
    value : int
        The count (a float with an integer value is accepted; booleans are not).
    name : str
        The argument's name for the error message.
    minimum : int
        Smallest allowed value.
    reason : str
        Why the minimum, added to the error message.

    Returns
    -------
    int
    """
    if isinstance(value, bool) or int(value) != value or value < minimum:
        why = f" ({reason})" if reason else ""
        raise ValueError(
            f"{name} must be an integer of at least {minimum}{why}, got {shown(value)}"
        )
    return int(value)


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
        check_choice(self.name, MODELS, "model")
        for name in _SAMPLE_SIZES:
            value = check_size(
                getattr(self, name), name, 2, "a sample variance needs two observations"
            )
            object.__setattr__(self, name, value)
        for name in _FINITE:
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("tau", "sd"):
            check_range(getattr(self, name), name, 0.0)
        for name in ("beta_a", "beta_b", "sigma"):
            check_range(getattr(self, name), name, 0.0, low_open=True)
        if not (self.df > 2 and math.isfinite(self.df)):
            raise ValueError(
                f"df must be a finite number above 2 (finite variance), got {self.df!r}"
            )
        check_range(self.share, "share", 0.0, 1.0)
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


def generator(seed: Seed) -> np.random.Generator:
    """A NumPy generator from ``seed``: a Generator is used as it is, anything else seeds one.

    Parameters
    ----------
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(root_seed(seed))


def root_seed(seed: int | None) -> int | None:
    """``None`` or a whole number ``>= 0`` (a NumPy integer is taken as a Python int)."""
    return check_seed(int(seed) if isinstance(seed, np.integer) else seed)


def _samples(
    model: SimulationModel,
    rng: np.random.Generator,
    theta: FloatArray,
    synth_theta: FloatArray,
    n_real: NDArray[np.int64],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Real and synthetic sample means and SEs (clips ``synth_theta`` to [0, 1] for Bernoulli)."""
    if model.outcome == "bernoulli":
        np.clip(synth_theta, 0.0, 1.0, out=synth_theta)
        real = _bernoulli_sample(rng, theta, n_real)
        synth = _bernoulli_sample(rng, synth_theta, model.synthetic_n)
    else:
        real = _gaussian_sample(rng, theta, model.sigma, n_real)
        synth = _gaussian_sample(rng, synth_theta, model.sigma, model.synthetic_n)
    return (*real, *synth)


def simulate_tasks(
    model: str | SimulationModel, reps: int, tasks: int, *, seed: Seed
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
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Source of randomness: a Generator is drawn from as it is (and
        advanced); an int or a SeedSequence seeds a new one; ``None`` draws
        fresh entropy.

    Returns
    -------
    SimulatedTasks
        Arrays of shape ``(R, T + 1)``, the current task last.

    Examples
    --------
    >>> sim = simulate_tasks("bernoulli", 3, 40, seed=0)
    >>> sim.theta.shape, sim.gap_se.shape
    ((3, 41), (3, 40))
    """
    model = SimulationModel.parse(model)
    reps, tasks = check_size(reps, "reps", 1), check_size(tasks, "tasks", 0)
    rng = generator(seed)
    shape = (reps, tasks + 1)
    n_real = model.real_sizes(tasks)
    if model.outcome == "bernoulli":
        theta = rng.beta(model.beta_a, model.beta_b, shape)
    else:
        theta = rng.normal(model.mean, model.sd, shape)
    bias, attribute = _bias(model, rng, shape)
    synth_theta = theta + bias
    real_estimate, real_se, synth_estimate, synth_se = _samples(
        model, rng, theta, synth_theta, n_real
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
        weights = recency_weights(sim.time[-1] - sim.time[:-1], decay)
    if attribute_weight is not None:
        check_range(attribute_weight, "attribute weight", 0.0, 1.0)
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
