"""Diagnostics of task exchangeability on simulated and bundled data."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from synthinfer.diagnose import _holm, diagnose
from synthinfer.plot import plot_diagnostics


def _paper_model(n_tasks: int, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """The paper's simulated tasks in summary format; ``drift`` adds a bias trend in time."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n_tasks)
    time = np.arange(n_tasks, dtype=float)
    p_synth = np.clip(p + rng.normal(0.05, 0.1, n_tasks) + drift * (time / n_tasks - 0.5), 0, 1)
    real = rng.binomial(1000, p) / 1000
    synth = rng.binomial(2000, p_synth) / 2000
    synth_se = np.sqrt(synth * (1 - synth) / 2000)
    return pd.DataFrame(
        {
            "task": [f"t{i}" for i in range(n_tasks)],
            "synth_estimate": synth,
            "synth_se": synth_se,
            "real_estimate": real,
            "gap_estimate": real - synth,
            "gap_se": np.sqrt(real * (1 - real) / 1000 + synth_se**2),
            "time": time,
        }
    )


def _pew_scalar() -> pd.DataFrame:
    """96 scalar GPT-4o Pew tasks with attribute role (co-partisan / opposition)."""
    path = resources.files("synthinfer") / "datasets/data/pew_approval_gpt4o.csv"
    raw = pd.read_csv(str(path))
    raw = raw[raw["party"] != "Other"].copy()
    raw["role"] = np.where(
        raw["party"] == raw["president"].map({"Trump": "Rep", "Biden": "Dem"}), "co", "opp"
    )
    raw["cell"] = raw["region"] + " / " + raw["president"] + " " + raw["wave"]
    raw = raw[raw.groupby("cell")["n"].transform("min") >= 100]
    return pd.DataFrame(
        {
            "task": raw["cell"] + " / " + raw["role"],
            "synth_estimate": raw["synth_mean"],
            "synth_se": raw["synth_se"],
            "real_estimate": raw["real_mean"],
            "gap_estimate": raw["gap_mean"],
            "gap_se": raw["gap_se"],
            "role": raw["role"],
            "time": raw["wave_number"],
        }
    )


def test_paper_model_finds_nothing():
    report = diagnose(_paper_model(100, seed=1))
    assert report.flagged == ()
    assert "Nothing flagged" in report.summary()
    assert {f.test for f in report.findings} == {
        "trend",
        "synth_estimate",
        "calibration",
        "outliers",
    }


def test_drifting_bias_flags_the_trend_and_suggests_weighted():
    report = diagnose(_paper_model(100, seed=1, drift=0.3))
    trend = next(f for f in report.findings if f.test == "trend")
    assert trend.flagged
    assert trend.p_adjusted <= 0.05
    assert "'weighted'" in trend.remedy
    assert trend.statistic < 0  # bias rises in time, so gaps (real − synthetic) fall


def test_pew_flags_the_role_dependence():
    frame = _pew_scalar()
    assert len(frame) == 96
    report = diagnose(frame, n_permutations=999)
    role = next(f for f in report.findings if f.test == "attribute:role")
    assert role.flagged
    assert "--group-by role" in role.remedy
    assert "synth_estimate" in {f.test for f in report.flagged}


def test_outlier_and_subgroup_miscalibration_are_reported():
    frame = _paper_model(60, seed=2).drop(columns="time")
    frame["kind"] = np.where(np.arange(60) % 3 == 0, "wide", "narrow")
    rng = np.random.default_rng(0)
    frame.loc[frame.kind == "wide", "gap_estimate"] = rng.normal(0, 0.6, 20)
    frame.loc[5, "gap_estimate"] = 9.0
    report = diagnose(frame, n_permutations=999)
    assert report.outliers[0] == "t5" or "t5" in report.outliers
    calibration = next(f for f in report.findings if f.test == "calibration")
    assert calibration.flagged
    assert "kind=wide" in calibration.message


def test_per_coordinate_findings():
    a, b = _paper_model(40, seed=3), _paper_model(40, seed=4)
    frame = pd.concat([a.assign(coord="co"), b.assign(coord="opp")])
    report = diagnose(frame, n_permutations=199)
    assert {f.coord for f in report.findings} == {"co", "opp"}
    assert report.n_history == 80
    assert len(report.to_frame()) == len(report.findings)
    assert report.to_dict()["n_permutations"] == 199


def test_holm_adjustment_exact():
    np.testing.assert_allclose(_holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(_holm([0.5, 0.9]), [1.0, 1.0])


def test_permutation_p_values_are_valid_under_the_null():
    """Gaps independent of time and synthetic estimate: flags stay rare (Holm, outlier cutoff)."""
    rng = np.random.default_rng(8)
    flagged = []
    for _ in range(40):
        frame = _paper_model(30, seed=int(rng.integers(1 << 30)))
        frame["gap_estimate"] = rng.normal(0.05, 0.1, 30)
        flagged.append(bool(diagnose(frame, n_permutations=199, seed=1).flagged))
    assert sum(flagged) <= 6  # Binomial(40, 0.06): P(X >= 7) < 0.03


def test_errors_name_what_is_wrong():
    frame = _paper_model(10, seed=0)
    with pytest.raises(ValueError, match=r"\['gap_estimate'\]"):
        diagnose(frame.drop(columns="gap_estimate"))
    with pytest.raises(ValueError, match="n_permutations"):
        diagnose(frame, n_permutations=10)
    with pytest.raises(ValueError, match=r"\['zzz'\]"):
        diagnose(frame, attributes=["zzz"])
    with pytest.raises(ValueError, match="at least 4"):
        diagnose(frame.head(3))


def test_plot_diagnostics():
    import matplotlib

    matplotlib.use("Agg")
    axes = plot_diagnostics(_paper_model(20, seed=0))
    assert axes[0].get_xlabel() == "time"
    assert axes[1].get_xlabel() == "synthetic estimate"


def test_cli_diagnose(tmp_path):
    import json

    from typer.testing import CliRunner

    from synthinfer.cli import app

    path = tmp_path / "pew.csv"
    _pew_scalar().to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["diagnose", str(path), "--permutations", "199", "--plot", str(tmp_path / "d.png")]
    )
    assert result.exit_code == 0, result.output
    assert "FLAG attribute:role" in result.output
    assert "--group-by role" in result.output
    assert (tmp_path / "d.png").stat().st_size > 0
    result = runner.invoke(app, ["diagnose", str(path), "--permutations", "199", "-f", "json"])
    assert json.loads(result.output)["n_history"] == 96
    result = runner.invoke(app, ["diagnose", str(path), "--attribute", "nope"])
    assert result.exit_code == 2
    assert "['nope']" in result.output
