"""Gap models: the ``History.gap_model`` hook of :mod:`synthinfer.methods`.

Each model returns ``(gap_lower, gap_upper, spread)`` for one target from the
history's gap interval ends, the history's covariates and the target's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from synthinfer._validation import check_choice, check_range
from synthinfer.adjust._full import RidgeCovariates
from synthinfer.adjust._ridge import DEFAULT_PENALTY, Regressor, RidgeRegression, check_penalty
from synthinfer.adjust._split import split_conformal_band

__all__ = [
    "ADJUST_MODES",
    "AdjustMode",
    "BandInputs",
    "FullConformalRidgeGapModel",
    "SplitConformalGapModel",
    "make_gap_model",
]

FloatArray = NDArray[np.float64]

AdjustMode = Literal["full", "split"]

ADJUST_MODES = ("full", "split")
"""Names of the adjustment modes."""


class BandInputs(NamedTuple):
    """The inputs of one band, checked and shaped."""

    lower: FloatArray
    """Lower gap ends, ``(T,)``."""
    upper: FloatArray
    """Upper gap ends, ``(T,)``."""
    features: FloatArray
    """History covariates, ``(T, p)``."""
    target: FloatArray
    """Target covariates, ``(p,)``."""


def _band_inputs(
    lower: ArrayLike, upper: ArrayLike, covariates: ArrayLike, target_covariates: ArrayLike
) -> BandInputs:
    """The gap ends ``(T,)``, history covariates ``(T, p)`` and target covariates ``(p,)``."""
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
    return BandInputs(lo, hi, features, target)


class _GapModelBase:
    """:class:`synthinfer.methods.GapModel` on checked inputs: :meth:`band` shapes
    them once and leaves the band to the subclass's :meth:`fitted_band`."""

    def band(
        self,
        lower: FloatArray,
        upper: FloatArray,
        covariates: FloatArray,
        target_covariates: FloatArray,
        alpha: float,
    ) -> tuple[float, float, float]:
        """Return ``(gap_lower, gap_upper, spread)`` for one target."""
        return self.fitted_band(_band_inputs(lower, upper, covariates, target_covariates), alpha)

    def fitted_band(self, inputs: BandInputs, alpha: float) -> tuple[float, float, float]:
        """The band of :meth:`band` from checked inputs."""
        raise NotImplementedError


@dataclass(frozen=True)
class FullConformalRidgeGapModel(_GapModelBase):
    """Exact full-conformal band with ridge regression (the default ``full`` mode).

    Guarantee: for each end, ``P(Δ^U_{T+1} ≤ gap_upper) ≥ 1 − a/2`` and
    ``P(Δ^L_{T+1} ≥ gap_lower) ≥ 1 − a/2`` when tasks with their covariates
    are exchangeable, so the band holds with probability ``≥ 1 − a``; the
    calibrated interval keeps ``≥ 1 − α`` for ``exchangeable`` and
    ``finite-sample``. (``task-only`` is refused: its Bonferroni argument needs
    a band that grows with every history interval, which this one is not.)
    A band whose ends cross is replaced by its conservative superset, with a
    warning naming ``task``.

    Parameters
    ----------
    penalty : float
        Ridge penalty on the standardized slopes (fixed in advance).
    task : str
        The target, as warnings name it (e.g. ``"task 'X'"``); not compared.
    """

    penalty: float = DEFAULT_PENALTY
    task: str = field(default="", compare=False)
    _last: list[RidgeCovariates] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        check_penalty(self.penalty)

    def _covariates(self, stacked: FloatArray) -> RidgeCovariates:
        """The last band's covariates when ``stacked`` equals them bit for bit (their ridge
        fit is then reused, e.g. by the bands of one target at several levels), else new ones."""
        last = self._last[0] if self._last else None
        if last is not None and last.holds(stacked):
            return last
        covariates = RidgeCovariates(stacked, self.penalty)
        self._last[:] = [covariates]
        return covariates

    def fitted_band(self, inputs: BandInputs, alpha: float) -> tuple[float, float, float]:
        """The exact full-conformal ridge band of the target."""
        stacked = np.vstack([inputs.features, inputs.target[None, :]])
        band = self._covariates(stacked).band(inputs.lower, inputs.upper, alpha, task=self.task)
        return float(band[0]), float(band[1]), float(band[2])


@dataclass(frozen=True)
class SplitConformalGapModel(_GapModelBase):
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
        check_range(self.fit_fraction, "fit_fraction", 0.0, 1.0, low_open=True, high_open=True)

    def fitted_band(self, inputs: BandInputs, alpha: float) -> tuple[float, float, float]:
        """The split-conformal band of the target."""
        return split_conformal_band(
            inputs.lower,
            inputs.upper,
            inputs.features,
            inputs.target,
            alpha,
            model=self.model,
            fit_fraction=self.fit_fraction,
            seed=self.seed,
        )


def make_gap_model(
    mode: AdjustMode = "full",
    *,
    penalty: float = DEFAULT_PENALTY,
    model: Regressor | None = None,
    fit_fraction: float = 0.5,
    seed: int = 0,
    task: str = "",
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
    task : str
        Full mode only: the target, as a warning about a crossed band names it.

    Returns
    -------
    FullConformalRidgeGapModel or SplitConformalGapModel
    """
    mode = check_choice(mode, ADJUST_MODES, "adjustment mode ('full' or 'split')")
    if mode == "full":
        if model is not None:
            raise ValueError(
                "full mode is exact only for ridge (a linear smoother); use mode='split' "
                "to plug in another model"
            )
        return FullConformalRidgeGapModel(penalty=penalty, task=task)
    chosen = model if model is not None else RidgeRegression(penalty)
    return SplitConformalGapModel(model=chosen, fit_fraction=fit_fraction, seed=seed)
