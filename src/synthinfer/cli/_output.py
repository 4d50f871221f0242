"""Helpers shared by the command-line modules.

``synthinfer.cli`` and the modules that register further commands on its app
(``_cli_study``, ``_cli_arena``, ``_cli_beyond``) take their list parsing,
error reporting, output formats and table rendering from here. This module
imports none of them, so each can be imported on its own.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer

__all__ = [
    "USER_ERRORS",
    "AllocationOption",
    "AlphaOption",
    "FormatOption",
    "MethodOption",
    "OutputFormat",
    "Protocol",
    "emit",
    "float_list",
    "format_frame",
    "frame_to_json",
    "json_clean",
    "json_value",
    "progress_bar",
    "progress_report",
    "report_errors",
    "split_list",
    "write_frame",
]

F = TypeVar("F", bound=Callable[..., object])

#: Exceptions that :func:`report_errors` reports as a user error (exit code 2).
USER_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    OSError,
    ImportError,
    KeyError,
    TypeError,
)


class OutputFormat(str, Enum):
    """How results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


class Protocol(str, Enum):
    """Backtest protocols."""

    loo = "loo"
    temporal = "temporal"


# Options that several commands share (typer reads these aliases from the
# annotations of the command functions).
AlphaOption = Annotated[
    list[str] | None,
    typer.Option("--alpha", "-a", help="Level(s), e.g. 0.1,0.2 (repeatable). Default 0.1."),
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
AllocationOption = Annotated[str, typer.Option(help="Budget split: prop:A,B,C or abs:A1,A2.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def split_list(values: list[str] | None) -> list[str]:
    """Flatten comma-separated and repeated option values.

    Parameters
    ----------
    values : list of str or None
        The values of a repeatable option, each possibly comma-separated.

    Returns
    -------
    list of str
        The non-empty items, stripped, in order.
    """
    items: list[str] = []
    for value in values or []:
        items.extend(part.strip() for part in str(value).split(",") if part.strip())
    return items


def float_list(values: list[str] | None, name: str) -> list[float]:
    """Parse a list option of numbers.

    Parameters
    ----------
    values : list of str or None
        The values of a repeatable option, each possibly comma-separated.
    name : str
        The option's name (e.g. ``"--alpha"``), used in the error message.

    Returns
    -------
    list of float
        The numbers in order; empty when the option was not given.

    Raises
    ------
    ValueError
        If an item is not a number; the message names the option and the item.
    """
    numbers = []
    for item in split_list(values):
        try:
            numbers.append(float(item))
        except ValueError:
            raise ValueError(f"{name} takes numbers, got {item!r}") from None
    return numbers


def report_errors(func: F) -> F:
    """Wrap a command so user errors and warnings become lines on stderr.

    Parameters
    ----------
    func : callable
        A command function.

    Returns
    -------
    callable
        ``func`` wrapped: an exception in :data:`USER_ERRORS` is printed as one
        ``error: MESSAGE`` line and exits with code 2; each distinct
        ``UserWarning`` raised meanwhile is printed as a ``warning: MESSAGE``
        line (before the error, if any).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = func(*args, **kwargs)
            except USER_ERRORS as error:
                _print_warnings(caught)
                message = _error_text(error)
                typer.echo(f"error: {message}", err=True)
                raise typer.Exit(code=2) from None
        _print_warnings(caught)
        return result

    return wrapper  # type: ignore[return-value]


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print each distinct ``UserWarning`` message once, as a ``warning:`` line."""
    seen = set()
    for item in caught:
        text = str(item.message)
        if text not in seen and issubclass(item.category, UserWarning):
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)


def _error_text(error: Exception) -> str:
    """The message of a user error (an ``OSError`` with its file name, not its errno)."""
    if isinstance(error, OSError) or not error.args:
        return str(error)
    return str(error.args[0])


def json_clean(value: Any) -> Any:
    """Nested dictionaries and lists made JSON-safe with :func:`json_value`."""
    if isinstance(value, dict):
        return {str(key): json_clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(item) for item in value]
    return json_value(value)


def json_value(value: Any) -> Any:
    """One value as JSON: NumPy scalars as Python ones, infinities as strings.

    Parameters
    ----------
    value : object
        A cell of a table.

    Returns
    -------
    object
        ``None`` for NaN, ``"inf"``/``"-inf"`` for infinite numbers, the Python
        value of a NumPy scalar, otherwise ``value`` itself.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if hasattr(value, "item"):
        return json_value(value.item())
    return value


def frame_to_json(frame: pd.DataFrame) -> str:
    """Records as JSON; infinite values as the strings ``"inf"``/``"-inf"``, NaN as null.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.

    Returns
    -------
    str
        A JSON list of one object per row (indent 1, no final newline).
    """
    records = [
        {column: json_value(value) for column, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    return json.dumps(records, indent=1)


def format_frame(frame: pd.DataFrame, fmt: OutputFormat, *, json_newline: bool = False) -> str:
    """Render a frame for people (``table``) or pipes (``csv``, ``json``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    fmt : OutputFormat
        ``table`` (numbers to 4 significant digits), ``csv`` or ``json`` (see
        :func:`frame_to_json`).
    json_newline : bool, default False
        End JSON with a newline too (tables and CSV always end with one).

    Returns
    -------
    str
        The rendered text.
    """
    if fmt is OutputFormat.csv:
        return frame.to_csv(index=False)
    if fmt is OutputFormat.json:
        return frame_to_json(frame) + ("\n" if json_newline else "")
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n"


def write_frame(frame: pd.DataFrame, out: Path, *, json_newline: bool = False) -> None:
    """Write a frame to a file chosen by suffix and say so on stderr.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    out : pathlib.Path
        ``.json`` gets :func:`frame_to_json`; other suffixes go to
        :func:`synthinfer.tables._io.write_table` (CSV, TSV or Parquet).
    json_newline : bool, default False
        End a JSON file with a newline.
    """
    from synthinfer.tables._io import write_table

    if out.suffix.lower() == ".json":
        out.write_text(format_frame(frame, OutputFormat.json, json_newline=json_newline))
    else:
        write_table(frame, out)
    typer.echo(f"wrote {len(frame)} rows to {out}", err=True)


def emit(frame: pd.DataFrame, fmt: OutputFormat, out: Path | None) -> None:
    """Write ``frame`` to ``out`` (see :func:`write_frame`) or print it in ``fmt``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    fmt : OutputFormat
        Format on stdout when ``out`` is None.
    out : pathlib.Path or None
        File to write instead of printing.
    """
    if out is not None:
        write_frame(frame, out)
        return
    sys.stdout.write(format_frame(frame, fmt))


@contextmanager
def _rich_bar(label: str) -> Iterator[tuple[Any, Any]]:
    """A rich progress bar on stderr and its one task."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        yield bar, bar.add_task(label, total=None)


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; ``None`` otherwise.

    Yields a callable ``advance(n)`` (or ``None`` off a terminal, so that
    ``--format csv|json`` output stays clean for pipes).
    """
    if not sys.stderr.isatty():
        yield None
        return
    with _rich_bar(label) as (bar, task):
        bar.update(task, total=total)
        yield lambda done: bar.advance(task, done)


@contextmanager
def progress_report(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar for work that reports ``(done, total)`` itself; ``None`` off a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    with _rich_bar(label) as (bar, task):
        yield lambda done, total: bar.update(task, completed=done, total=total)
