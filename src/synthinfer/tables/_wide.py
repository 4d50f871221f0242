"""Wide score tables: one row per item, a human (real) and a judge (synthetic) score column.

AI-evaluation teams keep judge scores beside human labels in one table, one
row per item. :func:`wide_table` reads such a table as the unit-level (long)
format of DESIGN.md by a lazy query that runs where the data lives (DuckDB
for files, the frame's own backend otherwise): two selects, one per score
column, stacked. Nothing is looped over in Python, so a large file stays out
of core.

The columns, as named by the user (``real``, ``synthetic``, ``task_col``,
``unit_col``) or found by default:

* each row is an item, the **unit**: ``unit_col``, else a ``unit`` or ``id``
  column, else the row number (a file read as one file, or a frame with a
  row order; a folder, a glob or a lazy frame needs ``unit_col``);
* the **task**: ``task_col``, else a ``task`` column, else one task named
  after the file (its name without extensions; ``data`` for a frame);
* the ``real`` column is the human score: an empty cell is an unlabelled item
  (the judge's score only);
* the ``synthetic`` column is the judge's score: an empty cell beside a human
  score is an error (a real unit without synthetic rows, in the paired design
  every wide table is); an item with both cells empty is a judge
  non-response, counted and reported like an empty ``value``;
* ``weight`` and ``coord`` keep their meaning; every other column constant
  within each task is a task attribute, and a column that varies within a task
  (the prompt, the answer, a comment) is item-level text, left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthinfer.tables._problems import lines_text
from synthinfer.tables._rows import collect_pandas, is_text
from synthinfer.tables._sources import POSITION, ScanOptions, Table, is_path

__all__ = ["WIDE_RESERVED", "WideLayout", "wide_table"]

WIDE_RESERVED = ("task", "unit", "source", "value")
"""Names of the long table that a wide table's other columns must not take."""

_KEPT = ("weight", "coord")
"""Columns with a fixed meaning in the long table, carried over as they are."""

_SHOWN = 5


@dataclass(frozen=True)
class WideLayout:
    """Which columns of a wide score table are what, and the query that makes it long.

    Attributes
    ----------
    real, synthetic : str
        The human and the judge score columns.
    task : str or None
        The task column, or ``None`` for one task named :attr:`task_name`.
    task_name : str
        The one task's name when there is no task column.
    unit : str
        The item column (:data:`POSITION` for the row number).
    carried : tuple of str
        Columns carried to every long row: ``weight``, ``coord`` and the task attributes.
    """

    real: str
    synthetic: str
    task: str | None
    task_name: str
    unit: str
    carried: tuple[str, ...] = ()

    def long(self, frame: Any) -> Any:
        """The unit-level rows of the wide ``frame`` (a Narwhals LazyFrame), lazily.

        Each item gives a synthetic row (its judge score, empty when the judge
        gave none) and, when its human cell is not empty, a real row; both
        carry the item as ``unit`` and keep :data:`POSITION` when ``frame``
        has it.
        """
        import narwhals.stable.v2 as nw

        schema = frame.collect_schema()
        text = is_text(schema[self.real]) or is_text(schema[self.synthetic])
        kind = nw.String if text else nw.Float64
        kept = [c for c in (*self.carried, POSITION) if c in schema]
        task = nw.lit(self.task_name) if self.task is None else nw.col(self.task)

        def side(rows: Any, source: str, column: str) -> Any:
            return rows.select(
                task.alias("task"),
                nw.col(self.unit).alias("unit"),
                nw.lit(source).alias("source"),
                nw.col(column).cast(kind).alias("value"),
                *[nw.col(c) for c in kept],
            )

        labelled = frame.filter(present(self.real, schema[self.real]))
        return nw.concat(
            [side(frame, "synthetic", self.synthetic), side(labelled, "real", self.real)],
            how="vertical",
        )


def present(column: str, dtype: Any) -> Any:
    """Whether a score cell holds something: not null, not NaN, not blank text."""
    import narwhals.stable.v2 as nw

    expr = nw.col(column)
    if is_text(dtype):
        return expr.cast(nw.String).str.strip_chars().fill_null("") != ""
    if dtype.is_float():
        return ~expr.is_null() & ~expr.fill_null(0.0).is_nan()
    return ~expr.is_null()


# --------------------------------------------------------------------------- layout
def _default_task_name(source: object) -> str:
    """The one task of a table without a task column: the file's name, or ``data``."""
    if not is_path(source):
        return "data"
    name = Path(str(source)).name
    return name.split(".")[0] or name


def _missing_column(where: str, what: str, column: str, names: Sequence[str], fix: str) -> str:
    shown = ", ".join(repr(c) for c in names if c != POSITION)
    return f"{where}: no {what} column {column!r} (columns: {shown}); {fix}"


