"""The report page: verdict, intervals, width decomposition, coverage, figures, provenance.

:func:`to_html` renders a result object (or a results frame) and
:func:`report_html` a :class:`~synthinfer.report.ReportInput`; both return one
self-contained HTML page (inline style sheet, images as base64 data, no
script, nothing fetched).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._validation import check_choice, check_count
from synthinfer.diagnose import DiagnosticReport, diagnose
from synthinfer.report._build import ReportInput, normalized_rows, report_input
from synthinfer.report._figures import diagnostics_figure, forest_figures, gap_figures
from synthinfer.report._html import (
    IMAGE_TYPES,
    decomposition_bar,
    decomposition_key,
    page_html,
    paragraph,
    section_html,
    table_html,
)
from synthinfer.report._provenance import Provenance, package_version

__all__ = [
    "INTERVAL_COLUMNS",
    "intervals_html",
    "report_html",
    "to_html",
    "write_report",
]

INTERVAL_COLUMNS = (
    "task",
    "coord",
    "method",
    "alpha",
    "estimate",
    "lower",
    "upper",
    "width",
    "synth_estimate",
    "truth",
    "covered",
    "rank_lower",
    "rank_upper",
    "w1",
    "w2",
    "w3",
    "feasible",
    "n_history",
)
"""Columns of the intervals table, those present in the results, in this order."""

_W_TEXT = (
    "Every width splits as w1 + w2 + w3 (before clipping to bounds): w1 = U~ − L~ is the "
    "synthetic noise of the target's own interval (budget alpha1); w3 = Qhi(m) − Qlo(m) is "
    "the spread of the bias across history tasks (budget alpha3; it does not shrink with "
    "more data); w2 is the rest of the gap band, from not knowing each history gap exactly "
    "(budget alpha2)."
)


def _status(row: Any) -> str:
    """``finite``, or which kind of infinite interval the row holds."""
    if bool(row.feasible):
        return "finite"
    if np.isfinite(float(row.lower)) and np.isfinite(float(row.upper)):
        return "INFINITE (shown clipped to the bounds)"
    return "INFINITE"


def _feasible(rows: pd.DataFrame) -> pd.Series:
    """The ``feasible`` column, or whether both ends are finite when there is none."""
    if "feasible" in rows.columns:
        return rows["feasible"].astype(bool)
    ends = rows[["lower", "upper"]].astype(float)
    return pd.Series(np.isfinite(ends).all(axis=1), index=rows.index)


def intervals_html(rows: pd.DataFrame) -> str:
    """Interval rows as an HTML table fragment, with a status and a width bar per row.

    Parameters
    ----------
    rows : pandas.DataFrame
        Output rows (``result.to_frame()``, a results file read back).

    Returns
    -------
    str
        The table (every cell escaped); an infinite interval's row says ``INFINITE``.
    """
    rows = normalized_rows(rows)
    frame = rows.assign(feasible=_feasible(rows))
    columns = [c for c in INTERVAL_COLUMNS if c in frame.columns]
    if (rows["coord"] == "").all():
        columns.remove("coord")
    extra = {"status": [html.escape(_status(r)) for r in frame.itertuples(index=False)]}
    if {"w1", "w2", "w3"} <= set(rows.columns):
        extra["w1 | w2 | w3"] = [
            decomposition_bar(a, b, c) for a, b, c in rows[["w1", "w2", "w3"]].to_numpy(float)
        ]
    classes = ["" if ok else "infinite" for ok in frame["feasible"]]
    return table_html(frame, columns=columns, extra=extra, row_classes=classes)


def intervals_section(report: ReportInput) -> str:
    """Every interval row, with its width decomposition as a bar."""
    n_infinite = int((~_feasible(report.rows)).sum())
    lead = f"{len(report.rows)} interval(s); {n_infinite} infinite (feasible = no)."
    if n_infinite:
        lead += (
            " An infinite interval is the method's answer when the history is too small for a "
            "finite band at that level: it is not a finite interval, even where the table "
            "shows it clipped to the bounds."
        )
    table = intervals_html(report.rows)
    return section_html("Intervals", [paragraph(lead), table], anchor="intervals")


def decomposition_section(rows: pd.DataFrame) -> str:
    """Mean w1, w2, w3 and the share of w3 per method × alpha (× coordinate), finite rows."""
    if not {"w1", "w2", "w3"} <= set(rows.columns):
        return section_html("Width decomposition", [paragraph("The results have no w1..w3.")])
    widths = rows[["w1", "w2", "w3"]].astype(float)
    finite = rows[np.isfinite(widths).all(axis=1).to_numpy()]
    keys = ["method", "alpha"] + (["coord"] if (rows["coord"] != "").any() else [])
    table = finite.groupby(keys, sort=False)[["w1", "w2", "w3"]].mean().reset_index()
    counts = finite.groupby(keys, sort=False).size().to_numpy()
    total = table[["w1", "w2", "w3"]].sum(axis=1)
    table = table.assign(
        **{"finite intervals": counts, "w3 share": table["w3"] / total.where(total > 0)}
    )
    bars = [decomposition_bar(a, b, c) for a, b, c in table[["w1", "w2", "w3"]].to_numpy()]
    parts = [paragraph(_W_TEXT), decomposition_key()]
    if table.empty:
        parts.append(paragraph("No interval is finite, so there is no width to decompose."))
    else:
        parts.append(table_html(table, extra={"w1 | w2 | w3": bars}, caption="means"))
    return section_html("Width decomposition", parts, anchor="widths")


def coverage_section(coverage: pd.DataFrame) -> str:
    """The backtest coverage table."""
    text = (
        "Coverage of the held-out tasks' real estimates, over finite intervals only "
        "(infinite intervals are counted apart); coverage_mcse is its Monte Carlo standard error."
    )
    frame = coverage.copy()
    if "coord" in frame.columns and frame["coord"].fillna("").astype(str).eq("").all():
        frame = frame.drop(columns="coord")
    parts = [paragraph(text), table_html(frame)]
    return section_html("Backtest coverage", parts, anchor="coverage")


def _run_diagnostics(
    report: ReportInput, n_permutations: int
) -> tuple[DiagnosticReport | None, str]:
    if report.history is None:
        return None, f"Diagnostics not run: {report.data_note}."
    history = report.history
    if (history["coord"] == "").all():
        history = history.drop(columns="coord")
    alpha = float(report.rows["alpha"].astype(float).min())
    seed = report.provenance.seed if isinstance(report.provenance.seed, int) else 0
    try:
        found = diagnose(history, alpha=alpha, n_permutations=n_permutations, seed=seed)
    except ValueError as error:
        return None, f"Diagnostics could not run: {error}"
    return found, ""


def verdict_html(found: DiagnosticReport | None, note: str) -> str:
    """The diagnostics' verdict in a box: nothing flagged, the flagged findings, or why none."""
    if found is None:
        return f'<div class="verdict unknown">{paragraph(note)}</div>'
    if not found.flagged:
        text = (
            f"No evidence against task exchangeability: nothing flagged among "
            f"{len(found.findings)} checks of {found.n_history} history tasks "
            f"(Holm-adjusted level {found.level:g}, {found.n_permutations} permutations)."
        )
        return f'<div class="verdict">{paragraph(text)}</div>'
    items = "".join(
        "<li>"
        + html.escape(f"{f.test}{f' [{f.coord}]' if f.coord else ''}: {f.message}")
        + (f"<br><em>remedy:</em> {html.escape(f.remedy)}" if f.remedy else "")
        + "</li>"
        for f in found.flagged
    )
    head = (
        f"{len(found.flagged)} of {len(found.findings)} checks flagged on "
        f"{found.n_history} history tasks (Holm-adjusted level {found.level:g}):"
    )
    return f'<div class="verdict flagged">{paragraph(head)}<ul>{items}</ul></div>'


