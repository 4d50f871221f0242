"""Prediction-powered inference (PPI, PPI++) from labelled pairs and unlabelled predictions.

A task's *labelled* units have a real value ``Y`` and a synthetic value
``Ŷ``; its *unlabelled* units have a synthetic value ``Ŷᵘ`` only. PPI
(Angelopoulos et al. 2023) estimates the real mean as

``θ̂(λ) = mean(λ·Ŷᵘ) + mean(Y − λ·Ŷ)``

with ``λ = 1`` (classic PPI) or the power-tuned ``λ`` of PPI++ (clipped to
``[0, 1]``), and a quantile by the rectified CDF. The conventions (weights
rescaled to mean one, standard deviations with ``ddof = 0``, the synthetic
term over the unlabelled units only, the quantile grid) are those of the
reference implementation ``ppi_py``, whose results these functions
reproduce.

Mean functions take arrays with the units on the last axis and any leading
axes (replications) broadcast; the quantile family keeps one task per entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer.intervals._families import WaldInterval

__all__ = [
    "PPI_QUANTILE_GRID",
    "PPIQuantileInterval",
    "ppi_mean",
    "ppi_power_tuning",
    "ppi_quantile",
    "ppi_student_factor",
]

FloatArray = NDArray[np.float64]

PPI_QUANTILE_GRID = 5000
"""Points of ``ppi_py``'s default linear quantile grid (``grid="linear"``)."""


def _checked_level(level: float) -> float:
    level = float(level)
    if not (0.0 < level < 1.0):
        raise ValueError(f"interval level must lie strictly between 0 and 1, got {level!r}")
    return level


def _sample(values: ArrayLike, what: str) -> FloatArray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"PPI needs at least one {what} value")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"PPI {what} values must be finite numbers")
    return array


def _rescaled(weights: ArrayLike | None, shape: tuple[int, ...], what: str) -> FloatArray:
    """Weights rescaled to mean one along the last axis (ones when omitted)."""
    if weights is None:
        return np.ones(shape)
    weights = np.broadcast_to(np.asarray(weights, dtype=float), shape)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"PPI {what} weights must be finite and non-negative")
    total = weights.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"PPI {what} weights sum to zero; give positive weights")
    return weights / total * shape[-1]


def _inputs(labelled, labelled_synth, unlabelled_synth, weights, unlabelled_weights):
    real = _sample(labelled, "labelled real")
    synth = _sample(labelled_synth, "labelled synthetic")
    unlabelled = _sample(unlabelled_synth, "unlabelled synthetic")
    if real.shape != synth.shape:
        raise ValueError(
            f"labelled real and synthetic values must pair up (shapes {real.shape} "
            f"and {synth.shape})"
        )
    w = _rescaled(weights, real.shape, "labelled")
    w_unlabelled = _rescaled(unlabelled_weights, unlabelled.shape, "unlabelled")
    return real, synth, unlabelled, w, w_unlabelled


