"""Battle logs to calibrated intervals for model win rates and Bradley-Terry scores.

A battle log has one row per battle: two models, the human verdict and an
autorater's verdict on the same battle (``a``, ``b`` or ``tie``). Each model is
a task. :func:`arena`

1. counts battles per (model, opponent, human verdict, judge verdict) with
   :func:`~synthinfer.arena.read_battles`;
2. reduces the counts to a **summary table** in DESIGN.md's format, one row
   per model, with :func:`~synthinfer.arena.arena_summary`;
3. runs :func:`synthinfer.evaluate.backtest` (or :func:`~synthinfer.evaluate.infer`
   for models without human verdicts) on that table, so the intervals equal
   those of ``synthinfer backtest`` on the written summary file;
4. for Bradley-Terry, adds rank intervals against the field and Elo-scale columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer._validation import check_choice
from synthinfer.allocation import AUTO_ALLOCATION, Allocation
from synthinfer.arena._bradley_terry import ELO_SCALE, rank_interval
from synthinfer.arena._counts import BattleCounts, read_battles
from synthinfer.arena._formats import with_battle_log
from synthinfer.arena._summary import (
    DEFAULT_GAP_BOOTSTRAP,
    ArenaSummary,
    bradley_terry_summary,
    win_rate_summary,
)
from synthinfer.data import TaskData
from synthinfer.evaluate import PROTOCOLS, backtest, infer
from synthinfer.results import render_html

__all__ = ["ESTIMANDS", "ArenaResult", "arena", "arena_summary"]

ESTIMANDS = ("win-rate", "bradley-terry")
"""Per-model estimands of a battle log."""

_READABLE_COLUMNS = ("task", "method", "alpha", "estimate", "lower", "upper")
_ELO_COLUMNS = ("estimate", "lower", "upper", "width", "truth")


def arena_summary(
    source: str | Path | pd.DataFrame | BattleCounts,
    *,
    estimand: str = "win-rate",
    reference: str | None = None,
    anchor: int = 0,
    n_gap_bootstrap: int = DEFAULT_GAP_BOOTSTRAP,
    seed: int | np.random.Generator | None = 0,
    **read_options: object,
) -> ArenaSummary:
    """Reduce a battle log to the per-model summary table of ``estimand``.

    Parameters
    ----------
    source : path, DataFrame or BattleCounts
        The battle log (or counts already read).
    estimand : {"win-rate", "bradley-terry"}
        What each model's task estimates.
    reference, anchor, n_gap_bootstrap
        As in :func:`~synthinfer.arena.bradley_terry_summary` (``anchor`` also for win rates).
    seed : int or Generator, optional
        Randomness for the Bradley-Terry bootstrap (default 0: runs repeat exactly).
    **read_options
        Passed to :func:`~synthinfer.arena.read_battles` (column names,
        verdicts, releases, engine), and ``format_in``, ``real``,
        ``real_format``, ``synthetic_judge`` for pairwise judge files (FastChat,
        MT-Bench human judgments, AlpacaEval, Arena one-hot dumps), read by
        :func:`~synthinfer.arena.read_judgments` (detected from the columns).

    Returns
    -------
    ArenaSummary
    """
    estimand = check_choice(estimand, ESTIMANDS, "estimand")
    if isinstance(source, BattleCounts):
        counts = source
    else:
        log, options = with_battle_log(source, read_options)
        counts = read_battles(log, **options)
    if estimand == "win-rate":
        if reference is not None:
            counts.index(reference)
        table = win_rate_summary(counts, anchor=anchor)
        return ArenaSummary(table=table, estimand=estimand, n_models=counts.n_models)
    return bradley_terry_summary(
        counts, reference=reference, anchor=anchor, n_gap_bootstrap=n_gap_bootstrap, seed=seed
    )


@dataclass(frozen=True)
class ArenaResult:
    """Calibrated intervals for the models of a battle log.

    Attributes
    ----------
    tasks : pandas.DataFrame
        One row per model × method × level: DESIGN.md's output columns (with
        ``truth`` and ``covered`` in backtests) and, for Bradley-Terry,
        ``rank_lower``, ``rank_upper`` and Elo-scale ``*_elo`` columns.
    coverage : pandas.DataFrame or None
        Backtest coverage and widths per method × level (``None`` for inference).
    arena_summary : ArenaSummary
        The per-model summary table the intervals were computed from.
    protocol : str or None
        ``loo``, ``temporal``, or ``None`` for inference on target models.
    seed : int or None
        The seed of the run (default 0); ``to_frame().attrs["seed"]`` too.
    randomized : bool
        Whether the intervals depend on it (the paired bootstrap of Bradley-Terry gaps).
    """

    tasks: pd.DataFrame = field(repr=False)
    coverage: pd.DataFrame | None = field(repr=False)
    arena_summary: ArenaSummary = field(repr=False)
    protocol: str | None = None
    seed: int | None = None
    randomized: bool = False

    def __post_init__(self) -> None:
        self.tasks.attrs["seed"] = self.seed

    @property
    def estimand(self) -> str:
        """``win-rate`` or ``bradley-terry``."""
        return self.arena_summary.estimand

    @property
    def summary_table(self) -> pd.DataFrame:
        """The per-model summary table (DESIGN.md format)."""
        return self.arena_summary.table

    def to_frame(self) -> pd.DataFrame:
        """The per-task rows."""
        return self.tasks

    def summary(self) -> str:
        """Readable coverage summary (backtests) or the intervals (inference)."""
        head = f"arena {self.estimand}" + (f" backtest ({self.protocol})" if self.protocol else "")
        if self.arena_summary.reference:
            head += f", reference {self.arena_summary.reference!r} = 0"
        if self.coverage is not None:
            return head + "\n" + self.coverage.to_string(index=False)
        return head + "\n" + self.tasks[list(_READABLE_COLUMNS)].to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())

    def to_html(self, **options: object) -> str:
        """A self-contained HTML report (diagnostics on the per-model summary table).

        ``options`` as in :func:`synthinfer.report.to_html`.
        """
        return render_html(self, **options)


def arena(
    source: str | Path | pd.DataFrame | BattleCounts,
    *,
    estimand: str = "win-rate",
    protocol: str | None = "loo",
    split_time: float | str | None = None,
    reference: str | None = None,
    anchor: int = 0,
    alpha: float | Sequence[float] = 0.1,
    method: str | Sequence[str] = "exchangeable",
    allocation: str | Allocation = AUTO_ALLOCATION,
    n_gap_bootstrap: int = DEFAULT_GAP_BOOTSTRAP,
    seed: int | np.random.Generator | None = 0,
    **read_options: object,
) -> ArenaResult:
    """Calibrated intervals for every model of a battle log, end to end.

    Parameters
    ----------
    source, estimand, reference, anchor, n_gap_bootstrap, seed, **read_options
        As in :func:`arena_summary`, which reduces the log (a CSV or Parquet
        file is read by DuckDB out of core). ``seed=None`` draws a fresh seed,
        kept in the result's ``seed``.
    protocol : {"loo", "temporal"} or None
        Backtest protocol over models with human verdicts; ``None`` calibrates
        the models without human verdicts (targets) on all the others.
    split_time : float or str, optional
        For ``temporal``: models released at or after it are held out.
    alpha, method, allocation
        As in :func:`synthinfer.evaluate.backtest` (``allocation="auto"`` by default).

    Returns
    -------
    ArenaResult
    """
    if protocol is not None:
        protocol = check_choice(protocol, PROTOCOLS, "protocol")
    if seed is None:  # fresh, but kept in the result so that the run can be repeated
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    summary = arena_summary(
        source,
        estimand=estimand,
        reference=reference,
        anchor=anchor,
        n_gap_bootstrap=n_gap_bootstrap,
        seed=seed,
        **read_options,
    )
    name = source.name if isinstance(source, BattleCounts) else _source_name(source)
    data = TaskData.from_frame(summary.table, name=f"{name} ({summary.estimand} summary)")
    options = {"alpha": alpha, "method": method, "allocation": allocation}
    if protocol is None:
        if not data.target_tasks:
            raise ValueError(
                f"{name}: every model has human verdicts, so there is nothing to infer; "
                f"choose a backtest with --protocol loo or temporal"
            )
        tasks, coverage = infer(data, **options).to_frame(), None
    else:
        result = backtest(data, protocol=protocol, split_time=split_time, **options)
        tasks, coverage = result.tasks, result.summary_frame
    randomized = summary.estimand == "bradley-terry"
    if randomized:
        tasks = _with_ranks_and_elo(tasks, summary)
    return ArenaResult(
        tasks=tasks,
        coverage=coverage,
        arena_summary=summary,
        protocol=protocol,
        seed=None if isinstance(seed, np.random.Generator) else seed,
        randomized=randomized,
    )


def _source_name(source: str | Path | pd.DataFrame) -> str:
    return "battles" if isinstance(source, pd.DataFrame) else str(source)


def _with_ranks_and_elo(tasks: pd.DataFrame, summary: ArenaSummary) -> pd.DataFrame:
    """Add rank intervals against each model's field and Elo-scale columns."""
    tasks = tasks.copy()
    best = np.empty(len(tasks), dtype=np.int64)
    worst = np.empty(len(tasks), dtype=np.int64)
    for model, rows in tasks.groupby("task", sort=False).groups.items():
        position = tasks.index.get_indexer(rows)
        best[position], worst[position] = rank_interval(
            tasks["lower"].to_numpy()[position],
            tasks["upper"].to_numpy()[position],
            summary.field[model],
        )
    tasks["rank_lower"] = best
    tasks["rank_upper"] = worst
    for column in _ELO_COLUMNS:
        if column in tasks.columns:
            tasks[f"{column}_elo"] = tasks[column] * ELO_SCALE
    return tasks
