"""Covariate designs from task attributes, and the ``History`` fields of an adjusted band.

The design of every task (history and targets together) is built once, so
one-hot levels agree between history and targets; each target then takes
its rows. :class:`CovariateAdjustment` keeps the design of each set of
per-task statistics it has seen, so calibrating many targets against the
same tasks (leave-one-out backtests, many targets in ``infer``) builds it once.
A target whose categorical covariate has a level that no history task has
stops with an error naming the column and the level: its adjusted band would
extrapolate (nothing in the history speaks for that level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from synthinfer._validation import split_list
from synthinfer.adjust._gap_models import AdjustMode, make_gap_model
from synthinfer.adjust._ridge import DEFAULT_PENALTY

__all__ = [
    "SYNTH_ESTIMATE",
    "CovariateAdjustment",
    "Design",
    "design_matrix",
    "group_history_mask",
    "history_covariates",
]

FloatArray = NDArray[np.float64]

SYNTH_ESTIMATE = "synth_estimate"
"""Covariate name for the task's synthetic estimate (known for the target too)."""


@dataclass(frozen=True)
class Design:
    """A numeric design matrix built from task attributes.

    Attributes
    ----------
    matrix : ndarray of shape (n_tasks, p)
        One-hot columns (first level dropped) for categorical attributes,
        numeric attributes as they are. No intercept and no standardization
        (the gap models add and do both).
    names : tuple of str
        Column names, ``"role=opp"`` for a one-hot column.
    columns : tuple of str
        The attributes the design was built from.
    """

    matrix: FloatArray
    names: tuple[str, ...]
    columns: tuple[str, ...]


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _column_block(series: pd.Series, column: str) -> tuple[list[FloatArray], list[str]]:
    """The design columns of one attribute and their names."""
    if series.isna().any():
        raise ValueError(
            f"covariate column '{column}' has {int(series.isna().sum())} missing value(s); "
            f"fill them or drop those tasks"
        )
    if _is_categorical(series):
        levels = sorted(pd.unique(series.astype(str)))
        values = series.astype(str).to_numpy()
        blocks = [(values == level).astype(float)[:, None] for level in levels[1:]]
        return blocks, [f"{column}={level}" for level in levels[1:]]
    values = series.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"covariate column '{column}' has non-finite values")
    return [values[:, None]], [column]


def design_matrix(frame: pd.DataFrame, columns: Sequence[str] | str) -> Design:
    """Build the covariate design of all tasks (history and targets together).

    Build it once over every task so that one-hot levels agree between
    history and targets; slice rows afterwards.

    Parameters
    ----------
    frame : DataFrame
        One row per task, with the attribute columns (``synth_estimate`` is a
        numeric column of the per-task summary table).
    columns : sequence of str or str
        Attribute names, or one comma-separated string such as
        ``"synth_estimate,role"``. Non-numeric (or boolean) columns are
        categorical.

    Returns
    -------
    Design

    Examples
    --------
    >>> frame = pd.DataFrame({"role": ["co", "opp", "co"], "synth_estimate": [0.2, 0.5, 0.9]})
    >>> design_matrix(frame, "synth_estimate,role").names
    ('synth_estimate', 'role=opp')
    """
    names_in = split_list(columns)
    if not names_in:
        raise ValueError("give at least one covariate column, e.g. --adjust synth_estimate")
    missing = [c for c in names_in if c not in frame.columns]
    if missing:
        raise ValueError(
            f"covariate column(s) {missing} not in the table; available columns: "
            f"{sorted(map(str, frame.columns))}"
        )
    blocks: list[FloatArray] = []
    names: list[str] = []
    for column in names_in:
        column_blocks, column_names = _column_block(frame[column], column)
        blocks.extend(column_blocks)
        names.extend(column_names)
    matrix = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return Design(matrix=matrix, names=tuple(names), columns=tuple(names_in))


def group_history_mask(groups_history: ArrayLike, group_target: Any) -> NDArray[np.bool_]:
    """Which history tasks share the target's group (group-conditional calibration).

    Parameters
    ----------
    groups_history : array_like
        Group label of each history task.
    group_target : scalar
        The target's group label.

    Returns
    -------
    ndarray of bool
        ``True`` for history tasks in the target's group. Calibrating on them
        is exact when tasks are exchangeable within groups; too few of them
        give an infinite band (never a fallback to the whole history).
    """
    labels = np.asarray(groups_history, dtype=object)
    return np.array([label == group_target for label in labels], dtype=bool)


_KEPT_DESIGNS = 16
"""Designs a :class:`CovariateAdjustment` keeps (one per coordinate's statistics)."""


