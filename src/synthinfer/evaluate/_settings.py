"""Validated options shared by ``infer`` and ``backtest``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

from synthinfer._validation import (
    check_bounds,
    check_choice,
    check_count,
    check_levels,
    check_range,
    check_seed,
    split_list,
)
from synthinfer.adjust import ADJUST_MODES
from synthinfer.allocation import Allocation
from synthinfer.data import (
    Estimand,
    TaskData,
)
from synthinfer.methods import (
    ADJUSTED_TASK_ONLY,
    COVERAGES,
    GROUP_METHODS,
    PPI_CRITICAL,
    check_methods,
    unsupported_with_groups,
)

__all__ = [
    "PROTOCOLS",
    "Adjustment",
    "InferOptions",
    "Progress",
    "Settings",
    "Weighting",
    "resamples",
]

PROTOCOLS = ("loo", "temporal")


@dataclass(frozen=True)
class Weighting:
    """How ``weighted`` weighs history tasks (Algorithm 2): the options ``decay``,
    ``kernel``, ``bandwidth`` and ``mismatch`` of :func:`infer`, checked."""

    decay: float | None = None
    kernel: tuple[str, ...] = ()
    bandwidth: float = 1.0
    mismatch: float = 0.5

    @property
    def active(self) -> bool:
        """Whether recency or kernel weights replace the ``task_weight`` column."""
        return self.decay is not None or bool(self.kernel)


@dataclass(frozen=True)
class Adjustment:
    """Covariate-adjusted calibration (:mod:`synthinfer.adjust`): the options
    ``adjust`` (as ``columns``; empty for none), ``adjust_mode`` (as ``mode``) and
    ``penalty`` of :func:`infer`, checked."""

    columns: tuple[str, ...] = ()
    mode: str = "full"
    penalty: float = 1.0


@dataclass(frozen=True)
class Settings:
    """Validated options shared by ``infer`` and ``backtest``.

    Built by :meth:`from_arguments`, the one place where their arguments are checked.
    """

    alphas: tuple[float, ...]
    methods: tuple[str, ...]
    allocation: Allocation
    bounds: tuple[float, float] | None
    estimand: Estimand
    interval: str | None
    group_by: str | None
    n_bootstrap: int
    seed: int
    weighting: Weighting
    adjustment: Adjustment
    auto_bounds: bool = False
    task_group: str | None = None
    coverage: str = "cell"
    targets: tuple[str, ...] = ()
    ppi_critical: str = "student"

    @classmethod
    def from_arguments(
        cls,
        *,
        alpha: float | str | Sequence[float] | None,
        level: float | str | Sequence[float] | None,
        method: str | Sequence[str],
        allocation: str | Allocation,
        bounds: tuple[float, float] | str | None,
        estimand: str | Estimand,
        interval: str | None,
        group_by: str | None,
        n_bootstrap: int,
        seed: int | None,
        decay: float | None,
        kernel: str | Sequence[str] | None,
        bandwidth: float,
        mismatch: float,
        adjust: str | Sequence[str] | None,
        adjust_mode: str,
        penalty: float,
        task_group: str | None = None,
        coverage: str | None = None,
        targets: str | Sequence[str] | None = None,
        ppi_critical: str = "student",
    ) -> Settings:
        """Check every option once, with one clear message per problem.

        ``bounds=None`` asks for the default bounds of the data (``auto_bounds``,
        see :meth:`for_data`); ``seed=None`` draws a fresh seed, kept so that
        the run can be repeated.
        """
        methods = check_methods(method)
        adjustment = Adjustment(
            columns=tuple(split_list(adjust)),
            mode=check_choice(adjust_mode, ADJUST_MODES, "adjust_mode"),
            penalty=check_range(penalty, "penalty", 0.0),
        )
        if adjustment.columns and "weighted" in methods:
            raise ValueError("--adjust cannot be combined with method 'weighted'")
        if adjustment.columns and methods == ("synthetic-only",):
            raise ValueError("--adjust has no effect on 'synthetic-only'; pick another method")
        if adjustment.columns and "task-only" in methods:
            raise ValueError(ADJUSTED_TASK_ONLY)
        return cls(
            alphas=check_levels(alpha, level),
            methods=methods,
            allocation=Allocation.parse(allocation),
            bounds=check_bounds(bounds),
            estimand=Estimand.parse(estimand),
            interval=interval,
            group_by=group_by,
            n_bootstrap=check_count(n_bootstrap, "n_bootstrap"),
            seed=seed_value(seed),
            weighting=Weighting(
                decay=None
                if decay is None
                else check_range(decay, "decay", 0.0, 1.0, low_open=True),
                kernel=tuple(split_list(kernel)),
                bandwidth=check_range(bandwidth, "bandwidth", 0.0, low_open=True),
                mismatch=check_range(mismatch, "mismatch", 0.0, 1.0),
            ),
            adjustment=adjustment,
            auto_bounds=bounds is None,
            **task_group_settings(task_group, coverage, methods, adjustment),
            targets=tuple(dict.fromkeys(split_list(targets))),
            ppi_critical=check_choice(ppi_critical, PPI_CRITICAL, "ppi_critical"),
        )

    def for_data(self, data: TaskData) -> Settings:
        """The settings with the data's bounds: checked when given, else the default.

        Explicit bounds must hold the data (:meth:`TaskData.check_bounds`).
        Without bounds, a unit-level table whose values are all 0 or 1 gets
        ``[0, 1]``, said once in a warning; ``bounds="none"`` turns it off.
        """
        if self.bounds is not None:
            data.check_bounds(self.bounds)
            return self
        default = data.default_bounds() if self.auto_bounds else None
        if default is None:
            return self
        warnings.warn(
            f"{data.name}: values are 0/1: bounds [0, 1] (give bounds='none' to turn off)",
            stacklevel=3,
        )
        return replace(self, bounds=default)

    def randomized(self, data: TaskData) -> bool:
        """Whether a run on ``data`` draws random numbers (bootstrap, quantiles, a split)."""
        split = bool(self.adjustment.columns) and self.adjustment.mode == "split"
        return resamples(data, self) or split


def task_group_settings(
    task_group: str | None, coverage: str | None, methods: tuple[str, ...], adjustment: Adjustment
) -> dict[str, str | None]:
    """``task_group`` and ``coverage`` checked against each other, the methods and ``adjust``."""
    if task_group is None:
        if coverage is not None:
            raise ValueError(
                "--coverage needs --task-group COL (the task attribute whose levels are the "
                "exchangeable groups)"
            )
        return {"task_group": None, "coverage": "cell"}
    if not isinstance(task_group, str) or not task_group.strip():
        raise ValueError(f"--task-group must name a task attribute, got {task_group!r}")
    coverage = check_choice("cell" if coverage is None else coverage, COVERAGES, "coverage")
    for method in methods:
        if method not in GROUP_METHODS:
            raise ValueError(unsupported_with_groups(method))
    if adjustment.columns:
        raise ValueError("--adjust cannot be combined with --task-group")
    return {"task_group": task_group.strip(), "coverage": coverage}


def seed_value(seed: int | None) -> int:
    """The checked seed; ``None`` draws fresh entropy (returned, so the run can be repeated)."""
    checked = check_seed(seed)
    return int(np.random.SeedSequence().entropy) if checked is None else checked


Progress = Callable[[int, int], None]


class InferOptions(TypedDict, total=False):
    """The keyword options of :func:`infer`, which :func:`backtest` takes too.

    Each is documented, with its default, in :func:`infer`.
    """

    alpha: float | Sequence[float] | None
    level: float | Sequence[float] | None
    method: str | Sequence[str]
    allocation: str | Allocation
    bounds: tuple[float, float] | str | None
    estimand: str | Estimand
    interval: str | None
    decay: float | None
    group_by: str | None
    adjust: str | Sequence[str] | None
    adjust_mode: str
    n_bootstrap: int
    seed: int | None
    kernel: str | Sequence[str] | None
    bandwidth: float
    mismatch: float
    penalty: float
    task_group: str | None
    coverage: str | None
    targets: str | Sequence[str] | None
    ppi_critical: str
    read: object
    progress: Progress | None


def resamples(data: TaskData, settings: Settings) -> bool:
    """Whether per-task statistics need resampling (the slow part of long runs)."""
    return data.kind == "unit" and (
        settings.interval == "bootstrap" or settings.estimand.kind == "quantile"
    )
