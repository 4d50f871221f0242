"""The command line: one-line errors with exit code 2, output formats, options on every path."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.cli import app

runner = CliRunner()

UNIT_HEADER = "task,source,value\n"
UNIT_ROWS = "a,real,1\na,real,2\na,synthetic,1\na,synthetic,3\nt,synthetic,2\nt,synthetic,4\n"
SUMMARY_HEADER = "task,synth_estimate,synth_se,real_estimate,gap_se\n"
SUMMARY_ROWS = "a,0.1,0.01,0.2,0.02\nb,0.2,0.02,0.25,0.03\nt,0.3,0.01,,\n"

# (case id, file contents, extra options, message): DESIGN.md "Errors"
CLI_ERRORS = [
    ("missing-column", "source,value\nreal,1\n", [], r"needs column\(s\) 'task'"),
    ("non-numeric", UNIT_HEADER + "a,real,abc\n" + UNIT_ROWS, [], r"non-numeric values \('abc'"),
    ("inf", UNIT_HEADER + "a,real,inf\n" + UNIT_ROWS, [], r"infinite values at line 2"),
    ("empty-table", UNIT_HEADER, [], r"the table has no rows"),
    ("empty-task-id", UNIT_HEADER + ",real,1\n" + UNIT_ROWS, [], r"column 'task' is empty"),
    (
        "task-without-synthetic",
        UNIT_HEADER + UNIT_ROWS + "r,real,1\nr,real,2\n",
        [],
        r"task 'r' has real rows but no synthetic rows",
    ),
    (
        "unpaired-units",
        "task,source,value,unit\na,real,1,u1\na,real,0,u2\na,synthetic,1,u1\na,synthetic,1,u3\n"
        "t,synthetic,1,x\nt,synthetic,0,y\n",
        [],
        r"appear on one side only",
    ),
    (
        "negative-weights",
        "task,source,value,weight\n"
        + "".join(
            f"{line},{w}\n"
            for line, w in zip(UNIT_ROWS.splitlines(), [1, -1, 1, 1, 1, 1], strict=True)
        ),
        [],
        r"negative weights at line 3",
    ),
    (
        "duplicate-summary-task",
        SUMMARY_HEADER + "a,0.1,0.01,0.2,0.02\n" + SUMMARY_ROWS,
        [],
        r"duplicate rows for the same task",
    ),
    ("alpha-zero", SUMMARY_HEADER + SUMMARY_ROWS, ["--alpha", "0"], r"alpha must lie strictly"),
    ("alpha-one", SUMMARY_HEADER + SUMMARY_ROWS, ["--alpha", "0.1,1"], r"alpha must lie strictly"),
    ("alpha-text", SUMMARY_HEADER + SUMMARY_ROWS, ["--alpha", "ten"], r"--alpha takes numbers"),
    (
        "allocation-sum",
        SUMMARY_HEADER + SUMMARY_ROWS,
        ["--allocation", "prop:0.2,0.2,0.7"],
        r"proportions must sum to 1",
    ),
    (
        "allocation-abs",
        SUMMARY_HEADER + SUMMARY_ROWS,
        ["--allocation", "abs:0.05,0.05", "--alpha", "0.1"],
        r"leaves nothing for alpha3",
    ),
    (
        "allocation-malformed",
        SUMMARY_HEADER + SUMMARY_ROWS,
        ["--allocation", "0.1/0.2/0.7"],
        r"allocation must look like",
    ),
    ("unknown-method", SUMMARY_HEADER + SUMMARY_ROWS, ["--method", "magic"], r"method must be"),
    ("bad-bounds", SUMMARY_HEADER + SUMMARY_ROWS, ["--bounds", "1,0"], r"bounds must be"),
]


def write(tmp_path: Path, text: str, name: str = "table.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_user_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1  # one line
    assert re.search(message, errors[0]), errors[0]


@pytest.mark.parametrize(
    ("case", "text", "options", "message"), CLI_ERRORS, ids=[c[0] for c in CLI_ERRORS]
)
@pytest.mark.parametrize("command", ["infer", "backtest"])
def test_malformed_input_exits_2_with_one_line(tmp_path, case, text, options, message, command):
    path = write(tmp_path, text)
    result = runner.invoke(app, [command, path, *options])
    assert_user_error(result, message)
    if not options:  # errors in the data name the file
        assert path in result.stderr


def test_missing_file(tmp_path):
    result = runner.invoke(app, ["infer", str(tmp_path / "nowhere.csv")])
    assert_user_error(result, "no such file")


def test_too_few_history_tasks_warns_and_exits_0(tmp_path):
    path = write(tmp_path, SUMMARY_HEADER + SUMMARY_ROWS)
    result = runner.invoke(app, ["infer", path, "--alpha", "0.1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    # the default allocation ("auto") is finite from T = 20 at alpha 0.1 (the paper's split: 28)
    assert "at least 20 are needed" in result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["feasible"] is False
    assert rows[0]["lower"] == "-inf" and rows[0]["upper"] == "inf"
    assert rows[0]["width"] == "inf"


@pytest.fixture
def summary_file(tmp_path, summary_table) -> str:
    path = tmp_path / "summary.csv"
    summary_table.to_csv(path, index=False)
    return str(path)


def test_infer_csv_and_json_are_parseable(summary_file, summary_table):
    options = ["--alpha", "0.3", "--method", "exchangeable,synthetic-only"]
    csv_result = runner.invoke(app, ["infer", summary_file, *options, "--format", "csv"])
    assert csv_result.exit_code == 0, csv_result.output
    frame = pd.read_csv(io.StringIO(csv_result.stdout))
    library = synthinfer.infer(
        summary_table, alpha=0.3, method=["exchangeable", "synthetic-only"]
    ).to_frame()
    assert list(frame.columns) == list(library.columns)
    np.testing.assert_allclose(frame["lower"], library["lower"], rtol=1e-12)
    json_result = runner.invoke(app, ["infer", summary_file, *options, "--format", "json"])
    assert json_result.exit_code == 0
    records = json.loads(json_result.stdout)
    assert len(records) == 2
    assert records[0]["upper"] == pytest.approx(library["upper"].iloc[0], rel=1e-12)
    assert json_result.stderr == ""  # clean for pipes
    table = runner.invoke(app, ["infer", summary_file, *options])
    assert table.exit_code == 0
    assert "exchangeable" in table.stdout and "synthetic-only" in table.stdout


def test_backtest_json_writes_inf_strings(summary_file):
    # the paper's split needs 28 history tasks at alpha 0.1 (the default "auto" needs 20)
    paper = ["--allocation", "prop:0.1,0.2,0.7"]
    result = runner.invoke(
        app, ["backtest", summary_file, "--alpha", "0.1", *paper, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 25
    assert all(r["lower"] == "-inf" and r["upper"] == "inf" for r in records)
    assert all(r["covered"] is True and r["feasible"] is False for r in records)
    assert all(r["w2"] is None for r in records)  # NaN becomes null


def test_several_alphas_and_methods_one_row_each(summary_file):
    result = runner.invoke(
        app,
        [
            "backtest",
            summary_file,
            "--alpha",
            "0.3,0.4",
            "--alpha",
            "0.5",
            "-m",
            "exchangeable,finite-sample",
            "-m",
            "synthetic-only",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 25 * 3 * 3
    assert sorted(frame["alpha"].unique()) == [0.3, 0.4, 0.5]
    assert sorted(frame["method"].unique()) == ["exchangeable", "finite-sample", "synthetic-only"]
    assert (frame.groupby(["task", "method", "alpha"]).size() == 1).all()


def test_bounds_option_clips_in_cli(summary_file, summary_table):
    # the estimates lie in [0.21, 0.89]; the backtest's intervals reach beyond [0.2, 0.9]
    for command in ("infer", "backtest"):
        result = runner.invoke(
            app,
            [command, summary_file, "--alpha", "0.3", "--bounds", "0.2,0.9", "--format", "csv"],
        )
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(io.StringIO(result.stdout))
        assert frame["lower"].min() >= 0.2 and frame["upper"].max() <= 0.9
    assert (frame["upper"] == 0.9).any() and (frame["lower"] == 0.2).any()
    # bounds that cut through the data are refused, not used to clip silently
    cutting = runner.invoke(app, ["backtest", summary_file, "--bounds", "0.3,0.7"])
    assert_user_error(
        cutting, r"value\(s\) of column 'synth_estimate' fall outside --bounds 0.3,0.7"
    )


def test_decay_option_reaches_weighted(summary_file):
    def run(*extra):
        result = runner.invoke(
            app,
            ["infer", summary_file, "--alpha", "0.5", "-m", "weighted", "--format", "csv", *extra],
        )
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout)).iloc[0]

    slow, fast = run("--decay", "1"), run("--decay", "0.9")
    assert slow["n_effective"] == pytest.approx(25.0)
    weights = 0.9 ** (25 - np.arange(25.0))
    assert fast["n_effective"] == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    assert (fast["lower"], fast["upper"]) != (slow["lower"], slow["upper"])


def test_group_by_option(summary_file):
    result = runner.invoke(
        app, ["backtest", summary_file, "--alpha", "0.5", "--group-by", "group", "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout)).set_index("task")
    assert frame.loc["t00", "n_history"] == 12 and frame.loc["t01", "n_history"] == 11


def test_out_files(summary_file, tmp_path):
    out = tmp_path / "rows.json"
    result = runner.invoke(app, ["infer", summary_file, "--alpha", "0.3", "--out", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())[0]["task"] == "t25"
    csv_out = tmp_path / "rows.csv"
    summary_out = tmp_path / "summary.csv"
    result = runner.invoke(
        app,
        [
            "backtest",
            summary_file,
            "--alpha",
            "0.3",
            "--out",
            str(csv_out),
            "--summary-out",
            str(summary_out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(csv_out)) == 25
    summary = pd.read_csv(summary_out)
    assert summary["coverage"].iloc[0] == pytest.approx(pd.read_csv(csv_out)["covered"].mean())
    assert "coverage" in result.stdout  # the table summary is still printed


def test_unit_level_options_through_cli(tmp_path, make_long):
    frame = make_long(n_history=9, paired=True, binary=True, n_real=30, n_synth=40)
    path = write(tmp_path, frame.to_csv(index=False), "long.csv")

    def run(*extra):
        result = runner.invoke(app, ["infer", path, "--alpha", "0.5", "-f", "csv", *extra])
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout)).iloc[0]

    wald = run()
    hoeffding = run("--interval", "hoeffding", "--bounds", "0,1")
    assert hoeffding["w1"] > wald["w1"]
    library = synthinfer.infer(frame, alpha=0.5, interval="hoeffding", bounds=(0, 1))[0]
    assert hoeffding["gap_upper"] == pytest.approx(library.gap_upper, rel=1e-12)
    boot1 = run("--interval", "bootstrap", "--seed", "7", "--n-bootstrap", "300")
    boot2 = run("--interval", "bootstrap", "--seed", "7", "--n-bootstrap", "300")
    pd.testing.assert_series_equal(boot1, boot2)
    quantile = run("--estimand", "quantile:0.5", "--seed", "1", "--n-bootstrap", "200")
    assert quantile["synth_estimate"] in (0.0, 1.0)
    # 0/1 values get bounds [0, 1] by default; --bounds none turns them off
    default = runner.invoke(app, ["infer", path, "--alpha", "0.5", "--interval", "hoeffding"])
    assert default.exit_code == 0, default.output
    assert "values are 0/1: bounds [0, 1]" in default.stderr
    missing = runner.invoke(app, ["infer", path, "--interval", "hoeffding", "--bounds", "none"])
    assert_user_error(missing, "needs the data's range")


def test_alpha_outside_the_unit_interval_is_one_line(summary_file):
    result = runner.invoke(app, ["infer", summary_file, "--alpha", "2"])
    assert_user_error(result, r"alpha must lie strictly between 0 and 1")


@pytest.mark.parametrize("command", ["infer", "backtest"])
@pytest.mark.parametrize("bug", [KeyError, TypeError, AttributeError, IndexError])
def test_a_bug_is_not_dressed_as_a_user_error(monkeypatch, summary_file, command, bug):
    import synthinfer.evaluate

    def broken(*args, **kwargs):
        raise bug("internal")

    monkeypatch.setattr(synthinfer.evaluate, command, broken)
    result = runner.invoke(app, [command, summary_file, "--alpha", "0.3"])
    assert isinstance(result.exception, bug)
    assert result.exit_code != 0 and result.exit_code != 2
    assert "error:" not in result.stderr


def test_only_a_missing_optional_module_is_a_user_error():
    from synthinfer.cli._output import is_user_error

    missing = ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")
    assert is_user_error(missing)
    advice = ImportError("reading Parquet needs pyarrow; pip install 'synthinfer[parquet]'")
    advice.__cause__ = ImportError("Unable to find a usable engine")
    assert is_user_error(advice)
    assert not is_user_error(ImportError("cannot import name 'x' from 'synthinfer.methods'"))
    internal = ModuleNotFoundError("No module named 'synthinfer.x'", name="synthinfer.x")
    assert not is_user_error(internal)
    assert is_user_error(FileNotFoundError("x.csv: no such file"))
    assert is_user_error(PermissionError(13, "Permission denied", "x.csv"))
    assert not is_user_error(OSError("disk failure"))
    assert not is_user_error(KeyError("task"))


def test_the_app_has_every_command():
    help_text = runner.invoke(app, ["--help"], terminal_width=200).stdout
    for command in (
        "infer", "backtest", "simulate", "reproduce", "plot", "arena", "simulate-battles",
        "diagnose", "plan", "datasets",
    ):  # fmt: skip
        assert f" {command} " in help_text
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0 and "pew" in listed.stdout


def test_shared_options_keep_their_flags_and_feed_the_api_names():
    import inspect

    from synthinfer.cli.diagnostics import diagnose_command, plan_command
    from synthinfer.cli.infer import backtest_command, infer_command

    for command in (infer_command, backtest_command, diagnose_command, plan_command):
        assert "output_format" in inspect.signature(command).parameters
    assert "n_permutations" in inspect.signature(diagnose_command).parameters
    result = runner.invoke(app, ["diagnose", "--help"], terminal_width=200)
    assert "--permutations" in result.stdout and "--format" in result.stdout


def test_python_m_runs_the_app():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "synthinfer.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "infer" in result.stdout and "datasets" in result.stdout


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet", "rows.json"])
def test_writing_into_a_missing_folder_is_one_line(summary_file, tmp_path, name):
    out = tmp_path / "nowhere" / name
    result = runner.invoke(app, ["infer", summary_file, "--alpha", "0.3", "--out", str(out)])
    assert_user_error(result, "nowhere")


def test_alpha_above_one_half_is_a_typed_confidence_level(summary_file):
    result = runner.invoke(app, ["infer", summary_file, "--alpha", "0.95"])
    assert result.exit_code == 2
    assert "for a 95% interval use alpha 0.05" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_level_option_equals_alpha(summary_file):
    def run(*extra):
        result = runner.invoke(app, ["infer", summary_file, "--format", "csv", *extra])
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout))

    pd.testing.assert_frame_equal(run("--level", "0.8"), run("--alpha", "0.2"))
    both = runner.invoke(app, ["infer", summary_file, "--alpha", "0.2", "--level", "0.8"])
    assert both.exit_code == 2 and "not both" in both.stderr


# --- adjusted bands and diagnose remedies (issue 11, item 6) ------------------------------


def _with_group(summary_table: pd.DataFrame, target_group: str) -> pd.DataFrame:
    frame = summary_table.copy()
    frame.loc[frame["real_estimate"].isna(), "group"] = target_group
    return frame


def test_adjust_on_a_level_no_history_task_has_is_one_line(tmp_path, summary_table):
    path = tmp_path / "mars.csv"
    _with_group(summary_table, "Mars").to_csv(path, index=False)
    result = runner.invoke(app, ["infer", str(path), "--alpha", "0.3", "--adjust", "group"])
    assert_user_error(
        result,
        r"--adjust: task 't25' has group = 'Mars', a level no history task has; the adjusted "
        r"band would extrapolate \(drop group from --adjust",
    )
    path = tmp_path / "odd.csv"
    _with_group(summary_table, "odd").to_csv(path, index=False)
    result = runner.invoke(app, ["infer", str(path), "--alpha", "0.3", "--adjust", "group"])
    assert result.exit_code == 0, result.output


def test_adjusted_task_only_is_refused_in_one_line(summary_file):
    result = runner.invoke(
        app, ["infer", summary_file, "--method", "task-only", "--adjust", "synth_estimate"]
    )
    assert_user_error(result, r"--adjust cannot be combined with method 'task-only'")


def test_diagnose_leaves_out_remedies_that_cannot_run(tmp_path):
    from synthinfer.datasets import load_dataset

    path = tmp_path / "pew.csv"
    load_dataset("pew").to_csv(path, index=False)
    result = runner.invoke(app, ["diagnose", str(path), "--permutations", "199"])
    assert result.exit_code == 0, result.output
    assert "FLAG [co] attribute:wave" in result.stdout
    assert "(--group-by wave)" not in result.stdout
    assert "not --group-by wave: the smallest group" in result.stdout
    few = load_dataset("pew").groupby("coord").head(12)
    path = tmp_path / "few.csv"
    few.to_csv(path, index=False)
    result = runner.invoke(app, ["diagnose", str(path), "--permutations", "199", "--alpha", "0.1"])
    assert result.exit_code == 0, result.output
    assert "np." not in result.output


def test_warnings_and_errors_show_no_numpy_reprs(tmp_path, summary_table):
    small = tmp_path / "small.csv"
    summary_table.iloc[[0, 1, 2, 3, 4, 25]].to_csv(small, index=False)
    result = runner.invoke(app, ["infer", str(small)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "infinite" in result.stderr
    weighted = tmp_path / "weights.csv"
    summary_table.assign(task_weight=1.5).to_csv(weighted, index=False)
    bad = runner.invoke(app, ["infer", str(weighted), "--method", "weighted"])
    assert_user_error(bad, r"task_weight")
    for text in (result.stderr, bad.stderr):
        assert "np." not in text and "array(" not in text, text


def test_diagnose_writes_by_extension(tmp_path):
    from synthinfer.datasets import load_dataset

    path = tmp_path / "pew.csv"
    load_dataset("pew-scalar").to_csv(path, index=False)
    base = ["diagnose", str(path), "--permutations", "199", "--out"]
    assert runner.invoke(app, [*base, str(tmp_path / "r.txt")]).exit_code == 0
    assert (tmp_path / "r.txt").read_text().startswith("Task-exchangeability diagnostics")
    assert runner.invoke(app, [*base, str(tmp_path / "r.json")]).exit_code == 0
    assert json.loads((tmp_path / "r.json").read_text())["n_history"] == 96
    # before: the text report was written under any name, e.g. as "r.csv"
    assert runner.invoke(app, [*base, str(tmp_path / "r.csv")]).exit_code == 0
    table = pd.read_csv(tmp_path / "r.csv")
    assert {"test", "flagged", "remedy", "feasible"} <= set(table.columns)
    assert_user_error(runner.invoke(app, [*base, str(tmp_path / "r.foo")]), r"\.foo")
