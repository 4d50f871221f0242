"""p-values invert the family of intervals exactly: ``p <= alpha`` iff ``at(alpha)`` excludes.

Every check here compares :meth:`IntervalResult.pvalue` with intervals
recomputed independently by :meth:`IntervalResult.at`, on grids of nulls and
levels that include the conformal jump levels (and the doubles either side of
them), the p-value itself and the double just below it. The seeded Monte Carlo
checks that p-values are uniform (exact Wald), tight (finite-sample) or
conservative (exchangeable) under the null.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer._columns import PVALUE_COLUMNS
from synthinfer.allocation import Allocation
from synthinfer.cli import app
from synthinfer.conformal import conformal_ranks
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.pvalues import (
    LOWEST_LEVEL,
    excludes,
    invert,
    parse_null,
    smallest_rejecting_level,
)
from synthinfer.results import IntervalResult
from synthinfer.studies import SimulationModel, simulate_tasks

ALPHAS = (0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95)
GAP_METHODS = ("exchangeable", "weighted", "task-only")


def quiet(function, *args, **kwargs):
    """Call ``function`` with warnings (infinite intervals, default bounds) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def summary(n_history: int = 25, *, seed: int = 1, ties: bool = False) -> pd.DataFrame:
    """A summary table of ``n_history`` history tasks and one target ``target``."""
    rng = np.random.default_rng(seed)
    n = n_history + 1
    synth = rng.uniform(0.3, 0.7, n)
    gap = rng.normal(0.05, 0.05, n)
    gap_se = rng.uniform(0.005, 0.02, n)
    if ties:  # gaps on a coarse grid and one SE: tied gap intervals and observed gaps
        gap, gap_se = np.round(gap / 0.02) * 0.02, np.full(n, 0.01)
    frame = pd.DataFrame(
        {
            "task": [f"h{j:02d}" for j in range(n_history)] + ["target"],
            "synth_estimate": synth,
            "synth_se": rng.uniform(0.005, 0.02, n),
            "real_estimate": synth + gap,
            "gap_se": gap_se,
            "time": np.arange(n, dtype=float),
        }
    )
    frame.loc[n_history:, ["real_estimate", "gap_se"]] = np.nan
    return frame


def long_table(n_history: int = 12, *, binary: bool = False, seed: int = 3) -> pd.DataFrame:
    """Unit-level rows: ``n_history`` history tasks with both sources, one synthetic target."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_history + 1):
        task = "target" if j == n_history else f"h{j:02d}"
        shift = rng.normal(0.0, 0.3)
        sources = (("synthetic", 40),) if task == "target" else (("real", 30), ("synthetic", 40))
        for source, size in sources:
            values = rng.normal(shift + (0.2 if source == "real" else 0.0), 1.0, size)
            if binary:
                values = (values > 0).astype(float)
            rows += [{"task": task, "source": source, "value": float(v)} for v in values]
    return pd.DataFrame(rows)


class Levels:
    """``at(alpha)`` of one result, computed once per level."""

    def __init__(self, result: IntervalResult) -> None:
        self.result = result
        self.cache: dict[float, tuple[float, float] | None] = {}

    def ends(self, alpha: float) -> tuple[float, float] | None:
        """``(lower, upper)`` at ``alpha``; ``None`` where an ``abs`` split does not fit."""
        if alpha not in self.cache:
            try:
                again = self.result.at(alpha)
                self.cache[alpha] = (again.lower, again.upper)
            except ValueError as error:
                assert "does not fit" in str(error)
                self.cache[alpha] = None
        return self.cache[alpha]

    def rejects(self, alpha: float, null: float, alternative: str) -> bool:
        """Whether the interval test at ``alpha`` rejects ``null`` (one-sided: at ``2 alpha``)."""
        level = alpha if alternative == "two-sided" else 2.0 * alpha
        ends = self.ends(level)
        if ends is None:
            return False
        lower, upper = ends
        if alternative == "greater":
            return lower > null
        if alternative == "less":
            return upper < null
        return null < lower or null > upper


def jump_levels(result: IntervalResult) -> list[float]:
    """Overall levels where the conformal rank of ``result``'s band steps up (and either side)."""
    n_history = result.n_history
    if result.method == "synthetic-only" or n_history == 0:
        return []
    if result.method == "finite-sample":
        share = 1.0
    else:
        values = result.allocation.values if result.allocation.kind == "prop" else ()
        if not values:
            return []
        share = values[2] / sum(values)
    levels = []
    for k in (1, 2, 3):
        alpha = 2.0 * k / (n_history + 1) / share * result.n_coords
        if alpha < 1.0:
            levels += [alpha, math.nextafter(alpha, 0.0), math.nextafter(alpha, 1.0)]
    return levels


