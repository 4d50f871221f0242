"""Command-line options that several commands share, each declared once.

Typer reads these ``Annotated`` aliases from the signatures of the command
functions. Every alias spells its flags out, so the Python parameter of a
command can carry the name of the library parameter it feeds (``--format``
feeds ``output_format``, ``--permutations`` feeds ``n_permutations``) while the
flag keeps its documented spelling. An option that only one command has is
declared in that command's signature. The functions at the end turn the text
of list options into library arguments through :mod:`synthinfer._validation`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer._validation import number_list, split_list
from synthinfer.allocation import DEFAULT_ALLOCATION

__all__ = [
    "DEFAULT_ALLOCATION_SPEC",
    "DEFAULT_ALPHA",
    "DEFAULT_METHOD",
    "AdjustMode",
    "AdjustModeOption",
    "AdjustOption",
    "AllocationOption",
    "AlphaOption",
    "BandwidthOption",
    "BoundsOption",
    "DataArgument",
    "DecayOption",
    "Engine",
    "EngineOption",
    "EstimandOption",
    "GroupByOption",
    "IntervalKind",
    "IntervalOption",
    "KernelOption",
    "LevelOption",
    "MethodOption",
    "MismatchOption",
    "NBootstrapOption",
    "OutOption",
    "OutputFormat",
    "OutputFormatOption",
    "PenaltyOption",
    "PlotOption",
    "Protocol",
    "SeedOption",
    "SparkRemoteOption",
    "SplitTimeOption",
    "TimeColOption",
    "alpha_values",
    "given_numbers",
    "method_values",
    "number_pair",
]

DEFAULT_ALPHA = 0.1
"""The level of every command when ``--alpha`` is not given."""

DEFAULT_METHOD = "exchangeable"
"""The method of ``infer``, ``backtest`` and ``arena`` when ``--method`` is not given."""

DEFAULT_ALLOCATION_SPEC = DEFAULT_ALLOCATION.spec
"""The default ``--allocation``: the paper's split, as text."""


