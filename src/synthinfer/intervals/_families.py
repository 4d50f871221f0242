"""Interval families: statistics of many tasks that give an interval at any level.

The public names are listed once, in :mod:`synthinfer.intervals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _level(level: float) -> float:
    level = float(level)
    if not (0.0 < level < 1.0):
        raise ValueError(f"interval level must lie strictly between 0 and 1, got {level!r}")
    return level


@runtime_checkable
class IntervalFamily(Protocol):
    """What every per-task interval construction provides.

    Attributes
    ----------
    estimate : ndarray
        Point estimates; the last axis runs over tasks.
    """

    estimate: FloatArray

    def interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Lower and upper ends of the ``1 − level`` interval of every task."""
        ...

    def take(self, index: ArrayLike) -> IntervalFamily:
        """The family restricted to (or gathered at) ``index`` along the task axis."""
        ...


@dataclass(frozen=True)
class _SymmetricInterval:
    """Intervals ``estimate ± factor(level) · spread``: what Wald and Hoeffding share.

    A subclass adds the spread array (broadcast to the estimates' shape) as its
    second field, names it in ``spread_field`` and defines :meth:`factor`.
    """

    estimate: FloatArray
    spread_field: ClassVar[str]

    def __post_init__(self) -> None:
        estimate = np.asarray(self.estimate, dtype=float)
        spread = np.broadcast_to(np.asarray(self.spread, dtype=float), estimate.shape)
        object.__setattr__(self, "estimate", estimate)
        object.__setattr__(self, self.spread_field, spread)

    @property
    def spread(self) -> FloatArray:
        """The array that :meth:`interval` scales."""
        return getattr(self, self.spread_field)

    def factor(self, level: float) -> float:
        """Half-width per unit of spread at ``level``."""
        raise NotImplementedError

    def interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Return ``estimate ∓ factor(level) · spread``."""
        half = self.factor(_level(level)) * self.spread
        return self.estimate - half, self.estimate + half

    def take(self: _Symmetric, index: ArrayLike) -> _Symmetric:
        """Gather tasks along the last axis."""
        index = np.asarray(index)
        return type(self)(self.estimate[..., index], self.spread[..., index])


_Symmetric = TypeVar("_Symmetric", bound=_SymmetricInterval)


@dataclass(frozen=True)
class WaldInterval(_SymmetricInterval):
    """Normal-approximation interval ``estimate ± z_{1−a/2} · se``.

    Parameters
    ----------
    estimate : array_like
        Point estimates (tasks on the last axis).
    se : array_like
        Standard errors, same shape; zero gives a degenerate interval.
    """

    se: FloatArray
    spread_field: ClassVar[str] = "se"

    def factor(self, level: float) -> float:
        """``z = Φ⁻¹(1 − level/2)``."""
        from scipy.special import ndtri  # SciPy loads on first use

        return -ndtri(level / 2.0)


@dataclass(frozen=True)
class HoeffdingInterval(_SymmetricInterval):
    """Hoeffding interval ``estimate ± scale · sqrt(log(2/a))`` for bounded data.

    For a mean of ``n`` values in ``[lo, hi]`` the scale is
    ``(hi − lo) / sqrt(2n)``; for an unpaired gap it is ``sqrt(2σ²)`` with
    ``σ² = (hi − lo)²(1/n + 1/m)/4``; for a paired gap of ``n`` differences in
    ``[−(hi − lo), hi − lo]`` it is ``2(hi − lo)/sqrt(2n)``.

    Parameters
    ----------
    estimate : array_like
        Point estimates.
    scale : array_like
        Half-width per unit of ``sqrt(log(2/a))``.
    """

    scale: FloatArray
    spread_field: ClassVar[str] = "scale"

    @classmethod
    def for_mean(cls, estimate: ArrayLike, n: ArrayLike, bounds: tuple[float, float]):
        """Hoeffding interval for a mean of ``n`` values in ``bounds``."""
        width = bounds[1] - bounds[0]
        return cls(estimate, width / np.sqrt(2.0 * np.asarray(n, dtype=float)))

    @classmethod
    def for_unpaired_gap(
        cls, estimate: ArrayLike, n: ArrayLike, m: ArrayLike, bounds: tuple[float, float]
    ):
        """Hoeffding interval for a difference of independent means of ``n`` and ``m`` values."""
        width = bounds[1] - bounds[0]
        variance_proxy = width**2 * (1.0 / np.asarray(n, float) + 1.0 / np.asarray(m, float)) / 4
        return cls(estimate, np.sqrt(2.0 * variance_proxy))

    @classmethod
    def for_paired_gap(cls, estimate: ArrayLike, n: ArrayLike, bounds: tuple[float, float]):
        """Hoeffding interval for a mean of ``n`` paired differences."""
        width = 2.0 * (bounds[1] - bounds[0])
        return cls(estimate, width / np.sqrt(2.0 * np.asarray(n, dtype=float)))

    def factor(self, level: float) -> float:
        """``sqrt(log(2/level))``."""
        return np.sqrt(np.log(2.0 / level))


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile bootstrap interval from kept bootstrap replicates.

    Parameters
    ----------
    estimate : array_like
        Point estimates, shape ``(..., tasks)``.
    draws : array_like
        Bootstrap replicates, shape ``(..., tasks, B)``.
    """

    estimate: FloatArray
    draws: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        estimate = np.asarray(self.estimate, dtype=float)
        draws = np.asarray(self.draws, dtype=float)
        if draws.shape[:-1] != estimate.shape:
            raise ValueError(
                f"bootstrap draws must have shape estimate.shape + (B,), got {draws.shape} "
                f"for estimates of shape {estimate.shape}"
            )
        object.__setattr__(self, "estimate", estimate)
        object.__setattr__(self, "draws", draws)

    @property
    def se(self) -> FloatArray:
        """Bootstrap standard error (SD of the replicates, ddof 1)."""
        return self.draws.std(axis=-1, ddof=1)

    def interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Return the ``level/2`` and ``1 − level/2`` percentiles of the replicates."""
        level = _level(level)
        lower, upper = np.quantile(self.draws, [level / 2.0, 1.0 - level / 2.0], axis=-1)
        return lower, upper

    def take(self, index: ArrayLike) -> BootstrapInterval:
        """Gather tasks along the task axis."""
        index = np.asarray(index)
        return BootstrapInterval(self.estimate[..., index], self.draws[..., index, :])


def order_statistic_ranks(n: int, quantile: float, level: float) -> tuple[int, int]:
    """One-based ranks ``(l, u)`` of the exact distribution-free quantile interval.

    With ``B ~ Binomial(n, q)`` (the count of observations at or below the
    ``q``-quantile), ``P(X_(l) <= ξ_q <= X_(u)) >= P(l <= B <= u − 1) >= 1 − level``
    when ``l − 1`` is the largest ``k`` with ``P(B <= k) <= level/2`` and ``u − 1``
    the smallest ``k`` with ``P(B <= k) >= 1 − level/2``. ``l < 1`` means the
    lower end is ``−inf``; ``u > n`` means the upper end is ``+inf``.

    Parameters
    ----------
    n : int
        Sample size.
    quantile : float
        The quantile ``q`` in ``(0, 1)``.
    level : float
        Miscoverage level.

    Returns
    -------
    tuple of int
    """
    level = _level(level)
    from scipy.special import bdtr

    counts = np.arange(n + 1)
    cdf = bdtr(counts, n, quantile)
    tolerance = 1e-12
    below = np.nonzero(cdf <= level / 2.0 + tolerance)[0]
    lower_rank = int(below[-1]) + 1 if below.size else 0
    above = np.nonzero(cdf >= 1.0 - level / 2.0 - tolerance)[0]
    upper_rank = int(above[0]) + 1
    return lower_rank, upper_rank


@dataclass(frozen=True)
class OrderStatisticInterval:
    """Exact distribution-free interval for a quantile from order statistics.

    Parameters
    ----------
    samples : tuple of ndarray
        One sorted sample per task (a one-dimensional task axis).
    quantile : float
        The quantile ``q`` in ``(0, 1)``.
    """

    samples: tuple[FloatArray, ...] = field(repr=False)
    quantile: float
    estimate: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        samples = tuple(np.sort(np.asarray(s, dtype=float)) for s in self.samples)
        object.__setattr__(self, "samples", samples)
        estimate = np.array([sample_quantile(s, self.quantile) for s in samples], dtype=float)
        object.__setattr__(self, "estimate", estimate)

    def interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Return ``(X_(l), X_(u))`` for every task, ``±inf`` where a rank falls outside."""
        lower = np.empty(len(self.samples))
        upper = np.empty(len(self.samples))
        for i, sample in enumerate(self.samples):
            n = sample.size
            lower_rank, upper_rank = order_statistic_ranks(n, self.quantile, level)
            lower[i] = sample[lower_rank - 1] if lower_rank >= 1 else -np.inf
            upper[i] = sample[upper_rank - 1] if upper_rank <= n else np.inf
        return lower, upper

    def take(self, index: ArrayLike) -> OrderStatisticInterval:
        """Gather tasks along the (one-dimensional) task axis."""
        index = np.asarray(index)
        if index.ndim != 1:
            raise ValueError("exact quantile intervals support a one-dimensional task index only")
        return OrderStatisticInterval(tuple(self.samples[i] for i in index), self.quantile)


def sample_quantile(values: ArrayLike, quantile: float, weights: ArrayLike | None = None) -> float:
    """The ``q``-quantile as the smallest value whose (weighted) CDF reaches ``q``.

    This is the inverse of the empirical CDF (``numpy`` method ``inverted_cdf``),
    the estimator whose order-statistic interval is exact.

    Parameters
    ----------
    values : array_like
        One sample.
    quantile : float
        ``q`` in ``(0, 1)``.
    weights : array_like, optional
        Non-negative weights (Hájek); uniform when omitted.

    Returns
    -------
    float
    """
    values = np.asarray(values, dtype=float)
    if weights is None:
        return float(np.quantile(values, quantile, method="inverted_cdf"))
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.asarray(weights, dtype=float)[order])
    cumulative /= cumulative[-1]
    position = int(np.searchsorted(cumulative, quantile - 1e-12, side="left"))
    return float(values[order][min(position, values.size - 1)])