def nulls_of(result: IntervalResult) -> list[float]:
    """Null values at interesting places: interval ends at several levels, points, far away."""
    ends = [result.at(a) for a in (0.05, 0.5) if Levels(result).ends(a) is not None]
    values = [result.estimate, result.synth_estimate, result.lower, result.upper]
    values += [v for r in ends for v in (r.lower, r.upper)]
    values += [result.synth_estimate + d for d in (-0.3, 0.3)]
    values = [float(v) for v in values if math.isfinite(v)]
    if result.bounds is not None:
        values = [v for v in values if result.bounds[0] <= v <= result.bounds[1]]
        values += list(result.bounds)
    return sorted(set(values))


def check_duality(result: IntervalResult, alternatives=("two-sided", "greater", "less")) -> int:
    """Assert ``p <= alpha`` iff the test at ``alpha`` rejects, on a grid; return the checks."""
    levels = Levels(result)
    grid = [*ALPHAS, *jump_levels(result)]
    checks = 0
    for alternative in alternatives:
        for null in nulls_of(result):
            p = result.pvalue(null, alternative)
            assert 0.0 < p <= 1.0
            points = [*grid, p, math.nextafter(p, 0.0)] if p < 1.0 else grid
            if alternative != "two-sided":
                assert p < 0.5 or p == 1.0
                points = [a for a in points if 2.0 * a < 1.0]
            for alpha in points:
                if alpha < LOWEST_LEVEL or alpha >= 1.0:
                    continue
                expected = levels.rejects(alpha, null, alternative)
                assert (p <= alpha) == expected, (result.method, alternative, null, alpha, p)
                checks += 1
    return checks


# ------------------------------------------------------------------ the generic inversion


def test_invert_a_wald_family_gives_the_normal_p_values():
    from scipy.stats import norm

    def wald(alpha: float) -> tuple[float, float]:
        half = norm.ppf(1 - alpha / 2) * 0.1
        return 0.3 - half, 0.3 + half

    z = (0.3 - 0.1) / 0.1
    assert invert(wald, 0.1) == pytest.approx(2 * norm.sf(z), rel=1e-12)
    assert invert(wald, 0.1, "greater") == pytest.approx(norm.sf(z), rel=1e-12)
    assert invert(wald, 0.1, "less") == 1.0  # U(2 alpha) > 0.3 > 0.1 at every level
    assert invert(wald, 0.5, "less") == pytest.approx(norm.sf(2.0), rel=1e-12)
    assert invert(wald, 0.3) == 1.0  # the estimate: no level excludes it


def test_the_step_side_is_closed_at_the_jump_level():
    """A band that narrows at ``alpha = 0.2`` exactly (as a conformal rank does) has
    p = 0.2 for a null it then excludes: ``p <= 0.2`` and the interval at 0.2 excludes."""

    def step(alpha: float) -> tuple[float, float]:
        return (0.0, 1.0) if alpha < 0.2 else (0.0, 0.5)

    assert invert(step, 0.7) == 0.2
    assert excludes(*step(0.2), 0.7)
    assert not excludes(*step(math.nextafter(0.2, 0)), 0.7)
    assert invert(step, 0.5) == 1.0  # closed interval: the end itself is never excluded


def test_a_continuous_end_gives_the_smallest_double_above_the_crossing():
    def linear(alpha: float) -> tuple[float, float]:
        return alpha, 2.0  # lower end crosses the null 0.25 at alpha = 0.25, still inside

    p = invert(linear, 0.25)
    assert p == math.nextafter(0.25, 1.0)
    assert excludes(*linear(p), 0.25) and not excludes(*linear(0.25), 0.25)


