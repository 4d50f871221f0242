"""What is estimated per task, and the per-task interval families the methods consume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from synthinfer.allocation import design_se
from synthinfer.intervals import IntervalFamily

__all__ = ["Estimand", "TaskStatistics"]


@dataclass(frozen=True)
class Estimand:
    """What is estimated per task: the mean (``kind="mean"``) or the ``quantile``
    ``q ∈ (0, 1)`` (``kind="quantile"``)."""

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

    @cached_property
    def design_ses(self) -> tuple[float, float]:
        """The median synthetic standard error (all tasks) and median gap standard
        error (history tasks): the design quantities of the ``auto`` allocation."""
        return design_se(self.synth), design_se(self.gap, self.is_history)
