"""Speed and memory of Monte Carlo coverage studies (run on demand, not in CI).

Usage::

    python benchmarks/bench_simulate.py section   # the paper's simulated section, end to end
    python benchmarks/bench_simulate.py loop      # a per-replication Python loop, for reference
    python benchmarks/bench_simulate.py scaling   # time and peak memory in R and in T
    python benchmarks/bench_simulate.py all --markdown benchmarks/results.md

``section`` runs the whole simulated section of the paper (T = 40 with the
absolute allocation at α ∈ {0.10, 0.15}; T = 100 proportional at α ∈ {0.10,
0.15, 0.20}; four methods; R = 1000) through the command line, five times,
and reports the median wall-clock time of the process: once as
``synthinfer reproduce simulated --no-plots`` (one process, writing every
replication's row and the summary tables) and once as two
``synthinfer simulate`` processes. ``loop`` times the protocol the way a
straightforward implementation does it, looping over replications in Python
and drawing every Bernoulli observation, for one method × α at T = 100,
R = 1000. ``scaling`` runs each study in a fresh process and reads its peak
resident memory from the operating system.

Run on an otherwise idle machine: every number is a wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PAPER_SECONDS_PER_METHOD_ALPHA = 9.0  # the authors' code, T = 100, R = 1000 (issue tracker)
SECTION_METHOD_ALPHAS = {100: 4 * 3, 40: 4 * 2}


def study_command() -> list[str]:
    """How to call the study commands: the installed command line."""
    return [sys.executable, "-m", "synthinfer.cli"]


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """Wall time (s), peak resident memory (MB) and stdout of a child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    # The process has been reaped by communicate(); RUSAGE_CHILDREN keeps the largest child.
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr}")
    return elapsed, _children_peak_mb(), stdout


def _children_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def bench_section(runs: int = 5) -> list[dict[str, object]]:
    """The paper's simulated section through the command line, median of ``runs``."""
    cli = study_command()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reproduce = [*cli, "reproduce", "simulated", "--no-plots", "--out", tmp]
        simulate_40 = [
            *cli, "simulate", "--tasks", "40", "--reps", "1000", "--allocation",
            "abs:0.005,0.005", "--alpha", "0.1,0.15", "--seed", "1", "--format", "csv",
        ]  # fmt: skip
        simulate_100 = [
            *cli, "simulate", "--tasks", "100", "--reps", "1000", "--allocation",
            "prop:0.1,0.2,0.7", "--alpha", "0.1,0.15,0.2", "--seed", "2", "--format", "csv",
        ]  # fmt: skip
        variants = {
            "reproduce simulated --no-plots (1 process)": [reproduce],
            "simulate T=40 + simulate T=100 (2 processes)": [simulate_40, simulate_100],
        }
        for label, commands in variants.items():
            times = []
            for _ in range(runs):
                times.append(sum(run_measured(command)[0] for command in commands))
            rows.append(
                {
                    "benchmark": label,
                    "median_s": statistics.median(times),
                    "min_s": min(times),
                    "max_s": max(times),
                    "runs": runs,
                }
            )
    return rows


def bench_in_process() -> dict[str, float]:
    """Compute time of the section inside one process (no start-up, no files)."""
    from synthinfer.studies import coverage_study

    configs = [(40, "abs:0.005,0.005", (0.1, 0.15)), (100, "prop:0.1,0.2,0.7", (0.1, 0.15, 0.2))]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for tasks, allocation, alphas in configs:
            coverage_study(reps=1000, tasks=tasks, alphas=alphas, allocation=allocation, seed=1)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    coverage_study(reps=1000, tasks=100, methods=["exchangeable"], alphas=[0.1], seed=1)
    one = time.perf_counter() - start
    return {"section_compute_s": statistics.median(times), "one_method_alpha_T100_s": one}


def loop_reference(reps: int = 1000, tasks: int = 100, alpha: float = 0.1, seed: int = 0):
    """Algorithm 1 at one α by a Python loop over replications drawing every observation."""
    from scipy.special import ndtri

    rng = np.random.default_rng(seed)
    a1, a2, a3 = 0.1 * alpha, 0.2 * alpha, 0.7 * alpha
    k_lo = int(np.floor((tasks + 1) * a3 / 2))
    k_hi = int(np.ceil((tasks + 1) * (1 - a3 / 2)))
    covered = 0
    for _ in range(reps):
        p = rng.beta(2, 2, tasks + 1)
        p_synth = np.clip(p + rng.normal(0.05, 0.1, tasks + 1), 0, 1)
        real = (rng.random((tasks + 1, 1000)) < p[:, None]).astype(float)
        synth = (rng.random((tasks + 1, 2000)) < p_synth[:, None]).astype(float)
        gap = real.mean(1) - synth.mean(1)
        gap_se = np.sqrt(real.var(1, ddof=1) / 1000 + synth.var(1, ddof=1) / 2000)
        lower = np.sort(gap[:-1] - ndtri(1 - a2 / 2) * gap_se[:-1])[k_lo - 1]
        upper = np.sort(gap[:-1] + ndtri(1 - a2 / 2) * gap_se[:-1])[k_hi - 1]
        half = ndtri(1 - a1 / 2) * synth[-1].std(ddof=1) / np.sqrt(2000)
        covered += synth[-1].mean() - half + lower <= p[-1] <= synth[-1].mean() + half + upper
    return covered / reps


