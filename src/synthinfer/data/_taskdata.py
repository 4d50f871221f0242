"""Task data: unit-level and summary tables, validated at the door.

Two formats are accepted (see DESIGN.md):

* a **unit-level (long) table**, one row per observation, with columns
  ``task``, ``source`` (``real`` or ``synthetic``) and ``value``, optionally
  ``weight`` (Hájek survey weights), ``unit`` (pairing id), ``coord`` and
  task-level attributes;
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
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from synthinfer.intervals import (
    IntervalFamily,
    WaldInterval,
)
from synthinfer.tables._io import read_table

__all__ = ["Estimand", "TaskData", "TaskStatistics"]

UNIT_COLUMNS = ("task", "source", "value")
SUMMARY_COLUMNS = ("task", "synth_estimate", "synth_se")
SUMMARY_NUMERIC = (
    "synth_estimate",
    "synth_se",
    "real_estimate",
    "real_se",
    "gap_estimate",
    "gap_se",
    "n_real",
    "n_synth",
    "task_weight",
)
UNIT_RESERVED = {"task", "source", "value", "weight", "unit", "coord"}
SUMMARY_RESERVED = {"task", "coord", *SUMMARY_NUMERIC} - {"task_weight"}  # a task attribute
SOURCES = ("real", "synthetic")
ENGINES = ("auto", "pandas", "duckdb")
LARGE_FILE_BYTES = 256 * 1024**2
NO_COORD = ""


@dataclass(frozen=True)
class Estimand:
    """What is estimated per task: the mean or a quantile.

    Parameters
    ----------
    kind : {"mean", "quantile"}
    quantile : float or None
        ``q`` in ``(0, 1)`` for ``quantile``.
    """

    kind: Literal["mean", "quantile"] = "mean"
    quantile: float | None = None

    @classmethod
    def parse(cls, spec: str | Estimand) -> Estimand:
        """Parse ``mean`` or ``quantile:Q``."""
        if isinstance(spec, Estimand):
            return spec
        text = str(spec).strip()
        if text == "mean":
            return cls("mean")
        kind, sep, value = text.partition(":")
        if kind == "quantile" and sep:
            try:
                q = float(value)
            except ValueError:
                q = float("nan")
            if not (0.0 < q < 1.0):
                raise ValueError(f"estimand quantile:Q needs Q in (0, 1), got {spec!r}")
            return cls("quantile", q)
        raise ValueError(
            f"estimand must be 'mean' or 'quantile:Q' (e.g. quantile:0.5), got {spec!r}"
        )

    def __str__(self) -> str:
        return "mean" if self.kind == "mean" else f"quantile:{self.quantile:g}"


@dataclass(frozen=True)
class TaskStatistics:
    """Per-task interval families for one coordinate.

    Attributes
    ----------
    coord : str
        Coordinate name (empty for a scalar estimand).
    tasks : ndarray
        Task ids, history and targets together.
    is_history : ndarray of bool
        Which tasks have real data.
    synth : IntervalFamily
        Synthetic interval family over all tasks.
    gap : IntervalFamily or None
        Gap interval family (NaN for targets); ``None`` without gap SEs.
    observed : ndarray
        Observed gaps ``θ̂ − θ̂~`` (NaN for targets).
    truth : ndarray
        Real estimates (NaN for targets): what backtests score against.
    """

    coord: str
    tasks: np.ndarray
    is_history: np.ndarray
    synth: IntervalFamily = field(repr=False)
    gap: IntervalFamily | None = field(repr=False)
    observed: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)
    missing_gap_reason: str = field(default="", repr=False)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {task: i for i, task in enumerate(self.tasks)}

    def index_of(self, tasks: Sequence[str]) -> np.ndarray:
        """Positions of ``tasks`` in :attr:`tasks`."""
        return np.array([self._positions[task] for task in tasks], dtype=int)


def _row_numbers(frame: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    """Human row numbers (file lines, header = line 1) of the rows in ``mask``."""
    positions = np.flatnonzero(mask)
    shown = ", ".join(str(p + 2) for p in positions[:limit])
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return f"line {shown}{more}" if positions.size == 1 else f"lines {shown}{more}"


def _numeric_column(frame: pd.DataFrame, column: str, where: str, *, allow_missing: bool) -> None:
    """Check that ``column`` is numeric and finite (NaN allowed only if ``allow_missing``)."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad_text = values.isna() & frame[column].notna()
    if bad_text.any():
        example = frame.loc[bad_text, column].iloc[0]
        raise ValueError(
            f"{where}: column '{column}' has non-numeric values ({example!r} at "
            f"{_row_numbers(frame, bad_text.to_numpy())}); fix or remove those rows"
        )
    array = values.to_numpy(dtype=float)
    infinite = np.isinf(array)
    if infinite.any():
        raise ValueError(
            f"{where}: column '{column}' has infinite values at "
            f"{_row_numbers(frame, infinite)}; replace them with finite numbers"
        )
    if not allow_missing and np.isnan(array).any():
        raise ValueError(
            f"{where}: column '{column}' has missing (NaN) values at "
            f"{_row_numbers(frame, np.isnan(array))}; fill them or remove those rows"
        )
    frame[column] = array


