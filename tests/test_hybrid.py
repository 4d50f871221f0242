"""Method ``hybrid``: exact formulas, edge cases and errors (``docs/hybrid.md``)."""

from __future__ import annotations

import numpy as np
import pytest

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import conformal_lower, conformal_upper, min_history
from synthinfer.intervals import WaldInterval
from synthinfer.methods import (
    HYBRID_PPI_SCALE,
    HYBRID_PPI_SHARE,
    METHODS,
    NEEDS_GAP_SE,
    History,
    MissingInputError,
    calibrate,
    design_ppi_share,
    hybrid_calibration,
    hybrid_ppi_share,
    label_shrinkage,
    student_ppi,
)

ALPHA = 0.2
SHARE = 50 / (50 + 75)  # hybrid_ppi_share(50, 30, 0.2): m/(m + c) below the cap 0.539


def make_history(n_history: int = 30, *, seed: int = 0, se: float = 0.05, reps=None):
    """A history with label gaps, a target family and the target's PPI family."""
    rng = np.random.default_rng(seed)
    lead = () if reps is None else (reps,)
    delta = rng.normal(0.05, 0.1, (*lead, n_history + 1))
    label_gap = delta + rng.normal(0, se, delta.shape)
    gap_hat = delta + rng.normal(0, 0.01, delta.shape)
    history = History(
        gap=WaldInterval(gap_hat[..., :-1], np.full((*lead, n_history), 0.01)),
        labelled=WaldInterval(0.5 + label_gap[..., -1], np.full(lead, se)),
        label_gap=label_gap[..., :-1],
        label_gap_se=np.full((*lead, n_history), se),
        target_label_gap=label_gap[..., -1],
        target_label_gap_se=np.full(lead, se),
        n_labelled=np.full(lead, 50.0),
    )
    target = WaldInterval(np.full(lead, 0.5), np.full(lead, 0.01))
    return target, history


def test_hybrid_is_registered_and_needs_gap_se():
    assert METHODS["hybrid"].__name__ == "hybrid"
    assert "hybrid" in NEEDS_GAP_SE


def test_label_shrinkage_matches_the_formula():
    gaps = np.array([0.1, 0.3, -0.2, 0.4])
    se = np.array([0.1, 0.2, 0.1, 0.2])
    prediction, target, shrinkage = label_shrinkage(gaps[:-1], se[:-1], gaps[-1], se[-1])
    centre = gaps.mean()  # 0.15
    spread = gaps.var(ddof=1) - np.mean(se**2)  # 0.07 − 0.025 = 0.045
    factor = spread / (spread + np.mean(se**2))  # 0.045 / 0.07
    np.testing.assert_allclose(shrinkage, factor)
    np.testing.assert_allclose(prediction, centre + factor * (gaps[:-1] - centre))
    np.testing.assert_allclose(target, centre + factor * (gaps[-1] - centre))


def test_label_shrinkage_limits():
    gaps = np.array([0.1, 0.3, -0.2, 0.4])
    # noise far above the spread: B = 0, every prediction is the mean
    _, target, shrinkage = label_shrinkage(gaps[:-1], np.full(3, 10.0), gaps[-1], 10.0)
    assert shrinkage == 0.0 and target == pytest.approx(gaps.mean())
    # exact label gaps: B = 1, each task predicted by its own label gap
    prediction, target, shrinkage = label_shrinkage(gaps[:-1], np.zeros(3), gaps[-1], 0.0)
    assert shrinkage == 1.0 and target == pytest.approx(0.4)
    np.testing.assert_allclose(prediction, gaps[:-1])


def test_label_shrinkage_is_symmetric_in_the_tasks():
    rng = np.random.default_rng(3)
    gaps, se = rng.normal(size=8), rng.uniform(0.1, 0.5, 8)
    _, target, _ = label_shrinkage(gaps[:-1], se[:-1], gaps[-1], se[-1])
    order = rng.permutation(7)
    _, permuted, _ = label_shrinkage(gaps[:-1][order], se[:-1][order], gaps[-1], se[-1])
    assert target == pytest.approx(permuted)


