"""Time and peak memory of out-of-core aggregation of 100-million-row files.

Two files are generated chunk by chunk with a Parquet writer (never held in
memory whole) and then reduced in a fresh process, whose peak resident memory
is read from ``getrusage``:

* a **battle log** of 100 million battles among 75 models, reduced by
  ``synthinfer.arena._summary.arena`` (DuckDB aggregation, then the Bradley-Terry
  leave-one-model-out study with 60 bootstrap replicates);
* a **paired unit-level table** of 100 million rows (200 tasks × 250,000 units ×
  real/synthetic), reduced by ``synthinfer.tables._units.unit_statistics``.

DuckDB runs under ``memory_limit = 1GB`` and spills to disk beyond it.

Run: ``python benchmarks/bench_aggregate.py [--rows 100000000] [--what battles,units]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthinfer.arena._simulate import BattleModel

CHUNK = 5_000_000

WORKER = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
kind, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if kind == "battles":
    from synthinfer.arena._summary import arena
    result = arena(path, estimand="bradley-terry", protocol="loo", alpha=0.2,
                   method=["exchangeable", "synthetic-only"], n_bootstrap=60, seed=0,
                   memory_limit="1GB")
    rows = len(result.tasks)
else:
    from synthinfer.tables._units import unit_statistics
    rows = len(unit_statistics(path, memory_limit="1GB"))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"seconds": seconds, "peak_mb": peak, "rows": rows}))
"""


def write_battles(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = BattleModel.draw(75, release_order=True, rng=rng)
    writer = None
    for start in range(0, rows, CHUNK):
        frame = model.battles(min(CHUNK, rows - start), rng=rng)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def write_units(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_tasks = 200
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
            names = np.array([f"task-{t:03d}" for t in tasks])[task - first]
            table = pa.table(
                {
                    "task": np.r_[names, names],
                    "source": np.r_[np.full(size, "real"), np.full(size, "synthetic")],
                    "unit": np.r_[unit, unit],
                    "value": np.r_[real, synth],
                },
                schema=schema,
            )
            writer.write_table(table)


def measure(kind: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", WORKER, kind, str(path)], check=True, capture_output=True, text=True
    )
    line = next(x for x in output.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--what", default="battles,units")
    parser.add_argument(
        "--dir", default=None, help="Where to write the files (default: a temp dir)."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for kind in args.what.split(","):
            path = Path(folder) / f"{kind}.parquet"
            tick = time.perf_counter()
            (write_battles if kind == "battles" else write_units)(path, args.rows, seed=0)
            size = path.stat().st_size / 1e9
            seconds = time.perf_counter() - tick
            print(f"{kind}: wrote {args.rows:,} rows ({size:.2f} GB) in {seconds:.0f} s")
            stats = measure(kind, path)
            print(
                f"{kind}: reduced in {stats['seconds']:.1f} s, peak memory "
                f"{stats['peak_mb']:.0f} MB ({stats['rows']} output rows)"
            )
            path.unlink()


if __name__ == "__main__":
    main()
