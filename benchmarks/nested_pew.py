"""Pew cells calibrated across questions (task groups) against today's across-cells calibration.

The table "On the bundled Pew data" in docs/nested.md.

Usage::

    python benchmarks/nested_pew.py [--alphas 0.1,0.2,0.3] [--markdown FILE]

Data: the paper's Pew table one cell at a time (``pew_tasks(scalar=True)``:
96 cells = 12 questions × 4 regions × 2 roles, co-partisan and opposition
approval), clipped to [0, 1]. The question key is built from the bundled
attributes: the survey item (``POL1DT``, ``POL1JB``) and the wave, as the
derived attribute ``question`` (12 levels, 8 cells each).

Protocols, each scored per cell (``coverage``) and per question
(``question_coverage``: the share of questions with all 8 cells covered):

* ``cells (today)``: leave-one-cell-out, no groups (the cell's 7 siblings stay
  in its history);
* ``questions, no groups``: each question held out whole, the other 88 cells
  calibrated as if exchangeable cells (today's method on a new question);
* ``questions, cell`` / ``questions, group``: leave-one-question-out with
  ``task_group="question"`` and ``coverage="cell"`` / ``"group"``.

Coverage and mean width are over finite intervals; ``infinite`` counts the
others (with 11 history questions, a finite band needs ``alpha3 >= 2/12``).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer import backtest, infer, load_dataset, pew_tasks

METHODS = ("exchangeable", "finite-sample")


def pew_cells() -> pd.DataFrame:
    """The scalar Pew cells with the derived question key ``item wave``."""
    table = pew_tasks(scalar=True)
    raw = load_dataset("pew_approval_gpt4o")
    item = raw.drop_duplicates("wave").set_index("wave")["item"]
    table["question"] = table["wave"].map(item) + " " + table["wave"]
    return table


def question_holdout(table: pd.DataFrame, alphas: list[float]) -> pd.DataFrame:
    """Each question held out whole and calibrated across cells without groups."""
    frames = []
    for question in table["question"].unique():
        held = table["question"] == question
        data = table.copy()
        data.loc[held, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
        result = infer(data, method=list(METHODS), alpha=alphas, bounds=(0, 1))
        frame = result.to_frame()
        truth = table.set_index("task")["real_estimate"]
        frame["truth"] = frame["task"].map(truth).to_numpy()
        frame["covered"] = (frame["lower"] <= frame["truth"]) & (frame["truth"] <= frame["upper"])
        frame["task_group"] = question
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def scores(tasks: pd.DataFrame, protocol: str, questions: pd.Series) -> pd.DataFrame:
    """Coverage per cell and per question, mean width and infinite count per method × alpha."""
    tasks = tasks.assign(question=tasks["task"].map(questions).to_numpy())
    rows = []
    for (method, alpha), part in tasks.groupby(["method", "alpha"], sort=False):
        finite = part["feasible"].astype(bool)
        whole = part.assign(_finite=finite).groupby("question")
        complete = whole["_finite"].all()
        rows.append(
            {
                "protocol": protocol,
                "method": method,
                "alpha": alpha,
                "coverage": part.loc[finite, "covered"].mean() if finite.any() else np.nan,
                "question_coverage": whole["covered"].all()[complete].mean()
                if complete.any()
                else np.nan,
                "mean_width": part.loc[finite, "width"].mean() if finite.any() else np.nan,
                "infinite": int((~finite).sum()),
            }
        )
    return pd.DataFrame(rows)


def study(alphas: list[float]) -> pd.DataFrame:
    """The comparison table over protocols, methods and levels."""
    table = pew_cells()
    questions = table.set_index("task")["question"]
    options = {"method": list(METHODS), "alpha": alphas, "bounds": (0, 1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = [
            scores(backtest(table, **options).to_frame(), "cells (today)", questions),
            scores(question_holdout(table, alphas), "questions, no groups", questions),
        ]
        for coverage in ("cell", "group"):
            result = backtest(table, task_group="question", coverage=coverage, **options)
            parts.append(scores(result.to_frame(), f"questions, {coverage}", questions))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["method", "alpha"], kind="stable").reset_index(drop=True)


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, numbers to three decimals."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", default="0.1,0.2,0.3")
    parser.add_argument("--markdown", type=Path, default=None)
    arguments = parser.parse_args()
    frame = study([float(a) for a in arguments.alphas.split(",")])
    text = markdown(frame)
    print(text)
    if arguments.markdown is not None:
        arguments.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
