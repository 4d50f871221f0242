"""The paper's experiments end to end (bundled data, small simulated studies)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from synthinfer.cli import app as synthinfer_app
from synthinfer.studies.reproduce import (
    coverage_flag,
    markdown_table,
    reproduce,
    reproduce_arena,
    reproduce_pew,
    reproduce_simulated,
    width_flag,
)


@pytest.fixture(scope="module")
def agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    return matplotlib


@pytest.fixture
def app() -> typer.Typer:
    return synthinfer_app


def test_coverage_flag_uses_monte_carlo_error_and_rounding():
    # Paper 0.99 at R = 1000 and ours at R = 1000: SE of the difference ~ 0.0045.
    assert not coverage_flag(0.985, 0.99, reps=1000, paper_reps=1000)
    assert coverage_flag(0.95, 0.99, reps=1000, paper_reps=1000)
    # Fixed data: only the rounding to whole percent.
    assert not coverage_flag(0.9178, 0.92, reps=None, paper_reps=None)
    assert coverage_flag(0.90, 0.92, reps=None, paper_reps=None)
    assert not coverage_flag(0.5, math.nan, reps=None, paper_reps=None)
    # no finite interval (coverage over finite intervals is NaN) differs from a stated number
    assert coverage_flag(math.nan, 1.0, reps=None, paper_reps=None)


def test_width_flag_relative_tolerance_and_rounding():
    assert not width_flag(0.5270, 0.515, relative=0.025)  # within 2.5% + 0.0005
    assert width_flag(0.5285, 0.515, relative=0.025)
    assert not width_flag(0.36484, 0.365, relative=None)
    assert width_flag(0.3640, 0.365, relative=None)
    assert not width_flag(1.0, math.nan, relative=None)
    assert width_flag(math.nan, 0.365, relative=None)


def test_markdown_table():
    frame = pd.DataFrame({"method": ["a", "b"], "coverage": [0.91234, math.nan]})
    assert markdown_table(frame) == ("| method | coverage |\n|---|---|\n| a | 0.9123 |\n| b |  |")


def test_simulated_protocol_writes_results_and_compares_with_the_paper(tmp_path):
    result = reproduce_simulated(reps=300, seed=5, out=tmp_path, plots=False)
    summary = result.summary_frame
    assert len(summary) == 4 * 2 + 4 * 3
    assert set(zip(summary["tasks"], summary["allocation"], strict=True)) == {
        (40, "abs:0.005,0.005"),
        (100, "prop:0.1,0.2,0.7"),
    }
    stated = summary.dropna(subset=["paper_coverage"])
    assert len(stated) == 4
    assert (stated["tasks"] == 100).all() and (stated["alpha"] == 0.1).all()
    assert result.flagged == 0
    assert len(result.tasks) == 300 * len(summary)
    names = sorted(path.name for path in result.files)
    assert names == ["simulated_summary.csv", "simulated_summary.md", "simulated_tasks.csv"]
    written = pd.read_csv(tmp_path / "simulated_summary.csv")
    assert written["flag"].isna().all()  # empty flags: nothing differs
    assert "paper_coverage" in (tmp_path / "simulated_summary.md").read_text()
    again = reproduce_simulated(reps=300, seed=5, plots=False)
    pd.testing.assert_frame_equal(result.summary_frame, again.summary_frame)


def test_simulated_protocol_flags_a_difference_from_the_paper():
    # A paper coverage far from ours is flagged.
    result = reproduce_simulated(reps=300, seed=5, plots=False)
    summary = result.summary_frame.copy()
    row = summary.index[(summary["tasks"] == 100) & (summary["method"] == "exchangeable")][0]
    summary.loc[row, "paper_coverage"] = 0.80
    from synthinfer.studies.reproduce import _flags

    flags = _flags(summary, reps=300, relative=0.025)
    assert flags.loc[row] == "DIFFERS"


def test_pew_reproduces_the_papers_numbers_and_writes_forest_plots(tmp_path, agg):
    result = reproduce_pew(out=tmp_path, plots=True)
    summary = result.summary_frame.set_index(["protocol", "method", "alpha", "coord"])
    pooled = summary.loc[("loo", "exchangeable", 0.1, "all")]
    assert pooled["coverage"] == 1.0
    assert round(pooled["mean_width"], 3) == 0.365  # PAPER.md: mean width 0.365
    for coord in ("co", "opp"):
        assert summary.loc[("loo", "exchangeable", 0.1, coord), "coverage"] == 1.0
        assert summary.loc[("loo", "synthetic-only", 0.1, coord), "coverage"] == 0.0
    assert summary.loc[("loo", "exchangeable", 0.1, "all"), "tasks"] == 48
    assert summary.loc[("temporal", "exchangeable", 0.2, "all"), "tasks"] == 8
    # 40 history tasks are too few for this split at alpha 0.1: counted as infinite, not covered
    temporal = summary.loc[("temporal", "exchangeable", 0.1, "all")]
    assert temporal["infinite"] == 16 and temporal["finite"] == 0
    assert math.isnan(temporal["coverage"]) and math.isnan(temporal["mean_width"])
    assert result.flagged == 0
    assert any("too few for a finite band" in note for note in result.notes)
    for name in ("forest_pew_loo.png", "forest_pew_temporal.png", "pew_tasks.csv"):
        assert (tmp_path / name).stat().st_size > 1000
    report = result.report()
    assert "0.3648" in report and "0.365" in report


def test_arena_runs_what_the_data_allows_and_says_why(tmp_path, agg):
    result = reproduce_arena(out=tmp_path, plots=True)
    summary = result.summary_frame.set_index("method")
    assert round(summary.loc["finite-sample", "coverage"], 2) == 0.92  # PAPER.md: 92%
    assert round(summary.loc["finite-sample", "mean_width"], 3) == 0.032
    assert round(summary.loc["synthetic-only", "coverage"], 2) == 0.19  # PAPER.md: 19%
    assert round(summary.loc["synthetic-only", "mean_width"], 3) == 0.006
    assert summary.loc["exchangeable", "flag"] == "not run: needs gap_se"
    assert result.flagged == 0
    assert "no per-model gap standard errors" in result.report()
    assert (tmp_path / "forest_arena.png").exists()


def test_reproduce_rejects_unknown_experiments():
    with pytest.raises(ValueError, match="experiment must be one of"):
        reproduce("anes")


def test_cli_reproduce_prints_the_summary(app, tmp_path):
    result = CliRunner().invoke(
        app, ["reproduce", "simulated", "--reps", "200", "--out", str(tmp_path), "--no-plots"]
    )
    assert result.exit_code == 0, result.output
    assert "reproduce simulated" in result.stdout
    assert "every row with a paper number agrees" in result.stdout
    assert (tmp_path / "simulated_summary.md").exists()
    bad = CliRunner().invoke(app, ["reproduce", "anes"])
    assert bad.exit_code != 0
