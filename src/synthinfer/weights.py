"""Task weights for drift (Algorithm 2) and the coverage bound they buy.

Algorithm 2 needs weights ``w_j ∈ [0, 1]`` fixed before seeing the gaps.
Besides recency (``ρ^{age}``), a natural choice is similarity of task
attributes to the target's: :func:`kernel_weights` gives a Gaussian kernel
on standardized numeric attributes times ``1 − λ`` per mismatching
categorical attribute. Weights depend on attributes only, never on gaps.

The guarantee of weighted conformal prediction (Barber, Candès, Ramdas and
Tibshirani, 2023) is coverage ``≥ 1 − α − 2 Σ_j p_j d_TV(Z, Z^{(j)})`` with
``p_j = w_j / (Σ_i w_i + 1)``: :func:`barber_bound_terms` reports the ``p_j``,
``Σ p_j`` and the coverage gap for user-supplied bounds on the total
variation distances (the worst case, every ``d_TV = 1``, gives ``2 Σ p_j``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from synthinfer._html import result_html
from synthinfer._validation import check_range, split_list

__all__ = ["BarberBound", "barber_bound_terms", "kernel_weights", "recency_weights"]

FloatArray = NDArray[np.float64]


def kernel_weights(
    attributes_history: pd.DataFrame,
    attributes_target: Mapping[str, Any] | pd.Series,
    *,
    columns: Sequence[str] | str,
    bandwidth: float = 1.0,
    mismatch: float = 0.5,
) -> FloatArray:
    """Similarity weights of history tasks to the target, in ``[0, 1]``.

    ``w_j = exp(−Σ_numeric ((x_j − x_target)/sd)² / (2 h²)) · (1 − λ)^{#categorical mismatches}``
    with ``sd`` the history standard deviation of each numeric attribute.
    A task identical to the target gets weight 1.

    Parameters
    ----------
    attributes_history : DataFrame
        One row per history task.
    attributes_target : mapping or Series
        The target's attribute values.
    columns : sequence of str or str
        Attributes to compare (comma-separated string allowed).
    bandwidth : float
        Kernel bandwidth ``h`` in standard deviations (> 0).
    mismatch : float
        Penalty ``λ ∈ [0, 1]`` per mismatching categorical attribute
        (``1`` keeps only exact matches).

    Returns
    -------
    ndarray
        Shape ``(T,)``.
    """
    names = split_list(columns)
    if not names:
        raise ValueError("kernel weights need at least one attribute column")
    bandwidth = check_range(bandwidth, "bandwidth", 0.0, low_open=True)
    mismatch = check_range(mismatch, "mismatch", 0.0, 1.0)
    missing = [
        c for c in names if c not in attributes_history.columns or c not in attributes_target
    ]
    if missing:
        raise ValueError(f"attribute column(s) {missing} missing for the history or the target")
    log_weight = np.zeros(len(attributes_history))
    for name in names:
        series = attributes_history[name]
        target = attributes_target[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float)
            scale = float(np.std(values))
            scale = scale if scale > 0 else 1.0
            log_weight -= ((values - float(target)) / scale) ** 2 / (2.0 * bandwidth**2)
        else:
            differs = series.astype(str).to_numpy() != str(target)
            with np.errstate(divide="ignore"):
                log_weight += (
                    differs * np.log1p(-mismatch)
                    if mismatch < 1
                    else np.where(differs, -np.inf, 0.0)
                )
    return np.exp(log_weight)


def recency_weights(age: ArrayLike, decay: float) -> FloatArray:
    """Recency weights ``ρ^{age}`` for ages ``≥ 0`` (in waves, years, ...)."""
    ages = np.asarray(age, dtype=float)
    decay = check_range(decay, "decay", 0.0, 1.0, low_open=True)
    if np.any(ages < 0) or not np.all(np.isfinite(ages)):
        raise ValueError("ages must be finite and >= 0 (history tasks precede the target)")
    return decay**ages


@dataclass(frozen=True)
class BarberBound:
    """Terms of the weighted-conformal coverage bound.

    Attributes
    ----------
    p : ndarray
        Normalized weights ``p_j = w_j / (Σw + 1)`` of the history tasks.
    p_target : float
        Mass ``1 / (Σw + 1)`` of the target.
    sum_p : float
        ``Σ_j p_j``.
    coverage_gap : float
        ``2 Σ_j p_j d_j`` for the given total-variation bounds ``d_j``.
    max_gap : float
        The worst case ``2 Σ_j p_j`` (every ``d_TV = 1``).
    """

    p: FloatArray
    p_target: float
    sum_p: float
    coverage_gap: float
    max_gap: float

    def coverage_lower_bound(self, alpha: float) -> float:
        """``1 − alpha − coverage_gap`` (at least 0)."""
        return max(0.0, 1.0 - alpha - self.coverage_gap)

    def to_frame(self) -> pd.DataFrame:
        """One row per history task: its normalized weight ``p``."""
        return pd.DataFrame({"task": np.arange(self.p.size), "p": self.p})

    def summary(self) -> str:
        """The bound's terms in one readable line."""
        return (
            f"sum p = {self.sum_p:.4g}, p_target = {self.p_target:.4g}; coverage gap "
            f"{self.coverage_gap:.4g} (worst case {self.max_gap:.4g})"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())

    def to_dict(self) -> dict[str, Any]:
        """The terms as a dictionary (``p`` as a list)."""
        return {
            "p": self.p.tolist(),
            "p_target": self.p_target,
            "sum_p": self.sum_p,
            "coverage_gap": self.coverage_gap,
            "max_gap": self.max_gap,
        }


def barber_bound_terms(weights: ArrayLike, tv_bounds: ArrayLike | float = 1.0) -> BarberBound:
    """Coverage-gap terms ``2 Σ p_j d_TV`` of the weighted conformal bound.

    Parameters
    ----------
    weights : array_like
        History task weights in ``[0, 1]``.
    tv_bounds : array_like or float
        Bounds ``d_j ∈ [0, 1]`` on ``d_TV(Z, Z^{(j)})`` (the distribution of
        all tasks versus the same with task ``j`` and the target swapped);
        a scalar applies to every task. Default 1: the worst case.

    Returns
    -------
    BarberBound

    Examples
    --------
    >>> bound = barber_bound_terms([1.0, 1.0, 0.0], tv_bounds=[0.0, 0.1, 1.0])
    >>> round(bound.coverage_gap, 4), round(bound.max_gap, 4)
    (0.0667, 1.3333)
    """
    w = np.asarray(weights, dtype=float).reshape(-1)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValueError("task weights must be finite numbers in [0, 1]")
    d = np.broadcast_to(np.asarray(tv_bounds, dtype=float), w.shape)
    if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d > 1):
        raise ValueError("total-variation bounds must lie in [0, 1]")
    total = w.sum() + 1.0
    p = w / total
    return BarberBound(
        p=p,
        p_target=float(1.0 / total),
        sum_p=float(p.sum()),
        coverage_gap=float(2.0 * np.sum(p * d)),
        max_gap=float(2.0 * p.sum()),
    )
