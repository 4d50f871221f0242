"""The ``report`` command: one self-contained HTML report of a results file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer.cli._options import option
from synthinfer.cli._output import report_errors

__all__ = ["ImageFormat", "report_command"]


class ImageFormat(str, Enum):
    """Formats of the images embedded in the report."""

    png = "png"
    svg = "svg"


ResultsArgument = Annotated[
    Path,
    typer.Argument(
        help="Results file written by infer, backtest or arena with --out "
        "(its provenance FILE.meta.json beside it is read when present)."
    ),
]
ReportOutOption = option(Path, "--out", "-o", help="HTML file to write, e.g. report.html.")
ReportDataOption = option(
    Path | None,
    "--data",
    help="Task data for the diagnostics and gap plot, unit-level or summary (for arena: "
    "its --summary-out table); default: the data recorded beside the results.",
)
TitleOption = option(str | None, "--title", help="Title of the report.")
DiagnosticsOption = option(
    bool, "--diagnostics/--no-diagnostics", help="Run the diagnostics on the task data."
)
PermutationsOption = option(int, "--permutations", help="Permutations per diagnostic test.")
ImageFormatOption = option(ImageFormat, "--image-format", help="Embedded images: png or svg.")


@report_errors
def report_command(
    results: ResultsArgument,
    *,
    out: ReportOutOption,
    data: ReportDataOption = None,
    title: TitleOption = None,
    diagnostics: DiagnosticsOption = True,
    n_permutations: PermutationsOption = 9999,
    image_format: ImageFormatOption = ImageFormat.png,
) -> None:
    """One self-contained HTML report of a results file: intervals, plots, diagnostics.

    The page holds every interval with its width decomposition, the backtest
    coverage, forest and gap plots as inline images, the verdict of the
    diagnostics (re-run on the recorded data file, or --data) and the
    provenance (data files, seed, version, options). It needs no network and
    prints cleanly.
    """
    from synthinfer.report import report_html, results_input

    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out must name an .html file, got {str(out)!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Cannot save file into a non-existent directory: '{out.parent}'")
    report = results_input(results, data=data)
    page = report_html(
        report,
        title=title,
        diagnostics=diagnostics,
        n_permutations=n_permutations,
        image_format=image_format.value,
    )
    out.write_text(page, encoding="utf-8")
    typer.echo(f"wrote {out} ({len(page.encode('utf-8'))} bytes)", err=True)
    if report.history is None:
        typer.echo(f"note: no diagnostics or gap plot: {report.data_note}", err=True)
