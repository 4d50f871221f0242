"""Forest plots of calibrated intervals and gap plots of the history.

matplotlib is an optional dependency (``pip install 'synthinfer[plot]'``); it
is imported only when a plot is drawn.

A forest plot has one row per task: the calibrated interval (for instance
``exchangeable``) and the synthetic-only interval side by side, the synthetic
point estimate, and the truth when it is known (backtests and simulations).
Intervals that miss the truth are drawn hollow, so coverage can be read at a
glance; the legend counts them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthinfer.diagnose import history_summary

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "figure_image",
    "forest_figure",
    "forest_plot",
    "gap_plot",
    "plot_diagnostics",
    "plot_plan",
    "select_rows",
]

CALIBRATED_COLOR = "#1f5fa8"
BASELINE_COLOR = "#d9822b"
TRUTH_COLOR = "black"
_ROW_INCHES = 0.16
_OFFSET = 0.17


def _pyplot():
    """Import matplotlib's pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: install it with pip install 'synthinfer[plot]'"
        ) from error
    return plt


def _label_column(results: pd.DataFrame) -> str:
    for column in ("task", "rep"):
        if column in results.columns:
            return column
    raise ValueError("a results table needs a 'task' (or 'rep') column to plot one row per task")


def _check_columns(results: pd.DataFrame) -> None:
    missing = [c for c in ("method", "alpha", "lower", "upper") if c not in results.columns]
    if missing:
        raise ValueError(
            f"results table lacks column(s) {missing}; plot a file written by "
            f"'synthinfer infer', 'backtest', 'simulate --per-rep' or 'reproduce'"
        )


def default_method(results: pd.DataFrame, baseline: str | None) -> str:
    """The first method in the table that is not the baseline."""
    methods = [m for m in pd.unique(results["method"]) if m != baseline]
    if not methods:
        raise ValueError(
            f"results table has no method other than the baseline {baseline!r} to plot"
        )
    return str(methods[0])


def select_rows(
    results: pd.DataFrame,
    method: str,
    *,
    alpha: float | None = None,
    coord: str | None = None,
) -> pd.DataFrame:
    """Rows of one method at one level (and one coordinate), indexed by task.

    Parameters
    ----------
    results : pandas.DataFrame
        Results with ``task`` (or ``rep``), ``method``, ``alpha``, ``lower``, ``upper``.
    method : str
        Method to keep.
    alpha : float, optional
        Level to keep; default the smallest in the table.
    coord : str, optional
        Coordinate to keep (tables with a ``coord`` column).

    Returns
    -------
    pandas.DataFrame
    """
    _check_columns(results)
    label = _label_column(results)
    rows = results[results["method"] == method]
    if rows.empty:
        known = sorted(map(str, pd.unique(results["method"])))
        raise ValueError(f"method {method!r} is not in the results table; it has {known}")
    level = float(rows["alpha"].min()) if alpha is None else float(alpha)
    rows = rows[np.isclose(rows["alpha"].astype(float), level)]
    if rows.empty:
        levels = sorted(pd.unique(results.loc[results["method"] == method, "alpha"]))
        raise ValueError(f"alpha {level:g} is not in the results for {method!r}; it has {levels}")
    if coord is not None:
        if "coord" not in rows.columns:
            raise ValueError(f"coord {coord!r} asked for, but the table has no 'coord' column")
        rows = rows[rows["coord"].astype(str) == str(coord)]
        if rows.empty:
            raise ValueError(f"coord {coord!r} is not in the results for {method!r}")
    elif "coord" in rows.columns and rows["coord"].nunique(dropna=False) > 1:
        coords = sorted(map(str, pd.unique(rows["coord"])))
        raise ValueError(f"the table has several coordinates {coords}; choose one with coord=")
    return rows.drop_duplicates(label).set_index(label)


def _clip(values: np.ndarray, bounds: Sequence[float] | None) -> np.ndarray:
    return values if bounds is None else np.clip(values, bounds[0], bounds[1])


