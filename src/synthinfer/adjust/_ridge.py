"""Ridge regression on standardized covariates, batched over leading axes.

The intercept is never penalized, and covariates are standardized over the
task axis (``-2``) with constant columns set to zero, so a fit is a symmetric
function of the tasks it sees.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer._validation import check_range

__all__ = [
    "DEFAULT_PENALTY",
    "Regressor",
    "RidgeRegression",
    "check_penalty",
    "penalty_matrix",
    "standardize",
    "with_intercept",
]

FloatArray = NDArray[np.float64]

DEFAULT_PENALTY = 1.0
"""Ridge penalty on the standardized slopes, fixed in advance."""


def standardize(covariates: FloatArray) -> FloatArray:
    """Centre and scale columns over the task axis (-2); constant columns become 0.

    Parameters
    ----------
    covariates : ndarray
        Shape ``(..., n_tasks, p)``.

    Returns
    -------
    ndarray
        The same shape.
    """
    mean = covariates.mean(axis=-2, keepdims=True)
    scale = covariates.std(axis=-2, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    return np.where(scale > 0, (covariates - mean) / safe, 0.0)


def with_intercept(standardized: FloatArray) -> FloatArray:
    """Prepend a column of ones (the intercept) along the last axis."""
    ones = np.ones((*standardized.shape[:-1], 1))
    return np.concatenate([ones, standardized], axis=-1)


def penalty_matrix(n_columns: int, penalty: float) -> FloatArray:
    """Diagonal ridge penalty with an unpenalized intercept (the first column)."""
    diagonal = np.full(n_columns, float(penalty))
    diagonal[0] = 0.0
    return np.diag(diagonal)


def check_penalty(penalty: float) -> float:
    """The ridge penalty as a float: a finite number ``>= 0``."""
    return check_range(penalty, "ridge penalty", 0.0, math.inf, high_open=True)


class Regressor(Protocol):
    """What split mode needs from a model: ``fit(X, y)`` then ``predict(X)``."""

    def fit(self, X: FloatArray, y: FloatArray) -> Any:
        """Fit to covariates ``X`` (n, p) and responses ``y`` (n,)."""
        ...

    def predict(self, X: FloatArray) -> FloatArray:
        """Predict responses for covariates ``X``."""
        ...


class RidgeRegression:
    """Ridge regression on standardized covariates with an unpenalized intercept.

    Parameters
    ----------
    penalty : float
        Ridge penalty ``λ`` on the standardized slopes (``0`` is least squares).
    """

    def __init__(self, penalty: float = DEFAULT_PENALTY) -> None:
        self.penalty = check_penalty(penalty)
        self.coef_: FloatArray | None = None
        self._mean: FloatArray | None = None
        self._scale: FloatArray | None = None

    def fit(self, X: ArrayLike, y: ArrayLike) -> RidgeRegression:
        """Fit to covariates ``X`` (n, p) and responses ``y`` (n,)."""
        covariates = np.asarray(X, dtype=float).reshape(len(np.asarray(y)), -1)
        response = np.asarray(y, dtype=float)
        self._mean = covariates.mean(axis=0)
        scale = covariates.std(axis=0)
        self._scale = np.where(scale > 0, scale, np.inf)
        design = with_intercept((covariates - self._mean) / self._scale)
        gram = design.T @ design + penalty_matrix(design.shape[1], self.penalty)
        self.coef_ = np.linalg.lstsq(gram, design.T @ response, rcond=None)[0]
        return self

    def predict(self, X: ArrayLike) -> FloatArray:
        """Predict responses for covariates ``X`` (m, p)."""
        if self.coef_ is None or self._mean is None or self._scale is None:
            raise ValueError("call fit(X, y) before predict(X)")
        covariates = np.asarray(X, dtype=float).reshape(-1, self._mean.shape[0])
        return with_intercept((covariates - self._mean) / self._scale) @ self.coef_
