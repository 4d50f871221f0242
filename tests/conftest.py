"""Shared fixtures: bundled task tables exported to files, small synthetic long tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthinfer.datasets import arena_tasks, pew_tasks


@pytest.fixture
def pew_table(tmp_path: Path) -> Path:
    """The Pew two-coordinate summary table written to a CSV file."""
    path = tmp_path / "pew.csv"
    pew_tasks().to_csv(path, index=False)
    return path


@pytest.fixture
def arena_table(tmp_path: Path) -> Path:
    """The Arena win-rate summary table (no gap_se) written to a CSV file."""
    path = tmp_path / "arena.csv"
    arena_tasks().to_csv(path, index=False)
    return path


def make_long_table(
    *,
    n_history: int = 4,
    n_real: int = 8,
    n_synth: int = 10,
    paired: bool = False,
    weighted: bool = False,
    binary: bool = False,
    seed: int = 0,
    with_target: bool = True,
) -> pd.DataFrame:
    """A small unit-level table: ``n_history`` history tasks ``h0..`` and one target ``target``.

    Paired tables have ``n_real`` units per history task, each with one real
    and one synthetic row (and the target has ``n_synth`` synthetic rows).
    Weighted tables carry a positive ``weight`` shared by the two rows of a unit.
    """
    rng = np.random.default_rng(seed)
    rows = []
    tasks = [f"h{j}" for j in range(n_history)] + (["target"] if with_target else [])
    for j, task in enumerate(tasks):
        is_target = task == "target"
        shift = 0.1 * j
        if paired and not is_target:
            for unit in range(n_real):
                real = rng.normal(shift, 1.0)
                synth = real - 0.2 + rng.normal(0, 0.5)
                if binary:
                    real, synth = float(real > 0), float(synth > 0)
                weight = float(rng.uniform(0.5, 2.0))
                for source, value in (("real", real), ("synthetic", synth)):
                    rows.append(
                        {
                            "task": task,
                            "source": source,
                            "value": value,
                            "unit": f"u{unit}",
                            "weight": weight,
                        }
                    )
            continue
        sizes = (
            (("synthetic", n_synth),) if is_target else (("real", n_real), ("synthetic", n_synth))
        )
        for source, size in sizes:
            center = shift if source == "real" else shift - 0.2
            values = rng.normal(center, 1.0, size=size)
            if binary:
                values = (values > 0).astype(float)
            for i, value in enumerate(values):
                rows.append(
                    {
                        "task": task,
                        "source": source,
                        "value": float(value),
                        "unit": f"{source}{i}",
                        "weight": float(rng.uniform(0.5, 2.0)),
                    }
                )
    frame = pd.DataFrame(rows)
    columns = ["task", "source", "value"]
    if paired:
        columns.append("unit")
    if weighted:
        columns.append("weight")
    return frame[columns]


@pytest.fixture
def long_table() -> pd.DataFrame:
    """Unpaired, unweighted unit-level table: 4 history tasks and one target."""
    return make_long_table()


@pytest.fixture
def long_table_path(tmp_path: Path, long_table: pd.DataFrame) -> Path:
    """The unpaired unit-level table as a CSV file."""
    path = tmp_path / "long.csv"
    long_table.to_csv(path, index=False)
    return path


def make_summary_table(
    n_history: int = 25, *, n_targets: int = 1, seed: int = 1, times: bool = True
) -> pd.DataFrame:
    """A summary table of ``n_history`` history tasks and ``n_targets`` targets."""
    rng = np.random.default_rng(seed)
    n = n_history + n_targets
    synth = rng.uniform(0.2, 0.8, size=n)
    gap = rng.normal(0.05, 0.05, size=n)
    frame = pd.DataFrame(
        {
            "task": [f"t{j:02d}" for j in range(n)],
            "synth_estimate": synth,
            "synth_se": rng.uniform(0.005, 0.02, size=n),
            "real_estimate": synth + gap,
            "gap_se": rng.uniform(0.005, 0.02, size=n),
            "group": np.where(np.arange(n) % 2 == 0, "even", "odd"),
        }
    )
    if times:
        frame["time"] = np.arange(n, dtype=float)
    frame.loc[n_history:, ["real_estimate", "gap_se"]] = np.nan
    return frame


@pytest.fixture
def summary_table() -> pd.DataFrame:
    """A summary table with 25 history tasks and one target ``t25``."""
    return make_summary_table()


@pytest.fixture
def summary_path(tmp_path: Path, summary_table: pd.DataFrame) -> Path:
    """The summary table as a CSV file."""
    path = tmp_path / "summary.csv"
    summary_table.to_csv(path, index=False)
    return path


@pytest.fixture
def make_long():
    """Factory for small unit-level tables (see :func:`make_long_table`)."""
    return make_long_table


@pytest.fixture
def make_summary():
    """Factory for small summary tables (see :func:`make_summary_table`)."""
    return make_summary_table
