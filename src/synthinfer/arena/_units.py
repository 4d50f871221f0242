"""A battle log as a unit-level table: each model a task, each of its battles a unit.

The human verdict scores the real value and the autorater's the synthetic one
(win 1, tie 1/2, loss 0, from the model's side), paired by battle, so that
``ppi``, ``hybrid`` and ``--target-labels`` read a battle log like any other
unit-level data. A battle without a human verdict keeps its synthetic rows
only: an unlabelled unit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer._validation import check_columns
from synthinfer.tables import Verdicts

__all__ = ["battle_units"]

_SIDE_SCORE = np.array([1.0, 0.5, 0.0])  # codes 0 (A won), 1 (tie), 2 (B won), from A's side


def battle_units(
    battles: pd.DataFrame | str | Path,
    *,
    model_a: str = "model_a",
    model_b: str = "model_b",
    human: str = "human",
    judge: str = "judge",
    battle: str | None = "battle",
    verdicts: str | Verdicts | None = None,
) -> pd.DataFrame:
    """The unit-level table of a battle log (``task, source, value, unit``).

    Parameters
    ----------
    battles : DataFrame or path
        One row per battle (CSV or Parquet when a path).
    model_a, model_b, human, judge : str
        Columns of the two models and of the human and autorater verdicts.
    battle : str or None
        Column of battle ids, the units (default ``battle``; ``None``, or a
        log without it, numbers the battles by row).
    verdicts : str or Verdicts, optional
        Spellings of "A won", "B won" and "tie" (see :class:`synthinfer.tables.Verdicts`).

    Returns
    -------
    pandas.DataFrame
        Two rows per battle and source: one per model, scored from its side.
        A battle with an empty human verdict has no real rows (unlabelled).

    Raises
    ------
    ValueError
        For a missing column, an unknown verdict, or a battle without an
        autorater verdict.
    """
    frame = _read(battles)
    name = str(battles) if isinstance(battles, (str, Path)) else "battle log"
    check_columns(list(frame.columns), [model_a, model_b, human, judge], name, "battle log")
    spellings = Verdicts.parse(verdicts)
    human_codes = _codes(frame[human], spellings, human, name, missing_ok=True)
    judge_codes = _codes(frame[judge], spellings, judge, name, missing_ok=False)
    units = frame[battle].to_numpy() if battle and battle in frame else np.arange(len(frame))
    parts = []
    for source, codes in (("real", human_codes), ("synthetic", judge_codes)):
        judged = codes < 3
        score_a = _SIDE_SCORE[codes[judged]]
        for side, score in ((model_a, score_a), (model_b, 1.0 - score_a)):
            parts.append(
                pd.DataFrame(
                    {
                        "task": frame[side].to_numpy()[judged],
                        "source": source,
                        "value": score,
                        "unit": units[judged],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _read(battles: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(battles, pd.DataFrame):
        return battles
    path = Path(battles)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _codes(
    values: pd.Series, spellings: Verdicts, column: str, name: str, *, missing_ok: bool
) -> np.ndarray:
    """Verdict codes 0 (A won), 1 (tie), 2 (B won), 3 (empty), checked."""
    codes = spellings.codes(values)
    unknown = codes < 0
    if unknown.any():
        found = sorted(set(values[unknown].astype(str)))
        raise ValueError(
            f"{name}: column {column!r} has verdict(s) {found[:5]} that are none of "
            f"a={list(spellings.a)}, b={list(spellings.b)}, tie={list(spellings.tie)}; "
            f"give their spellings with verdicts='A,B,TIE'"
        )
    if not missing_ok and (codes == 3).any():
        raise ValueError(
            f"{name}: {int((codes == 3).sum())} battle(s) have no verdict in {column!r}; "
            f"every battle needs the autorater's verdict (drop those rows first)"
        )
    return codes