def test_band_is_the_conformal_band_of_residuals():
    target, history = make_history()
    result = hybrid_calibration(target, history, ALPHA, ppi_share=0.0)
    alpha1, alpha2, alpha3 = result.alpha1, result.alpha2, result.alpha3
    assert alpha1 + alpha2 + alpha3 == pytest.approx(ALPHA)
    fit, target_fit, _ = label_shrinkage(
        history.label_gap,
        history.label_gap_se,
        history.target_label_gap,
        history.target_label_gap_se,
    )
    lo, hi = history.gap.interval(alpha2)
    band_lo = target_fit + conformal_lower(lo - fit, alpha3)
    band_hi = target_fit + conformal_upper(hi - fit, alpha3)
    synth_lo, synth_hi = target.interval(alpha1)
    assert result.lower == pytest.approx(synth_lo + band_lo)
    assert result.upper == pytest.approx(synth_hi + band_hi)
    assert result.w1 + result.w2 + result.w3 == pytest.approx(result.upper - result.lower)
    assert result.w2 >= 0 and result.w3 >= 0
    assert result.lower <= result.estimate <= result.upper


def test_uninformative_labels_give_exchangeable_exactly():
    target, history = make_history(se=1e6)
    result = hybrid_calibration(target, history, ALPHA, ppi_share=0.0)
    plain = calibrate("exchangeable", target, history, ALPHA)
    assert result.lower == pytest.approx(plain.lower, abs=1e-6)
    assert result.upper == pytest.approx(plain.upper, abs=1e-6)


def test_no_labels_give_exchangeable_exactly():
    target, history = make_history()
    nan = np.full(30, np.nan)
    unlabelled = History(
        gap=history.gap,
        labelled=WaldInterval(np.array(np.nan), np.array(np.inf)),
        label_gap=nan,
        label_gap_se=nan,
        target_label_gap=np.array(np.nan),
        target_label_gap_se=np.array(np.nan),
    )
    result = calibrate("hybrid", target, unlabelled, ALPHA)
    plain = calibrate("exchangeable", target, history, ALPHA)
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA)
    assert result.lower == plain.lower and result.upper == plain.upper


def test_intersection_with_ppi_lies_inside_both():
    target, history = make_history(reps=200, seed=5, se=0.02)
    assert hybrid_ppi_share(50, 30, ALPHA) == SHARE
    band = hybrid_calibration(target, history, ALPHA * (1 - SHARE), ppi_share=0.0)
    result = calibrate("hybrid", target, history, ALPHA)
    ppi_lo, ppi_hi = student_ppi(history.labelled, ALPHA * SHARE, history.n_labelled)
    meet = np.maximum(band.lower, ppi_lo) <= np.minimum(band.upper, ppi_hi)
    assert meet.mean() > 0.9
    np.testing.assert_allclose(result.lower[meet], np.maximum(band.lower, ppi_lo)[meet])
    np.testing.assert_allclose(result.upper[meet], np.minimum(band.upper, ppi_hi)[meet])
    # intervals that miss each other give their hull, a superset of both
    hull = ~meet
    np.testing.assert_allclose(result.lower[hull], np.minimum(band.lower, ppi_lo)[hull])
    np.testing.assert_allclose(
        result.w1 + result.w2 + result.w3, result.upper - result.lower, atol=1e-12
    )
    assert np.all((result.lower <= result.estimate) & (result.estimate <= result.upper))
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA * (1 - SHARE))


def test_vectorized_over_replications_matches_one_by_one():
    target, history = make_history(reps=4, seed=9)
    result = calibrate("hybrid", target, history, ALPHA)
    for rep in range(4):
        one_target = WaldInterval(target.estimate[rep], target.se[rep])
        one = History(
            gap=WaldInterval(history.gap.estimate[rep], history.gap.se[rep]),
            labelled=WaldInterval(history.labelled.estimate[rep], history.labelled.se[rep]),
            label_gap=history.label_gap[rep],
            label_gap_se=history.label_gap_se[rep],
            target_label_gap=history.target_label_gap[rep],
            target_label_gap_se=history.target_label_gap_se[rep],
            n_labelled=history.n_labelled[rep],
        )
        single = calibrate("hybrid", one_target, one, ALPHA)
        assert single.lower == pytest.approx(result.lower[rep])
        assert single.upper == pytest.approx(result.upper[rep])


