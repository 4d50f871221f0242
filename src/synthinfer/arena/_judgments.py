"""Verdicts to battles: the rules every pairwise judge file shares.

A table of *judgments* has one row per verdict: ``key`` (the prompt: question
and turn, instruction, or battle id), ``first`` and ``second`` (the models as
written), ``verdict`` (``a``, ``b``, ``tie`` from ``first``'s side, or missing
when it cannot be read), ``role`` (``human`` or ``judge``) and ``raw`` (the
value as written, for messages). :func:`battle_log` turns it into a battle log:
a battle is a key and an unordered model pair, several verdicts of one role
on a battle are draws of one unit (their majority is its verdict), a judge
verdict without a human one is unlabelled, a human verdict without a judge
verdict is an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["battle_log"]


_POINTS = {"a": 2, "tie": 1, "b": 0}
"""Twice the score of the first model, so that majorities are exact integers."""


def _oriented(judgments: pd.DataFrame, where: str) -> pd.DataFrame:
    """Models in sorted order, points from the first one's side, and the battle of each verdict."""
    first = judgments["first"].astype(str).to_numpy()
    second = judgments["second"].astype(str).to_numpy()
    empty = judgments["first"].isna() | judgments["second"].isna()
    if empty.any():
        raise ValueError(
            f"{where}: {int(empty.sum())} verdict(s) lack a model name; every battle needs "
            f"both models"
        )
    flip = np.array([a > b for a, b in zip(first, second, strict=True)], dtype=bool)
    points = judgments["verdict"].map(_POINTS).to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "key": judgments["key"].to_numpy(),
            "model_a": np.where(flip, second, first),
            "model_b": np.where(flip, first, second),
            "points": np.where(flip, 2 - points, points),
            "role": judgments["role"].to_numpy(),
        }
    )
    out["battle"] = out["key"] + " / " + out["model_a"] + " vs " + out["model_b"]
    return out


def _majority(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One verdict per (battle, role): the majority of its draws (a tie when they balance)."""
    grouped = verdicts.groupby(["battle", "role"], sort=True)["points"]
    table = pd.DataFrame({"sum": grouped.sum(), "n": grouped.size()}).reset_index()
    table["verdict"] = np.where(
        table["sum"] > table["n"], "a", np.where(table["sum"] < table["n"], "b", "tie")
    )
    return table


def battle_log(judgments: pd.DataFrame, where: str) -> tuple[pd.DataFrame, list[str]]:
    """The battle log of a table of judgments, and the notes of the warning."""
    oriented = _oriented(judgments, where)
    unread = np.isnan(oriented["points"].to_numpy(dtype=float))
    notes = []
    for role in ("human", "judge"):
        mask = unread & (oriented["role"] == role).to_numpy()
        if mask.any():
            values = ", ".join(repr(v) for v in judgments.loc[mask, "raw"].value_counts().index[:3])
            notes.append(
                f"{int(mask.sum())} {role} verdict(s) could not be read (e.g. {values}) and "
                f"are left out"
            )
    unread_judge = set(oriented.loc[unread & (oriented["role"] == "judge"), "battle"])
    majority = _majority(oriented[~unread])
    several = majority[majority["n"] > 1]
    for role in ("human", "judge"):
        part = several[several["role"] == role]
        if len(part):
            notes.append(
                f"{len(part)} battle(s) have several {role} verdicts ({int(part['n'].sum())} in "
                f"all): each is one battle with the majority verdict of its draws (a tie when "
                f"they balance), not several battles"
            )
    wide = majority.pivot(index="battle", columns="role", values="verdict")
    wide = wide.reindex(columns=["human", "judge"])
    orphans = wide.index[wide["judge"].isna()]
    left_out = [b for b in orphans if b in unread_judge]
    missing = [b for b in orphans if b not in unread_judge]
    if missing:
        raise ValueError(
            f"{where}: {len(missing)} battle(s) have human verdicts and no autorater verdict "
            f"(e.g. {missing[0]!r}); a human verdict needs the autorater's on the same battle: "
            f"judge those battles or remove their human rows"
        )
    if left_out:
        notes.append(
            f"{len(left_out)} battle(s) with human verdicts are left out: the autorater's "
            f"verdicts on them could not be read"
        )
    wide = wide.drop(index=left_out)
    if wide.empty:
        raise ValueError(f"{where}: no battle has a readable autorater verdict")
    models = oriented.drop_duplicates("battle").set_index("battle").loc[wide.index]
    log = pd.DataFrame(
        {
            "battle": wide.index.to_numpy(dtype=object),
            "model_a": models["model_a"].to_numpy(dtype=object),
            "model_b": models["model_b"].to_numpy(dtype=object),
            "human": wide["human"].astype(object).where(wide["human"].notna(), "").to_numpy(),
            "judge": wide["judge"].to_numpy(dtype=object),
        }
    )
    return log, notes
