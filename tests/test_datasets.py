"""Bundled data reproduce the paper's reported numbers (PAPER.md experiments 2 and 3)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.cli import app
from synthinfer.datasets import DATASETS, arena_tasks, list_datasets, load_dataset, pew_tasks

runner = CliRunner()

PEW_OPTIONS = [
    "--method",
    "exchangeable,synthetic-only",
    "--allocation",
    "prop:0.05,0.10,0.85",
    "--bounds",
    "0,1",
    "--alpha",
    "0.1,0.15,0.2",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, str]:
    """The pew and arena task tables exported through the CLI."""
    folder = tmp_path_factory.mktemp("export")
    paths = {}
    for name in ("pew", "arena"):
        path = folder / f"{name}.csv"
        result = runner.invoke(app, ["datasets", "export", name, "--out", str(path)])
        assert result.exit_code == 0, result.output
        paths[name] = str(path)
    return paths


def run_backtest(path: str, *options: str, tmp_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-task rows (CSV on stdout) and the summary (--summary-out) of a CLI backtest."""
    summary_path = tmp_path / "summary.csv"
    result = runner.invoke(
        app,
        ["backtest", path, *options, "--format", "csv", "--summary-out", str(summary_path)],
    )
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout)), pd.read_csv(summary_path)


def test_pew_table_shape():
    table = pew_tasks()
    # PAPER.md experiment 2: 48 tasks for GPT-4o with both coordinates >= 100 respondents
    assert table["task"].nunique() == 48
    assert sorted(table["coord"].unique()) == ["co", "opp"]
    assert len(table) == 96
    assert (table["n_real"] >= 100).all()
    # gap_mean = real_mean − synth_mean exactly (data/README.md)
    np.testing.assert_allclose(
        table["gap_estimate"], table["real_estimate"] - table["synth_estimate"], atol=1e-12
    )


def test_pew_leave_one_out_reproduces_paper(exported, tmp_path):
    tasks, summary = run_backtest(
        exported["pew"], "--protocol", "loo", *PEW_OPTIONS, tmp_path=tmp_path
    )
    assert len(tasks) == 48 * 2 * 2 * 3
    assert (tasks.loc[tasks["method"] == "exchangeable", "n_history"] == 47).all()
    rows = summary.set_index(["method", "alpha", "coord"])
    # PAPER.md experiment 2 (Pew, GPT-4o, leave-one-out): coverage 100% on both
    # coordinates at alpha 0.10, mean width 0.365 pooled over coordinates
    for alpha in (0.1, 0.15, 0.2):
        for coord in ("co", "opp", "all"):
            assert rows.loc[("exchangeable", alpha, coord), "coverage"] == 1.0
    assert rows.loc[("exchangeable", 0.1, "all"), "mean_width"] == pytest.approx(0.3648, abs=5e-5)
    assert round(rows.loc[("exchangeable", 0.1, "all"), "mean_width"], 3) == 0.365
    # PAPER.md experiment 2: synthetic-only covers 0%
    for alpha in (0.1, 0.15, 0.2):
        assert rows.loc[("synthetic-only", alpha, "all"), "coverage"] == 0.0
    assert (summary["infinite"] == 0).all()


def test_pew_temporal_reproduces_paper(exported, tmp_path):
    result = runner.invoke(
        app,
        [
            "backtest",
            exported["pew"],
            "--protocol",
            "temporal",
            "--split-time",
            "149",
            "--method",
            "exchangeable",
            "--allocation",
            "prop:0.05,0.10,0.85",
            "--bounds",
            "0,1",
            "--alpha",
            "0.1,0.15,0.2",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    tasks = pd.read_csv(io.StringIO(result.stdout))
    # PAPER.md experiment 2, temporal protocol: calibrate on the ten earliest waves
    # (40 tasks), predict the 8 cells of waves W149 and W156
    assert tasks["task"].nunique() == 8
    assert set(tasks["task"].str.extract(r"(W\d+)$")[0]) == {"W149", "W156"}
    assert (tasks["n_history"] == 40).all()
    finite = tasks[tasks["alpha"] > 0.1]
    assert finite["covered"].all()
    assert finite["feasible"].all()
    assert len(finite) == 8 * 2 * 2
    # at alpha 0.10: alpha3 = 0.05 * 0.85 = 0.0425 needs 47 history tasks; 40 is too few
    infinite = tasks[tasks["alpha"] == 0.1]
    assert not infinite["feasible"].any()
    assert (infinite["lower"] == 0.0).all() and (infinite["upper"] == 1.0).all()
    assert "at least 47 are needed" in result.stderr
    assert "warning:" in result.stderr


def test_arena_finite_sample_reproduces_paper(exported, tmp_path):
    tasks, summary = run_backtest(
        exported["arena"],
        "--method",
        "finite-sample,synthetic-only",
        "--alpha",
        "0.1",
        tmp_path=tmp_path,
    )
    rows = summary.set_index("method")
    # PAPER.md experiment 3 (Arena win rates, 73 models, leave-one-model-out):
    # Algorithm 4 covers 92% (67/73) at mean width 0.032
    assert tasks.loc[tasks["method"] == "finite-sample", "covered"].sum() == 67
    assert rows.loc["finite-sample", "tasks"] == 73
    assert rows.loc["finite-sample", "coverage"] == pytest.approx(67 / 73)
    assert round(rows.loc["finite-sample", "coverage"], 3) == 0.918
    assert round(rows.loc["finite-sample", "mean_width"], 3) == 0.032
    # PAPER.md experiment 3: synthetic-only 19% at 0.006
    assert round(rows.loc["synthetic-only", "coverage"], 2) == 0.19
    assert round(rows.loc["synthetic-only", "mean_width"], 3) == 0.006


def test_arena_exchangeable_needs_gap_se(exported):
    result = runner.invoke(app, ["backtest", exported["arena"], "--method", "exchangeable"])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert "gap_se" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(synthinfer.MissingInputError, match="gap_se"):
        synthinfer.backtest(arena_tasks(), method="exchangeable")


def test_library_and_cli_agree_on_pew(exported, tmp_path):
    result = synthinfer.backtest(
        pew_tasks(),
        method=["exchangeable"],
        alpha=[0.1],
        allocation="prop:0.05,0.10,0.85",
        bounds=(0, 1),
    )
    all_row = result.summary_frame.set_index("coord").loc["all"]
    assert all_row["mean_width"] == pytest.approx(0.3648, abs=5e-5)
    assert all_row["joint_coverage"] == 1.0


def test_dataset_registry():
    listing = list_datasets()
    assert set(DATASETS) <= set(listing["name"])
    assert {"pew", "pew-scalar", "arena"} <= set(listing["name"])
    raw = load_dataset("pew_approval_gpt4o")
    assert {"real_mean", "synth_mean", "gap_mean", "gap_se"} <= set(raw.columns)
    assert len(load_dataset("arena_winrates")) == 73
    assert len(load_dataset("arena_judge_battles")) == 26919
    assert load_dataset("pew-scalar")["task"].nunique() == 96
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_dataset("nope")
    result = runner.invoke(app, ["datasets", "export", "nope", "--out", "x.csv"])
    assert result.exit_code == 2 and "error: unknown dataset" in result.stderr


def test_datasets_list_and_attribution():
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0
    assert "pew_approval_gpt4o" in listed.stdout and "arena" in listed.stdout
    attribution = runner.invoke(app, ["datasets", "attribution"])
    assert attribution.exit_code == 0
    assert "CC BY 4.0" in attribution.stdout