def _check_columns(frame: pd.DataFrame, required: Sequence[str], where: str, kind: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: a {kind} table needs column(s) {', '.join(repr(c) for c in missing)}; "
            f"found {', '.join(repr(c) for c in frame.columns)}"
        )


def _task_attributes(frame: pd.DataFrame, reserved: set[str], where: str) -> pd.DataFrame:
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
    """Make ``time`` numeric: numbers stay, ISO dates become decimal years."""
    if "time" not in attributes.columns:
        return attributes
    attributes = attributes.copy()
    attributes["time"] = time_values(attributes["time"], where=f"{where}: column 'time'")
    return attributes


def time_values(values: pd.Series, *, where: str) -> pd.Series:
    """Numeric times from numbers or dates (dates as decimal years, e.g. 2024.5).

    Parameters
    ----------
    values : pandas.Series
        Numbers or date strings; missing values are allowed.
    where : str
        Context for error messages.

    Returns
    -------
    pandas.Series of float
    """
    numeric = pd.to_numeric(values, errors="coerce")
    if not (numeric.isna() & values.notna()).any():
        return numeric.astype(float)
    dates = pd.to_datetime(values, errors="coerce")
    bad = dates.isna() & values.notna()
    if bad.any():
        raise ValueError(
            f"{where} has values that are neither numbers nor dates (e.g. "
            f"{values[bad].iloc[0]!r}); use numbers or ISO dates (YYYY-MM-DD)"
        )
    return decimal_years(dates)


def decimal_years(dates: pd.Series) -> pd.Series:
    """Dates as decimal years (``2024-07-02`` → about 2024.5)."""
    dates = pd.to_datetime(dates)
    start = pd.to_datetime(dates.dt.year.astype("Int64").astype(str) + "-01-01", errors="coerce")
    length = np.where(dates.dt.is_leap_year, 366.0, 365.0)
    fraction = (dates - start).dt.total_seconds() / (86400.0 * length)
    return (dates.dt.year + fraction).astype(float)


def _clean_task_ids(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = frame["task"].isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"{where}: column 'task' is empty at {_row_numbers(frame, missing)}; "
            f"every row needs a task id"
        )
    frame["task"] = frame["task"].astype(str)
    if "coord" in frame.columns:
        if frame["coord"].isna().any():
            raise ValueError(
                f"{where}: column 'coord' is empty at "
                f"{_row_numbers(frame, frame['coord'].isna().to_numpy())}"
            )
        frame["coord"] = frame["coord"].astype(str)
    return frame


