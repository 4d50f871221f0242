"""Unit-level (long) tables: ``infer`` against Algorithm 1 computed by hand with numpy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import synthinfer
from synthinfer.allocation import Allocation
from synthinfer.data import TaskData

N_HISTORY = 9
# alpha = 0.5 with prop:0.1,0.2,0.7 -> (0.05, 0.1, 0.35); T = 9:
# k_L = floor(10 * 0.175) = 1 and k_U = ceil(10 * 0.825) = 9
ALPHA = 0.5
K_LOWER, K_UPPER = 1, 9
# the hand computations use the paper's split (the default is "auto")
PAPER = "prop:0.1,0.2,0.7"


def hajek(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Hájek mean Σwx/Σw and its variance Σw²(x − μ)²/(Σw)²."""
    mu = np.sum(w * x) / np.sum(w)
    return mu, np.sum(w**2 * (x - mu) ** 2) / np.sum(w) ** 2


def plain(x: np.ndarray) -> tuple[float, float]:
    """Sample mean and the variance of the mean s²/n (ddof 1)."""
    return x.mean(), x.var(ddof=1) / x.size


def task_moments(frame: pd.DataFrame, task: str, source: str, weighted: bool):
    rows = frame[(frame["task"] == task) & (frame["source"] == source)]
    x = rows["value"].to_numpy(float)
    return hajek(x, rows["weight"].to_numpy(float)) if weighted else plain(x)


def gap_moments(frame: pd.DataFrame, task: str, paired: bool, weighted: bool):
    if paired:
        rows = frame[frame["task"] == task]
        real = rows[rows["source"] == "real"].set_index("unit")
        synth = rows[rows["source"] == "synthetic"].set_index("unit").loc[real.index]
        d = real["value"].to_numpy(float) - synth["value"].to_numpy(float)
        return hajek(d, real["weight"].to_numpy(float)) if weighted else plain(d)
    real_mean, real_var = task_moments(frame, task, "real", weighted)
    synth_mean, synth_var = task_moments(frame, task, "synthetic", weighted)
    return real_mean - synth_mean, real_var + synth_var


def algorithm1(frame: pd.DataFrame, *, paired: bool, weighted: bool, alpha: float = ALPHA):
    """Algorithm 1 with Wald intervals, written out with numpy."""
    alpha1, alpha2, alpha3 = Allocation.parse("prop:0.1,0.2,0.7").split(alpha)
    n_history = N_HISTORY
    assert math.floor((n_history + 1) * alpha3 / 2) == K_LOWER
    assert math.ceil((n_history + 1) * (1 - alpha3 / 2)) == K_UPPER
    synth_mean, synth_var = task_moments(frame, "target", "synthetic", weighted)
    z1 = stats.norm.ppf(1 - alpha1 / 2)
    synth_lower = synth_mean - z1 * math.sqrt(synth_var)
    synth_upper = synth_mean + z1 * math.sqrt(synth_var)
    z2 = stats.norm.ppf(1 - alpha2 / 2)
    gaps = [gap_moments(frame, f"h{j}", paired, weighted) for j in range(n_history)]
    lows = np.sort([m - z2 * math.sqrt(v) for m, v in gaps])
    highs = np.sort([m + z2 * math.sqrt(v) for m, v in gaps])
    mids = np.sort([m for m, _ in gaps])
    gap_lower, gap_upper = lows[K_LOWER - 1], highs[K_UPPER - 1]
    return {
        "synth_estimate": synth_mean,
        # the calibrated point adds the median history gap
        "estimate": synth_mean + float(np.median(mids)),
        "synth_lower": synth_lower,
        "synth_upper": synth_upper,
        "gap_lower": gap_lower,
        "gap_upper": gap_upper,
        "lower": synth_lower + gap_lower,
        "upper": synth_upper + gap_upper,
        "w3": mids[K_UPPER - 1] - mids[K_LOWER - 1],
    }


