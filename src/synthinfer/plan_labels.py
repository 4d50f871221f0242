"""Planning labels: how many labelled pairs does the target need for a width?

``plan_labels`` predicts the widths of ``ppi`` and ``hybrid`` (see
``docs/hybrid.md``) against the target's number of labelled pairs ``m`` from
a history's unit-level statistics, and returns the smallest ``m`` reaching a
requested width. The model is the one the methods themselves assume:

* per-pair differences real − synthetic have SD ``σ_d`` (pooled from the
  history's labelled pairs: ``gap_var · n_pairs`` per task);
* synthetic answers have per-unit SD ``σ_s`` (``synth_var · n_synth``);
* gaps vary across tasks with SD ``τ``, ``τ² = max(0, var(Δ̂_j) − mean(gap_var_j))``.

With ``v = σ_d²/m`` and ``B = τ²/(τ² + v)``:

* ``ppi``: ``2 t_{m−2}(1 − α/2) · sqrt(σ_s²/N + v)``: the method's default
  Student factor ``t_{m−2} sqrt(m/(m − 2))/z`` (``ppi_student_factor``) on a
  standard error whose variance divides by ``m`` (as ``ppi_py``'s does);
* ``hybrid``: with its PPI share ``ρ`` at ``m`` (``hybrid_ppi_share``: from
  ``m``, ``T``, ``α`` and the allocation), the band interval at level ``(1 − ρ)α``,
  ``2 z_{α1/2} σ_s/√N + 2 z_{α2/2} σ_d/√n + r·(e_{k_U,T} − e_{k_L,T})`` with the
  residual SD ``r² = B v + (σ_d²/n)(1 − 2B)`` (``τ² + σ_d²/n`` at ``m = 0``),
  capped by ``ppi`` at level ``ρα`` (the intersection is at most as wide as
  either interval; the prediction ignores that it is often narrower).
  ``e_{k,T}`` is the expected ``k``-th smallest of ``T`` standard normals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer._validation import check_alpha, shown
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import conformal_ranks
from synthinfer.data import TaskData
from synthinfer.intervals import ppi_student_factor
from synthinfer.methods import hybrid_ppi_share
from synthinfer.plan import expected_normal_order_statistic

__all__ = ["MAX_M", "SHOWN_M", "LabelModel", "LabelPlan", "label_widths", "plan_labels"]

SHOWN_M = (0, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
"""The ``m`` values :attr:`LabelPlan.table` shows besides the answers."""

MAX_M = 100_000
"""The largest ``m`` the search tries."""


@dataclass(frozen=True)
class LabelModel:
    """What the history says about labels: the quantities of the width formulas."""

    n_history: int
    n_pairs: float
    max_m: int
    n_synth: float
    tau: float
    sigma_label: float
    sigma_synth: float


def _label_model(data: Any, coord: str | None, n_synth: float | None) -> LabelModel:
    """The :class:`LabelModel` of a unit-level history with labelled pairs."""
    task_data = TaskData.load(data)
    if task_data.kind != "unit":
        raise ValueError(
            "plan_labels needs a unit-level table with labelled pairs (columns task, source, "
            "value and unit, real and synthetic rows sharing unit ids); a summary table has "
            "no per-pair statistics"
        )
    frame = task_data.frame
    if task_data.is_multidimensional:
        if coord is None:
            raise ValueError(
                f"the table has coordinates {list(task_data.coords)}: name one with coord="
            )
        frame = frame[frame["coord"] == coord]
    history = frame[frame["n_pairs"] >= 2]
    if len(history) < 3:
        raise ValueError(
            f"plan_labels needs at least 3 history tasks with 2 or more labelled pairs "
            f"(units with real and synthetic rows), got {len(history)}"
        )
    pairs = history["n_pairs"].to_numpy(dtype=float)
    gap_var = history["gap_var"].to_numpy(dtype=float)
    sigma_label2 = float(np.sum((pairs - 1) * gap_var * pairs) / np.sum(pairs - 1))
    gaps = history["gap_mean"].to_numpy(dtype=float)
    tau2 = max(float(np.var(gaps, ddof=1) - np.mean(gap_var)), 0.0)
    synth_n = frame["n_synth"].to_numpy(dtype=float)
    sigma_synth2 = float(np.nanmean(frame["synth_var"].to_numpy(dtype=float) * synth_n))
    targets = frame[frame["n_real"] == 0]
    default_n = np.median(targets["n_synth"] if len(targets) else history["n_synth"])
    return LabelModel(
        n_history=len(history),
        n_pairs=float(np.median(pairs)),
        max_m=int(pairs.min()),
        n_synth=float(default_n if n_synth is None else n_synth),
        tau=float(np.sqrt(tau2)),
        sigma_label=float(np.sqrt(sigma_label2)),
        sigma_synth=float(np.sqrt(sigma_synth2)),
    )


def label_widths(
    model: LabelModel,
    m: np.ndarray,
    *,
    alpha: float = 0.1,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
) -> pd.DataFrame:
    """Predicted widths of ``ppi`` and ``hybrid`` at each ``m`` (one row each).

    Returns
    -------
    DataFrame
        Columns ``m, ppi_width, hybrid_width, hybrid_band_width, shrinkage,
        ppi_share`` (``ppi_width`` infinite below 3 pairs; ``hybrid`` needs
        ``m = 0`` or ``2 ≤ m ≤ max_m``: NaN otherwise; ``ppi_share`` is
        ``hybrid``'s share ``ρ`` of :func:`synthinfer.methods.hybrid_ppi_share`).
    """
    from scipy import stats

    alpha = check_alpha(alpha)
    m = np.asarray(m, dtype=float)
    usable = (m <= model.max_m) & (m != 1)  # one pair gives no standard error
    share = _shares(model, m, usable, alpha, allocation)
    synth_var = model.sigma_synth**2 / model.n_synth
    with np.errstate(divide="ignore", invalid="ignore"):
        label_var = np.where(m > 0, model.sigma_label**2 / m, np.inf)
        se = np.sqrt(synth_var + label_var)
        # ppi_py's variance divides by m: in expectation (m − 2)/m of the true one
        se = se * np.sqrt(np.maximum(m - 2, 0) / np.maximum(m, 1))
        ppi = 2 * stats.norm.isf(alpha / 2) * ppi_student_factor(alpha, m) * se
        ppi_at_share = _ppi_at_shares(alpha * share, m, se)
    ppi = np.where(m >= 3, ppi, np.inf)
    ppi_at_share = np.where(m >= 3, ppi_at_share, np.inf)
    tau2, history_var = model.tau**2, model.sigma_label**2 / model.n_pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        shrinkage = np.where(m > 0, tau2 / (tau2 + label_var), 0.0)
        explained = np.where(m > 0, tau2 * label_var / (tau2 + label_var), tau2)
    explained = np.where(np.isfinite(explained), explained, 0.0)
    residual = np.sqrt(np.maximum(explained + history_var * (1 - 2 * shrinkage), 0.0))
    floor, spread = _band_parts_at(model, alpha * (1.0 - share), allocation)
    with np.errstate(invalid="ignore"):
        band = floor + residual * spread
    hybrid = np.where(share > 0, np.minimum(band, ppi_at_share), band)
    hybrid = np.where(usable, hybrid, np.nan)
    return pd.DataFrame(
        {
            "m": m.astype(int),
            "ppi_width": ppi,
            "hybrid_width": hybrid,
            "hybrid_band_width": np.where(usable, band, np.nan),
            "shrinkage": shrinkage,
            "ppi_share": np.where(usable, share, np.nan),
        }
    )


def _shares(
    model: LabelModel,
    m: np.ndarray,
    usable: np.ndarray,
    alpha: float,
    allocation: Allocation | str,
) -> np.ndarray:
    """``hybrid``'s PPI share at each ``m`` (:func:`synthinfer.methods.hybrid_ppi_share`)."""
    share = np.zeros(m.shape)
    for value in np.unique(m[usable & (m > 0)]):
        share[m == value] = hybrid_ppi_share(
            value, model.n_history, alpha, Allocation.parse(allocation)
        )
    return share


def _ppi_at_shares(levels: np.ndarray, m: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Widths of the Student PPI interval at each ``m``'s own level (infinite at level 0)."""
    from scipy import stats

    width = np.full(m.shape, np.inf)
    for level in np.unique(levels[levels > 0]):
        where = levels == level
        factor = ppi_student_factor(float(level), m[where])
        width[where] = 2 * stats.norm.isf(level / 2) * factor * se[where]
    return width


def _band_parts_at(
    model: LabelModel, levels: np.ndarray, allocation: Allocation | str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_band_parts` at each level (computed once per distinct level)."""
    floor, spread = np.empty(levels.shape), np.empty(levels.shape)
    for level in np.unique(levels):
        where = levels == level
        floor[where], spread[where] = _band_parts(model, float(level), allocation)
    return floor, spread


def _band_parts(
    model: LabelModel, level: float, allocation: Allocation | str
) -> tuple[float, float]:
    """The hybrid band interval at ``level``: ``w1 + w2``, and ``w3`` per unit residual SD."""
    from scipy import stats

    alpha1, alpha2, alpha3 = Allocation.parse(allocation).split(level)
    k_lower, k_upper = conformal_ranks(model.n_history, alpha3)
    if k_lower < 1 or k_upper > model.n_history:
        return np.inf, np.inf
    w1 = 2 * stats.norm.isf(alpha1 / 2) * model.sigma_synth / np.sqrt(model.n_synth)
    w2 = 2 * stats.norm.isf(alpha2 / 2) * model.sigma_label / np.sqrt(model.n_pairs)
    spread = _order_statistic(k_upper, model.n_history) - _order_statistic(k_lower, model.n_history)
    return float(w1 + w2), float(spread)


@lru_cache(maxsize=1024)
def _order_statistic(rank: int, n: int) -> float:
    """:func:`synthinfer.plan.expected_normal_order_statistic`, cached (levels share ranks)."""
    return expected_normal_order_statistic(rank, n)


@dataclass(frozen=True)
class LabelPlan:
    """How many labelled pairs the target needs for a width, by ``ppi`` and ``hybrid``.

    Attributes
    ----------
    width, alpha : float
        The requested width and level.
    m_ppi, m_hybrid : int or None
        Smallest ``m`` whose predicted width is at most ``width`` (``None``:
        not reached; for ``hybrid`` up to ``max_m``, for ``ppi`` up to
        :data:`MAX_M`). ``m_hybrid = 0`` means the history alone suffices.
    n_history, n_pairs, max_m, n_synth : int or float
        History tasks, their median labelled pairs, the fewest (``hybrid``
        needs ``m ≤ max_m``) and the target's synthetic units.
    tau, sigma_label, sigma_synth : float
        Gap SD across tasks, per-pair SD of real − synthetic, per-unit SD of
        synthetic answers (estimated from the history).
    table : DataFrame
        Predicted widths at :data:`SHOWN_M` (or the given grid) and at the answers.
    """

    width: float
    alpha: float
    m_ppi: int | None
    m_hybrid: int | None
    n_history: int
    n_pairs: float
    max_m: int
    n_synth: float
    tau: float
    sigma_label: float
    sigma_synth: float
    table: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The answers and the model, without the table."""
        out = asdict(self)
        out.pop("table")
        return out

    def to_frame(self) -> pd.DataFrame:
        """The predicted widths against ``m`` (columns of :func:`label_widths`)."""
        return self.table.copy()

    def summary(self) -> str:
        """Readable lines: the answers, then the model they come from."""

        def answer(name: str, m: int | None, limit: int) -> str:
            if m is None:
                return f"{name}: width {self.width:g} not reached with m <= {limit}"
            return f"{name}: m = {m} labelled pairs"

        return "\n".join(
            [
                f"labels for width {self.width:g} at alpha = {self.alpha:g}",
                "  " + answer("hybrid", self.m_hybrid, self.max_m),
                "  " + answer("ppi", self.m_ppi, MAX_M),
                f"  from T = {self.n_history} history tasks (median {self.n_pairs:g} pairs, "
                f"fewest {self.max_m}), N = {self.n_synth:g} synthetic units, tau = "
                f"{self.tau:.4g}, sigma_label = {self.sigma_label:.4g}, sigma_synth = "
                f"{self.sigma_synth:.4g}",
            ]
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def plan_labels(
    data: Any,
    *,
    width: float,
    alpha: float = 0.1,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
    m_grid: Sequence[int] | None = None,
    n_synth: float | None = None,
    coord: str | None = None,
) -> LabelPlan:
    """Smallest number of target labels giving ``width``, for ``hybrid`` and ``ppi``.

    Parameters
    ----------
    data : TaskData, path or dataframe
        A unit-level table whose history tasks have labelled pairs.
    width : float
        The interval width wanted (positive).
    alpha : float
        Miscoverage level.
    allocation : Allocation or str
        Budget split of ``hybrid``'s band.
    m_grid : sequence of int, optional
        The ``m`` values to search and show; default every ``m`` from 0 to
        :data:`MAX_M` searched, :data:`SHOWN_M` shown.
    n_synth : float, optional
        The target's synthetic units; default the median over targets in
        ``data`` (over history tasks when it has none).
    coord : str, optional
        The coordinate, for a table with ``coord``.

    Returns
    -------
    LabelPlan

    Examples
    --------
    >>> plan = plan_labels("history.csv", width=0.2)  # doctest: +SKIP
    >>> print(plan.m_hybrid, plan.m_ppi)  # doctest: +SKIP
    """
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"width must be a positive number, got {shown(width)}")
    alpha = check_alpha(alpha)
    model = _label_model(data, coord, n_synth)
    if m_grid is None:
        searched = np.arange(0, MAX_M + 1)
    else:
        searched = np.unique(np.asarray(list(m_grid), dtype=int))
        if searched.size == 0 or searched.min() < 0:
            raise ValueError(f"m_grid must be non-negative integers, got {shown(m_grid)}")
    widths = label_widths(model, searched, alpha=alpha, allocation=allocation)
    m_ppi = _first(widths, "ppi_width", width)
    m_hybrid = _first(widths, "hybrid_width", width)
    shown_m = set(SHOWN_M if m_grid is None else searched) | {m_ppi, m_hybrid} - {None}
    table = widths[widths["m"].isin(shown_m)].reset_index(drop=True)
    return LabelPlan(
        width=float(width),
        alpha=alpha,
        m_ppi=m_ppi,
        m_hybrid=m_hybrid,
        table=table,
        **asdict(model),
    )


def _first(widths: pd.DataFrame, column: str, width: float) -> int | None:
    """The smallest ``m`` whose ``column`` is at most ``width``, or ``None``."""
    reached = widths["m"][widths[column].to_numpy() <= width]
    return int(reached.iloc[0]) if len(reached) else None
