"""Command-line options that several commands share, each declared once.

Typer reads these ``Annotated`` aliases from the signatures of the command
functions; :func:`option` makes one. Every alias spells its flags out, so the
Python parameter of a command can carry the name of the library parameter it
feeds (``--format`` feeds ``output_format``, ``--permutations`` feeds
``n_permutations``) while the flag keeps its documented spelling. An option
that only one command module uses is declared in that module, and options that
travel together there form an option group (see :mod:`synthinfer.cli._groups`).
The functions at the end turn the text of list options into library arguments
through :mod:`synthinfer._validation`.

Every option shows a readable metavar in ``--help`` instead of a type name
(:func:`metavar_for`): its own when it declares one, the choices of an enum,
nothing for a flag, the documented spelling of its flag (:data:`METAVARS`:
``--alpha A,...``, ``--bounds LO,HI|none``), ``COL`` for a ``--...-col``
flag, else one from its type (``FILE``, ``N``, ``X``, ``TEXT``), with
``,...`` for a repeatable list.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from synthinfer._validation import number_list, split_list
from synthinfer.allocation import DEFAULT_ALLOCATION

__all__ = [
    "DEFAULT_ALLOCATION_SPEC",
    "DEFAULT_ALPHA",
    "DEFAULT_METHOD",
    "METAVARS",
    "AllocationOption",
    "AlphaOption",
    "BoundsOption",
    "DataArgument",
    "DecayOption",
    "EncodingOption",
    "Engine",
    "EngineOption",
    "MethodOption",
    "ModelAColOption",
    "ModelBColOption",
    "OutOption",
    "OutputFormat",
    "OutputFormatOption",
    "PPICritical",
    "PPICriticalOption",
    "PlotOption",
    "Protocol",
    "SeedOption",
    "SplitTimeOption",
    "TargetLabelsOption",
    "TargetOption",
    "TimeColOption",
    "alpha_values",
    "given_numbers",
    "metavar_for",
    "method_values",
    "number_pair",
    "option",
]

DEFAULT_ALPHA = 0.1
"""The level of every command when ``--alpha`` is not given."""

DEFAULT_METHOD = "exchangeable"
"""The method of ``infer``, ``backtest`` and ``arena`` when ``--method`` is not given."""

DEFAULT_ALLOCATION_SPEC = DEFAULT_ALLOCATION.spec
"""The paper's split, as text: the default ``--allocation`` of ``plan`` and ``diagnose``."""


METAVARS: dict[str, str] = {
    "--alpha": "A",
    "--level": "L",
    "--method": "M",
    "--allocation": "SPEC",
    "--bounds": "LO,HI|none",
    "--estimand": "mean|quantile:Q",
    "--seed": "K",
    "--target": "TASK",
    "--null": "VALUE",
    "--target-labels": "M",
    "--split-time": "V",
    "--decay": "RHO",
    "--group-by": "COL",
    "--task-group": "COL",
    "--coverage": "cell|group",
    "--adjust": "COL,...",
    "--kernel": "COL,...",
    "--attribute": "COL",
    "--tasks": "T",
    "--reps": "R",
    "--n": "N",
    "--synthetic-n": "M",
    "--draws": "K",
    "--concurrency": "C",
    "--model": "NAME",
    "--reference": "MODEL",
    "--base-url": "URL",
    "--spark-remote": "URL",
    "--memory-limit": "SIZE",
    "--verdicts": "A,B,TIE",
    "--price": "IN,OUT",
    "--beta": "A,B",
    "--encoding": "NAME",
}
"""Metavars of flags whose meaning is the same in every command (DESIGN.md, "Command line")."""