@dataclass(frozen=True)
class TaskData:
    """Validated task data in the unit-level or summary format.

    Build it with :meth:`from_frame` or :meth:`read`.

    Attributes
    ----------
    frame : pandas.DataFrame
        The validated table.
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
    """

    frame: pd.DataFrame = field(repr=False)
    kind: Literal["unit", "summary"]
    attributes: pd.DataFrame = field(repr=False)
    coords: tuple[str, ...]
    history_tasks: tuple[str, ...]
    target_tasks: tuple[str, ...]
    name: str = "data"
    aggregated: bool = False

    # ----------------------------------------------------------------- loading
    @classmethod
    def read(cls, path: str | Path, *, engine: str = "auto") -> TaskData:
        """Read and validate a CSV or Parquet file in either format.

        Parameters
        ----------
        path : str or Path
            The file.
        engine : {"auto", "pandas", "duckdb"}
            ``pandas`` reads every row into memory. ``duckdb`` reduces a
            unit-level file out of core to per-task means and standard errors
            (:func:`synthinfer.tables._units.unit_statistics`), which is all that
            Wald intervals for means need; bootstrap, Hoeffding and quantile
            intervals need the rows. ``auto`` uses DuckDB for unit-level files
            larger than 256 MB when it is installed, pandas otherwise.

        Returns
        -------
        TaskData
        """
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        path = Path(path)
        if engine != "pandas" and _is_unit_file(path) and _wants_duckdb(path, engine):
            from synthinfer.tables._units import to_summary_table, unit_statistics

            summary = to_summary_table(unit_statistics(path, engine="duckdb", attributes="all"))
            data = cls.from_frame(summary, name=str(path))
            return replace(data, aggregated=True)
        return cls.from_frame(read_table(path), name=str(path))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, name: str = "data") -> TaskData:
        """Validate a DataFrame in either format.

        Parameters
        ----------
        frame : pandas.DataFrame
            A unit-level table (``task, source, value``) or a summary table
            (``task, synth_estimate, synth_se``).
        name : str
            Name used in error messages (e.g. the file path).

        Returns
        -------
        TaskData
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
        if frame.empty:
            raise ValueError(f"{name}: the table has no rows")
        columns = set(frame.columns)
        if {"source", "value"} <= columns:
            return cls._from_units(frame.reset_index(drop=True).copy(), name)
        if "synth_estimate" in columns:
            return cls._from_summary(frame.reset_index(drop=True).copy(), name)
        raise ValueError(
            f"{name}: cannot tell the format: a unit-level table needs columns "
            f"'task', 'source', 'value'; a summary table needs 'task', 'synth_estimate', "
            f"'synth_se' (found {', '.join(repr(c) for c in frame.columns)})"
        )

    @classmethod
    def _from_summary(cls, frame: pd.DataFrame, name: str) -> TaskData:
        _check_columns(frame, SUMMARY_COLUMNS, name, "summary")
        frame = _clean_task_ids(frame, name)
        _numeric_column(frame, "synth_estimate", name, allow_missing=False)
        _numeric_column(frame, "synth_se", name, allow_missing=False)
        for column in SUMMARY_NUMERIC[2:]:
            if column in frame.columns:
                _numeric_column(frame, column, name, allow_missing=True)
        for column in ("synth_se", "gap_se", "real_se"):
            if column in frame.columns and (frame[column] < 0).any():
                raise ValueError(
                    f"{name}: column '{column}' has negative standard errors at "
                    f"{_row_numbers(frame, (frame[column] < 0).to_numpy())}"
                )
        keys = ["task", "coord"] if "coord" in frame.columns else ["task"]
        duplicated = frame.duplicated(keys, keep=False).to_numpy()
        if duplicated.any():
            raise ValueError(
                f"{name}: duplicate rows for the same {' and '.join(keys)} at "
                f"{_row_numbers(frame, duplicated)}; a summary table has one row per "
                f"{' × '.join(keys)}"
            )
        frame = _fill_gap_estimate(frame, name)
        is_history = frame["gap_estimate"].notna().to_numpy()
        if "gap_se" in frame.columns:
            missing_se = is_history & frame["gap_se"].isna().to_numpy()
            if missing_se.any():
                raise ValueError(
                    f"{name}: column 'gap_se' is empty for history rows at "
                    f"{_row_numbers(frame, missing_se)}; give every history task a gap SE "
                    f"(or drop the column to use only finite-sample and synthetic-only)"
                )
        return cls._validated(frame, "summary", is_history, SUMMARY_RESERVED, name)

    @classmethod
    def _from_units(cls, frame: pd.DataFrame, name: str) -> TaskData:
        _check_columns(frame, UNIT_COLUMNS, name, "unit-level")
        frame = _clean_task_ids(frame, name)
        source = frame["source"].astype(str).str.strip().str.lower()
        bad = ~source.isin(SOURCES).to_numpy()
        if bad.any():
            raise ValueError(
                f"{name}: column 'source' must be 'real' or 'synthetic', got "
                f"{frame['source'][bad].iloc[0]!r} at {_row_numbers(frame, bad)}"
            )
        frame["source"] = source
        _numeric_column(frame, "value", name, allow_missing=False)
        if "weight" in frame.columns:
            _numeric_column(frame, "weight", name, allow_missing=False)
            negative = (frame["weight"] < 0).to_numpy()
            if negative.any():
                raise ValueError(
                    f"{name}: column 'weight' has negative weights at "
                    f"{_row_numbers(frame, negative)}; survey weights must be >= 0"
                )
        if "unit" in frame.columns:
            missing = frame["unit"].isna().to_numpy()
            if missing.any():
                raise ValueError(
                    f"{name}: column 'unit' is empty at {_row_numbers(frame, missing)}; in a "
                    f"paired design every row needs its unit id"
                )
        keys = ["task", "coord"] if "coord" in frame.columns else ["task"]
        counts = frame.groupby([*keys, "source"], sort=False).size().unstack(fill_value=0)
        counts = counts.reindex(columns=list(SOURCES), fill_value=0)
        no_synth = counts.index[counts["synthetic"] == 0]
        if len(no_synth):
            raise ValueError(
                f"{name}: task {_key_text(no_synth[0])} has real rows but no synthetic rows; "
                f"every task needs synthetic data ({len(no_synth)} such task(s))"
            )
        if "weight" in frame.columns:
            totals = frame.groupby([*keys, "source"], sort=False)["weight"].sum()
            if (totals <= 0).any():
                raise ValueError(
                    f"{name}: the weights of {_key_text(totals.index[totals <= 0][0])} sum to 0; "
                    f"each task's real and synthetic weights need a positive total"
                )
        is_history_row = counts["real"] > 0
        history_by_key = frame.set_index(keys).index.map(is_history_row).to_numpy(dtype=bool)
        if "unit" in frame.columns:
            _check_pairing(frame, keys, name)
        return cls._validated(frame, "unit", history_by_key, UNIT_RESERVED, name)

    @classmethod
    def _validated(
        cls,
        frame: pd.DataFrame,
        kind: Literal["unit", "summary"],
        is_history_row: np.ndarray,
        reserved: set[str],
        name: str,
    ) -> TaskData:
        """Checks shared by both formats (coordinates, history status, attributes)."""
        coords = _coords(frame, name)
        history = _history_status(frame, is_history_row, name)
        attributes = _check_time(_task_attributes(frame, reserved, name), name)
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
        frame = self.frame[self.frame["task"].isin(keep)].reset_index(drop=True)
        return TaskData.from_frame(frame, name=self.name)

    # ------------------------------------------------------------- statistics
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
            if self.aggregated and (interval not in (None, "wald") or estimand.kind != "mean"):
                raise ValueError(
                    f"{self.name} was reduced out of core (DuckDB) to per-task means and "
                    f"standard errors, which give Wald intervals for means only; "
                    f"--estimand and --interval need the rows: use --engine pandas"
                )
            if interval not in (None, "wald") or estimand.kind != "mean":
                raise ValueError(
                    f"{self.name}: a summary table carries estimates and standard errors only, "
                    f"so it is always Wald for its estimate; --estimand and --interval apply "
                    f"to unit-level data"
                )
            return {coord: self._summary_statistics(coord) for coord in self.coords}
        from synthinfer.data._statistics import unit_statistics

        rng = np.random.default_rng(seed)
        return {
            coord: unit_statistics(
                self, coord, estimand, interval, bounds, n_bootstrap, rng, progress=progress
            )
            for coord in self.coords
        }

    def _coord_rows(self, coord: str) -> pd.DataFrame:
        if coord == NO_COORD:
            return self.frame
        return self.frame[self.frame["coord"] == coord]

    def _summary_statistics(self, coord: str) -> TaskStatistics:
        rows = self._coord_rows(coord).set_index("task").reindex(list(self.tasks))
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


def _is_unit_file(path: Path) -> bool:
    """Whether a file's header names the unit-level columns ``source`` and ``value``."""
    from synthinfer.tables._units import source_columns

    return {"source", "value"} <= set(source_columns(path))


