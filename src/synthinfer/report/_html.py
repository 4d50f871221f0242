"""HTML pieces of the report: escaped cells, tables, width bars, figures, the page.

Everything here is plain text assembly with :func:`html.escape`; nothing is
fetched and no script is written, so the page reads the same offline and in
print. :func:`table_html` renders any frame as an HTML fragment.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Collection, Iterable, Sequence
from string import Template
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "IMAGE_TYPES",
    "decomposition_bar",
    "decomposition_key",
    "figure_html",
    "format_value",
    "page_html",
    "paragraph",
    "section_html",
    "table_html",
]

IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
"""Media types of the embedded images."""

W_COLORS = ("#1f5fa8", "#7fa7d6", "#d9822b")
"""Colors of w1 (synthetic noise), w2 (history-gap noise) and w3 (bias spread)."""

_STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1b1b1b; margin: 0 auto; max-width: 72rem; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ddd;
  padding-bottom: .2rem; }
p.lead { color: #444; margin-top: 0; }
.verdict { border-left: 5px solid #2e7d32; background: #f1f8f1; padding: .6rem 1rem; }
.verdict.flagged { border-color: #c62828; background: #fdf1f1; }
.verdict.unknown { border-color: #888; background: #f4f4f4; }
table { border-collapse: collapse; font-size: .82rem; margin: .4rem 0 1rem; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .2rem .5rem; text-align: right;
  vertical-align: top; }
th { background: #f3f5f8; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
td { white-space: nowrap; }
td.wrap { white-space: normal; min-width: 16rem; }
tr.infinite td { color: #8a1c1c; }
.scroll { overflow-x: auto; }
.bar { display: inline-flex; width: 8rem; height: .7rem; background: #eee; vertical-align: middle; }
.bar span { display: block; height: 100%; }
.key span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem;
  vertical-align: middle; }
figure { margin: 1rem 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #444; }
.note { color: #555; font-size: .9rem; }
pre { font-size: .75rem; background: #f7f7f7; padding: .5rem; overflow-x: auto; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4 landscape; margin: 1.2cm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .scroll { overflow: visible; }
  td { white-space: normal; }
  .no-print { display: none; }
  th { position: static; }
  table { font-size: 7.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="synthinfer $version">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header>
<h1>$title</h1>
<p class="lead">$lead</p>
</header>
$body
<footer class="note"><p>Made by synthinfer $version. Method: L. Tan and T. Zrnic, <em>Valid
Inference with Synthetic Data via Task Exchangeability</em> (2026).</p></footer>
</body>
</html>
"""
)


def format_value(value: Any) -> str:
    """One cell as text: 4 significant digits, ``∞``/``−∞``, empty for NaN, yes/no for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        return f"{number:.4g}"
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _is_text(series: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    )


def table_html(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    extra: dict[str, Sequence[str]] | None = None,
    row_classes: Sequence[str] | None = None,
    caption: str | None = None,
    wrap: Collection[str] = (),
) -> str:
    """A frame as an HTML table fragment (every cell escaped).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    columns : sequence of str, optional
        Columns to show, in order (default all).
    extra : dict of str to sequence of str, optional
        Further columns of ready HTML, one entry per row (e.g. width bars).
    row_classes : sequence of str, optional
        A CSS class per row.
    caption : str, optional
        Table caption (escaped).
    wrap : collection of str
        Columns of long text whose cells may wrap (others keep one line).

    Returns
    -------
    str
    """
    shown = list(frame.columns if columns is None else columns)
    extra = extra or {}
    css = {c: ("text" if _is_text(frame[c]) else "num") for c in shown}
    css = {c: kind + (" wrap" if c in wrap else "") for c, kind in css.items()}
    head = "".join(f'<th class="{css[c]}">{html.escape(str(c))}</th>' for c in shown)
    head += "".join(f'<th class="text">{html.escape(name)}</th>' for name in extra)
    body = []
    for index, row in enumerate(frame[shown].itertuples(index=False, name=None)):
        cells = "".join(
            f'<td class="{css[c]}">{html.escape(format_value(v))}</td>'
            for c, v in zip(shown, row, strict=True)
        ) + "".join(f'<td class="text">{values[index]}</td>' for values in extra.values())
        klass = f' class="{html.escape(row_classes[index])}"' if row_classes else ""
        body.append(f"<tr{klass}>{cells}</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table>{title}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def decomposition_bar(w1: float, w2: float, w3: float) -> str:
    """A bar split into the shares of ``w1``, ``w2``, ``w3`` (text when they are not finite)."""
    parts = np.array([w1, w2, w3], dtype=float)
    if not np.isfinite(parts).all():
        return "infinite"
    total = float(np.clip(parts, 0.0, None).sum())
    if total <= 0.0:
        return ""
    shares = 100.0 * np.clip(parts, 0.0, None) / total
    spans = "".join(
        f'<span style="width:{share:.1f}%;background:{color}"></span>'
        for share, color in zip(shares, W_COLORS, strict=True)
    )
    label = f"w1 {shares[0]:.0f}%, w2 {shares[1]:.0f}%, w3 {shares[2]:.0f}%"
    return f'<span class="bar" title="{label}" role="img" aria-label="{label}">{spans}</span>'


def decomposition_key() -> str:
    """The legend of :func:`decomposition_bar`."""
    names = ("w1 synthetic noise", "w2 history-gap noise", "w3 bias spread")
    return (
        '<p class="key note">'
        + "".join(
            f'<span style="background:{color}"></span>{name}'
            for color, name in zip(W_COLORS, names, strict=True)
        )
        + "</p>"
    )


def figure_html(image: bytes, image_format: str, caption: str, alt: str) -> str:
    """An embedded image (base64 data URI) with its caption."""
    data = base64.b64encode(image).decode("ascii")
    source = f"data:{IMAGE_TYPES[image_format]};base64,{data}"
    return (
        f'<figure><img src="{source}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def section_html(title: str, parts: Iterable[str], *, anchor: str = "") -> str:
    """A titled section of ready HTML parts."""
    ident = f' id="{html.escape(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "</section>"


def paragraph(text: str, css: str = "") -> str:
    """A paragraph of escaped text."""
    klass = f' class="{css}"' if css else ""
    return f"<p{klass}>{html.escape(text)}</p>"


def page_html(title: str, lead: str, sections: Iterable[str], version: str) -> str:
    """The whole page: head with the inline style sheet, the sections, a footer."""
    return _PAGE.substitute(
        title=html.escape(title),
        lead=html.escape(lead),
        style=_STYLE,
        body="\n".join(sections),
        version=html.escape(version),
    )