def _covered(rows: pd.DataFrame) -> np.ndarray | None:
    if "truth" not in rows.columns:
        return None
    truth = rows["truth"].to_numpy(dtype=float)
    return (rows["lower"].to_numpy(dtype=float) <= truth) & (
        truth <= rows["upper"].to_numpy(dtype=float)
    )


def _draw_intervals(
    ax: Axes,
    rows: pd.DataFrame,
    y: np.ndarray,
    limits: tuple[float, float],
    *,
    color: str,
    linewidth: float,
    label: str,
    bounds: Sequence[float] | None,
) -> None:
    """Interval bars (dashed where they miss the truth) with arrows at unbounded ends.

    An end is unbounded when it is infinite, lies beyond the axis, or belongs
    to an infeasible (infinite) interval that was clipped to ``bounds``.
    """
    raw_lower = rows["lower"].to_numpy(dtype=float)
    raw_upper = rows["upper"].to_numpy(dtype=float)
    covered = _covered(rows)
    lower, upper = _clip(raw_lower, bounds), _clip(raw_upper, bounds)
    drawn_lower = np.clip(lower, *limits)
    drawn_upper = np.clip(upper, *limits)
    hits = np.ones(len(rows), dtype=bool) if covered is None else covered
    ax.hlines(y[hits], drawn_lower[hits], drawn_upper[hits], color=color, lw=linewidth)
    if (~hits).any():
        ax.hlines(
            y[~hits],
            drawn_lower[~hits],
            drawn_upper[~hits],
            color=color,
            lw=linewidth * 0.55,
            linestyles=(0, (2.0, 1.2)),
        )
    infinite = ~np.isfinite(raw_lower) | ~np.isfinite(raw_upper)
    if "feasible" in rows.columns:
        infinite |= ~rows["feasible"].astype(bool).to_numpy()
    at_low = bounds is not None and infinite & (lower <= bounds[0])
    at_high = bounds is not None and infinite & (upper >= bounds[1])
    left = ~np.isfinite(raw_lower) | (lower < limits[0]) | at_low
    right = ~np.isfinite(raw_upper) | (upper > limits[1]) | at_high
    ax.plot(drawn_lower[left], y[left], marker="<", ls="none", color=color, ms=4)
    ax.plot(drawn_upper[right], y[right], marker=">", ls="none", color=color, ms=4)
    _mark(ax, rows, "estimate", y, marker="o", ms=2.2, color=color, alpha=0.9)
    ax.plot([], [], color=color, lw=linewidth, label=_legend_label(label, covered, infinite))


def _legend_label(label: str, covered: np.ndarray | None, infinite: np.ndarray) -> str:
    """``method: covers k/n`` over the finite intervals, and ``m infinite`` beside it.

    An infinite interval (``feasible`` false, even when clipped to bounds)
    is not counted as covering: it says nothing about calibration.
    """
    parts = []
    if covered is not None and (~infinite).any():
        finite = ~infinite
        parts.append(f"covers {int(covered[finite].sum())}/{int(finite.sum())}")
    if infinite.any():
        parts.append(f"{int(infinite.sum())} infinite")
    return f"{label}: {', '.join(parts)}" if parts else label


def _mark(ax: Axes, rows: pd.DataFrame, column: str, y: np.ndarray, **style: Any) -> None:
    """A marker at each row's ``column`` value, when the table has that column."""
    if column in rows.columns:
        ax.plot(rows[column].to_numpy(dtype=float), y, ls="none", **style)


