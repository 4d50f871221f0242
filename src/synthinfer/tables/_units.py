"""Per-task sufficient statistics of a unit-level table, from a path or any dataframe.

:func:`unit_statistics` reduces a unit-level (long) table (DESIGN.md:
``task``, ``source``, ``value``, optional ``weight``, ``unit``, ``coord`` and
task attributes) to one row per ``(task, coord)`` with the counts, means and
estimator variances (``se²``) of the synthetic sample, the real sample and
the gap. The reduction is written once against Narwhals and runs natively on
the data's own backend; files are scanned by DuckDB (or Spark). This is the
one place where a unit-level table is checked: every problem stops with one
``ValueError`` naming the data, the column and what to do.

:class:`UnitRows` reads a table's rows back a few tasks at a time, for the
interval families that need them (bootstrap, Hoeffding, exact quantiles).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthinfer._columns import NO_COORD, SOURCES, UNIT_STATISTICS_COLUMNS
from synthinfer.tables._checks import (
    check_groups,
    check_text,
    first_order,
    first_pass,
    merge_spellings,
    task_attributes,
    value_range,
)
from synthinfer.tables._pairs import check_pairs, pair_sums
from synthinfer.tables._reads import UnitRows
from synthinfer.tables._rows import (
    UnitLayout,
    collect_pandas,
    exact_sums,
    exact_variance,
    group_means,
    moment_terms,
    text_ids,
    typed_rows,
    variance,
)
from synthinfer.tables._sources import DEFAULT_MEMORY_LIMIT, ScanOptions, Table

__all__ = [
    "UnitSummary",
    "scan_options",
    "summarize_units",
    "to_summary_table",
    "unit_statistics",
]

_CONVERSION = re.compile(r'converting column "(?P<column>[^"]+)"')


def scan_options(
    engine: str = "duckdb",
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    spark_remote: str | None = None,
) -> ScanOptions:
    """:class:`ScanOptions` from the public arguments."""
    return ScanOptions(engine, memory_limit, threads, spark_remote)


@dataclass(frozen=True)
class UnitSummary:
    """A checked unit-level table reduced to per-task statistics.

    Attributes
    ----------
    statistics : pandas.DataFrame
        One row per ``(task, coord)``, sorted, with the columns
        :data:`synthinfer._columns.UNIT_STATISTICS_COLUMNS`.
    attributes : pandas.DataFrame
        Task attributes, one row per task (indexed by task, in :attr:`order`).
    order : tuple of str
        Tasks in order of first appearance where the rows have an order
        (frames in memory, single files), otherwise sorted.
    coords : tuple of str
        Coordinates, in the same kind of order (``("",)`` without ``coord``).
    value_range : tuple of float
        Smallest and largest value.
    rows : UnitRows
        The rows, to read back per task.
    """

    statistics: pd.DataFrame
    attributes: pd.DataFrame
    order: tuple[str, ...]
    coords: tuple[str, ...]
    value_range: tuple[float, float]
    rows: UnitRows


def summarize_units(table: Table, attributes: Sequence[str] | str = ()) -> UnitSummary:
    """Check a unit-level table and reduce it to per-``(task, coord)`` statistics.

    Parameters
    ----------
    table : Table
        The source and how to read it.
    attributes : sequence of str or "all"
        Task attributes to carry (``"all"``: every column without a fixed meaning).

    Returns
    -------
    UnitSummary
    """
    try:
        return _summarize(table, attributes)
    except Exception as error:
        column = _unconverted_column(error, table)
        if column is None:
            raise
    return summarize_units(replace(table, text_columns=(*table.text_columns, column)), attributes)


def _unconverted_column(error: Exception, table: Table) -> str | None:
    """The CSV column DuckDB failed to convert by its type guess (to read it as text)."""
    if not table.is_file or type(error).__name__ != "ConversionException":
        return None
    match = _CONVERSION.search(str(error))
    column = match["column"] if match else None
    return None if column is None or column in table.text_columns else column


def _summarize(table: Table, attributes: Sequence[str] | str) -> UnitSummary:
    with table.open(positions=True) as frame:
        layout = UnitLayout.of(frame.collect_schema().names(), attributes, table.where)
        check_text(table, frame)
        groups = first_pass(typed_rows(frame, replace(layout, clean_sources=False)), layout)
    groups, clean = merge_spellings(groups, layout)
    layout = replace(layout, clean_sources=clean)
    check_groups(groups, table, layout)
    ids = {key: dict(zip(text_ids(groups[key]), groups[key], strict=True)) for key in layout.keys}
    groups = _text_keys(groups, layout.keys)
    exact = exact_sums(groups, layout.weighted)
    with table.open() as frame:
        rows = typed_rows(frame, replace(layout, attributes=()))
        if layout.paired:
            size = None if exact else len(groups)
            pairs = _text_keys(pair_sums(rows, layout, size), layout.keys)
            moments = _source_moments(pairs, layout.keys)
        elif exact:
            pairs, moments = None, _raw_moments(groups, layout.keys)
        else:
            pairs = None
            moments = _text_keys(_second_moments(rows, layout, len(groups)), layout.keys)
    statistics = _assemble(groups, moments, pairs, layout, exact)
    if pairs is not None:
        check_pairs(table, layout, pairs, statistics, ids["task"])
    order = first_order(groups, "task")
    return UnitSummary(
        statistics=statistics,
        attributes=task_attributes(groups, layout, order, table.where),
        order=order,
        coords=first_order(groups, "coord") if layout.coord else (NO_COORD,),
        value_range=value_range(groups),
        rows=UnitRows(
            table,
            replace(layout, attributes=()),
            ids["task"],
            ids.get("coord", {}),
            value_range(groups),
        ),
    )


def _text_keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.assign(**{key: text_ids(frame[key]) for key in keys})


def _second_moments(rows: Any, layout: UnitLayout, size: int) -> pd.DataFrame:
    """Sums of powers of ``y = x − shift`` per ``(task, coord, source)``.

    The shift is each group's mean as first computed, returned with the sums:
    ``shift + Σwy / Σw`` is then the mean to full precision. ``size`` bounds
    the number of groups (so a query planner sees the means table is small).
    """
    import narwhals.stable.v2 as nw

    keys = [*layout.keys, "source"]
    means = group_means(rows, layout, keys).head(size)
    centered = rows.join(means, on=keys, how="inner")
    centered = centered.with_columns(y=nw.col("value") - nw.col("mean"))
    terms, sums = moment_terms(centered, "y", "weight" if layout.weighted else None)
    return collect_pandas(terms.group_by(*keys).agg(*sums, nw.col("mean").max().alias("shift")))


def _raw_moments(groups: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The first pass's sums about 0, as the per-source moment sums (exact for whole numbers)."""
    columns = {c: c.removeprefix("raw_") for c in groups.columns if c.startswith("raw_")}
    moments = groups[[*keys, "source", *columns]].rename(columns=columns)
    return moments.assign(shift=0.0)