def test_too_few_history_tasks_are_infinite_with_a_message():
    target, history = make_history(n_history=10)
    for result in (
        hybrid_calibration(target, history, ALPHA, ppi_share=0.0),
        calibrate("hybrid", target, history, ALPHA),
    ):
        assert not result.feasible and np.isinf(result.upper) and np.isinf(result.lower)
        assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA)
        needed = min_history(result.alpha3)
        assert needed == 14  # α3 = 0.7·0.2: T + 1 >= 2/0.14
        assert f"at least {needed} are needed" in result.message


def test_a_small_history_caps_the_share_so_the_band_stays_finite():
    # α3 = 0.7·0.2·(1 − ρ) needs T + 1 >= 2/α3: at T = 14, ρ <= 1 − 2/(15·0.14) = 1/21
    target, history = make_history(n_history=14)
    result = calibrate("hybrid", target, history, ALPHA)
    cap = 1 - 2 / (15 * 0.14)
    assert hybrid_ppi_share(50, 14, ALPHA) == pytest.approx(cap, abs=1e-9)
    assert result.feasible and min_history(result.alpha3) == 14
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA * (1 - cap))
    # a fixed share above the cap would leave the band infinite: it is dropped
    fixed = hybrid_calibration(target, history, ALPHA, ppi_share=0.1)
    alone = hybrid_calibration(target, history, ALPHA, ppi_share=0.0)
    assert (fixed.lower, fixed.upper) == (alone.lower, alone.upper)
    target, history = make_history(n_history=15)
    shared = calibrate("hybrid", target, history, ALPHA)
    assert shared.alpha3 == pytest.approx(0.7 * ALPHA * (1 - hybrid_ppi_share(50, 15, ALPHA)))


def test_share_rule_values():
    assert HYBRID_PPI_SCALE == 75.0
    assert hybrid_ppi_share(0, 100, 0.1) == 0.0  # m = 0: Algorithm 1 exactly
    assert hybrid_ppi_share(5, 100, 0.1) == 5 / 80
    assert hybrid_ppi_share(75, 100, 0.1) == 0.5
    assert hybrid_ppi_share(100, 100, 0.1) == 100 / 175
    assert hybrid_ppi_share(10, 100, 0.1, scale=10.0) == 0.5
    # the cap ρ_T = 1 − 2/((T + 1)·0.7·α) for prop:0.1,0.2,0.7
    cap = 1 - 2 / (101 * 0.07)
    assert hybrid_ppi_share(1000, 100, 0.1) == pytest.approx(cap, abs=1e-8)
    assert hybrid_ppi_share(1000, 100, 0.1, "auto") == hybrid_ppi_share(1000, 100, 0.1)
    # abs:0.01,0.01: alpha3 = 0.1·(1 − ρ) − 0.02 >= 2/101
    absolute = hybrid_ppi_share(10**6, 100, 0.1, "abs:0.01,0.01")
    assert absolute == pytest.approx(1 - (0.02 + 2 / 101) / 0.1, abs=1e-8)
    # too few tasks even at alpha: no share (the band gets the whole level)
    assert hybrid_ppi_share(1000, 10, 0.2) == 0.0
    with pytest.raises(ValueError, match="must be a number >= 0"):
        hybrid_ppi_share(-1, 100, 0.1)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        hybrid_ppi_share(5, 100, 0.1, scale=0.0)


@pytest.mark.parametrize("n_history", [13, 14, 15, 19, 30, 100, 999])
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_the_share_never_leaves_the_band_infinite(n_history, alpha):
    def needed(share: float) -> int:  # history tasks for a finite band at (1 − share)·alpha
        return min_history(DEFAULT_ALLOCATION.split(alpha * (1 - share))[2])

    finite_at_alpha = needed(0.0) <= n_history
    for m in (1, 10, 100, 10**5):
        share = hybrid_ppi_share(m, n_history, alpha)
        assert 0.0 <= share <= m / (m + HYBRID_PPI_SCALE)
        assert (share > 0) == finite_at_alpha
        assert needed(share) <= n_history or not finite_at_alpha
    if finite_at_alpha:  # the cap is the largest such share
        cap = hybrid_ppi_share(10**9, n_history, alpha)
        assert needed(cap) <= n_history < needed(min(cap + 1e-9, 0.999999))


