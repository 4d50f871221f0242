"""Covariate-adjusted and group-conditional calibration of the gap band.

The plain band of Algorithm 1 treats the gap ``Δ_j = θ_j − θ~_j`` of every
historical task as a draw from one distribution, so its width ``W3`` is the
whole spread of the bias across tasks. When the bias depends on things known
for the target too (task attributes, the target's own synthetic estimate),
a band centred at the target's *predicted* gap can be much narrower and keep
an exact finite-sample guarantee, provided tasks **together with their
covariates** are exchangeable.

Two modes are offered; both return ``(gap_lower, gap_upper, spread)`` for one
target and plug into :class:`synthinfer.methods.History` as ``gap_model``.

``full`` (default, :class:`FullConformalRidgeGapModel`)
    One-sided full conformal prediction with ridge regression, for each end
    of the band separately. For the upper end, the target's unknown upper gap
    end ``y`` is appended to the ``T`` historical upper ends, a ridge fit is
    made on all ``T + 1`` tasks, and ``y`` is kept when the target's signed
    residual is at most the ``k_U``-th smallest of the ``T + 1`` residuals
    (``k_U = ceil((T+1)(1 − a/2))``). Residuals are affine in ``y``, so the
    set of kept ``y`` is computed exactly from ``T`` crossing points; the
    band's upper end is its supremum (``+inf`` when unbounded). Because the
    ridge fit is a symmetric function of the ``T + 1`` tasks, the residuals at
    the true value are exchangeable and ``P(Δ^U_{T+1} ≤ upper) ≥ 1 − a/2``;
    the lower end is symmetric, so the band covers with probability at least
    ``1 − a``. This uses every history task. Exactness needs a model whose
    fit is linear in the responses (a linear smoother), hence ridge.
    With no covariates it reproduces ``Qlo``/``Qhi`` exactly.

``split`` (:class:`SplitConformalGapModel`)
    Fit any model with ``fit(X, y)``/``predict(X)`` on a seeded split of the
    history tasks (the gap-interval midpoints as response), then apply
    ``Qlo``/``Qhi`` to the residual interval ends of the other tasks:
    ``f(x) + [Qlo_a(lower − f(X)), Qhi_a(upper − f(X))]``. Exact under
    exchangeability conditionally on the fitting tasks, with only the
    calibration tasks counting towards the minimum history size.

Standardization of covariates uses the ``T + 1`` rows of history and target
together (a symmetric function of the tasks), the intercept is not penalized
and the penalty is fixed in advance: choosing it from the gaps would break
the exact guarantee.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from synthinfer.conformal import conformal_lower, conformal_ranks, conformal_upper

__all__ = [
    "SYNTH_ESTIMATE",
    "Design",
    "FullConformalRidgeGapModel",
    "Regressor",
    "RidgeRegression",
    "SplitConformalGapModel",
    "design_matrix",
    "full_conformal_band",
    "full_conformal_upper",
    "group_history_mask",
    "group_subsets",
    "history_covariates",
    "make_gap_model",
    "split_conformal_band",
]

FloatArray = NDArray[np.float64]

SYNTH_ESTIMATE = "synth_estimate"
"""Covariate name for the task's synthetic estimate (known for the target too)."""

DEFAULT_PENALTY = 1.0
_DEGENERATE = 1e-12