@dataclass(frozen=True, eq=False)
class CovariateAdjustment:
    """The covariate adjustment of one run: task attributes, covariates and gap model.

    Create it once per run; :meth:`history_fields` then gives the ``History``
    fields of each (target, history) pair. The covariate design of a set of
    per-task statistics is built at its first use and reused for every later
    target (the design depends on the statistics' tasks and synthetic
    estimates only, never on the fold), so each call costs ``O(T)``.
    Statistics are treated as immutable.

    Parameters
    ----------
    attributes : DataFrame
        Task attributes indexed by task id.
    columns : sequence of str or str
        Covariates (attributes and/or ``synth_estimate``), a list or one
        comma-separated string.
    mode : {"full", "split"}
        Adjustment mode.
    seed : int, optional
        Seed of the split (split mode; default 0).
    penalty : float
        Ridge penalty.
    """

    attributes: pd.DataFrame
    columns: Sequence[str] | str
    mode: AdjustMode = "full"
    seed: int | None = None
    penalty: float = DEFAULT_PENALTY
    _designs: dict[int, tuple[Any, FloatArray, dict[str, tuple[Any, Any]]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(split_list(self.columns)))

    def design(self, stats: Any) -> FloatArray:
        """The covariate matrix of every task of ``stats``, shape ``(len(stats.tasks), p)``.

        Parameters
        ----------
        stats : TaskStatistics
            Per-coordinate statistics (``tasks``, ``synth.estimate``);
            ``synth_estimate`` is read from them.

        Returns
        -------
        ndarray
        """
        return self._kept(stats)[0]

    def _kept(self, stats: Any) -> tuple[FloatArray, dict[str, tuple[Any, Any]]]:
        """The design of ``stats`` and the ``(codes, levels)`` of its categorical covariates."""
        kept = self._designs.get(id(stats))
        if kept is not None and kept[0] is stats:
            return kept[1], kept[2]
        matrix, labels = self._build(stats)
        if len(self._designs) >= _KEPT_DESIGNS:
            self._designs.pop(next(iter(self._designs)))
        self._designs[id(stats)] = (stats, matrix, labels)
        return matrix, labels

    def _build(self, stats: Any) -> tuple[FloatArray, dict[str, tuple[Any, Any]]]:
        names = list(self.columns)
        tasks = list(np.asarray(stats.tasks))
        others = [c for c in names if c != SYNTH_ESTIMATE]
        missing = [c for c in others if c not in self.attributes.columns]
        if missing:
            raise ValueError(
                f"--adjust column(s) {missing} are not task attributes; available: "
                f"{[*sorted(map(str, self.attributes.columns)), SYNTH_ESTIMATE]}"
            )
        frame = self.attributes.reindex(tasks)[others].reset_index(drop=True)
        if SYNTH_ESTIMATE in names:
            frame[SYNTH_ESTIMATE] = np.asarray(stats.synth.estimate, dtype=float).reshape(-1)
        matrix = design_matrix(frame, names).matrix
        labels = {
            column: pd.factorize(frame[column].astype(str))
            for column in others
            if _is_categorical(frame[column])
        }
        return matrix, labels

    def history_fields(self, stats: Any, target: str, history: Sequence[str]) -> dict[str, Any]:
        """The ``History`` fields of an adjusted band for one target and coordinate.

        Parameters
        ----------
        stats : TaskStatistics
            Per-coordinate statistics (``tasks``, ``synth.estimate``,
            ``index_of``); ``synth_estimate`` is read from them, so it is the
            coordinate's synthetic estimate of each task.
        target : str
            Target task id.
        history : sequence of str
            History task ids.

        Returns
        -------
        dict
            ``covariates`` (T, p), ``target_covariates`` (1, p) and
            ``gap_model``, ready for ``History(**fields)``.

        Raises
        ------
        ValueError
            If the target has a level of a categorical covariate that no
            history task has (the adjusted band would extrapolate).
        """
        matrix, labels = self._kept(stats)
        rows = np.asarray(stats.index_of(list(history)))
        row = np.asarray(stats.index_of([target]))
        _check_levels(labels, rows, int(row[0]), target)
        coord = str(getattr(stats, "coord", "") or "")
        name = f"task '{target}'" + (f", coordinate '{coord}'" if coord else "")
        seed = 0 if self.seed is None else self.seed
        return {
            "covariates": matrix[rows],
            "target_covariates": matrix[row],
            "gap_model": make_gap_model(self.mode, penalty=self.penalty, seed=seed, task=name),
        }


def _check_levels(
    labels: dict[str, tuple[Any, Any]], history: NDArray[np.intp], target: int, name: str
) -> None:
    """Stop when the target has a level of a categorical covariate that no history task has.

    The adjusted band would extrapolate: with least squares it is infinite,
    with a ridge penalty it is a finite but arbitrary band. An empty history
    is left to the method (its band is infinite anyway).
    """
    if history.size == 0:
        return
    for column, (codes, levels) in labels.items():
        if not np.any(codes[history] == codes[target]):
            level = levels[codes[target]]
            raise ValueError(
                f"--adjust: task '{name}' has {column} = '{level}', a level no history task "
                f"has; the adjusted band would extrapolate (drop {column} from --adjust or add "
                f"history tasks with that level)"
            )


def history_covariates(
    attributes: pd.DataFrame,
    stats: Any,
    target: str,
    history: Sequence[str],
    *,
    columns: Sequence[str] | str,
    mode: AdjustMode = "full",
    seed: int | None = None,
    penalty: float = DEFAULT_PENALTY,
) -> dict[str, Any]:
    """The ``History`` fields of an adjusted band for one target and coordinate.

    Builds the design anew on every call; to calibrate many targets, create
    one :class:`CovariateAdjustment` and call its
    :meth:`~CovariateAdjustment.history_fields` (same result).

    Parameters
    ----------
    attributes, columns, mode, seed, penalty
        As in :class:`CovariateAdjustment`.
    stats, target, history
        As in :meth:`CovariateAdjustment.history_fields`.

    Returns
    -------
    dict
        As :meth:`CovariateAdjustment.history_fields` returns.
    """
    adjustment = CovariateAdjustment(attributes, columns, mode=mode, seed=seed, penalty=penalty)
    return adjustment.history_fields(stats, target, history)
