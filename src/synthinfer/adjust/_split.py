"""Split conformal gap bands with any regression model.

A model is fitted on a seeded share of the history tasks (the gap-interval
midpoints as response); ``Qlo``/``Qhi`` of the residual interval ends of the
other tasks then give ``f(x) + [Qlo_a(lower − f(X)), Qhi_a(upper − f(X))]``.
"""

from __future__ import annotations

import copy

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer.adjust._ridge import Regressor, RidgeRegression
from synthinfer.conformal import conformal_lower, conformal_upper

__all__ = ["split_conformal_band", "split_indices"]


def split_indices(
    n_history: int, fit_fraction: float, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Sorted indices of the fitting and the calibration tasks.

    Parameters
    ----------
    n_history : int
        Number ``T`` of history tasks.
    fit_fraction : float
        Share of tasks used for fitting (at least one task on each side when
        ``T >= 2``; none fitted otherwise).
    seed : int
        Seed of the permutation: the split depends only on ``seed`` and ``T``.

    Returns
    -------
    tuple of ndarray
        ``(fit, calibration)``.
    """
    n_fit = round(fit_fraction * n_history)
    n_fit = min(max(n_fit, 1), n_history - 1) if n_history >= 2 else 0
    order = np.random.default_rng(seed).permutation(n_history)
    return np.sort(order[:n_fit]), np.sort(order[n_fit:])


def split_conformal_band(
    lower: ArrayLike,
    upper: ArrayLike,
    covariates: ArrayLike,
    target_covariates: ArrayLike,
    alpha: float,
    *,
    model: Regressor | None = None,
    fit_fraction: float = 0.5,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Split-conformal gap band for one target.

    Parameters
    ----------
    lower, upper : array_like
        Shape ``(T,)``: the history's gap interval ends.
    covariates : array_like
        Shape ``(T, p)``.
    target_covariates : array_like
        Shape ``(p,)``.
    alpha : float
        Conformal level.
    model : Regressor, optional
        Any object with ``fit(X, y)``/``predict(X)`` (default
        :class:`RidgeRegression`); it is copied before fitting.
    fit_fraction : float
        Share of history tasks used to fit the model; the rest calibrate.
    seed : int
        Seed of the split (the split depends only on ``seed`` and ``T``).

    Returns
    -------
    tuple of float
        ``(gap_lower, gap_upper, spread)``.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    features = np.asarray(covariates, dtype=float).reshape(lo.shape[0], -1)
    target = np.asarray(target_covariates, dtype=float).reshape(1, features.shape[1])
    fit, cal = split_indices(lo.shape[0], fit_fraction, seed)
    if fit.size == 0:
        return -np.inf, np.inf, np.inf
    regressor = copy.deepcopy(model) if model is not None else RidgeRegression()
    regressor.fit(features[fit], (lo[fit] + hi[fit]) / 2.0)
    at_cal = np.asarray(regressor.predict(features[cal]), dtype=float).reshape(-1)
    centre = float(np.asarray(regressor.predict(target), dtype=float).reshape(-1)[0])
    band_lo = centre + float(conformal_lower(lo[cal] - at_cal, alpha))
    band_hi = centre + float(conformal_upper(hi[cal] - at_cal, alpha))
    mid = (lo[cal] + hi[cal]) / 2.0 - at_cal
    spread = float(conformal_upper(mid, alpha) - conformal_lower(mid, alpha))
    return band_lo, band_hi, spread
