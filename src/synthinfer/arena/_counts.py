"""Battle counts: a battle log as an array over (model, opponent, human, judge verdict).

:func:`read_battles` reduces a log with :func:`synthinfer.tables.battle_statistics`
(DuckDB for files, so logs of any length stream through a fixed memory budget)
and arranges the counts as :class:`BattleCounts`: every battle appears twice,
once from each side, with the verdicts read from that side (win, tie, loss).
Release times per model come from the log's time column or from a release
table, as decimal years for dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer._columns import BATTLE_COLUMNS
from synthinfer._html import result_html
from synthinfer._validation import check_columns
from synthinfer.data import decimal_years, time_values
from synthinfer.tables import (
    DEFAULT_MEMORY_LIMIT,
    BattleStatistics,
    Verdicts,
    battle_statistics,
    read_table,
    source_columns,
)

__all__ = ["OUTCOMES", "SCORES", "BattleCounts", "read_battles"]

OUTCOMES = ("win", "tie", "loss")
"""Verdicts from a model's side, in the order of the last axes of the counts."""

SCORES = np.array([1.0, 0.5, 0.0])
"""Score of each outcome (win, tie, loss): a tie counts as half a win."""

_OUTCOME_CODES = {outcome: code for code, outcome in enumerate(OUTCOMES)}
_NO_HUMAN = len(OUTCOMES)  # the human-verdict code of a battle the autorater judged alone
_RELEASE_TIME_COLUMNS = ("time", "release_date")


