"""Output of the command line: tables, files, progress bars and error lines.

The command modules take from here how a frame is rendered (``table``,
``csv``, ``json``), written to a file or printed, how a long computation shows
its progress on a terminal, and which exceptions become a one-line
``error:`` message with exit code 2 (:func:`report_errors`).

Files are written by extension with :func:`synthinfer.tables.write_table`
(``.csv``, ``.tsv``, ``.parquet``, ``.json``, ``.xlsx``); an unknown
extension is an error, never a silent CSV. The file name ``-`` is standard
output: ``--out -`` prints what ``--out FILE`` writes (CSV, or JSON with
``--format json``), and nothing is ever written to a file named ``-``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import typer

from synthinfer.cli._options import OutOption, OutputFormat, OutputFormatOption

__all__ = [
    "STDOUT",
    "USER_ERRORS",
    "CommandCall",
    "OutputOptions",
    "emit",
    "format_frame",
    "frame_to_json",
    "is_stdout",
    "is_user_error",
    "json_clean",
    "json_value",
    "progress_bar",
    "progress_report",
    "record_provenance",
    "report_errors",
    "running_command",
    "save_table",
    "write_frame",
]

F = TypeVar("F", bound=Callable[..., object])

STDOUT = "-"
"""The file name that means standard output (``--out -``)."""


def is_stdout(out: str | os.PathLike | None) -> bool:
    """Whether ``out`` is the name ``-`` of standard output."""
    return out is not None and os.fspath(out) == STDOUT


#: Exceptions that :func:`report_errors` may report as a user error (exit code 2):
#: bad values (``ValueError`` and its subclasses, e.g. a missing input column),
#: files that cannot be read or written, and a missing optional dependency
#: (see :func:`is_user_error`). Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
    ImportError,
)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is a documented user error rather than a bug.

    Parameters
    ----------
    error : BaseException
        The exception a command raised.

    Returns
    -------
    bool
        True for the classes in :data:`USER_ERRORS`, where an ``ImportError``
        counts only for a missing optional dependency: a module outside
        ``synthinfer`` that is not installed, or the error the library raises
        with installation advice from the ``ImportError`` of such a module.
    """
    if not isinstance(error, USER_ERRORS):
        return False
    if isinstance(error, ImportError):
        return _missing_module(error) or isinstance(error.__cause__, ImportError)
    return True


def _missing_module(error: ImportError) -> bool:
    """Whether ``error`` says that a module outside ``synthinfer`` is not installed."""
    if not isinstance(error, ModuleNotFoundError) or error.name is None:
        return False
    return error.name.split(".")[0] != "synthinfer"


def report_errors(func: F) -> F:
    """Wrap a command so user errors and warnings become lines on stderr.

    Parameters
    ----------
    func : callable
        A command function.

    Returns
    -------
    callable
        ``func`` wrapped: a user error (see :func:`is_user_error`) is printed
        as one ``error: MESSAGE`` line and exits with code 2; each distinct
        ``UserWarning`` raised meanwhile is printed as a ``warning: MESSAGE``
        line (before the error, if any). Any other exception propagates with
        its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = func(*args, **kwargs)
            except USER_ERRORS as error:
                if not is_user_error(error):
                    raise
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
    """One cell as JSON: ``None`` for NaN, ``"inf"``/``"-inf"`` for infinite numbers.

    A NumPy scalar becomes its Python value; any other value is returned as it is.
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


def format_frame(
    frame: pd.DataFrame, output_format: OutputFormat, *, json_newline: bool = False
) -> str:
    """Render a frame for people (``table``) or pipes (``csv``, ``json``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    output_format : OutputFormat
        ``table`` (numbers to 4 significant digits), ``csv`` or ``json`` (see
        :func:`frame_to_json`).
    json_newline : bool, default False
        End JSON with a newline too (tables and CSV always end with one).

    Returns
    -------
    str
        The rendered text.
    """
    if output_format is OutputFormat.csv:
        return frame.to_csv(index=False)
    if output_format is OutputFormat.json:
        return frame_to_json(frame) + ("\n" if json_newline else "")
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n"


def save_table(frame: pd.DataFrame, out: Path) -> None:
    """Write a frame with :func:`synthinfer.tables.write_table` into an existing folder.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    out : pathlib.Path
        The file; its extension chooses the format (``.csv``, ``.tsv``,
        ``.parquet``, ``.json``, ``.xlsx``; CSV, TSV and JSON compressed
        too). ``-`` prints CSV to standard output.

    Raises
    ------
    FileNotFoundError
        If the folder of ``out`` does not exist (a user error, worded as
        pandas words it).
    ValueError
        If the extension is not one of these (the message lists them).
    """
    from synthinfer.tables import write_table

    if is_stdout(out):
        write_table(frame, sys.stdout, format="csv")
        return
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Cannot save file into a non-existent directory: '{out.parent}'")
    write_table(frame, out)


