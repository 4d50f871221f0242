"""Conformal order statistics and weighted quantiles over historical tasks.

Everything here reads like the definitions in the paper. With ``T`` historical
values ``v_1..v_T`` and level ``a``:

* ``k_L = floor((T+1)·a/2)`` and ``k_U = ceil((T+1)·(1 − a/2))``;
* ``Qlo_a(v)`` is the ``k_L``-th smallest value (``−inf`` when ``k_L < 1``);
* ``Qhi_a(v)`` is the ``k_U``-th smallest value (``+inf`` when ``k_U > T``).

The weighted versions (Algorithm 2) put mass ``p_j = w_j / (Σw + 1)`` on each
historical value and ``1 / (Σw + 1)`` on ``+inf`` (upper) or ``−inf`` (lower).
With all weights equal to one they return exactly ``Qlo`` and ``Qhi``.

All functions work along the last axis, so leading axes may index targets or
Monte Carlo replications. Levels are compared with a relative tolerance of
``1e-9`` so that, for instance, ``(T+1)·a/2`` that should equal 2 but rounds
to 1.9999999999999998 in floating point still gives rank 2.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "conformal_lower",
    "conformal_ranks",
    "conformal_upper",
    "effective_sample_size",
    "median_gap",
    "min_history",
    "weighted_lower",
    "weighted_upper",
]

_RANK_TOLERANCE = 1e-9


def _check_level(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0) or math.isnan(alpha):
        raise ValueError(f"level must lie strictly between 0 and 1, got {alpha!r}")
    return alpha


def conformal_ranks(n_history: int, alpha: float) -> tuple[int, int]:
    """Return the one-based ranks ``(k_L, k_U)`` of the conformal band.

    Parameters
    ----------
    n_history : int
        Number ``T`` of historical values (``T >= 0``).
    alpha : float
        Miscoverage level of the band, in ``(0, 1)``.

    Returns
    -------
    tuple of int
        ``k_L = floor((T+1)·alpha/2)`` and ``k_U = ceil((T+1)·(1 − alpha/2))``.
        ``k_L < 1`` means the lower end is ``−inf``; ``k_U > T`` means the
        upper end is ``+inf``.

    Examples
    --------
    >>> conformal_ranks(19, 0.1)
    (1, 19)
    >>> conformal_ranks(18, 0.1)
    (0, 19)
    """
    if int(n_history) != n_history or n_history < 0:
        raise ValueError(f"n_history must be a non-negative integer, got {n_history!r}")
    alpha = _check_level(alpha)
    n_plus_one = int(n_history) + 1
    lower_position = n_plus_one * alpha / 2.0
    upper_position = n_plus_one * (1.0 - alpha / 2.0)
    k_lower = math.floor(lower_position + _RANK_TOLERANCE * max(1.0, lower_position))
    k_upper = math.ceil(upper_position - _RANK_TOLERANCE * max(1.0, upper_position))
    return k_lower, k_upper


def min_history(alpha: float) -> int:
    """Smallest number of historical tasks that gives a finite two-sided band.

    The band at level ``alpha`` is finite on both sides exactly when
    ``k_L >= 1`` (equivalently ``k_U <= T``), i.e. ``T + 1 >= 2 / alpha``.

    Parameters
    ----------
    alpha : float
        Conformal level (for Algorithm 1 this is ``alpha3``).

    Returns
    -------
    int
        The minimum ``T``.

    Examples
    --------
    >>> min_history(0.1)
    19
    """
    alpha = _check_level(alpha)
    n_history = max(0, math.ceil(2.0 / alpha - 1.0 - _RANK_TOLERANCE * 2.0 / alpha))
    if 2.0 / alpha > 1e9:  # the rank tolerance spans a task or more: no exact count
        return n_history
    while conformal_ranks(n_history, alpha)[0] < 1:
        n_history += 1
    while n_history > 0 and conformal_ranks(n_history - 1, alpha)[0] >= 1:
        n_history -= 1
    return n_history


def _kth_smallest(values: NDArray[np.float64], rank: int) -> NDArray[np.float64]:
    """The ``rank``-th smallest (one-based) value along the last axis."""
    return np.partition(values, rank - 1, axis=-1)[..., rank - 1]


def conformal_lower(values: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """``Qlo_alpha``: the ``k_L``-th smallest value along the last axis.

    Parameters
    ----------
    values : array_like
        Historical values; the last axis runs over the ``T`` tasks.
    alpha : float
        Conformal level.

    Returns
    -------
    ndarray
        Shape ``values.shape[:-1]``; ``-inf`` where ``k_L < 1``.
    """
    values = np.asarray(values, dtype=float)
    k_lower, _ = conformal_ranks(values.shape[-1], alpha)
    if k_lower < 1:
        return np.full(values.shape[:-1], -np.inf)
    return _kth_smallest(values, k_lower)


def conformal_upper(values: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """``Qhi_alpha``: the ``k_U``-th smallest value along the last axis.

    Parameters and shape as in :func:`conformal_lower`; ``+inf`` where ``k_U > T``.
    """
    values = np.asarray(values, dtype=float)
    _, k_upper = conformal_ranks(values.shape[-1], alpha)
    if k_upper > values.shape[-1]:
        return np.full(values.shape[:-1], np.inf)
    return _kth_smallest(values, k_upper)


def _check_weights(values: NDArray[np.float64], weights: ArrayLike) -> NDArray[np.float64]:
    weights = np.broadcast_to(np.asarray(weights, dtype=float), values.shape)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or np.any(weights > 1):
        raise ValueError("task weights must be finite numbers in [0, 1]")
    return weights


def weighted_upper(values: ArrayLike, weights: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Weighted ``(1 − alpha/2)`` quantile with the current task's mass at ``+inf``.

    The distribution puts mass ``w_j / (Σw + 1)`` on ``values[..., j]`` and
    ``1 / (Σw + 1)`` on ``+inf`` (Algorithm 2). The quantile is the smallest
    support point whose cumulative mass reaches ``1 − alpha/2``.

    Parameters
    ----------
    values : array_like
        Historical values, tasks along the last axis.
    weights : array_like
        Task weights in ``[0, 1]``, broadcastable to ``values``.
    alpha : float
        Conformal level.

    Returns
    -------
    ndarray
        Shape ``values.shape[:-1]``; ``+inf`` where the finite mass falls short.
    """
    alpha = _check_level(alpha)
    values = np.asarray(values, dtype=float)
    weights = _check_weights(values, weights)
    if values.shape[-1] == 0:  # no history: all mass sits on +inf
        return np.full(values.shape[:-1], np.inf)
    sorted_values, sorted_weights = _by_value(values, weights)
    total = sorted_weights.sum(axis=-1, keepdims=True) + 1.0
    cumulative = np.cumsum(sorted_weights, axis=-1) / total
    level = 1.0 - alpha / 2.0
    reached = cumulative >= level - _RANK_TOLERANCE
    return np.where(reached.any(axis=-1), _first_reached(sorted_values, reached), np.inf)


