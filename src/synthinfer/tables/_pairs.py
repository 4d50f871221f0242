"""Paired differences of a unit-level table with a ``unit`` column, in one join.

The real rows and the synthetic rows are fully joined on ``(task, coord,
unit)``. One aggregation over the joined rows then gives, per task, the
moment sums of the real values, of the synthetic values and of the
differences ``d = real − synthetic``, each about the task's own mean (so the
variances keep full precision), and the counts that show whether every unit
of a history task has exactly one real and one synthetic row: the join then
has as many rows as either source and no row without its partner. Only when
these counts show a problem (or a target has a unit with repeated synthetic
rows) does a second query name the units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from synthinfer.tables._problems import key_text, plain
from synthinfer.tables._rows import (
    UnitLayout,
    collect_pandas,
    moment_terms,
    text_ids,
    typed_rows,
)
from synthinfer.tables._sources import Table

__all__ = ["WEIGHT_TOLERANCE", "check_pairs", "pair_sums", "shifts"]

WEIGHT_TOLERANCE = 1e-12
"""Relative difference beyond which a unit's real and synthetic weights differ."""


def shifts(rows: Any, layout: UnitLayout, size: int):
    """Each task's real and synthetic means (``m_r``, ``m_s``), lazily, in one aggregation.

    ``size`` bounds its rows (the number of ``(task, coord)``): stated as a
    limit, it lets a query planner see the table is small and join it as such.
    """
    import narwhals.stable.v2 as nw

    weight = nw.col("weight") if layout.weighted else nw.lit(1.0)
    parts = {}
    for side, source in (("r", "real"), ("s", "synthetic")):
        chosen = weight * (nw.col("source") == source).cast(nw.Float64)
        parts[f"a_{side}"] = chosen
        parts[f"b_{side}"] = chosen * nw.col("value")
    sums = rows.with_columns(**parts).group_by(*layout.keys).agg(nw.col(*parts).sum())
    means = sums.select(
        *layout.keys,
        m_r=nw.col("b_r") / nw.col("a_r"),
        m_s=nw.col("b_s") / nw.col("a_s"),
    )
    return means.head(size)


def _joined(rows: Any, layout: UnitLayout, size: int | None = None):
    """Real and synthetic rows fully joined on ``(task, coord, unit)``, with the task's shifts.

    ``size`` is the number of ``(task, coord)``; without it the shifts are 0
    (for whole numbers, whose sums are exact).
    """
    import narwhals.stable.v2 as nw

    keys, on = layout.keys, [*layout.keys, "unit"]

    def side(source: str, suffix: str):
        columns = {f"x_{suffix}": nw.col("value")}
        if layout.weighted:
            columns[f"w_{suffix}"] = nw.col("weight")
        return rows.filter(nw.col("source") == source).select(*on, **columns)

    joined = side("real", "r").join(side("synthetic", "s"), on=on, how="full")
    joined = joined.with_columns(**{k: nw.coalesce(k, f"{k}_right") for k in on})
    if size is not None:
        joined = joined.join(shifts(rows, layout, size), on=keys, how="left")
    else:
        joined = joined.with_columns(m_r=nw.lit(0.0), m_s=nw.lit(0.0))
    d = nw.col("x_r") - nw.col("x_s")
    columns = {
        "y_r": nw.col("x_r") - nw.col("m_r"),
        "y_s": nw.col("x_s") - nw.col("m_s"),
        "d": d,
        "e": d - (nw.col("m_r") - nw.col("m_s")),
    }
    if layout.weighted:
        largest = nw.max_horizontal(nw.col("w_r").abs(), nw.col("w_s").abs())
        differ = (nw.col("w_r") - nw.col("w_s")).abs() > WEIGHT_TOLERANCE * (1 + largest)
        columns["w_p"] = nw.when(~d.is_null()).then(nw.col("w_r"))
        columns["weight_differs"] = differ.fill_null(False).cast(nw.Int64)
    return joined.with_columns(**columns)


def pair_sums(rows: Any, layout: UnitLayout, size: int | None) -> pd.DataFrame:
    """Per ``(task, coord)``: the moment sums of each source and of the pairs, in one pass.

    Parameters
    ----------
    rows : narwhals.LazyFrame
        :func:`~synthinfer.tables._rows.typed_rows` of a paired table.
    layout : UnitLayout
        Its columns.
    size : int or None
        The number of ``(task, coord)``, to centre on each task's means;
        ``None`` centres on 0 (for whole numbers, whose sums are exact).

    Returns
    -------
    pandas.DataFrame
        For the real rows (``r_``), the synthetic rows (``s_``) and the pairs
        (``p_``): the ``count`` and ``sum_*`` of
        :func:`~synthinfer.tables._rows.moment_terms` about the task's means
        (the pairs about ``m_r − m_s``), with the shifts ``r_shift`` and
        ``s_shift``; ``p_sum_wd`` (``Σw·d``), ``p_sum_w`` and
        ``weight_differs`` (weighted). A clean table has, per history task,
        as many pairs as real rows and as synthetic rows.
    """
    import narwhals.stable.v2 as nw

    weighted = layout.weighted
    joined = _joined(rows, layout, size)
    joined, real = moment_terms(joined, "y_r", "w_r" if weighted else None, "r_")
    joined, synth = moment_terms(joined, "y_s", "w_s" if weighted else None, "s_")
    joined, pairs = moment_terms(joined, "e", "w_p" if weighted else None, "p_")
    weight = nw.col("w_p") if weighted else nw.lit(1.0)
    joined = joined.with_columns(p_wd=nw.col("d") * weight)
    sums = [*real, *synth, *pairs, nw.col("p_wd").sum().alias("p_sum_wd")]
    sums += [nw.col("m_r").max().alias("r_shift"), nw.col("m_s").max().alias("s_shift")]
    if weighted:
        sums += [nw.col("w_p").sum().alias("p_sum_w"), nw.col("weight_differs").sum()]
    return collect_pandas(joined.group_by(*layout.keys).agg(*sums))