def _limits(frames: Sequence[pd.DataFrame], bounds: Sequence[float] | None) -> tuple[float, float]:
    """The data's range (clipped to ``bounds``), padded by 4%."""
    values = np.concatenate(
        [np.concatenate([f["lower"].to_numpy(float), f["upper"].to_numpy(float)]) for f in frames]
        + [f["truth"].to_numpy(float) for f in frames if "truth" in f.columns]
    )
    finite = _clip(values[np.isfinite(values)], bounds)
    if bounds is not None:
        finite = np.concatenate([finite, [b for b in bounds if not np.isfinite(values).all()]])
    if finite.size == 0:
        return (-1.0, 1.0) if bounds is None else (float(bounds[0]), float(bounds[1]))
    low, high = float(finite.min()), float(finite.max())
    pad = 0.04 * (high - low) if high > low else 0.5
    return low - pad, high + pad


def forest_plot(
    results: pd.DataFrame,
    *,
    ax: Axes | None = None,
    method: str | None = None,
    baseline: str | None = "synthetic-only",
    alpha: float | None = None,
    coord: str | None = None,
    bounds: Sequence[float] | None = None,
    sort: str = "truth",
    title: str | None = None,
    max_tasks: int | None = None,
    xlabel: str = "estimand",
) -> Axes:
    """Forest plot: one row per task, calibrated and baseline intervals side by side.

    Parameters
    ----------
    results : pandas.DataFrame
        Per-task results (``infer``, ``backtest``, ``simulate --per-rep`` or
        ``reproduce`` output): ``task`` (or ``rep``), ``method``, ``alpha``,
        ``lower``, ``upper``, and optionally ``estimate``, ``coord``, ``truth``.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure sized for the number of tasks by default.
    method : str, optional
        Calibrated method to show; default the first non-baseline method.
    baseline : str or None
        Method drawn beside it (``None`` for none).
    alpha : float, optional
        Level; default the smallest in the table.
    coord : str, optional
        Coordinate to show (required when the table has several).
    bounds : (float, float), optional
        Clip intervals and the axis to this range (e.g. ``(0, 1)``).
    sort : {"truth", "estimate", "none"}
        Row order: by truth when known (else by estimate), by estimate, or as given.
    title : str, optional
        Axes title; default names the method and level.
    max_tasks : int, optional
        Show only the first ``max_tasks`` tasks (in table order).
    xlabel : str
        Label of the horizontal axis (e.g. ``"approval rate"``).

    Returns
    -------
    matplotlib Axes
    """
    if sort not in ("truth", "estimate", "none"):
        raise ValueError(f"sort must be 'truth', 'estimate' or 'none', got {sort!r}")
    if bounds is not None and not float(bounds[0]) < float(bounds[1]):
        raise ValueError(f"bounds must be (LO, HI) with LO < HI, got {bounds!r}")
    _check_columns(results)
    method = default_method(results, baseline) if method is None else method
    main = select_rows(results, method, alpha=alpha, coord=coord)
    level = float(main["alpha"].iloc[0])
    if max_tasks is not None:
        main = main.iloc[: int(max_tasks)]
    frames = [main]
    base = None
    if baseline is not None and baseline in set(results["method"]):
        base = select_rows(results, baseline, alpha=level, coord=coord).reindex(main.index)
        frames.append(base.dropna(subset=["lower", "upper"]))
    main = _ordered(main, sort)
    if base is not None:
        base = base.reindex(main.index)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, _ROW_INCHES * len(main) + 1.4), layout="constrained")
    limits = _limits(frames, bounds)
    y = np.arange(len(main), dtype=float)[::-1]
    heavy = 2.4 if len(main) <= 60 else 1.6
    _draw_intervals(
        ax,
        main,
        y + (_OFFSET if base is not None else 0.0),
        limits,
        color=CALIBRATED_COLOR,
        linewidth=heavy,
        label=method,
        bounds=bounds,
    )
    if base is not None:
        _draw_intervals(
            ax,
            base,
            y - _OFFSET,
            limits,
            color=BASELINE_COLOR,
            linewidth=heavy * 0.7,
            label=baseline or "",
            bounds=bounds,
        )
    _mark(ax, main, "truth", y, marker="D", ms=2.8, color=TRUTH_COLOR, label="truth")
    _style_axes(ax, main, y, limits, title or _title(method, level, coord))
    ax.set_xlabel(xlabel)
    if main.index.name == "rep":
        ax.set_ylabel("replication", fontsize=8)
    return ax


