"""Building blocks of the unit-level aggregation, written once against Narwhals.

Every function here takes and returns Narwhals lazy frames (or expressions)
that run natively on the rows' own backend: pandas, polars, pyarrow, DuckDB,
Spark, ... Only :func:`collect_pandas` brings a (small, per-group) result
into pandas. The patterns used are those every backend runs: ``with_columns``
for per-row terms, ``group_by(...).agg`` with plain sums, counts, minima and
maxima, filters and joins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._columns import UNIT_RESERVED, UNIT_TABLE_COLUMNS
from synthinfer._validation import check_columns
from synthinfer.tables._sources import POSITION

__all__ = [
    "NUMBER",
    "WEIGHT_TOLERANCE",
    "UnitLayout",
    "answered",
    "attribute_column",
    "clean_source",
    "collect_pandas",
    "exact_sums",
    "exact_variance",
    "group_means",
    "is_missing",
    "is_text",
    "moment_terms",
    "responses",
    "text_ids",
    "typed_rows",
    "unit_means",
    "variance",
]

NUMBER = r"^\s*(?:[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:inf|infinity|nan)))?\s*$"
"""What a value in a text column must look like: a number, or empty (a non-response)."""

KIND = "unit-level table"

WEIGHT_TOLERANCE = 1e-12
"""Relative difference beyond which two weights of one unit differ."""


@dataclass(frozen=True)
class UnitLayout:
    """Which optional columns a unit-level table has, and its task attributes.

    Attributes
    ----------
    columns : tuple of str
        The table's columns.
    attributes : tuple of str
        Task attributes to carry.
    clean_sources : bool
        Whether ``source`` must be trimmed and lower-cased row by row (its
        values are not all spelled ``real`` and ``synthetic`` already).
    """

    columns: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    clean_sources: bool = True

    @property
    def coord(self) -> bool:
        """Whether the table names coordinates."""
        return "coord" in self.columns

    @property
    def weighted(self) -> bool:
        """Whether the rows carry survey weights."""
        return "weight" in self.columns

    @property
    def paired(self) -> bool:
        """Whether real and synthetic rows are paired by ``unit``."""
        return "unit" in self.columns

    @property
    def keys(self) -> list[str]:
        """The columns that name a task's statistics: ``task`` (and ``coord``)."""
        return ["task", "coord"] if self.coord else ["task"]

    @classmethod
    def of(cls, columns: Sequence[str], attributes: Sequence[str] | str, where: str) -> UnitLayout:
        """Check the columns and resolve ``attributes="all"``.

        Parameters
        ----------
        columns : sequence of str
            The table's columns.
        attributes : sequence of str or "all"
            Task attributes to carry; ``"all"`` takes every column whose name
            has no fixed meaning.
        where : str
            The data's name for messages.
        """
        columns = tuple(str(c) for c in columns if c != POSITION)
        check_columns(columns, UNIT_TABLE_COLUMNS, where, KIND)
        if isinstance(attributes, str):
            if attributes != "all":
                raise ValueError(
                    f"attributes must be a list of column names or 'all', got {attributes!r}"
                )
            attributes = [c for c in columns if c not in UNIT_RESERVED]
        check_columns(columns, attributes, where, KIND)
        return cls(columns, tuple(attributes))


def is_text(dtype: Any) -> bool:
    """Whether a column of this type holds text (numbers must then be parsed)."""
    import narwhals.stable.v2 as nw

    return not (dtype.is_numeric() or dtype == nw.Boolean)


def _number(column: str, dtype: Any):
    import narwhals.stable.v2 as nw

    expr = nw.col(column)
    if dtype == nw.Float64:
        return expr
    if is_text(dtype):
        text = expr.cast(nw.String).str.strip_chars()
        expr = nw.when(text != "").then(text)  # an empty cell is an empty value
    return expr.cast(nw.Float64)


def text_ids(values: pd.Series) -> pd.Series:
    """Ids (tasks, coordinates) as the text the library names them by."""
    return values.astype(str)


def clean_source(value: object) -> str | None:
    """A ``source`` value trimmed and lower-cased (``None`` when empty)."""
    return None if pd.isna(value) else str(value).strip().lower()


def attribute_column(i: int) -> str:
    """The internal name of the ``i``-th task attribute."""
    return f"__attribute_{i}"


