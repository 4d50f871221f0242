"""The ``arena`` and ``simulate-battles`` commands."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from synthinfer.cli import app as synthinfer_app
from synthinfer.datasets import dataset_path

BATTLES = str(dataset_path("arena_judge_battles"))


@pytest.fixture
def app() -> typer.Typer:
    return synthinfer_app


def test_simulate_then_arena(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    log = tmp_path / "log.parquet"
    truth = tmp_path / "truth.csv"
    result = runner.invoke(
        app,
        [
            "simulate-battles",
            "--out",
            str(log),
            "--models",
            "12",
            "--battles",
            "6000",
            "--release-order",
            "--seed",
            "1",
            "--truth-out",
            str(truth),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(log)
    assert list(frame.columns) == ["model_a", "model_b", "human", "judge", "time"]
    assert len(frame) == 6000
    assert list(pd.read_csv(truth).columns) == [
        "model",
        "strength",
        "judge_bias",
        "time",
        "win_rate",
    ]
    result = runner.invoke(
        app,
        [
            "arena",
            str(log),
            "--protocol",
            "temporal",
            "--split-time",
            "8",
            "-a",
            "0.4",
            "-f",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(io.StringIO(result.stdout))
    assert set(rows["task"]) == {f"model-{k:02d}" for k in range(8, 12)}


def test_summary_out_runs_through_backtest(app: typer.Typer, tmp_path: Path) -> None:
    from synthinfer.cli import app as main_app

    runner = CliRunner()
    summary = tmp_path / "summary.csv"
    options = ["--alpha", "0.2", "--method", "exchangeable,finite-sample", "-m", "synthetic-only"]
    result = runner.invoke(
        app,
        [
            "arena",
            BATTLES,
            "--estimand",
            "bradley-terry",
            "--protocol",
            "loo",
            "--n-gap-bootstrap",
            "40",
            "--seed",
            "2",
            "--summary-out",
            str(summary),
            "--format",
            "csv",
            *options,
        ],
    )
    assert result.exit_code == 0, result.output
    direct = pd.read_csv(io.StringIO(result.stdout))
    assert {"rank_lower", "rank_upper", "estimate_elo", "lower_elo", "upper_elo"} <= set(
        direct.columns
    )
    again = runner.invoke(
        main_app, ["backtest", str(summary), "--protocol", "loo", "--format", "csv", *options]
    )
    assert again.exit_code == 0, again.output
    via_summary = pd.read_csv(io.StringIO(again.stdout))
    for column in ("task", "method", "lower", "upper", "truth", "covered"):
        pd.testing.assert_series_equal(direct[column], via_summary[column])


def test_table_output_and_columns(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    renamed = tmp_path / "renamed.csv"
    frame = pd.read_csv(BATTLES).rename(columns={"human": "vote", "judge": "gpt4"})
    frame["vote"] = frame["vote"].map({"a": "A", "b": "B", "tie": "draw"})
    frame.to_csv(renamed, index=False)
    result = runner.invoke(
        app,
        [
            "arena",
            str(renamed),
            "--protocol",
            "loo",
            "--human-col",
            "vote",
            "--judge-col",
            "gpt4",
            "--verdicts",
            "a,b,tie|draw",
            "-a",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "arena win-rate:" in result.stdout
    assert "backtest (loo):" in result.stdout


def test_errors_are_one_line(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(BATTLES).head(100)
    frame.loc[0, "judge"] = "maybe"
    frame.to_csv(bad, index=False)
    result = runner.invoke(app, ["arena", str(bad), "--protocol", "loo"])
    assert result.exit_code == 2
    assert (
        "error:" in result.output and "column 'judge' has unknown verdict values" in result.output
    )
    result = runner.invoke(app, ["arena", BATTLES, "--protocol", "loo", "--alpha", "x"])
    assert result.exit_code == 2 and "--alpha takes numbers" in result.output
