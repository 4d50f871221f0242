"""Which remedies can run at the user's alpha, for one coordinate's history and targets.

A remedy is suggested only when it gives finite intervals at ``alpha / D``
with some allocation (``α3 → α/D``): every ``--group-by`` group needs
``min_history(α3)`` history tasks, ``--task-group`` as many history levels
(each level is one unit of the calibration), ``--adjust`` no target level the
history lacks. Otherwise the finding says why not, or that no remedy is feasible.

A task attribute at a level the history has never seen (a new survey question
whose cells are the targets) cannot be helped by ``--group-by`` (its group has
no history) nor by ``--adjust`` (it would extrapolate); ``--task-group``
calibrates across the attribute's levels instead, and is suggested then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from synthinfer.allocation import Allocation
from synthinfer.conformal import min_history

__all__ = ["Remedies"]

Option = tuple[str, str, tuple[str | None, str]]
"""A remedy: ``(flag, suggestion, (why it cannot run or None, note))``."""


@dataclass(frozen=True)
class Remedies:
    """Which remedies can run at the user's alpha, for one coordinate's history and targets.

    A band calibrated on ``T`` history tasks is finite for some allocation when
    ``T >= min_history(α/D)`` (the best case ``α3 → α/D``: the automatic
    allocation's limit and the level of ``finite-sample``); the given
    allocation needs ``min_history(α3)``. Remedies are feasible in the best
    case, with a note when the given allocation is not enough.

    Attributes
    ----------
    history, targets : pandas.DataFrame
        Summary rows of the history and target tasks of one coordinate.
    alpha : float
        The user's level (before dividing by ``n_coords``).
    n_coords : int
        Number of coordinates ``D``.
    allocation : Allocation
        The budget split remedies are judged with.
    """

    history: pd.DataFrame
    targets: pd.DataFrame
    alpha: float
    n_coords: int
    allocation: Allocation

    @property
    def level(self) -> str:
        """The level remedies must reach, for messages."""
        per = f" ({self.alpha / self.n_coords:g} per coordinate)" if self.n_coords > 1 else ""
        return f"alpha {self.alpha:g}{per}"

    def _size(self, size: int, what: str, units: str = "history task(s)") -> tuple[str | None, str]:
        """``(why not, note)`` for a band calibrated on ``size`` history units."""
        per, split = self.alpha / self.n_coords, self.allocation
        split = split.resolve(per, size) if split.kind == "auto" else split
        fewest, needed = min_history(per), min_history(split.split(per)[2])
        if size < fewest:
            return (
                f"{what} {size} {units}, and a finite band at {self.level} needs at "
                f"least {fewest} even with all of it for the band (alpha3 = alpha/D)"
            ), ""
        if size < needed:
            return None, (
                f" ({what} {size} {units}: enough only with a larger alpha3 than "
                f"{self.allocation.spec} gives, which needs {needed}; e.g. the auto allocation "
                f"or method 'finite-sample')"
            )
        return None, ""

    def _columns(self, name: str) -> tuple[pd.Series, pd.Series, str | None]:
        """History and target values of ``name`` as text, and why they cannot be used."""
        targets = self.targets[name] if name in self.targets.columns else pd.Series(dtype=object)
        missing = self.history[name].isna().any() or targets.isna().any()
        why = f"'{name}' has missing values" if missing else None
        return self.history[name].astype(str), targets.astype(str), why

    def new_levels(self, name: str) -> list[str]:
        """Levels of ``name`` that target tasks have and no history task has (sorted)."""
        history, targets, why = self._columns(name)
        return [] if why else sorted(set(targets) - set(history))

    def group_by(self, name: str) -> tuple[str | None, str]:
        """``(why not, note)`` for ``--group-by name``: every group needs its own history."""
        history, targets, why = self._columns(name)
        if why:
            return why, ""
        counts = history.value_counts().reindex(history.unique().tolist() + list(targets))
        level, size = str(counts.fillna(0).idxmin()), int(counts.fillna(0).min())
        return self._size(size, f"the smallest group ({name} = '{level}') has")

    def task_group(self, name: str) -> tuple[str | None, str]:
        """``(why not, note)`` for ``--task-group name``: the history levels are the units."""
        history, _, why = self._columns(name)
        if why:
            return why, ""
        levels = history.nunique()
        return self._size(levels, "the history has", units=f"level(s) of '{name}'")

    def adjust(self, name: str, categorical: bool) -> tuple[str | None, str]:
        """``(why not, note)`` for ``--adjust name``."""
        why, note = self._size(len(self.history), "there are")
        if why or name == "synth_estimate":
            return why, note
        history, targets, why = self._columns(name)
        if why or not categorical:
            return why, note
        unseen = sorted(set(targets) - set(history))
        if unseen:
            return f"target task(s) have {name} = '{unseen[0]}', a level no history task has", ""
        counts = history.value_counts()
        if (counts == 1).any():
            note += (
                f" (a leave-one-out backtest stops at the task with {name} = "
                f"'{counts.index[counts == 1][0]}': no other task has that level)"
            )
        return None, note

    def choose(self, options: Sequence[Option]) -> tuple[str, bool]:
        """The remedy from ``(flag, suggestion, (why not, note))`` options, and if one can run."""
        can = [text + note for _, text, (why, note) in options if why is None]
        cannot = [f"{flag}: {why}" for flag, _, (why, _note) in options if why is not None]
        if not can:
            size = len(self.history)
            text = f"no remedy is feasible at {self.level} with {size} history tasks; "
            return text + "; ".join(cannot), False
        return " or ".join(can) + "".join(f"; not {text}" for text in cannot), True

    def for_attribute(self, name: str, categorical: bool) -> tuple[str, bool]:
        """Remedies for a gap that depends on the attribute ``name``."""
        adjust = (f"--adjust {name}", f"adjust for it (--adjust {name})")
        options = [(*adjust, self.adjust(name, categorical))]
        if categorical:
            new = self.new_levels(name)
            group = (f"--group-by {name}", f"calibrate within groups (--group-by {name})")
            grouped = [(*group, self.group_by(name)), *options]
            if new:
                return self.choose([self._task_group_option(name, new), *grouped])
            return self.choose(grouped)
        kernel = (f"--kernel {name}", f"kernel weights on it (weighted, --kernel {name})")
        return self.choose([*options, (*kernel, self._size(len(self.history), "there are"))])

    def _task_group_option(self, name: str, new: list[str]) -> Option:
        """``--task-group name`` for target levels ``new`` that no history task has."""
        shown = ", ".join(f"'{level}'" for level in new[:3]) + (" ..." if len(new) > 3 else "")
        verb = "is a level" if len(new) == 1 else "are levels"
        text = (
            f"calibrate across '{name}' levels (--task-group {name}): the targets' {name} "
            f"{shown} {verb} no history task has, so no group of history tasks speaks for "
            f"them and --group-by cannot help; --task-group treats each level of '{name}' as "
            f"one exchangeable unit of the history (add --coverage group for an interval "
            f"that covers a level's whole breakdown at once)"
        )
        return (f"--task-group {name}", text, self.task_group(name))

    def for_trend(self, time_col: str) -> tuple[str, bool]:
        """Remedies for a history that drifts in time."""
        text = (
            "history drifts, so a later target is not exchangeable with it: use method "
            "'weighted' with recency weights (--decay RHO), and check with "
            f"`backtest --protocol temporal --time-col {time_col}`"
        )
        return self.choose([("weighted", text, self._size(len(self.history), "there are"))])

    def for_synth_estimate(self) -> tuple[str, bool]:
        """Remedies for a gap that depends on the synthetic estimate."""
        text = (
            "adjust for it (--adjust synth_estimate): the band is then centred at each "
            "target's predicted gap"
        )
        why = self.adjust("synth_estimate", categorical=False)
        return self.choose([("--adjust synth_estimate", text, why)])
