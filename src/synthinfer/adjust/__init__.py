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

Three refusals keep the guarantee honest. A target whose categorical
covariate has a level no history task has stops with an error naming the
column and the level (the band would extrapolate). A full-conformal band whose
two one-sided ends cross is replaced by the union of its ends and the
unadjusted band (a superset, so still valid), with a warning naming the
target. ``task-only`` (Algorithm 5) refuses an adjusted band: its proof needs
a band that only grows when a history interval grows, and the full-conformal
ridge band can shrink (see ``docs/beyond.md``).
"""

from synthinfer.adjust._design import (
    SYNTH_ESTIMATE,
    CovariateAdjustment,
    Design,
    design_matrix,
    group_history_mask,
    history_covariates,
)
from synthinfer.adjust._full import RidgeCovariates, full_conformal_band, full_conformal_upper
from synthinfer.adjust._gap_models import (
    ADJUST_MODES,
    AdjustMode,
    BandInputs,
    FullConformalRidgeGapModel,
    SplitConformalGapModel,
    make_gap_model,
)
from synthinfer.adjust._ridge import DEFAULT_PENALTY, Regressor, RidgeRegression
from synthinfer.adjust._split import split_conformal_band

__all__ = [
    "ADJUST_MODES",
    "DEFAULT_PENALTY",
    "SYNTH_ESTIMATE",
    "AdjustMode",
    "BandInputs",
    "CovariateAdjustment",
    "Design",
    "FullConformalRidgeGapModel",
    "Regressor",
    "RidgeCovariates",
    "RidgeRegression",
    "SplitConformalGapModel",
    "design_matrix",
    "full_conformal_band",
    "full_conformal_upper",
    "group_history_mask",
    "history_covariates",
    "make_gap_model",
    "split_conformal_band",
]
