"""The O(T log T) rank counting, the reused ridge fit and the once-built design are exact.

The references below are the earlier implementations, kept verbatim: the
crossing-point counts of ``_upper_from_affine`` built from ``T x T`` boolean
matrices, a ridge fit made anew for every bound, and ``history_covariates``
building the design anew for every target. Every comparison is bit for bit.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer.adjust import (
    CovariateAdjustment,
    FullConformalRidgeGapModel,
    design_matrix,
    full_conformal_band,
    full_conformal_upper,
    history_covariates,
    make_gap_model,
)
from synthinfer.adjust._full import _affine_residuals, _upper_from_affine
from synthinfer.adjust._gap_models import _band_inputs
from synthinfer.adjust._ridge import penalty_matrix, standardize, with_intercept
from synthinfer.conformal import conformal_ranks
from synthinfer.intervals import WaldInterval

_DEGENERATE = 1e-12


# --- references ------------------------------------------------------------------------


def _reference_upper_from_affine(a, b, rank):
    c = a[..., :-1] - a[..., -1:]
    d = b[..., -1:] - b[..., :-1]
    scale = np.maximum(1.0, np.abs(b).max(axis=-1, keepdims=True))
    positive = d > _DEGENERATE * scale
    negative = d < -_DEGENERATE * scale
    flat = ~(positive | negative)
    always = (flat & (c < 0)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.where(flat, np.nan, c / np.where(flat, 1.0, d))
    count_at_inf = positive.sum(axis=-1) + always
    count_at_minus_inf = negative.sum(axis=-1) + always
    t_i = threshold[..., :, None]
    t_j = threshold[..., None, :]
    counts = (
        (positive[..., None, :] & (t_i > t_j)).sum(axis=-1)
        + (negative[..., None, :] & (t_i < t_j)).sum(axis=-1)
        + always[..., None]
    )
    valid_point = ~flat
    accepted = valid_point & (counts <= rank - 1)
    best = np.where(accepted, threshold, -np.inf).max(axis=-1)
    upper = np.where(count_at_inf <= rank - 1, np.inf, best)
    empty = ~np.isfinite(upper) & (upper < 0)
    if np.any(empty):
        upper = np.where(
            empty,
            _reference_least_bad(threshold, counts, valid_point, count_at_inf, count_at_minus_inf),
            upper,
        )
    return upper


def _reference_least_bad(threshold, counts, valid_point, count_at_inf, count_at_minus_inf):
    big = np.iinfo(np.int64).max
    masked = np.where(valid_point, counts, big)
    lowest = np.minimum(np.minimum(masked.min(axis=-1), count_at_inf), count_at_minus_inf)
    at_lowest = valid_point & (masked == lowest[..., None])
    best = np.where(at_lowest, threshold, -np.inf).max(axis=-1)
    return np.where(count_at_inf == lowest, np.inf, best)


def _reference_affine_residuals(responses, covariates, penalty):
    design = with_intercept(standardize(covariates))
    n_tasks = design.shape[-2]
    gram = np.swapaxes(design, -1, -2) @ design + penalty_matrix(design.shape[-1], penalty)
    padded = np.concatenate([responses, np.zeros((*responses.shape[:-1], 1))], axis=-1)
    rhs = np.stack(
        [
            np.einsum("...np,...n->...p", design, padded),
            design[..., -1, :],
        ],
        axis=-1,
    )
    solution = np.linalg.pinv(gram) @ rhs if penalty == 0 else np.linalg.solve(gram, rhs)
    fitted = design @ solution
    a = padded - fitted[..., 0]
    unit = np.zeros(n_tasks)
    unit[-1] = 1.0
    b = unit - fitted[..., 1]
    return a, b


def _reference_upper(responses, covariates, alpha, *, penalty=1.0):
    values = np.asarray(responses, dtype=float)
    design = np.asarray(covariates, dtype=float)
    n_history = values.shape[-1]
    _, k_upper = conformal_ranks(n_history, alpha)
    shape = np.broadcast_shapes(values.shape[:-1], design.shape[:-2])
    if k_upper > n_history:
        return np.full(shape, np.inf)
    a, b = _reference_affine_residuals(values, design, float(penalty))
    return _reference_upper_from_affine(a, b, k_upper)


def _reference_band(lower, upper, covariates, alpha, *, penalty=1.0):
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    band_hi = _reference_upper(hi, covariates, alpha, penalty=penalty)
    band_lo = -_reference_upper(-lo, covariates, alpha, penalty=penalty)
    mid = (lo + hi) / 2.0
    if np.array_equal(lo, hi):
        spread = band_hi - band_lo
    else:
        spread = _reference_upper(mid, covariates, alpha, penalty=penalty) + (
            _reference_upper(-mid, covariates, alpha, penalty=penalty)
        )
    return band_lo, band_hi, spread


def _reference_gap_band(self, lower, upper, covariates, target_covariates, alpha):
    lo, hi, features, target = _band_inputs(lower, upper, covariates, target_covariates)
    stacked = np.vstack([features, target[None, :]])
    band = _reference_band(lo, hi, stacked, alpha, penalty=self.penalty)
    return float(band[0]), float(band[1]), float(band[2])


def _reference_history_covariates(
    attributes, stats, target, history, *, columns, mode="full", seed=None, penalty=1.0
):
    names = [part.strip() for part in columns.split(",") if part.strip()]
    tasks = list(np.asarray(stats.tasks))
    others = [c for c in names if c != "synth_estimate"]
    missing = [c for c in others if c not in attributes.columns]
    if missing:
        raise ValueError(
            f"--adjust column(s) {missing} are not task attributes; available: "
            f"{[*sorted(map(str, attributes.columns)), 'synth_estimate']}"
        )
    frame = attributes.reindex(tasks)[others].reset_index(drop=True)
    if "synth_estimate" in names:
        frame["synth_estimate"] = np.asarray(stats.synth.estimate, dtype=float).reshape(-1)
    matrix = design_matrix(frame, names).matrix
    return {
        "covariates": matrix[np.asarray(stats.index_of(list(history)))],
        "target_covariates": matrix[np.asarray(stats.index_of([target]))],
        "gap_model": make_gap_model(mode, penalty=penalty, seed=0 if seed is None else seed),
    }


# --- helpers ---------------------------------------------------------------------------


def _same_bits(first, second) -> bool:
    """Equal shapes, dtypes and bytes (so -0.0 differs from 0.0 and NaNs must match)."""
    first, second = np.asarray(first), np.asarray(second)
    return (
        first.shape == second.shape
        and first.dtype == second.dtype
        and first.tobytes() == second.tobytes()
    )


def _same_gap_model(first, second) -> bool:
    """Equal gap models (split mode: equal settings and equal ridge penalties)."""
    if type(first) is not type(second):
        return False
    if hasattr(first, "model"):
        return (first.fit_fraction, first.seed, first.model.penalty) == (
            second.fit_fraction,
            second.seed,
            second.model.penalty,
        )
    return first == second


def _assert_identical(a, b, rank):
    with np.errstate(invalid="ignore", over="ignore"):
        expected = _reference_upper_from_affine(a, b, rank)
        got = _upper_from_affine(a, b, rank)
    assert _same_bits(got, expected), (got, expected)


def _residual_cases(seed: int):
    """Affine residuals of ridge fits on random designs (ties from categorical columns)."""
    rng = np.random.default_rng(seed)
    n_history = int(rng.choice([1, 2, 3, 5, 8, 19, 40, 77]))
    batch = [(), (3,), (2, 3)][seed % 3]
    kind = seed % 4
    if kind == 0:
        covariates = rng.normal(size=(*batch, n_history + 1, 2))
    elif kind == 1:
        covariates = rng.integers(0, 3, size=(*batch, n_history + 1, 2)).astype(float)
    elif kind == 2:
        covariates = np.zeros((*batch, n_history + 1, 0))
    else:
        covariates = np.repeat(rng.normal(size=(*batch, 1, 1)), n_history + 1, axis=-2)
    responses = rng.standard_t(3, size=(*batch, n_history))
    if seed % 5 == 0:
        responses = np.round(responses)  # equal responses: tied crossing points
    penalty = float(rng.choice([0.0, 0.5, 1.0, 10.0]))
    return n_history, responses, covariates, penalty


# --- the counting ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(400))
def test_counting_matches_the_quadratic_reference_on_ridge_residuals(seed):
    n_history, responses, covariates, penalty = _residual_cases(seed)
    a, b = _affine_residuals(responses, covariates, penalty)
    for rank in {1, max(1, n_history // 2), n_history, n_history + 1}:
        _assert_identical(a, b, rank)
    for alpha in (0.05, 0.2, 0.5):
        rank = conformal_ranks(n_history, alpha)[1]
        if rank <= n_history:
            _assert_identical(a, b, rank)


@pytest.mark.parametrize("seed", range(300))
def test_counting_matches_the_reference_on_random_and_degenerate_affine_lines(seed):
    rng = np.random.default_rng(10_000 + seed)
    n_history = int(rng.integers(1, 30))
    shape = (int(rng.integers(1, 4)), n_history + 1)
    kind = seed % 6
    if kind == 0:  # small integers: many equal intercepts, slopes and crossing points
        a = rng.integers(-2, 3, shape).astype(float)
        b = rng.integers(-2, 3, shape).astype(float)
    elif kind == 1:  # zero slopes everywhere: every task flat
        a = rng.normal(size=shape)
        b = np.zeros(shape)
    elif kind == 2:  # slopes equal to the target's, some nearly so (below the tolerance)
        a = rng.normal(size=shape)
        b = np.full(shape, 0.3)
        b[..., : n_history // 2] += rng.choice([0.0, 1e-14, -1e-14, 0.5], n_history // 2)
    elif kind == 3:  # equal intercepts, signed zeros
        a = np.zeros(shape)
        a[..., ::2] = -0.0
        b = rng.normal(size=shape)
    elif kind == 4:  # duplicated crossing points of opposite slope signs
        base = rng.normal(size=(shape[0], 1))
        a = np.repeat(base, shape[1], axis=1) * rng.choice([-1.0, 1.0], shape)
        b = rng.choice([-1.0, 1.0, 2.0], shape)
    else:  # continuous
        a = rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4)
        b = rng.normal(size=shape)
    for rank in range(1, n_history + 2):
        _assert_identical(a, b, rank)


@pytest.mark.parametrize(
    "values",
    [
        [np.inf, 0.0, 1.0, 2.0],
        [-np.inf, 0.0, 1.0, 2.0],
        [0.0, np.inf, -np.inf, 1.0],
        [np.nan, 0.0, 1.0, 2.0],
        [1.0, np.nan, 0.5, 0.25],
        [1e308, -1e308, 0.0, 1e-300],
        [0.0, 0.0, 0.0, 0.0],
    ],
)
@pytest.mark.parametrize(
    "slopes",
    [
        [1.0, -1.0, 2.0, 0.5],
        [1e-310, -1e-310, 1e-300, 0.0],
        [np.inf, 1.0, -1.0, 0.0],
        [np.nan, 1.0, -1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ],
)
def test_counting_matches_the_reference_with_infinite_and_missing_values(values, slopes):
    a = np.array(values)
    b = np.array(slopes)
    for rank in range(1, 5):
        _assert_identical(a, b, rank)
        _assert_identical(-a, b, rank)
        _assert_identical(a[::-1].copy(), b, rank)


@pytest.mark.parametrize("n_history", [1, 2])
def test_counting_matches_the_reference_for_the_smallest_histories(n_history):
    rng = np.random.default_rng(n_history)
    for _ in range(200):
        a = rng.integers(-2, 3, (4, n_history + 1)).astype(float)
        b = rng.integers(-2, 3, (4, n_history + 1)).astype(float)
        for rank in range(1, n_history + 2):
            _assert_identical(a, b, rank)


def test_no_history_fails_alike():
    a, b = np.zeros(1), np.ones(1)
    with pytest.raises(ValueError):
        _reference_upper_from_affine(a, b, 1)
    with pytest.raises(ValueError):
        _upper_from_affine(a, b, 1)


def _table(n_history: int, n_targets: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_tasks = n_history + n_targets
    synth = rng.uniform(0.2, 0.8, n_tasks)
    role = rng.choice(["a", "b", "c"], n_tasks)
    real = synth + 0.1 * (role == "b") + rng.normal(0, 0.03, n_tasks)
    target = np.arange(n_tasks) >= n_history
    return pd.DataFrame(
        {
            "task": [f"t{i}" for i in range(n_tasks)],
            "synth_estimate": synth,
            "synth_se": 0.01,
            "real_estimate": np.where(target, np.nan, real),
            "gap_estimate": np.where(target, np.nan, real - synth),
            "gap_se": np.where(target, np.nan, 0.015),
            "difficulty": np.round(rng.uniform(0, 1, n_tasks), 1),
            "role": role,
        }
    )


def _assert_same_frames(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    for column in fast.columns:
        if fast[column].dtype == np.float64:
            assert _same_bits(fast[column].to_numpy(), slow[column].to_numpy()), column


OPTIONS = {
    "alpha": [0.1, 0.2],
    "method": ["exchangeable", "finite-sample"],  # task-only refuses --adjust
    "adjust": "difficulty,role,synth_estimate",
}


def test_whole_band_is_unchanged_through_infer(monkeypatch):
    table = _table(300, 5, seed=7)
    fast = synthinfer.infer(table, **OPTIONS).to_frame()
    monkeypatch.setattr(FullConformalRidgeGapModel, "band", _reference_gap_band)
    slow = synthinfer.infer(table, **OPTIONS).to_frame()
    _assert_same_frames(fast, slow)


def test_whole_band_is_unchanged_through_a_leave_one_out_backtest(monkeypatch):
    table = _table(60, 0, seed=8)
    fast = synthinfer.backtest(table, protocol="loo", **OPTIONS).tasks
    monkeypatch.setattr(FullConformalRidgeGapModel, "band", _reference_gap_band)
    slow = synthinfer.backtest(table, protocol="loo", **OPTIONS).tasks
    _assert_same_frames(fast, slow)


@pytest.mark.parametrize("seed", range(60))
def test_band_and_bound_match_the_reference(seed):
    _, responses, covariates, penalty = _residual_cases(seed)
    lower = responses
    upper = responses + np.abs(np.random.default_rng(seed).normal(size=responses.shape))
    for alpha in (0.1, 0.3, 0.6):
        got = full_conformal_band(lower, upper, covariates, alpha, penalty=penalty)
        expected = _reference_band(lower, upper, covariates, alpha, penalty=penalty)
        for mine, theirs in zip(got, expected, strict=True):
            assert _same_bits(mine, theirs)
        got = full_conformal_band(lower, lower, covariates, alpha, penalty=penalty)
        expected = _reference_band(lower, lower, covariates, alpha, penalty=penalty)
        for mine, theirs in zip(got, expected, strict=True):
            assert _same_bits(mine, theirs)
        bound = full_conformal_upper(upper, covariates, alpha, penalty=penalty)
        assert _same_bits(bound, _reference_upper(upper, covariates, alpha, penalty=penalty))


def test_gap_model_reuses_the_fit_only_for_identical_covariates():
    rng = np.random.default_rng(4)
    covariates = rng.normal(size=(80, 2))
    gaps = rng.normal(size=80)
    model = FullConformalRidgeGapModel()
    for target in ([0.1, 0.2], [0.1, 0.2], [-0.0, 0.2], [0.0, 0.2], [0.3, -1.0]):
        for alpha in (0.2, 0.4):
            got = model.band(gaps, gaps + 0.1, covariates, np.array(target), alpha)
            expected = _reference_gap_band(
                model, gaps, gaps + 0.1, covariates, np.array(target), alpha
            )
            assert _same_bits(np.array(got), np.array(expected))


# --- the design, built once --------------------------------------------------------------


def _statistics(tasks, estimates):
    position = {task: index for index, task in enumerate(tasks)}
    return SimpleNamespace(
        tasks=np.asarray(tasks),
        synth=WaldInterval(np.asarray(estimates), np.full(len(tasks), 0.01)),
        index_of=lambda names: np.array([position[name] for name in names], dtype=int),
    )


@pytest.mark.parametrize("mode", ["full", "split"])
@pytest.mark.parametrize("columns", ["synth_estimate", "difficulty,role", "role,synth_estimate"])
def test_once_built_design_equals_history_covariates_in_every_fold(mode, columns):
    rng = np.random.default_rng(5)
    tasks = [f"t{i}" for i in range(40)]
    attributes = pd.DataFrame(
        {
            "difficulty": rng.uniform(size=40),
            "role": rng.choice(["co", "opp", "mid"], 40),
            "flag": rng.choice([True, False], 40),
        },
        index=tasks,
    )
    coordinates = [_statistics(tasks, rng.uniform(size=40)) for _ in range(2)]
    adjustment = CovariateAdjustment(attributes, columns, mode=mode, seed=3, penalty=0.5)
    for target in tasks:
        history = [task for task in tasks if task != target]
        for stats in coordinates:
            got = adjustment.history_fields(stats, target, history)
            one_shot = history_covariates(
                attributes, stats, target, history, columns=columns, mode=mode, seed=3, penalty=0.5
            )
            expected = _reference_history_covariates(
                attributes, stats, target, history, columns=columns, mode=mode, seed=3, penalty=0.5
            )
            for fields in (one_shot, got):
                assert fields.keys() == expected.keys()
                assert _same_bits(fields["covariates"], expected["covariates"])
                assert _same_bits(fields["target_covariates"], expected["target_covariates"])
                assert _same_gap_model(fields["gap_model"], expected["gap_model"])


def test_once_built_design_follows_new_statistics_and_keeps_errors():
    tasks = ["a", "b", "c", "d"]
    attributes = pd.DataFrame({"role": ["co", "opp", "co", "opp"]}, index=tasks)
    adjustment = CovariateAdjustment(attributes, ["synth_estimate", "role"])
    first = adjustment.history_fields(_statistics(tasks, [0.1, 0.2, 0.3, 0.4]), "d", tasks[:3])
    second = adjustment.history_fields(_statistics(tasks, [0.5, 0.6, 0.7, 0.8]), "d", tasks[:3])
    np.testing.assert_array_equal(first["covariates"][:, 0], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(second["covariates"][:, 0], [0.5, 0.6, 0.7])
    bad = CovariateAdjustment(attributes, "party")
    for _ in range(2):
        with pytest.raises(ValueError, match=r"\['party'\].*synth_estimate"):
            bad.history_fields(_statistics(tasks, [0.1, 0.2, 0.3, 0.4]), "d", tasks[:3])