def weighted_lower(values: ArrayLike, weights: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Weighted ``alpha/2`` quantile with the current task's mass at ``−inf``.

    Defined by symmetry, ``weighted_lower(v) = −weighted_upper(−v)``, which
    with unit weights is exactly the ``k_L``-th smallest value. Parameters and
    shape as in :func:`weighted_upper`; ``-inf`` where the finite mass falls short.
    """
    return -weighted_upper(-np.asarray(values, dtype=float), weights, alpha)


def effective_sample_size(weights: ArrayLike) -> NDArray[np.float64]:
    """Kish effective number of tasks ``(Σw)² / Σw²`` along the last axis.

    Parameters
    ----------
    weights : array_like
        Non-negative task weights.

    Returns
    -------
    ndarray
        Shape ``weights.shape[:-1]``; 0 where every weight is 0.
    """
    weights = np.asarray(weights, dtype=float)
    total = weights.sum(axis=-1)
    squares = (weights**2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(squares > 0, total**2 / np.where(squares > 0, squares, 1.0), 0.0)


def median_gap(values: ArrayLike, weights: ArrayLike | None = None) -> NDArray[np.float64]:
    """The (weighted) median of historical values along the last axis.

    The point at the centre of the conformal band: the calibrated estimate is
    the synthetic estimate plus this median gap. With weights, the median of
    the distribution putting mass ``w_j / Σw`` on ``values[..., j]``: the mean
    of the smallest value whose cumulative mass reaches 1/2 and the largest
    whose mass from above reaches 1/2 (``np.median`` with unit weights).

    Parameters
    ----------
    values : array_like
        Historical values, tasks along the last axis.
    weights : array_like, optional
        Non-negative task weights, broadcastable to ``values``.

    Returns
    -------
    ndarray
        Shape ``values.shape[:-1]``; NaN without history (or with zero total weight).
    """
    values = np.asarray(values, dtype=float)
    if values.shape[-1] == 0:
        return np.full(values.shape[:-1], np.nan)
    if weights is None:
        return np.median(values, axis=-1)
    weights = np.broadcast_to(np.asarray(weights, dtype=float), values.shape)
    return (_weighted_half(values, weights) - _weighted_half(-values, weights)) / 2.0


def _weighted_half(values: NDArray[np.float64], weights: NDArray[np.float64]) -> NDArray:
    """Smallest value whose cumulative weight share reaches 1/2 (NaN for zero weight)."""
    sorted_values, sorted_weights = _by_value(values, weights)
    cumulative = np.cumsum(sorted_weights, axis=-1)
    total = cumulative[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        reached = cumulative / total >= 0.5 - _RANK_TOLERANCE
    return np.where(total[..., 0] > 0, _first_reached(sorted_values, reached), np.nan)


def _by_value(
    values: NDArray[np.float64], weights: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``values`` and their ``weights``, sorted by value along the last axis (stable)."""
    order = np.argsort(values, axis=-1, kind="stable")
    return np.take_along_axis(values, order, axis=-1), np.take_along_axis(weights, order, axis=-1)


def _first_reached(sorted_values: NDArray[np.float64], reached: NDArray[np.bool_]) -> NDArray:
    """The first of ``sorted_values`` where ``reached`` holds, along the last axis."""
    first = np.argmax(reached, axis=-1)
    return np.take_along_axis(sorted_values, first[..., None], axis=-1)[..., 0]
