"""The history each target is calibrated against: task weights, groups, covariates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from synthinfer.adjust import CovariateAdjustment, group_history_mask
from synthinfer.data import (
    Labels,
    TaskData,
    TaskStatistics,
)
from synthinfer.evaluate._settings import Settings
from synthinfer.methods import History
from synthinfer.weights import kernel_weights, recency_weights

__all__ = [
    "LABEL_METHODS",
    "AdjusterFactory",
    "adjuster",
    "group_history",
    "history_for",
    "history_weights",
    "method_history",
]

LABEL_METHODS = frozenset({"ppi", "hybrid"})
"""Methods that read the target's labelled pairs (``History.labelled`` and the label gaps)."""


def decay_weights(data: TaskData, target: str, history: Sequence[str], decay: float) -> np.ndarray:
    """Recency weights ``decay ** |time_target − time_j|`` for one target.

    Age is measured from the target itself, so a leave-one-out backtest weighs
    each held-out task's neighbours in time most (tasks after it too), exactly
    as ``infer`` weighs the history of a new task.
    """
    if "time" not in data.attributes.columns:
        raise ValueError(f"{data.name}: --decay needs a 'time' column (task-level)")
    times = data.attributes["time"]
    involved = [*history, target]
    if times.loc[involved].isna().any():
        missing = times.loc[involved][times.loc[involved].isna()].index[0]
        raise ValueError(f"{data.name}: task {missing!r} has no 'time'; --decay needs every time")
    ages = np.abs(float(times.loc[target]) - times.loc[list(history)].to_numpy(dtype=float))
    return recency_weights(ages, decay)


def task_weights(data: TaskData, history: Sequence[str]) -> np.ndarray | None:
    if "task_weight" not in data.attributes.columns:
        return None
    weights = data.attributes.loc[list(history), "task_weight"]
    if weights.isna().any():
        raise ValueError(
            f"{data.name}: column 'task_weight' is empty for history task "
            f"{weights.index[weights.isna()][0]!r}"
        )
    return weights.to_numpy(dtype=float)


def history_weights(
    data: TaskData, target: str, history: Sequence[str], settings: Settings
) -> np.ndarray | None:
    """Task weights for ``weighted``: recency and/or kernel similarity, else ``task_weight``.

    Recency (``--decay``) and kernel (``--kernel``) weights multiply when both are given.
    """
    weighting = settings.weighting
    if not weighting.active:
        return task_weights(data, history)
    weights = np.ones(len(history))
    if weighting.decay is not None:
        weights = weights * decay_weights(data, target, history, weighting.decay)
    if weighting.kernel:
        weights = weights * kernel_weights(
            data.attributes.loc[list(history)],
            data.attributes.loc[target],
            columns=weighting.kernel,
            bandwidth=weighting.bandwidth,
            mismatch=weighting.mismatch,
        )
    return weights


def group_history(data: TaskData, target: str, history: Sequence[str], column: str) -> list[str]:
    if column not in data.attributes.columns:
        raise ValueError(
            f"{data.name}: --group-by {column!r} names no task-level column "
            f"(available: {', '.join(map(repr, data.attributes.columns)) or 'none'})"
        )
    groups = data.attributes[column]
    value = groups.loc[target]
    if pd.isna(value):
        raise ValueError(
            f"{data.name}: task {target!r} has no value in --group-by column {column!r}"
        )
    mask = group_history_mask(groups.loc[list(history)].to_numpy(), value)
    return [task for task, keep in zip(history, mask, strict=True) if keep]


AdjusterFactory = Callable[[TaskData, TaskStatistics, str, Sequence[str]], dict]


def history_for(
    data: TaskData,
    stats: TaskStatistics,
    target: str,
    history: Sequence[str],
    settings: Settings,
    adjuster: AdjusterFactory | None,
    labels: Labels | None = None,
) -> History:
    index = stats.index_of(history)
    weights = None
    if "weighted" in settings.methods:
        weights = history_weights(data, target, history, settings)
    extra = adjuster(data, stats, target, history) if adjuster is not None else {}
    if labels is not None and LABEL_METHODS & set(settings.methods):
        extra.update(labels.fields(stats.coord, target, history))
    return History(
        gap=None if stats.gap is None else stats.gap.take(index),
        observed=stats.observed[index],
        weights=weights,
        missing_gap_reason=stats.missing_gap_reason or "the data has no gap standard errors",
        **extra,
    )


def method_history(history: History, method: str) -> History:
    """The history ``method`` sees: for ``hybrid``, the tasks with a label gap only.

    A history task with fewer labelled pairs than the target has labels gives
    no label gap (NaN; :class:`synthinfer.data.Labels` warns with the count);
    ``hybrid`` leaves it out. Every other method sees the whole history.
    """
    if method != "hybrid" or history.label_gap is None or history.gap_model is not None:
        return history
    keep = np.flatnonzero(np.all(np.isfinite(np.atleast_2d(history.label_gap)), axis=0))
    if keep.size == np.shape(history.label_gap)[-1]:
        return history
    return replace(
        history,
        gap=None if history.gap is None else history.gap.take(keep),
        observed=None if history.observed is None else history.observed[..., keep],
        weights=None if history.weights is None else history.weights[..., keep],
        covariates=None if history.covariates is None else history.covariates[keep],
        label_gap=history.label_gap[..., keep],
        label_gap_se=None if history.label_gap_se is None else history.label_gap_se[..., keep],
    )


def adjuster(data: TaskData, settings: Settings) -> AdjusterFactory | None:
    """Covariate-adjusted history fields per fold; the covariate design is built once."""
    adjustment = settings.adjustment
    if not adjustment.columns:
        return None
    covariates = CovariateAdjustment(
        data.attributes,
        adjustment.columns,
        mode=adjustment.mode,
        seed=settings.seed,
        penalty=adjustment.penalty,
    )

    def factory(data: TaskData, stats: TaskStatistics, target: str, history: Sequence[str]):
        return covariates.history_fields(stats, target, history)

    return factory