def test_the_share_is_a_function_of_the_design_only():
    import inspect

    parameters = inspect.signature(hybrid_ppi_share).parameters
    assert list(parameters) == ["m", "n_history", "alpha", "allocation", "scale"]
    assert parameters["scale"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["scale"].default == HYBRID_PPI_SCALE
    # the share a history gets does not move with its label gaps or PPI interval
    from dataclasses import replace

    target, history = make_history(reps=50, seed=3)
    other = replace(
        history,
        label_gap=history.label_gap + 1.0,
        target_label_gap=history.target_label_gap * 3.0,
        labelled=WaldInterval(history.labelled.estimate - 2.0, history.labelled.se * 5.0),
    )
    allocation = Allocation.parse("prop:0.1,0.2,0.7")
    share = design_ppi_share(history, ALPHA, allocation)
    assert share == design_ppi_share(other, ALPHA, allocation) == SHARE
    for changed in (history, other):
        result = calibrate("hybrid", target, changed, ALPHA)
        assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA * (1 - share))


def test_hybrid_is_its_calibration_at_the_design_share():
    target, history = make_history(reps=20, seed=4)
    result = calibrate("hybrid", target, history, ALPHA)
    fixed = hybrid_calibration(target, history, ALPHA, ppi_share=SHARE)
    np.testing.assert_array_equal(result.lower, fixed.lower)
    np.testing.assert_array_equal(result.upper, fixed.upper)


def test_targets_with_different_m_in_one_call_are_refused():
    from dataclasses import replace

    target, history = make_history(reps=3, seed=4)
    mixed = replace(history, n_labelled=np.array([10.0, 20.0, 10.0]))
    with pytest.raises(ValueError, match=r"different m \(10, 20\).*each m separately"):
        calibrate("hybrid", target, mixed, ALPHA)
    # a target without labels does not count: its m (0) is not used
    unlabelled = replace(
        mixed,
        n_labelled=np.array([10.0, 0.0, 10.0]),
        target_label_gap=np.where([True, False, True], history.target_label_gap, np.nan),
        target_label_gap_se=np.where([True, False, True], history.target_label_gap_se, np.nan),
    )
    result = calibrate("hybrid", target, unlabelled, ALPHA)
    share = hybrid_ppi_share(10, 30, ALPHA)
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA * (1 - share))


def test_missing_label_inputs_name_the_fix():
    target, history = make_history()
    bare = History(gap=history.gap)
    with pytest.raises(MissingInputError, match=r"labelled pairs.*--target"):
        calibrate("hybrid", target, bare, ALPHA)
    with pytest.raises(MissingInputError, match="gap standard errors"):
        calibrate("hybrid", target, History(labelled=history.labelled), ALPHA)


def test_history_without_label_gaps_is_refused():
    target, history = make_history()
    gaps = history.label_gap.copy()
    gaps[3] = np.nan
    broken = History(
        gap=history.gap,
        labelled=history.labelled,
        label_gap=gaps,
        label_gap_se=history.label_gap_se,
        target_label_gap=history.target_label_gap,
        target_label_gap_se=history.target_label_gap_se,
    )
    with pytest.raises(ValueError, match="at least m labelled pairs"):
        calibrate("hybrid", target, broken, ALPHA)


def test_mismatched_history_sizes_and_bad_share_are_refused():
    target, history = make_history()
    short = History(
        gap=history.gap,
        labelled=history.labelled,
        label_gap=history.label_gap[:-1],
        label_gap_se=history.label_gap_se[:-1],
        target_label_gap=history.target_label_gap,
        target_label_gap_se=history.target_label_gap_se,
    )
    with pytest.raises(ValueError, match="label_gap has 29 history tasks"):
        calibrate("hybrid", target, short, ALPHA)
    with pytest.raises(ValueError, match="ppi_share"):
        hybrid_calibration(target, history, ALPHA, ppi_share=1.0)


