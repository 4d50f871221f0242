"""Coverage and width of every method on every generative model (the table in docs/simulations.md).

Usage::

    python benchmarks/coverage_models.py [--reps 10000] [--markdown FILE]

Every model runs at its default parameters with T = 100 historical tasks and
the default allocation ``prop:0.1,0.2,0.7``, at α = 0.10 and 0.20. ``weighted``
runs where the model says which weights to use: recency ``decay = 0.97`` for
``drift`` and weight 0 on tasks of the other attribute for ``attribute``. A
last run gives ``attribute`` a 20% share of matching tasks (weight 0.3 on the
others, so that enough weighted history remains for a finite band).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthinfer.studies import DEFAULT_METHODS, SimulationModel, coverage_study

RUNS = [
    ("bernoulli", SimulationModel("bernoulli"), {}),
    ("gaussian", SimulationModel("gaussian"), {}),
    ("heavy-tail", SimulationModel("heavy-tail"), {}),
    ("unequal-n", SimulationModel("unequal-n"), {}),
    ("drift", SimulationModel("drift"), {"decay": 0.97}),
    ("attribute", SimulationModel("attribute"), {"attribute_weight": 0.0}),
    ("attribute, share 0.2", SimulationModel("attribute", share=0.2), {"attribute_weight": 0.3}),
]


def table(reps: int, tasks: int = 100, seed: int = 2026) -> str:
    """The Markdown table of every run."""
    lines = [
        "| model | method | α | coverage | MC s.e. | mean width | w1 | w2 | w3 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for index, (label, model, weights) in enumerate(RUNS):
        methods = list(DEFAULT_METHODS) + (["weighted"] if weights else [])
        result = coverage_study(
            model,
            reps=reps,
            tasks=tasks,
            methods=methods,
            alphas=[0.1, 0.2],
            seed=seed + index,
            **weights,
        )
        for row in result.summary_frame.itertuples(index=False):
            lines.append(
                f"| {label} | {row.method} | {row.alpha:g} | {row.coverage:.3f} | "
                f"{row.coverage_mcse:.3f} | {row.mean_width:.3f} | {row.w1:.3f} | "
                f"{row.w2:.3f} | {row.w3:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    text = table(args.reps)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
