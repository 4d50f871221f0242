"""Per-task sufficient statistics of a unit-level table, from a path or any dataframe.

:func:`unit_statistics` reduces a unit-level (long) table (DESIGN.md:
``task``, ``source``, ``value``, optional ``weight``, ``unit``, ``coord`` and
task attributes) to one row per ``(task, coord)`` with the counts, means and
estimator variances (``se²``) of the synthetic sample, the real sample and
the gap. The reduction is written once against Narwhals and runs natively on
the data's own backend; files are scanned by DuckDB (or Spark). This is the
one place where a unit-level table is checked: every problem stops with one
``ValueError`` naming the data, the column and what to do. Empty values are
non-response (left out, counted, reported in one warning) and the rows of a
``unit`` are one cluster (averaged per unit; see :func:`unit_statistics`).

:class:`UnitRows` reads a table's rows back a few tasks at a time, for the
interval families that need them (bootstrap, Hoeffding, exact quantiles).
"""

from __future__ import annotations

import re
import warnings
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
    values_are_binary,
)
from synthinfer.tables._pairs import (
    check_pairs,
    one_to_one,
    pair_sums,
    row_units,
    target_repeats,
)
from synthinfer.tables._problems import nonresponse_text
from synthinfer.tables._reads import UnitRows
from synthinfer.tables._rows import (
    UnitLayout,
    collect_pandas,
    exact_sums,
    exact_variance,
    group_means,
    moment_terms,
    responses,
    text_ids,
    typed_rows,
    unit_means,
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
    encoding: str | None = None,
) -> ScanOptions:
    """:class:`ScanOptions` from the public arguments."""
    return ScanOptions(engine, memory_limit, threads, spark_remote, encoding)


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
    binary : bool
        Whether every value is 0 or 1 (proportions: bounds ``[0, 1]`` by default).
    """

    statistics: pd.DataFrame
    attributes: pd.DataFrame
    order: tuple[str, ...]
    coords: tuple[str, ...]
    value_range: tuple[float, float]
    rows: UnitRows
    binary: bool = False


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
            pairs, exact = _unit_pairs(table, rows, layout, groups, exact, ids["task"])
            moments = _source_moments(pairs, layout.keys)
        elif exact:
            pairs, moments = None, _raw_moments(groups, layout.keys)
        else:
            pairs = None
            rows = responses(rows) if groups["value_missing"].sum() else rows
            moments = _text_keys(_second_moments(rows, layout, len(groups)), layout.keys)
    if pairs is not None:
        check_pairs(table, layout, pairs, ids["task"])
    statistics = _assemble(groups, moments, pairs, layout, exact)
    _warn_nonresponse(statistics, table.where)
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
        binary=values_are_binary(groups),
    )


def _text_keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.assign(**{key: text_ids(frame[key]) for key in keys})


def _unit_pairs(
    table: Table,
    rows: Any,
    layout: UnitLayout,
    groups: pd.DataFrame,
    exact: bool,
    task_ids: dict[str, Any],
) -> tuple[pd.DataFrame, bool]:
    """:func:`pair_sums` of the units (text ids), and whether its sums are exact.

    A table that may have one row per unit and source (no empty value, as
    many real as synthetic rows in every task with real rows) is joined row
    by row, and kept when the join's counts confirm it; whole numbers are
    then summed about 0, exactly. Otherwise the rows are averaged per unit
    first (a unit mean of repeated draws is a fraction), and the sums are
    taken about each task's means.
    """
    keys, size = layout.keys, len(groups)
    counts = _text_keys(_row_counts(groups, keys), keys)
    history = counts["n_real"] > 0
    if (
        not groups["value_missing"].sum()
        and (counts.loc[history, "n_real"] == counts.loc[history, "n_synth"]).all()
    ):
        pairs = _text_keys(
            pair_sums(row_units(rows, layout), layout, None if exact else size), keys
        )
        targets = [task_ids[t] for t in counts.loc[~history, "task"].unique()]
        if one_to_one(pairs, counts, keys) and not target_repeats(table, layout, targets):
            return pairs, exact
    return _text_keys(pair_sums(unit_means(rows, layout), layout, size), keys), False


def _row_counts(groups: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each ``(task, coord)``'s rows of each source: ``n_real``, ``n_synth``."""
    wide = groups.pivot_table(index=keys, columns="source", values="n", aggfunc="sum")
    wide = wide.reindex(columns=list(SOURCES)).fillna(0).astype("int64")
    return wide.rename(columns={"real": "n_real", "synthetic": "n_synth"}).reset_index()


