"""Seeded Monte Carlo coverage of method ``hybrid`` and of the target's own PPI interval.

Tasks are drawn by exact sufficient statistics of Gaussian unit-level data
(``docs/hybrid.md``, "Simulation"): per task ``θ_j ~ N(0.5, 0.05)`` (mean and
variance of Beta(2, 2)), gap ``Δ_j ~ N(0.05, τ²)`` with ``τ = 0.1`` (the
paper's model, ``studies/_models.py``) or ``τ = 0.3`` (bias varying widely),
``θ~_j = θ_j − Δ_j``; ``N = 2000`` synthetic units (SD 0.5); labelled pairs
with real = synthetic + noise of SD ``σ = 0.4``, ``n = 2000`` pairs per task,
a random ``m`` of which give the label gap. The ``m``-subsample and the rest
are drawn independently (normal means, chi-square sums of squares) and pooled,
which is exact for Gaussian data. The target's ``n`` pairs are hypothetical:
they give the target's gap interval end ``Δ^U_{T+1}`` the proof is about.

Two kinds of checks:

* the band step alone is exact: with continuous i.i.d. scores the target's
  residual lies below the ``k_U``-th smallest of ``T`` history residuals with
  probability exactly ``k_U/(T+1)``, so ``P(Δ^U_{T+1} ≤ gap_upper)`` is tested
  on both sides (the same for the lower end); a doubled conformal level or a
  target covariate computed unlike the history's fails these;
* the final intervals (``hybrid`` with its design PPI share
  ``min(m/(m + 75), ρ_T)``, and the PPI interval by formula with the Student
  quantile) cover ``θ_{T+1}`` with probability at least ``1 − α − 3·MCSE``;
  ``hybrid`` gets the Wald PPI family, as from the data layer, with the number
  of labels, and also covers at ``m = 2, 3``; at ``m = 1000`` its mean width is
  within 15% of the PPI interval's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from synthinfer.conformal import conformal_ranks
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate, hybrid_calibration, hybrid_ppi_share

pytestmark = pytest.mark.slow

R, T, ALPHA = 4000, 100, 0.1
N_PAIRS, N_SYNTH, SIGMA, SYNTH_SD = 2000, 2000, 0.4, 0.5
M_VALUES = (5, 20, 100, 1000)
TAUS = {"paper": 0.1, "wide": 0.3}


@dataclass(frozen=True)
class StudentInterval:
    """PPI interval ``estimate ± t_{m−1}(1 − a/2)·se`` (Wald's ``z`` undercovers at m = 5)."""

    estimate: np.ndarray
    se: np.ndarray
    df: int

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        from scipy.stats import t

        half = t.ppf(1 - level / 2, self.df) * self.se
        return self.estimate - half, self.estimate + half

    def take(self, index):
        return StudentInterval(self.estimate[..., index], self.se[..., index], self.df)


@dataclass(frozen=True)
class Study:
    truth: np.ndarray
    target_gap_lower: np.ndarray  # the target's hypothetical full-sample gap interval, at α2
    target_gap_upper: np.ndarray
    target: WaldInterval
    history: History
    ppi: StudentInterval  # the PPI interval by formula, Student quantile on m - 1 df


def pairs(rng, shape, delta, m):
    """Mean and SD of the m-subsample and of all N_PAIRS paired differences (exact pooling)."""
    rest = N_PAIRS - m
    mean_m = rng.normal(delta, SIGMA / math.sqrt(m), shape)
    ss_m = SIGMA**2 * rng.chisquare(m - 1, shape)
    mean_rest = rng.normal(delta, SIGMA / math.sqrt(rest), shape)
    ss_rest = SIGMA**2 * rng.chisquare(rest - 1, shape)
    mean_n = (m * mean_m + rest * mean_rest) / N_PAIRS
    ss_n = ss_m + ss_rest + m * rest / N_PAIRS * (mean_m - mean_rest) ** 2
    return mean_m, np.sqrt(ss_m / (m - 1)), mean_n, np.sqrt(ss_n / (N_PAIRS - 1))


def simulate(tau: float, m: int, alpha2: float, seed: int) -> Study:
    rng = np.random.default_rng(seed)
    shape = (R, T + 1)
    theta = rng.normal(0.5, math.sqrt(0.05), shape)
    delta = rng.normal(0.05, tau, shape)
    synth = rng.normal(theta - delta, SYNTH_SD / math.sqrt(N_SYNTH))
    synth_se = SYNTH_SD * np.sqrt(rng.chisquare(N_SYNTH - 1, shape) / (N_SYNTH - 1) / N_SYNTH)
    label_gap, label_sd, gap, gap_sd = pairs(rng, shape, delta, m)
    label_se, gap_se = label_sd / math.sqrt(m), gap_sd / math.sqrt(N_PAIRS)
    ppi_se = np.sqrt(synth_se[:, -1] ** 2 + label_se[:, -1] ** 2)
    ppi_estimate = synth[:, -1] + label_gap[:, -1]
    history = History(
        gap=WaldInterval(gap[:, :-1], gap_se[:, :-1]),
        # a Wald PPI family (lambda = 1); hybrid reads it with the default Student critical
        # value (m - 2 degrees of freedom, for PPI++: conservative for this family)
        labelled=WaldInterval(ppi_estimate, ppi_se),
        label_gap=label_gap[:, :-1],
        label_gap_se=label_se[:, :-1],
        target_label_gap=label_gap[:, -1],
        target_label_gap_se=label_se[:, -1],
        n_labelled=np.full(R, float(m)),
    )
    target_gap = WaldInterval(gap[:, -1], gap_se[:, -1]).interval(alpha2)
    target = WaldInterval(synth[:, -1], synth_se[:, -1])
    ppi = StudentInterval(ppi_estimate, ppi_se, m - 1)
    return Study(theta[:, -1], *target_gap, target, history, ppi)


def mcse(p: float) -> float:
    return math.sqrt(p * (1 - p) / R)


@pytest.fixture(scope="module", params=[(name, m) for name in TAUS for m in M_VALUES])
def study(request) -> tuple[str, int, Study, object]:
    name, m = request.param
    alpha2 = 0.2 * ALPHA  # prop:0.1,0.2,0.7 of the band's level (ppi_share = 0)
    data = simulate(TAUS[name], m, alpha2, seed=1000 * m + round(100 * TAUS[name]))
    result = hybrid_calibration(data.target, data.history, ALPHA, ppi_share=0.0)
    assert result.alpha2 == pytest.approx(alpha2)
    return name, m, data, result


def test_band_upper_end_is_exact(study):
    _, _, data, result = study
    assert np.all(np.isfinite(result.gap_upper))
    _, k_upper = conformal_ranks(T, result.alpha3)
    expected = k_upper / (T + 1)  # 98/101 at α3 = 0.07
    covered = np.mean(data.target_gap_upper <= result.gap_upper)
    assert abs(covered - expected) <= 3 * mcse(expected)


def test_band_lower_end_is_exact(study):
    _, _, data, result = study
    k_lower, _ = conformal_ranks(T, result.alpha3)
    expected = 1 - k_lower / (T + 1)  # 1 − 3/101
    covered = np.mean(data.target_gap_lower >= result.gap_lower)
    assert abs(covered - expected) <= 3 * mcse(expected)


def test_hybrid_and_ppi_cover(study):
    name, m, data, _ = study
    result = calibrate("hybrid", data.target, data.history, ALPHA)
    assert np.all(result.feasible)
    share = hybrid_ppi_share(m, T, ALPHA)  # the design share: m/(m + 75), capped at 0.717
    assert share == pytest.approx(min(m / (m + 75), 1 - 2 / ((T + 1) * 0.7 * ALPHA)), abs=1e-8)
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA * (1 - share))
    covered = np.mean((result.lower <= data.truth) & (data.truth <= result.upper))
    assert covered >= 1 - ALPHA - 3 * mcse(ALPHA), (name, m, covered)
    ppi_lo, ppi_hi = data.ppi.interval(ALPHA)
    ppi_covered = np.mean((ppi_lo <= data.truth) & (data.truth <= ppi_hi))
    assert ppi_covered >= 1 - ALPHA - 3 * mcse(ALPHA), (name, m, ppi_covered)
    if m == 1000:  # with many labels the share is large: close to the PPI interval's width
        ratio = np.mean(result.upper - result.lower) / np.mean(ppi_hi - ppi_lo)
        assert ratio <= 1.15, (name, ratio)


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("name", list(TAUS))
def test_hybrid_covers_with_very_few_labels(name, m):
    # a Wald PPI interval at rho*alpha from 2 or 3 pairs covers far less than it says
    # (P(|t_1| > 2.576) = 0.24); without the Student widening hybrid covered 0.76-0.88 here
    data = simulate(TAUS[name], m, 0.02, seed=77 + m)
    result = calibrate("hybrid", data.target, data.history, ALPHA)
    covered = np.mean((result.lower <= data.truth) & (data.truth <= result.upper))
    assert covered >= 1 - ALPHA - 3 * mcse(ALPHA), (name, m, covered)
