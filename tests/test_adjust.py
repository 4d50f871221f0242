"""Covariate-adjusted bands: design matrices, exactness of full conformal, plumbing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import synthinfer
from synthinfer.adjust import (
    FullConformalRidgeGapModel,
    RidgeRegression,
    SplitConformalGapModel,
    design_matrix,
    full_conformal_band,
    full_conformal_upper,
    group_history_mask,
    history_covariates,
    make_gap_model,
    split_conformal_band,
)
from synthinfer.conformal import conformal_lower, conformal_ranks, conformal_upper
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate


def _ridge_residuals(response, covariates, penalty):
    """Brute force: standardize over all rows, refit ridge, return residuals."""
    scale = covariates.std(axis=0)
    z = np.where(
        scale > 0, (covariates - covariates.mean(axis=0)) / np.where(scale > 0, scale, 1), 0
    )
    design = np.hstack([np.ones((len(z), 1)), z])
    penalty_matrix = np.diag([0.0] + [penalty] * z.shape[1])
    coef = np.linalg.solve(design.T @ design + penalty_matrix, design.T @ response)
    return response - design @ coef


def _accepted(history, covariates, y, rank, penalty):
    residuals = _ridge_residuals(np.append(history, y), covariates, penalty)
    return int((residuals[:-1] < residuals[-1]).sum()) <= rank - 1


# --- design matrices ---------------------------------------------------------------


def test_design_matrix_one_hot_drops_first_level_and_keeps_numeric():
    frame = pd.DataFrame(
        {"role": ["opp", "co", "co", "mid"], "synth_estimate": [0.1, 0.2, 0.3, 0.4]}
    )
    design = design_matrix(frame, "synth_estimate, role")
    assert design.names == ("synth_estimate", "role=mid", "role=opp")
    np.testing.assert_array_equal(
        design.matrix,
        [[0.1, 0, 1], [0.2, 0, 0], [0.3, 0, 0], [0.4, 1, 0]],
    )


def test_design_matrix_treats_booleans_as_categorical():
    frame = pd.DataFrame({"flag": [True, False, True]})
    design = design_matrix(frame, ["flag"])
    assert design.names == ("flag=True",)
    np.testing.assert_array_equal(design.matrix[:, 0], [1, 0, 1])


def test_design_matrix_errors_name_the_column():
    frame = pd.DataFrame({"a": [1.0, np.nan]})
    with pytest.raises(ValueError, match=r"'zzz'.*available columns"):
        design_matrix(frame, "zzz")
    with pytest.raises(ValueError, match="'a' has 1 missing"):
        design_matrix(frame, "a")
    with pytest.raises(ValueError, match="at least one covariate"):
        design_matrix(frame, "")


def test_group_history_mask():
    np.testing.assert_array_equal(
        group_history_mask(["co", "opp", "co"], "co"), [True, False, True]
    )


# --- full conformal: exact computation ---------------------------------------------


@pytest.mark.parametrize("n_history", [19, 20, 37, 60])
@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.35])
def test_full_conformal_without_covariates_is_the_plain_order_statistic(n_history, alpha):
    rng = np.random.default_rng(n_history)
    values = rng.standard_t(3, size=(40, n_history))
    covariates = np.zeros((40, n_history + 1, 0))
    np.testing.assert_allclose(
        full_conformal_upper(values, covariates, alpha), conformal_upper(values, alpha), rtol=1e-12
    )
    lower, upper, spread = full_conformal_band(values, values, covariates, alpha)
    np.testing.assert_allclose(lower, conformal_lower(values, alpha), rtol=1e-12)
    np.testing.assert_allclose(spread, upper - lower, rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("penalty", [0.0, 0.5, 5.0])
def test_full_conformal_matches_brute_force_refitting(seed, penalty):
    rng = np.random.default_rng(seed)
    n_history, alpha = 25, 0.2
    covariates = np.column_stack(
        [rng.normal(size=n_history + 1), rng.integers(0, 2, n_history + 1).astype(float)]
    )
    if seed % 2:
        covariates[-1, 0] = 6.0  # a high-leverage target
    history = covariates[:-1] @ [0.8, -1.0] + rng.standard_t(4, size=n_history)
    rank = conformal_ranks(n_history, alpha)[1]
    sup = float(full_conformal_upper(history, covariates, alpha, penalty=penalty))
    assert np.isfinite(sup)
    step = 1e-7 * max(1.0, abs(sup))
    assert _accepted(history, covariates, sup - step, rank, penalty)
    assert not _accepted(history, covariates, sup + step, rank, penalty)
    grid = np.linspace(sup - 30, sup + 30, 3001)
    accepted = [y for y in grid if _accepted(history, covariates, y, rank, penalty)]
    assert max(accepted) <= sup + 1e-9
    assert max(accepted) >= sup - 1.01 * (grid[1] - grid[0])


def test_full_conformal_is_infinite_when_the_rank_exceeds_the_history():
    values = np.arange(10.0)
    covariates = np.arange(11.0)[:, None]
    assert full_conformal_upper(values, covariates, 0.1) == np.inf  # needs T >= 39
    lower, upper, spread = full_conformal_band(values, values, covariates, 0.1)
    assert (lower, upper, spread) == (-np.inf, np.inf, np.inf)


def test_unseen_level_gives_an_unbounded_band_with_least_squares():
    # the target's level appears in no history task: nothing is known about its gap
    covariates = np.array([[0.0]] * 30 + [[1.0]])
    values = np.random.default_rng(0).normal(size=30)
    assert full_conformal_upper(values, covariates, 0.2, penalty=0.0) == np.inf


def test_full_conformal_band_is_shift_and_scale_equivariant():
    rng = np.random.default_rng(3)
    covariates = rng.normal(size=(41, 2))
    lo = covariates[:-1, 0] + rng.normal(size=40)
    hi = lo + 0.3
    band = np.array(full_conformal_band(lo, hi, covariates, 0.2))
    moved = np.array(full_conformal_band(3 * lo + 2, 3 * hi + 2, covariates, 0.2))
    np.testing.assert_allclose(moved[:2], 3 * band[:2] + 2)
    np.testing.assert_allclose(moved[2], 3 * band[2])


def test_full_conformal_checks_shapes():
    with pytest.raises(ValueError, match="T \\+ 1 = 11 rows"):
        full_conformal_upper(np.zeros(10), np.zeros((10, 1)), 0.2)
    with pytest.raises(ValueError, match="penalty"):
        FullConformalRidgeGapModel(penalty=-1.0)


# --- split conformal -------------------------------------------------------------


class _Zero:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X))


def test_split_with_a_zero_model_is_the_plain_band_on_the_calibration_tasks():
    rng = np.random.default_rng(1)
    lo = rng.normal(size=80)
    hi = lo + 0.2
    covariates = rng.normal(size=(80, 1))
    band = split_conformal_band(lo, hi, covariates, [0.0], 0.2, model=_Zero(), seed=7)
    cal = np.sort(np.random.default_rng(7).permutation(80)[40:])
    assert band[0] == conformal_lower(lo[cal], 0.2)
    assert band[1] == conformal_upper(hi[cal], 0.2)


def test_split_is_deterministic_and_centred_at_the_prediction():
    rng = np.random.default_rng(2)
    covariates = rng.normal(size=(200, 1))
    gaps = 2.0 * covariates[:, 0] + 0.01 * rng.normal(size=200)
    model = SplitConformalGapModel(model=RidgeRegression(penalty=0.0), seed=4)
    first = model.band(gaps, gaps, covariates, np.array([1.5]), 0.2)
    assert first == model.band(gaps, gaps, covariates, np.array([1.5]), 0.2)
    assert first[0] < 3.0 < first[1]
    assert first[1] - first[0] < 0.1


def test_ridge_regression_recovers_a_line():
    x = np.linspace(0, 1, 50)[:, None]
    fitted = RidgeRegression(penalty=0.0).fit(x, 1 + 2 * x[:, 0]).predict([[0.5]])
    np.testing.assert_allclose(fitted, [2.0])
    with pytest.raises(ValueError, match="call fit"):
        RidgeRegression().predict([[0.0]])


def test_make_gap_model_modes():
    assert isinstance(make_gap_model(), FullConformalRidgeGapModel)
    assert isinstance(make_gap_model("split", seed=3), SplitConformalGapModel)
    with pytest.raises(ValueError, match="'full' or 'split'"):
        make_gap_model("cv")
    with pytest.raises(ValueError, match="linear smoother"):
        make_gap_model("full", model=_Zero())
    with pytest.raises(ValueError, match="fit_fraction"):
        SplitConformalGapModel(fit_fraction=1.0)


# --- plumbing through calibrate ----------------------------------------------------


@pytest.mark.parametrize("method", ["exchangeable", "finite-sample"])
def test_gap_model_through_calibrate_matches_the_direct_band(method):
    rng = np.random.default_rng(11)
    n_history = 60
    covariates = rng.normal(size=(n_history, 2))
    targets = rng.normal(size=(3, 2))
    gaps = covariates @ [0.1, -0.05] + 0.02 * rng.normal(size=n_history)
    gap = WaldInterval(gaps, np.full(n_history, 0.01))
    history = History(
        gap=gap,
        observed=gaps,
        covariates=covariates,
        target_covariates=targets,
        gap_model=FullConformalRidgeGapModel(),
    )
    target = WaldInterval(np.array([0.3, 0.5, 0.7]), np.full(3, 0.01))
    cal = calibrate(method, target, history, 0.1)
    level = {"exchangeable": cal.alpha2}.get(method)
    lo, hi = (gaps, gaps) if level is None else gap.interval(level)
    for i in range(3):
        stacked = np.vstack([covariates, targets[i]])
        expected = full_conformal_band(lo, hi, stacked, cal.alpha3)
        assert cal.gap_lower[i] == pytest.approx(float(expected[0]))
        assert cal.gap_upper[i] == pytest.approx(float(expected[1]))
    plain = calibrate(method, target, History(gap=gap, observed=gaps), 0.1)
    assert np.all(cal.upper - cal.lower < plain.upper - plain.lower)


def test_history_covariates_builds_history_fields():
    from types import SimpleNamespace

    tasks = np.array(["a", "b", "c", "d"])
    stats = SimpleNamespace(
        tasks=tasks,
        synth=WaldInterval(np.array([0.1, 0.2, 0.3, 0.4]), np.full(4, 0.01)),
        index_of=lambda names: np.array([list(tasks).index(n) for n in names]),
    )
    attributes = pd.DataFrame({"role": ["co", "opp", "co", "opp"]}, index=tasks)
    fields = history_covariates(
        attributes, stats, "d", ["a", "b", "c"], columns="synth_estimate,role", mode="split"
    )
    np.testing.assert_array_equal(fields["covariates"], [[0.1, 0], [0.2, 1], [0.3, 0]])
    np.testing.assert_array_equal(fields["target_covariates"], [[0.4, 1]])
    assert isinstance(fields["gap_model"], SplitConformalGapModel)
    with pytest.raises(ValueError, match=r"\['party'\].*synth_estimate"):
        history_covariates(attributes, stats, "d", ["a"], columns="party")


# --- a crossed full-conformal band (lower end above upper end) ----------------------


def _crossing_case():
    """Gap intervals and covariates where the two one-sided full-conformal ends cross.

    Found by a seeded search of random cases (seed 4222 of ``T ~ U{6..24}``,
    ``p ~ U{T/2..T-1}`` normal covariates, normal midpoints, half-widths
    ``0.1·|N(0, 1)|``): 8 history tasks, 7 covariates, least squares, ``a = 0.4``.
    Crossings need a fit that nearly interpolates the history.
    """
    rng = np.random.default_rng(4222)
    n_history = int(rng.integers(6, 25))
    n_covariates = int(rng.integers(n_history // 2, n_history))
    covariates = rng.normal(size=(n_history + 1, n_covariates))
    mid = rng.normal(size=n_history)
    half = np.abs(rng.normal(size=n_history)) * 0.1
    alpha = float(rng.choice([0.2, 0.3, 0.4, 0.5]))
    penalty = float(rng.choice([0.0, 0.01, 0.1, 1.0]))
    return mid - half, mid + half, covariates, alpha, penalty


def test_crossed_band_becomes_the_conservative_superset_with_a_warning():
    lo, hi, covariates, alpha, penalty = _crossing_case()
    assert (len(lo), covariates.shape[1], alpha, penalty) == (8, 7, 0.4, 0.0)
    # the one-sided ends themselves cross: the old band was [0.724, 0.490], finite and inverted
    top = float(full_conformal_upper(hi, covariates, alpha, penalty=penalty))
    bottom = -float(full_conformal_upper(-lo, covariates, alpha, penalty=penalty))
    assert bottom > top + 0.2
    with pytest.warns(UserWarning, match=r"crossed \(lower end 0\.724 above upper end 0\.4903\)"):
        band_lo, band_hi, spread = full_conformal_band(lo, hi, covariates, alpha, penalty=penalty)
    # the union of the crossed ends and the unadjusted band: a superset of both
    assert band_lo <= min(top, float(conformal_lower(lo, alpha)))
    assert band_hi >= max(bottom, float(conformal_upper(hi, alpha)))
    assert band_lo == pytest.approx(min(top, float(conformal_lower(lo, alpha))))
    assert band_hi == pytest.approx(max(bottom, float(conformal_upper(hi, alpha))))
    assert 0 <= spread <= band_hi - band_lo


def test_crossed_band_through_infer_is_finite_ordered_and_names_the_task():
    lo, hi, covariates, alpha, penalty = _crossing_case()
    n_history = len(lo)
    a1, a2, a3 = 0.05, 0.05, 0.4  # prop:0.1,0.1,0.8 at alpha 0.5: the band at a = 0.4
    assert alpha == a3
    se = (hi - lo) / 2 / stats.norm.isf(a2 / 2)
    names = [f"x{j}" for j in range(covariates.shape[1])]
    table = pd.DataFrame(covariates, columns=names)
    table["task"] = [f"h{i}" for i in range(n_history)] + ["target"]
    table["synth_estimate"] = 0.5
    table["synth_se"] = 0.01
    table["gap_estimate"] = [*(lo + hi) / 2, np.nan]
    table["gap_se"] = [*se, np.nan]
    table["real_estimate"] = table["synth_estimate"] + table["gap_estimate"]
    with pytest.warns(UserWarning, match="for task 'target'.*crossed"):
        result = synthinfer.infer(
            table,
            alpha=0.5,
            allocation="prop:0.1,0.1,0.8",
            adjust=",".join(names),
            penalty=penalty,
        )
    row = result.to_frame().iloc[0]
    assert (row["alpha1"], row["alpha2"], row["alpha3"]) == pytest.approx((a1, a2, a3))
    assert row["lower"] <= row["upper"]
    assert row["gap_lower"] <= row["gap_upper"]
    assert row["w2"] >= 0 and row["w3"] >= 0
    assert bool(row["feasible"])
    assert row["gap_lower"] <= float(conformal_lower(lo, a3)) + 1e-9
    assert row["gap_upper"] >= float(conformal_upper(hi, a3)) - 1e-9


def test_adjusted_widths_never_go_negative():
    """The midpoints' band can be wider than the band itself; w3 is capped so that w2 >= 0."""
    rng = np.random.default_rng(43)  # found by a search of seeds: w2 was -0.79 for target 2
    n_history = 30
    covariates = rng.normal(size=(n_history, 1))
    mid = rng.normal(size=n_history) + 3 * covariates[:, 0]
    half = np.abs(rng.normal(size=n_history)) * 2
    targets = rng.normal(size=(5, 1)) * 2
    history = History(
        gap=WaldInterval(mid, half / 1.96),
        observed=mid,
        covariates=covariates,
        target_covariates=targets,
        gap_model=FullConformalRidgeGapModel(),
    )
    target = WaldInterval(np.zeros(5), np.full(5, 0.01))
    cal = calibrate("exchangeable", target, history, 0.5, "prop:0.1,0.2,0.7")
    assert np.all(cal.w2 >= 0)
    assert np.all(cal.w3 <= cal.gap_upper - cal.gap_lower + 1e-12)
    assert cal.w2[2] == 0.0


