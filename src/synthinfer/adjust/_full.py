"""Exact one-sided full conformal prediction with ridge regression.

For the upper end of a band, the target's unknown response ``y`` is appended
to the ``T`` history responses, one ridge fit is made on all ``T + 1`` tasks,
and ``y`` is kept when the target's residual is at most the ``k_U``-th
smallest of the ``T + 1`` residuals. Residuals are affine in ``y``
(``r_j(y) = a_j + b_j·y``), so the target's rank changes only at the ``T``
crossing points ``t_j`` where ``r_j(y) = r_{T+1}(y)``; the kept set and its
supremum follow from the rank at each crossing point. The ranks are counted
from one sort of the crossing points (``O(T log T)``).

The two ends of a band are two separate one-sided sets. When the fit nearly
interpolates the history (about as many covariates as history tasks, or a
penalty near 0) they can cross, the lower end above the upper end. Both ends
keep their one-sided guarantees, so any superset keeps the band's: a crossed
band is replaced by the union of its ends and the unadjusted band, with a
warning that names the target.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer.adjust._ridge import (
    DEFAULT_PENALTY,
    check_penalty,
    penalty_matrix,
    standardize,
    with_intercept,
)
from synthinfer.conformal import conformal_lower, conformal_ranks, conformal_upper

__all__ = ["RidgeCovariates", "full_conformal_band", "full_conformal_upper"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_DEGENERATE = 1e-12


@dataclass(frozen=True)
class _RidgeSystem:
    """The parts of the ridge fit on ``T + 1`` tasks that do not depend on the responses."""

    design: FloatArray  # (..., T+1, p+1): standardized covariates with the intercept
    gram: FloatArray  # (..., p+1, p+1): design'design plus the penalty
    penalty: float


def _ridge_system(covariates: FloatArray, penalty: float) -> _RidgeSystem:
    design = with_intercept(standardize(covariates))
    gram = np.swapaxes(design, -1, -2) @ design + penalty_matrix(design.shape[-1], penalty)
    return _RidgeSystem(design=design, gram=gram, penalty=penalty)


def _affine_residuals(
    responses: FloatArray, covariates: FloatArray, penalty: float
) -> tuple[FloatArray, FloatArray]:
    """Residuals of the ridge fit on ``T + 1`` tasks as ``a + b·y`` (``y`` = target response).

    ``responses`` has shape ``(..., T)``; ``covariates`` ``(..., T+1, p)`` with
    the target in the last row. Returns ``a`` and ``b`` of shape ``(..., T+1)``.
    """
    return _residual_lines(responses, _ridge_system(covariates, penalty))


def _residual_lines(responses: FloatArray, system: _RidgeSystem) -> tuple[FloatArray, FloatArray]:
    """``a`` and ``b`` of the residuals ``a + b·y`` for one set of history responses."""
    design = system.design
    n_tasks = design.shape[-2]
    padded = np.concatenate([responses, np.zeros((*responses.shape[:-1], 1))], axis=-1)
    rhs = np.stack(
        [
            np.einsum("...np,...n->...p", design, padded),
            design[..., -1, :],
        ],
        axis=-1,
    )
    if system.penalty == 0:
        solution = np.linalg.pinv(system.gram) @ rhs
    else:
        solution = np.linalg.solve(system.gram, rhs)
    fitted = design @ solution  # (..., T+1, 2): fit at y = 0 and hat-matrix column
    a = padded - fitted[..., 0]
    unit = np.zeros(n_tasks)
    unit[-1] = 1.0
    b = unit - fitted[..., 1]
    return a, b


def _tie_groups(ordered: FloatArray) -> tuple[IntArray, IntArray]:
    """First and last position of each sorted value's run of equal values, along the last axis.

    Equality is ``==``, so ``-0.0`` and ``0.0`` share a run and every NaN is a run of its own.
    """
    n_values = ordered.shape[-1]
    index = np.arange(n_values)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    ends = np.ones(ordered.shape, dtype=bool)
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, index, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends, index, n_values)[..., ::-1], axis=-1)[..., ::-1]
    return first, last


def _crossing_counts(
    threshold: FloatArray, positive: NDArray[np.bool_], negative: NDArray[np.bool_]
) -> IntArray:
    """Tasks whose residual is below the target's at each crossing point ``t_i``.

    A task of positive slope difference is below the target's residual for
    ``y > t_j``, one of negative slope for ``y < t_j``; both comparisons are
    strict, so neither counts at ``t_j`` itself (nor at an equal ``t_i``). A
    NaN crossing point compares false with everything: it counts nothing and
    nothing counts at it. One sort of the crossing points serves both counts:
    positive-slope tasks before ``t_i``'s run of equal values are below it,
    negative-slope tasks after the run are above it.
    """
    comparable = ~np.isnan(threshold)
    order = np.argsort(threshold, axis=-1)
    ordered = _gather(threshold, order)
    rising = _gather(positive & comparable, order)
    falling = _gather(negative & comparable, order)
    first, last = _tie_groups(ordered)
    rising_before = np.cumsum(rising, axis=-1) - rising
    falling_through = np.cumsum(falling, axis=-1)
    falling_total = falling_through[..., -1:] if falling.shape[-1] else 0
    below = _gather(rising_before, first)
    above = falling_total - _gather(falling_through, last)
    counts = np.empty_like(below)
    _scatter(counts, order, below + above)
    return np.where(comparable, counts, 0)


def _gather(values: NDArray[Any], index: IntArray) -> NDArray[Any]:
    """``values`` taken at ``index`` along the last axis (plain indexing for one row)."""
    if values.ndim == 1:
        return values[index]
    return np.take_along_axis(values, index, axis=-1)


def _scatter(target: NDArray[Any], index: IntArray, values: NDArray[Any]) -> None:
    """Put ``values`` into ``target`` at ``index`` along the last axis."""
    if target.ndim == 1:
        target[index] = values
    else:
        np.put_along_axis(target, index, values, axis=-1)


def _upper_from_affine(a: FloatArray, b: FloatArray, rank: int) -> FloatArray:
    """Supremum of ``{y : #{j ≤ T : r_j(y) < r_{T+1}(y)} ≤ rank − 1}`` with ``r = a + b·y``."""
    c = a[..., :-1] - a[..., -1:]
    d = b[..., -1:] - b[..., :-1]
    scale = np.maximum(1.0, np.abs(b).max(axis=-1, keepdims=True))
    positive = d > _DEGENERATE * scale
    negative = d < -_DEGENERATE * scale
    flat = ~(positive | negative)
    always = (flat & (c < 0)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.where(flat, np.nan, c / np.where(flat, 1.0, d))
    count_at_inf = positive.sum(axis=-1) + always
    count_at_minus_inf = negative.sum(axis=-1) + always
    counts = _crossing_counts(threshold, positive, negative) + always[..., None]
    valid_point = ~flat
    accepted = valid_point & (counts <= rank - 1)
    best = np.where(accepted, threshold, -np.inf).max(axis=-1)
    upper = np.where(count_at_inf <= rank - 1, np.inf, best)
    empty = ~np.isfinite(upper) & (upper < 0)
    if np.any(empty):
        upper = np.where(
            empty,
            _least_bad_upper(threshold, counts, valid_point, count_at_inf, count_at_minus_inf),
            upper,
        )
    return upper


def _least_bad_upper(
    threshold: FloatArray,
    counts: IntArray,
    valid_point: NDArray[np.bool_],
    count_at_inf: IntArray,
    count_at_minus_inf: IntArray,
) -> FloatArray:
    """Where the conformal set is empty: the supremum of the points of lowest rank.

    Any superset of the conformal set keeps the guarantee; an empty set is
    replaced by the set of ``y`` where the target's residual ranks lowest.
    """
    big = np.iinfo(np.int64).max
    masked = np.where(valid_point, counts, big)
    lowest = np.minimum(np.minimum(masked.min(axis=-1), count_at_inf), count_at_minus_inf)
    at_lowest = valid_point & (masked == lowest[..., None])
    best = np.where(at_lowest, threshold, -np.inf).max(axis=-1)
    return np.where(count_at_inf == lowest, np.inf, best)


class RidgeCovariates:
    """Covariates of ``T + 1`` tasks (history, then the target) for full-conformal bounds.

    The ridge system (standardized design and Gram matrix) depends on the
    covariates and the penalty only: it is built at the first bound that
    needs it and reused by every later bound, so the ends and the spread of a
    band, and the bands of one target at several levels, fit it once.

    Parameters
    ----------
    covariates : array_like
        Shape ``(..., T+1, p)``: covariates of the history tasks followed by
        the target's (last row). ``p`` may be 0 (intercept only).
    penalty : float
        Ridge penalty on the standardized slopes.
    """

    def __init__(self, covariates: ArrayLike, penalty: float = DEFAULT_PENALTY) -> None:
        self.covariates = np.asarray(covariates, dtype=float)
        self.penalty = penalty
        self._system: _RidgeSystem | None = None

    def holds(self, covariates: FloatArray) -> bool:
        """Whether ``covariates`` has exactly these values, bit for bit (C-contiguous arrays)."""
        mine = self.covariates
        if mine.shape != covariates.shape or covariates.dtype != np.float64:
            return False
        if not (mine.flags.c_contiguous and covariates.flags.c_contiguous):
            return False
        return bool(np.array_equal(mine.view(np.uint64), covariates.view(np.uint64)))

    def _ridge(self) -> _RidgeSystem:
        if self._system is None:
            self._system = _ridge_system(self.covariates, check_penalty(self.penalty))
        return self._system

    def upper(self, responses: ArrayLike, alpha: float) -> FloatArray:
        """The full-conformal upper bound of ``responses`` (see :func:`full_conformal_upper`)."""
        values = np.asarray(responses, dtype=float)
        design = self.covariates
        n_history = values.shape[-1]
        if design.shape[-2] != n_history + 1:
            raise ValueError(
                f"covariates need T + 1 = {n_history + 1} rows (history then target), "
                f"got {design.shape[-2]}"
            )
        _, k_upper = conformal_ranks(n_history, alpha)
        shape = np.broadcast_shapes(values.shape[:-1], design.shape[:-2])
        if k_upper > n_history:
            return np.full(shape, np.inf)
        if not np.all(np.isfinite(values)):
            raise ValueError("history responses must be finite for covariate adjustment")
        a, b = _residual_lines(values, self._ridge())
        return _upper_from_affine(a, b, k_upper)

    def band(
        self, lower: ArrayLike, upper: ArrayLike, alpha: float, *, task: str = ""
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The gap band ``(gap_lower, gap_upper, spread)`` (see :func:`full_conformal_band`)."""
        lo = np.asarray(lower, dtype=float)
        hi = np.asarray(upper, dtype=float)
        band_hi = self.upper(hi, alpha)
        band_lo = -self.upper(-lo, alpha)
        mid = (lo + hi) / 2.0
        if np.array_equal(lo, hi):
            spread = band_hi - band_lo
        else:
            spread = self.upper(mid, alpha) + self.upper(-mid, alpha)
        crossed = band_lo > band_hi
        if np.any(crossed):
            return _uncrossed(lo, hi, (band_lo, band_hi, spread), crossed, alpha, task)
        return band_lo, band_hi, spread


def _uncrossed(
    lo: FloatArray,
    hi: FloatArray,
    band: tuple[FloatArray, FloatArray, FloatArray],
    crossed: NDArray[np.bool_],
    alpha: float,
    task: str,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A crossed band (lower end above the upper end) replaced by its conservative superset.

    Where ``crossed``, the band becomes the union of the interval between its
    two ends and the unadjusted band ``[Qlo_a(lo), Qhi_a(hi)]``; its spread
    becomes the unadjusted one (the midpoints' band, never wider than the new
    band). Each new end lies beyond the old one, so each one-sided guarantee
    is kept. A warning names ``task`` (the target) and gives the ends.
    """
    band_lo, band_hi, spread = (np.asarray(end, dtype=float) for end in band)
    plain_lo = conformal_lower(lo, alpha)
    plain_hi = conformal_upper(hi, alpha)
    new_lo = np.where(crossed, np.minimum(band_hi, plain_lo), band_lo)
    new_hi = np.where(crossed, np.maximum(band_lo, plain_hi), band_hi)
    if np.array_equal(lo, hi):
        new_spread = new_hi - new_lo
    else:
        mid = (lo + hi) / 2.0
        plain_spread = conformal_upper(mid, alpha) - conformal_lower(mid, alpha)
        new_spread = np.where(crossed, plain_spread, spread)
    first = np.unravel_index(int(np.argmax(crossed)), np.shape(crossed))
    count = int(np.count_nonzero(crossed))
    where = f" for {task}" if task else ""
    cases = f" in {count} of {np.size(crossed)} cases, e.g." if np.size(crossed) > 1 else ""
    warnings.warn(
        f"the covariate-adjusted gap band{where} came out crossed{cases} "
        f"(lower end {float(band_lo[first]):.4g} above upper end {float(band_hi[first]):.4g}): "
        f"the ridge fit nearly interpolates the {lo.shape[-1]} history tasks (too many "
        f"covariates, or a penalty near 0); reported instead the conservative superset "
        f"[{float(new_lo[first]):.4g}, {float(new_hi[first]):.4g}], the crossed ends and the "
        f"unadjusted band together, which keeps the guarantee",
        stacklevel=3,
    )
    return new_lo, new_hi, new_spread


def full_conformal_upper(
    responses: ArrayLike,
    covariates: ArrayLike,
    alpha: float,
    *,
    penalty: float = DEFAULT_PENALTY,
) -> FloatArray:
    """Exact one-sided full-conformal upper bound with ridge regression.

    Parameters
    ----------
    responses : array_like
        Shape ``(..., T)``: the history's responses (e.g. upper gap ends).
    covariates : array_like
        Shape ``(..., T+1, p)``: covariates of the history tasks followed by
        the target's (last row). ``p`` may be 0 (intercept only).
    alpha : float
        Two-sided conformal level; the bound holds with probability at least
        ``1 − alpha/2``.
    penalty : float
        Ridge penalty on the standardized slopes.

    Returns
    -------
    ndarray
        Shape ``(...)``: the supremum of the full-conformal set; ``+inf`` when
        the set is unbounded above (always so when ``k_U > T``).
    """
    return RidgeCovariates(covariates, penalty).upper(responses, alpha)


def full_conformal_band(
    lower: ArrayLike,
    upper: ArrayLike,
    covariates: ArrayLike,
    alpha: float,
    *,
    penalty: float = DEFAULT_PENALTY,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Full-conformal gap band ``(gap_lower, gap_upper, spread)``, batched over leading axes.

    Parameters
    ----------
    lower, upper : array_like
        Shape ``(..., T)``: the history's gap interval ends.
    covariates : array_like
        Shape ``(..., T+1, p)``: history covariates then the target's.
    alpha : float
        Conformal level ``α3`` (``α`` for ``finite-sample``).
    penalty : float
        Ridge penalty.

    Returns
    -------
    tuple of ndarray
        The band's ends and ``spread``, the same construction applied to the
        gap midpoints (the ``w3`` part of the width). Where the two ends
        cross (lower above upper), the band is the conservative superset: the
        union of the interval between the ends and the unadjusted band, with
        a warning.
    """
    return RidgeCovariates(covariates, penalty).band(lower, upper, alpha)