def write_frame(frame: pd.DataFrame, out: Path, *, json_newline: bool = False) -> None:
    """Write a frame to a file chosen by extension and say so on stderr.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    out : pathlib.Path
        ``.json`` gets :func:`frame_to_json`; other extensions go to
        :func:`save_table` (``.csv``, ``.tsv``, ``.parquet``, ``.xlsx``, or
        an error); ``-`` prints CSV to standard output.
    json_newline : bool, default False
        End a JSON file with a newline.
    """
    if is_stdout(out):
        save_table(frame, out)
        return
    if out.suffix.lower() == ".json":
        out.write_text(format_frame(frame, OutputFormat.json, json_newline=json_newline))
    else:
        save_table(frame, out)
    typer.echo(f"wrote {len(frame)} rows to {out}", err=True)


def emit(
    frame: pd.DataFrame,
    output_format: OutputFormat,
    out: Path | None,
    *,
    json_newline: bool = False,
) -> None:
    """Write ``frame`` to ``out`` (see :func:`write_frame`) or print it in ``output_format``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    output_format : OutputFormat
        Format on stdout when ``out`` is None.
    out : pathlib.Path or None
        File to write instead of printing; ``-`` prints the file's content
        (CSV, or JSON with ``output_format`` json) to standard output.
    json_newline : bool, default False
        End JSON, printed or written, with a newline.

    A file gets its provenance beside it (:func:`record_provenance`).
    """
    if is_stdout(out) and output_format is OutputFormat.table:
        output_format = OutputFormat.csv
    if out is not None and not is_stdout(out):
        write_frame(frame, out, json_newline=json_newline)
        record_provenance(out, frame.attrs.get("seed"))
        return
    sys.stdout.write(format_frame(frame, output_format, json_newline=json_newline))


@dataclass(frozen=True)
class CommandCall:
    """The command that is running: its name, its file arguments and its other parameters."""

    name: str
    data: dict[str, str]
    options: dict[str, Any]


_RUNNING: ContextVar[CommandCall | None] = ContextVar("synthinfer_command", default=None)


@contextmanager
def running_command(
    name: str, params: dict[str, Any], arguments: Collection[str]
) -> Iterator[CommandCall]:
    """Record the running command for :func:`record_provenance` while it runs.

    Parameters
    ----------
    name : str
        The command's name (``infer``).
    params : dict
        Its parameters as the command line parsed them.
    arguments : collection of str
        Which parameters are positional arguments: those that name files
        are the data files. Every path is kept absolute.
    """
    data = {
        key: str(Path(value).resolve())
        for key, value in params.items()
        if key in arguments and isinstance(value, os.PathLike)
    }
    options = {
        key: str(Path(value).resolve()) if isinstance(value, os.PathLike) else value
        for key, value in params.items()
        if key not in data
    }
    call = CommandCall(name=name, data=data, options=options)
    token = _RUNNING.set(call)
    try:
        yield call
    finally:
        _RUNNING.reset(token)


def record_provenance(out: Path, seed: int | None = None) -> Path | None:
    """Write ``OUT.meta.json`` beside a results file: the command, its data files, seed, options.

    The command is the one running (:func:`running_command`, which the app
    enters for every command); ``synthinfer report`` reads the file back.
    Outside a command nothing is written.

    Parameters
    ----------
    out : pathlib.Path
        The results file just written.
    seed : int or None
        The seed of the run.

    Returns
    -------
    pathlib.Path or None
        The provenance file, when written.
    """
    from synthinfer.report import Provenance, write_provenance

    call = _RUNNING.get()
    if call is None:
        return None
    provenance = Provenance(command=call.name, data=call.data, seed=seed, options=call.options)
    return write_provenance(out, provenance)


@dataclass(frozen=True)
class OutputOptions:
    """How a command prints its results (``--format``), or the file it writes them to (``--out``).

    An option group (see :mod:`synthinfer.cli._groups`). ``--out -`` is
    standard output: it becomes no file (``out`` is ``None``) and, when the
    format is ``table``, ``--format csv``, so a command prints there exactly
    what ``--out FILE.csv`` writes (JSON with ``--format json``).
    """

    output_format: OutputFormatOption = OutputFormat.table
    out: OutOption = None

    def __post_init__(self) -> None:
        if is_stdout(self.out):
            object.__setattr__(self, "out", None)
            if self.output_format is OutputFormat.table:
                object.__setattr__(self, "output_format", OutputFormat.csv)

    @property
    def table(self) -> bool:
        """Whether results are printed as tables for people (``--format table``)."""
        return self.output_format is OutputFormat.table

    def render(self, frame: pd.DataFrame, *, json_newline: bool = False) -> str:
        """``frame`` rendered in the output format (see :func:`format_frame`)."""
        return format_frame(frame, self.output_format, json_newline=json_newline)

    def emit(self, frame: pd.DataFrame, *, json_newline: bool = False) -> None:
        """Write ``frame`` to the output file, or print it (see :func:`emit`)."""
        emit(frame, self.output_format, self.out, json_newline=json_newline)


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