# --- a target level no history task has ---------------------------------------------


def _region_table(target_region: str) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    regions = np.array(["North", "South", "East"] * 10 + [target_region])
    synth = rng.uniform(0.2, 0.8, 31)
    gap = np.where(regions == "South", 0.1, -0.05) + rng.normal(0, 0.02, 31)
    return pd.DataFrame(
        {
            "task": [f"t{i}" for i in range(30)] + ["X"],
            "synth_estimate": synth,
            "synth_se": 0.01,
            "real_estimate": [*(synth + gap)[:30], np.nan],
            "gap_estimate": [*gap[:30], np.nan],
            "gap_se": [*np.full(30, 0.01), np.nan],
            "region": regions,
        }
    )


@pytest.mark.parametrize("mode", ["full", "split"])
def test_adjust_stops_on_a_target_level_no_history_task_has(mode):
    table = _region_table("Mars")
    # before: a finite band (about [-42, 43] for a proportion with ridge), flagged feasible
    message = (
        r"--adjust: task 'X' has region = 'Mars', a level no history task has; the adjusted "
        r"band would extrapolate \(drop region from --adjust or add history tasks"
    )
    with pytest.raises(ValueError, match=message):
        synthinfer.infer(table, alpha=0.2, adjust="synth_estimate,region", adjust_mode=mode)
    result = synthinfer.infer(_region_table("South"), alpha=0.2, adjust="region")
    assert bool(result.to_frame()["feasible"].iloc[0])


