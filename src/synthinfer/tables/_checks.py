"""The first pass over a unit-level table: counts, sums, and every check of its rows.

One ``group_by(task, coord, source)`` collects, per group, the row count, the
counts of bad rows, the sums that give the group's mean, the value range and,
for each task attribute, its minimum, maximum and non-empty count. The checks
then read these small counts; only when one shows a problem does a second,
short query fetch a few offending values (and their lines, where the rows have
an order) for the message. Values stored as text are checked first, since
they must parse as numbers before anything can be summed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from synthinfer._columns import SOURCES
from synthinfer.tables._problems import Located, key_text, row_problem
from synthinfer.tables._rows import (
    NUMBER,
    UnitLayout,
    answered,
    attribute_column,
    clean_source,
    collect_pandas,
    is_missing,
    is_text,
    moment_terms,
    typed_rows,
)
from synthinfer.tables._sources import POSITION, Table

__all__ = [
    "check_groups",
    "check_text",
    "first_order",
    "first_pass",
    "merge_spellings",
    "task_attributes",
    "value_range",
    "values_are_binary",
]


def _locate(
    table: Table, layout: UnitLayout | None, condition: Callable, column: str, n: int
) -> Located:
    """The count ``n`` with the first few offending values (and their positions where known).

    ``condition`` builds the filter on the typed rows, or on the table as it
    is when ``layout`` is ``None``.
    """
    import narwhals.stable.v2 as nw

    with table.open(positions=True, ordered=True) as frame:
        if layout is None:
            rows = frame.with_columns(__raw=nw.col(column)).filter(condition())
        else:
            rows = typed_rows(frame, layout, raw=column).filter(condition())
        has_position = POSITION in rows.collect_schema()
        if has_position:
            rows = rows.sort(POSITION)
        found = collect_pandas(rows.head(5))
    positions = tuple(int(p) for p in found[POSITION]) if has_position else ()
    return Located(n, tuple(found["__raw"]), positions)


def check_text(table: Table, frame: Any) -> None:
    """Stop on values and weights that are not numbers (text columns only)."""
    import narwhals.stable.v2 as nw

    schema = frame.collect_schema()
    columns = [c for c in ("value", "weight") if c in schema and is_text(schema[c])]
    if not columns:
        return

    def bad(column: str):
        parsed = nw.col(column).cast(nw.String).str.contains(NUMBER).fill_null(True)
        return ~parsed

    flags = {f"__bad_{c}": bad(c).cast(nw.Int64) for c in columns}
    counts = collect_pandas(frame.with_columns(**flags).select(nw.col(*flags).sum())).iloc[0]
    for column in columns:
        if int(counts[f"__bad_{column}"]):
            n = int(counts[f"__bad_{column}"])
            located = _locate(table, None, lambda c=column: bad(c), column, n)
            raise row_problem(table.where, "text", column, located)


# --------------------------------------------------------------------- first pass
def _flags(layout: UnitLayout) -> dict[str, Any]:
    """Per-row 0/1 indicators of bad values, summed per group."""
    import narwhals.stable.v2 as nw

    def infinite(column: str):
        filled = nw.col(column).fill_null(0.0)
        return ~filled.is_finite() & ~filled.is_nan()

    flags = {"value_missing": is_missing("value"), "value_infinite": infinite("value")}
    if layout.weighted:
        flags["weight_missing"] = is_missing("weight")
        flags["weight_infinite"] = infinite("weight")
        flags["weight_negative"] = nw.col("weight").fill_null(0.0) < 0
    if layout.paired:
        flags["unit_missing"] = nw.col("unit").is_null()
    return {name: flag.cast(nw.Int64) for name, flag in flags.items()}


def first_pass(rows: Any, layout: UnitLayout) -> pd.DataFrame:
    """Counts, bad-row counts, sums, value range and attribute ranges per group.

    Parameters
    ----------
    rows : narwhals.LazyFrame
        :func:`~synthinfer.tables._rows.typed_rows`.
    layout : UnitLayout
        The table's columns.

    Returns
    -------
    pandas.DataFrame
        One row per ``(task, coord, source)`` seen, ids as they are (empty
        ones and unknown sources included).
    """
    import narwhals.stable.v2 as nw

    flags = _flags(layout)
    sums = [nw.col(name).sum() for name in flags]
    sums += [nw.col("value").sum().alias("sum_x")]
    sums += [nw.col("value").min().alias("min_x"), nw.col("value").max().alias("max_x")]
    extra = {"value_fraction": _fraction("value")}
    sums.append(nw.col("value_fraction").sum())
    if layout.weighted:
        extra["wx"] = nw.col("weight") * nw.col("value")
        extra["weight_fraction"] = _fraction("weight")
        extra["abs_w"] = nw.col("weight").abs()
        sums += [nw.col("weight").sum().alias("sum_w"), nw.col("wx").sum().alias("sum_wx")]
        sums += [nw.col("weight_fraction").sum(), nw.col("abs_w").max().alias("max_abs_w")]
    for i in range(len(layout.attributes)):
        name = attribute_column(i)
        sums += [
            nw.col(name).min().alias(f"{name}_min"),
            nw.col(name).max().alias(f"{name}_max"),
            nw.col(name).count().alias(f"{name}_count"),
        ]
    if POSITION in rows.collect_schema():
        sums.append(nw.col(POSITION).min().alias("first"))
    rows = answered(rows.with_columns(**flags), layout).with_columns(**extra)  # sums skip empties
    rows, raw = moment_terms(rows, "value", "weight" if layout.weighted else None, "raw_")
    grouped = rows.group_by(*layout.keys, "source")
    return collect_pandas(grouped.agg(nw.len().alias("n"), *sums, *raw))


def _fraction(column: str):
    """1 where a number is not a whole number (exact sums need whole numbers)."""
    import narwhals.stable.v2 as nw

    return ((nw.col(column) - nw.col(column).round(0)).abs() > 0).cast(nw.Int64)  # NaN: 0


def _combine(column: str) -> str:
    """How two spellings' group values combine: smallest, largest, or summed."""
    if column in ("first", "min_x") or column.endswith("_min"):
        return "min"
    if column.startswith("max_") or column.endswith("_max"):
        return "max"
    return "sum"


