"""The report of a reproduction: results next to the paper's numbers, flags, files.

A row is flagged when it differs from the paper beyond Monte Carlo error (for
simulation studies) or beyond the paper's rounding (for backtests on fixed
data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer._html import result_html

__all__ = [
    "FLAG",
    "FigureFile",
    "Reproduction",
    "coverage_flag",
    "markdown_table",
    "width_flag",
    "write_outputs",
]

FLAG = "DIFFERS"
"""The flag of a row that differs from the paper."""

FigureFile = tuple[str, Callable[[], object]]
"""A figure to write: its file name and a function that draws it."""
_COVERAGE_ROUNDING = 0.005


@dataclass(frozen=True)
class Reproduction:
    """Results of one of the paper's experiments next to the paper's numbers.

    Attributes
    ----------
    name : {"simulated", "pew", "arena"}
        The experiment.
    summary_frame : pandas.DataFrame
        Coverage and widths with ``paper_coverage``, ``paper_width`` and
        ``flag`` (``"DIFFERS"`` beyond Monte Carlo error or rounding, else empty).
    tasks : pandas.DataFrame
        Per-task (per-replication for ``simulated``) results.
    notes : tuple of str
        What could not be run, and warnings raised on the way.
    files : tuple of Path
        Files written.
    """

    name: str
    summary_frame: pd.DataFrame
    tasks: pd.DataFrame
    notes: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()

    @property
    def flagged(self) -> int:
        """Number of summary rows that differ from the paper."""
        return int((self.summary_frame["flag"] == FLAG).sum())

    def table(self) -> pd.DataFrame:
        """The summary columns worth printing."""
        wanted = [
            "protocol",
            "tasks",
            "allocation",
            "method",
            "alpha",
            "coord",
            "infinite",
            "coverage",
            "coverage_mcse",
            "mean_width",
            "paper_coverage",
            "paper_width",
            "flag",
        ]
        frame = self.summary_frame[[c for c in wanted if c in self.summary_frame.columns]]
        if "protocol" in frame.columns and "tasks" in frame.columns:
            frame = frame.rename(columns={"tasks": "n_tasks"})
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The comparison with the paper, one row per reported number."""
        return self.summary_frame

    def summary(self) -> str:
        """The comparison as text, with the notes (the same as :meth:`report`)."""
        return self.report()

    def __str__(self) -> str:
        return self.report()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())

    def report(self) -> str:
        """The summary as text, with the notes."""
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            text = self.table().to_string(index=False, float_format=_format_number, na_rep="")
        lines = [f"reproduce {self.name} (paper: Tan & Zrnic 2026, PAPER.md)", text]
        lines += [f"note: {note}" for note in self.notes]
        if self.flagged:
            lines.append(
                f"{self.flagged} row(s) flagged {FLAG}: beyond Monte Carlo error or rounding"
            )
        else:
            lines.append(
                "every row with a paper number agrees within Monte Carlo error or rounding"
            )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The summary and notes as a Markdown document."""
        lines = [f"# Reproduction: {self.name}", "", markdown_table(self.table()), ""]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _format_number(value: float) -> str:
    return f"{value:.4g}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``frame`` (numbers to four significant digits).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to render.

    Returns
    -------
    str
    """

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return "" if math.isnan(value) else _format_number(float(value))
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def coverage_flag(
    coverage: float,
    paper_coverage: float,
    *,
    reps: int | None,
    paper_reps: int | None,
) -> bool:
    """Whether a coverage differs from the paper's beyond error and rounding.

    With Monte Carlo studies (``reps`` and ``paper_reps`` given) the
    tolerance is four standard errors of the difference plus half a
    percentage point of rounding; for fixed data only the rounding.

    Parameters
    ----------
    coverage, paper_coverage : float
        Our coverage and the paper's (rounded to whole percent).
    reps, paper_reps : int or None
        Replications behind each (``None`` for a backtest on fixed data).

    Returns
    -------
    bool
        Also true when ours is NaN (no finite interval) and the paper states a number.
    """
    if math.isnan(paper_coverage):
        return False
    if math.isnan(coverage):  # every interval infinite: no coverage to set beside the paper's
        return True
    tolerance = _COVERAGE_ROUNDING + 1e-9
    if reps and paper_reps:
        variance = paper_coverage * (1 - paper_coverage) / paper_reps
        variance += coverage * (1 - coverage) / reps
        tolerance += 4.0 * math.sqrt(variance)
    return abs(coverage - paper_coverage) > tolerance


def width_flag(width: float, paper_width: float, *, relative: float | None) -> bool:
    """Whether a mean width differs from the paper's beyond tolerance and rounding.

    Parameters
    ----------
    width, paper_width : float
        Our mean width and the paper's (given to three decimals).
    relative : float or None
        Relative tolerance (0.025 for Monte Carlo studies); ``None`` for only
        the rounding of the last reported digit.

    Returns
    -------
    bool
        Also true when ours is NaN (no finite interval) and the paper states a number.
    """
    if math.isnan(paper_width):
        return False
    if math.isnan(width):  # every interval infinite: no finite width to compare
        return True
    tolerance = 0.0005 + 1e-9 + (relative or 0.0) * paper_width
    return abs(width - paper_width) > tolerance


def write_outputs(
    result: Reproduction, out: Path | None, figures: Sequence[FigureFile]
) -> Reproduction:
    """Write tasks, summary (CSV, Markdown) and figures into ``out``."""
    if out is None:
        return result
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{result.name}_tasks.csv", out / f"{result.name}_summary.csv"]
    result.tasks.to_csv(files[0], index=False)
    result.summary_frame.to_csv(files[1], index=False)
    markdown = out / f"{result.name}_summary.md"
    markdown.write_text(result.to_markdown())
    files.append(markdown)
    for filename, draw in figures:
        figure = draw()
        path = out / filename
        figure.savefig(path, dpi=150)  # type: ignore[attr-defined]
        _close(figure)
        files.append(path)
    return Reproduction(result.name, result.summary_frame, result.tasks, result.notes, tuple(files))


def _close(figure: object) -> None:
    """Release a figure drawn through pyplot."""
    import matplotlib.pyplot as plt

    plt.close(figure)
