"""Seeded Monte Carlo coverage with nested tasks: questions (groups) × cells.

Model (per replication): ``G`` historical questions and one new question;
question ``g`` has ``n_g`` cells whose gaps are ``Δ_gi = b_g + e_gi`` with a
question effect ``b_g ~ N(0.05, τ_q²)`` shared by its cells and cell noise
``e_gi ~ N(0, τ_c²)``. Sufficient statistics are drawn directly: observed gap
``Δ̂ = Δ + N(0, s_g²)`` with standard error ``s_g``, synthetic estimate
``θ~ + N(0, s_s²)`` with standard error ``s_s``. ``exchangeable`` is scored
against the population value ``θ = θ~ + Δ``, ``finite-sample`` against the
real-sample estimate ``θ̂~ + Δ̂``. ``calibrate`` runs once per configuration
on arrays ``(R, m)`` (the new question's ``m`` cells) and ``(R, 1, T)``
(history cells), vectorized over replications.

``cell`` coverage is the share of the new question's cells covered (a random
cell), ``group`` coverage the share of replications with every cell covered.
Tolerances come from the Monte Carlo standard error ``sqrt(p(1 − p)/R)`` over
``R`` replications (an upper bound for an average of correlated cells too):
``3·MCSE`` bounds fail by chance with probability about 0.1%.

Exact values (``finite-sample``, continuous scores, derived in docs/nested.md):

* no question effect, ``n`` cells per question: a new cell's observed gap is
  exchangeable with all ``nG`` history cells, and the ``cell`` band is the
  ``k``-th smallest with ``k = ceil(n(G+1)(1 − α/2))``, so each side misses
  with probability ``1 − k/(nG+1)`` exactly;
* cells identical within a question: ``cell`` and ``group`` bands are
  Algorithm 4 over the ``G`` questions, each side missing with probability
  ``1 − k_U/(G+1)``;
* ``group`` coverage in general: the new question's largest (smallest) gap is
  exchangeable with the history questions' largest (smallest), so each side
  misses with probability ``1 − k_U/(G+1)`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthinfer.conformal import conformal_ranks
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate

pytestmark = pytest.mark.slow

R = 2000


def mcse(p: float, reps: int = R) -> float:
    return math.sqrt(p * (1 - p) / reps)


def draw(
    seed: int,
    sizes: np.ndarray,
    m: int,
    *,
    tau_q: float,
    tau_c: float,
    gap_se: float = 0.01,
    synth_se: float = 0.01,
    reps: int = R,
) -> dict[str, np.ndarray]:
    """Sufficient statistics of ``reps`` replications: history cells and a new question."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(sizes.size), sizes)
    n_cells = groups.size
    bias = rng.normal(0.05, tau_q, (reps, 1, sizes.size))
    gap = bias[..., groups] + rng.normal(0.0, tau_c, (reps, 1, n_cells))
    new_gap = rng.normal(0.05, tau_q, (reps, 1)) + rng.normal(0.0, tau_c, (reps, m))
    synth_truth = rng.uniform(0.2, 0.8, (reps, m))
    synth = synth_truth + rng.normal(0.0, synth_se, (reps, m))
    new_observed = new_gap + rng.normal(0.0, gap_se, (reps, m))
    return {
        "groups": groups,
        "observed": gap + rng.normal(0.0, gap_se, (reps, 1, n_cells)),
        "gap_se": np.full((reps, 1, n_cells), gap_se),
        "synth": synth,
        "synth_se": np.full((reps, m), synth_se),
        "population": synth_truth + new_gap,
        "sample": synth + new_observed,
    }