def diagnostics_section(found: DiagnosticReport | None, note: str) -> str:
    """Every finding of the diagnostics, flagged or not."""
    if found is None:
        return section_html("Diagnostics", [paragraph(note, "note")], anchor="diagnostics")
    columns = ["test", "coord", "statistic", "p_value", "p_adjusted", "flagged", "message"]
    frame = found.to_frame()
    if (frame["coord"] == "").all():
        columns.remove("coord")
    text = (
        f"synthinfer diagnose at alpha {found.alpha:g} (the smallest level of the results), "
        f"{found.n_permutations} permutations; see the verdict above."
    )
    table = table_html(frame, columns=columns, wrap={"message"})
    return section_html("Diagnostics", [paragraph(text), table], anchor="diagnostics")


def provenance_section(provenance: Provenance, data_note: str) -> str:
    """The provenance table and, when the data was not available, why."""
    parts = [table_html(provenance.to_frame(), wrap={"value"})]
    if data_note:
        parts.append(paragraph(f"Task data: {data_note}.", "note"))
    return section_html("Provenance", parts, anchor="provenance")


def _figures(report: ReportInput, image_format: str, dpi: int) -> list[str]:
    parts = forest_figures(report.rows, image_format=image_format, dpi=dpi)
    history = report.history
    if history is not None:
        history = history[history["gap_estimate"].notna()]
    if history is not None and len(history):
        parts += gap_figures(history, report.rows, image_format=image_format, dpi=dpi)
        parts.append(diagnostics_figure(history, image_format=image_format, dpi=dpi))
    else:
        parts.append(paragraph(f"No gap plot: {report.data_note or 'no history gaps'}.", "note"))
    return parts