# ---------------------------------------------------------------------------
# Design matrices
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """A numeric design matrix built from task attributes.

    Attributes
    ----------
    matrix : ndarray
        Shape ``(n_tasks, p)``: one-hot columns (first level dropped) for
        categorical attributes, numeric attributes as they are. No intercept
        and no standardization (the gap models add and do both).
    names : tuple of str
        Column names, ``"role=opp"`` for a one-hot column.
    columns : tuple of str
        The attributes the design was built from.
    """

    matrix: FloatArray
    names: tuple[str, ...]
    columns: tuple[str, ...]


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def design_matrix(frame: pd.DataFrame, columns: Sequence[str] | str) -> Design:
    """Build the covariate design of all tasks (history and targets together).

    Build it once over every task so that one-hot levels agree between
    history and targets; slice rows afterwards.

    Parameters
    ----------
    frame : DataFrame
        One row per task, with the attribute columns (``synth_estimate`` is a
        numeric column of the per-task summary table).
    columns : sequence of str or str
        Attribute names, or one comma-separated string such as
        ``"synth_estimate,role"``. Non-numeric (or boolean) columns are
        categorical.

    Returns
    -------
    Design

    Examples
    --------
    >>> frame = pd.DataFrame({"role": ["co", "opp", "co"], "synth_estimate": [0.2, 0.5, 0.9]})
    >>> design_matrix(frame, "synth_estimate,role").names
    ('synth_estimate', 'role=opp')
    """
    names_in = _parse_columns(columns)
    if not names_in:
        raise ValueError("give at least one covariate column, e.g. --adjust synth_estimate")
    missing = [c for c in names_in if c not in frame.columns]
    if missing:
        raise ValueError(
            f"covariate column(s) {missing} not in the table; available columns: "
            f"{sorted(map(str, frame.columns))}"
        )
    blocks: list[FloatArray] = []
    names: list[str] = []
    for column in names_in:
        series = frame[column]
        if series.isna().any():
            raise ValueError(
                f"covariate column '{column}' has {int(series.isna().sum())} missing value(s); "
                f"fill them or drop those tasks"
            )
        if _is_categorical(series):
            levels = sorted(pd.unique(series.astype(str)))
            values = series.astype(str).to_numpy()
            for level in levels[1:]:
                blocks.append((values == level).astype(float)[:, None])
                names.append(f"{column}={level}")
        else:
            values = series.to_numpy(dtype=float)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"covariate column '{column}' has non-finite values")
            blocks.append(values[:, None])
            names.append(column)
    matrix = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return Design(matrix=matrix, names=tuple(names), columns=tuple(names_in))


def _parse_columns(columns: Sequence[str] | str) -> list[str]:
    if isinstance(columns, str):
        columns = [columns]
    out: list[str] = []
    for item in columns:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out


def group_history_mask(groups_history: ArrayLike, group_target: Any) -> NDArray[np.bool_]:
    """Which history tasks share the target's group (group-conditional calibration).

    Parameters
    ----------
    groups_history : array_like
        Group label of each history task.
    group_target : scalar
        The target's group label.

    Returns
    -------
    ndarray of bool
        ``True`` for history tasks in the target's group. Calibrating on them
        is exact when tasks are exchangeable within groups; too few of them
        give an infinite band (never a fallback to the whole history).
    """
    labels = np.asarray(groups_history, dtype=object)
    return np.array([label == group_target for label in labels], dtype=bool)


def group_subsets(
    arrays: dict[str, NDArray], groups: ArrayLike
) -> Iterator[tuple[NDArray[np.intp], dict[str, NDArray]]]:
    """Restrict each replication's history to the target's group, batched by group size.

    Monte Carlo studies keep tasks on the last axis with the target last
    (shape ``(R, T + 1)``). Replications whose target group has the same
    number of history members are gathered together, so one vectorized call
    of the core per distinct size calibrates them all.

    Parameters
    ----------
    arrays : dict of ndarray
        Per-task arrays of shape ``(R, T + 1)`` (target in the last column).
    groups : array_like
        Group labels, shape ``(R, T + 1)``.

    Yields
    ------
    replications : ndarray of int
        Indices of the replications in this batch.
    subset : dict of ndarray
        The arrays restricted to each replication's same-group history
        (in their original order) followed by the target.
    """
    labels = np.asarray(groups)
    same = labels[:, :-1] == labels[:, -1:]
    sizes = same.sum(axis=1)
    order = np.argsort(~same, axis=1, kind="stable")
    for size in np.unique(sizes):
        replications = np.flatnonzero(sizes == size)
        pick = order[replications, :size]
        yield (
            replications,
            {
                name: np.concatenate(
                    [
                        np.take_along_axis(values[replications, :-1], pick, 1),
                        values[replications, -1:],
                    ],
                    axis=1,
                )
                for name, values in arrays.items()
            },
        )


