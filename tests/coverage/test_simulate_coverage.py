"""Seeded Monte Carlo coverage studies (slow).

* The sufficient-statistic simulator against a brute-force reference that draws
  every Bernoulli observation: same coverage and mean width within Monte Carlo
  error, for every row of the paper's simulated table.
* The paper's stated row (T = 100, alpha = 0.10): coverage within four standard
  errors, mean width within 2.5%.
* The guarantees on every generative model: ``1 − α`` for the population
  methods, ``[1 − α, 1 − α + 2/(T+1))`` for ``finite-sample`` where the data are
  exchangeable; the drift and attribute models show where weights are needed.

Tolerances come from the Monte Carlo standard error (``k`` standard errors,
one-sided where the guarantee is one-sided).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.studies import DEFAULT_METHODS, SimulationModel, coverage_study

pytestmark = pytest.mark.slow

PAPER_CONFIGS = [
    (40, "abs:0.005,0.005", (0.10, 0.15)),
    (100, "prop:0.1,0.2,0.7", (0.10, 0.15, 0.20)),
]


def _wald_from_observations(observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SE (ddof 1) computed from the raw 0/1 observations (last axis)."""
    n = observations.shape[-1]
    mean = observations.mean(axis=-1)
    return mean, observations.std(axis=-1, ddof=1) / math.sqrt(n)


def brute_force_study(
    reps: int, tasks: int, alphas, allocation: str, *, seed: int, n: int = 1000, m: int = 2000
) -> dict[tuple[str, float], tuple[np.ndarray, np.ndarray]]:
    """The paper's experiment 1 drawn observation by observation (the authors' protocol).

    Returns ``{(method, alpha): (covered, width)}`` over replications.
    """
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 2.0, (reps, tasks + 1))
    p_synth = np.clip(p + rng.normal(0.05, 0.10, (reps, tasks + 1)), 0.0, 1.0)
    stats = {key: np.empty((reps, tasks + 1)) for key in ("rm", "rs", "sm", "ss")}
    chunk = 20
    for start in range(0, reps, chunk):  # chunks of replications, to bound memory
        rows = slice(start, start + chunk)
        real = rng.random((p[rows].shape[0], tasks + 1, n)) < p[rows, :, None]
        synth = rng.random((p[rows].shape[0], tasks + 1, m)) < p_synth[rows, :, None]
        stats["rm"][rows], stats["rs"][rows] = _wald_from_observations(real)
        stats["sm"][rows], stats["ss"][rows] = _wald_from_observations(synth)
    gap = WaldInterval(
        stats["rm"][:, :-1] - stats["sm"][:, :-1],
        np.sqrt(stats["rs"][:, :-1] ** 2 + stats["ss"][:, :-1] ** 2),
    )
    target = WaldInterval(stats["sm"][:, -1], stats["ss"][:, -1])
    history = History(gap=gap, observed=gap.estimate)
    out = {}
    for method in DEFAULT_METHODS:
        truth = stats["rm"][:, -1] if method == "finite-sample" else p[:, -1]
        for alpha in alphas:
            cal = calibrate(method, target, history, alpha, allocation)
            covered = (cal.lower <= truth) & (truth <= cal.upper)
            out[method, alpha] = (covered, cal.upper - cal.lower)
    return out


@pytest.mark.parametrize(("tasks", "allocation", "alphas"), PAPER_CONFIGS)
def test_sufficient_statistics_match_brute_force_observations(tasks, allocation, alphas):
    reps_brute, reps_fast = (1000 if tasks <= 40 else 600), 20000
    brute = brute_force_study(reps_brute, tasks, alphas, allocation, seed=20260613 + tasks)
    study = coverage_study(
        reps=reps_fast, tasks=tasks, alphas=alphas, allocation=allocation, seed=tasks, per_rep=True
    )
    fast = study.summary_frame.set_index(["method", "alpha"])
    for (method, alpha), (covered, width) in brute.items():
        rows = study.per_rep[
            (study.per_rep["method"] == method) & (study.per_rep["alpha"] == alpha)
        ]
        # The whole width distribution agrees, not only its mean (seeded, so deterministic).
        assert stats.ks_2samp(width, rows["width"]).pvalue > 1e-3, (method, alpha)
        row = fast.loc[(method, alpha)]
        p_brute, p_fast = covered.mean(), row["coverage"]
        pooled = (covered.sum() + p_fast * reps_fast) / (reps_brute + reps_fast)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-4) * (1 / reps_brute + 1 / reps_fast))
        assert abs(p_brute - p_fast) <= 4 * se, (method, alpha, p_brute, p_fast)
        width_se = width.std(ddof=1) / math.sqrt(reps_brute)
        assert abs(width.mean() - row["mean_width"]) <= 4 * width_se, (method, alpha)


