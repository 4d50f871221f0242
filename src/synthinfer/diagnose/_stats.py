"""Permutation tests of the gaps, vectorized over permutations, and Holm's adjustment.

p-values are permutation p-values ``(1 + #{|T*| >= |T|}) / (B + 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["anova_test", "correlation_test", "holm", "permutations"]


def permutations(values: np.ndarray, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``n_permutations`` independent permutations of ``values``, one per row."""
    return rng.permuted(np.tile(values, (n_permutations, 1)), axis=1)


def _standardized(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=-1, keepdims=True))
    return centred / np.where(norm > 0, norm, 1.0)


def correlation_test(
    gaps: np.ndarray, covariate: np.ndarray, permuted: np.ndarray
) -> tuple[float, float]:
    """Pearson correlation and its two-sided permutation p-value."""
    x = _standardized(covariate.astype(float))
    observed = float(_standardized(gaps) @ x)
    null = _standardized(permuted) @ x
    p_value = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (len(null) + 1)
    return observed, float(p_value)


def _f_statistic(values: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    counts = onehot.sum(axis=0)
    grand = values.mean(axis=-1, keepdims=True)
    means = (values @ onehot) / counts
    between = ((means - grand) ** 2 * counts).sum(axis=-1) / (onehot.shape[1] - 1)
    total = ((values - grand) ** 2).sum(axis=-1)
    within = (total - between * (onehot.shape[1] - 1)) / (values.shape[-1] - onehot.shape[1])
    return between / np.where(within > 0, within, np.finfo(float).tiny)


def anova_test(gaps: np.ndarray, labels: np.ndarray, permuted: np.ndarray) -> tuple[float, float]:
    """One-way F statistic of the gaps across ``labels`` and its permutation p-value."""
    levels = np.unique(labels)
    onehot = (labels[:, None] == levels[None, :]).astype(float)
    observed = float(_f_statistic(gaps, onehot))
    null = _f_statistic(permuted, onehot)
    p_value = (1 + np.sum(null >= observed * (1 - 1e-12))) / (len(null) + 1)
    return observed, float(p_value)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the order given."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = adjusted
    return out