def _source_moments(pairs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The per-source sums of :func:`pair_sums`, one row per ``(task, coord, source)``."""
    parts = []
    for source, side in (("real", "r"), ("synthetic", "s")):
        columns = {c: c.removeprefix(f"{side}_") for c in pairs.columns if c.startswith(f"{side}_")}
        parts.append(pairs[[*keys, *columns]].rename(columns=columns).assign(source=source))
    return pd.concat(parts, ignore_index=True)


def _assemble(
    groups: pd.DataFrame,
    moments: pd.DataFrame,
    pairs: pd.DataFrame | None,
    layout: UnitLayout,
    exact: bool,
) -> pd.DataFrame:
    """One row per ``(task, coord)``: the columns of ``UNIT_STATISTICS_COLUMNS``."""
    keys, weighted = layout.keys, layout.weighted
    spread = exact_variance if exact else variance
    both = groups.drop(columns=[c for c in groups if c.startswith("raw_")])
    both = both.merge(moments, on=[*keys, "source"], how="left")
    total = both["sum_w"] if weighted else both["n"].astype(float)
    both["mean"] = both["shift"] + both["sum_wy"] / total
    both["var"] = spread(both, weighted, total)
    side = {s: both[both["source"] == s].set_index(keys) for s in SOURCES}
    synth, real = side["synthetic"], side["real"].reindex(side["synthetic"].index)
    out = pd.DataFrame(index=synth.index)
    out["n_synth"], out["synth_mean"], out["synth_var"] = synth["n"], synth["mean"], synth["var"]
    out["n_real"], out["real_mean"], out["real_var"] = real["n"], real["mean"], real["var"]
    if pairs is None:
        out["n_pairs"] = 0
        out["gap_mean"] = out["real_mean"] - out["synth_mean"]
        out["gap_var"] = out["real_var"] + out["synth_var"]
    else:
        paired = pairs.set_index(keys).reindex(out.index)
        total = paired["p_sum_w"] if weighted else paired["p_count"].astype(float)
        out["n_pairs"] = paired["p_count"]
        out["gap_mean"] = paired["p_sum_wd"] / total
        out["gap_var"] = spread(paired, weighted, total, "p_")
    out = out.reset_index()
    if not layout.coord:
        out.insert(1, "coord", NO_COORD)
    return _finish(out)


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    out = out.sort_values(["task", "coord"], kind="stable").reset_index(drop=True)
    for column in ("n_synth", "n_real", "n_pairs"):
        out[column] = out[column].fillna(0).astype(np.int64)
    history = out["n_real"] > 0
    for column in ("real_mean", "real_var", "gap_mean", "gap_var"):
        out[column] = out[column].astype(float).where(history, np.nan)
    for column in ("synth_mean", "synth_var"):
        out[column] = out[column].astype(float)
    return out[list(UNIT_STATISTICS_COLUMNS)]


# ------------------------------------------------------------------------- public API
def unit_statistics(
    source: Any,
    *,
    engine: Literal["duckdb", "spark"] = "duckdb",
    attributes: Sequence[str] | Literal["all"] = (),
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> pd.DataFrame:
    """Reduce a unit-level table to per-``(task, coord)`` sufficient statistics.

    Parameters
    ----------
    source : path or dataframe
        A unit-level table with columns ``task``, ``source`` (``real`` or
        ``synthetic``), ``value`` and optionally ``weight``, ``unit``,
        ``coord``: a CSV/TSV or Parquet path (a partitioned folder or a glob
        too), or a pandas, polars (eager or lazy), pyarrow, DuckDB, Spark or
        other Narwhals-supported frame, computed on where it lives.
    engine : {"duckdb", "spark"}
        What scans files: DuckDB (embedded, out of core) or Spark.
    attributes : sequence of str or "all"
        Task-level columns (e.g. ``time``) to carry along; each must be
        constant within a task. ``"all"`` takes every column other than
        ``task, source, value, weight, unit, coord``.
    memory_limit : str
        DuckDB memory limit (e.g. ``"1GB"``); DuckDB spills to disk beyond it.
    threads : int, optional
        DuckDB threads (default: all cores).

    Returns
    -------
    pandas.DataFrame
        One row per ``(task, coord)``, sorted, with columns ``task, coord,
        n_synth, synth_mean, synth_var, n_real, real_mean, real_var, n_pairs,
        gap_mean, gap_var`` and the requested attributes. ``coord`` is ``""``
        when the table has no ``coord`` column. ``*_var`` are estimator
        variances (``se²``); targets (no real rows) have NaN real and gap
        fields and ``n_real = 0``; ``n_pairs`` is 0 in an unpaired design.

    Raises
    ------
    ValueError
        Missing columns, empty ids, unknown ``source`` values, non-numeric,
        NaN or infinite values or weights, negative weights, weights summing
        to zero, real rows without synthetic rows, attributes varying within
        a task, and in a paired design units with more than one row per
        source, units on one side only in history tasks and weights differing
        within a unit.

    Examples
    --------
    >>> frame = pd.DataFrame({"task": ["t"] * 4, "source": ["real", "real", "synthetic",
    ...     "synthetic"], "value": [1.0, 0.0, 1.0, 1.0]})
    >>> unit_statistics(frame)[["task", "real_mean", "synth_mean", "gap_mean"]]
      task  real_mean  synth_mean  gap_mean
    0    t        0.5         1.0      -0.5
    """
    table = Table(source, scan_options(engine, memory_limit, threads))
    summary = summarize_units(table, attributes)
    columns = list(summary.attributes.columns)
    if not columns:
        return summary.statistics
    return summary.statistics.merge(summary.attributes.reset_index(), on="task", how="left")


def to_summary_table(statistics: pd.DataFrame) -> pd.DataFrame:
    """Turn :func:`unit_statistics` output into a DESIGN.md summary table.

    Parameters
    ----------
    statistics : pandas.DataFrame
        Output of :func:`unit_statistics`.

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``coord`` (only when some coordinate is named),
        ``synth_estimate, synth_se, real_estimate, real_se, gap_estimate,
        gap_se, n_real, n_synth`` and any carried attributes.
    """
    extra = [c for c in statistics.columns if c not in UNIT_STATISTICS_COLUMNS]
    out = pd.DataFrame({"task": statistics["task"]})
    if (statistics["coord"] != NO_COORD).any():
        out["coord"] = statistics["coord"]
    out["synth_estimate"] = statistics["synth_mean"]
    out["synth_se"] = np.sqrt(statistics["synth_var"])
    out["real_estimate"] = statistics["real_mean"]
    out["real_se"] = np.sqrt(statistics["real_var"])
    out["gap_estimate"] = statistics["gap_mean"]
    out["gap_se"] = np.sqrt(statistics["gap_var"])
    out["n_real"] = statistics["n_real"]
    out["n_synth"] = statistics["n_synth"]
    for column in extra:
        out[column] = statistics[column]
    return out