# Source: PAPER.md, experiment 1, T = 100, proportional allocation, alpha = 0.10 (R = 1000).
PAPER_ROW = {
    "exchangeable": (0.99, 0.515),
    "task-only": (0.99, 0.564),
    "finite-sample": (0.91, 0.335),
    "synthetic-only": (0.13, 0.031),
}


def test_reproduces_the_papers_stated_row():
    reps = 4000
    summary = coverage_study(reps=reps, tasks=100, alphas=[0.10], seed=2026).summary_frame
    for row in summary.itertuples(index=False):
        paper_coverage, paper_width = PAPER_ROW[row.method]
        se = math.sqrt(
            paper_coverage * (1 - paper_coverage) / 1000 + row.coverage * (1 - row.coverage) / reps
        )
        assert abs(row.coverage - paper_coverage) <= 4 * se, row
        assert abs(row.mean_width - paper_width) <= 0.025 * paper_width, row


def _lower_tolerance(alpha: float, reps: int, k: float = 3.0) -> float:
    return 1 - alpha - k * math.sqrt(alpha * (1 - alpha) / reps)


EXCHANGEABLE_MODELS = ["bernoulli", "gaussian", "heavy-tail"]


@pytest.mark.parametrize("model", EXCHANGEABLE_MODELS)
@pytest.mark.parametrize("tasks", [39, 100])
def test_guarantees_on_exchangeable_models(model, tasks):
    reps = 4000
    alphas = [0.1, 0.2]
    summary = coverage_study(
        model,
        reps=reps,
        tasks=tasks,
        alphas=alphas,
        seed=EXCHANGEABLE_MODELS.index(model) * 1000 + tasks,
    ).summary_frame.set_index(["method", "alpha"])
    for alpha in alphas:
        for method in ("exchangeable", "task-only"):
            assert summary.loc[(method, alpha), "coverage"] >= _lower_tolerance(alpha, reps)
        finite = summary.loc[("finite-sample", alpha), "coverage"]
        se = math.sqrt(alpha * (1 - alpha) / reps)
        assert 1 - alpha - 3 * se <= finite <= 1 - alpha + 2 / (tasks + 1) + 3 * se
        assert summary.loc[("synthetic-only", alpha), "coverage"] < 0.5


def test_unequal_sample_sizes_task_only_covers_and_costs_width():
    reps = 4000
    summary = coverage_study(
        "unequal-n", reps=reps, tasks=100, alphas=[0.1, 0.2], seed=17
    ).summary_frame.set_index(["method", "alpha"])
    for alpha in (0.1, 0.2):
        task_only = summary.loc[("task-only", alpha)]
        exchangeable = summary.loc[("exchangeable", alpha)]
        assert task_only["coverage"] >= _lower_tolerance(alpha, reps)
        assert task_only["w2"] > exchangeable["w2"]
        assert task_only["w3"] == exchangeable["w3"]


def test_drift_breaks_exchangeability_and_recency_weights_restore_coverage():
    reps = 4000
    summary = coverage_study(
        "drift",
        reps=reps,
        tasks=100,
        methods=["exchangeable", "finite-sample", "weighted"],
        alphas=[0.1, 0.2],
        decay=0.97,
        seed=18,
    ).summary_frame.set_index(["method", "alpha"])
    for alpha in (0.1, 0.2):
        se = math.sqrt(alpha * (1 - alpha) / reps)
        # finite-sample is tight under exchangeability; a drift of 0.4 breaks it clearly.
        assert summary.loc[("finite-sample", alpha), "coverage"] < 1 - alpha - 5 * se
        weighted = summary.loc[("weighted", alpha), "coverage"]
        assert weighted >= _lower_tolerance(alpha, reps)
        assert weighted > summary.loc[("exchangeable", alpha), "coverage"] + 3 * se


def test_attribute_weights_keep_coverage_with_narrower_intervals():
    reps = 4000
    summary = coverage_study(
        "attribute",
        reps=reps,
        tasks=100,
        methods=["exchangeable", "weighted"],
        alphas=[0.1, 0.2],
        attribute_weight=0.0,
        seed=19,
    ).summary_frame.set_index(["method", "alpha"])
    for alpha in (0.1, 0.2):
        weighted = summary.loc[("weighted", alpha)]
        # Weight 0 on other-attribute tasks: exchangeable within the attribute, so valid.
        assert weighted["coverage"] >= _lower_tolerance(alpha, reps)
        assert weighted["mean_width"] < 0.9 * summary.loc[("exchangeable", alpha), "mean_width"]


def test_attribute_with_few_matching_tasks_breaks_finite_sample():
    reps = 4000
    model = SimulationModel("attribute", shift=0.3, share=0.2)
    summary = coverage_study(
        model, reps=reps, tasks=100, methods=["finite-sample"], alphas=[0.1], seed=20
    ).summary_frame
    se = math.sqrt(0.1 * 0.9 / reps)
    assert summary.loc[0, "coverage"] < 0.9 - 5 * se