def check_pairs(
    table: Table,
    layout: UnitLayout,
    sums: pd.DataFrame,
    statistics: pd.DataFrame,
    task_ids: dict[str, Any],
) -> None:
    """Stop on repeated units, units on one side only in history tasks, differing weights.

    Parameters
    ----------
    table : Table
        The source (read again only to find the units to name, or the
        repeated units of targets).
    layout : UnitLayout
        Its columns.
    sums : pandas.DataFrame
        :func:`pair_sums`, with text ids.
    statistics : pandas.DataFrame
        Per ``(task, coord)``: ``n_real``, ``n_synth`` (rows of each source).
    task_ids : dict
        Each task's id as the table holds it, by its text.
    """
    keys = layout.keys
    both = statistics[[*keys, "n_real", "n_synth"]].merge(sums, on=keys, how="left").fillna(0)
    history = both["n_real"] > 0
    pairs = both["p_count"]
    clean = (
        (both["r_count"] == pairs)
        & (both["s_count"] == pairs)
        & (pairs == both["n_real"])
        & (pairs == both["n_synth"])
    )
    targets = [task_ids[t] for t in statistics.loc[statistics["n_real"] == 0, "task"].unique()]
    if (history & ~clean).any() or _target_repeats(table, layout, targets):
        _name_units(table, layout, statistics.loc[statistics["n_real"] > 0, keys])
    if layout.weighted and both["weight_differs"].sum() > 0:
        raise _weight_problem(table, layout, int(both["weight_differs"].sum()))


def _target_repeats(table: Table, layout: UnitLayout, targets: Sequence[Any]) -> int:
    """Whether a unit of a target task (ids as the table holds them) has repeated rows."""
    import narwhals.stable.v2 as nw

    if not len(targets):
        return 0
    on = [*layout.keys, "unit"]
    with table.open() as frame:
        rows = typed_rows(frame, layout)
        chosen = rows.filter(nw.col("task").is_in(list(targets)))
        per_unit = chosen.group_by(*on).agg(nw.len().alias("n")).filter(nw.col("n") > 1)
        return len(collect_pandas(per_unit.select("n").head(1)))


def _text(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.assign(**{key: text_ids(frame[key]) for key in keys})


def _unit_text(row: pd.Series, keys: list[str]) -> str:
    """``task 'a' / coord 'x' unit 'u1'``."""
    return f"{key_text(*row[keys])} unit {plain(row['unit'])!r}"


def _name_units(table: Table, layout: UnitLayout, history: pd.DataFrame) -> None:
    """Count repeated and one-sided units exactly, and raise the first problem."""
    import narwhals.stable.v2 as nw

    where, keys, on = table.where, layout.keys, [*layout.keys, "unit"]
    with table.open() as frame:
        per_unit = typed_rows(frame, layout).group_by(*on, "source").agg(nw.len().alias("n"))
        repeated = _text(collect_pandas(per_unit.filter(nw.col("n") > 1)), keys)
        if len(repeated):
            repeated = repeated.sort_values([*on, "source"], kind="stable")
            first = repeated.iloc[0]
            raise ValueError(
                f"{where}: {len(repeated[on].drop_duplicates())} unit(s) have more than one row "
                f"per source (e.g. {_unit_text(first, keys)} has "
                f"{int(first['n'])} {first['source']} rows); a paired design has one real and "
                f"one synthetic row per unit (average repeated generations first, or give each "
                f"its own unit)"
            )
        real = per_unit.filter(nw.col("source") == "real").select(*on)
        synth = per_unit.filter(nw.col("source") == "synthetic").select(*on)
        sides = ((real, synth), (synth, real))
        alone = [_text(collect_pandas(a.join(b, on=on, how="anti")), keys) for a, b in sides]
    alone = pd.concat(alone).merge(history, on=keys, how="inner")
    if len(alone):
        first = alone.sort_values(on, kind="stable").iloc[0]
        raise ValueError(
            f"{where}: {len(alone)} unit(s) of history tasks appear on one side only (e.g. "
            f"{_unit_text(first, keys)}); in a paired design every real unit needs its "
            f"synthetic row and vice versa: remove the unmatched rows or drop column 'unit' "
            f"for an unpaired analysis"
        )


def _weight_problem(table: Table, layout: UnitLayout, n: int) -> ValueError:
    import narwhals.stable.v2 as nw

    with table.open() as frame:
        pairs = _joined(typed_rows(frame, layout), layout, None)
        found = collect_pandas(pairs.filter(nw.col("weight_differs") == 1).head(1))
    first = _text(found, layout.keys).iloc[0]
    return ValueError(
        f"{table.where}: {n} unit(s) carry different real and synthetic values in column "
        f"'weight' (e.g. {_unit_text(first, layout.keys)}); paired units share one survey "
        f"weight, so their rows must not carry different weights"
    )