def typed_rows(frame: Any, layout: UnitLayout, *, raw: str | None = None):
    """The rows with the library's names and types.

    Parameters
    ----------
    frame : narwhals.LazyFrame
        The table as scanned.
    layout : UnitLayout
        Its columns.
    raw : str, optional
        A column to keep untouched as ``__raw`` (to show offending values).

    Returns
    -------
    narwhals.LazyFrame
        ``task``, ``source`` (trimmed and lower-cased where the layout asks),
        ``value`` (float) and, as the table has them, ``coord``, ``weight``
        (float), ``unit``, the attributes (:func:`attribute_column`) and the
        row position. Ids keep their type (they become text once collected,
        see :func:`text_ids`); text values are parsed as numbers, so call
        this only once they are known to parse.
    """
    import narwhals.stable.v2 as nw

    schema = frame.collect_schema()
    source = nw.col("source")
    if layout.clean_sources:
        source = source.cast(nw.String).str.strip_chars().str.to_lowercase()
    exprs = {"task": nw.col("task"), "source": source, "value": _number("value", schema["value"])}
    if layout.coord:
        exprs["coord"] = nw.col("coord")
    if layout.weighted:
        exprs["weight"] = _number("weight", schema["weight"])
    if layout.paired:
        exprs["unit"] = nw.col("unit")
    for i, column in enumerate(layout.attributes):
        exprs[attribute_column(i)] = nw.col(column)
    if POSITION in schema:
        exprs[POSITION] = nw.col(POSITION)
    if raw is not None:
        exprs["__raw"] = nw.col(raw)
    return frame.select(**exprs)


def collect_pandas(frame: Any) -> pd.DataFrame:
    """Run a lazy plan and bring its (small) result into pandas."""
    return frame.collect("pandas").to_native()


def group_means(rows: Any, layout: UnitLayout, keys: list[str]):
    """Each group's mean (weighted: ``Σwx / Σw``), lazily, on the rows' backend."""
    import narwhals.stable.v2 as nw

    if layout.weighted:
        sums = rows.with_columns(wx=nw.col("weight") * nw.col("value")).group_by(*keys)
        sums = sums.agg(nw.col("weight").sum().alias("s0"), nw.col("wx").sum().alias("s1"))
    else:
        sums = rows.group_by(*keys).agg(nw.len().alias("s0"), nw.col("value").sum().alias("s1"))
    return sums.select(*keys, (nw.col("s1") / nw.col("s0")).alias("mean"))


def moment_terms(frame: Any, column: str, weight: str | None, prefix: str = "") -> tuple[Any, list]:
    """Per-row terms and their sums ``Σw·y, Σw², Σw²·y, Σw²·y²`` (``w = 1`` unweighted).

    Parameters
    ----------
    frame : narwhals.LazyFrame
        Rows with centred values in ``column``.
    column : str
        The centred values ``y``.
    weight : str or None
        The weight column (``None``: unweighted).
    prefix : str
        Prefix of the new columns (several sets can share one aggregation).

    Returns
    -------
    (narwhals.LazyFrame, list of narwhals.Expr)
        The frame with the terms, and the aggregations for ``group_by(...).agg``:
        ``{prefix}count`` (non-empty ``y``; empty ones add nothing) and the
        ``{prefix}sum_*``.
    """
    import narwhals.stable.v2 as nw

    y = nw.col(column)
    if weight is not None:
        w = nw.col(weight)
        terms = {"wy": w * y, "w2": w * w, "w2y": w * w * y, "w2y2": w * w * y * y}
    else:
        terms = {"wy": y, "w2y2": y * y}
    frame = frame.with_columns(**{f"{prefix}{name}": term for name, term in terms.items()})
    sums = [nw.col(f"{prefix}{name}").sum().alias(f"{prefix}sum_{name}") for name in terms]
    return frame, [y.count().alias(f"{prefix}count"), *sums]


def variance(
    sums: pd.DataFrame, weighted: bool, total_weight: pd.Series, prefix: str = ""
) -> pd.Series:
    """The estimator variance from the sums of :func:`moment_terms`.

    Unweighted: ``s² / n`` with ``s²`` the sample variance (ddof 1); weighted
    (Hájek): ``Σw²(y − ȳ)² / (Σw)²`` with ``ȳ = Σwy / Σw``. Both are exact
    whatever shift ``y`` carries; a shift near the mean keeps full precision.
    """
    n = sums[f"{prefix}count"].astype(float)
    wy, w2y2 = sums[f"{prefix}sum_wy"], sums[f"{prefix}sum_w2y2"]
    if weighted:
        delta = wy / total_weight
        spread = w2y2 - 2 * delta * sums[f"{prefix}sum_w2y"] + delta**2 * sums[f"{prefix}sum_w2"]
        return np.maximum(spread, 0.0) / total_weight**2
    spread = np.maximum(w2y2 - wy**2 / n.where(n > 0), 0.0)
    return (spread / (n - 1).where(n > 1)) / n


_EXACT = 2.0**53