class OutputFormat(str, Enum):
    """How results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


class Protocol(str, Enum):
    """Backtest protocols."""

    loo = "loo"
    temporal = "temporal"


class IntervalKind(str, Enum):
    """Per-task interval constructions for unit-level data."""

    wald = "wald"
    hoeffding = "hoeffding"
    bootstrap = "bootstrap"


class AdjustMode(str, Enum):
    """Covariate adjustment modes."""

    full = "full"
    split = "split"


# ------------------------------------------------------------------ data and output

DataArgument = Annotated[
    Path, typer.Argument(help="Task table: unit-level or summary, CSV or Parquet.")
]
OutputFormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write the results to FILE (.csv, .parquet, .json)."),
]
PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Save the plots to FILE (.png, .pdf, .svg).")
]

# ------------------------------------------------------------------------ levels

AlphaOption = Annotated[
    list[str] | None,
    typer.Option("--alpha", "-a", help="Level(s), e.g. 0.1,0.2 (repeatable). Default 0.1."),
]
LevelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--level", help="Confidence level(s) 1 - alpha instead of --alpha, e.g. 0.9,0.95."
    ),
]
MethodOption = Annotated[
    list[str] | None,
    typer.Option(
        "--method",
        "-m",
        help="exchangeable, weighted, finite-sample, task-only, synthetic-only "
        "(comma-separated, repeatable). Default exchangeable.",
    ),
]
AllocationOption = Annotated[
    str, typer.Option("--allocation", help="Budget split: prop:A,B,C or abs:A1,A2.")
]
BoundsOption = Annotated[
    str | None,
    typer.Option("--bounds", help="Range of the estimand LO,HI: clips final intervals."),
]
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Random seed: the same seed gives the same results."),
]

# ------------------------------------------------------------------ time and tasks

TimeColOption = Annotated[
    str, typer.Option("--time-col", help="Task-level time column (orders the tasks).")
]
SplitTimeOption = Annotated[
    str | None,
    typer.Option(
        "--split-time", help="Temporal: tasks with time < V are the history, the rest held out."
    ),
]
DecayOption = Annotated[
    float | None,
    typer.Option(
        "--decay", help="Recency decay RHO for 'weighted': weight RHO ** (latest_time - time)."
    ),
]

# ---------------------------------------------------- infer and backtest calibration

EstimandOption = Annotated[
    str, typer.Option("--estimand", help="mean or quantile:Q (unit-level data).")
]
IntervalOption = Annotated[
    IntervalKind | None,
    typer.Option("--interval", help="Interval construction for unit-level data (default: Wald)."),
]
GroupByOption = Annotated[
    str | None, typer.Option("--group-by", help="Calibrate on history tasks of the same group.")
]
AdjustOption = Annotated[
    str | None,
    typer.Option(
        "--adjust",
        help="Covariates for an adjusted band: task attributes and/or synth_estimate.",
    ),
]
AdjustModeOption = Annotated[
    AdjustMode, typer.Option("--adjust-mode", help="Full (ridge) or split conformal adjustment.")
]
NBootstrapOption = Annotated[int, typer.Option("--n-bootstrap", help="Bootstrap replicates.")]
KernelOption = Annotated[
    str | None,
    typer.Option(
        "--kernel",
        help="Task attributes for similarity weights in 'weighted' (comma-separated).",
    ),
]
BandwidthOption = Annotated[
    float,
    typer.Option(
        "--bandwidth", help="Kernel bandwidth in standard deviations of numeric attributes."
    ),
]
MismatchOption = Annotated[
    float,
    typer.Option("--mismatch", help="Kernel weight penalty per mismatching categorical attribute."),
]
PenaltyOption = Annotated[
    float, typer.Option("--penalty", help="Ridge penalty of the --adjust gap model.")
]


class Engine(str, Enum):
    """Where a file is scanned: embedded DuckDB, or a Spark session."""

    duckdb = "duckdb"
    spark = "spark"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="duckdb (embedded, out of core, the default) or spark (a local Spark session, "
        "or the cluster named by --spark-remote; needs synthinfer[spark]).",
    ),
]
SparkRemoteOption = Annotated[
    str | None,
    typer.Option(
        "--spark-remote", help="Spark Connect address for --engine spark, e.g. sc://HOST:15002."
    ),
]


# ------------------------------------------------------------------------- parsing


def alpha_values(alpha: list[str] | None) -> list[float]:
    """The levels given with ``--alpha``, or the default level.

    Parameters
    ----------
    alpha : list of str or None
        The values of the repeatable option, each possibly comma-separated.

    Returns
    -------
    list of float
        The levels in order; ``[DEFAULT_ALPHA]`` when none were given. The
        library checks their range.

    Raises
    ------
    ValueError
        If an item is not a number.
    """
    return number_list(alpha, "--alpha") or [DEFAULT_ALPHA]


def given_numbers(values: list[str] | None, option: str) -> list[float] | None:
    """The numbers given with a repeatable option, or ``None`` when it was not given.

    Parameters
    ----------
    values : list of str or None
        The values of the option, each possibly comma-separated.
    option : str
        The option's flag, for the error message.

    Returns
    -------
    list of float or None
    """
    return number_list(values, option) or None


def method_values(method: list[str] | None) -> list[str]:
    """The method names given with ``--method``, or the default method.

    Parameters
    ----------
    method : list of str or None
        The values of the repeatable option, each possibly comma-separated.

    Returns
    -------
    list of str
        The names in order; ``[DEFAULT_METHOD]`` when none were given. The
        library checks them.
    """
    return split_list(method) or [DEFAULT_METHOD]


def number_pair(text: str | None, option: str) -> tuple[float, float] | None:
    """Two numbers ``A,B`` from an option's text.

    Parameters
    ----------
    text : str or None
        The option's value.
    option : str
        The option's flag (e.g. ``"--bounds"``), used in the error message.

    Returns
    -------
    (float, float) or None
        ``None`` when the option was not given.

    Raises
    ------
    ValueError
        If ``text`` does not hold exactly two numbers.
    """
    if text is None:
        return None
    numbers = number_list(text, option)
    if len(numbers) != 2:
        raise ValueError(f"{option} takes two numbers A,B, got {text!r}")
    return numbers[0], numbers[1]