def test_covariate_adjustment_is_refused():
    from dataclasses import replace

    from synthinfer.adjust import make_gap_model

    target, history = make_history()
    adjusted = replace(history, gap_model=make_gap_model("full"))
    with pytest.raises(ValueError, match="cannot be combined with --adjust"):
        calibrate("hybrid", target, adjusted, ALPHA)


def test_student_ppi_widens_by_the_t_quantile_on_m_minus_2_df():
    family = WaldInterval(np.full(4, 0.3), np.full(4, 0.1))
    lower, upper = student_ppi(family, 0.01, np.array([5.0, 1e7, 2.0, 1.0]))
    # scipy: t.ppf(0.995, 3) = 5.840909309733355; PPI++ fits the mean and lambda (k = 2)
    assert upper[0] - 0.3 == pytest.approx(0.1 * 5.840909309733355 * np.sqrt(5 / 3))
    assert upper[1] - 0.3 == pytest.approx(0.1 * 2.5758293035489, rel=1e-6)
    assert lower[0] == pytest.approx(0.3 - 0.1 * 5.840909309733355 * np.sqrt(5 / 3))
    assert np.all(np.isinf(upper[2:])) and np.all(np.isinf(lower[2:]))  # m <= 2: no interval


def test_hybrid_reads_the_ppi_interval_with_the_histories_critical_value():
    from dataclasses import replace

    target, history = make_history(reps=200, seed=5, se=0.02)
    history = replace(history, n_labelled=np.full(200, 6.0))
    share = 6 / 81
    band = hybrid_calibration(target, history, ALPHA * (1 - share), ppi_share=0.0)
    normal = calibrate("hybrid", target, replace(history, ppi_critical="normal"), ALPHA)
    student = calibrate("hybrid", target, history, ALPHA)
    ppi_lo, ppi_hi = history.labelled.interval(ALPHA * share)  # ppi_py's
    meet = np.maximum(band.lower, ppi_lo) <= np.minimum(band.upper, ppi_hi)
    assert meet.mean() > 0.9
    np.testing.assert_allclose(normal.lower[meet], np.maximum(band.lower, ppi_lo)[meet])
    np.testing.assert_allclose(normal.upper[meet], np.minimum(band.upper, ppi_hi)[meet])
    # the Student interval is wider at m = 6, so the hybrid is never narrower
    assert np.all(student.upper - student.lower >= normal.upper - normal.lower - 1e-12)
    assert np.any(student.upper - student.lower > normal.upper - normal.lower + 1e-9)
    # the normal interval needs no m: without it the intersection stays, at the fixed share
    unknown = replace(history, ppi_critical="normal", n_labelled=None)
    fixed = hybrid_calibration(target, unknown, ALPHA, ppi_share=HYBRID_PPI_SHARE)
    np.testing.assert_array_equal(calibrate("hybrid", target, unknown, ALPHA).lower, fixed.lower)
    assert np.any(fixed.lower != normal.lower)


def test_without_the_label_count_there_is_no_ppi_share():
    from dataclasses import replace

    target, history = make_history(reps=50, seed=2, se=0.02)
    unknown = replace(history, n_labelled=None)
    result = calibrate("hybrid", target, unknown, ALPHA)
    alone = hybrid_calibration(target, history, ALPHA, ppi_share=0.0)
    np.testing.assert_array_equal(result.lower, alone.lower)
    np.testing.assert_array_equal(result.upper, alone.upper)
    assert result.alpha1 + result.alpha2 + result.alpha3 == pytest.approx(ALPHA)


def test_label_gaps_without_standard_errors_are_refused():
    from dataclasses import replace

    target, history = make_history()
    for field, value in (
        ("target_label_gap_se", np.array(np.nan)),
        ("label_gap_se", np.full(30, np.nan)),
    ):
        with pytest.raises(ValueError, match="standard error for every label gap"):
            calibrate("hybrid", target, replace(history, **{field: value}), ALPHA)