def _lead(report: ReportInput) -> str:
    methods = ", ".join(map(str, pd.unique(report.rows["method"])))
    levels = ", ".join(f"{a:g}" for a in sorted(pd.unique(report.rows["alpha"].astype(float))))
    seed = report.provenance.seed
    return (
        f"{report.label}: {report.rows['task'].nunique()} task(s), methods {methods}, "
        f"alpha {levels}; seed {'not recorded' if seed is None else seed}; "
        f"synthinfer {report.provenance.version}."
    )


def report_html(
    report: ReportInput,
    *,
    title: str | None = None,
    diagnostics: bool = True,
    n_permutations: int = 9999,
    image_format: str = "png",
    dpi: int = 110,
) -> str:
    """The report page of a :class:`ReportInput` (see :func:`to_html` for the options)."""
    image_format = check_choice(image_format, tuple(IMAGE_TYPES), "image_format")
    dpi = check_count(dpi, "dpi", minimum=20)
    if diagnostics:
        found, note = _run_diagnostics(report, check_count(n_permutations, "n_permutations", 99))
    else:
        found, note = None, "Diagnostics not run (turned off)."
    sections = [
        section_html("Verdict of the diagnostics", [verdict_html(found, note)], anchor="verdict")
    ]
    if report.coverage is not None:
        sections.append(coverage_section(report.coverage))
    sections.append(decomposition_section(report.rows))
    sections.append(section_html("Figures", _figures(report, image_format, dpi), anchor="figures"))
    sections.append(intervals_section(report))
    sections.append(diagnostics_section(found, note))
    sections.append(provenance_section(report.provenance, report.data_note))
    csv = html.escape(report.rows.to_csv(index=False))
    sections.append(
        '<details class="no-print"><summary>All rows at full precision (CSV)</summary>'
        f"<pre>{csv}</pre></details>"
    )
    title = title or f"synthinfer report: {report.label}"
    return page_html(title, _lead(report), sections, package_version())


def to_html(
    result: Any,
    *,
    data: Any = None,
    provenance: Provenance | None = None,
    title: str | None = None,
    diagnostics: bool = True,
    n_permutations: int = 9999,
    image_format: str = "png",
    dpi: int = 110,
) -> str:
    """A result as one self-contained HTML page.

    The page holds the diagnostics' verdict, every interval row with its width
    decomposition (w1 synthetic noise, w2 history-gap noise, w3 bias spread),
    the backtest coverage, forest and gap plots as inline images, the
    diagnostics and the provenance (data files, seed, version, options). It
    fetches nothing and runs no script; it prints cleanly.

    Parameters
    ----------
    result : InferenceResult, BacktestResult, ArenaResult or pandas.DataFrame
        What to report (a frame of output rows, e.g. a results file read back).
    data : path or dataframe, optional
        The task data the result came from (either format): the diagnostics
        and the gap plot need it. An ``ArenaResult`` carries its own.
    provenance : Provenance, optional
        Where the result came from (default: its seed, this version, now).
    title : str, optional
        Page title.
    diagnostics : bool
        Run :func:`synthinfer.diagnose` on the data (at the results' smallest alpha).
    n_permutations : int
        Permutations per diagnostic test.
    image_format : {"png", "svg"}
        Format of the embedded images.
    dpi : int
        Resolution of PNG images.

    Returns
    -------
    str
        The HTML page.
    """
    report = report_input(result, data=data, provenance=provenance)
    return report_html(
        report,
        title=title,
        diagnostics=diagnostics,
        n_permutations=n_permutations,
        image_format=image_format,
        dpi=dpi,
    )


def write_report(result: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Write :func:`to_html` of ``result`` to ``path`` (UTF-8) and return the path.

    ``options`` are those of :func:`to_html`.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot save file into a non-existent directory: '{path.parent}'")
    path.write_text(to_html(result, **options), encoding="utf-8")
    return path