@pytest.mark.parametrize(
    ("paired", "weighted"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_wald_unit_level_matches_hand_computation(make_long, paired, weighted):
    frame = make_long(n_history=N_HISTORY, paired=paired, weighted=weighted, seed=3)
    result = synthinfer.infer(frame, alpha=ALPHA, method="exchangeable", allocation=PAPER)
    rows = result.to_frame()
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["task"] == "target"
    assert row["n_history"] == N_HISTORY
    expected = algorithm1(frame, paired=paired, weighted=weighted)
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-12, abs=1e-14), column
    assert row["width"] == pytest.approx(expected["upper"] - expected["lower"], rel=1e-12)
    assert bool(row["feasible"])


def test_paired_and_unpaired_differ(make_long):
    # the same values read as paired or as unpaired give different gap intervals
    frame = make_long(n_history=N_HISTORY, paired=True, seed=4)
    paired = synthinfer.infer(frame, alpha=ALPHA, allocation=PAPER).to_frame().iloc[0]
    unpaired = synthinfer.infer(frame.drop(columns="unit"), alpha=ALPHA, allocation=PAPER)
    unpaired = unpaired.to_frame().iloc[0]
    assert paired["gap_lower"] != pytest.approx(unpaired["gap_lower"], rel=1e-6)
    expected = algorithm1(frame.drop(columns="unit"), paired=False, weighted=False)
    assert unpaired["gap_upper"] == pytest.approx(expected["gap_upper"], rel=1e-12)


def test_finite_sample_unit_level(make_long):
    frame = make_long(n_history=N_HISTORY, seed=5)
    row = synthinfer.infer(frame, alpha=0.2, method="finite-sample").to_frame().iloc[0]
    observed = np.sort(
        [
            task_moments(frame, f"h{j}", "real", False)[0]
            - task_moments(frame, f"h{j}", "synthetic", False)[0]
            for j in range(N_HISTORY)
        ]
    )
    estimate = task_moments(frame, "target", "synthetic", False)[0]
    # alpha = 0.2, T = 9: k_L = floor(10 * 0.1) = 1, k_U = ceil(10 * 0.9) = 9
    assert row["lower"] == pytest.approx(estimate + observed[0], rel=1e-12)
    assert row["upper"] == pytest.approx(estimate + observed[8], rel=1e-12)


@pytest.mark.parametrize("paired", [False, True])
def test_hoeffding_unit_level(make_long, paired):
    frame = make_long(n_history=N_HISTORY, paired=paired, binary=True, n_real=30, n_synth=40)
    result = synthinfer.infer(
        frame,
        alpha=ALPHA,
        interval="hoeffding",
        bounds=(0, 1),
        method="exchangeable",
        allocation=PAPER,
    )
    row = result.to_frame().iloc[0]
    alpha1, alpha2, _ = Allocation.parse("prop:0.1,0.2,0.7").split(ALPHA)
    m = 40  # synthetic rows of the target
    synth_mean = task_moments(frame, "target", "synthetic", False)[0]
    half = math.sqrt(math.log(2 / alpha1) / (2 * m))  # (b − a) = 1
    assert row["synth_lower"] == pytest.approx(synth_mean - half, rel=1e-12)
    assert row["synth_upper"] == pytest.approx(synth_mean + half, rel=1e-12)
    lows, highs = [], []
    for j in range(N_HISTORY):
        real = task_moments(frame, f"h{j}", "real", False)[0]
        synth = task_moments(frame, f"h{j}", "synthetic", False)[0]
        if paired:
            # 30 differences in [−1, 1]: range 2
            gap_mean = gap_moments(frame, f"h{j}", True, False)[0]
            gap_half = 2 * math.sqrt(math.log(2 / alpha2) / (2 * 30))
        else:
            gap_mean = real - synth
            sigma2 = (1 / 30 + 1 / 40) / 4
            gap_half = math.sqrt(2 * sigma2 * math.log(2 / alpha2))
        lows.append(gap_mean - gap_half)
        highs.append(gap_mean + gap_half)
    assert row["gap_lower"] == pytest.approx(np.sort(lows)[K_LOWER - 1], rel=1e-12)
    assert row["gap_upper"] == pytest.approx(np.sort(highs)[K_UPPER - 1], rel=1e-12)
    # final interval clipped to the bounds
    assert row["lower"] == pytest.approx(max(0.0, synth_mean - half + np.sort(lows)[0]))
    assert row["upper"] == pytest.approx(min(1.0, synth_mean + half + np.sort(highs)[8]))


def test_hoeffding_needs_bounds_and_bounded_data(make_long):
    frame = make_long(n_history=N_HISTORY, binary=True)
    # 0/1 values get bounds [0, 1] by default; with bounds turned off Hoeffding has no range
    with pytest.raises(ValueError, match="--interval hoeffding needs the data's range"):
        synthinfer.infer(frame, alpha=ALPHA, interval="hoeffding", bounds="none")
    with pytest.warns(UserWarning, match=r"values are 0/1: bounds \[0, 1\]"):
        assert len(synthinfer.infer(frame, alpha=ALPHA, interval="hoeffding")) == 1
    unbounded = make_long(n_history=N_HISTORY)
    with pytest.raises(ValueError, match="fall outside --bounds 0,1"):
        synthinfer.infer(unbounded, alpha=ALPHA, interval="hoeffding", bounds=(0, 1))


def test_bootstrap_is_seeded(make_long):
    frame = make_long(n_history=N_HISTORY, paired=True, seed=8)
    first = synthinfer.infer(frame, alpha=ALPHA, interval="bootstrap", seed=123, n_bootstrap=500)
    again = synthinfer.infer(frame, alpha=ALPHA, interval="bootstrap", seed=123, n_bootstrap=500)
    other = synthinfer.infer(frame, alpha=ALPHA, interval="bootstrap", seed=124, n_bootstrap=500)
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
    assert not first.to_frame()["lower"].equals(other.to_frame()["lower"])
    # the estimate itself is the plain mean, not random
    first_frame, other_frame = first.to_frame(), other.to_frame()
    assert first_frame["synth_estimate"].iloc[0] == other_frame["synth_estimate"].iloc[0]


@pytest.mark.parametrize("paired", [False, True])
def test_bootstrap_gap_interval_close_to_wald_for_large_n(make_long, paired):
    frame = make_long(n_history=3, paired=paired, n_real=2000, n_synth=2000, seed=9)
    data = TaskData.from_frame(frame)
    boot = data.statistics(interval="bootstrap", n_bootstrap=4000, seed=0)[""]
    wald = data.statistics()[""]
    history = np.flatnonzero(boot.is_history)
    boot_lo, boot_hi = boot.gap.take(history).interval(0.1)
    wald_lo, wald_hi = wald.gap.take(history).interval(0.1)
    half = (wald_hi - wald_lo) / 2
    # the percentile ends sit within 10% of the Wald half-width of the Wald ends
    # (Monte Carlo error of a 5% percentile from 4000 draws is about 3% of the half-width)
    np.testing.assert_array_less(np.abs(boot_lo - wald_lo), 0.1 * half)
    np.testing.assert_array_less(np.abs(boot_hi - wald_hi), 0.1 * half)
    boot_synth = boot.synth.interval(0.1)
    wald_synth = wald.synth.interval(0.1)
    synth_half = (wald_synth[1] - wald_synth[0]) / 2
    np.testing.assert_array_less(np.abs(boot_synth[0] - wald_synth[0]), 0.1 * synth_half)


def exact_quantile_interval(sample: np.ndarray, q: float, level: float) -> tuple[float, float]:
    """Exact quantile interval (X_(l), X_(u)) from the binomial definition.

    l − 1 is the largest k with P(B <= k) <= a/2; u − 1 the smallest with P(B <= k) >= 1 − a/2.
    """
    n = sample.size
    cdf = stats.binom.cdf(np.arange(n + 1), n, q)
    below = np.flatnonzero(cdf <= level / 2)
    above = np.flatnonzero(cdf >= 1 - level / 2)
    ordered = np.sort(sample)
    lower = ordered[below[-1]] if below.size else -np.inf
    upper = ordered[above[0]] if above[0] < n else np.inf
    return lower, upper


def test_quantile_estimand(make_long):
    frame = make_long(n_history=N_HISTORY, n_real=40, n_synth=60, seed=12)
    result = synthinfer.infer(frame, alpha=ALPHA, estimand="quantile:0.5", seed=1, n_bootstrap=400)
    row = result.to_frame().iloc[0]
    synth = frame.loc[(frame["task"] == "target") & (frame["source"] == "synthetic"), "value"]
    sample = synth.to_numpy(float)
    assert row["synth_estimate"] == np.quantile(sample, 0.5, method="inverted_cdf")
    lower, upper = exact_quantile_interval(sample, 0.5, 0.05)  # alpha1 = 0.05
    assert row["synth_lower"] == lower
    assert row["synth_upper"] == upper
    # the same seed reproduces the bootstrap gaps
    again = synthinfer.infer(frame, alpha=ALPHA, estimand="quantile:0.5", seed=1, n_bootstrap=400)
    pd.testing.assert_frame_equal(result.to_frame(), again.to_frame())
    # finite-sample uses observed quantile gaps, computed here by hand
    observed = []
    for j in range(N_HISTORY):
        rows = frame[frame["task"] == f"h{j}"]
        real = rows.loc[rows["source"] == "real", "value"].to_numpy(float)
        fake = rows.loc[rows["source"] == "synthetic", "value"].to_numpy(float)
        observed.append(
            np.quantile(real, 0.5, method="inverted_cdf")
            - np.quantile(fake, 0.5, method="inverted_cdf")
        )
    fs = synthinfer.infer(frame, alpha=0.2, estimand="quantile:0.5", method="finite-sample")
    fs_row = fs.to_frame().iloc[0]
    assert fs_row["lower"] == pytest.approx(row["synth_estimate"] + np.min(observed), rel=1e-12)
    assert fs_row["upper"] == pytest.approx(row["synth_estimate"] + np.max(observed), rel=1e-12)


def test_quantile_estimand_rejects_wald(make_long):
    frame = make_long(n_history=N_HISTORY)
    with pytest.raises(ValueError, match="--interval wald is for means"):
        synthinfer.infer(frame, alpha=ALPHA, estimand="quantile:0.5", interval="wald")
    with pytest.raises(ValueError, match=r"estimand quantile:Q needs Q in \(0, 1\)"):
        synthinfer.infer(frame, alpha=ALPHA, estimand="quantile:1.5")