@dataclass(frozen=True)
class BattleCounts:
    """Battle counts as an array over (model, opponent, human verdict, judge verdict).

    Attributes
    ----------
    models : tuple of str
        Model names (sorted).
    cells : ndarray of int, shape (K, K, 4, 3)
        ``cells[m, o, h, j]``: battles of ``m`` against ``o`` with human
        verdict ``h`` (win, tie, loss from ``m``'s side, or 3 = no human
        verdict) and judge verdict ``j`` (win, tie, loss).
    times : pandas.Series or None
        Numeric release time per model (decimal years for dates).
    name : str
        Where the log came from.
    """

    models: tuple[str, ...]
    cells: np.ndarray = field(repr=False)
    times: pd.Series | None = field(default=None, repr=False)
    name: str = "battles"

    @classmethod
    def from_statistics(
        cls, stats: BattleStatistics, *, releases: pd.DataFrame | str | Path | None = None
    ) -> BattleCounts:
        """Arrange :class:`~synthinfer.tables.BattleStatistics` as an array.

        Parameters
        ----------
        stats : BattleStatistics
            Counts from :func:`~synthinfer.tables.battle_statistics`.
        releases : DataFrame or path, optional
            Release table with columns ``model`` and ``time`` (or
            ``release_date``); it overrides times from the log.

        Returns
        -------
        BattleCounts
        """
        table = stats.counts
        models = tuple(sorted(set(table["model"])))
        index = {model: i for i, model in enumerate(models)}
        human = table["human"].map(_OUTCOME_CODES).fillna(_NO_HUMAN).to_numpy(dtype=np.int64)
        judge = table["judge"].map(_OUTCOME_CODES).to_numpy(dtype=np.int64)
        cells = np.zeros((len(models), len(models), _NO_HUMAN + 1, len(OUTCOMES)), dtype=np.int64)
        np.add.at(
            cells,
            (
                table["model"].map(index).to_numpy(),
                table["opponent"].map(index).to_numpy(),
                human,
                judge,
            ),
            table["count"].to_numpy(dtype=np.int64),
        )
        times = _numeric_times(stats.times, stats.name) if stats.times is not None else None
        if releases is not None:
            times = _release_times(releases, models, stats.name)
        return cls(models=models, cells=cells, times=times, name=stats.name)

    @property
    def n_models(self) -> int:
        """Number of models ``K``."""
        return len(self.models)

    @property
    def paired(self) -> np.ndarray:
        """Battles with both verdicts, shape ``(K, K, 3, 3)`` (human × judge)."""
        return self.cells[:, :, :_NO_HUMAN, :]

    @property
    def judge_only(self) -> np.ndarray:
        """Battles with an autorater verdict only, shape ``(K, K, 3)``."""
        return self.cells[:, :, _NO_HUMAN, :]

    @property
    def is_history(self) -> np.ndarray:
        """Models with human verdicts (history tasks); the rest are targets."""
        return self.paired.sum(axis=(1, 2, 3)) > 0

    def index(self, model: str) -> int:
        """Position of ``model``; a clear error if it fought no battle."""
        try:
            return self.models.index(model)
        except ValueError:
            raise ValueError(
                f"{self.name}: model {model!r} appears in no battle (known models: "
                f"{', '.join(self.models[:5])}{', ...' if self.n_models > 5 else ''})"
            ) from None

    def human_wins(self) -> tuple[np.ndarray, np.ndarray]:
        """Human win matrix (ties as half wins) and battle counts, each ``(K, K)``."""
        human = self.paired.sum(axis=-1)
        return human @ SCORES, human.sum(axis=-1)

    def order(self) -> list[str]:
        """Models from earliest to latest release (ties by name)."""
        if self.times is None:
            raise ValueError(
                f"{self.name}: ordering models by release needs times: give the log a time "
                f"column (--time-col) or a release table (--releases FILE)"
            )
        missing = [m for m in self.models if pd.isna(self.times.get(m, np.nan))]
        if missing:
            raise ValueError(
                f"{self.name}: model {missing[0]!r} has no release time ({len(missing)} such "
                f"model(s)); give every model a time in the release table"
            )
        return sorted(self.models, key=lambda m: (float(self.times[m]), m))

    def to_frame(self) -> pd.DataFrame:
        """The non-zero counts, one row per (model, opponent, human, judge verdict).

        Returns
        -------
        pandas.DataFrame
            Columns ``model, opponent, human, judge, count`` as
            :class:`~synthinfer.tables.BattleStatistics` lists them: verdicts
            from the model's side, ``human`` missing for battles the autorater
            judged alone.
        """
        model, opponent, human, judge = np.nonzero(self.cells)
        verdicts = np.array([*OUTCOMES, None], dtype=object)
        names = np.array(self.models, dtype=object)
        frame = pd.DataFrame(
            {
                "model": names[model],
                "opponent": names[opponent],
                "human": verdicts[human],
                "judge": verdicts[judge],
                "count": self.cells[model, opponent, human, judge],
            }
        )
        return frame[list(BATTLE_COLUMNS)]

    def summary(self) -> str:
        """One line: battles, models, and how many of them have human verdicts."""
        n_battles = int(self.cells.sum()) // 2
        n_history = int(self.is_history.sum())
        return (
            f"{self.name}: {n_battles} battles among {self.n_models} models, "
            f"{n_history} with human verdicts"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def _numeric_times(times: pd.Series, name: str) -> pd.Series:
    """Release times as numbers: decimal years for dates, else numeric values.

    Parameters
    ----------
    times : pandas.Series
        Time per model (dates, numbers, or text of either).
    name : str
        Where the times came from (for messages).

    Returns
    -------
    pandas.Series
        Named ``time``, indexed like ``times``.
    """
    times = times.copy()
    if pd.api.types.is_datetime64_any_dtype(times) or times.map(lambda v: hasattr(v, "year")).all():
        return decimal_years(pd.to_datetime(times)).rename("time")
    return time_values(times, where=f"{name}: time column").rename("time")


def _release_times(
    releases: pd.DataFrame | str | Path, models: Sequence[str], name: str
) -> pd.Series:
    """Release time per model from a release table (``model``, ``time`` or ``release_date``)."""
    frame = releases if isinstance(releases, pd.DataFrame) else read_table(releases)
    where = "release table" if isinstance(releases, pd.DataFrame) else str(releases)
    present = [column for column in _RELEASE_TIME_COLUMNS if column in frame.columns]
    column = present[0] if present else _RELEASE_TIME_COLUMNS[0]
    check_columns(
        [str(c) for c in frame.columns],
        ["model", column],
        where,
        what="release table (time may be called 'release_date')",
    )
    if frame["model"].duplicated().any():
        raise ValueError(
            f"{where}: model {frame['model'][frame['model'].duplicated()].iloc[0]!r} is listed "
            f"twice; give each model one release time"
        )
    unknown = sorted(set(frame["model"].astype(str)) - set(models))
    if unknown:
        raise ValueError(
            f"{where}: model {unknown[0]!r} appears in no battle of {name} ({len(unknown)} such "
            f"model(s)); remove it from the release table or check the spelling"
        )
    times = pd.Series(frame[column].to_numpy(), index=frame["model"].astype(str))
    return _numeric_times(times, where).reindex(list(models))


def read_battles(
    source: str | Path | pd.DataFrame,
    *,
    model_a: str = "model_a",
    model_b: str = "model_b",
    human: str = "human",
    judge: str = "judge",
    time: str | None = None,
    releases: pd.DataFrame | str | Path | None = None,
    verdicts: str | Verdicts | None = None,
    engine: str = "duckdb",
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> BattleCounts:
    """Read and validate a battle log (CSV, Parquet or DataFrame) into counts.

    Parameters
    ----------
    source : path or DataFrame
        The log, one row per battle.
    model_a, model_b, human, judge : str
        Column names (defaults match ``arena_judge_battles.csv``).
    time : str, optional
        Battle time column; a model's time is its earliest battle. A column
        named ``time`` is used when present and no name is given.
    releases : DataFrame or path, optional
        Release table (``model``, ``time``); overrides the log's times.
    verdicts : str or Verdicts, optional
        Verdict spellings ``"A,B,TIE"`` (default ``a,b,tie``).
    engine : {"duckdb", "spark"}
        Where a file is scanned (a frame is aggregated by its own library).
    memory_limit : str
        DuckDB memory limit.

    Returns
    -------
    BattleCounts
    """
    if time is None and "time" in source_columns(source):
        time = "time"
    stats = battle_statistics(
        source,
        model_a=model_a,
        model_b=model_b,
        human=human,
        judge=judge,
        time=time,
        verdicts=verdicts,
        engine=engine,
        memory_limit=memory_limit,
    )
    return BattleCounts.from_statistics(stats, releases=releases)
