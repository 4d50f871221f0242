"""A result (object or results file) and its data, gathered for the report.

:class:`ReportInput` is what a report shows: the interval rows, the backtest
coverage, the history (summary table) behind the diagnostics and the gap plot,
and the provenance. :func:`report_input` builds it from a result object,
:func:`results_input` from a results file and its provenance file.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer.arena import ArenaResult, arena_summary, read_battles
from synthinfer.data import summary_table
from synthinfer.report._provenance import Provenance, read_provenance
from synthinfer.results import BacktestResult, InferenceResult, coverage_summary

__all__ = [
    "FILE_FORMAT_OPTIONS",
    "ReportInput",
    "normalized_rows",
    "read_results",
    "report_input",
    "results_input",
]

REQUIRED = ("task", "method", "alpha", "lower", "upper")
FILE_FORMAT_OPTIONS = ("format_in", "real")
"""Options of ``synthinfer arena`` for judgment files in other formats."""


@dataclass(frozen=True)
class ReportInput:
    """What a report shows.

    Attributes
    ----------
    kind : str
        ``inference``, ``backtest`` or ``arena``.
    rows : pandas.DataFrame
        One row per interval (output columns; ``truth``/``covered`` in backtests).
    coverage : pandas.DataFrame or None
        Coverage per method × level (backtests).
    history : pandas.DataFrame or None
        The task data as a summary table (history and targets), with a
        ``coord`` column ("" for a scalar estimand); ``None`` when unavailable.
    provenance : Provenance
        Where the result came from.
    data_note : str
        Why ``history`` is missing (empty when it is there).
    label : str
        A short description (``arena win-rate backtest (loo)``).
    """

    kind: str
    rows: pd.DataFrame = field(repr=False)
    coverage: pd.DataFrame | None = field(repr=False)
    history: pd.DataFrame | None = field(repr=False)
    provenance: Provenance
    data_note: str = ""
    label: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The interval rows."""
        return self.rows

    def summary(self) -> str:
        """One line: what the report holds."""
        data = "no task data" if self.history is None else f"{len(self.history)} tasks of data"
        return f"report of {self.label or self.kind}: {len(self.rows)} interval rows, {data}"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def normalized_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Check the columns of a results table; ``task``/``coord`` as text ("" for no coordinate)."""
    missing = [column for column in REQUIRED if column not in rows.columns]
    if missing:
        raise ValueError(
            f"the results lack column(s) {missing}; report a file written by "
            f"'synthinfer infer', 'backtest' or 'arena' with --out"
        )
    if rows.empty:
        raise ValueError("the results have no rows; there is nothing to report")
    rows = rows.copy()
    rows["task"] = rows["task"].astype(str)
    coord = rows["coord"] if "coord" in rows.columns else pd.Series("", index=rows.index)
    rows["coord"] = coord.fillna("").astype(str)
    return rows


def _history(data: Any) -> pd.DataFrame:
    """The task data as a summary table with a text ``coord`` column and ``gap_estimate``.

    A summary table without ``gap_estimate`` gets ``real_estimate − synth_estimate``.
    """
    table = summary_table(data).copy()
    if "gap_estimate" not in table.columns and "real_estimate" in table.columns:
        table["gap_estimate"] = table["real_estimate"] - table["synth_estimate"]
    coord = table["coord"] if "coord" in table.columns else pd.Series("", index=table.index)
    table["coord"] = coord.fillna("").astype(str)
    table["task"] = table["task"].astype(str)
    return table


def _data_paths(data: Any) -> dict[str, str]:
    if isinstance(data, str | os.PathLike):
        return {"data": str(Path(data).resolve())}
    return {}


def report_input(
    result: Any, *, data: Any = None, provenance: Provenance | None = None
) -> ReportInput:
    """Gather a result object (or a results frame) and its data for the report.

    Parameters
    ----------
    result : InferenceResult, BacktestResult, ArenaResult or pandas.DataFrame
        What to report.
    data : path or dataframe, optional
        The task data the result was computed from (either format), for the
        diagnostics and the gap plot; an :class:`~synthinfer.arena.ArenaResult`
        carries its own.
    provenance : Provenance, optional
        Where the result came from (default: the result's seed, this
        version, now, and ``data`` when it is a path).

    Returns
    -------
    ReportInput
    """
    seed = getattr(result, "seed", None)
    coverage = None
    if isinstance(result, ArenaResult):
        kind, rows, coverage = "arena", result.tasks, result.coverage
        label = f"arena {result.estimand}" + (
            f" backtest ({result.protocol})" if result.protocol else " inference"
        )
        if data is None:
            data = result.summary_table
    elif isinstance(result, BacktestResult):
        kind, rows, coverage = "backtest", result.tasks, result.summary_frame
        label = f"backtest ({result.protocol})"
    elif isinstance(result, InferenceResult):
        kind, rows, label = "inference", result.to_frame(), "inference"
    elif isinstance(result, pd.DataFrame):
        rows, seed = result, result.attrs.get("seed")
        kind = "backtest" if {"truth", "covered"} <= set(rows.columns) else "inference"
        label = kind
    else:
        raise ValueError(
            f"to_html takes an InferenceResult, BacktestResult, ArenaResult or a results "
            f"DataFrame, got {type(result).__name__}"
        )
    if provenance is None:
        provenance = Provenance(seed=seed, data=_data_paths(data))
    rows = normalized_rows(rows)
    if coverage is None and {"truth", "covered"} <= set(rows.columns):
        coverage = coverage_summary(rows)
    history = None if data is None else _history(data)
    note = "" if data is not None else "no task data was given (pass data= to include it)"
    return ReportInput(kind, rows, coverage, history, provenance, note, label)


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """A results file written with ``--out``: CSV, TSV, Parquet, Excel or JSON records.

    JSON keeps infinite endpoints as the strings ``"inf"``/``"-inf"``; they
    are read back as numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    if path.suffix.lower() != ".json":
        from synthinfer.tables import read_table

        return read_table(path)
    try:
        records = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of rows, as written by --out FILE.json")
    frame = pd.DataFrame.from_records(records)
    for column in frame.columns:
        values = frame[column]
        if values.map(lambda v: isinstance(v, str) and v in ("inf", "-inf")).any():
            frame[column] = pd.to_numeric(values.replace({None: np.nan}), errors="raise")
    return frame


