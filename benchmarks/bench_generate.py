"""Requests per second of ``generate survey`` against a loopback server, by concurrency.

The loopback OpenAI-compatible server of the tests runs in its own process
on 127.0.0.1, so client and server do not share an interpreter. Each row
runs a fresh survey (new seed, in-memory cache) of ``--requests`` requests
at concurrency 1, 8 and 64, and reports requests per second and the client's
CPU milliseconds per request. With ``--latency 0`` the server answers at
once, which measures the client's own overhead; with a latency (seconds per
answer, like a real model) throughput should grow with concurrency until the
client's CPU cost per request is the limit.

Run: ``python benchmarks/bench_generate.py [--requests 1000 --latency 0,0.05]``
(not in CI).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from synthinfer.generate import survey

TESTS = Path(__file__).resolve().parents[1] / "tests"

SERVER = """
import sys
sys.path.insert(0, {tests!r})
from generate_server import Faults, LoopbackServer
faults = Faults(rate_slow=1.0 if {latency} > 0 else 0.0, slow_seconds={latency})
with LoopbackServer(faults=faults) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


def run(url: str, n_requests: int, concurrency: int, seed: int) -> dict[str, float]:
    """One survey of about ``n_requests`` requests; its rate and client CPU per request."""
    n_personas = 50
    n_questions = max(1, n_requests // n_personas)
    questions = [
        {"task": f"q{i}", "text": f"Do you approve of policy {i}?", "options": "Yes|No"}
        for i in range(n_questions)
    ]
    personas = [{"unit": f"p{i}", "age": 20 + i} for i in range(n_personas)]
    cpu, wall = time.process_time(), time.perf_counter()
    result = survey(
        questions, personas, model="loopback", base_url=url, concurrency=concurrency, seed=seed
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    calls = result.record.counts["calls"]
    return {
        "requests": calls,
        "seconds": round(wall, 2),
        "requests_per_s": round(calls / wall, 1),
        "client_cpu_ms_per_request": round(1000 * cpu / calls, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--latency", default="0,0.05", help="Server seconds per answer.")
    args = parser.parse_args()
    rows = []
    warm = True
    for latency in [float(v) for v in args.latency.split(",")]:
        code = SERVER.format(tests=str(TESTS), latency=latency)
        server = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            url = server.stdout.readline().strip()
            if warm:  # imports and the first connection, outside the timings
                run(url, 50, 1, seed=10_000)
                warm = False
            for seed, concurrency in enumerate(int(c) for c in args.concurrency.split(",")):
                row = run(url, args.requests, concurrency, seed=seed + int(latency * 1000))
                rows.append({"latency_s": latency, "concurrency": concurrency, **row})
                print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1))
        finally:
            server.stdin.close()
            server.wait(timeout=10)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
