"""Per-task sufficient statistics of large tables, in DuckDB or pandas.

Two reductions feed everything else:

* :func:`unit_statistics` reduces a unit-level (long) table (DESIGN.md:
  ``task``, ``source``, ``value``, optional ``weight``, ``unit``, ``coord``)
  to one row per ``(task, coord)`` with the counts, means and estimator
  variances (``se²``) of the synthetic sample, the real sample and the gap;
* :func:`battle_statistics` reduces a battle log (``model_a``, ``model_b``,
  a human and an autorater verdict per battle) to counts per
  ``(model, opponent, human verdict, judge verdict)``.

Both run in DuckDB (embedded, reading CSV or Parquet out of core under a
memory limit) or in pandas (small in-memory frames); the two engines give the
same statistics. This module is the authoritative implementation of the
checks on such tables: every problem stops with one ``ValueError`` that names
the column and says what to do.

Estimator variances (the square of the standard error):

* unweighted mean: ``s² / n`` with ``s²`` the sample variance (ddof 1);
* Hájek weighted mean ``μ = Σwx / Σw``: ``Σw²(x − μ)² / (Σw)²``;
* paired gap (when the table has ``unit``): the same formulas on the per-unit
  differences ``d = real − synthetic`` (weighted: the unit's shared weight);
* unpaired gap: ``real_mean − synth_mean`` with variance
  ``real_var + synth_var``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "BATTLE_COLUMNS",
    "UNIT_STATISTICS_COLUMNS",
    "BattleStatistics",
    "Verdicts",
    "battle_statistics",
    "to_summary_table",
    "unit_statistics",
]

Engine = Literal["auto", "pandas", "duckdb"]
Source = str | os.PathLike | pd.DataFrame

UNIT_STATISTICS_COLUMNS = (
    "task",
    "coord",
    "n_synth",
    "synth_mean",
    "synth_var",
    "n_real",
    "real_mean",
    "real_var",
    "n_pairs",
    "gap_mean",
    "gap_var",
)
BATTLE_COLUMNS = ("model", "opponent", "human", "judge", "count")
OUTCOMES = ("win", "tie", "loss")
DEFAULT_MEMORY_LIMIT = "1GB"
_SOURCES = ("real", "synthetic")
_RESERVED = ("task", "source", "value", "weight", "unit", "coord")
_WEIGHT_TOLERANCE = 1e-12


# --------------------------------------------------------------------------- helpers
def _name(source: Source) -> str:
    return "data" if isinstance(source, pd.DataFrame) else str(source)


def _choose_engine(source: Source, engine: str) -> str:
    if engine not in ("auto", "pandas", "duckdb"):
        raise ValueError(f"engine must be one of ['auto', 'pandas', 'duckdb'], got {engine!r}")
    if engine == "auto":
        if isinstance(source, pd.DataFrame):
            return "pandas"
        return "duckdb" if importlib.util.find_spec("duckdb") is not None else "pandas"
    return engine


def _check_path(source: Source) -> Path:
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .csv or .parquet")
    return path


def _read_frame(source: Source) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    from synthinfer.tables._io import read_table

    return read_table(_check_path(source))


def _connect(memory_limit: str, threads: int | None):
    try:
        import duckdb
    except ImportError as error:  # pragma: no cover - duckdb is a test dependency
        raise ImportError(
            "the DuckDB engine needs duckdb; install it with pip install 'synthinfer[scale]' "
            "or use engine='pandas'"
        ) from error
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


def source_columns(source: Source) -> list[str]:
    """Column names of a DataFrame or of a CSV/Parquet file (header only)."""
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns]
    path = _check_path(source)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(
        pd.read_csv(path, nrows=0, sep="\t" if path.suffix.lower() == ".tsv" else ",").columns
    )


def _register_source(con, source: Source, relation: str = "raw") -> list[str]:
    """Expose ``source`` as the view ``raw``; return its column names."""
    if isinstance(source, pd.DataFrame):
        con.register(f"{relation}_frame", source)
        con.execute(f"CREATE TEMP VIEW {relation} AS SELECT * FROM {relation}_frame")
    else:
        path = _check_path(source)
        literal = str(path).replace("'", "''")
        if path.suffix.lower() in (".parquet", ".pq"):
            reader = f"read_parquet('{literal}')"
        else:
            delimiter = "\\t" if path.suffix.lower() == ".tsv" else ","
            reader = (
                f"read_csv('{literal}', header = true, all_varchar = true, delim = '{delimiter}')"
            )
        con.execute(f"CREATE TEMP VIEW {relation} AS SELECT * FROM {reader}")
    return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _missing_columns(columns: Sequence[str], required: Sequence[str], name: str, kind: str) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(
            f"{name}: a {kind} needs column(s) {', '.join(repr(c) for c in missing)}; "
            f"found {', '.join(repr(c) for c in columns)}"
        )


def _key_text(task: object, coord: object) -> str:
    return f"task {task!r}" + (f" / coord {coord!r}" if coord not in ("", None) else "")


# ----------------------------------------------------------------- unit statistics
def unit_statistics(
    source: Source,
    *,
    engine: Engine = "auto",
    attributes: Sequence[str] | Literal["all"] = (),
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> pd.DataFrame:
    """Reduce a unit-level table to per-``(task, coord)`` sufficient statistics.

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        A unit-level table (CSV or Parquet path, read out of core by DuckDB,
        or a DataFrame) with columns ``task``, ``source`` (``real`` or
        ``synthetic``), ``value`` and optionally ``weight``, ``unit``, ``coord``.
    engine : {"auto", "pandas", "duckdb"}
        ``auto`` uses DuckDB for paths (pandas when DuckDB is not installed) and
        pandas for DataFrames.
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
        to zero, real rows without synthetic rows, and in a paired design
        duplicate rows per unit, units on one side only in history tasks and
        weights differing within a unit.

    Examples
    --------
    >>> frame = pd.DataFrame({"task": ["t"] * 4, "source": ["real", "real", "synthetic",
    ...     "synthetic"], "value": [1.0, 0.0, 1.0, 1.0]})
    >>> unit_statistics(frame)[["task", "real_mean", "synth_mean", "gap_mean"]]
      task  real_mean  synth_mean  gap_mean
    0    t        0.5         1.0      -0.5
    """
    name = _name(source)
    if isinstance(attributes, str):
        if attributes != "all":
            raise ValueError(
                f"attributes must be a list of column names or 'all', got {attributes!r}"
            )
        attributes = tuple(c for c in source_columns(source) if c not in _RESERVED)
    attributes = tuple(attributes)
    if _choose_engine(source, engine) == "pandas":
        out = _UnitPandas(_read_frame(source), name, attributes).run()
    else:
        con = _connect(memory_limit, threads)
        try:
            out = _UnitDuckDB(con, source, name, attributes).run()
        finally:
            con.close()
    return _finish_units(out, attributes)


def _finish_units(out: pd.DataFrame, attributes: tuple[str, ...]) -> pd.DataFrame:
    columns = [*UNIT_STATISTICS_COLUMNS, *attributes]
    out = out.sort_values(["task", "coord"], kind="stable").reset_index(drop=True)
    for column in ("n_synth", "n_real", "n_pairs"):
        out[column] = out[column].fillna(0).astype(np.int64)
    history = out["n_real"] > 0
    for column in ("real_mean", "real_var", "gap_mean", "gap_var"):
        out[column] = out[column].astype(float).where(history, np.nan)
    for column in ("synth_mean", "synth_var"):
        out[column] = out[column].astype(float)
    return out[columns]


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
    if (statistics["coord"] != "").any():
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


def _side_error(name: str, keys: pd.DataFrame) -> None:
    """Tasks with real rows but no synthetic rows."""
    if len(keys):
        first = keys.iloc[0]
        raise ValueError(
            f"{name}: {_key_text(first['task'], first['coord'])} has real rows but no synthetic "
            f"rows ({len(keys)} such task(s)); every task needs synthetic rows in column 'source'"
        )


def _pair_errors(name: str, pairs: pd.DataFrame) -> None:
    """Checks on per-(task, coord) pairing counts (columns n_dup, n_one_sided, n_wdiff)."""
    for column, message in (
        (
            "n_dup",
            "{n} unit(s) have more than one row per source (e.g. {key}); in a paired design "
            "column 'unit' identifies one real and one synthetic row: average repeated rows "
            "first or give each its own unit",
        ),
        (
            "n_one_sided",
            "{n} unit(s) of history tasks appear on one side only (e.g. {key}); in a paired "
            "design every real 'unit' needs its synthetic row and vice versa: remove the "
            "unmatched rows or drop column 'unit' for an unpaired analysis",
        ),
        (
            "n_wdiff",
            "{n} unit(s) carry different real and synthetic values in column 'weight' "
            "(e.g. {key}); paired units share one survey weight: give both rows the same weight",
        ),
    ):
        if column in pairs.columns and pairs[column].sum() > 0:
            first = pairs[pairs[column] > 0].iloc[0]
            raise ValueError(
                f"{name}: "
                + message.format(
                    n=int(pairs[column].sum()), key=_key_text(first["task"], first["coord"])
                )
            )


def _value_error(name: str, column: str, count: int, example: object, what: str) -> ValueError:
    return ValueError(
        f"{name}: column '{column}' has {count} {what} value(s) (e.g. {example!r}); "
        f"fix or remove those rows"
    )


@dataclass
class _UnitPandas:
    """The pandas engine of :func:`unit_statistics`."""

    frame: pd.DataFrame
    name: str
    attributes: tuple[str, ...]
    rows: pd.DataFrame = field(init=False, repr=False)

    def run(self) -> pd.DataFrame:
        self.rows = self._validated()
        weighted = "w" in self.rows.columns
        grouped = self._moments(self.rows, "x", ["task", "coord", "source"], weighted)
        synth, real = (_side(grouped, side) for side in ("synthetic", "real"))
        keys = grouped.index.droplevel("source").unique()
        _side_error(self.name, real.loc[real.index.difference(synth.index)].reset_index())
        out = pd.DataFrame(index=keys)
        out["n_synth"] = synth["n"]
        out["synth_mean"] = synth["mean"]
        out["synth_var"] = synth["var"]
        out["n_real"] = real["n"].reindex(keys)
        out["real_mean"] = real["mean"].reindex(keys)
        out["real_var"] = real["var"].reindex(keys)
        if "unit" in self.rows.columns:
            gap = self._paired(weighted, out)
            out["n_pairs"] = gap["n"].reindex(keys)
            out["gap_mean"] = gap["mean"].reindex(keys)
            out["gap_var"] = gap["var"].reindex(keys)
        else:
            out["n_pairs"] = 0
            out["gap_mean"] = out["real_mean"] - out["synth_mean"]
            out["gap_var"] = out["real_var"] + out["synth_var"]
        out = out.reset_index()
        return self._with_attributes(out)

    def _validated(self) -> pd.DataFrame:
        frame, name = self.frame, self.name
        _missing_columns(list(frame.columns), ("task", "source", "value"), name, "unit-level table")
        _missing_columns(list(frame.columns), self.attributes, name, "unit-level table")
        rows = pd.DataFrame(index=frame.index)
        for column in ("task", "coord", "unit"):
            if column in frame.columns and frame[column].isna().any():
                raise ValueError(
                    f"{name}: column '{column}' is empty in {int(frame[column].isna().sum())} "
                    f"row(s); every row needs a {column} id"
                )
        rows["task"] = frame["task"].astype(str)
        rows["coord"] = frame["coord"].astype(str) if "coord" in frame.columns else ""
        source = frame["source"].astype("string").str.strip().str.lower()
        unknown = ~source.isin(_SOURCES).fillna(False).to_numpy(dtype=bool)
        if unknown.any():
            values = sorted(map(str, frame["source"][unknown].unique()))[:5]
            raise ValueError(
                f"{name}: column 'source' must be 'real' or 'synthetic'; {int(unknown.sum())} "
                f"row(s) have other values ({', '.join(map(repr, values))}): rename or remove them"
            )
        rows["source"] = source.astype(str)
        rows["x"] = self._numeric("value")
        if "weight" in frame.columns:
            rows["w"] = self._numeric("weight")
            negative = rows["w"] < 0
            if negative.any():
                raise ValueError(
                    f"{name}: column 'weight' has {int(negative.sum())} negative value(s) "
                    f"(e.g. {rows['w'][negative].iloc[0]!r}); survey weights must be >= 0"
                )
        if "unit" in frame.columns:
            rows["unit"] = frame["unit"].to_numpy()
        return rows

    def _numeric(self, column: str) -> pd.Series:
        raw = self.frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        text = values.isna() & raw.notna()
        if text.any():
            raise _value_error(self.name, column, int(text.sum()), raw[text].iloc[0], "non-numeric")
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            raise _value_error(
                self.name, column, int(bad.sum()), raw[bad].iloc[0], "missing (NaN) or infinite"
            )
        return values

    def _moments(
        self, rows: pd.DataFrame, column: str, keys: list[str], weighted: bool
    ) -> pd.DataFrame:
        grouped = rows.groupby(keys, sort=False)
        if not weighted:
            out = pd.DataFrame({"n": grouped.size(), "mean": grouped[column].mean()})
            out["var"] = grouped[column].var(ddof=1) / out["n"]
            return out
        frame = rows[[*keys, column, "w"]].copy()
        frame["wx"] = frame["w"] * frame[column]
        sums = frame.groupby(keys, sort=False)[["w", "wx"]].sum()
        if (sums["w"] <= 0).any():
            key = sums.index[sums["w"] <= 0][0]
            raise ValueError(
                f"{self.name}: the values in column 'weight' of {_key_text(key[0], key[1])} "
                f"sum to 0; each task's real and synthetic weights need a positive total"
            )
        mean = sums["wx"] / sums["w"]
        index = pd.MultiIndex.from_frame(frame[keys])
        centered = frame[column].to_numpy() - mean.reindex(index).to_numpy()
        frame["spread"] = frame["w"].to_numpy() ** 2 * centered**2
        spread = frame.groupby(keys, sort=False)["spread"].sum()
        return pd.DataFrame({"n": grouped.size(), "mean": mean, "var": spread / sums["w"] ** 2})

    def _paired(self, weighted: bool, out: pd.DataFrame) -> pd.DataFrame:
        rows = self.rows
        keys = ["task", "coord", "unit"]
        counts = rows.groupby([*keys, "source"], sort=False).size().unstack(fill_value=0)
        counts = counts.reindex(columns=list(_SOURCES), fill_value=0)
        history = out["n_real"].fillna(0) > 0
        task_coord = counts.index.droplevel("unit")
        is_history = history.reindex(task_coord).fillna(False).to_numpy(dtype=bool)
        flags = pd.DataFrame(
            {
                "task": task_coord.get_level_values(0),
                "coord": task_coord.get_level_values(1),
                "n_dup": ((counts["real"] > 1) | (counts["synthetic"] > 1)).to_numpy(),
                "n_one_sided": is_history
                & ((counts["real"] == 0) | (counts["synthetic"] == 0)).to_numpy(),
            }
        )
        if weighted:
            spread = rows.groupby(keys, sort=False)["w"].agg(["min", "max"]).reindex(counts.index)
            flags["n_wdiff"] = (
                spread["max"] - spread["min"] > _WEIGHT_TOLERANCE * (1 + spread["max"].abs())
            ).to_numpy()
        _pair_errors(self.name, flags.groupby(["task", "coord"], sort=False).sum().reset_index())
        real = rows[rows["source"] == "real"].set_index(keys)
        synth = rows[rows["source"] == "synthetic"].set_index(keys)
        real, synth = real.align(synth, join="inner", axis=0)
        diffs = pd.DataFrame(
            {
                "task": real.index.get_level_values("task"),
                "coord": real.index.get_level_values("coord"),
                "d": real["x"].to_numpy() - synth["x"].to_numpy(),
            }
        )
        if weighted:
            diffs["w"] = real["w"].to_numpy()
        return self._moments(diffs, "d", ["task", "coord"], weighted)

    def _with_attributes(self, out: pd.DataFrame) -> pd.DataFrame:
        if not self.attributes:
            return out
        frame = pd.DataFrame({"task": self.rows["task"]})
        for column in self.attributes:
            frame[column] = self.frame[column].to_numpy()
        grouped = frame.groupby("task", sort=False)
        for column in self.attributes:
            varying = grouped[column].nunique() > 1
            if varying.any():
                raise ValueError(
                    f"{self.name}: column '{column}' varies within task {varying.idxmax()!r}; "
                    f"task attributes must be constant within a task"
                )
        return out.merge(grouped[list(self.attributes)].first().reset_index(), on="task")


def _side(grouped: pd.DataFrame, side: str) -> pd.DataFrame:
    """Rows of one source, indexed by (task, coord)."""
    if side in grouped.index.get_level_values("source"):
        return grouped.xs(side, level="source")
    return grouped.iloc[:0].droplevel("source")


class _UnitDuckDB:
    """The DuckDB engine of :func:`unit_statistics` (streams the source)."""

    def __init__(self, con, source: Source, name: str, attributes: tuple[str, ...]) -> None:
        self.con = con
        self.source = source
        self.name = name
        self.attributes = attributes

    def run(self) -> pd.DataFrame:
        columns = _register_source(self.con, self.source)
        _missing_columns(columns, ("task", "source", "value"), self.name, "unit-level table")
        _missing_columns(columns, self.attributes, self.name, "unit-level table")
        self.weighted = "weight" in columns
        self.paired = "unit" in columns
        self._create_view(columns)
        groups = self._group_moments()
        self._check_groups(groups)
        if self.weighted:
            groups = self._hajek(groups)
        out = self._per_task(groups)
        if self.paired:
            gap = self._paired(out)
            out = out.drop(columns=["n_pairs", "gap_mean", "gap_var"]).merge(
                gap, on=["task", "coord"], how="left"
            )
        return self._with_attributes(out)

    def _create_view(self, columns: list[str]) -> None:
        coord = "CAST(coord AS VARCHAR)" if "coord" in columns else "''"
        weight = "TRY_CAST(weight AS DOUBLE)" if self.weighted else "1.0"
        raw_weight = "CAST(weight AS VARCHAR)" if self.weighted else "'1'"
        unit = "unit" if self.paired else "NULL"
        self.con.execute(
            f"""CREATE TEMP VIEW units AS SELECT
                CAST(task AS VARCHAR) AS task, {coord} AS coord,
                lower(trim(CAST(source AS VARCHAR))) AS source,
                TRY_CAST(value AS DOUBLE) AS x, CAST(value AS VARCHAR) AS raw_x,
                {weight} AS w, {raw_weight} AS raw_w, {unit} AS unit
            FROM raw"""
        )

    def _group_moments(self) -> pd.DataFrame:
        bad_w = "count(*) FILTER (WHERE w IS NULL OR isnan(w) OR isinf(w))"
        return self.con.execute(
            f"""SELECT task, coord, source, count(*) AS n,
                fsum(x) / count(*) AS mean, var_samp(x) / count(*) AS var,
                fsum(w) AS sw, fsum(w * x) AS swx,
                count(*) FILTER (WHERE x IS NULL AND raw_x IS NOT NULL) AS n_text,
                count(*) FILTER (WHERE raw_x IS NULL OR isnan(x) OR isinf(x)) AS n_nan,
                {bad_w} AS n_bad_w, count(*) FILTER (WHERE w < 0) AS n_neg_w,
                count(*) FILTER (WHERE unit IS NULL) AS n_null_unit
            FROM units GROUP BY task, coord, source"""
        ).df()

    def _example(self, condition: str, column: str) -> object:
        row = self.con.execute(f"SELECT {column} FROM units WHERE {condition} LIMIT 1").fetchone()
        return None if row is None else row[0]

    def _check_groups(self, groups: pd.DataFrame) -> None:
        name = self.name
        for column in ("task", "coord"):
            if groups[column].isna().any():
                n = int(groups.loc[groups[column].isna(), "n"].sum())
                raise ValueError(
                    f"{name}: column '{column}' is empty in {n} row(s); every row needs a "
                    f"{column} id"
                )
        unknown = ~groups["source"].isin(_SOURCES)
        if unknown.any():
            values = sorted(map(str, groups.loc[unknown, "source"].unique()))[:5]
            raise ValueError(
                f"{name}: column 'source' must be 'real' or 'synthetic'; "
                f"{int(groups.loc[unknown, 'n'].sum())} row(s) have other values "
                f"({', '.join(map(repr, values))}): rename or remove them"
            )
        checks = [
            ("n_text", "value", "x IS NULL AND raw_x IS NOT NULL", "raw_x", "non-numeric"),
            (
                "n_nan",
                "value",
                "raw_x IS NULL OR isnan(x) OR isinf(x)",
                "x",
                "missing (NaN) or infinite",
            ),
        ]
        if self.weighted:
            checks += [
                (
                    "n_bad_w",
                    "weight",
                    "w IS NULL OR isnan(w) OR isinf(w)",
                    "raw_w",
                    "non-numeric, missing or infinite",
                ),
            ]
        for count, column, condition, shown, what in checks:
            total = int(groups[count].sum())
            if total:
                raise _value_error(name, column, total, self._example(condition, shown), what)
        if self.weighted and groups["n_neg_w"].sum():
            raise ValueError(
                f"{name}: column 'weight' has {int(groups['n_neg_w'].sum())} negative value(s) "
                f"(e.g. {self._example('w < 0', 'w')!r}); survey weights must be >= 0"
            )
        if self.paired and groups["n_null_unit"].sum():
            raise ValueError(
                f"{name}: column 'unit' is empty in {int(groups['n_null_unit'].sum())} row(s); "
                f"every row needs a unit id"
            )
        if self.weighted and (groups["sw"] <= 0).any():
            first = groups[groups["sw"] <= 0].iloc[0]
            raise ValueError(
                f"{name}: the values in column 'weight' of "
                f"{_key_text(first['task'], first['coord'])} sum to 0; each task's real and "
                f"synthetic weights need a positive total"
            )

    def _hajek(self, groups: pd.DataFrame) -> pd.DataFrame:
        groups = groups.copy()
        groups["mean"] = groups["swx"] / groups["sw"]
        self.con.register("group_means", groups[["task", "coord", "source", "mean"]])
        spread = self.con.execute(
            """SELECT u.task, u.coord, u.source, fsum(u.w * u.w * (u.x - g.mean) * (u.x - g.mean))
                   AS spread
               FROM units u JOIN group_means g
                 ON u.task = g.task AND u.coord = g.coord AND u.source = g.source
               GROUP BY u.task, u.coord, u.source"""
        ).df()
        groups = groups.drop(columns="var").merge(spread, on=["task", "coord", "source"])
        groups["var"] = groups["spread"] / groups["sw"] ** 2
        return groups

    def _per_task(self, groups: pd.DataFrame) -> pd.DataFrame:
        synth = groups[groups["source"] == "synthetic"].set_index(["task", "coord"])
        real = groups[groups["source"] == "real"].set_index(["task", "coord"])
        _side_error(self.name, real.loc[real.index.difference(synth.index)].reset_index())
        out = pd.DataFrame(index=synth.index)
        out["n_synth"] = synth["n"]
        out["synth_mean"] = synth["mean"]
        out["synth_var"] = synth["var"]
        out["n_real"] = real["n"].reindex(out.index)
        out["real_mean"] = real["mean"].reindex(out.index)
        out["real_var"] = real["var"].reindex(out.index)
        out["n_pairs"] = 0
        out["gap_mean"] = out["real_mean"] - out["synth_mean"]
        out["gap_var"] = out["real_var"] + out["synth_var"]
        return out.reset_index()

    def _paired(self, out: pd.DataFrame) -> pd.DataFrame:
        shift = out[["task", "coord", "n_real"]].copy()
        shift["is_history"] = shift["n_real"].fillna(0) > 0
        shift["c"] = (out["real_mean"] - out["synth_mean"]).fillna(0.0)
        self.con.register("task_shift", shift[["task", "coord", "is_history", "c"]])
        pair = "nr = 1 AND ns = 1"
        if self.weighted:
            moments = f"""
                fsum(w) FILTER (WHERE {pair}) AS s0,
                fsum(w * (d - c)) FILTER (WHERE {pair}) AS s1,
                fsum(w * w) FILTER (WHERE {pair}) AS s2w,
                fsum(w * w * (d - c)) FILTER (WHERE {pair}) AS s3,
                fsum(w * w * (d - c) * (d - c)) FILTER (WHERE {pair}) AS s2,
                count(*) FILTER (WHERE wmax - wmin > {_WEIGHT_TOLERANCE} * (1 + abs(wmax)))
                    AS n_wdiff"""
        else:
            moments = f"""
                fsum(d) FILTER (WHERE {pair}) AS s1,
                var_samp(d) FILTER (WHERE {pair}) AS var_d"""
        gap = self.con.execute(
            f"""WITH per_unit AS (
                    SELECT task, coord, unit,
                        count(*) FILTER (WHERE source = 'real') AS nr,
                        count(*) FILTER (WHERE source = 'synthetic') AS ns,
                        sum(x) FILTER (WHERE source = 'real')
                          - sum(x) FILTER (WHERE source = 'synthetic') AS d,
                        min(w) AS wmin, max(w) AS wmax, min(w) AS w
                    FROM units GROUP BY task, coord, unit)
                SELECT p.task, p.coord,
                    count(*) FILTER (WHERE {pair}) AS n_pairs,
                    count(*) FILTER (WHERE nr > 1 OR ns > 1) AS n_dup,
                    count(*) FILTER (WHERE t.is_history AND (nr = 0 OR ns = 0)) AS n_one_sided,
                    {moments}
                FROM per_unit p JOIN task_shift t ON p.task = t.task AND p.coord = t.coord
                GROUP BY p.task, p.coord"""
        ).df()
        _pair_errors(self.name, gap)
        n = gap["n_pairs"].astype(float)
        if self.weighted:
            delta = gap["s1"] / gap["s0"]
            c = gap[["task", "coord"]].merge(shift, on=["task", "coord"])["c"].to_numpy()
            gap["gap_mean"] = c + delta
            gap["gap_var"] = (gap["s2"] - 2 * delta * gap["s3"] + delta**2 * gap["s2w"]) / gap[
                "s0"
            ] ** 2
        else:
            gap["gap_mean"] = gap["s1"] / n
            gap["gap_var"] = gap["var_d"] / n
        return gap[["task", "coord", "n_pairs", "gap_mean", "gap_var"]]

    def _with_attributes(self, out: pd.DataFrame) -> pd.DataFrame:
        if not self.attributes:
            return out
        selects = ", ".join(
            f"count(DISTINCT {_quote(c)}) AS {_quote('n_' + c)}, min({_quote(c)}) AS {_quote(c)}"
            for c in self.attributes
        )
        values = self.con.execute(
            f"SELECT CAST(task AS VARCHAR) AS task, {selects} FROM raw GROUP BY 1"
        ).df()
        for column in self.attributes:
            varying = values["n_" + column] > 1
            if varying.any():
                raise ValueError(
                    f"{self.name}: column '{column}' varies within task "
                    f"{values.loc[varying, 'task'].iloc[0]!r}; task attributes must be constant "
                    f"within a task"
                )
        return out.merge(values[["task", *self.attributes]], on="task")


# ---------------------------------------------------------------- battle statistics
@dataclass(frozen=True)
class Verdicts:
    """Which values of a verdict column mean "A won", "B won" and "tie".

    Values are compared after trimming and lower-casing. An empty verdict
    (missing value or empty string) in the human column marks a battle the
    autorater judged alone.

    Parameters
    ----------
    a, b, tie : tuple of str
        Accepted spellings of each outcome.
    """

    a: tuple[str, ...] = ("a",)
    b: tuple[str, ...] = ("b",)
    tie: tuple[str, ...] = ("tie",)

    @classmethod
    def parse(cls, spec: str | Verdicts | None) -> Verdicts:
        """Parse ``"A,B,TIE"``; each part may list spellings separated by ``|``.

        Examples
        --------
        >>> Verdicts.parse("model_a,model_b,tie|tie (bothbad)").tie
        ('tie', 'tie (bothbad)')
        """
        if spec is None:
            return cls()
        if isinstance(spec, Verdicts):
            return spec
        parts = [part.strip() for part in str(spec).split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"verdicts must be three comma-separated values 'A,B,TIE' (alternatives "
                f"separated by '|'), got {spec!r}"
            )
        a, b, tie = (
            tuple(v.strip().lower() for v in part.split("|") if v.strip()) for part in parts
        )
        if len(set(a + b + tie)) != len(a + b + tie):
            raise ValueError(f"verdicts must not give one value two meanings, got {spec!r}")
        return cls(a, b, tie)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Codes 0 (A won), 1 (tie), 2 (B won), 3 (missing) or -1 (unknown)."""
        text = values.astype("string").str.strip().str.lower()
        out = np.full(len(values), -1, dtype=np.int64)
        for code, spellings in enumerate((self.a, self.tie, self.b)):
            out[text.isin(spellings).fillna(False).to_numpy(dtype=bool)] = code
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
        out[missing] = 3
        return out