def test_infinite_intervals_never_exclude_and_a_family_must_be_nested():
    assert invert(lambda a: (-math.inf, math.inf), 1e9) == 1.0
    assert invert(lambda a: (-math.inf, math.inf) if a < 0.5 else (0.0, 0.1), 3.0) == 0.5
    with pytest.raises(ValueError, match="not nested"):
        invert(lambda a: (-a, a), 0.5)  # grows with the level
    with pytest.raises(ValueError, match="NaN"):
        invert(lambda a: (math.nan, 1.0), 0.5)
    with pytest.raises(ValueError, match="alternative"):
        invert(lambda a: (0.0, 1.0), 0.5, "bigger")
    with pytest.raises(ValueError, match="finite number"):
        invert(lambda a: (0.0, 1.0), math.inf)
    assert smallest_rejecting_level(lambda a: (0.0, 1.0), lambda lo, hi: True) == LOWEST_LEVEL


def test_parse_null():
    assert parse_null("0.5") == 0.5
    assert parse_null("co=0.5,opp=0.25") == {"co": 0.5, "opp": 0.25}
    for bad in ("x", "co=0.5,co=0.4", "=0.5", "co=abc", "nan"):
        with pytest.raises(ValueError, match="null"):
            parse_null(bad)


# ------------------------------------------------------- duality for every method and family


@pytest.mark.parametrize("allocation", ["prop:0.1,0.2,0.7", "abs:0.005,0.005", "auto"])
def test_duality_every_method_and_allocation(allocation):
    methods = [*GAP_METHODS, "finite-sample", "synthetic-only"]
    result = quiet(
        synthinfer.infer, summary(25), alpha=0.1, method=methods, allocation=allocation, decay=0.97
    )
    assert {r.method for r in result} == set(methods)
    assert sum(check_duality(r) for r in result) > 500


def test_duality_with_bounds_ties_and_an_infinite_band():
    clipped = quiet(
        synthinfer.infer,
        summary(25),
        alpha=0.1,
        method=["exchangeable", "finite-sample"],
        bounds=(0, 1),
        allocation="prop:0.1,0.2,0.7",
    )
    tied = quiet(
        synthinfer.infer,
        summary(30, ties=True),
        alpha=0.1,
        method=["exchangeable", "finite-sample"],
        allocation="prop:0.1,0.2,0.7",
    )
    gaps = summary(30, ties=True)
    assert gaps["real_estimate"].sub(gaps["synth_estimate"]).round(9).duplicated().sum() > 10
    small = quiet(
        synthinfer.infer, summary(8), alpha=0.1, bounds=(0, 1), allocation="prop:0.1,0.2,0.7"
    )
    (infinite,) = small.intervals
    assert not infinite.feasible and (infinite.lower, infinite.upper) == (0.0, 1.0)
    # T = 8: finite from alpha3 = 2/9 (alpha = 2/9/0.7); below it nothing in [0, 1] is excluded
    assert infinite.pvalue(0.0) >= 2 / 9 / 0.7 * (1 - 1e-8)
    for result in (*clipped, *tied, infinite):
        assert check_duality(result) > 50


def test_duality_at_the_conformal_jumps_of_finite_sample():
    (result,) = quiet(synthinfer.infer, summary(25), alpha=0.1, method="finite-sample")
    observed = result.history.observed
    ordered = np.sort(observed)
    for k in (1, 2, 3):
        # the band's lower end at rank k: a null just below it is excluded from alpha = 2k/26 on
        null = result.synth_estimate + ordered[k - 1] - 1e-9
        p = result.pvalue(null)
        jump = 2.0 * k / 26
        assert conformal_ranks(25, p)[0] == k and conformal_ranks(25, math.nextafter(p, 0))[0] < k
        assert p == pytest.approx(jump, rel=1e-8)
        assert result.at(p).lower > null >= result.at(math.nextafter(p, 0.0)).lower


@pytest.mark.parametrize("mode", ["full", "split"])
def test_duality_with_a_covariate_adjusted_band(mode):
    result = quiet(
        synthinfer.infer,
        summary(40),
        alpha=0.2,
        method=["exchangeable", "finite-sample"],
        adjust="synth_estimate",
        adjust_mode=mode,
    )
    for interval in result:
        assert check_duality(interval, alternatives=("two-sided",)) > 100