def merge_spellings(groups: pd.DataFrame, layout: UnitLayout) -> tuple[pd.DataFrame, bool]:
    """Groups by ``source`` trimmed and lower-cased; and whether the rows need that cleaning.

    The first pass groups by ``source`` as written, so a table whose sources
    are already spelled ``real`` and ``synthetic`` is never cleaned row by row.
    """
    raw = groups["source"]
    clean = raw.map(clean_source)
    spelled = [isinstance(r, str) and r == c for r, c in zip(raw, clean, strict=True)]
    if all(spelled):
        return groups, False
    groups = groups.assign(source=clean)
    how = {c: _combine(c) for c in groups.columns if c not in (*layout.keys, "source")}
    merged = groups.groupby([*layout.keys, "source"], dropna=False, sort=False).agg(how)
    return merged.reset_index(), True


def check_groups(groups: pd.DataFrame, table: Table, layout: UnitLayout) -> None:
    """Raise the first problem the counts of :func:`first_pass` show.

    In order: no rows, empty ids, unknown sources, infinite values (an empty
    value is a non-response, counted in ``value_missing``), missing, infinite
    or negative weights, empty units, real rows without synthetic rows, and
    weights summing to zero.
    """
    import narwhals.stable.v2 as nw

    where = table.where
    if groups.empty or groups["n"].sum() == 0:
        raise ValueError(f"{where}: the table has no rows")

    cleaned = replace(layout, attributes=(), clean_sources=True)

    def stop(kind: str, column: str, n: int, condition: Callable) -> None:
        raise row_problem(where, kind, column, _locate(table, cleaned, condition, column, n))

    for column in layout.keys:
        n = int(groups.loc[groups[column].isna(), "n"].sum())
        if n:
            stop("empty-id", column, n, lambda c=column: nw.col(c).is_null())
    unknown = ~groups["source"].isin(SOURCES)
    if unknown.any():
        n = int(groups.loc[unknown, "n"].sum())
        stop("source", "source", n, lambda: ~nw.col("source").is_in(SOURCES).fill_null(False))
    checks = [("value", "infinite")]  # an empty value is a non-response, counted
    if layout.weighted:
        checks += [("weight", "missing"), ("weight", "infinite"), ("weight", "negative")]
    flags = _flags(layout)
    for column, kind in checks:
        n = int(groups[f"{column}_{kind}"].sum())
        if n:
            stop(kind, column, n, lambda f=flags[f"{column}_{kind}"]: f == 1)
    if layout.paired and int(groups["unit_missing"].sum()):
        stop(
            "empty-id", "unit", int(groups["unit_missing"].sum()), lambda: nw.col("unit").is_null()
        )
    _check_sides(groups, layout, where)