def _layout_columns(
    where: str,
    names: list[str],
    real: str,
    synthetic: str,
    task_col: str | None,
    unit_col: str | None,
) -> tuple[str | None, str]:
    """The task and unit columns (checked), from the user's names or the defaults."""
    scores = (
        (real, "real (human) score", "--real-col / real="),
        (synthetic, "synthetic (judge) score", "--synth-col / synthetic="),
    )
    for column, what, option in scores:
        if column not in names:
            raise ValueError(_missing_column(where, what, column, names, f"name it with {option}"))
    if real == synthetic:
        raise ValueError(
            f"{where}: the real and the synthetic score are both column {real!r}; name two "
            f"different columns (--real-col, --synth-col)"
        )
    keys = ((task_col, "task", "--task-col"), (unit_col, "unit", "--unit-col"))
    for column, what, option in keys:
        if column is not None and column not in names:
            raise ValueError(
                _missing_column(where, what, column, names, f"check the name given to {option}")
            )
    task = task_col or ("task" if "task" in names else None)
    unit = unit_col or next((c for c in ("unit", "id") if c in names), None)
    if unit is None and POSITION not in names:
        raise ValueError(
            f"{where}: a wide score table read from several files or as a lazy frame has no "
            f"row numbers to tell its items apart; name the item id column with --unit-col "
            f"(unit_col=)"
        )
    used = {real, synthetic, task, unit}
    clash = [c for c in names if c in WIDE_RESERVED and c not in used]
    if clash:
        raise ValueError(
            f"{where}: column {clash[0]!r} of the wide score table would clash with the "
            f"unit-level column of that name; rename or drop it (or name it with "
            f"{'--task-col' if clash[0] == 'task' else '--unit-col'} if it is the "
            f"{'task' if clash[0] == 'task' else 'item id'})"
        )
    return task, unit or POSITION


def _task_attributes(frame: Any, task: str | None, others: list[str]) -> tuple[str, ...]:
    """The ``others`` constant within every task (one aggregation where the data lives)."""
    import narwhals.stable.v2 as nw

    if not others:
        return ()
    counts = [nw.col(c).n_unique().alias(f"__n{i}") for i, c in enumerate(others)]
    per_task = frame.select(*counts) if task is None else frame.group_by(task).agg(*counts)
    largest = collect_pandas(per_task).max()
    return tuple(c for i, c in enumerate(others) if not int(largest.get(f"__n{i}", 0) or 0) > 1)


def _check_judged(frame: Any, layout: WideLayout, where: str) -> None:
    """Stop on items with a human score but no judge score, naming their rows."""
    import narwhals.stable.v2 as nw

    schema = frame.collect_schema()
    alone = present(layout.real, schema[layout.real]) & ~present(
        layout.synthetic, schema[layout.synthetic]
    )
    bad = frame.filter(alone)
    count = int(collect_pandas(bad.select(nw.len().alias("n")))["n"].iloc[0])
    if not count:
        return
    ordered = POSITION in schema
    shown = collect_pandas((bad.sort(POSITION) if ordered else bad).head(_SHOWN))
    if ordered:
        place = lines_text([int(p) for p in shown[POSITION]], count)
    else:
        units = ", ".join(repr(u) for u in shown[layout.unit])
        place = f"item(s) {units}" + (f" and {count - _SHOWN} more" if count > _SHOWN else "")
    raise ValueError(
        f"{where}: {place}: human score without a judge score ({count} row(s) have "
        f"{layout.real!r} but an empty {layout.synthetic!r}); every labelled item needs its "
        f"judge score: score those items with the judge, or empty their human score"
    )


def wide_table(
    source: object,
    options: ScanOptions,
    *,
    real: str,
    synthetic: str,
    task_col: str | None = None,
    unit_col: str | None = None,
    name: str | None = None,
) -> Table:
    """A wide score table as a unit-level :class:`Table` (reshaped lazily where it lives).

    Parameters
    ----------
    source : path or dataframe
        One row per item: a CSV/TSV, Parquet, Excel, Stata or SPSS file, or a
        dataframe of any Narwhals backend.
    options : ScanOptions
        How files are read.
    real, synthetic : str
        The human (real) and judge (synthetic) score columns.
    task_col : str, optional
        The task column (default ``task`` if present, else one task named
        after the file).
    unit_col : str, optional
        The item id column (default ``unit`` or ``id`` if present, else the
        row number).
    name : str, optional
        The data's name in messages (default: the path, or ``data``).

    Returns
    -------
    Table
        The source with a reshape to columns ``task, unit, source, value``
        (and ``weight``, ``coord`` and the task attributes).

    Raises
    ------
    ValueError
        A named column is missing, the two score columns are one, a column
        would clash with the long table's names, items have a human score but
        no judge score, or items cannot be told apart (no row order, no id).
    """
    plain = Table(source, options, name)
    where = plain.where
    with plain.open(positions=True) as frame:
        names = [str(c) for c in frame.collect_schema().names()]
        task, unit = _layout_columns(where, names, real, synthetic, task_col, unit_col)
        skip = {real, synthetic, task, unit, POSITION, *_KEPT}
        others = [c for c in names if c not in skip]
        attributes = _task_attributes(frame, task, others)
        layout = WideLayout(
            real=real,
            synthetic=synthetic,
            task=task,
            task_name=_default_task_name(source),
            unit=unit,
            carried=tuple(c for c in names if c in _KEPT) + attributes,
        )
        _check_judged(frame, layout, where)
    return Table(source, options, name=where, reshape=layout.long)