@pytest.mark.parametrize(
    ("options", "binary"),
    [
        ({"interval": "wald"}, False),
        ({"interval": "hoeffding"}, True),
        ({"interval": "bootstrap", "n_bootstrap": 200}, False),
        ({"estimand": "quantile:0.5", "n_bootstrap": 200}, False),
    ],
    ids=["wald", "hoeffding", "bootstrap", "order-statistics"],
)
def test_duality_for_every_interval_family(options, binary):
    table = long_table(30, binary=binary)
    result = quiet(
        synthinfer.infer,
        table,
        alpha=0.2,
        method=["exchangeable", "finite-sample", "synthetic-only"],
        allocation="prop:0.1,0.2,0.7",
        **options,
    )
    for interval in result:
        assert check_duality(interval, alternatives=("two-sided", "greater")) > 20


def test_each_family_type_is_the_one_asked_for():
    names = {}
    for key, options, binary in [
        ("hoeffding", {"interval": "hoeffding"}, True),
        ("bootstrap", {"interval": "bootstrap", "n_bootstrap": 100}, False),
        ("quantile", {"estimand": "quantile:0.5", "n_bootstrap": 100}, False),
    ]:
        result = quiet(synthinfer.infer, long_table(5, binary=binary), alpha=0.3, **options)
        names[key] = type(result[0].target).__name__
    assert names == {
        "hoeffding": "HoeffdingInterval",
        "bootstrap": "BootstrapInterval",
        "quantile": "OrderStatisticInterval",
    }