# ---------------------------------------------------------------------------
# Ridge regression (batched over leading axes)
# ---------------------------------------------------------------------------


def _standardize(covariates: FloatArray) -> FloatArray:
    """Centre and scale columns over the task axis (-2); constant columns become 0."""
    mean = covariates.mean(axis=-2, keepdims=True)
    scale = covariates.std(axis=-2, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    return np.where(scale > 0, (covariates - mean) / safe, 0.0)


def _with_intercept(standardized: FloatArray) -> FloatArray:
    ones = np.ones((*standardized.shape[:-1], 1))
    return np.concatenate([ones, standardized], axis=-1)


def _penalty_matrix(n_columns: int, penalty: float) -> FloatArray:
    diagonal = np.full(n_columns, float(penalty))
    diagonal[0] = 0.0
    return np.diag(diagonal)


def _check_penalty(penalty: float) -> float:
    penalty = float(penalty)
    if not np.isfinite(penalty) or penalty < 0:
        raise ValueError(f"ridge penalty must be a finite number >= 0, got {penalty!r}")
    return penalty


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
        self.penalty = _check_penalty(penalty)
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
        design = _with_intercept((covariates - self._mean) / self._scale)
        gram = design.T @ design + _penalty_matrix(design.shape[1], self.penalty)
        self.coef_ = np.linalg.lstsq(gram, design.T @ response, rcond=None)[0]
        return self

    def predict(self, X: ArrayLike) -> FloatArray:
        """Predict responses for covariates ``X`` (m, p)."""
        if self.coef_ is None or self._mean is None or self._scale is None:
            raise ValueError("call fit(X, y) before predict(X)")
        covariates = np.asarray(X, dtype=float).reshape(-1, self._mean.shape[0])
        return _with_intercept((covariates - self._mean) / self._scale) @ self.coef_


# ---------------------------------------------------------------------------
# Full conformal (exact, ridge)
# ---------------------------------------------------------------------------


def _affine_residuals(
    responses: FloatArray, covariates: FloatArray, penalty: float
) -> tuple[FloatArray, FloatArray]:
    """Residuals of the ridge fit on ``T + 1`` tasks as ``a + b·y`` (``y`` = target response).

    ``responses`` has shape ``(..., T)``; ``covariates`` ``(..., T+1, p)`` with
    the target in the last row. Returns ``a`` and ``b`` of shape ``(..., T+1)``.
    """
    design = _with_intercept(_standardize(covariates))
    n_tasks = design.shape[-2]
    gram = np.swapaxes(design, -1, -2) @ design + _penalty_matrix(design.shape[-1], penalty)
    padded = np.concatenate([responses, np.zeros((*responses.shape[:-1], 1))], axis=-1)
    rhs = np.stack(
        [
            np.einsum("...np,...n->...p", design, padded),
            design[..., -1, :],
        ],
        axis=-1,
    )
    solution = np.linalg.pinv(gram) @ rhs if penalty == 0 else np.linalg.solve(gram, rhs)
    fitted = design @ solution  # (..., T+1, 2): fit at y = 0 and hat-matrix column
    a = padded - fitted[..., 0]
    unit = np.zeros(n_tasks)
    unit[-1] = 1.0
    b = unit - fitted[..., 1]
    return a, b


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
    # count at each crossing point t_i: the crossing indicators are strict, so 0 at t_i itself
    t_i = threshold[..., :, None]
    t_j = threshold[..., None, :]
    counts = (
        (positive[..., None, :] & (t_i > t_j)).sum(axis=-1)
        + (negative[..., None, :] & (t_i < t_j)).sum(axis=-1)
        + always[..., None]
    )
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
    counts: FloatArray,
    valid_point: NDArray[np.bool_],
    count_at_inf: FloatArray,
    count_at_minus_inf: FloatArray,
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
    values = np.asarray(responses, dtype=float)
    design = np.asarray(covariates, dtype=float)
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
    a, b = _affine_residuals(values, design, _check_penalty(penalty))
    return _upper_from_affine(a, b, k_upper)


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
        gap midpoints (the ``w3`` part of the width).
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    band_hi = full_conformal_upper(hi, covariates, alpha, penalty=penalty)
    band_lo = -full_conformal_upper(-lo, covariates, alpha, penalty=penalty)
    mid = (lo + hi) / 2.0
    if np.array_equal(lo, hi):
        spread = band_hi - band_lo
    else:
        spread = full_conformal_upper(mid, covariates, alpha, penalty=penalty) + (
            full_conformal_upper(-mid, covariates, alpha, penalty=penalty)
        )
    return band_lo, band_hi, spread


# ---------------------------------------------------------------------------
# Split conformal (any model)
# ---------------------------------------------------------------------------


def _split_indices(n_history: int, fit_fraction: float, seed: int) -> tuple[NDArray, NDArray]:
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
    fit, cal = _split_indices(lo.shape[0], fit_fraction, seed)
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


# ---------------------------------------------------------------------------
# Gap models (the History.gap_model hook)
# ---------------------------------------------------------------------------


def _check_band_inputs(
    lower: ArrayLike, upper: ArrayLike, covariates: ArrayLike, target_covariates: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    lo = np.asarray(lower, dtype=float).reshape(-1)
    hi = np.asarray(upper, dtype=float).reshape(-1)
    features = np.asarray(covariates, dtype=float)
    features = features.reshape(lo.shape[0], -1) if features.size else np.empty((lo.shape[0], 0))
    target = np.asarray(target_covariates, dtype=float).reshape(-1)
    if features.shape[1] != target.shape[0]:
        raise ValueError(
            f"history covariates have {features.shape[1]} columns but the target's have "
            f"{target.shape[0]}; build both with one design_matrix call"
        )
    return lo, hi, features, target


@dataclass(frozen=True)
class FullConformalRidgeGapModel:
    """Exact full-conformal band with ridge regression (the default ``full`` mode).

    Guarantee: for each end, ``P(Δ^U_{T+1} ≤ gap_upper) ≥ 1 − a/2`` and
    ``P(Δ^L_{T+1} ≥ gap_lower) ≥ 1 − a/2`` when tasks with their covariates
    are exchangeable, so the band holds with probability ``≥ 1 − a``; the
    calibrated interval keeps ``≥ 1 − α`` for ``exchangeable``, ``task-only``
    and ``finite-sample``.

    Parameters
    ----------
    penalty : float
        Ridge penalty on the standardized slopes (fixed in advance).
    """

    penalty: float = DEFAULT_PENALTY

    def __post_init__(self) -> None:
        _check_penalty(self.penalty)

    def band(
        self,
        lower: FloatArray,
        upper: FloatArray,
        covariates: FloatArray,
        target_covariates: FloatArray,
        alpha: float,
    ) -> tuple[float, float, float]:
        """Return ``(gap_lower, gap_upper, spread)`` for one target."""
        lo, hi, features, target = _check_band_inputs(lower, upper, covariates, target_covariates)
        stacked = np.vstack([features, target[None, :]])
        band = full_conformal_band(lo, hi, stacked, alpha, penalty=self.penalty)
        return float(band[0]), float(band[1]), float(band[2])


@dataclass(frozen=True)
class SplitConformalGapModel:
    """Split-conformal band with a pluggable model (the ``split`` mode).

    Guarantee: ``≥ 1 − a`` for the band under exchangeability of the
    calibration tasks and the target (conditionally on the fitting tasks);
    the minimum history size applies to the calibration tasks only.

    Parameters
    ----------
    model : Regressor, optional
        Any ``fit(X, y)``/``predict(X)`` object; default ridge.
    fit_fraction : float
        Share of history tasks used for fitting.
    seed : int
        Seed of the split.
    """

    model: Regressor | None = None
    fit_fraction: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < float(self.fit_fraction) < 1.0:
            raise ValueError(f"fit_fraction must lie in (0, 1), got {self.fit_fraction!r}")

    def band(
        self,
        lower: FloatArray,
        upper: FloatArray,
        covariates: FloatArray,
        target_covariates: FloatArray,
        alpha: float,
    ) -> tuple[float, float, float]:
        """Return ``(gap_lower, gap_upper, spread)`` for one target."""
        lo, hi, features, target = _check_band_inputs(lower, upper, covariates, target_covariates)
        return split_conformal_band(
            lo,
            hi,
            features,
            target,
            alpha,
            model=self.model,
            fit_fraction=self.fit_fraction,
            seed=self.seed,
        )


AdjustMode = Literal["full", "split"]


def make_gap_model(
    mode: AdjustMode = "full",
    *,
    penalty: float = DEFAULT_PENALTY,
    model: Regressor | None = None,
    fit_fraction: float = 0.5,
    seed: int = 0,
) -> FullConformalRidgeGapModel | SplitConformalGapModel:
    """Build the gap model for ``--adjust``.

    Parameters
    ----------
    mode : {"full", "split"}
        ``full``: exact full conformal with ridge (uses every history task).
        ``split``: split conformal with any model.
    penalty : float
        Ridge penalty (both modes when ``model`` is not given).
    model : Regressor, optional
        Split mode only: the model to fit.
    fit_fraction : float
        Split mode only: share of history tasks used to fit.
    seed : int
        Split mode only: seed of the split.

    Returns
    -------
    FullConformalRidgeGapModel or SplitConformalGapModel
    """
    if mode == "full":
        if model is not None:
            raise ValueError(
                "full mode is exact only for ridge (a linear smoother); use mode='split' "
                "to plug in another model"
            )
        return FullConformalRidgeGapModel(penalty=penalty)
    if mode == "split":
        chosen = model if model is not None else RidgeRegression(penalty)
        return SplitConformalGapModel(model=chosen, fit_fraction=fit_fraction, seed=seed)
    raise ValueError(f"adjustment mode must be 'full' or 'split', got {mode!r}")


def history_covariates(
    attributes: pd.DataFrame,
    stats: Any,
    target: str,
    history: Sequence[str],
    *,
    columns: Sequence[str] | str,
    mode: AdjustMode = "full",
    seed: int | None = None,
    penalty: float = DEFAULT_PENALTY,
) -> dict[str, Any]:
    """The ``History`` fields of an adjusted band for one target and coordinate.

    Parameters
    ----------
    attributes : DataFrame
        Task attributes indexed by task id.
    stats : TaskStatistics
        Per-coordinate statistics (``tasks``, ``synth.estimate``,
        ``index_of``); ``synth_estimate`` is read from them, so it is the
        coordinate's synthetic estimate of each task.
    target : str
        Target task id.
    history : sequence of str
        History task ids.
    columns : sequence of str or str
        Covariates (attributes and/or ``synth_estimate``).
    mode : {"full", "split"}
        Adjustment mode.
    seed : int, optional
        Seed of the split (split mode; default 0).
    penalty : float
        Ridge penalty.

    Returns
    -------
    dict
        ``covariates`` (T, p), ``target_covariates`` (1, p) and ``gap_model``,
        ready for ``History(**fields)``.
    """
    names = _parse_columns(columns)
    tasks = list(np.asarray(stats.tasks))
    others = [c for c in names if c != SYNTH_ESTIMATE]
    missing = [c for c in others if c not in attributes.columns]
    if missing:
        raise ValueError(
            f"--adjust column(s) {missing} are not task attributes; available: "
            f"{[*sorted(map(str, attributes.columns)), SYNTH_ESTIMATE]}"
        )
    frame = attributes.reindex(tasks)[others].reset_index(drop=True)
    if SYNTH_ESTIMATE in names:
        frame[SYNTH_ESTIMATE] = np.asarray(stats.synth.estimate, dtype=float).reshape(-1)
    matrix = design_matrix(frame, names).matrix
    return {
        "covariates": matrix[np.asarray(stats.index_of(list(history)))],
        "target_covariates": matrix[np.asarray(stats.index_of([target]))],
        "gap_model": make_gap_model(mode, penalty=penalty, seed=0 if seed is None else seed),
    }