def _check_sides(groups: pd.DataFrame, layout: UnitLayout, where: str) -> None:
    keys = layout.keys
    present = groups.pivot_table(index=keys, columns="source", values="n", aggfunc="sum")
    present = present.reindex(columns=list(SOURCES)).fillna(0)
    orphans = present.index[(present["real"] > 0) & (present["synthetic"] == 0)]
    if len(orphans):
        first = orphans[0] if isinstance(orphans[0], tuple) else (orphans[0],)
        raise ValueError(
            f"{where}: {key_text(*first)} has real rows but no synthetic rows ({len(orphans)} "
            f"such task(s)); every task needs synthetic rows in column 'source'"
        )
    if layout.weighted:
        empty = groups[groups["sum_w"] <= 0]
        if len(empty):
            first = empty.iloc[0]
            parts = [first[k] for k in (*keys, "source")]
            raise ValueError(
                f"{where}: the weights of {' / '.join(map(repr, parts))} sum to 0; each task's "
                f"real and synthetic weights need a positive total"
            )


def first_order(groups: pd.DataFrame, column: str) -> tuple[str, ...]:
    """Ids of ``column`` in order of first appearance where the rows have an order, else sorted."""
    if "first" not in groups.columns:
        return tuple(sorted(groups[column].unique()))
    first = groups.groupby(column, sort=False)["first"].min()
    return tuple(first.sort_values(kind="stable").index)


def task_attributes(
    groups: pd.DataFrame, layout: UnitLayout, order: tuple[str, ...], where: str
) -> pd.DataFrame:
    """Each task's attributes (indexed by task, in ``order``); stop if one varies.

    An attribute varies within a task when two of its values differ, or when
    it is empty on some of the task's rows but not on others.
    """
    per_task = groups.groupby("task", sort=False)
    rows = per_task["n"].sum().reindex(list(order))
    values = {}
    for i, column in enumerate(layout.attributes):
        name = attribute_column(i)
        low = per_task[f"{name}_min"].min().reindex(list(order))
        high = per_task[f"{name}_max"].max().reindex(list(order))
        count = per_task[f"{name}_count"].sum().reindex(list(order))
        differ = (low != high) & low.notna()
        varying = (differ | ((count > 0) & (count < rows))).to_numpy(dtype=bool)
        if varying.any():
            task = low.index[varying.argmax()]
            raise ValueError(
                f"{where}: column {column!r} varies within task {task!r}; task attributes "
                f"must be constant within a task (drop the column or make it constant)"
            )
        values[column] = low
    frame = pd.DataFrame(values, index=pd.Index(list(order), name="task"))
    return frame


def value_range(groups: pd.DataFrame) -> tuple[float, float]:
    """The smallest and largest value of the table."""
    return float(groups["min_x"].min()), float(groups["max_x"].max())


def values_are_binary(groups: pd.DataFrame) -> bool:
    """Whether every (non-empty) value of the table is 0 or 1: whole numbers in ``[0, 1]``."""
    low, high = value_range(groups)
    return bool(groups["value_fraction"].sum() == 0 and low >= 0.0 and high <= 1.0)
