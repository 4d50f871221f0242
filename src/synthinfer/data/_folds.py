"""Backtest folds: which history tasks calibrate each held-out task."""

from __future__ import annotations

import warnings

import pandas as pd

from synthinfer.data._taskdata import TaskData
from synthinfer.data._time import time_values

__all__ = ["backtest_folds"]


def backtest_folds(
    data: TaskData, protocol: str, split_time: object, time_col: str
) -> list[tuple[str, list[str]]]:
    """``(held-out task, its history)`` for every fold of a backtest.

    Parameters
    ----------
    data : TaskData
        The task data; only history tasks take part.
    protocol : {"loo", "temporal"}
        ``loo`` holds out each history task in turn with all others as its
        history; ``temporal`` uses tasks with ``time < split_time`` as the
        history of every later task.
    split_time : float or str or None
        The split of ``temporal`` (a number or an ISO date).
    time_col : str
        The task-level time column of ``temporal``.

    Returns
    -------
    list of (str, list of str)
    """
    history = list(data.history_tasks)
    if protocol == "loo":
        if len(history) < 2:
            raise ValueError(f"{data.name}: leave-one-out needs at least 2 history tasks")
        return [(task, [t for t in history if t != task]) for task in history]
    if time_col not in data.attributes.columns:
        raise ValueError(
            f"{data.name}: --protocol temporal needs a task-level time column {time_col!r} "
            f"(or name one with --time-col)"
        )
    if split_time is None:
        raise ValueError("--protocol temporal needs --split-time V (history: time < V)")
    times = data.attributes.loc[history, time_col]
    if times.isna().any():
        undated = times.index[times.isna()]
        warnings.warn(
            f"{data.name}: {len(undated)} history task(s) without a {time_col!r} value (e.g. "
            f"{undated[0]!r}) are left out of the temporal backtest",
            stacklevel=3,
        )
        history = [t for t in history if t not in set(undated)]
        times = times.dropna()
    times = time_values(times, where=f"{data.name}: column {time_col!r}")
    split = float(time_values(pd.Series([split_time]), where="--split-time").iloc[0])
    past = [t for t in history if times.loc[t] < split]
    future = [t for t in history if times.loc[t] >= split]
    if not past or not future:
        raise ValueError(
            f"{data.name}: split time {split_time} leaves {len(past)} history task(s) "
            f"before and {len(future)} at or after it; both sides need tasks"
        )
    return [(task, past) for task in future]
