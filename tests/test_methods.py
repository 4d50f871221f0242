"""The algorithms by hand on small arrays, and their edge cases."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy import stats

from synthinfer.intervals import WaldInterval
from synthinfer.methods import (
    METHODS,
    Calibration,
    History,
    MissingInputError,
    calibrate,
)


@dataclass(frozen=True)
class FixedInterval:
    """A test family whose interval is the same at every level; it records the levels asked."""

    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    levels: list = field(default_factory=list, compare=False)

    def interval(self, level):
        self.levels.append(level)
        return np.asarray(self.lower, float), np.asarray(self.upper, float)

    def take(self, index):
        index = np.asarray(index)
        return FixedInterval(
            np.asarray(self.estimate)[..., index],
            np.asarray(self.lower)[..., index],
            np.asarray(self.upper)[..., index],
            self.levels,
        )


# Ten historical gap intervals [lo, hi]; T = 10.
GAP_LO = np.array([0.02, -0.05, 0.10, 0.04, -0.01, 0.06, 0.00, 0.08, -0.03, 0.03])
GAP_HI = np.array([0.06, 0.01, 0.14, 0.06, 0.05, 0.08, 0.02, 0.12, 0.01, 0.09])
# alpha = 0.6 with prop:0.1,0.2,0.7 -> (alpha1, alpha2, alpha3) = (0.06, 0.12, 0.42);
# k_L = floor(11 * 0.21) = floor(2.31) = 2 and k_U = ceil(11 * 0.79) = ceil(8.69) = 9.
ALPHA = 0.6


def target_family() -> FixedInterval:
    return FixedInterval(np.array([0.5]), np.array([0.45]), np.array([0.56]))


def test_exchangeable_by_hand():
    gap = FixedInterval(np.zeros(10), GAP_LO, GAP_HI)
    target = target_family()
    result = calibrate("exchangeable", target, History(gap=gap), ALPHA)
    assert (result.alpha1, result.alpha2, result.alpha3) == (0.06, 0.12, 0.42)
    assert target.levels == [0.06]  # synthetic interval at alpha1
    assert gap.levels == [0.12]  # gap intervals at alpha2
    # lower ends sorted: -0.05, -0.03, -0.01, 0.00, 0.02, ... -> 2nd smallest = -0.03
    # upper ends sorted: 0.01, 0.01, 0.02, 0.05, 0.06, 0.06, 0.08, 0.09, 0.12, 0.14
    #   -> 9th smallest = 0.12
    assert result.gap_lower[0] == pytest.approx(-0.03)
    assert result.gap_upper[0] == pytest.approx(0.12)
    assert result.lower[0] == pytest.approx(0.45 - 0.03)
    assert result.upper[0] == pytest.approx(0.56 + 0.12)
    assert result.synth_lower[0] == 0.45 and result.synth_upper[0] == 0.56
    assert result.synth_estimate[0] == 0.5
    # calibrated point: synthetic estimate plus the median midpoint (0.04 + 0.05) / 2
    assert result.estimate[0] == pytest.approx(0.5 + 0.045)
    # width decomposition: w1 = U~ − L~ = 0.11;
    # midpoints: 0.04, -0.02, 0.12, 0.05, 0.02, 0.07, 0.01, 0.10, -0.01, 0.06
    # sorted: -0.02, -0.01, 0.01, 0.02, 0.04, 0.05, 0.06, 0.07, 0.10, 0.12
    # w3 = 9th − 2nd = 0.10 − (−0.01) = 0.11; w2 = (0.12 − (−0.03)) − 0.11 = 0.04
    assert result.w1[0] == pytest.approx(0.11)
    assert result.w3[0] == pytest.approx(0.11)
    assert result.w2[0] == pytest.approx(0.04)
    assert result.w1[0] + result.w2[0] + result.w3[0] == pytest.approx(
        result.upper[0] - result.lower[0]
    )
    assert result.feasible.tolist() == [True]
    assert result.n_history == 10
    assert result.n_effective[0] == 10.0
    assert result.message == ""


def test_task_only_uses_bonferroni_gap_level():
    gap = FixedInterval(np.zeros(10), GAP_LO, GAP_HI)
    result = calibrate("task-only", target_family(), History(gap=gap), ALPHA)
    assert gap.levels == [pytest.approx(0.12 / 10)]  # alpha2 / T
    assert result.gap_lower[0] == pytest.approx(-0.03)
    assert result.gap_upper[0] == pytest.approx(0.12)


def test_task_only_wider_than_exchangeable_with_wald_gaps():
    gap = WaldInterval((GAP_LO + GAP_HI) / 2, np.full(10, 0.01))
    target = WaldInterval([0.5], [0.02])
    one = calibrate("exchangeable", target, History(gap=gap), ALPHA)
    five = calibrate("task-only", target, History(gap=gap), ALPHA)
    z2, z2t = stats.norm.isf(0.12 / 2), stats.norm.isf(0.012 / 2)
    # midpoints sorted: -0.02, -0.01, 0.01, ... , 0.10, 0.12: 2nd = -0.01, 9th = 0.10
    assert one.gap_lower[0] == pytest.approx(-0.01 - z2 * 0.01)
    assert one.gap_upper[0] == pytest.approx(0.10 + z2 * 0.01)
    assert five.gap_lower[0] == pytest.approx(-0.01 - z2t * 0.01)
    assert five.gap_upper[0] == pytest.approx(0.10 + z2t * 0.01)
    z1 = stats.norm.isf(0.06 / 2)
    assert one.lower[0] == pytest.approx(0.5 - z1 * 0.02 - 0.01 - z2 * 0.01)
    assert five.w2[0] > one.w2[0]
    assert five.w3[0] == pytest.approx(one.w3[0]) == pytest.approx(0.11)


def test_finite_sample_by_hand():
    observed = np.array([0.05, -0.02, 0.11, 0.03, 0.00, 0.07, 0.01, 0.09, -0.04, 0.06])
    target = target_family()
    result = calibrate("finite-sample", target, History(observed=observed), 0.2)
    # the whole level goes to one conformal step: k_L = floor(11 * 0.1) = 1,
    # k_U = ceil(11 * 0.9) = ceil(9.9) = 10
    # sorted: -0.04, -0.02, 0.00, 0.01, 0.03, 0.05, 0.06, 0.07, 0.09, 0.11
    assert result.lower[0] == pytest.approx(0.5 - 0.04)
    assert result.upper[0] == pytest.approx(0.5 + 0.11)
    assert (result.alpha1, result.alpha2, result.alpha3) == (0.0, 0.0, 0.2)
    assert target.levels == []  # the synthetic estimate enters as a point
    assert result.w1[0] == 0.0 and result.w2[0] == 0.0
    assert result.w3[0] == pytest.approx(0.15)
    # alpha = 0.5: k_L = floor(2.75) = 2 -> -0.02; k_U = ceil(8.25) = 9 -> 0.09
    half = calibrate("finite-sample", target, History(observed=observed), 0.5)
    assert half.lower[0] == pytest.approx(0.48)
    assert half.upper[0] == pytest.approx(0.59)


def test_synthetic_only_is_the_synthetic_interval_at_alpha():
    target = WaldInterval([0.3, 0.7], [0.01, 0.02])
    result = calibrate("synthetic-only", target, History(), 0.1)
    lower, upper = target.interval(0.1)
    np.testing.assert_array_equal(result.lower, lower)
    np.testing.assert_array_equal(result.upper, upper)
    np.testing.assert_array_equal(result.w2, [0.0, 0.0])
    np.testing.assert_array_equal(result.w3, [0.0, 0.0])
    assert (result.alpha1, result.alpha2, result.alpha3) == (0.1, 0.0, 0.0)


def test_weighted_with_unit_weights_equals_exchangeable_exactly():
    rng = np.random.default_rng(5)
    for n_history in (0, 5, 19, 28, 40, 100):
        gap = WaldInterval(rng.normal(0.05, 0.1, size=(50, n_history)), 0.01)
        observed = rng.normal(size=(50, n_history))
        target = WaldInterval(rng.uniform(size=50), rng.uniform(0, 0.02, size=50))
        history = History(gap=gap, observed=observed, weights=np.ones(n_history))
        for alpha in (0.1, 0.2, 0.3):
            base = calibrate("exchangeable", target, history, alpha)
            weighted = calibrate("weighted", target, history, alpha)
            for name in (
                "lower",
                "upper",
                "gap_lower",
                "gap_upper",
                "synth_lower",
                "synth_upper",
                "w1",
                "w2",
                "w3",
                "feasible",
                "n_effective",
            ):
                np.testing.assert_array_equal(
                    getattr(weighted, name), getattr(base, name), err_msg=name
                )


def test_weighted_by_hand():
    # five gaps with zero SE; weights put little mass on the far task
    gap = WaldInterval(np.array([0.0, 0.1, 0.2, 0.3, 5.0]), 0.0)
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    result = calibrate(
        "weighted", WaldInterval([1.0], [0.0]), History(gap=gap, weights=weights), 0.8
    )
    # alpha3 = 0.56: mass 1/5 each on 0, 0.1, 0.2, 0.3 and on +inf (weight 0 drops 5.0).
    # upper: smallest v with CDF >= 1 − 0.28 = 0.72 -> 0.3 (CDF 0.8)
    # lower: largest v with upper-tail mass >= 0.72 -> 0.0 (tail mass 0.8)
    assert result.gap_upper[0] == pytest.approx(0.3)
    assert result.gap_lower[0] == pytest.approx(0.0)
    # Kish: (Σw)² / Σw² = 16 / 4 = 4
    assert result.n_effective[0] == pytest.approx(4.0)
    exchangeable = calibrate("exchangeable", WaldInterval([1.0], [0.0]), History(gap=gap), 0.8)
    # unweighted: k_U = ceil(6 * 0.72) = 5 -> 5.0, so the weight moved the band
    assert exchangeable.gap_upper[0] == 5.0


def test_vectorized_history_gives_one_calibration_per_replication():
    rng = np.random.default_rng(11)
    gap = WaldInterval(rng.normal(size=(6, 30)), rng.uniform(0, 0.1, size=(6, 30)))
    target = WaldInterval(rng.normal(size=6), rng.uniform(0, 0.1, size=6))
    together = calibrate("exchangeable", target, History(gap=gap), 0.3)
    for row in range(6):
        own_history = History(gap=WaldInterval(gap.estimate[row], gap.se[row]))
        alone = calibrate("exchangeable", target.take([row]), own_history, 0.3)
        assert together.lower[row] == alone.lower[0]
        assert together.upper[row] == alone.upper[0]
        assert together.w3[row] == alone.w3[0]


@pytest.mark.parametrize("method", ["exchangeable", "task-only", "weighted"])
def test_infinite_band_when_history_too_small(method):
    n_history = 27  # alpha3 = 0.07 needs 28 history tasks (2 / 0.07 − 1 = 27.6)
    gap = WaldInterval(np.linspace(-0.1, 0.1, n_history), 0.01)
    history = History(gap=gap, weights=np.ones(n_history))
    result = calibrate(method, WaldInterval([0.5], [0.01]), history, 0.1)
    assert result.feasible.tolist() == [False]
    assert result.lower[0] == -np.inf and result.upper[0] == np.inf
    assert result.gap_lower[0] == -np.inf and result.gap_upper[0] == np.inf
    assert np.isnan(result.w2[0]) and result.w3[0] == np.inf
    assert np.isfinite(result.w1[0])
    if method == "weighted":
        # unit weights sum to 27 < 2 / 0.07 − 1 = 27.57
        assert "weights summing to at least 27.6" in result.message
    else:
        assert "at least 28 are needed" in result.message
        assert "27 history tasks are too few" in result.message
    # one more task makes it finite
    gap28 = WaldInterval(np.linspace(-0.1, 0.1, 28), 0.01)
    finite = calibrate(
        method, WaldInterval([0.5], [0.01]), History(gap=gap28, weights=np.ones(28)), 0.1
    )
    assert finite.feasible.tolist() == [True]


def test_finite_sample_infinite_band_message():
    result = calibrate(
        "finite-sample", WaldInterval([0.5], [0.01]), History(observed=np.zeros(18)), 0.1
    )
    assert result.feasible.tolist() == [False]
    assert (result.lower[0], result.upper[0]) == (-np.inf, np.inf)
    assert "at least 19 are needed" in result.message


@pytest.mark.parametrize("method", ["exchangeable", "task-only", "weighted", "finite-sample"])
def test_empty_history_is_infinite(method):
    history = History(
        gap=WaldInterval(np.empty(0), np.empty(0)), observed=np.empty(0), weights=np.empty(0)
    )
    result = calibrate(method, WaldInterval([0.5], [0.01]), history, 0.1)
    assert result.feasible.tolist() == [False]
    assert (result.lower[0], result.upper[0]) == (-np.inf, np.inf)
    assert result.n_history == 0


def test_zero_standard_errors():
    # zero SE everywhere: synthetic interval is a point, gap intervals are points,
    # so w1 = w2 = 0 and the width is the spread of the gaps
    gap = WaldInterval(GAP_LO, np.zeros(10))
    result = calibrate("exchangeable", WaldInterval([0.5], [0.0]), History(gap=gap), ALPHA)
    assert result.w1[0] == 0.0
    assert result.w2[0] == pytest.approx(0.0, abs=1e-15)
    # lower ends sorted: -0.05, -0.03, ...: 2nd = -0.03; 9th = 0.08
    assert result.lower[0] == pytest.approx(0.47)
    assert result.upper[0] == pytest.approx(0.58)
    assert result.w3[0] == pytest.approx(0.11)
    assert result.feasible.tolist() == [True]


@pytest.mark.parametrize("method", ["exchangeable", "task-only", "weighted"])
def test_missing_gap_se_error_names_column_and_method(method):
    history = History(observed=np.zeros(30), weights=np.ones(30))
    with pytest.raises(
        MissingInputError, match=rf"method '{method}' needs gap standard errors \(column 'gap_se'\)"
    ):
        calibrate(method, WaldInterval([0.5], [0.01]), history, 0.1)
    # MissingInputError is a ValueError, so the CLI treats it as a user error
    assert issubclass(MissingInputError, ValueError)


def test_missing_observed_and_weights_errors():
    with pytest.raises(ValueError, match="method 'finite-sample' needs observed gaps"):
        calibrate("finite-sample", WaldInterval([0.5], [0.01]), History(), 0.1)
    gap = WaldInterval(np.zeros(30), 0.01)
    with pytest.raises(ValueError, match="method 'weighted' needs task weights"):
        calibrate("weighted", WaldInterval([0.5], [0.01]), History(gap=gap), 0.1)


def test_unknown_method_and_bad_alpha():
    with pytest.raises(ValueError, match="method must be one of"):
        calibrate("conformal", WaldInterval([0.5], [0.01]), History(), 0.1)
    for alpha in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
            calibrate("synthetic-only", WaldInterval([0.5], [0.01]), History(), alpha)


def test_method_registry():
    assert sorted(METHODS) == [
        "exchangeable",
        "finite-sample",
        "hybrid",
        "ppi",
        "synthetic-only",
        "task-only",
        "weighted",
    ]
    result = calibrate("synthetic-only", WaldInterval([0.5], [0.01]), History(), 0.1)
    assert isinstance(result, Calibration)