def exact_sums(groups: pd.DataFrame, weighted: bool) -> bool:
    """Whether every sum of the aggregation is exact in floating point.

    True when all values (and weights) are whole numbers small enough that no
    sum of ``w``, ``w·x``, ``w²·x²`` or of squared paired differences
    reaches 2**53: then sums are exact in any order, need no centring, and
    :func:`exact_variance` gives the correctly rounded variance.
    """
    if groups["value_fraction"].sum() or (weighted and groups["weight_fraction"].sum()):
        return False
    largest = max(abs(float(groups["min_x"].min())), abs(float(groups["max_x"].max())), 1.0)
    weight = max(float(groups["max_abs_w"].max()), 1.0) if weighted else 1.0
    bound = float(groups["n"].sum()) * weight**2 * (2 * largest) ** 2
    return bool(np.isfinite(bound) and bound < _EXACT)


def exact_variance(
    sums: pd.DataFrame, weighted: bool, total_weight: pd.Series, prefix: str = ""
) -> pd.Series:
    """:func:`variance` in exact rational arithmetic, from sums that are exact whole numbers."""
    from fractions import Fraction

    def one(row: pd.Series, total: float) -> float:
        n = row[f"{prefix}count"]
        if not np.isfinite(n) or not np.isfinite(total) or total <= 0:
            return float("nan")
        wy, w2y2 = int(row[f"{prefix}sum_wy"]), int(row[f"{prefix}sum_w2y2"])
        if not weighted:
            n = int(n)
            return float(Fraction(n * w2y2 - wy * wy, n * n * (n - 1))) if n > 1 else float("nan")
        total, w2y, w2 = int(total), int(row[f"{prefix}sum_w2y"]), int(row[f"{prefix}sum_w2"])
        spread = w2y2 * total * total - 2 * wy * total * w2y + wy * wy * w2
        return float(Fraction(spread, total**4))

    values = [
        one(row, total) for (_, row), total in zip(sums.iterrows(), total_weight, strict=True)
    ]
    return pd.Series(values, index=sums.index, dtype=float)


# ------------------------------------------------------------ non-response and units
def is_missing(column: str):
    """Whether a row's number is empty (null) or NaN: for ``value``, a non-response."""
    import narwhals.stable.v2 as nw

    return nw.col(column).is_null() | nw.col(column).fill_null(0.0).is_nan()


def answered(rows: Any, layout: UnitLayout):
    """The rows with ``value`` (and ``weight``) null wherever the value is empty or NaN.

    Sums then skip the non-responses on every backend (a NaN would poison
    them), while the rows stay to be counted.
    """
    import narwhals.stable.v2 as nw

    kept = ~is_missing("value")
    columns = {"value": nw.when(kept).then(nw.col("value"))}
    if layout.weighted:
        columns["weight"] = nw.when(kept).then(nw.col("weight"))
    return rows.with_columns(**columns)


def responses(rows: Any):
    """The rows whose value is not empty: those every estimate uses."""
    return rows.filter(~is_missing("value"))


def unit_means(rows: Any, layout: UnitLayout):
    """One row per ``(task, coord, source, unit)``: the mean of the unit's values.

    Parameters
    ----------
    rows : narwhals.LazyFrame
        :func:`typed_rows` of a table with ``unit`` (empty values included).
    layout : UnitLayout
        Its columns.

    Returns
    -------
    narwhals.LazyFrame
        The keys, ``source``, ``unit``; ``k`` (the unit's values, empty ones
        left out); ``value``, their plain mean (null when ``k = 0``: every value
        empty); weighted, ``weight`` (the largest of the unit's row weights,
        which must agree) and ``weight_varies`` (1 where they do not, within
        :data:`WEIGHT_TOLERANCE`). A unit of one row keeps its value and
        weight exactly.
    """
    import narwhals.stable.v2 as nw

    keys = [*layout.keys, "source", "unit"]
    sums = [nw.col("value").count().alias("k"), nw.col("value").sum().alias("sx")]
    if layout.weighted:
        sums += [nw.col("weight").min().alias("w_min"), nw.col("weight").max().alias("w_max")]
    units = answered(rows, layout).group_by(*keys).agg(*sums)
    columns = {"value": nw.when(nw.col("k") > 0).then(nw.col("sx") / nw.col("k"))}
    if layout.weighted:
        spread = nw.col("w_max") - nw.col("w_min")
        varies = spread > WEIGHT_TOLERANCE * (1 + nw.col("w_max").abs())
        columns["weight"] = nw.col("w_max")
        columns["weight_varies"] = varies.fill_null(False).cast(nw.Int64)
    return units.with_columns(**columns)