def _tuned_lambda(real, synth, unlabelled, w, w_unlabelled) -> FloatArray:
    """PPI++'s variance-minimising ``λ`` (clipped to ``[0, 1]``), from rescaled weights."""
    n, big_n = real.shape[-1], unlabelled.shape[-1]
    classic = (w_unlabelled * unlabelled).mean(-1) + (w * (real - synth)).mean(-1)
    grads = w * (real - classic[..., None])
    grads_hat = w * (synth - classic[..., None])
    grads_unlabelled = w_unlabelled * (unlabelled - classic[..., None])
    covariance = (
        (grads - grads.mean(-1, keepdims=True)) * (grads_hat - grads_hat.mean(-1, keepdims=True))
    ).mean(-1)
    lead = np.broadcast_shapes(grads_hat.shape[:-1], grads_unlabelled.shape[:-1])
    pooled = np.concatenate(
        [
            np.broadcast_to(grads_hat, (*lead, n)),
            np.broadcast_to(grads_unlabelled, (*lead, big_n)),
        ],
        axis=-1,
    )
    spread = (1.0 + n / big_n) * pooled.var(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(spread > 0, covariance / np.where(spread > 0, spread, 1.0), 0.0)
    return np.clip(lam, 0.0, 1.0)


def ppi_power_tuning(
    labelled: ArrayLike,
    labelled_synth: ArrayLike,
    unlabelled_synth: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    unlabelled_weights: ArrayLike | None = None,
) -> FloatArray:
    """PPI++'s power-tuning parameter ``λ`` for a mean, clipped to ``[0, 1]``.

    ``λ = cov(g, ĝ) / ((1 + n/N)·var(ĝ ∪ ĝᵘ))`` with the gradients ``g``
    centred at the classic PPI estimate (``ppi_py``'s ``_calc_lam_glm``);
    ``0`` where the synthetic values do not vary.

    Parameters
    ----------
    labelled, labelled_synth : array_like
        Real and synthetic values of the ``n`` labelled units (last axis).
    unlabelled_synth : array_like
        Synthetic values of the ``N`` unlabelled units (last axis).
    weights, unlabelled_weights : array_like, optional
        Survey weights of the labelled and unlabelled units.

    Returns
    -------
    ndarray
        One ``λ`` per leading index.
    """
    return _tuned_lambda(
        *_inputs(labelled, labelled_synth, unlabelled_synth, weights, unlabelled_weights)
    )


def ppi_mean(
    labelled: ArrayLike,
    labelled_synth: ArrayLike,
    unlabelled_synth: ArrayLike,
    *,
    lam: float | ArrayLike | None = None,
    weights: ArrayLike | None = None,
    unlabelled_weights: ArrayLike | None = None,
) -> WaldInterval:
    """The prediction-powered interval family of a mean (PPI, or PPI++ when ``lam=None``).

    Estimate ``mean(wᵘ·λ·Ŷᵘ) + mean(w·(Y − λ·Ŷ))`` and standard error
    ``sqrt(sd(wᵘ·λ·Ŷᵘ)²/N + sd(w·(Y − λ·Ŷ))²/n)`` (``ddof = 0``), weights
    rescaled to mean one: what ``ppi_py.ppi_mean_ci`` gives.

    Parameters
    ----------
    labelled, labelled_synth : array_like
        Real and synthetic values of the labelled units (units on the last axis).
    unlabelled_synth : array_like
        Synthetic values of the unlabelled units (units on the last axis).
    lam : float or array_like, optional
        ``1`` for classic PPI, ``0`` for the real-data interval; ``None``
        (default) tunes it (:func:`ppi_power_tuning`).
    weights, unlabelled_weights : array_like, optional
        Survey weights of the labelled and unlabelled units (Hájek).

    Returns
    -------
    WaldInterval
        Estimates and standard errors over the leading axes.
    """
    real, synth, unlabelled, w, w_unlabelled = _inputs(
        labelled, labelled_synth, unlabelled_synth, weights, unlabelled_weights
    )
    if lam is None:
        lam = _tuned_lambda(real, synth, unlabelled, w, w_unlabelled)
    lam = np.asarray(lam, dtype=float)[..., None]
    imputed = w_unlabelled * lam * unlabelled
    rectifier = w * (real - lam * synth)
    estimate = imputed.mean(-1) + rectifier.mean(-1)
    variance = imputed.var(-1) / unlabelled.shape[-1] + rectifier.var(-1) / real.shape[-1]
    return WaldInterval(estimate, np.sqrt(variance))


def ppi_student_factor(level: float, n_labelled: ArrayLike, fitted: int = 2) -> FloatArray:
    """The factor that turns a ``ppi_py`` Wald half-width into a Student one at small ``m``.

    ``t_{m−k}(1 − level/2) · sqrt(m/(m − k)) / z(1 − level/2)`` with ``m`` labelled
    pairs and ``k = fitted`` parameters fitted on them: the rectifier's mean
    (``k = 1``, classic PPI with a fixed ``λ``) and, for PPI++, also ``λ``
    (``k = 2``). ``ppi_py`` divides the rectifier's sum of squares by ``m``;
    ``sqrt(m/(m − k))`` makes it the unbiased ``m − k`` one, and the Student
    quantile on ``m − k`` degrees of freedom is then exact for normal
    differences when the unlabelled sample is large (the regression estimator
    of survey sampling for ``k = 2``). The factor tends to 1 as ``m`` grows;
    it is infinite when ``m ≤ k``.

    Parameters
    ----------
    level : float
        Miscoverage level ``a`` in ``(0, 1)``.
    n_labelled : array_like
        Number ``m`` of labelled pairs (any shape).
    fitted : {1, 2}
        Parameters fitted on the labelled pairs.

    Returns
    -------
    ndarray
        The factor, shape of ``n_labelled``.
    """
    from scipy.special import ndtri, stdtrit

    level = _checked_level(level)
    if fitted not in (1, 2):
        raise ValueError(f"fitted must be 1 (classic PPI) or 2 (PPI++), got {fitted!r}")
    m = np.asarray(n_labelled, dtype=float)
    df = np.maximum(m - fitted, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = stdtrit(df, 1.0 - level / 2.0) * np.sqrt(m / df) / -ndtri(level / 2.0)
    return np.where(m > fitted, factor, np.inf)


def _weighted_counts(values: FloatArray, weights: FloatArray, grid: FloatArray) -> FloatArray:
    """``Σ weights·1{values ≤ g}`` at every grid point ``g``."""
    order = np.argsort(values, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(weights[order])])
    return cumulative[np.searchsorted(values[order], grid, side="right")]


def _cdf_terms(values: FloatArray, weights: FloatArray, grid: FloatArray):
    """Mean and ``ddof = 0`` SD of ``w·1{v ≤ g}`` over the units, at every ``g``."""
    n = values.size
    mean = _weighted_counts(values, weights, grid) / n
    second = _weighted_counts(values, weights**2, grid) / n
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))