def _warn_nonresponse(statistics: pd.DataFrame, where: str) -> None:
    """One warning counting the empty values (and the pairs they cost) per task, if any."""
    text = nonresponse_text(where, statistics)
    if text:
        warnings.warn(text, UserWarning, stacklevel=4)


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
    """One row per ``(task, coord)``: the columns of ``UNIT_STATISTICS_COLUMNS``.

    ``moments`` holds each source's moment sums over its units (rows without
    ``unit``) with a value; ``pairs`` (tables with ``unit``) the paired sums.
    A task is paired when some unit has rows of both sources; its gap is then
    the mean paired difference, otherwise the difference of the two means.
    """
    keys, weighted = layout.keys, layout.weighted
    spread = exact_variance if exact else variance
    clustered = pairs is not None and int(max(pairs["r_most"].max(), pairs["s_most"].max())) > 1
    both = groups.rename(columns={"raw_count": "rows"})
    both = both.drop(columns=[c for c in both if c.startswith("raw_")])
    both = both.merge(moments, on=[*keys, "source"], how="left")
    if weighted:
        total = both["units_w"] if clustered else both["sum_w"]
    else:
        total = both["count"].astype(float)
    both["mean"] = both["shift"] + both["sum_wy"] / total
    both["var"] = spread(both, weighted, total)
    side = {s: both[both["source"] == s].set_index(keys) for s in SOURCES}
    synth, real = side["synthetic"], side["real"].reindex(side["synthetic"].index)
    out = pd.DataFrame(index=synth.index)
    for name, part in (("synth", synth), ("real", real)):
        out[f"n_{name}"], out[f"{name}_mean"] = part["count"], part["mean"]
        out[f"{name}_var"] = part["var"]
    out["n_pairs"], out["n_pairs_lost"] = 0, 0
    out["gap_mean"] = out["real_mean"] - out["synth_mean"]
    out["gap_var"] = out["real_var"] + out["synth_var"]
    if pairs is not None:
        paired = pairs.set_index(keys).reindex(out.index)
        total = paired["p_sum_w"] if weighted else paired["p_count"].astype(float)
        shared = paired["shared"] > 0
        out["n_pairs"] = paired["p_count"].where(shared, 0)
        out["n_pairs_lost"] = (paired["shared"] - paired["p_count"]).where(shared, 0)
        out["gap_mean"] = (paired["p_sum_wd"] / total).where(shared, out["gap_mean"])
        out["gap_var"] = spread(paired, weighted, total, "p_").where(shared, out["gap_var"])
    out["n_synth_rows"], out["n_real_rows"] = synth["rows"], real["rows"]
    out["n_missing_synth"], out["n_missing_real"] = synth["value_missing"], real["value_missing"]
    out = out.reset_index()
    if not layout.coord:
        out.insert(1, "coord", NO_COORD)
    return _finish(out)


_COUNTS = ("n_synth", "n_real", "n_pairs", "n_synth_rows", "n_real_rows", "n_missing_synth")
_COUNTS += ("n_missing_real", "n_pairs_lost")


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    out = out.sort_values(["task", "coord"], kind="stable").reset_index(drop=True)
    for column in _COUNTS:
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
        gap_mean, gap_var, n_synth_rows, n_real_rows, n_missing_synth,
        n_missing_real, n_pairs_lost`` and the requested attributes.
        ``coord`` is ``""`` when the table has no ``coord`` column.
        ``*_var`` are estimator variances (``se²``); targets (no real values)
        have NaN real and gap fields and ``n_real = 0``. ``n_synth``,
        ``n_real`` and ``n_pairs`` count units (rows, without ``unit``);
        ``n_*_rows`` count the rows with a value, ``n_missing_*`` the empty
        ones; ``n_pairs`` is 0 in an unpaired task and ``n_pairs_lost``
        counts the units with rows of both sources left out of the paired
        gap because one side's values are all empty.

    Raises
    ------
    ValueError
        Missing columns, empty ids, unknown ``source`` values, non-numeric
        text or infinite values, missing, infinite or negative weights,
        weights summing to zero, real rows without synthetic rows,
        attributes varying within a task; with ``unit``, real units without
        synthetic rows in a paired task, and weights differing within a unit
        or between a unit's real and synthetic rows.

    Warns
    -----
    UserWarning
        One, when values are empty: how many per task and source, and the
        pairs they cost.

    Notes
    -----
    *Non-response.* An empty value (null, NaN, or an empty or blank string
    in a text column) is an answer that was not given (an unparseable or
    refused answer): it is left out of every estimate and counted. For the
    guarantee, non-response must arise the same way in history and target
    tasks (same model, template and parsing).

    *Clusters.* The ``unit`` is the cluster: the rows of one ``(task, coord,
    source, unit)`` (K draws of one persona, several judge samples of one
    battle, several answers of one respondent) are averaged into the unit's
    mean, and every estimate counts units. A unit's rows must carry one
    weight (within ``1e-12``, relative), which is the unit's weight. The
    synthetic (and real) estimate is the mean of the unit means (Hájek,
    ``Σ w_u x̄_u / Σ w_u``, when weighted) and its variance is ``s² / G``
    over the ``G`` unit means: the cluster-robust variance by unit with the
    CR1 factor ``G / (G − 1)`` (equal to the pooled mean's CR1 variance when
    every unit has the same number of values); weighted, the Hájek
    linearization variance over units, as for rows. A table without
    ``unit`` is unchanged: every row is its own unit.

    *Pairs.* A task is paired when some unit has rows of both sources. Its
    gap is the mean paired difference of unit means over the units with
    values on both sides; a synthetic unit without real rows is unlabelled
    (it counts in the synthetic estimate only); a real unit without any
    synthetic row is an error. A task whose real and synthetic units share
    no id is unpaired: its gap is the difference of the two means, with the
    variances added.

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
