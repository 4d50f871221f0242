"""Battle counts reduced to a per-model summary table (DESIGN.md's format).

Each model is a task: the synthetic estimate comes from the autorater's
verdicts, the real one from the human verdicts on the same battles, and the
gap is paired. Models without human verdicts are targets (empty real and gap
fields). The ``anchor`` earliest models are never tasks.

Estimands
---------
**Win rate** of model ``m``: over its battles, a win scores 1, a tie 1/2 and a
loss 0; real = mean human score ``h``, synthetic = mean judge score ``j``,
paired gap = mean of ``h − j`` with standard error ``sd(h − j)/√n`` (ddof 1).

**Bradley-Terry strength** ``β``, with a reference model pinned at 0 (it
defines the scale and is never a task). For each model ``m`` the *field*
(every other model with human verdicts) is fitted on the human battles not
involving ``m``. Then ``m`` is placed against the fixed field, once from its
human verdicts (real) and once from its autorater verdicts on the same
battles (synthetic); the gap standard error comes from a paired bootstrap over
``m``'s battles (see :mod:`synthinfer.arena._bradley_terry`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer._validation import check_count, check_seed
from synthinfer.arena._bradley_terry import (
    bootstrap_gap_se,
    check_connected,
    fit_bradley_terry,
    place_human_and_judge,
    place_model,
)
from synthinfer.arena._counts import SCORES, BattleCounts

__all__ = [
    "DEFAULT_GAP_BOOTSTRAP",
    "ArenaSummary",
    "bradley_terry_summary",
    "field_strengths",
    "win_rate_summary",
]

DEFAULT_GAP_BOOTSTRAP = 200
"""Paired bootstrap replicates per history model for a Bradley-Terry gap standard error."""

Seed = int | np.random.Generator | None


@dataclass(frozen=True)
class ArenaSummary:
    """A battle log reduced to a per-model summary table.

    Attributes
    ----------
    table : pandas.DataFrame
        The summary table (DESIGN.md format), one row per task model.
    estimand : str
        ``win-rate`` or ``bradley-terry``.
    reference : str or None
        The pinned model (Bradley-Terry).
    field : dict
        Bradley-Terry: per task, the field's point strengths used to place it
        (for rank intervals).
    n_models : int
        Models in the log.
    """

    table: pd.DataFrame = field(repr=False)
    estimand: str
    reference: str | None = None
    field: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    n_models: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The summary table."""
        return self.table

    def summary(self) -> str:
        """The summary table as text, under a line naming the estimand and reference."""
        head = f"arena {self.estimand} summary: {len(self.table)} task(s) of {self.n_models} models"
        if self.reference:
            head += f", reference {self.reference!r} = 0"
        return head + "\n" + self.table.to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


# ------------------------------------------------------------------------- shared
def _task_indices(counts: BattleCounts, anchor: int, exclude: Sequence[str] = ()) -> list[int]:
    """Task models: all but the ``anchor`` earliest and ``exclude``."""
    anchor = check_count(anchor, "anchor", minimum=0)
    anchors = set(counts.order()[:anchor]) if anchor else set()
    if anchor and len(anchors) >= counts.n_models:
        raise ValueError(
            f"anchor {anchor} leaves no task among {counts.n_models} models; lower --anchor"
        )
    skip = anchors | set(exclude)
    return [i for i, model in enumerate(counts.models) if model not in skip]


def _warn_unused(counts: BattleCounts) -> None:
    unused = int(counts.judge_only[counts.is_history].sum())
    if unused:
        warnings.warn(
            f"{counts.name}: {unused} autorater-only battle side(s) of models with human "
            f"verdicts are left out (those models use their paired battles only)",
            stacklevel=3,
        )


def _with_time(table: pd.DataFrame, counts: BattleCounts) -> pd.DataFrame:
    """Add each task model's release time as a ``time`` column when times are known."""
    if counts.times is not None:
        table["time"] = counts.times.reindex(table["task"]).to_numpy(dtype=float)
    return table


