"""Results as compact HTML tables, for Jupyter (``_repr_html_``) and reports.

Every result object shows its one-line summary as a caption and a table: the
interval, its width decomposition and whether it is finite where the result
holds intervals; its own table otherwise. Nothing here imports from the rest
of the package.
"""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["INTERVAL_VIEW", "MAX_ROWS", "frame_html", "result_html"]

INTERVAL_VIEW = (
    "task",
    "coord",
    "method",
    "alpha",
    "estimate",
    "lower",
    "upper",
    "w1",
    "w2",
    "w3",
    "feasible",
    "pvalue",
    "truth",
    "covered",
)
"""Columns shown for a table of intervals, in this order, where present."""

MAX_ROWS = 30
"""Rows shown before the table is cut (the count of the rest is said)."""

_STYLE = (
    "<style>"
    ".synthinfer-result caption{caption-side:top;text-align:left;font-weight:600;"
    "padding:0 0 4px 0}"
    ".synthinfer-result td,.synthinfer-result th{padding:2px 8px;text-align:right}"
    ".synthinfer-result .infinite{color:#b00020;font-weight:600}"
    "</style>"
)


def _interval_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The interval columns of ``frame`` when it holds intervals, else ``frame``."""
    if not {"lower", "upper", "w3", "feasible"} <= set(frame.columns):
        return frame
    columns = [c for c in INTERVAL_VIEW if c in frame.columns]
    view = frame[columns]
    if "coord" in view.columns and view["coord"].fillna("").eq("").all():
        view = view.drop(columns="coord")
    return view


def frame_html(frame: pd.DataFrame, caption: str, *, max_rows: int = MAX_ROWS) -> str:
    """One table (escaped, numbers to 4 significant digits) with a caption.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show; only the first ``max_rows`` are.
    caption : str
        Plain text above the table.
    max_rows : int
        Rows shown; a note counts the rest.

    Returns
    -------
    str
        An HTML fragment.
    """
    shown = frame.head(max_rows)
    table = shown.to_html(
        index=False,
        escape=True,
        border=0,
        float_format=lambda value: f"{value:.4g}",
        na_rep="",
        classes="synthinfer-result",
    )
    opening = '<table class="dataframe synthinfer-result">'
    table = table.replace(opening, f"{opening}<caption>{html.escape(caption)}</caption>", 1)
    table = table.replace("<td>False</td>", '<td class="infinite">False</td>')
    rest = len(frame) - len(shown)
    note = f"<p>… {rest} more row(s): use <code>.to_frame()</code></p>" if rest > 0 else ""
    return _STYLE + table + note


def result_html(summary: str, frame: pd.DataFrame) -> str:
    """A result's ``_repr_html_``: its first summary line over its table of intervals."""
    caption = summary.strip().splitlines()[0] if summary.strip() else ""
    return frame_html(_interval_view(frame), caption)