def labelled_pairs(n_tasks: int = 22, n_units: int = 80, seed: int = 0) -> pd.DataFrame:
    """Paired unit-level rows; the last task ``target`` has 25 labelled units."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tasks):
        task = "target" if t == n_tasks - 1 else f"h{t:02d}"
        real = rng.normal(rng.normal(0, 1), 1.0, n_units)
        bias = rng.normal(0.3, 0.2)
        labels = 25 if task == "target" else 50
        for u in range(n_units):
            if u < labels:
                rows.append({"task": task, "source": "real", "value": real[u], "unit": u})
            synth = 0.8 * real[u] + bias + rng.normal(0, 0.5)
            rows.append({"task": task, "source": "synthetic", "value": synth, "unit": u})
    return pd.DataFrame(rows)


def test_duality_for_labelled_methods():
    from synthinfer.methods import METHODS

    labelled = [m for m in ("ppi", "hybrid") if m in METHODS]
    if not labelled:
        pytest.skip("no labelled-pair methods")
    result = quiet(synthinfer.infer, labelled_pairs(), targets="target", alpha=0.2, method=labelled)
    assert {r.method for r in result} == set(labelled)
    for interval in result:
        assert check_duality(interval, alternatives=("two-sided", "less")) > 20


# ------------------------------------------------------------------ several coordinates


@pytest.fixture(scope="module")
def pew_targets():
    cells = synthinfer.pew_tasks()
    newest = cells["time"] == cells["time"].max()
    cells.loc[newest, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    return quiet(
        synthinfer.infer, cells, alpha=0.1, bounds=(0, 1), method=["exchangeable", "finite-sample"]
    )


def test_duality_per_coordinate_at_alpha_over_d(pew_targets):
    assert {r.coord for r in pew_targets} == {"co", "opp"}
    for result in pew_targets.intervals[:4]:
        assert result.n_coords == 2
        assert check_duality(result, alternatives=("two-sided", "greater")) > 50


def test_joint_pvalue_inverts_the_rectangle(pew_targets):
    null = {"co": 0.75, "opp": 0.1}
    per = pew_targets.pvalue(null)
    assert list(per.columns) == list(PVALUE_COLUMNS)
    assert list(PVALUE_COLUMNS[-3:]) == ["null", "alternative", "pvalue"]
    assert len(per) == len(pew_targets)
    joint = pew_targets.joint_pvalue(null)
    assert len(joint) == len(pew_targets) // 2 and (joint["coords"] == 2).all()
    by_key = {(r.task, r.method): [] for r in pew_targets}
    for r in pew_targets:
        by_key[(r.task, r.method)].append(r)
    for row in joint.itertuples():
        rectangle = [Levels(r) for r in by_key[(row.task, row.method)]]
        for alpha in (*ALPHAS, row.pvalue, math.nextafter(row.pvalue, 0.0)):
            if alpha >= 1.0:
                continue
            outside = any(
                levels.rejects(alpha, null[levels.result.coord], "two-sided")
                for levels in rectangle
            )
            assert (row.pvalue <= alpha) == outside
    with pytest.raises(ValueError, match="missing 'opp'"):
        pew_targets.pvalue({"co": 0.5})
    with pytest.raises(ValueError, match="unknown 'x'"):
        pew_targets.pvalue({"co": 0.5, "opp": 0.5, "x": 1.0})
    with pytest.raises(ValueError, match="outside the bounds"):
        pew_targets[0].pvalue(1.5)


def test_backtest_keeps_its_intervals_for_p_values():
    result = quiet(synthinfer.backtest, summary(20).iloc[:20], alpha=0.2, allocation="auto")
    frame = result.pvalue(0.5)
    assert len(frame) == len(result.tasks)
    assert (
        frame[["task", "coord", "method"]].values
        == result.tasks[["task", "coord", "method"]].values
    ).all()
    for interval in result.intervals[:3]:
        assert check_duality(interval, alternatives=("two-sided",)) > 10


# ----------------------------------------------------------------- Monte Carlo under the null


def null_rejections(method: str, model, tasks: int, reps: int, seed: int) -> np.ndarray:
    """Per replication, the p-value of the current task's truth (its own method's target)."""
    sim = simulate_tasks(model, reps, tasks, seed=seed)
    truth = sim.truth(method)
    pvalues = np.empty(reps)
    for r in range(reps):
        target = WaldInterval(sim.synth_estimate[r, -1:], sim.synth_se[r, -1:])
        gap = WaldInterval(sim.gap_estimate[r], sim.gap_se[r])
        history = History(gap=gap, observed=gap.estimate)
        allocation = Allocation.parse("prop:0.1,0.2,0.7")
        calibration = calibrate(method, target, history, 0.2, allocation)
        result = IntervalResult.from_calibration(
            calibration,
            task="current",
            coord="",
            alpha=0.2,
            n_coords=1,
            bounds=None,
            allocation=allocation,
            target=target,
            history=history,
        )
        pvalues[r] = result.pvalue(truth[r])
    return pvalues


def mcse_bound(alpha: float, reps: int) -> float:
    return 3.0 * math.sqrt(alpha * (1.0 - alpha) / reps)


REPS, TASKS, LEVELS = 300, 39, (0.1, 0.2, 0.3)


def test_wald_p_values_are_uniform_under_the_null():
    """synthetic-only on unbiased Gaussian tasks: the Wald p-value is uniform (both sides)."""
    unbiased = SimulationModel.parse("gaussian", bias=0.0, tau=0.0)
    pvalues = null_rejections("synthetic-only", unbiased, TASKS, REPS, seed=11)
    for alpha in LEVELS:
        assert abs(np.mean(pvalues <= alpha) - alpha) <= mcse_bound(alpha, REPS), alpha


def test_finite_sample_p_values_are_exact_under_the_null():
    """With T = 9 history tasks and continuous gaps, P(p <= alpha) = 2 k_L / (T + 1) exactly,
    ``k_L = floor((T + 1) alpha / 2)``: 0.2 at alpha 0.2 and 0.3, 0.4 at 0.4 (both sides)."""
    tasks = 9
    pvalues = null_rejections("finite-sample", "bernoulli", tasks, REPS, seed=12)
    for alpha, exact in ((0.2, 0.2), (0.3, 0.2), (0.4, 0.4)):
        rate = np.mean(pvalues <= alpha)
        assert abs(rate - exact) <= mcse_bound(exact, REPS), (alpha, rate)
    # the family is infinite below 2/(T+1) (up to the rank tolerance): no smaller p-value
    assert pvalues.min() >= 2 / (tasks + 1) * (1 - 1e-7)


def test_exchangeable_p_values_are_conservative_under_the_null():
    pvalues = null_rejections("exchangeable", "bernoulli", TASKS, REPS, seed=13)
    for alpha in LEVELS:
        assert np.mean(pvalues <= alpha) <= alpha + mcse_bound(alpha, REPS)


# ------------------------------------------------------------------------ command line


def test_cli_null_adds_the_pvalue_column(tmp_path):
    path = tmp_path / "tasks.csv"
    summary(25).to_csv(path, index=False)
    runner = CliRunner()
    args = ["infer", str(path), "--method", "exchangeable,finite-sample", "--alpha", "0.1,0.2"]
    plain = runner.invoke(app, [*args, "--format", "csv"])
    assert plain.exit_code == 0 and "pvalue" not in plain.stdout
    tested = runner.invoke(app, [*args, "--null", "0.5", "--alternative", "greater", "-f", "csv"])
    assert tested.exit_code == 0, tested.output
    frame = pd.read_csv(io.StringIO(tested.stdout))
    columns = list(frame.columns)
    assert columns[columns.index("synth_estimate") + 1] == "pvalue"
    result = quiet(
        synthinfer.infer, summary(25), alpha=[0.1, 0.2], method=["exchangeable", "finite-sample"]
    )
    expected = [r.pvalue(0.5, "greater") for r in result]
    np.testing.assert_allclose(frame["pvalue"].to_numpy(), expected, rtol=1e-12)
    table = runner.invoke(app, [*args, "--null", "0.5"])
    assert table.exit_code == 0 and "pvalue" in table.stdout.splitlines()[0]
    lonely = runner.invoke(app, [*args, "--alternative", "less"])
    assert lonely.exit_code == 2 and "--alternative needs --null" in lonely.output
    bad = runner.invoke(app, [*args, "--null", "co=0.5"])
    assert bad.exit_code == 2 and "null" in bad.output
    backtest = runner.invoke(
        app, ["backtest", str(path), "--null", "0.5", "--alpha", "0.2", "-f", "csv"]
    )
    assert backtest.exit_code == 0, backtest.output
    rows = pd.read_csv(io.StringIO(backtest.stdout))
    assert list(rows.columns[-3:]) == ["pvalue", "truth", "covered"]
    assert rows["pvalue"].between(0, 1).all()


def test_cli_prints_the_joint_pvalue_of_a_multidimensional_estimand(tmp_path):
    cells = synthinfer.pew_tasks()
    newest = cells["time"] == cells["time"].max()
    cells.loc[newest, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    path = tmp_path / "pew.csv"
    cells.to_csv(path, index=False)
    args = ["infer", str(path), "--bounds", "0,1", "--null", "co=0.5,opp=0.1"]
    printed = CliRunner().invoke(app, args)
    assert printed.exit_code == 0, printed.output
    _, _, joint = printed.stdout.partition("joint p-values")
    assert joint and "coords" in joint
    expected = quiet(synthinfer.infer, cells, bounds=(0, 1)).joint_pvalue({"co": 0.5, "opp": 0.1})
    shown = [float(line.split()[-1]) for line in joint.splitlines()[2:] if line.strip()]
    np.testing.assert_allclose(shown, expected["pvalue"].to_numpy(), rtol=1e-3)
    one = CliRunner().invoke(
        app, ["infer", str(path), "--bounds", "0,1", "--null", "0.5", "-f", "csv"]
    )
    assert "joint" not in one.stdout  # csv output keeps one row per coordinate


def test_an_abs_split_keeps_its_proportions_across_levels():
    result = quiet(
        synthinfer.infer,
        summary(25),
        alpha=0.1,
        method="exchangeable",
        allocation="abs:0.005,0.005",
    )[0]
    again = result.at(0.05)
    assert (again.alpha1, again.alpha2, again.alpha3) == pytest.approx((0.0025, 0.0025, 0.045))
    assert result.at(0.1).width == pytest.approx(result.width)
    # below A1 + A2 = 0.01 an absolute split would leave alpha3 nothing; proportions still split
    assert result.at(0.005).alpha3 == pytest.approx(0.0045)
