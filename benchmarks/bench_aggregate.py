"""Time and peak memory of out-of-core aggregation, against bare DuckDB.

Files are generated chunk by chunk with a Parquet writer (never held in
memory whole); each measurement is a fresh process whose peak resident memory
is read from ``getrusage``; the median of ``--repeat`` runs is reported.

* ``units``: a paired unit-level table (``--tasks`` tasks, 1% of them targets
  with synthetic rows only), measured three ways: ``synthinfer infer FILE``
  with no engine option (the whole command line), ``unit_statistics(FILE)``,
  and a bare DuckDB process computing the same per-task means, variances and
  paired-difference variances (the fastest hand-written formulation: one
  grouped pass for the sources, one join for the pairs);
* ``battles``: a battle log among 75 models through ``synthinfer.arena.arena``
  (counts, then the Bradley-Terry leave-one-model-out study with 60 bootstrap
  replicates).

DuckDB runs under ``memory_limit = 1GB`` and spills to disk beyond it.

Run: ``python benchmarks/bench_aggregate.py [--rows 40000000] [--tasks 2000] [--what units]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 5_000_000

PEAK = "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024"

WORKERS = {
    "synthinfer-infer": r"""
import resource, sys
from synthinfer.cli import main
sys.argv = ["synthinfer", "infer", sys.argv[1], "--format", "csv", "--out", "-"]
try:
    main()
except SystemExit:
    pass
""",
    "unit_statistics": r"""
import sys
from synthinfer.tables import unit_statistics
unit_statistics(sys.argv[1], memory_limit="1GB")
""",
    "bare-duckdb": r"""
import sys
import duckdb
con = duckdb.connect()
con.execute("SET memory_limit = '1GB'")
con.execute("SET preserve_insertion_order = false")
scan = f"read_parquet('{sys.argv[1]}')"
con.sql(f"SELECT task, source, count(*), avg(value), var_samp(value) FROM {scan} GROUP BY ALL").df()
con.sql(
    f"WITH r AS (SELECT task, unit, value FROM {scan} WHERE source = 'real'), "
    f"s AS (SELECT task, unit, value FROM {scan} WHERE source = 'synthetic') "
    f"SELECT r.task, count(*), avg(r.value - s.value), var_samp(r.value - s.value) "
    f"FROM r JOIN s USING (task, unit) GROUP BY ALL"
).df()
""",
    "arena": r"""
import sys
from synthinfer.arena import arena
arena(sys.argv[1], estimand="bradley-terry", protocol="loo", alpha=0.2,
      method=["exchangeable", "synthetic-only"], n_gap_bootstrap=60, seed=0)
""",
}

WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "code": done.returncode}))
"""


def write_units(path: Path, rows: int, seed: int, n_tasks: int = 2000) -> None:
    """A paired unit-level table: ``n_tasks`` tasks, the last 1% targets (synthetic only)."""
    rng = np.random.default_rng(seed)
    n_targets = max(1, n_tasks // 100)
    per_task = rows // (2 * n_tasks)
    p = rng.beta(2, 2, size=n_tasks)
    bias = rng.normal(0.05, 0.1, size=n_tasks)
    schema = pa.schema(
        [
            ("task", pa.string()),
            ("source", pa.string()),
            ("unit", pa.int64()),
            ("value", pa.float64()),
        ]
    )
    tasks_per_chunk = max(1, CHUNK // (2 * per_task))
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, n_tasks, tasks_per_chunk):
            tasks = np.arange(first, min(n_tasks, first + tasks_per_chunk))
            size = tasks.size * per_task
            task = np.repeat(tasks, per_task)
            unit = np.tile(np.arange(per_task), tasks.size)
            real = (rng.random(size) < p[task]).astype(float)
            synth = (rng.random(size) < np.clip(p[task] + bias[task], 0, 1)).astype(float)
            names = np.array([f"task-{t:04d}" for t in tasks])[task - first]
            keep = task < n_tasks - n_targets
            table = pa.table(
                {
                    "task": np.r_[names[keep], names],
                    "source": np.r_[np.full(keep.sum(), "real"), np.full(size, "synthetic")],
                    "unit": np.r_[unit[keep], unit],
                    "value": np.r_[real[keep], synth],
                },
                schema=schema,
            )
            writer.write_table(table)


def write_battles(path: Path, rows: int, seed: int) -> None:
    from synthinfer.arena import BattleModel

    rng = np.random.default_rng(seed)
    model = BattleModel.draw(75, release_order=True, seed=rng)
    writer = None
    for start in range(0, rows, CHUNK):
        frame = model.battles(min(CHUNK, rows - start), seed=rng)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def measure(worker: str, path: Path) -> dict:
    """One whole process: wall time and the peak resident memory of the process."""
    output = subprocess.run(
        [sys.executable, "-c", WRAPPER, WORKERS[worker], str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def report(worker: str, path: Path, repeat: int) -> dict:
    runs = [measure(worker, path) for _ in range(repeat)]
    result = {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "failed": sum(r["code"] != 0 for r in runs),
    }
    print(
        f"  {worker:18} median {result['seconds']:6.1f} s   peak {result['peak_mb']:6.0f} MB"
        + (f"   ({result['failed']} failed)" if result["failed"] else ""),
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000_000)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--what", default="units")
    parser.add_argument("--dir", default=None, help="Where to write the files (default: temp).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for kind in args.what.split(","):
            path = Path(folder) / f"{kind}.parquet"
            tick = time.perf_counter()
            if kind == "units":
                write_units(path, args.rows, seed=0, n_tasks=args.tasks)
            else:
                write_battles(path, args.rows, seed=0)
            size = path.stat().st_size / 1e6
            print(
                f"{kind}: {args.rows:,} rows, {size:.0f} MB, written in "
                f"{time.perf_counter() - tick:.0f} s",
                flush=True,
            )
            workers = ["bare-duckdb", "unit_statistics", "synthinfer-infer"]
            results = {
                w: report(w, path, args.repeat) for w in (workers if kind == "units" else ["arena"])
            }
            if kind == "units":
                ratio = results["synthinfer-infer"]["seconds"] / results["bare-duckdb"]["seconds"]
                print(f"  synthinfer infer / bare DuckDB: {ratio:.2f}x", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
