"""Task groups (``task_group``): which cells form a target's group, and its history.

The levels of a task attribute (e.g. the question behind question × region
cells) are the exchangeable units. Each target is calibrated against the
history cells of *other* groups only: a history cell that shares the target's
group is left out of that target's history (counted in a warning by
``infer``), because the target's group must enter as a new draw of the whole
group for the guarantees of ``synthinfer.methods._nested`` to hold. In a
leave-one-out backtest this holds out a whole group at a time.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synthinfer.data import TaskData
from synthinfer.evaluate._settings import Settings
from synthinfer.methods import History

__all__ = ["TaskGroups", "task_group_labels"]

Plan = list[tuple[str, list[str]]]


def task_group_labels(data: TaskData, column: str, tasks: Sequence[str]) -> pd.Series:
    """The task-group label of each of ``tasks`` (as text), checked.

    Raises
    ------
    ValueError
        When ``column`` is not a task attribute, or a task has no value in it.
    """
    if column not in data.attributes.columns:
        available = ", ".join(map(repr, data.attributes.columns)) or "none"
        raise ValueError(
            f"{data.name}: --task-group {column!r} names no task-level column "
            f"(available: {available}); add a column whose levels are the exchangeable "
            f"groups (e.g. the question of question × subgroup cells)"
        )
    labels = data.attributes.loc[list(tasks), column]
    if labels.isna().any():
        missing = labels.index[labels.isna()][0]
        raise ValueError(
            f"{data.name}: task {missing!r} has no value in --task-group column {column!r}; "
            f"give every task a group"
        )
    return labels.astype(str)


@dataclass(frozen=True)
class TaskGroups:
    """The task groups of one run: labels, coverage mode and each target's cell count.

    Attributes
    ----------
    column : str
        The task attribute whose levels are the groups.
    coverage : {"cell", "group"}
        The guarantee asked for.
    labels : pandas.Series
        Group label (text) of every task taking part, indexed by task.
    target_cells : dict
        Number of targets in each target's group (the union of ``group`` coverage).
    """

    column: str
    coverage: str
    labels: pd.Series
    target_cells: dict[str, int]

    @classmethod
    def for_plan(cls, data: TaskData, plan: Plan, column: str, coverage: str) -> TaskGroups:
        """The groups of ``plan``'s targets and histories."""
        tasks = list(dict.fromkeys([t for target, past in plan for t in (target, *past)]))
        labels = task_group_labels(data, column, tasks)
        counts = Counter(labels.loc[target] for target, _ in plan)
        target_cells = {target: counts[labels.loc[target]] for target, _ in plan}
        return cls(column, coverage, labels, target_cells)

    @classmethod
    def of(cls, data: TaskData, plan: Plan, settings: Settings) -> TaskGroups | None:
        """The groups of a run, or ``None`` when ``settings`` names no task group."""
        if settings.task_group is None:
            return None
        return cls.for_plan(data, plan, settings.task_group, settings.coverage)

    def other_groups(self, target: str, past: Sequence[str]) -> list[str]:
        """The cells of ``past`` outside ``target``'s group (its history)."""
        own = self.labels.loc[target]
        return [task for task in past if self.labels.loc[task] != own]

    def warn_shared(self, plan: Plan) -> None:
        """Warn, with a count, when history cells share a target's group (``infer``)."""
        left_out = sorted(
            {
                task
                for target, past in plan
                for task in past
                if self.labels.loc[task] == self.labels.loc[target]
            }
        )
        if left_out:
            warnings.warn(
                f"{len(left_out)} history task(s) share a target's task group "
                f"({self.column!r}, e.g. {left_out[0]!r}) and are left out of that target's "
                f"history: the group is the exchangeable unit (use --group-by {self.column} to "
                f"calibrate within the group instead)",
                stacklevel=3,
            )

    def attach(self, history: History, target: str, past: Sequence[str]) -> History:
        """``history`` with the group codes of ``past``, the coverage and the target's cells."""
        codes, _ = pd.factorize(self.labels.loc[list(past)].to_numpy(), sort=True)
        return replace(
            history,
            groups=np.asarray(codes, dtype=np.int64),
            coverage=self.coverage,
            target_cells=self.target_cells[target],
        )

    def label_of(self, tasks: Sequence[str]) -> list[str]:
        """The group label of each of ``tasks``."""
        return [str(self.labels.loc[task]) for task in tasks]