def _rectifier_terms(real, synth, weights, grid):
    """Mean and ``ddof = 0`` SD of ``w·(1{Y ≤ g} − 1{Ŷ ≤ g})`` over the labelled units."""
    n = real.size
    mean = (_weighted_counts(real, weights, grid) - _weighted_counts(synth, weights, grid)) / n
    squares = weights**2
    second = (
        _weighted_counts(real, squares, grid)
        + _weighted_counts(synth, squares, grid)
        - 2.0 * _weighted_counts(np.maximum(real, synth), squares, grid)
    ) / n
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))


def _p_values(z: FloatArray, m: float) -> FloatArray:
    """Two-sided p-values of the statistics ``z``: normal, or Student with ``m`` pairs."""
    from scipy.special import ndtr, stdtr

    if np.isnan(m):
        return 2.0 * ndtr(-np.abs(z))
    return 2.0 * stdtr(m - 1.0, -np.abs(z) * np.sqrt((m - 1.0) / m))


@dataclass(frozen=True)
class PPIQuantileInterval:
    """Prediction-powered intervals for a quantile, one task per entry.

    The interval at level ``a`` holds the grid points where the two-sided
    rectified p-value of ``F̂(g) = q`` exceeds ``a`` (its smallest and
    largest); when no grid point does, it is ``(−inf, inf)``. The p-value is
    normal (``ppi_py``), or Student on ``m − 1`` degrees of freedom with the
    unbiased variance when the number ``m`` of labelled pairs is given: each
    grid point's test is a classic PPI mean (of indicators), so this is the
    correction :func:`ppi_student_factor` makes for a mean with ``k = 1``.

    Parameters
    ----------
    grids : tuple of ndarray
        Each task's grid of candidate values (increasing).
    z_scores : tuple of ndarray
        ``(F̂(g) − q) / se(g)`` at each grid point, per task.
    estimate : ndarray
        The point estimates (the grid point where ``F̂`` is closest to ``q``).
    """

    grids: tuple[FloatArray, ...] = field(repr=False)
    z_scores: tuple[FloatArray, ...] = field(repr=False)
    estimate: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimate", np.asarray(self.estimate, dtype=float))

    def interval(
        self, level: float, n_labelled: ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Smallest and largest grid point with p-value above ``level``, per task.

        Normal p-values without ``n_labelled`` (``ppi_py``); with it (one ``m``
        per task), Student p-values of ``z·sqrt((m − 1)/m)`` on ``m − 1``
        degrees of freedom, which need ``m ≥ 2`` (else the interval is infinite).
        """
        level = _checked_level(level)
        lower = np.full(len(self.grids), -np.inf)
        upper = np.full(len(self.grids), np.inf)
        counts = (
            np.full(len(self.grids), np.nan)
            if n_labelled is None
            else np.broadcast_to(np.asarray(n_labelled, dtype=float), (len(self.grids),))
        )
        for i, (grid, z) in enumerate(zip(self.grids, self.z_scores, strict=True)):
            if not np.isnan(counts[i]) and counts[i] < 2:
                continue
            kept = grid[_p_values(z, counts[i]) > level]
            if kept.size:
                lower[i], upper[i] = kept[0], kept[-1]
        return lower, upper

    def take(self, index: ArrayLike) -> PPIQuantileInterval:
        """Gather tasks along the (one-dimensional) task axis."""
        index = np.asarray(index)
        if index.ndim != 1:
            raise ValueError("PPI quantile intervals support a one-dimensional task index only")
        return PPIQuantileInterval(
            tuple(self.grids[i] for i in index),
            tuple(self.z_scores[i] for i in index),
            self.estimate[index],
        )

    @classmethod
    def stack(cls, families: list[PPIQuantileInterval]) -> PPIQuantileInterval:
        """One family with the tasks of ``families`` in order."""
        return cls(
            tuple(g for f in families for g in f.grids),
            tuple(z for f in families for z in f.z_scores),
            np.concatenate([f.estimate for f in families]),
        )


def ppi_quantile(
    labelled: ArrayLike,
    labelled_synth: ArrayLike,
    unlabelled_synth: ArrayLike,
    quantile: float,
    *,
    weights: ArrayLike | None = None,
    unlabelled_weights: ArrayLike | None = None,
    grid: str = "exact",
) -> PPIQuantileInterval:
    """The prediction-powered interval family of the ``quantile`` of one task.

    The rectified CDF ``F̂(g) = mean(wᵘ·1{Ŷᵘ ≤ g}) + mean(w·(1{Y ≤ g} − 1{Ŷ ≤ g}))``
    is tested against ``q`` at every grid point with the standard errors of its
    two terms (``ppi_py.ppi_quantile_ci``); sums over units are cumulative sums
    over sorted values, so large samples cost ``O((n + N) log(n + N))``.

    Parameters
    ----------
    labelled, labelled_synth : array_like
        Real and synthetic values of the labelled units (one-dimensional).
    unlabelled_synth : array_like
        Synthetic values of the unlabelled units.
    quantile : float
        ``q`` in ``(0, 1)``.
    weights, unlabelled_weights : array_like, optional
        Survey weights of the labelled and unlabelled units.
    grid : {"exact", "linear"}
        ``exact`` (default): every observed value (``ppi_py``'s
        ``exact_grid=True``); ``linear``: ``PPI_QUANTILE_GRID`` evenly spaced
        points over their range (``ppi_py``'s default).

    Returns
    -------
    PPIQuantileInterval
        A family of one task.
    """
    if not (0.0 < float(quantile) < 1.0):
        raise ValueError(f"the PPI quantile needs q in (0, 1), got {quantile!r}")
    if grid not in ("exact", "linear"):
        raise ValueError(f"grid must be 'exact' or 'linear', got {grid!r}")
    real, synth, unlabelled, w, w_unlabelled = _inputs(
        labelled, labelled_synth, unlabelled_synth, weights, unlabelled_weights
    )
    if real.ndim != 1 or unlabelled.ndim != 1:
        raise ValueError("the PPI quantile takes one task's values (one-dimensional arrays)")
    points = np.concatenate([real, synth, unlabelled])
    if grid == "exact":
        points = np.sort(points)
    else:
        points = np.linspace(points.min(), points.max(), PPI_QUANTILE_GRID)
    imputed, imputed_sd = _cdf_terms(unlabelled, w_unlabelled, points)
    rectifier, rectifier_sd = _rectifier_terms(real, synth, w, points)
    cdf = imputed + rectifier
    se = np.maximum(np.sqrt(imputed_sd**2 / unlabelled.size + rectifier_sd**2 / real.size), 1e-16)
    estimate = points[int(np.argmin(np.abs(cdf - quantile)))]
    return PPIQuantileInterval((points,), ((cdf - quantile) / se,), np.array([estimate]))