def _read_options(options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The recorded options that :func:`~synthinfer.arena.read_battles` takes, and set
    judgment-file options it does not take (the log cannot be read the same way without them)."""
    accepted = inspect.signature(read_battles).parameters
    read = {name: value for name, value in options.items() if name in accepted}
    missing = [
        f"--{name.replace('_', '-')}"
        for name in FILE_FORMAT_OPTIONS
        if options.get(name) is not None and name not in accepted
    ]
    return read, missing


def _arena_history(provenance: Provenance) -> tuple[pd.DataFrame | None, str]:
    """The per-model summary table of a recorded ``arena`` run, rebuilt from its battle log."""
    options = provenance.options
    saved = options.get("summary_out")
    if saved and Path(saved).is_file():
        return _history(saved), ""
    battles = provenance.data.get("battles")
    if battles is None or not Path(battles).is_file():
        return None, f"the recorded battle log {battles!r} is not available"
    read, missing = _read_options(options)
    if missing:
        return None, (
            f"the battle log was read with {', '.join(missing)}; give the per-model summary "
            f"table (arena --summary-out) with --data"
        )
    summary = arena_summary(
        battles,
        estimand=options.get("estimand", "win-rate"),
        reference=options.get("reference"),
        anchor=int(options.get("anchor", 0)),
        n_gap_bootstrap=int(options.get("n_gap_bootstrap", 200)),
        seed=provenance.seed if provenance.seed is not None else options.get("seed", 0),
        **read,
    )
    return _history(summary.table), ""


def _recorded_history(provenance: Provenance | None) -> tuple[pd.DataFrame | None, str]:
    """The task data named by the provenance file, or why there is none."""
    if provenance is None:
        return None, "no provenance file beside the results (rerun the command with --out)"
    if provenance.command == "arena":
        return _arena_history(provenance)
    for path in provenance.data.values():
        if Path(path).is_file() or Path(path).is_dir():
            return _history(path), ""
    recorded = ", ".join(provenance.data.values()) or "none"
    return None, f"the recorded data file(s) ({recorded}) are not available"


def results_input(results: str | os.PathLike, *, data: Any = None) -> ReportInput:
    """Gather a results file, its provenance file and its data for the report.

    Parameters
    ----------
    results : path
        A file written by ``infer``, ``backtest`` or ``arena`` with ``--out``.
    data : path or dataframe, optional
        The task data; default the data file recorded in the provenance file
        (for ``arena``, its per-model summary table, rebuilt from the battle log).

    Returns
    -------
    ReportInput
    """
    rows = normalized_rows(read_results(results))
    provenance = read_provenance(results)
    if data is not None:
        history, note = _history(data), ""
    else:
        history, note = _recorded_history(provenance)
    backtest = {"truth", "covered"} <= set(rows.columns)
    kind = "backtest" if backtest else "inference"
    label = kind
    if provenance is not None and provenance.command == "arena":
        kind = "arena"
        label = f"arena {provenance.options.get('estimand', 'win-rate')}" + (
            " backtest" if backtest else " inference"
        )
    if provenance is None:
        unknown = "not recorded"
        provenance = Provenance(command=unknown, version=unknown, created=unknown, python=unknown)
    coverage = coverage_summary(rows) if backtest else None
    return ReportInput(kind, rows, coverage, history, provenance, note, label)