# ---------------------------------------------------------------------- win rates
def _mean_and_se(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``values`` with counts (last axes) and its SE ``s/√n`` (ddof 1)."""
    axes = tuple(range(1, counts.ndim))
    n = counts.sum(axis=axes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (counts * values).sum(axis=axes) / n
        centered = values - mean.reshape((-1,) + (1,) * (counts.ndim - 1))
        variance = (counts * centered**2).sum(axis=axes) / (n - 1)
        se = np.sqrt(variance / n)
    return mean, se


def _check_sizes(counts: BattleCounts, n: np.ndarray, tasks: list[int]) -> None:
    small = [i for i in tasks if n[i] < 2]
    if small:
        raise ValueError(
            f"{counts.name}: model {counts.models[small[0]]!r} has {int(n[small[0]])} usable "
            f"battle(s); a standard error needs at least 2 (add battles or drop the model)"
        )


def win_rate_summary(counts: BattleCounts, *, anchor: int = 0) -> pd.DataFrame:
    """Per-model win-rate summary table (a tie counts one half).

    Parameters
    ----------
    counts : BattleCounts
        The battle counts.
    anchor : int
        The ``anchor`` earliest models are never tasks.

    Returns
    -------
    pandas.DataFrame
        One row per task model: ``task, synth_estimate, synth_se,
        real_estimate, real_se, gap_estimate, gap_se, n_real, n_synth`` and
        ``time`` when release times are known. Models without human verdicts
        (targets) have empty real and gap fields.
    """
    tasks = _task_indices(counts, anchor)
    history = counts.is_history
    _warn_unused(counts)
    paired = counts.paired.sum(axis=1)  # (K, 3, 3): human × judge
    judge_only = counts.judge_only.sum(axis=1)  # (K, 3)
    human_score, judge_score = SCORES[:, None], SCORES[None, :]
    real, real_se = _mean_and_se(paired, np.broadcast_to(human_score, (3, 3)))
    synth_paired, synth_paired_se = _mean_and_se(paired, np.broadcast_to(judge_score, (3, 3)))
    gap, gap_se = _mean_and_se(paired, human_score - judge_score)
    synth_target, synth_target_se = _mean_and_se(judge_only, SCORES)
    n_paired = paired.sum(axis=(1, 2))
    n_synth = np.where(history, n_paired, judge_only.sum(axis=1))
    _check_sizes(counts, n_synth, tasks)
    table = pd.DataFrame(
        {
            "task": list(counts.models),
            "synth_estimate": np.where(history, synth_paired, synth_target),
            "synth_se": np.where(history, synth_paired_se, synth_target_se),
            "real_estimate": np.where(history, real, np.nan),
            "real_se": np.where(history, real_se, np.nan),
            "gap_estimate": np.where(history, gap, np.nan),
            "gap_se": np.where(history, gap_se, np.nan),
            "n_real": np.where(history, n_paired, 0),
            "n_synth": n_synth,
        }
    )
    return _with_time(table, counts).iloc[tasks].reset_index(drop=True)


# ------------------------------------------------------------------ Bradley-Terry
def bradley_terry_summary(
    counts: BattleCounts,
    *,
    reference: str | None = None,
    anchor: int = 0,
    n_gap_bootstrap: int = DEFAULT_GAP_BOOTSTRAP,
    seed: Seed = 0,
) -> ArenaSummary:
    """Per-model Bradley-Terry summary table (held-out placement, paired bootstrap gaps).

    Parameters
    ----------
    counts : BattleCounts
        The battle counts.
    reference : str, optional
        Model pinned at 0 (never a task). Default: the earliest model when
        release times are known, else the model with most human-judged battles.
    anchor : int
        The ``anchor`` earliest models are never tasks (they stay in the field).
    n_gap_bootstrap : int
        Paired bootstrap replicates per history model for the gap standard error.
    seed : int or Generator, optional
        Randomness for the bootstrap (keyword-only; default 0, so runs repeat exactly).

    Returns
    -------
    ArenaSummary
    """
    n_gap_bootstrap = check_count(n_gap_bootstrap, "n_gap_bootstrap", minimum=2)
    rng = np.random.default_rng(seed if isinstance(seed, np.random.Generator) else check_seed(seed))
    history = counts.is_history
    if history.sum() < 2:
        raise ValueError(
            f"{counts.name}: Bradley-Terry needs human verdicts for at least 2 models, found "
            f"{int(history.sum())}"
        )
    reference = _default_reference(counts) if reference is None else reference
    ref = counts.index(reference)
    if not history[ref]:
        raise ValueError(
            f"{counts.name}: reference model {reference!r} has no human verdicts; pick a model "
            f"with human-judged battles (--reference)"
        )
    _warn_unused(counts)
    tasks = _task_indices(counts, anchor, exclude=[reference])
    wins, games = counts.human_wins()
    rows, fields = [], {}
    full_field = field_strengths(counts, wins, games, history, ref, exclude=None)
    for task in tasks:
        model = counts.models[task]
        strengths = (
            field_strengths(counts, wins, games, history, ref, exclude=task)
            if history[task]
            else full_field
        )
        in_field = history.copy()
        in_field[task] = False
        fields[model] = np.sort(strengths[in_field])[::-1]
        rows.append(_task_row(counts, task, strengths, in_field, n_gap_bootstrap, rng))
    table = pd.DataFrame(rows)
    table["reference"] = reference
    table = _with_time(table, counts)
    return ArenaSummary(
        table=table,
        estimand="bradley-terry",
        reference=reference,
        field=fields,
        n_models=counts.n_models,
    )


def _default_reference(counts: BattleCounts) -> str:
    """The earliest model with human verdicts, else the one with most human-judged battles."""
    history = [m for m, h in zip(counts.models, counts.is_history, strict=True) if h]
    if counts.times is not None and not counts.times.reindex(history).isna().any():
        return min(history, key=lambda m: (float(counts.times[m]), m))
    battles = counts.paired.sum(axis=(1, 2, 3))
    return max(history, key=lambda m: (battles[counts.models.index(m)], m))


def field_strengths(
    counts: BattleCounts,
    wins: np.ndarray,
    games: np.ndarray,
    history: np.ndarray,
    ref: int,
    exclude: int | None,
) -> np.ndarray:
    """Field strengths fitted on the human battles without model ``exclude``.

    Parameters
    ----------
    counts : BattleCounts
        The battle counts (for names and messages).
    wins, games : ndarray, shape (K, K)
        Human win matrix and battle counts (:meth:`BattleCounts.human_wins`).
    history : ndarray of bool, shape (K,)
        Models with human verdicts: the field.
    ref : int
        Position of the reference model (pinned at 0).
    exclude : int or None
        Position of the model left out of the field.

    Returns
    -------
    ndarray, shape (K,)
        Strengths of the field models, zeros outside the field.
    """
    members = history.copy()
    if exclude is not None:
        members[exclude] = False
    index = np.flatnonzero(members)
    names = [counts.models[i] for i in index]
    where = (
        f"{counts.name}: the field without {counts.models[exclude]!r}"
        if exclude is not None
        else f"{counts.name}: the field"
    )
    sub_wins = wins[np.ix_(index, index)]
    check_connected(sub_wins, names, where)
    fit = fit_bradley_terry(
        sub_wins,
        games[np.ix_(index, index)],
        reference=int(np.flatnonzero(index == ref)[0]),
        models=names,
    )
    strengths = np.zeros(counts.n_models)
    strengths[index] = fit.strengths
    return strengths


def _task_row(
    counts: BattleCounts,
    task: int,
    strengths: np.ndarray,
    in_field: np.ndarray,
    n_gap_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    """The summary row of one task model: a history model or a target."""
    if counts.is_history[task]:
        return _history_row(counts, task, strengths, n_gap_bootstrap, rng)
    return _target_row(counts, task, strengths, in_field)


def _history_row(
    counts: BattleCounts,
    task: int,
    strengths: np.ndarray,
    n_gap_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    """Human and judge placements on the model's paired battles, with the bootstrap gap SE."""
    cells = counts.paired[task]
    real, synth = place_human_and_judge(cells, strengths)
    gap_se = bootstrap_gap_se(cells, strengths, n_gap_bootstrap, rng)
    n = int(cells.sum())
    return {
        "task": counts.models[task],
        "synth_estimate": float(synth.strength),
        "synth_se": float(synth.se),
        "real_estimate": float(real.strength),
        "real_se": float(real.se),
        "gap_estimate": float(real.strength - synth.strength),
        "gap_se": gap_se,
        "n_real": n,
        "n_synth": n,
    }


def _target_row(
    counts: BattleCounts, task: int, strengths: np.ndarray, in_field: np.ndarray
) -> dict[str, object]:
    """The judge placement of a target model on its battles against the field."""
    model = counts.models[task]
    judged = counts.judge_only[task] * in_field[:, None]
    left_out = int(counts.judge_only[task].sum() - judged.sum())
    if left_out:
        warnings.warn(
            f"{counts.name}: {left_out} battle(s) of target model {model!r} against models "
            f"without human verdicts are left out of its placement",
            stacklevel=5,
        )
    if judged.sum() < 1:
        raise ValueError(
            f"{counts.name}: target model {model!r} has no battles against models with human "
            f"verdicts; it cannot be placed in the field"
        )
    synth = place_model(judged @ SCORES, judged.sum(axis=-1), strengths)
    return {
        "task": model,
        "synth_estimate": float(synth[0]),
        "synth_se": float(synth[1]),
        "real_estimate": np.nan,
        "real_se": np.nan,
        "gap_estimate": np.nan,
        "gap_se": np.nan,
        "n_real": 0,
        "n_synth": int(judged.sum()),
    }