def _bare(kind: Any) -> Any:
    """``kind`` without ``None`` (``X | None`` and ``Optional[X]`` become ``X``)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kept = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return kept[0] if len(kept) == 1 else str
    return kind


def metavar_for(kind: Any, flags: Sequence[str] = (), help: str = "") -> str:
    """The metavar ``--help`` shows for an option of Python type ``kind``.

    Parameters
    ----------
    kind : type
        The parameter's type (``float``, ``list[str] | None``, an ``Enum``, ...).
    flags : sequence of str
        The option's flags (``"--alpha"``, ``"-a"``).
    help : str
        The option's help text (a path described as a directory shows ``DIR``).

    Returns
    -------
    str
        ``""`` for a flag, ``a|b|c`` for an enum, the flag's entry of
        :data:`METAVARS`, ``COL`` for a ``--...-col`` flag, else ``FILE``
        (``DIR``), ``N``, ``X`` or ``TEXT`` by type; a list type adds ``,...``.

    Examples
    --------
    >>> metavar_for(list[str] | None, ["--alpha", "-a"])
    'A,...'
    >>> metavar_for(int, ["--workers"])
    'N'
    """
    kind = _bare(kind)
    if kind is bool:
        return ""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "|".join(str(member.value) for member in kind)
    many = typing.get_origin(kind) is list
    if many:
        kind = _bare((typing.get_args(kind) or (str,))[0])
    named = [METAVARS[flag] for flag in flags if flag in METAVARS]
    if named:
        base = named[0]
    elif any(flag.endswith("-col") for flag in flags):
        base = "COL"
    elif isinstance(kind, type) and issubclass(kind, Path):
        base = "DIR" if "director" in help.lower() or "folder" in help.lower() else "FILE"
    else:
        base = {int: "N", float: "X"}.get(kind, "TEXT")
    return f"{base},..." if many and not base.endswith("...") else base


def option(kind: Any, *flags: str, help: str, **settings: Any) -> Any:
    """A command-line option, as the annotation of a command parameter.

    Parameters
    ----------
    kind : type
        The Python type of the parameter (e.g. ``float``, ``str | None``).
    *flags : str
        The option's flags, e.g. ``"--out", "-o"``.
    help : str
        The option's help text.
    **settings
        Further arguments of :func:`typer.Option` (``min``, ``envvar`` ...);
        ``metavar`` defaults to :func:`metavar_for` of ``kind`` and ``flags``.

    Returns
    -------
    typing.Annotated
        ``Annotated[kind, typer.Option(*flags, help=help, **settings)]``.
    """
    settings.setdefault("metavar", metavar_for(kind, flags, help))
    return Annotated[kind, typer.Option(*flags, help=help, **settings)]


# ------------------------------------------------------------------ data and output

DataArgument = Annotated[
    Path,
    typer.Argument(
        help="Task table, unit-level or summary: CSV or TSV (any encoding, compressed too), "
        "Parquet, Excel, Stata .dta or SPSS .sav.",
        metavar="DATA",
        show_default=False,
    ),
]


class OutputFormat(str, Enum):
    """How results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


OutputFormatOption = option(OutputFormat, "--format", "-f", help="Output format.")
OutOption = option(
    Path | None,
    "--out",
    "-o",
    help="Write the results to FILE, by extension (.csv, .tsv, .parquet, .json, .xlsx); "
    "- is standard output.",
)
PlotOption = option(Path | None, "--plot", help="Save the plots to FILE (.png, .pdf, .svg).")

# ------------------------------------------------------------------------ levels

AlphaOption = option(
    list[str] | None, "--alpha", "-a", help="Level(s), e.g. 0.1,0.2 (repeatable). Default 0.1."
)
TargetOption = option(
    list[str] | None,
    "--target",
    help="Task(s) with a few real labels to treat as targets: left out of the history; "
    "their labelled pairs serve ppi and hybrid (comma-separated, repeatable).",
)
TargetLabelsOption = option(
    list[str] | None,
    "--target-labels",
    help="Backtest: each held-out task keeps M of its labelled units (seeded) for ppi and "
    "hybrid; several M run in turn (comma-separated, repeatable).",
)


class PPICritical(str, Enum):
    """Critical values of the target's PPI interval (``ppi`` and ``hybrid``)."""

    student = "student"
    normal = "normal"


PPICriticalOption = option(
    PPICritical,
    "--ppi-critical",
    help="Critical value of the PPI interval in ppi and hybrid: student (default; keeps the "
    "level with few labels; a summary table needs n_labelled) or normal (ppi_py's numbers).",
)
MethodOption = option(
    list[str] | None,
    "--method",
    "-m",
    help="exchangeable, weighted, finite-sample, task-only, synthetic-only, hybrid, ppi "
    "(comma-separated, repeatable). Default exchangeable.",
)
AllocationOption = option(str, "--allocation", help="Budget split: auto, prop:A,B,C or abs:A1,A2.")
BoundsOption = option(
    str | None,
    "--bounds",
    help="Range of the estimand LO,HI: clips final intervals (none: no bounds, even for 0/1 data).",
)
SeedOption = option(int | None, "--seed", help="Random seed: the same seed gives the same results.")

# ------------------------------------------------------------------ time and tasks


class Protocol(str, Enum):
    """Backtest protocols."""

    loo = "loo"
    temporal = "temporal"


TimeColOption = option(str, "--time-col", help="Task-level time column (orders the tasks).")
SplitTimeOption = option(
    str | None,
    "--split-time",
    help="Temporal: tasks with time < V are the history, the rest held out.",
)
DecayOption = option(
    float | None,
    "--decay",
    help="Recency decay RHO for 'weighted': weight RHO ** (latest_time - time).",
)

# ------------------------------------------------------------------------ battle logs

ModelAColOption = option(str, "--model-a-col", help="Column of model A.")
ModelBColOption = option(str, "--model-b-col", help="Column of model B.")

# ------------------------------------------------------------------------ engines


class Engine(str, Enum):
    """Where a file is scanned: embedded DuckDB, or a Spark session."""

    duckdb = "duckdb"
    spark = "spark"


EncodingOption = option(
    str | None,
    "--encoding",
    help="Text encoding of a CSV file, e.g. latin-1, cp1252, utf-16 (default: detected).",
)
EngineOption = option(
    Engine,
    "--engine",
    help="duckdb (embedded, out of core, the default) or spark (a local Spark session, "
    "or the cluster named by --spark-remote; needs the 'spark' extra).",
)


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
    """The method names given with ``--method``, or ``[DEFAULT_METHOD]``; as :func:`alpha_values`.

    The library checks the names.
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
