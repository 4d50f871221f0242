"""Seeded Monte Carlo coverage of the battle-log pipeline on simulated arenas.

Each replication simulates a fresh arena (30 models with N(0, 1) strengths, an
autorater with a per-model bias ``0.2·β + N(0, 0.3²)``, ties, 30,000 battles),
runs the leave-one-model-out backtest and records, per method, the share of
held-out models whose interval covers the target. Replications are
independent, and the share is a mean of Bernoulli variables with variance at
most ``α(1 − α)``, so ``sqrt(α(1 − α)/R)`` bounds its Monte Carlo standard
error.

* ``exchangeable`` (Algorithm 1) targets the population estimand: the true
  win rate against the model's opponent mix, or the true strength relative to
  the reference. It must cover at ``≥ 1 − α``.
* ``finite-sample`` (Algorithm 4) targets the real (human) estimate; its
  leave-one-out coverage lies in ``[1 − α, 1 − α + 2/(T+1))``.
* ``synthetic-only`` (the autorater alone) must miss.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from synthinfer.arena import arena, read_battles, simulate_battles

pytestmark = pytest.mark.slow

ALPHA = 0.2
REPS = 100
MODELS = 30
METHODS = ["exchangeable", "finite-sample", "synthetic-only"]


def _replication(rep: int) -> pd.DataFrame:
    sim = simulate_battles(
        MODELS, 30_000, judge_bias_sd=0.3, judge_scale=0.2, seed=np.random.default_rng([7, rep])
    )
    counts = read_battles(sim.battles)
    frames = []
    for estimand in ("win-rate", "bradley-terry"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = arena(
                counts,
                estimand=estimand,
                protocol="loo",
                alpha=ALPHA,
                method=METHODS,
                n_gap_bootstrap=100,
                seed=rep,
            )
        tasks = result.tasks
        if estimand == "win-rate":
            truth = sim.model.true_win_rate()
        else:
            truth = sim.model.true_strength(result.arena_summary.reference)
        theta = tasks["task"].map(truth)
        frames.append(
            pd.DataFrame(
                {
                    "rep": rep,
                    "estimand": estimand,
                    "method": tasks["method"],
                    "covers_truth": (tasks["lower"] <= theta) & (theta <= tasks["upper"]),
                    "covers_real": tasks["covered"],
                    "n_history": tasks["n_history"],
                }
            )
        )
    return pd.concat(frames)


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    rows = pd.concat([_replication(rep) for rep in range(REPS)], ignore_index=True)
    per_rep = rows.groupby(["estimand", "method", "rep"]).agg(
        covers_truth=("covers_truth", "mean"),
        covers_real=("covers_real", "mean"),
        n_history=("n_history", "first"),
    )
    return per_rep.groupby(["estimand", "method"]).mean()


TOLERANCE = 3 * np.sqrt(ALPHA * (1 - ALPHA) / REPS)


@pytest.mark.parametrize("estimand", ["win-rate", "bradley-terry"])
def test_exchangeable_covers_the_truth(study: pd.DataFrame, estimand: str) -> None:
    coverage = study.loc[(estimand, "exchangeable"), "covers_truth"]
    assert coverage >= 1 - ALPHA - TOLERANCE


@pytest.mark.parametrize("estimand", ["win-rate", "bradley-terry"])
def test_finite_sample_within_its_band(study: pd.DataFrame, estimand: str) -> None:
    row = study.loc[(estimand, "finite-sample")]
    n_history = row["n_history"]
    assert row["covers_real"] >= 1 - ALPHA - TOLERANCE
    assert row["covers_real"] <= 1 - ALPHA + 2 / (n_history + 1) + TOLERANCE


@pytest.mark.parametrize("estimand", ["win-rate", "bradley-terry"])
def test_autorater_alone_misses(study: pd.DataFrame, estimand: str) -> None:
    assert study.loc[(estimand, "synthetic-only"), "covers_truth"] < 0.5
    assert study.loc[(estimand, "synthetic-only"), "covers_real"] < 0.5
