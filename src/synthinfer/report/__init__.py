"""One self-contained HTML report of a result, to share with people who do not run Python.

The page holds every interval row with its width decomposition (w1
synthetic noise, w2 history-gap noise, w3 bias spread), the backtest
coverage, the forest and gap plots as inline images, the verdict of the
diagnostics and the provenance (data files, seed, version, options). It
fetches nothing, runs no script and prints cleanly.

Modules, each importing only those above it:

* ``_provenance``: :class:`Provenance` and the ``FILE.meta.json`` file that
  every command writing ``--out FILE`` puts beside it;
* ``_html``: escaped cells, :func:`table_html` (any frame as an HTML
  fragment), width bars, embedded figures, the page;
* ``_build``: :class:`ReportInput`, from a result object or a results file;
* ``_figures``: forest, gap and diagnostic plots drawn by :mod:`synthinfer.plot`;
* ``_render``: :func:`to_html`, :func:`write_report`, :func:`report_html`, and
  :func:`intervals_html` (interval rows as a table fragment, e.g. for notebooks).

Importing this package registers :func:`to_html` as the renderer of the
result classes' ``to_html`` methods (:func:`synthinfer.results.register_html_renderer`):
the report draws plots, a floor above the result classes, so they reach it
through that registration rather than an import.
"""

from synthinfer.report._build import ReportInput, read_results, report_input, results_input
from synthinfer.report._html import format_value, table_html
from synthinfer.report._provenance import (
    PROVENANCE_SUFFIX,
    Provenance,
    provenance_path,
    read_provenance,
    write_provenance,
)
from synthinfer.report._render import intervals_html, report_html, to_html, write_report
from synthinfer.results import register_html_renderer

register_html_renderer(to_html)

__all__ = [
    "PROVENANCE_SUFFIX",
    "Provenance",
    "ReportInput",
    "format_value",
    "intervals_html",
    "provenance_path",
    "read_provenance",
    "read_results",
    "report_html",
    "report_input",
    "results_input",
    "table_html",
    "to_html",
    "write_provenance",
    "write_report",
]