def _wants_duckdb(path: Path, engine: str) -> bool:
    if engine == "duckdb":
        return True
    if path.stat().st_size <= LARGE_FILE_BYTES:
        return False
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def _key_text(key) -> str:
    if isinstance(key, tuple):
        return " / ".join(repr(k) for k in key)
    return repr(key)


def _fill_gap_estimate(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Derive ``gap_estimate = real_estimate − synth_estimate`` where it is missing."""
    has_real = "real_estimate" in frame.columns
    if "gap_estimate" not in frame.columns:
        if not has_real:
            raise ValueError(
                f"{name}: a summary table needs 'real_estimate' or 'gap_estimate' for its "
                f"history tasks (found neither column)"
            )
        frame["gap_estimate"] = frame["real_estimate"] - frame["synth_estimate"]
    elif has_real:
        derived = frame["real_estimate"] - frame["synth_estimate"]
        frame["gap_estimate"] = frame["gap_estimate"].fillna(derived)
    return frame


def _coords(frame: pd.DataFrame, name: str) -> tuple[str, ...]:
    if "coord" not in frame.columns:
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


def _check_pairing(frame: pd.DataFrame, keys: list[str], name: str) -> None:
    """In a paired design every history unit has exactly one real and one synthetic row."""
    per_unit = frame.groupby([*keys, "unit", "source"], sort=False).size()
    if (per_unit > 1).any():
        key = per_unit.index[per_unit > 1][0]
        raise ValueError(
            f"{name}: {_key_text(key[:-2])} unit {key[-2]!r} has {per_unit.max()} "
            f"{key[-1]} rows; a paired design has one real and one synthetic row per unit "
            f"(average repeated generations first, or give each its own unit)"
        )
    sources = per_unit.unstack("source", fill_value=0).reindex(columns=list(SOURCES), fill_value=0)
    history_keys = sources.groupby(level=list(range(len(keys))))["real"].transform("sum") > 0
    unpaired = history_keys & ((sources["real"] == 0) | (sources["synthetic"] == 0))
    if unpaired.any():
        key = unpaired.index[unpaired][0]
        raise ValueError(
            f"{name}: {int(unpaired.sum())} unit(s) of history tasks appear on one side only "
            f"(e.g. {_key_text(key[:-1])} unit {key[-1]!r}); in a paired design every real "
            f"unit needs its synthetic row and vice versa: drop the 'unit' column for an "
            f"unpaired analysis or remove the unmatched rows"
        )
    if "weight" in frame.columns:
        spread = frame.groupby([*keys, "unit"], sort=False)["weight"].agg(lambda w: np.ptp(w))
        if (spread > 1e-12 * (1 + frame["weight"].abs().max())).any():
            key = spread.index[spread > 0][0]
            raise ValueError(
                f"{name}: the real and synthetic rows of {_key_text(key[:-1])} unit "
                f"{key[-1]!r} carry different weights; paired units share one survey weight"
            )