@dataclass(frozen=True)
class BattleStatistics:
    """Counts of a battle log per (model, opponent, human verdict, judge verdict).

    Attributes
    ----------
    counts : pandas.DataFrame
        Columns ``model, opponent, human, judge, count``; verdicts are from the
        model's side (``win``, ``tie``, ``loss``; ``human`` is missing for a
        battle the autorater judged alone). Every battle appears twice, once
        from each side.
    times : pandas.Series or None
        Earliest battle time per model (when the log has a time column).
    n_battles : int
        Rows of the log.
    name : str
        Where the log came from (for messages).
    """

    counts: pd.DataFrame = field(repr=False)
    times: pd.Series | None = field(repr=False)
    n_battles: int
    name: str = "battles"


def battle_statistics(
    source: Source,
    *,
    model_a: str = "model_a",
    model_b: str = "model_b",
    human: str = "human",
    judge: str = "judge",
    time: str | None = None,
    verdicts: str | Verdicts | None = None,
    engine: Engine = "auto",
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> BattleStatistics:
    """Reduce a battle log to counts per (model, opponent, human verdict, judge verdict).

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        Battle log, one row per battle (CSV or Parquet path, read out of core
        by DuckDB, or a DataFrame).
    model_a, model_b, human, judge : str
        Column names of the two models and of the human and autorater
        verdicts (values ``a``, ``b``, ``tie`` by default, see ``verdicts``).
    time : str, optional
        Battle time column; each model's time is its earliest battle.
    verdicts : str or Verdicts, optional
        Verdict spellings, e.g. ``"model_a,model_b,tie|tie (bothbad)"``.
    engine : {"auto", "pandas", "duckdb"}
        ``auto`` uses DuckDB for paths (pandas when DuckDB is not installed) and
        pandas for DataFrames.
    memory_limit : str
        DuckDB memory limit.
    threads : int, optional
        DuckDB threads.

    Returns
    -------
    BattleStatistics

    Raises
    ------
    ValueError
        Missing columns, empty model names, self-battles, unknown verdict
        values, or battles without an autorater verdict.
    """
    verdicts = Verdicts.parse(verdicts)
    name = _name(source)
    columns = {"model_a": model_a, "model_b": model_b, "human": human, "judge": judge}
    if time is not None:
        columns["time"] = time
    if _choose_engine(source, engine) == "pandas":
        grouped = _battles_pandas(_read_frame(source), columns, name)
    else:
        con = _connect(memory_limit, threads)
        try:
            grouped = _battles_duckdb(con, source, columns, name)
        finally:
            con.close()
    return _orient_battles(grouped, verdicts, columns, name)


def _battles_pandas(frame: pd.DataFrame, columns: dict[str, str], name: str) -> pd.DataFrame:
    _missing_columns(list(frame.columns), list(columns.values()), name, "battle log")
    keys = ["model_a", "model_b", "human", "judge"]
    rows = pd.DataFrame({key: frame[columns[key]] for key in keys})
    for key in ("model_a", "model_b"):
        rows[key] = rows[key].astype("string")
    for key in ("human", "judge"):
        rows[key] = rows[key].astype("string").str.strip().str.lower()
    grouped = rows.groupby(keys, dropna=False, sort=False)
    out = grouped.size().rename("count").reset_index()
    if "time" in columns:
        rows["time"] = frame[columns["time"]].to_numpy()
        out["time"] = rows.groupby(keys, dropna=False, sort=False)["time"].min().to_numpy()
    return out


def _battles_duckdb(con, source: Source, columns: dict[str, str], name: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        available = _register_source(con, source)
    else:
        path = _check_path(source)
        literal = str(path).replace("'", "''")
        reader = (
            f"read_parquet('{literal}')"
            if path.suffix.lower() in (".parquet", ".pq")
            else f"read_csv('{literal}', header = true)"
        )
        con.execute(f"CREATE TEMP VIEW raw AS SELECT * FROM {reader}")
        available = [row[0] for row in con.execute("DESCRIBE raw").fetchall()]
    _missing_columns(available, list(columns.values()), name, "battle log")
    q = {key: _quote(column) for key, column in columns.items()}
    time_select = f", min({q['time']}) AS time" if "time" in columns else ""
    return con.execute(
        f"""SELECT CAST({q["model_a"]} AS VARCHAR) AS model_a,
                   CAST({q["model_b"]} AS VARCHAR) AS model_b,
                   lower(trim(CAST({q["human"]} AS VARCHAR))) AS human,
                   lower(trim(CAST({q["judge"]} AS VARCHAR))) AS judge,
                   count(*) AS count{time_select}
            FROM raw GROUP BY 1, 2, 3, 4"""
    ).df()


def _verdict_error(name: str, column: str, grouped: pd.DataFrame, bad: np.ndarray, key: str):
    values = grouped.loc[bad].groupby(key, dropna=False)["count"].sum().sort_values()[::-1]
    shown = ", ".join(f"{value!r} ({int(n)} rows)" for value, n in values.head(5).items())
    return ValueError(
        f"{name}: column '{column}' has unknown verdict values: {shown}; verdicts must be "
        f"'a', 'b' or 'tie' (map other spellings with --verdicts A,B,TIE)"
    )


def _orient_battles(
    grouped: pd.DataFrame, verdicts: Verdicts, columns: dict[str, str], name: str
) -> BattleStatistics:
    """Validate the grouped log and list every battle from both sides."""
    if grouped.empty:
        raise ValueError(f"{name}: the battle log has no rows")
    for key in ("model_a", "model_b"):
        empty = grouped[key].isna() | (grouped[key].astype("string").str.strip() == "")
        if empty.any():
            n_empty = int(grouped.loc[empty, "count"].sum())
            raise ValueError(
                f"{name}: column '{columns[key]}' is empty in {n_empty} row(s); every battle "
                f"needs both model names"
            )
    same = (grouped["model_a"] == grouped["model_b"]).to_numpy(dtype=bool)
    if same.any():
        example = grouped.loc[same, "model_a"].iloc[0]
        raise ValueError(
            f"{name}: {int(grouped.loc[same, 'count'].sum())} battle(s) pit a model against "
            f"itself (e.g. {example!r} in columns '{columns['model_a']}' and "
            f"'{columns['model_b']}'); remove those rows"
        )
    human = verdicts.codes(grouped["human"])
    judge = verdicts.codes(grouped["judge"])
    for codes, key in ((human, "human"), (judge, "judge")):
        if (codes < 0).any():
            raise _verdict_error(name, columns[key], grouped, codes < 0, key)
    if (judge == 3).any():
        raise ValueError(
            f"{name}: column '{columns['judge']}' is empty in "
            f"{int(grouped.loc[judge == 3, 'count'].sum())} row(s); every battle needs an "
            f"autorater verdict (remove battles the autorater did not judge)"
        )
    counts = np.asarray(grouped["count"], dtype=np.int64)
    outcome_a = np.array(["win", "tie", "loss", None], dtype=object)
    outcome_b = np.array(["loss", "tie", "win", None], dtype=object)
    sides = pd.DataFrame(
        {
            "model": np.concatenate([grouped["model_a"], grouped["model_b"]]).astype(str),
            "opponent": np.concatenate([grouped["model_b"], grouped["model_a"]]).astype(str),
            "human": np.concatenate([outcome_a[human], outcome_b[human]]),
            "judge": np.concatenate([outcome_a[judge], outcome_b[judge]]),
            "count": np.concatenate([counts, counts]),
        }
    )
    table = (
        sides.groupby(["model", "opponent", "human", "judge"], dropna=False, sort=True)["count"]
        .sum()
        .reset_index()
    )
    times = None
    if "time" in grouped.columns:
        both = pd.DataFrame(
            {
                "model": np.concatenate([grouped["model_a"], grouped["model_b"]]).astype(str),
                "time": np.concatenate([grouped["time"].to_numpy(), grouped["time"].to_numpy()]),
            }
        )
        times = both.groupby("model")["time"].min()
    return BattleStatistics(
        counts=table[list(BATTLE_COLUMNS)], times=times, n_battles=int(counts.sum()), name=name
    )
