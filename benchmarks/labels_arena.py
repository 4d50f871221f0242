"""Arena leave-one-model-out with a few human labels: ``exchangeable``, ``ppi`` and ``hybrid``.

The table "Arena: a held-out model with m human labels" in docs/labels.md.

Usage::

    python benchmarks/labels_arena.py [--labels 25,50,100,200] [--alpha 0.1,0.2]
                                      [--seeds 1] [--ppi-critical student|normal]
                                      [--markdown FILE]

The bundled Arena battles (``synthinfer.datasets``, human and GPT-4-judge
verdicts on the same battles) become a unit-level table: each model is a
task, each of its battles a unit, its win score (win 1, tie 1/2, loss 0) by
the human verdict the real value and by the judge's verdict the synthetic
one. Each model in turn is held out; it keeps a seeded random ``m`` of its
battles with their human verdicts (the rest keep the judge's only) and is
calibrated on the other 19 models. Coverage is of the model's human win rate
over all its battles, with its Monte Carlo standard error over the 20 models
(and over ``--seeds`` draws of the labels); mean width is over finite
intervals, ``infinite`` counts the others. ``ppi`` and ``hybrid`` read the PPI
interval with ``--ppi-critical`` (default ``student``, the package's default).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthinfer.arena import battle_units
from synthinfer.datasets import load_dataset
from synthinfer.evaluate import backtest
from synthinfer.methods import METHODS


def arena_units() -> pd.DataFrame:
    """The Arena battles as a unit-level table: task = model, unit = battle."""
    return battle_units(load_dataset("arena_judge_battles"))


def labels_table(
    labels: list[int], alphas: list[float], seeds: int, ppi_critical: str = "student"
) -> pd.DataFrame:
    """Coverage and mean width per method × alpha × m (pooled over ``seeds`` label draws)."""
    methods = [m for m in ("exchangeable", "ppi", "hybrid") if m in METHODS]
    units = arena_units()
    frames = []
    for seed in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = backtest(
                units,
                method=methods,
                alpha=alphas,
                bounds=(0.0, 1.0),
                target_labels=labels,
                seed=seed,
                ppi_critical=ppi_critical,
            )
        frames.append(result.tasks)
    tasks = pd.concat(frames, ignore_index=True)
    rows = []
    for (m, method, alpha), part in tasks.groupby(["target_labels", "method", "alpha"], sort=False):
        finite = np.isfinite(part["width"]) & part["feasible"]
        covered = part.loc[finite, "covered"].astype(float)
        coverage = float(covered.mean()) if len(covered) else float("nan")
        rows.append(
            {
                "m": int(m),
                "method": method,
                "alpha": alpha,
                "coverage": round(coverage, 3),
                "mcse": round(float(np.sqrt(coverage * (1 - coverage) / max(len(covered), 1))), 3),
                "mean width": round(float(part.loc[finite, "width"].mean()), 4),
                "infinite": int((~finite).sum()),
                "intervals": len(part),
            }
        )
    return pd.DataFrame(rows)


def _text(value: object) -> str:
    if isinstance(value, float):
        return "—" if value != value else f"{value:g}"
    return str(value)


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown (no extra dependency); NaN (no finite interval) as a dash."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_text(value) for value in row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="25,50,100,200")
    parser.add_argument("--alpha", default="0.1,0.2")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--ppi-critical", default="student", choices=("student", "normal"))
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    table = labels_table(
        [int(m) for m in args.labels.split(",")],
        [float(a) for a in args.alpha.split(",")],
        args.seeds,
        args.ppi_critical,
    )
    text = markdown(table)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
