"""Task data: unit-level and summary tables from a path or any dataframe, checked at the door.

Two formats are accepted (see DESIGN.md):

* a **unit-level (long) table**, one row per observation, with columns
  ``task``, ``source`` (``real`` or ``synthetic``) and ``value``, optionally
  ``weight`` (Hájek survey weights), ``unit`` (pairing id), ``coord`` and
  task-level attributes. It is checked and reduced to per-task statistics
  where it lives (:mod:`synthinfer.tables`); its rows are read back only for
  the interval constructions that need them;
* a **summary table**, one row per task (and coordinate), with
  ``synth_estimate`` and ``synth_se`` and, for historical tasks,
  ``real_estimate`` and/or ``gap_estimate`` with ``gap_se``.

A task with synthetic data only is a *target*; a task with real data too is
*history*. :meth:`TaskData.statistics` turns either format into per-task
interval families that the methods consume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthinfer._columns import NO_COORD, SUMMARY_RESERVED
from synthinfer.data._estimand import Estimand, TaskStatistics
from synthinfer.data._statistics import CoordinateRows, unit_families
from synthinfer.data._summary import checked_summary
from synthinfer.data._time import decimal_years, time_values
from synthinfer.intervals import IntervalFamily, WaldInterval
from synthinfer.tables import (
    DEFAULT_MEMORY_LIMIT,
    ReadOptions,
    Table,
    UnitRows,
    UnitSummary,
    read_table,
    scan_options,
    summarize_units,
    unit_table,
)

__all__ = [
    "SUMMARY_RESERVED",
    "Estimand",
    "TaskData",
    "TaskStatistics",
    "decimal_years",
    "time_values",
]


@dataclass(frozen=True)
class TaskData:
    """Checked task data in the unit-level or summary format.

    Build it with :meth:`load` (a path or any dataframe), or :meth:`read` and
    :meth:`from_frame`.

    Attributes
    ----------
    frame : pandas.DataFrame
        The checked table: a summary table as given (cleaned), or for
        unit-level data its per-``(task, coord)`` statistics (the columns of
        :func:`synthinfer.tables.unit_statistics`).
    kind : {"unit", "summary"}
        Which format.
    attributes : pandas.DataFrame
        Task-level attributes (``time``, ``task_weight``, groups, ...),
        indexed by task.
    coords : tuple of str
        Coordinate names (``("",)`` for a scalar estimand).
    history_tasks, target_tasks : tuple of str
        Tasks with real data, and tasks with synthetic data only.
    name : str
        Where the data came from (for messages).
    rows : UnitRows or None
        A unit-level table's rows, read back per task when needed.
    binary : bool
        Whether every value of a unit-level table is 0 or 1 (then its
        estimands are proportions and bounds default to ``[0, 1]``).
    """

    frame: pd.DataFrame = field(repr=False)
    kind: Literal["unit", "summary"]
    attributes: pd.DataFrame = field(repr=False)
    coords: tuple[str, ...]
    history_tasks: tuple[str, ...]
    target_tasks: tuple[str, ...]
    name: str = "data"
    rows: UnitRows | None = field(default=None, repr=False)
    binary: bool = False

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        source: Any,
        *,
        name: str | None = None,
        engine: Literal["duckdb", "spark"] = "duckdb",
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
        spark_remote: str | None = None,
        encoding: str | None = None,
        real: str | None = None,
        synthetic: str | None = None,
        task_col: str | None = None,
        unit_col: str | None = None,
        format_in: str | None = None,
    ) -> TaskData:
        """Check task data in either format, from a path or any dataframe.

        Parameters
        ----------
        source : TaskData, path or dataframe
            A CSV/TSV or Parquet file (compressed, a partitioned folder or a
            glob too), or a pandas, polars (eager or lazy), pyarrow, DuckDB,
            Spark or other Narwhals-supported frame. A ``TaskData`` is
            returned as it is.
        name : str, optional
            Name used in messages (default: the path, or ``data``).
        engine : {"duckdb", "spark"}
            What scans files: DuckDB (embedded, out of core) or Spark.
        memory_limit : str
            DuckDB memory limit; DuckDB spills to disk beyond it.
        threads : int, optional
            DuckDB threads (default: all cores).
        spark_remote : str, optional
            A Spark Connect address (``sc://HOST:PORT``) for ``engine="spark"``
            (default: the active Spark session, else a local one).
        encoding : str, optional
            Text encoding of a CSV file (e.g. ``"latin-1"``, ``"cp1252"``); default: detected.
        real, synthetic : str, optional
            A wide score table's human (real) and judge (synthetic) score
            columns, one row per item; for a promptfoo or Inspect AI log, the
            human and judge score names (see ``docs/files.md``).
        task_col, unit_col : str, optional
            A wide score table's task and item id columns (defaults: ``task``,
            else one task named after the file; ``unit`` or ``id``, else the
            row number).
        format_in : {"wide", "promptfoo", "inspect"}, optional
            The input format (default: a unit-level or summary table, a wide
            score table when ``real``/``synthetic`` are given, a promptfoo or
            Inspect AI log when the file's content shows one).

        Returns
        -------
        TaskData
        """
        reading = ReadOptions(real, synthetic, task_col, unit_col, format_in)
        if isinstance(source, TaskData):
            if reading.given:
                raise ValueError(
                    f"{source.name}: is already read as task data; real, synthetic, task_col, "
                    f"unit_col and format_in apply to a path or a dataframe"
                )
            return source
        options = scan_options(engine, memory_limit, threads, spark_remote, encoding)
        table = unit_table(source, options, reading, name)
        columns = table.columns()
        if {"source", "value"} <= set(columns):
            return cls._from_units(summarize_units(table, "all"), table.where)
        if "synth_estimate" in columns:
            return cls._from_summary(_summary_frame(table), table.where)
        raise ValueError(
            f"{table.where}: cannot tell the format: a unit-level table needs columns "
            f"'task', 'source', 'value'; a summary table needs 'task', 'synth_estimate', "
            f"'synth_se' (found {', '.join(map(repr, columns))})"
        )

    @classmethod
    def read(cls, path: Any, *, engine: Literal["duckdb", "spark"] = "duckdb") -> TaskData:
        """Check a file (CSV/TSV or Parquet, a folder or a glob) in either format.

        See :meth:`load`.
        """
        return cls.load(path, engine=engine)

    @classmethod
    def from_frame(cls, frame: Any, *, name: str | None = None) -> TaskData:
        """Check a dataframe of any backend (or a path) in either format.

        See :meth:`load`; ``name`` is used in messages (e.g. the file it came
        from; default ``data``, or the path).
        """
        return cls.load(frame, name=name)

    @classmethod
    def _from_summary(cls, frame: pd.DataFrame, name: str) -> TaskData:
        if frame.empty:
            raise ValueError(f"{name}: the table has no rows")
        frame, is_history = checked_summary(frame.reset_index(drop=True).copy(), name)
        return cls._built(frame, "summary", is_history, None, name)

    @classmethod
    def _from_units(cls, summary: UnitSummary, name: str) -> TaskData:
        statistics = _in_order(summary.statistics, summary.order, summary.coords)
        is_history = (statistics["n_real"] > 0).to_numpy()
        data = cls._built(statistics, "unit", is_history, summary.attributes, name)
        return replace(data, rows=summary.rows, binary=summary.binary)

    @classmethod
    def _built(
        cls,
        frame: pd.DataFrame,
        kind: Literal["unit", "summary"],
        is_history_row: np.ndarray,
        attributes: pd.DataFrame | None,
        name: str,
    ) -> TaskData:
        """Checks both formats share: coordinates, history status, attributes, times, weights.

        ``attributes`` is ``None`` for a summary table (its columns without a
        fixed meaning are found and checked here).
        """
        coords = _coords(frame, name)
        history = _history_status(frame, is_history_row, name)
        if attributes is None:
            attributes = _task_attributes(frame, SUMMARY_RESERVED, name)
        attributes = _check_time(attributes, name)
        _check_task_weight(attributes, name)
        return cls(
            frame=frame,
            kind=kind,
            attributes=attributes,
            coords=coords,
            history_tasks=tuple(t for t, h in history.items() if h),
            target_tasks=tuple(t for t, h in history.items() if not h),
            name=name,
        )

    # ---------------------------------------------------------------- queries
    @property
    def tasks(self) -> tuple[str, ...]:
        """All task ids, history first."""
        return self.history_tasks + self.target_tasks

    @property
    def is_multidimensional(self) -> bool:
        """Whether the table has a ``coord`` column."""
        return self.coords != (NO_COORD,)

    @property
    def has_gap_se(self) -> bool:
        """Whether gap standard errors are available (always for unit-level data)."""
        return self.kind == "unit" or "gap_se" in self.frame.columns

    def subset(self, tasks: Sequence[str]) -> TaskData:
        """The same data restricted to ``tasks``."""
        keep = set(tasks)
        return replace(
            self,
            frame=self.frame[self.frame["task"].isin(keep)].reset_index(drop=True),
            attributes=self.attributes[self.attributes.index.isin(keep)],
            history_tasks=tuple(t for t in self.history_tasks if t in keep),
            target_tasks=tuple(t for t in self.target_tasks if t in keep),
        )

    def default_bounds(self) -> tuple[float, float] | None:
        """``(0, 1)`` for a unit-level table whose values are all 0 or 1, else ``None``."""
        return (0.0, 1.0) if self.kind == "unit" and self.binary else None

    def check_bounds(self, bounds: tuple[float, float]) -> None:
        """Stop with one message when the data fall outside ``bounds``.

        A unit-level table's values, or a summary table's ``synth_estimate``
        and ``real_estimate``, must lie within the estimand's range: bounds
        that cut through the data (``0,1`` on a 0-100 scale) would clip every
        interval silently.

        Parameters
        ----------
        bounds : (float, float)
            The range ``(LO, HI)`` given by the user.

        Raises
        ------
        ValueError
            Naming the count, an example and what to do.
        """
        low, high = bounds
        fix = "widen --bounds to the estimand's range, or give --bounds none"
        if self.kind == "unit" and self.rows is not None:
            for coord in self.coords:
                outside = self.rows.outside(low, high, coord)
                if outside.count:
                    raise ValueError(
                        f"{self.name}: {outside.count} value(s) fall outside --bounds "
                        f"{low:g},{high:g} (e.g. {_number(outside.example)}); {fix}"
                    )
            return
        for column in ("synth_estimate", "real_estimate"):
            if column not in self.frame.columns:
                continue
            values = self.frame[column].to_numpy(dtype=float)
            bad = np.isfinite(values) & ((values < low) | (values > high))
            if bad.any():
                raise ValueError(
                    f"{self.name}: {int(bad.sum())} value(s) of column '{column}' fall outside "
                    f"--bounds {low:g},{high:g} (e.g. {_number(values[bad][0])}); {fix}"
                )

    # ------------------------------------------------------------- statistics
    def summary_table(self) -> pd.DataFrame:
        """One row per task (and coordinate) in the summary format, with the task attributes.

        A summary table comes back as checked; a unit-level table is reduced to
        its Wald statistics (paired when it has ``unit``). This is what
        ``diagnose`` and ``plan`` read, whatever form the data came in.

        Returns
        -------
        pandas.DataFrame
        """
        if self.kind == "summary":
            return self.frame.copy()
        parts = []
        for coord, stats in self.statistics().items():
            synth_se = getattr(stats.synth, "se", np.full(len(stats.tasks), np.nan))
            gap_se = getattr(stats.gap, "se", None) if stats.gap is not None else None
            part = pd.DataFrame(
                {
                    "task": stats.tasks,
                    "synth_estimate": np.asarray(stats.synth.estimate, dtype=float),
                    "synth_se": np.asarray(synth_se, dtype=float),
                    "real_estimate": stats.truth,
                    "gap_estimate": stats.observed,
                    "gap_se": np.nan if gap_se is None else np.asarray(gap_se, dtype=float),
                }
            )
            if coord:
                part["coord"] = coord
            parts.append(part)
        summary = pd.concat(parts, ignore_index=True)
        return summary.merge(self.attributes, left_on="task", right_index=True, how="left")

    def statistics(
        self,
        *,
        estimand: str | Estimand = "mean",
        interval: str | None = None,
        bounds: tuple[float, float] | None = None,
        n_bootstrap: int = 2000,
        seed: int | np.random.Generator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, TaskStatistics]:
        """Per-coordinate interval families for every task.

        Parameters
        ----------
        estimand : str or Estimand
            ``mean`` or ``quantile:Q`` (unit-level data only).
        interval : {"wald", "hoeffding", "bootstrap"} or None
            Interval construction for unit-level data. ``None`` means Wald for
            the mean and the exact order-statistic interval (with bootstrap
            gaps) for a quantile. Summary tables are always Wald.
        bounds : tuple of float, optional
            Range of the data; required by Hoeffding.
        n_bootstrap : int
            Bootstrap replicates.
        seed : int or Generator, optional
            Randomness for the bootstrap.
        progress : callable, optional
            Called with 1 after each task's resampling (bootstrap, quantiles).

        Returns
        -------
        dict
            ``coord -> TaskStatistics``.
        """
        estimand = Estimand.parse(estimand)
        if self.kind == "summary":
            if interval not in (None, "wald") or estimand.kind != "mean":
                raise ValueError(
                    f"{self.name}: a summary table carries estimates and standard errors only, "
                    f"so it is always Wald for its estimate; --estimand and --interval apply "
                    f"to unit-level data"
                )
            return {coord: self._summary_statistics(coord) for coord in self.coords}
        rng = np.random.default_rng(seed)
        return {
            coord: unit_families(
                self._coordinate(coord),
                estimand,
                interval,
                bounds,
                n_bootstrap,
                rng,
                progress=progress,
            )
            for coord in self.coords
        }

    def _coordinate(self, coord: str) -> CoordinateRows:
        """One coordinate of unit-level data: its statistics in task order, and the rows."""
        moments = self.frame[self.frame["coord"] == coord].set_index("task")
        return CoordinateRows(
            coord=coord,
            moments=moments.reindex(list(self.tasks)),
            tasks=self.tasks,
            history=frozenset(self.history_tasks),
            rows=self.rows,
            name=self.name,
        )

    def _summary_statistics(self, coord: str) -> TaskStatistics:
        rows = self.frame if coord == NO_COORD else self.frame[self.frame["coord"] == coord]
        rows = rows.set_index("task").reindex(list(self.tasks))
        is_history = rows["gap_estimate"].notna().to_numpy()
        synth = WaldInterval(rows["synth_estimate"].to_numpy(), rows["synth_se"].to_numpy())
        gap: IntervalFamily | None = None
        if "gap_se" in rows.columns:
            gap = WaldInterval(rows["gap_estimate"].to_numpy(), rows["gap_se"].to_numpy())
        truth = rows["synth_estimate"].to_numpy() + rows["gap_estimate"].to_numpy()
        if "real_estimate" in rows.columns:
            truth = np.where(rows["real_estimate"].notna(), rows["real_estimate"], truth)
        return TaskStatistics(
            coord=coord,
            tasks=np.asarray(self.tasks, dtype=object),
            is_history=is_history,
            synth=synth,
            gap=gap,
            observed=rows["gap_estimate"].to_numpy(dtype=float),
            truth=np.asarray(truth, dtype=float),
            missing_gap_reason=f"{self.name} has no 'gap_se' column",
        )


# --------------------------------------------------------------------------- helpers
def _number(value: object) -> str:
    """A value for a message: numbers in ``%g`` form, anything else as text."""
    try:
        return f"{float(value):g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def summary_table(source: Any, read: ReadOptions | dict | None = None) -> pd.DataFrame:
    """Task data in any form as a summary table (a summary pandas frame comes back as it is).

    Parameters
    ----------
    source : TaskData, path or dataframe
        As in :meth:`TaskData.load`.
    read : ReadOptions or dict, optional
        How a wide score table or an evaluation log is read (``real``,
        ``synthetic``, ``task_col``, ``unit_col``, ``format_in``).

    Returns
    -------
    pandas.DataFrame
        See :meth:`TaskData.summary_table`.
    """
    reading = ReadOptions.of(read)
    if isinstance(source, pd.DataFrame) and "source" not in source.columns and not reading.given:
        return source
    return TaskData.load(source, **reading.keywords()).summary_table()


def _summary_frame(table: Table) -> pd.DataFrame:
    """A summary table in pandas (small): files as pandas reads them, frames collected."""
    return read_table(table.source, table.options)


def _in_order(
    statistics: pd.DataFrame, tasks: tuple[str, ...], coords: tuple[str, ...]
) -> pd.DataFrame:
    """Per-``(task, coord)`` rows in the order of ``tasks``, then of ``coords``."""
    task_rank = statistics["task"].map({task: i for i, task in enumerate(tasks)})
    coord_rank = statistics["coord"].map({coord: i for i, coord in enumerate(coords)})
    order = np.lexsort((coord_rank.to_numpy(), task_rank.to_numpy()))
    return statistics.iloc[order].reset_index(drop=True)


def _task_attributes(frame: pd.DataFrame, reserved: frozenset, where: str) -> pd.DataFrame:
    """Task-level attributes (columns constant within a task), indexed by task."""
    columns = [c for c in frame.columns if c not in reserved]
    grouped = frame.groupby("task", sort=False)
    if columns:
        varying = [c for c in columns if (grouped[c].nunique(dropna=False) > 1).any()]
        if varying:
            column = varying[0]
            task = grouped[column].nunique(dropna=False).idxmax()
            raise ValueError(
                f"{where}: column '{column}' varies within task {task!r}; task attributes "
                f"must be constant within a task (drop the column or make it constant)"
            )
    return grouped[columns].first() if columns else pd.DataFrame(index=grouped.size().index)


def _check_time(attributes: pd.DataFrame, where: str) -> pd.DataFrame:
    """Make ``time`` numeric: numbers stay, dates become decimal years."""
    if "time" not in attributes.columns:
        return attributes
    attributes = attributes.copy()
    attributes["time"] = time_values(attributes["time"], where=f"{where}: column 'time'")
    return attributes


def _coords(frame: pd.DataFrame, name: str) -> tuple[str, ...]:
    if "coord" not in frame.columns or (frame["coord"] == NO_COORD).all():
        return (NO_COORD,)
    coords = tuple(dict.fromkeys(frame["coord"]))
    per_task = frame.groupby("task", sort=False)["coord"].agg(lambda c: frozenset(c))
    incomplete = per_task[per_task.map(len) != len(coords)]
    if len(incomplete):
        task = incomplete.index[0]
        missing = sorted(set(coords) - set(incomplete.iloc[0]))
        raise ValueError(
            f"{name}: task {task!r} lacks coordinate(s) {', '.join(map(repr, missing))}; "
            f"every task needs every coordinate ({', '.join(map(repr, coords))})"
        )
    return coords


def _history_status(frame: pd.DataFrame, is_history_row: np.ndarray, name: str) -> dict[str, bool]:
    status = pd.Series(is_history_row, index=frame.index).groupby(frame["task"], sort=False)
    mixed = status.nunique() > 1
    if mixed.any():
        raise ValueError(
            f"{name}: task {mixed.index[mixed][0]!r} has real data for some coordinates but "
            f"not others; a task is either history (real data on every coordinate) or a target"
        )
    return status.first().to_dict()


def _check_task_weight(attributes: pd.DataFrame, name: str) -> None:
    if "task_weight" not in attributes.columns:
        return
    weights = attributes["task_weight"]
    bad = weights.notna() & ((weights < 0) | (weights > 1))
    if bad.any():
        raise ValueError(
            f"{name}: column 'task_weight' must lie in [0, 1] (task {bad.index[bad][0]!r} "
            f"has {weights[bad].iloc[0]:g})"
        )