def test_a_level_seen_only_in_other_targets_is_still_unseen():
    tasks = ["a", "b", "c", "d", "e"]
    attributes = pd.DataFrame({"role": ["co", "opp", "co", "new", "new"]}, index=tasks)
    from types import SimpleNamespace

    stats = SimpleNamespace(
        tasks=np.array(tasks),
        coord="",
        synth=WaldInterval(np.linspace(0.1, 0.5, 5), np.full(5, 0.01)),
        index_of=lambda names: np.array([tasks.index(n) for n in names]),
    )
    with pytest.raises(ValueError, match="task 'd' has role = 'new'"):
        history_covariates(attributes, stats, "d", ["a", "b", "c"], columns="role")
    fields = history_covariates(attributes, stats, "d", ["a", "b", "e"], columns="role")
    assert fields["covariates"].shape == (3, 2)


# --- adjusted task-only: withdrawn ------------------------------------------------------


def test_adjusted_upper_end_can_fall_when_a_history_interval_rises():
    """Why task-only refuses --adjust: its Bonferroni step needs a band monotone in the
    history's interval ends, and the full-conformal ridge band is not."""
    n_history = 19
    covariates = np.linspace(0, 1, n_history + 1)[:, None]
    covariates[-1] = -0.5  # the target lies left of the history
    ends = np.random.default_rng(0).normal(0, 0.1, n_history)
    before = float(full_conformal_upper(ends, covariates, 0.2))
    raised = ends.copy()
    raised[-1] += 1.0  # the rightmost history interval rises
    after = float(full_conformal_upper(raised, covariates, 0.2))
    assert after < before - 0.2  # 0.265 -> 0.035


def test_adjusted_task_only_is_refused():
    rng = np.random.default_rng(3)
    covariates = rng.normal(size=(40, 1))
    gaps = rng.normal(size=40)
    history = History(
        gap=WaldInterval(gaps, np.full(40, 0.01)),
        observed=gaps,
        covariates=covariates,
        target_covariates=np.zeros((1, 1)),
        gap_model=FullConformalRidgeGapModel(),
    )
    target = WaldInterval(np.array([0.5]), np.array([0.01]))
    with pytest.raises(ValueError, match="--adjust cannot be combined with method 'task-only'"):
        calibrate("task-only", target, history, 0.2)
    with pytest.raises(ValueError, match="task-only"):
        synthinfer.infer(_region_table("South"), method="task-only", adjust="region")


def test_adjust_messages_show_no_numpy_reprs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lo, hi, covariates, alpha, penalty = _crossing_case()
        full_conformal_band(lo, hi, covariates, alpha, penalty=penalty)
    texts = [str(w.message) for w in caught]
    with pytest.raises(ValueError) as error:
        synthinfer.infer(_region_table("Mars"), adjust="region")
    texts.append(str(error.value))
    assert len(texts) == 2
    for text in texts:
        assert "np." not in text and "array(" not in text, text