def bench_loop(reps: int = 1000) -> dict[str, float]:
    """Seconds of the loop reference for one method × α at T = 100."""
    start = time.perf_counter()
    coverage = loop_reference(reps=reps)
    return {"loop_s": time.perf_counter() - start, "loop_coverage": coverage, "loop_reps": reps}


_SCALING_SNIPPET = """
import json, time
from synthinfer.studies import coverage_study
start = time.perf_counter()
result = coverage_study(reps={reps}, tasks={tasks}, alphas=[0.1], seed=1)
print(json.dumps({{"compute_s": time.perf_counter() - start}}))
"""


def bench_scaling(points: list[tuple[int, int]]) -> list[dict[str, object]]:
    """Time and peak memory of one study per (R, T), each in a fresh process."""
    rows = []
    for reps, tasks in points:
        snippet = _SCALING_SNIPPET.format(reps=reps, tasks=tasks)
        command = [sys.executable, "-c", snippet]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        stdout = process.stdout.read() if process.stdout else ""
        if status != 0:
            raise RuntimeError(f"study R={reps}, T={tasks} failed")
        compute = json.loads(stdout.strip().splitlines()[-1])["compute_s"]
        rows.append(
            {
                "R": reps,
                "T": tasks,
                "compute_s": compute,
                "process_s": wall,
                "peak_MB": usage.ru_maxrss / 1024.0,
                "reps_x_tasks_per_s": reps * (tasks + 1) / compute,
            }
        )
        print(f"R={reps:>8} T={tasks:>6}: {compute:8.2f} s, peak {rows[-1]['peak_MB']:.0f} MB")
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    """A Markdown table."""
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.3e}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


SCALING_R = [(10**3, 100), (10**4, 100), (10**5, 100), (10**6, 100)]
SCALING_T = [(1000, 10), (1000, 100), (1000, 1000), (1000, 10**4)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["section", "loop", "scaling", "all"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--loop-reps", type=int, default=1000)
    parser.add_argument("--markdown", type=Path, default=None, help="Also write tables here.")
    args = parser.parse_args(argv)
    parts = []
    if args.what in ("section", "all"):
        rows = bench_section(args.runs)
        compute = bench_in_process()
        paper_section = PAPER_SECONDS_PER_METHOD_ALPHA * sum(SECTION_METHOD_ALPHAS.values())
        for row in rows:
            row["x_faster_than_paper_section"] = paper_section / float(row["median_s"])
        parts.append("## Simulated section, end to end\n\n" + markdown(rows))
        parts.append(
            f"In-process compute of the whole section: {compute['section_compute_s']:.3f} s; "
            f"one method × α at T = 100, R = 1000: {compute['one_method_alpha_T100_s']:.4f} s "
            f"({PAPER_SECONDS_PER_METHOD_ALPHA / compute['one_method_alpha_T100_s']:.0f}× the "
            f"paper's ~{PAPER_SECONDS_PER_METHOD_ALPHA:g} s). The paper's section at "
            f"~{PAPER_SECONDS_PER_METHOD_ALPHA:g} s per method × α: ~{paper_section:.0f} s."
        )
    if args.what in ("loop", "all"):
        loop = bench_loop(args.loop_reps)
        parts.append(
            f"## Python loop reference\n\nAlgorithm 1 at α = 0.1, T = 100, R = {loop['loop_reps']}"
            f" drawing every observation: {loop['loop_s']:.2f} s "
            f"(coverage {loop['loop_coverage']:.3f})."
        )
    if args.what in ("scaling", "all"):
        parts.append("## Scaling in R (T = 100)\n\n" + markdown(bench_scaling(SCALING_R)))
        parts.append("## Scaling in T (R = 1000)\n\n" + markdown(bench_scaling(SCALING_T)))
    text = "\n\n".join(parts) + "\n"
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
