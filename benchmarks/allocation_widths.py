"""Mean widths of the default allocation ``auto`` against the paper's fixed splits.

The table "How the default allocation is chosen" in docs/beyond.md.

Usage::

    python benchmarks/allocation_widths.py [--reps 2000] [--markdown FILE]

Pew (GPT-4o, 48 tasks, two coordinates at α/2 each, bounds [0, 1] as in the
paper): leave-one-out and temporal (history before wave 149) backtests of
``exchangeable``, pooled over coordinates. Simulated Bernoulli tasks
(:func:`synthinfer.studies.coverage_study`, the paper's experiment 1) at
T = 40 and T = 100. Coverage and mean width are over finite intervals; the
``infinite`` column counts the others.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from synthinfer import pew_tasks
from synthinfer.evaluate import backtest
from synthinfer.studies import coverage_study

ALPHAS = (0.1, 0.15, 0.2)
PEW_ALLOCATIONS = ("auto", "prop:0.05,0.10,0.85", "prop:0.1,0.2,0.7")
SIMULATED = (
    (40, ("auto", "abs:0.005,0.005", "prop:0.1,0.2,0.7")),
    (100, ("auto", "prop:0.1,0.2,0.7")),
)


def _cell(coverage: float, width: float, infinite: int, total: int) -> dict[str, object]:
    return {
        "coverage": round(coverage, 3) if coverage == coverage else None,
        "mean width": round(width, 4) if width == width else None,
        "infinite": f"{infinite}/{total}",
    }


def pew_rows() -> list[dict[str, object]]:
    """Pooled exchangeable coverage and width per protocol, allocation and α."""
    data = pew_tasks()
    rows = []
    protocols = {"loo": {}, "temporal": {"split_time": 149, "time_col": "time"}}
    for protocol, options in protocols.items():
        for allocation in PEW_ALLOCATIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = backtest(
                    data,
                    protocol=protocol,
                    alpha=list(ALPHAS),
                    allocation=allocation,
                    bounds=(0, 1),
                    **options,
                )
            summary = result.summary_frame.set_index(["alpha", "coord"])
            for alpha in ALPHAS:
                row = summary.loc[(alpha, "all")]
                total = int(row["finite"] + row["infinite"])
                rows.append(
                    {
                        "data": f"Pew {protocol}",
                        "allocation": allocation,
                        "α": alpha,
                        **_cell(row["coverage"], row["mean_width"], int(row["infinite"]), total),
                    }
                )
    return rows


def simulated_rows(reps: int, seed: int = 2026) -> list[dict[str, object]]:
    """Exchangeable coverage and width on the paper's Bernoulli tasks."""
    rows = []
    for tasks, allocations in SIMULATED:
        for allocation in allocations:
            study = coverage_study(
                reps=reps,
                tasks=tasks,
                methods=["exchangeable"],
                alphas=ALPHAS,
                allocation=allocation,
                seed=seed,
            )
            for row in study.summary_frame.itertuples():
                rows.append(
                    {
                        "data": f"simulated T={tasks}",
                        "allocation": allocation,
                        "α": row.alpha,
                        **_cell(row.coverage, row.mean_width, int(row.infinite), reps),
                    }
                )
    return rows


def table(reps: int) -> str:
    """The Markdown table: one row per data × α, one column pair per allocation."""
    frame = pd.DataFrame(pew_rows() + simulated_rows(reps))
    lines = [
        "| data | α | allocation | coverage | mean width | infinite |",
        "|---|---|---|---|---|---|",
    ]
    for record in frame.sort_values(["data", "α"], kind="stable").to_dict("records"):
        finite = not pd.isna(record["coverage"])
        coverage = f"{record['coverage']:.3f}" if finite else "–"
        width = f"{record['mean width']:.4f}" if finite else "– (all infinite)"
        lines.append(
            f"| {record['data']} | {record['α']:g} | `{record['allocation']}` | {coverage} | "
            f"{width} | {record['infinite']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="replications per simulation")
    parser.add_argument("--markdown", type=Path, help="also write the table to FILE")
    arguments = parser.parse_args()
    text = table(arguments.reps)
    print(text)
    if arguments.markdown is not None:
        arguments.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
