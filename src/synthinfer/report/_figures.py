"""The report's figures, drawn by :mod:`synthinfer.plot` and embedded as images.

Each function returns ready HTML (a ``<figure>`` with a base64 image), or a
note saying why a figure is missing (matplotlib not installed, nothing to draw).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthinfer.report._html import figure_html, paragraph

__all__ = ["BASELINE", "MAX_PANELS", "diagnostics_figure", "forest_figures", "gap_figures"]

BASELINE = "synthetic-only"
"""The method drawn beside each calibrated method in forest plots."""

MAX_PANELS = 4
"""At most this many forest plots (methods) and gap plots (coordinates)."""


def _drawn(draw: Callable[[], Any], image_format: str, dpi: int, caption: str, alt: str) -> str:
    """Draw a figure and embed it, or explain why it cannot be drawn."""
    from synthinfer.plot import figure_image

    try:
        figure = draw()
    except ImportError as error:
        return paragraph(f"{alt}: not drawn ({error}).", "note")
    return figure_html(
        figure_image(figure, image_format=image_format, dpi=dpi), image_format, caption, alt
    )


def forest_figures(rows: pd.DataFrame, *, image_format: str, dpi: int) -> list[str]:
    """A forest plot per calibrated method at its smallest level, the baseline beside it."""
    from synthinfer.plot import forest_figure

    methods = [str(m) for m in pd.unique(rows["method"]) if m != BASELINE]
    baseline: str | None = BASELINE
    if not methods:
        methods, baseline = [BASELINE], None
    parts = []
    for method in methods[:MAX_PANELS]:
        level = float(rows.loc[rows["method"] == method, "alpha"].min())
        caption = (
            f"{method} intervals at alpha = {level:g}"
            + (
                f", with {baseline} beside them"
                if baseline and baseline in set(rows["method"])
                else ""
            )
            + ". Dashed bars miss the truth (when known); arrows mark infinite ends."
        )
        parts.append(
            _drawn(
                lambda method=method, level=level: forest_figure(
                    rows, method=method, baseline=baseline, alpha=level
                ),
                image_format,
                dpi,
                caption,
                f"forest plot of {method}",
            )
        )
    if len(methods) > MAX_PANELS:
        parts.append(paragraph(f"Forest plots of {methods[MAX_PANELS:]} are left out.", "note"))
    return parts


def _band(rows: pd.DataFrame, coord: str) -> tuple[tuple[float, float] | None, float, str]:
    """The conformal band of the first calibrated row (inference only), its alpha2, its label."""
    if "truth" in rows.columns:
        return None, 0.1, ""
    part = rows[(rows["method"] != BASELINE) & (rows["coord"] == coord)]
    if part.empty:
        return None, 0.1, ""
    part = part[np.isclose(part["alpha"].astype(float), float(part["alpha"].min()))]
    first = part.iloc[0]
    band = (float(first["gap_lower"]), float(first["gap_upper"]))
    if not np.isfinite(band).any():
        band = None
    level = float(first["alpha2"]) if float(first["alpha2"]) > 0 else 0.1
    label = f"band [Δ^L, Δ^U] of {first['method']} at alpha = {float(first['alpha']):g}"
    return band, level, label


def gap_figures(
    history: pd.DataFrame, rows: pd.DataFrame, *, image_format: str, dpi: int
) -> list[str]:
    """The history gaps with their intervals, per coordinate, and the band in inference."""
    from synthinfer.plot import gap_plot

    coords = [str(c) for c in pd.unique(history["coord"])]
    parts = []
    for coord in coords[:MAX_PANELS]:
        part = history[history["coord"] == coord]
        gap_se = part["gap_se"].to_numpy(float) if "gap_se" in part.columns else None
        if gap_se is not None and not np.isfinite(gap_se).all():
            gap_se = None
        band, level, label = _band(rows, coord)
        caption = f"{len(part)} history gaps θ − θ~" + (f" ({coord})" if coord else "")
        caption += f", with {100 * (1 - level):g}% intervals" if gap_se is not None else ""
        caption += f"; shaded: {label}." if band is not None else "."
        parts.append(
            _drawn(
                lambda part=part, gap_se=gap_se, band=band, level=level: gap_plot(
                    part["gap_estimate"].to_numpy(float),
                    gap_se,
                    labels=part["task"].astype(str).tolist(),
                    band=band,
                    level=level,
                ).get_figure(),
                image_format,
                dpi,
                caption,
                "gap plot" + (f" ({coord})" if coord else ""),
            )
        )
    return parts


def diagnostics_figure(history: pd.DataFrame, *, image_format: str, dpi: int) -> str:
    """Gap against time (when known) and against the synthetic estimate."""
    from synthinfer.plot import plot_diagnostics

    frame = history.drop(columns="coord") if (history["coord"] == "").all() else history
    caption = "Gap against time and against the synthetic estimate, ±2 standard errors."
    if "time" not in frame.columns:
        caption += " The data has no 'time' column, so the left panel is empty."
    return _drawn(
        lambda: np.atleast_1d(plot_diagnostics(frame))[0].get_figure(),
        image_format,
        dpi,
        caption,
        "diagnostic plots",
    )