def _ordered(rows: pd.DataFrame, sort: str) -> pd.DataFrame:
    if sort == "none":
        return rows
    key = "truth" if sort == "truth" and "truth" in rows.columns else "estimate"
    if key not in rows.columns:
        return rows
    return rows.sort_values(key, kind="stable")


def _title(method: str, level: float, coord: str | None) -> str:
    text = f"{method} at α = {level:g} ({100 * (1 - level):g}% intervals)"
    return text if coord is None else f"{text}, {coord}"


def _style_axes(
    ax: Axes, rows: pd.DataFrame, y: np.ndarray, limits: tuple[float, float], title: str
) -> None:
    count = len(rows)
    fontsize = 7.5 if count <= 40 else (6.0 if count <= 80 else 4.8)
    ax.set_yticks(y)
    ax.set_yticklabels([str(label) for label in rows.index], fontsize=fontsize)
    ax.set_ylim(-0.8, count - 0.2)
    ax.set_xlim(*limits)
    ax.grid(axis="x", color="0.88", lw=0.6)
    ax.set_axisbelow(True)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_title(title, fontsize=10, pad=16)
    ax.legend(
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        fontsize=7,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
    )


def forest_figure(results: pd.DataFrame, *, title: str | None = None, **options: Any) -> Figure:
    """A figure with one forest plot per coordinate (one panel without coordinates).

    Parameters
    ----------
    results : pandas.DataFrame
        Per-task results (see :func:`forest_plot`).
    title : str, optional
        Figure title.
    **options
        Keyword arguments of :func:`forest_plot` for every panel (``method``,
        ``baseline``, ``alpha``, ``bounds``, ``sort``, ``max_tasks``, ``xlabel``).

    Returns
    -------
    matplotlib Figure
        Sized to the rows of its panels.
    """
    _check_columns(results)
    coords: list[Any] = [None]
    if "coord" in results.columns and results["coord"].nunique(dropna=False) > 1:
        coords = [c for c in pd.unique(results["coord"]) if str(c) != "all"]
    figure, axes = _pyplot().subplots(1, len(coords), layout="constrained", squeeze=False)
    for ax, coord in zip(axes[0], coords, strict=True):
        forest_plot(results, ax=ax, coord=coord, **options)
    rows = len(axes[0][0].get_yticks())  # forest_plot puts one tick on each row
    width = 6.4 * len(coords) + (0.6 if len(coords) > 1 else 0.0)
    figure.set_size_inches(width, _ROW_INCHES * rows + 1.6)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def gap_plot(
    gap_estimate: Sequence[float],
    gap_se: Sequence[float] | None = None,
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    band: tuple[float, float] | None = None,
    level: float = 0.1,
) -> Axes:
    """The historical gaps ``θ − θ~`` with their Wald intervals and a conformal band.

    Parameters
    ----------
    gap_estimate : sequence of float
        Observed gaps of the historical tasks.
    gap_se : sequence of float, optional
        Their standard errors (intervals at ``level`` are drawn when given).
    ax : matplotlib Axes, optional
        Axes to draw on.
    labels : sequence of str, optional
        Task names.
    band : (float, float), optional
        Conformal band ``[Δ^L, Δ^U]`` to shade.
    level : float
        Level of the per-task gap intervals.

    Returns
    -------
    matplotlib Axes
    """
    gaps = np.asarray(gap_estimate, dtype=float)
    order = np.argsort(gaps, kind="stable")
    y = np.arange(gaps.size, dtype=float)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, _ROW_INCHES * gaps.size + 1.4), layout="constrained")
    if band is not None:
        low, high = band
        ax.axvspan(
            low if math.isfinite(low) else np.nanmin(gaps),
            high if math.isfinite(high) else np.nanmax(gaps),
            color=CALIBRATED_COLOR,
            alpha=0.12,
            label="conformal band",
        )
    if gap_se is not None:
        from scipy.special import ndtri

        half = ndtri(1.0 - level / 2.0) * np.asarray(gap_se, dtype=float)[order]
        ax.hlines(y, gaps[order] - half, gaps[order] + half, color="0.35", lw=1.4)
    ax.plot(gaps[order], y, "o", color="0.1", ms=3, label="observed gap")
    ax.axvline(0.0, color="0.6", lw=0.8)
    if labels is not None:
        ax.set_yticks(y)
        ax.set_yticklabels([str(labels[i]) for i in order], fontsize=6)
    ax.set_xlabel("gap θ − θ~ (real − synthetic)")
    ax.legend(loc="lower right", fontsize=7)
    return ax


