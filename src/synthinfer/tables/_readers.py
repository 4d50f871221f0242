"""Which reader a source needs: a unit-level table as it is, a wide score table, or a log file.

:func:`unit_table` is called before the format check of
:meth:`synthinfer.data.TaskData.load`. Given the source and the reading options
(:class:`ReadOptions`), it returns the :class:`Table` that the one aggregation
reads:

* ``format_in="promptfoo"``, or a JSON file whose top level has
  ``results.results`` (``promptfoo eval -o results.json``): the results as
  unit-level rows (:mod:`synthinfer.tables._promptfoo`);
* ``format_in="inspect"``, or a file the Inspect AI reader recognises: its
  samples as unit-level rows;
* ``format_in="wide"``, or ``real`` and ``synthetic`` given: a wide score table
  (:mod:`synthinfer.tables._wide`), reshaped lazily where it lives;
* otherwise the source as it is (a unit-level or summary table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthinfer._validation import check_choice
from synthinfer.tables._promptfoo import is_promptfoo_source, promptfoo_long_table
from synthinfer.tables._sources import ScanOptions, Table, source_name
from synthinfer.tables._wide import wide_table

__all__ = ["FORMATS_IN", "ReadOptions", "unit_table"]

FORMATS_IN = ("wide", "promptfoo", "inspect")
"""Input formats that are read into the unit-level table (``format_in=``, ``--format-in``)."""


@dataclass(frozen=True)
class ReadOptions:
    """How a source that is not a unit-level table already is read into one.

    Parameters
    ----------
    real, synthetic : str, optional
        A wide score table's human and judge score columns; for an evaluation
        log (promptfoo, Inspect AI), the names of the human and the judge score
        (see those readers).
    task_col, unit_col : str, optional
        A wide score table's task and item id columns (defaults: ``task``,
        else one task named after the file; ``unit`` or ``id``, else the row
        number).
    format_in : {"wide", "promptfoo", "inspect"}, optional
        The input format; default: found from the file's content and the
        options given.
    """

    real: str | None = None
    synthetic: str | None = None
    task_col: str | None = None
    unit_col: str | None = None
    format_in: str | None = None

    def __post_init__(self) -> None:
        for field in ("real", "synthetic", "task_col", "unit_col"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{field} must be a column or score name, got {value!r}")
        if self.format_in is not None:
            object.__setattr__(
                self, "format_in", check_choice(self.format_in, FORMATS_IN, "format_in")
            )

    @classmethod
    def of(cls, value: ReadOptions | dict[str, Any] | None) -> ReadOptions:
        """``value`` as read options: as it is, from a dict of its fields, or the defaults."""
        if value is None:
            return cls()
        if isinstance(value, ReadOptions):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise ValueError(
            f"read must be ReadOptions or a dict of real, synthetic, task_col, unit_col, "
            f"format_in; got {type(value).__name__}"
        )

    def keywords(self) -> dict[str, str | None]:
        """The options as keyword arguments of :meth:`synthinfer.data.TaskData.load`."""
        return {
            "real": self.real,
            "synthetic": self.synthetic,
            "task_col": self.task_col,
            "unit_col": self.unit_col,
            "format_in": self.format_in,
        }

    @property
    def given(self) -> bool:
        """Whether any option is given."""
        return self.names_columns or self.format_in is not None

    @property
    def names_columns(self) -> bool:
        """Whether any score or column is named (which makes a source a wide score table)."""
        return any(v is not None for v in (self.real, self.synthetic, self.task_col, self.unit_col))


def _inspect_reader() -> tuple[Any, Any] | None:
    """The Inspect AI reader's ``(is_inspect_source, inspect_long_table)``, if installed."""
    try:
        from synthinfer.tables._inspect import inspect_long_table, is_inspect_source
    except ImportError:
        return None
    return is_inspect_source, inspect_long_table


def _inspect_table(source: object, options: ScanOptions, reading: ReadOptions, where: str) -> Table:
    reader = _inspect_reader()
    if reader is None:
        raise ValueError(f"{where}: this installation has no Inspect AI log reader")
    frame = reader[1](source, real=reading.real, synthetic=reading.synthetic, name=where)
    return Table(frame, options, where)


def _wide(source: object, options: ScanOptions, reading: ReadOptions, name: str | None) -> Table:
    if reading.real is None or reading.synthetic is None:
        missing = "real (--real-col)" if reading.real is None else "synthetic (--synth-col)"
        raise ValueError(
            f"{name or source_name(source)}: a wide score table needs both score columns named: "
            f"give {missing} too (task_col and unit_col only apply to a wide score table)"
        )
    return wide_table(
        source,
        options,
        real=reading.real,
        synthetic=reading.synthetic,
        task_col=reading.task_col,
        unit_col=reading.unit_col,
        name=name,
    )


def unit_table(
    source: object,
    options: ScanOptions,
    reading: ReadOptions | None = None,
    name: str | None = None,
) -> Table:
    """The table the aggregation reads for ``source``, in the unit-level (or summary) format.

    Parameters
    ----------
    source : path or dataframe
        Anything :meth:`synthinfer.data.TaskData.load` takes.
    options : ScanOptions
        How files are read.
    reading : ReadOptions, optional
        The input format and its columns (default: the source as it is,
        unless its content shows an evaluation log).
    name : str, optional
        The data's name in messages (default: the path, or ``data``).

    Returns
    -------
    Table
        A promptfoo or Inspect AI log as its unit-level rows, a wide score
        table reshaped to them (lazily), or the source as it is.
    """
    reading = reading or ReadOptions()
    where = name or source_name(source)
    form = reading.format_in
    if form == "promptfoo" or (form is None and is_promptfoo_source(source)):
        frame = promptfoo_long_table(
            source, real=reading.real, synthetic=reading.synthetic, name=where
        )
        return Table(frame, options, where)
    if form == "inspect" or (form is None and _is_inspect(source)):
        return _inspect_table(source, options, reading, where)
    if form == "wide" or (form is None and reading.names_columns):
        return _wide(source, options, reading, name)
    return Table(source, options, name)


def _is_inspect(source: object) -> bool:
    reader = _inspect_reader()
    return reader is not None and bool(reader[0](source))
