"""Planning: how many history tasks and how much data to collect.

Two questions come before any data is collected:

* **How many history tasks does a finite interval need?** The band is finite
  exactly when ``k_L = floor((T+1)·α3/2) ≥ 1``, so the minimum is the
  smallest ``T`` with ``T + 1 ≥ 2/α3`` (:func:`min_history_for`, exact; it
  takes the allocation and the number of coordinates into account).
* **How wide will the interval be?** Under a hierarchical normal model of the
  gaps, ``Δ_j ~ N(μ, τ²)`` across tasks, with per-task gap standard error
  ``s = sqrt(σ_r²/n + σ_s²/N)`` for ``n`` real and ``N`` synthetic units per
  task and synthetic standard error ``σ_s/sqrt(N)`` for the target, the
  expected width of Algorithm 1 is

  ``E[W] = 2 z_{α1/2} σ_s/√N + 2 z_{α2/2} s + sqrt(τ² + s²)·(e_{k_U,T} − e_{k_L,T})``

  where ``e_{k,T}`` is the expected ``k``-th smallest of ``T`` standard
  normals (computed by numerical integration). The three terms are
  ``W1``, ``W2`` and ``W3``. ``task-only`` uses ``z_{α2/(2T)}``;
  ``finite-sample`` keeps only ``W3`` at level ``α``.

The model parameters are stated, or fitted from a history summary table
(:func:`fit_plan_model`: ``μ`` and ``τ²`` by REML, effective per-unit
standard deviations ``σ_r``, ``σ_s`` from the table's standard errors and
sample sizes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer._validation import check_alpha, check_choice, check_count, shown
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import conformal_ranks, min_history
from synthinfer.data import summary_table
from synthinfer.tables import ReadOptions

__all__ = [
    "PLAN_METHODS",
    "PlanModel",
    "WidthPrediction",
    "expected_normal_order_statistic",
    "expected_width",
    "fit_plan_model",
    "min_groups_for",
    "min_history_for",
    "plan_table",
]

PLAN_METHODS = ("exchangeable", "task-only", "finite-sample")


def _budgets(
    alpha: float, allocation: Allocation | str, n_coords: int, method: str
) -> tuple[float, float, float]:
    """``(α1, α2, α3)`` per coordinate; ``finite-sample`` puts everything on the band."""
    per_coord = check_alpha(alpha) / check_count(n_coords, "n_coords")
    if check_choice(method, PLAN_METHODS, "planning method") == "finite-sample":
        return 0.0, 0.0, per_coord
    return Allocation.parse(allocation).split(per_coord)


def min_history_for(
    alpha: float,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    n_coords: int = 1,
    method: str = "exchangeable",
) -> int:
    """Minimum number of history tasks for a finite interval (exact).

    Parameters
    ----------
    alpha : float
        Overall miscoverage level.
    allocation : Allocation or str
        Budget split (ignored by ``finite-sample``).
    n_coords : int
        Number of coordinates ``D``; each runs at ``alpha / D``.
    method : {"exchangeable", "task-only", "finite-sample"}
        The method to plan for.

    Returns
    -------
    int
        The smallest ``T`` with ``floor((T+1)·α3/2) ≥ 1``.

    Examples
    --------
    >>> [min_history_for(a) for a in (0.05, 0.1, 0.2)]
    [57, 28, 14]
    """
    return min_history(_budgets(alpha, allocation, n_coords, method)[2])


def min_groups_for(
    alpha: float,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    n_coords: int = 1,
    method: str = "exchangeable",
    coverage: str = "cell",
) -> int:
    """Minimum number of history task groups for a finite interval with task groups (exact).

    With task groups (``task_group=``, e.g. questions broken down by region)
    the group is the exchangeable unit, so the count is of groups, whatever
    their number of cells. ``cell`` coverage puts mass ``1/(G + 1)`` on the
    new group at infinity and needs ``1/(G + 1) <= α3/2``; ``group`` coverage
    ranks ``G`` group scores and needs ``k_L >= 1``: both hold exactly when
    ``G + 1 >= 2/α3``, the count :func:`min_history_for` gives for tasks
    (at least ``2/α − 1`` groups, since ``α3 <= α``).

    Parameters
    ----------
    alpha, allocation, n_coords, method
        As in :func:`min_history_for`.
    coverage : {"cell", "group"}
        The guarantee planned for.

    Returns
    -------
    int
        The smallest number of history groups ``G`` with a finite band.

    Examples
    --------
    >>> [min_groups_for(a, method="finite-sample", coverage="group") for a in (0.1, 0.2)]
    [19, 9]
    """
    check_choice(coverage, ("cell", "group"), "coverage")
    return min_history_for(alpha, allocation, n_coords=n_coords, method=method)


@lru_cache(maxsize=4096)
def expected_normal_order_statistic(rank: int, n: int) -> float:
    """Expected ``rank``-th smallest of ``n`` independent standard normals.

    Computed as ``∫ x f_(k)(x) dx`` with the order-statistic density
    ``f_(k) = n!/((k−1)!(n−k)!) Φ^{k−1}(1−Φ)^{n−k} φ`` on a fine grid
    (absolute error below ``1e-8`` for ``n ≤ 10^4``).

    Parameters
    ----------
    rank : int
        One-based rank ``k`` in ``1..n``.
    n : int
        Sample size.

    Returns
    -------
    float
    """
    if not 1 <= rank <= n:
        raise ValueError(f"rank must lie in 1..{n}, got {rank}")
    from scipy import special, stats

    grid = np.linspace(-12.0, 12.0, 48001)
    log_density = (
        -special.betaln(rank, n - rank + 1)
        + (rank - 1) * stats.norm.logcdf(grid)
        + (n - rank) * stats.norm.logsf(grid)
        + stats.norm.logpdf(grid)
    )
    return float(np.trapezoid(grid * np.exp(log_density), grid))


@dataclass(frozen=True)
class PlanModel:
    """Hierarchical normal model of gaps across tasks.

    Attributes
    ----------
    mu : float
        Mean gap ``μ`` across tasks.
    tau : float
        Standard deviation ``τ`` of the gap across tasks.
    sigma_real, sigma_synth : float
        Effective per-unit standard deviations: a task with ``n`` real and
        ``N`` synthetic units has gap standard error
        ``sqrt(σ_r²/n + σ_s²/N)`` and synthetic standard error ``σ_s/√N``.
    """

    mu: float
    tau: float
    sigma_real: float
    sigma_synth: float

    def __post_init__(self) -> None:
        for name in ("tau", "sigma_real", "sigma_synth"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {shown(value)}")
        if not np.isfinite(float(self.mu)):
            raise ValueError(f"mu must be finite, got {shown(self.mu)}")

    def gap_se(self, n_real: float, n_synth: float) -> float:
        """Per-task gap standard error at ``n`` real and ``N`` synthetic units."""
        return float(np.sqrt(self.sigma_real**2 / n_real + self.sigma_synth**2 / n_synth))

    def to_dict(self) -> dict[str, float]:
        """The parameters as a dictionary."""
        return {k: float(v) for k, v in asdict(self).items()}


def _sizes(frame: pd.DataFrame, column: str, given: float | None) -> np.ndarray:
    if column in frame.columns:
        return frame[column].to_numpy(dtype=float)
    if given is None:
        raise ValueError(
            f"the history table has no '{column}' column; give the history's sample size "
            f"(--history-n / --history-synthetic-n, or n_real= / n_synth=)"
        )
    return np.full(len(frame), float(given))


def _reml_tau2(gaps: np.ndarray, variances: np.ndarray) -> float:
    def objective(tau2: float) -> float:
        total = variances + tau2
        weights = 1.0 / total
        mean = np.sum(weights * gaps) / np.sum(weights)
        return 0.5 * (
            np.sum(np.log(total)) + np.log(np.sum(weights)) + np.sum(weights * (gaps - mean) ** 2)
        )

    from scipy import optimize

    upper = max(float(np.var(gaps)) * 10.0, 1e-12)
    result = optimize.minimize_scalar(objective, bounds=(0.0, upper), method="bounded")
    best = float(result.x)
    return 0.0 if objective(0.0) <= objective(best) else best


def fit_plan_model(
    frame: pd.DataFrame,
    *,
    n_real: float | None = None,
    n_synth: float | None = None,
    read: ReadOptions | dict | None = None,
) -> PlanModel:
    """Fit the hierarchical normal model to a history summary table.

    Parameters
    ----------
    frame : DataFrame, path or any dataframe
        Task data in either format (a unit-level table is reduced to its
        summary, see ``TaskData.summary_table``): ``gap_estimate``, ``gap_se``, ``synth_se`` for the
        history tasks (rows without ``gap_estimate`` are targets and are
        ignored), and optionally ``n_real``, ``n_synth``.
    n_real, n_synth : float, optional
        The history's real and synthetic sample sizes per task, when the
        table has no ``n_real``/``n_synth`` columns.
    read : ReadOptions or dict, optional
        How ``frame`` is read when it is a wide score table or an evaluation
        log (see :func:`synthinfer.infer`).

    Returns
    -------
    PlanModel
        ``μ``, ``τ`` by REML (``Δ̂_j ~ N(μ, τ² + gap_se_j²)``), ``σ_s² =
        mean(synth_se²·N)`` and ``σ_r² = mean((gap_se² − σ_s²/N)·n)`` (at
        least 0), so that the model reproduces the history's standard errors.
    """
    frame = summary_table(frame, read)
    needed = [c for c in ("gap_estimate", "gap_se", "synth_se") if c not in frame.columns]
    if needed:
        raise ValueError(f"planning from a history needs column(s) {needed} in the table")
    history = frame[frame["gap_estimate"].notna()]
    if len(history) < 3:
        raise ValueError(f"planning needs at least 3 history tasks, got {len(history)}")
    gaps = history["gap_estimate"].to_numpy(dtype=float)
    gap_var = history["gap_se"].to_numpy(dtype=float) ** 2
    real_n = _sizes(history, "n_real", n_real)
    synth_n = _sizes(history, "n_synth", n_synth)
    sigma_synth2 = float(np.mean(history["synth_se"].to_numpy(dtype=float) ** 2 * synth_n))
    sigma_real2 = max(float(np.mean((gap_var - sigma_synth2 / synth_n) * real_n)), 0.0)
    tau2 = _reml_tau2(gaps, gap_var)
    weights = 1.0 / (gap_var + tau2)
    mu = float(np.sum(weights * gaps) / np.sum(weights))
    return PlanModel(
        mu, float(np.sqrt(tau2)), float(np.sqrt(sigma_real2)), float(np.sqrt(sigma_synth2))
    )


@dataclass(frozen=True)
class WidthPrediction:
    """Expected interval width (per coordinate) and its decomposition.

    Attributes
    ----------
    n_history, n_real, n_synth : int or float
        The design.
    alpha, alpha1, alpha2, alpha3 : float
        Level and per-coordinate split.
    w1, w2, w3 : float
        Expected synthetic-noise, gap-uncertainty and bias-spread widths.
    width : float
        ``w1 + w2 + w3`` (``inf`` when the band is infinite).
    feasible : bool
        Whether ``n_history`` is enough for a finite band.
    """

    n_history: int
    n_real: float
    n_synth: float
    alpha: float
    alpha1: float
    alpha2: float
    alpha3: float
    w1: float
    w2: float
    w3: float
    width: float
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        """The prediction as a dictionary."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The prediction as a one-row frame (the columns of :func:`plan_table`)."""
        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        """One readable line: the design, the expected width and its decomposition."""
        design = f"T={self.n_history}, n={self.n_real:g}, N={self.n_synth:g}, alpha={self.alpha:g}"
        if not self.feasible:
            return f"{design}: infinite (too few history tasks for alpha3={self.alpha3:g})"
        return (
            f"{design}: expected width {self.width:.4g} = w1 {self.w1:.4g} + w2 {self.w2:.4g} "
            f"+ w3 {self.w3:.4g}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def expected_width(
    model: PlanModel,
    n_history: int,
    n_real: float,
    n_synth: float,
    *,
    alpha: float = 0.1,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    method: str = "exchangeable",
    n_coords: int = 1,
) -> WidthPrediction:
    """Expected interval width under the hierarchical normal model.

    Parameters
    ----------
    model : PlanModel
        Gap model (stated or fitted with :func:`fit_plan_model`).
    n_history : int
        Number ``T`` of history tasks.
    n_real, n_synth : float
        Real units per history task and synthetic units per task (target too).
    alpha : float
        Overall level.
    allocation : Allocation or str
        Budget split.
    method : {"exchangeable", "task-only", "finite-sample"}
        The method.
    n_coords : int
        Coordinates ``D`` (each at ``alpha / D``); widths are per coordinate.

    Returns
    -------
    WidthPrediction
    """
    from scipy import stats

    if int(n_history) != n_history or n_history < 0:
        raise ValueError(f"n_history must be a non-negative integer, got {shown(n_history)}")
    if not (n_real > 0 and n_synth > 0):
        raise ValueError(
            f"sample sizes must be positive, got n={shown(n_real)}, N={shown(n_synth)}"
        )
    n_history = int(n_history)
    a1, a2, a3 = _budgets(alpha, allocation, n_coords, method)
    k_lower, k_upper = conformal_ranks(n_history, a3)
    s = model.gap_se(n_real, n_synth)
    feasible = k_lower >= 1 and k_upper <= n_history
    spread = (
        np.sqrt(model.tau**2 + s**2)
        * (
            expected_normal_order_statistic(k_upper, n_history)
            - expected_normal_order_statistic(k_lower, n_history)
        )
        if feasible
        else np.inf
    )
    if method == "finite-sample":
        w1 = w2 = 0.0
    else:
        w1 = 2.0 * stats.norm.isf(a1 / 2.0) * model.sigma_synth / np.sqrt(n_synth)
        gap_level = a2 / n_history if method == "task-only" and n_history else a2
        w2 = 2.0 * stats.norm.isf(gap_level / 2.0) * s if feasible else np.nan
    width = w1 + w2 + spread if feasible else np.inf
    return WidthPrediction(
        n_history=n_history,
        n_real=float(n_real),
        n_synth=float(n_synth),
        alpha=float(alpha),
        alpha1=a1,
        alpha2=a2,
        alpha3=a3,
        w1=float(w1),
        w2=float(w2),
        w3=float(spread),
        width=float(width),
        feasible=bool(feasible),
    )


def plan_table(
    model: PlanModel,
    n_history: Sequence[int],
    n_real: Sequence[float],
    n_synth: Sequence[float],
    *,
    alpha: float = 0.1,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    method: str = "exchangeable",
    n_coords: int = 1,
) -> pd.DataFrame:
    """Expected widths over a grid of designs, one row per (T, n, N).

    Returns
    -------
    DataFrame
        Columns ``n_history, n_real, n_synth, alpha, alpha1, alpha2, alpha3,
        w1, w2, w3, width, feasible``.
    """
    rows = [
        expected_width(
            model,
            t,
            n,
            m,
            alpha=alpha,
            allocation=allocation,
            method=method,
            n_coords=n_coords,
        ).to_dict()
        for t in n_history
        for n in n_real
        for m in n_synth
    ]
    return pd.DataFrame(rows)
