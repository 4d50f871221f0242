"""Speed of the Bradley-Terry arena study at the paper's shape.

75 models released one by one, 280,000 battles with human and autorater
verdicts, anchors 24, 34 and 44 (the earliest models never serve as tasks),
60 paired bootstrap replicates per history gap, leave-one-model-out backtest.
The log is written to Parquet and read back by DuckDB, so the timing covers
the whole pipeline: aggregation, 75 held-out field fits, placements,
bootstrap and calibration.

Run: ``python benchmarks/bench_arena.py [--models 75 --battles 280000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from synthinfer.arena import arena, read_battles, simulate_battles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=75)
    parser.add_argument("--battles", type=int, default=280_000)
    parser.add_argument("--anchors", default="24,34,44")
    parser.add_argument("--n-gap-bootstrap", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    anchors = [int(a) for a in args.anchors.split(",")]

    sim = simulate_battles(args.models, args.battles, release_order=True, seed=args.seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "battles.parquet"
        sim.battles.to_parquet(path)
        start = time.perf_counter()
        counts = read_battles(path)
        read_seconds = time.perf_counter() - start
        timings = {}
        for anchor in anchors:
            tick = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = arena(
                    counts,
                    estimand="bradley-terry",
                    protocol="loo",
                    anchor=anchor,
                    alpha=[0.1, 0.2],
                    method=["exchangeable", "finite-sample", "synthetic-only"],
                    n_gap_bootstrap=args.n_gap_bootstrap,
                    seed=args.seed,
                )
            timings[anchor] = time.perf_counter() - tick
            coverage = result.coverage.set_index(["method", "alpha"])
            print(
                f"anchor {anchor}: {result.tasks['task'].nunique()} tasks, "
                f"{timings[anchor]:.2f} s; coverage at alpha 0.2: "
                + ", ".join(
                    f"{m} {coverage.loc[(m, 0.2), 'coverage']:.2f}"
                    for m in ("exchangeable", "finite-sample", "synthetic-only")
                )
            )
        total = read_seconds + sum(timings.values())
    print(
        f"{args.models} models, {args.battles} battles: read {read_seconds:.2f} s, "
        f"three anchors {sum(timings.values()):.2f} s, total {total:.2f} s"
    )


if __name__ == "__main__":
    main()