def figure_image(figure: Figure, *, image_format: str = "png", dpi: int = 110) -> bytes:
    """The figure as PNG or SVG bytes; the figure is closed afterwards.

    Parameters
    ----------
    figure : matplotlib Figure
        The figure (for instance ``ax.get_figure()`` of a plot of this module).
    image_format : {"png", "svg"}
        Image format.
    dpi : int
        Resolution of a PNG.

    Returns
    -------
    bytes
    """
    if image_format not in ("png", "svg"):
        raise ValueError(f"image_format must be 'png' or 'svg', got {image_format!r}")
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format=image_format, dpi=dpi, bbox_inches="tight")
    finally:
        _pyplot().close(figure)
    return buffer.getvalue()


def plot_plan(table: pd.DataFrame, ax: Any = None) -> Any:
    """Plot expected width against the number of history tasks, one line per (n, N).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`plan_table`.
    ax : matplotlib Axes, optional
        Axes to draw on (a new figure when omitted).

    Returns
    -------
    matplotlib Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for (n, m), part in table.groupby(["n_real", "n_synth"]):
        finite = part[np.isfinite(part["width"])]
        ax.plot(finite["n_history"], finite["width"], marker="o", label=f"n={n:g}, N={m:g}")
    ax.set_xlabel("history tasks T")
    ax.set_ylabel("expected interval width")
    ax.set_title(f"expected width at alpha = {table['alpha'].iloc[0]:g}")
    ax.legend(fontsize="small")
    return ax


def plot_diagnostics(data: pd.DataFrame, *, time_col: str = "time", axes: Any = None) -> Any:
    """Gap against time and against the synthetic estimate, with ±2 SE bars.

    Parameters
    ----------
    data : DataFrame
        Per-task summary table.
    time_col : str
        Time column (the first panel is skipped when absent).
    axes : sequence of matplotlib Axes, optional
        Two axes to draw on.

    Returns
    -------
    array of matplotlib Axes
    """
    plt = _pyplot()
    frame = history_summary(data)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    se = frame["gap_se"].to_numpy(dtype=float) if "gap_se" in frame.columns else None
    groups = frame.groupby("coord") if "coord" in frame.columns else [("gap", frame)]
    for label, part in groups:
        err = None if se is None else 2 * part["gap_se"].to_numpy(dtype=float)
        if time_col in part.columns:
            axes[0].errorbar(
                part[time_col], part["gap_estimate"], yerr=err, fmt="o", ms=3, label=str(label)
            )
        axes[1].errorbar(
            part["synth_estimate"], part["gap_estimate"], yerr=err, fmt="o", ms=3, label=str(label)
        )
    axes[0].set_xlabel(time_col)
    axes[0].set_ylabel("gap (real − synthetic)")
    axes[1].set_xlabel("synthetic estimate")
    for ax in axes:
        ax.axhline(0.0, color="grey", lw=0.8)
    if "coord" in frame.columns:
        axes[1].legend(fontsize="small")
    return axes
