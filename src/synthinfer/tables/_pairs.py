"""Units and paired differences of a unit-level table with a ``unit`` column, in one join.

The ``unit`` is the cluster: the rows of one ``(task, coord, source, unit)``
(repeated draws of a persona, several judge samples of a battle) are first
averaged into the unit's mean (:func:`~synthinfer.tables._rows.unit_means`;
empty values left out), and every estimate then counts units, never rows.
The real units and the synthetic units are fully joined on ``(task, coord,
unit)``. One aggregation over the joined units then gives, per task, the
moment sums of the real unit means, of the synthetic unit means and of the
differences ``d = real − synthetic`` over the units that have both, each
about the task's own mean (so the variances keep full precision), and the
counts that show the design:

- a task is *paired* when some unit has rows of both sources; then every
  real unit needs synthetic rows (a real unit alone is an error), while a
  synthetic unit alone is *unlabelled*: it counts in the synthetic estimate,
  not in the gap;
- a unit with rows of both sources whose values on one side are all empty
  (non-response) is left out of the paired gap and counted;
- a task whose real and synthetic units share no id is unpaired: its gap is
  the difference of the two means, each over its own units.

Only when the counts show a problem does a second query name a unit.

Most tables have one row per unit and source: then the rows themselves are
the units (:func:`row_units`), the join runs on them directly, and
:func:`one_to_one` confirms from its counts that no unit had several rows
(:func:`target_repeats` checks the targets, whose units have no partner to
show it). Otherwise the rows are first averaged per unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from synthinfer.tables._problems import key_text, plain
from synthinfer.tables._rows import (
    WEIGHT_TOLERANCE,
    UnitLayout,
    collect_pandas,
    moment_terms,
    text_ids,
    typed_rows,
    unit_means,
)
from synthinfer.tables._sources import Table

__all__ = [
    "WEIGHT_TOLERANCE",
    "check_pairs",
    "one_to_one",
    "pair_sums",
    "row_units",
    "shifts",
    "target_repeats",
]


def row_units(rows: Any, layout: UnitLayout):
    """The rows as units of one value each (for a table with one row per unit and source).

    The columns of :func:`~synthinfer.tables._rows.unit_means` without the
    averaging: ``k = 1`` (call it only when no value is empty) and, weighted,
    ``weight_varies = 0``.
    """
    import narwhals.stable.v2 as nw

    columns = {"k": nw.lit(1, nw.Int64)}
    if layout.weighted:
        columns["weight_varies"] = nw.lit(0, nw.Int64)
    return rows.with_columns(**columns)


def one_to_one(sums: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> bool:
    """Whether :func:`pair_sums` of :func:`row_units` shows one row per unit and source.

    ``rows`` holds each ``(task, coord)``'s ``n_real`` and ``n_synth`` rows.
    In a task with real rows, every real row then met exactly one synthetic
    row and vice versa: the join has as many pairs as either source's rows,
    and no row alone (a repeated unit would multiply its partner's rows). A
    target's units have no partner: see :func:`target_repeats`.
    """
    both = rows.merge(sums, on=keys, how="left").fillna(0)
    history = both["n_real"] > 0
    pairs = both["p_count"]
    clean = (
        (both["r_count"] == pairs)
        & (both["s_count"] == pairs)
        & (pairs == both["n_real"])
        & (pairs == both["n_synth"])
    )
    return bool(clean[history].all())


def target_repeats(table: Table, layout: UnitLayout, targets: Sequence[Any]) -> bool:
    """Whether a unit of a target task (ids as the table holds them) has several rows."""
    import narwhals.stable.v2 as nw

    if not len(targets):
        return False
    on = [*layout.keys, "unit"]
    with table.open() as frame:
        rows = typed_rows(frame, layout)
        chosen = rows.filter(nw.col("task").is_in(list(targets)))
        per_unit = chosen.group_by(*on).agg(nw.len().alias("n")).filter(nw.col("n") > 1)
        return bool(len(collect_pandas(per_unit.select("n").head(1))))


def shifts(rows: Any, layout: UnitLayout, size: int):
    """Each task's real and synthetic means (``m_r``, ``m_s``), lazily, in one aggregation.

    ``size`` bounds its rows (the number of ``(task, coord)``): stated as a
    limit, it lets a query planner see the table is small and join it as such.
    Rows with an empty value add nothing.
    """
    import narwhals.stable.v2 as nw

    weight = nw.col("weight") if layout.weighted else nw.lit(1.0)
    answered = (~nw.col("value").is_null()).cast(nw.Float64)
    parts = {}
    for side, source in (("r", "real"), ("s", "synthetic")):
        chosen = weight * (nw.col("source") == source).cast(nw.Float64) * answered
        parts[f"a_{side}"] = chosen
        parts[f"b_{side}"] = chosen * nw.col("value").fill_null(0.0)
    sums = rows.with_columns(**parts).group_by(*layout.keys).agg(nw.col(*parts).sum())
    means = sums.select(
        *layout.keys,
        m_r=nw.col("b_r") / nw.col("a_r"),
        m_s=nw.col("b_s") / nw.col("a_s"),
    )
    return means.head(size)


def _joined(units: Any, layout: UnitLayout, size: int | None = None):
    """Real and synthetic units fully joined on ``(task, coord, unit)``, with the task's shifts.

    ``units`` is :func:`~synthinfer.tables._rows.unit_means`; ``size`` is the
    number of ``(task, coord)``; without it the shifts are 0 (for whole
    numbers, whose sums are exact). ``k_r``/``k_s`` (a unit's values on each
    side) are null where the unit has no row of that side.
    """
    import narwhals.stable.v2 as nw

    keys, on = layout.keys, [*layout.keys, "unit"]

    def side(source: str, suffix: str):
        columns = {f"x_{suffix}": nw.col("value"), f"k_{suffix}": nw.col("k")}
        if layout.weighted:
            columns[f"w_{suffix}"] = nw.col("weight")
            columns[f"v_{suffix}"] = nw.col("weight_varies")
        return units.filter(nw.col("source") == source).select(*on, **columns)

    joined = side("real", "r").join(side("synthetic", "s"), on=on, how="full")
    joined = joined.with_columns(**{k: nw.coalesce(k, f"{k}_right") for k in on})
    if size is not None:
        joined = joined.join(shifts(units, layout, size), on=keys, how="left")
    else:
        joined = joined.with_columns(m_r=nw.lit(0.0), m_s=nw.lit(0.0))
    d = nw.col("x_r") - nw.col("x_s")
    real, synth = ~nw.col("k_r").is_null(), ~nw.col("k_s").is_null()
    columns = {
        "y_r": nw.col("x_r") - nw.col("m_r"),
        "y_s": nw.col("x_s") - nw.col("m_s"),
        "d": d,
        "e": d - (nw.col("m_r") - nw.col("m_s")),
        "shared": (real & synth).cast(nw.Int64),
        "alone": (real & ~synth).cast(nw.Int64),
    }
    if layout.weighted:
        largest = nw.max_horizontal(nw.col("w_r").abs(), nw.col("w_s").abs())
        differ = (nw.col("w_r") - nw.col("w_s")).abs() > WEIGHT_TOLERANCE * (1 + largest)
        columns["w_p"] = nw.when(~d.is_null()).then(nw.col("w_r"))
        columns["weight_differs"] = differ.fill_null(False).cast(nw.Int64)
    return joined.with_columns(**columns)


def pair_sums(units: Any, layout: UnitLayout, size: int | None) -> pd.DataFrame:
    """Per ``(task, coord)``: the moment sums of each source's units and of the pairs, in one pass.

    Parameters
    ----------
    units : narwhals.LazyFrame
        :func:`~synthinfer.tables._rows.unit_means` of a table with ``unit``.
    layout : UnitLayout
        Its columns.
    size : int or None
        The number of ``(task, coord)``, to centre on each task's means;
        ``None`` centres on 0 (for whole numbers, whose sums are exact).

    Returns
    -------
    pandas.DataFrame
        For the real units (``r_``), the synthetic units (``s_``) and the pairs
        (``p_``): the ``count`` and ``sum_*`` of
        :func:`~synthinfer.tables._rows.moment_terms` about the task's means
        (the pairs about ``m_r − m_s``), with the shifts ``r_shift`` and
        ``s_shift``; ``p_sum_wd`` (``Σw·d``); ``shared`` (units with rows of
        both sources), ``alone`` (real units without synthetic rows),
        ``r_most``/``s_most`` (the most values of one unit); weighted, also
        ``p_sum_w``, ``r_units_w``/``s_units_w`` (the units' weights),
        ``weight_differs`` and ``r_weight_varies``/``s_weight_varies``.
    """
    import narwhals.stable.v2 as nw

    weighted = layout.weighted
    joined = _joined(units, layout, size)
    joined, real = moment_terms(joined, "y_r", "w_r" if weighted else None, "r_")
    joined, synth = moment_terms(joined, "y_s", "w_s" if weighted else None, "s_")
    joined, pairs = moment_terms(joined, "e", "w_p" if weighted else None, "p_")
    weight = nw.col("w_p") if weighted else nw.lit(1.0)
    joined = joined.with_columns(p_wd=nw.col("d") * weight)
    sums = [*real, *synth, *pairs, nw.col("p_wd").sum().alias("p_sum_wd")]
    sums += [nw.col("m_r").max().alias("r_shift"), nw.col("m_s").max().alias("s_shift")]
    sums += [nw.col("shared").sum(), nw.col("alone").sum()]
    sums += [nw.col("k_r").max().alias("r_most"), nw.col("k_s").max().alias("s_most")]
    if weighted:
        sums += [nw.col("w_p").sum().alias("p_sum_w"), nw.col("weight_differs").sum()]
        sums += [nw.col("w_r").sum().alias("r_units_w"), nw.col("w_s").sum().alias("s_units_w")]
        sums += [nw.col("v_r").sum().alias("r_weight_varies")]
        sums += [nw.col("v_s").sum().alias("s_weight_varies")]
    found = collect_pandas(joined.group_by(*layout.keys).agg(*sums))
    counts = ["shared", "alone", "r_most", "s_most"]
    counts += ["weight_differs", "r_weight_varies", "s_weight_varies"] * weighted
    return found.assign(**{c: found[c].fillna(0).astype("int64") for c in counts})


def check_pairs(
    table: Table, layout: UnitLayout, sums: pd.DataFrame, task_ids: dict[str, Any]
) -> None:
    """Stop on real units without synthetic rows in paired tasks, and on differing weights.

    Parameters
    ----------
    table : Table
        The source (read again only to name a unit).
    layout : UnitLayout
        Its columns.
    sums : pandas.DataFrame
        :func:`pair_sums`, with text ids.
    task_ids : dict
        Each task's id as the table holds it, by its text.
    """
    keys = layout.keys
    alone = sums[(sums["shared"] > 0) & (sums["alone"] > 0)]
    if len(alone):
        _name_alone(table, layout, alone[keys], int(alone["alone"].sum()), task_ids)
    if not layout.weighted:
        return
    varies = int(sums["r_weight_varies"].sum() + sums["s_weight_varies"].sum())
    if varies:
        raise _varying_weight_problem(table, layout, varies)
    if int(sums["weight_differs"].sum()):
        raise _weight_problem(table, layout, int(sums["weight_differs"].sum()))


def _text(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.assign(**{key: text_ids(frame[key]) for key in keys})


def _unit_text(row: pd.Series, keys: list[str]) -> str:
    """``task 'a' / coord 'x' unit 'u1'``."""
    return f"{key_text(*row[keys])} unit {plain(row['unit'])!r}"


def _name_alone(
    table: Table, layout: UnitLayout, tasks: pd.DataFrame, n: int, task_ids: dict[str, Any]
) -> None:
    """Raise for the first real unit without synthetic rows in one of ``tasks`` (paired ones)."""
    import narwhals.stable.v2 as nw

    keys, on = layout.keys, [*layout.keys, "unit"]
    wanted = [task_ids[task] for task in tasks["task"].unique()]
    with table.open() as frame:
        rows = typed_rows(frame, layout).filter(nw.col("task").is_in(wanted))
        present = rows.group_by(*on, "source").agg(nw.len().alias("n"))
        real = present.filter(nw.col("source") == "real").select(*on)
        synth = present.filter(nw.col("source") == "synthetic").select(*on)
        found = _text(collect_pandas(real.join(synth, on=on, how="anti")), keys)
    found = found.merge(tasks, on=keys, how="inner").sort_values(on, kind="stable")
    first = found.iloc[0]
    raise ValueError(
        f"{table.where}: {n} unit(s) of history tasks appear on one side only: real rows "
        f"without synthetic rows (e.g. {_unit_text(first, keys)}); in a paired design every "
        f"real unit needs its synthetic rows (a synthetic unit without real rows is "
        f"unlabelled, which is fine): remove the unmatched real rows or drop column 'unit' "
        f"for an unpaired analysis"
    )


def _varying_weight_problem(table: Table, layout: UnitLayout, n: int) -> ValueError:
    import narwhals.stable.v2 as nw

    with table.open() as frame:
        units = unit_means(typed_rows(frame, layout), layout)
        found = collect_pandas(units.filter(nw.col("weight_varies") == 1).head(1))
    first = _text(found, layout.keys).iloc[0]
    return ValueError(
        f"{table.where}: {n} unit(s) carry different values in column 'weight' on their "
        f"{first['source']} rows (e.g. {_unit_text(first, layout.keys)}); the rows of one "
        f"unit (repeated draws) are averaged into one observation with the unit's survey "
        f"weight, so they must carry the same weight"
    )


def _weight_problem(table: Table, layout: UnitLayout, n: int) -> ValueError:
    import narwhals.stable.v2 as nw

    with table.open() as frame:
        units = unit_means(typed_rows(frame, layout), layout)
        pairs = _joined(units, layout, None)
        found = collect_pandas(pairs.filter(nw.col("weight_differs") == 1).head(1))
    first = _text(found, layout.keys).iloc[0]
    return ValueError(
        f"{table.where}: {n} unit(s) carry different real and synthetic values in column "
        f"'weight' (e.g. {_unit_text(first, layout.keys)}); paired units share one survey "
        f"weight, so their rows must not carry different weights"
    )