def run(
    sim: dict[str, np.ndarray],
    method: str,
    alpha: float,
    coverage: str | None,
    allocation: str = "prop:0.1,0.2,0.7",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(covered, lower, upper)`` of shape ``(R, m)``; ``coverage=None``: no groups."""
    m = sim["synth"].shape[-1]
    history = History(
        gap=WaldInterval(sim["observed"], sim["gap_se"]),
        observed=sim["observed"],
        groups=None if coverage is None else sim["groups"],
        coverage=coverage or "cell",
        target_cells=m,
    )
    target = WaldInterval(sim["synth"], sim["synth_se"])
    calibration = calibrate(method, target, history, alpha, allocation)
    assert calibration.feasible.all()
    truth = sim["sample"] if method == "finite-sample" else sim["population"]
    covered = (calibration.lower <= truth) & (truth <= calibration.upper)
    return covered, calibration.lower, calibration.upper


def miss_rates(sim, method, alpha, coverage) -> tuple[float, float, float, float]:
    """Cell and group coverage, and the group-level upper and lower miss rates."""
    covered, lower, upper = run(sim, method, alpha, coverage)
    truth = sim["sample"] if method == "finite-sample" else sim["population"]
    upper_miss = (truth > upper).any(axis=1).mean()
    lower_miss = (truth < lower).any(axis=1).mean()
    return covered.mean(), covered.all(axis=1).mean(), upper_miss, lower_miss


# -------------------------------------------------------------- exact finite-sample values


@pytest.mark.parametrize(("n_groups", "n_cells", "alpha"), [(20, 5, 0.2), (50, 10, 0.1)])
def test_cell_coverage_is_exact_without_a_question_effect(n_groups, n_cells, alpha):
    sim = draw(1, np.full(n_groups, n_cells), n_cells, tau_q=0.0, tau_c=0.1)
    covered, _, _ = run(sim, "finite-sample", alpha, "cell")
    k = math.ceil(n_cells * (n_groups + 1) * (1 - alpha / 2) - 1e-9)
    exact = 1 - 2 * (1 - k / (n_cells * n_groups + 1))
    assert exact >= 1 - alpha
    assert abs(covered.mean() - exact) <= 3 * mcse(exact)


@pytest.mark.parametrize(("n_groups", "n_cells", "alpha"), [(10, 5, 0.3), (15, 20, 0.2)])
def test_cell_and_group_coverage_are_algorithm_4_over_questions_when_cells_agree(
    n_groups, n_cells, alpha
):
    # cells identical within a question: the question is the only unit of information
    sim = draw(2, np.full(n_groups, n_cells), n_cells, tau_q=0.1, tau_c=0.0, gap_se=0.0)
    _, k_upper = conformal_ranks(n_groups, alpha)
    exact = 1 - 2 * (1 - k_upper / (n_groups + 1))
    for coverage in ("cell", "group"):
        covered, _, _ = run(sim, "finite-sample", alpha, coverage)
        assert abs(covered.mean() - exact) <= 3 * mcse(exact), coverage
    # weighting each cell 1 instead of 1/n_g (ungrouped pooling) falls short here
    naive, _, _ = run(sim, "finite-sample", alpha, None)
    assert naive.mean() < 1 - alpha - 3 * mcse(1 - alpha)


@pytest.mark.parametrize(
    ("sizes", "m", "alpha"),
    [(np.full(10, 50), 50, 0.3), (np.full(40, 12), 12, 0.2), (np.full(200, 5), 5, 0.1)],
    ids=["G10xn50", "G40xn12", "G200xn5"],
)
def test_group_coverage_misses_each_side_at_the_exact_rate(sizes, m, alpha):
    # exact when the new question is exchangeable with the history ones, its size included
    # (a question's largest gap grows with its number of cells)
    sim = draw(3, sizes, m, tau_q=0.1, tau_c=0.05)
    _, group, upper_miss, lower_miss = miss_rates(sim, "finite-sample", alpha, "group")
    _, k_upper = conformal_ranks(sizes.size, alpha)
    side = 1 - k_upper / (sizes.size + 1)
    assert abs(upper_miss - side) <= 3 * mcse(side)
    assert abs(lower_miss - side) <= 3 * mcse(side)
    assert group >= 1 - alpha - 3 * mcse(1 - alpha)


# ---------------------------------------------------------- population target (Algorithm 1)

CONFIGS = [
    # (sizes, m, alpha, allocation): 10 to 200 questions of 5 to 50 cells, every band finite
    (np.full(10, 50), 50, 0.3, "abs:0.005,0.005"),
    (np.arange(40) % 46 + 5, 20, 0.2, "prop:0.1,0.2,0.7"),
    (np.full(200, 5), 5, 0.1, "prop:0.1,0.2,0.7"),
]


@pytest.mark.parametrize(("sizes", "m", "alpha", "allocation"), CONFIGS, ids=["G10", "G40", "G200"])
@pytest.mark.parametrize("tau_q", [0.1, 0.0], ids=["question-effect", "no-question-effect"])
@pytest.mark.parametrize("method", ["exchangeable", "finite-sample"])
def test_cell_and_group_coverage(method, sizes, m, alpha, allocation, tau_q):
    sim = draw(4, sizes, m, tau_q=tau_q, tau_c=0.05, gap_se=0.02, synth_se=0.02)
    cell, _, _ = run(sim, method, alpha, "cell", allocation)
    group, _, _ = run(sim, method, alpha, "group", allocation)
    assert cell.mean() >= 1 - alpha - 3 * mcse(1 - alpha)
    assert group.all(axis=1).mean() >= 1 - alpha - 3 * mcse(1 - alpha)


def test_group_coverage_needs_the_union_over_the_new_questions_cells():
    # synthetic noise dominates: all 20 synthetic intervals must cover at once
    sim = draw(5, np.full(40, 20), 20, tau_q=0.0, tau_c=0.0, gap_se=0.001, synth_se=0.05)
    covered, _, _ = run(sim, "exchangeable", 0.1, "group")
    assert covered.all(axis=1).mean() >= 0.9 - 3 * mcse(0.9)
    # without the union (one cell's level for every cell) the group is covered far less often
    alone = dict(sim)
    single = History(
        gap=WaldInterval(sim["observed"], sim["gap_se"]),
        observed=sim["observed"],
        groups=sim["groups"],
        coverage="group",
        target_cells=1,
    )
    calibration = calibrate(
        "exchangeable",
        WaldInterval(alone["synth"], alone["synth_se"]),
        single,
        0.1,
        "prop:0.1,0.2,0.7",
    )
    truth = sim["population"]
    hits = (calibration.lower <= truth) & (truth <= calibration.upper)
    assert hits.all(axis=1).mean() < 0.9 - 3 * mcse(0.9)


# ------------------------------------------------------------- without groups: the loss


@pytest.mark.parametrize(
    ("method", "alpha", "allocation"),
    [("finite-sample", 0.3, "prop:0.1,0.2,0.7"), ("exchangeable", 0.3, "abs:0.005,0.005")],
)
def test_calibrating_across_cells_undercovers_a_new_question(method, alpha, allocation):
    # cells of a question nearly agree: pooling 200 cells ranks as if 200 units, but 10 exist
    # expected: pooled 7/11 = 0.636 (ranks fall one question short on each side), grouped 9/11
    reps = 2 * R
    sim = draw(
        1, np.full(10, 20), 20, tau_q=0.1, tau_c=0.001, gap_se=0.0005, synth_se=0.0005, reps=reps
    )
    naive, _, _ = run(sim, method, alpha, None, allocation)
    assert naive.mean() < 1 - alpha - 3 * mcse(1 - alpha, reps)
    grouped, _, _ = run(sim, method, alpha, "cell", allocation)
    assert grouped.mean() >= 1 - alpha - 3 * mcse(1 - alpha, reps)


def test_cell_width_price_against_pooled_cells_without_a_question_effect():
    # both valid here (cells i.i.d.): the grouped band ranks G+1 units, not nG+1
    sim = draw(7, np.full(40, 10), 10, tau_q=0.0, tau_c=0.1, gap_se=0.02, synth_se=0.02)
    _, lower, upper = run(sim, "exchangeable", 0.2, "cell")
    _, pooled_lower, pooled_upper = run(sim, "exchangeable", 0.2, None)
    _, group_lower, group_upper = run(sim, "exchangeable", 0.2, "group")
    cell_width = float(np.mean(upper - lower))
    pooled_width = float(np.mean(pooled_upper - pooled_lower))
    group_width = float(np.mean(group_upper - group_lower))
    assert pooled_width <= cell_width <= 1.1 * pooled_width
    assert group_width > cell_width
