"""Speed of covariate-adjusted calibration (``--adjust``, full mode) against the plain band.

Run ``python benchmarks/bench_adjust.py`` (about a minute on two cores). Two
timings, each the median over ``--repeats`` runs through the public API:

``infer``
    ``T`` = 10,000 history tasks and 20 targets in one summary table, three
    methods (``exchangeable``, ``synthetic-only``, ``finite-sample``) at two levels,
    adjusted on a numeric and a categorical task attribute, against the same
    call without ``adjust``.
``loo``
    A leave-one-out backtest over ``T`` = 1,000 history tasks
    (``exchangeable`` at two levels), adjusted against unadjusted.

Each line prints both medians and their ratio; ``--json`` prints one JSON
object instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import synthinfer

METHODS = ("exchangeable", "synthetic-only", "finite-sample")
ALPHAS = (0.1, 0.2)
COVARIATES = "difficulty,domain"
DOMAINS = ("code", "math", "writing", "chat", "safety")


def summary_table(n_history: int, n_targets: int, seed: int = 0) -> pd.DataFrame:
    """A summary table whose gaps depend on a numeric and a categorical attribute.

    Parameters
    ----------
    n_history : int
        History tasks (with real estimates).
    n_targets : int
        Target tasks (synthetic estimates only).
    seed : int
        Seed of the table.

    Returns
    -------
    pandas.DataFrame
        One row per task: ``task``, ``synth_estimate``, ``synth_se``,
        ``real_estimate``, ``gap_estimate``, ``gap_se`` (empty for targets),
        ``difficulty`` and ``domain``.
    """
    rng = np.random.default_rng(seed)
    n_tasks = n_history + n_targets
    difficulty = rng.uniform(0.0, 1.0, n_tasks)
    domain = rng.choice(DOMAINS, n_tasks)
    shift = {name: 0.04 * index for index, name in enumerate(DOMAINS)}
    truth = rng.beta(2.0, 2.0, n_tasks)
    gap = 0.1 * difficulty + np.vectorize(shift.get)(domain) + rng.normal(0.0, 0.02, n_tasks)
    synth = np.clip(truth - gap, 0.0, 1.0)
    synth_se = np.full(n_tasks, 0.01)
    gap_se = np.full(n_tasks, 0.015)
    real = truth + rng.normal(0.0, 0.01, n_tasks)
    is_target = np.arange(n_tasks) >= n_history
    return pd.DataFrame(
        {
            "task": [f"t{index:05d}" for index in range(n_tasks)],
            "synth_estimate": synth,
            "synth_se": synth_se,
            "real_estimate": np.where(is_target, np.nan, real),
            "gap_estimate": np.where(is_target, np.nan, real - synth),
            "gap_se": np.where(is_target, np.nan, gap_se),
            "difficulty": difficulty,
            "domain": domain,
        }
    )


def median_time(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run`` (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, plain: Callable[[], object], adjusted: Callable[[], object], repeats: int):
    """Median times of the plain and the adjusted run, and their ratio."""
    base = median_time(plain, repeats)
    slow = median_time(adjusted, repeats)
    return {"case": name, "plain_s": base, "adjusted_s": slow, "ratio": slow / base}


def main() -> None:
    """Time both cases and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="history tasks for infer")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--loo-tasks", type=int, default=1_000, help="history tasks for loo")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    table = summary_table(args.tasks, args.targets)
    options = {"alpha": list(ALPHAS), "method": list(METHODS)}
    infer_case = compare(
        f"infer T={args.tasks}, {args.targets} targets",
        lambda: synthinfer.infer(table, **options),
        lambda: synthinfer.infer(table, adjust=COVARIATES, **options),
        args.repeats,
    )
    history = summary_table(args.loo_tasks, 0, seed=1)
    loo = {"alpha": list(ALPHAS), "method": ["exchangeable"], "protocol": "loo"}
    loo_case = compare(
        f"loo T={args.loo_tasks}",
        lambda: synthinfer.backtest(history, **loo),
        lambda: synthinfer.backtest(history, adjust=COVARIATES, **loo),
        args.repeats,
    )
    cases = [infer_case, loo_case]
    if args.json:
        print(json.dumps(cases))
        return
    for case in cases:
        print(
            f"{case['case']}: plain {case['plain_s']:.3f} s, adjusted "
            f"{case['adjusted_s']:.3f} s, ratio {case['ratio']:.1f}x"
        )


if __name__ == "__main__":
    main()
