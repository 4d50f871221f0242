"""Wide score tables (one row per item, a human and a judge column) read as unit-level data."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.cli import app
from synthinfer.data import TaskData
from synthinfer.tables import ReadOptions

WIDE = {"real": "human", "synthetic": "judge", "task_col": "model", "unit_col": "item"}
CLI_WIDE = ["--real-col", "human", "--synth-col", "judge", "--task-col", "model"]
CLI_WIDE += ["--unit-col", "item"]
TOLERANCE = 1e-12


def wide_scores(n_tasks: int = 24, n_items: int = 40, seed: int = 7) -> pd.DataFrame:
    """Items × (human, judge): some human cells empty, two target tasks, rows shuffled."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(n_tasks), n_items)
    item = np.tile(np.arange(n_items), n_tasks)
    judge = rng.normal(0.3 * np.sin(task), 1.0)
    human = judge + rng.normal(0.2 + 0.1 * np.cos(task), 0.6)
    human[(item % 3 == 0) | (task >= n_tasks - 2)] = np.nan
    frame = pd.DataFrame(
        {
            "model": [f"model-{t:02d}" for t in task],
            "item": [f"q{i}" for i in item],
            "human": human,
            "judge": judge,
            "family": np.where(task % 2 == 0, "open", "closed"),
            "prompt": [f"question text {i}" for i in item],
        }
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def long_scores(wide: pd.DataFrame) -> pd.DataFrame:
    """The same data as a unit-level table, written out by hand."""
    base = pd.DataFrame({"task": wide["model"], "unit": wide["item"], "family": wide["family"]})
    synthetic = base.assign(source="synthetic", value=wide["judge"])
    labelled = wide["human"].notna()
    real = base[labelled].assign(source="real", value=wide.loc[labelled, "human"])
    return pd.concat([real, synthetic], ignore_index=True)[
        ["task", "unit", "source", "value", "family"]
    ]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["task", "method", "alpha"]).reset_index(drop=True)


def assert_same_intervals(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got, want = _sorted(got), _sorted(want)
    assert list(got["task"]) == list(want["task"])
    assert list(got.columns) == list(want.columns)
    numbers = [c for c in want.columns if pd.api.types.is_numeric_dtype(want[c])]
    np.testing.assert_allclose(
        got[numbers].to_numpy(float), want[numbers].to_numpy(float), rtol=0, atol=TOLERANCE
    )


def intervals(data: TaskData) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return synthinfer.infer(data, alpha=[0.1, 0.2], method=METHODS).to_frame()


METHODS = ["exchangeable", "finite-sample", "synthetic-only"]


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    return wide_scores()


@pytest.fixture(scope="module")
def expected(wide: pd.DataFrame) -> pd.DataFrame:
    return intervals(TaskData.load(long_scores(wide)))


# ------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("backend", ["pandas", "polars", "polars-lazy", "csv", "parquet"])
def test_wide_table_gives_the_long_tables_intervals(backend, wide, expected, tmp_path):
    source: object = wide
    if backend == "polars":
        source = pl.from_pandas(wide)
    elif backend == "polars-lazy":
        source = pl.from_pandas(wide).lazy()
    elif backend == "csv":
        source = tmp_path / "scores.csv"
        wide.to_csv(source, index=False)
    elif backend == "parquet":
        source = tmp_path / "scores.parquet"
        wide.to_parquet(source, index=False)
    data = TaskData.load(source, **WIDE)
    assert set(data.target_tasks) == {"model-22", "model-23"}
    assert len(data.history_tasks) == 22
    assert list(data.attributes.columns) == ["family"]  # 'prompt' varies within a task
    assert_same_intervals(intervals(data), expected)


def test_wide_statistics_match_the_long_tables_exactly(wide):
    got = TaskData.load(wide, **WIDE).frame.set_index("task").sort_index()
    want = TaskData.load(long_scores(wide)).frame.set_index("task").sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=TOLERANCE)
    assert (got["n_pairs"] == got["n_real"]).all()  # every labelled item is a pair
    assert got.loc["model-00", "n_real"] == 26 and got.loc["model-00", "n_synth"] == 40


def test_backtest_of_a_wide_table_matches_the_long_table(wide):
    keywords = {"alpha": 0.2, "method": ["exchangeable"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = synthinfer.backtest(TaskData.load(wide, **WIDE), **keywords).tasks
        want = synthinfer.backtest(TaskData.load(long_scores(wide)), **keywords).tasks
    assert_same_intervals(got, want)


# ----------------------------------------------------------------------- defaults
def test_default_columns_task_unit_and_row_numbers(wide, tmp_path):
    named = wide.rename(columns={"model": "task", "item": "id"})
    data = TaskData.load(named, real="human", synthetic="judge")
    assert set(data.tasks) == set(wide["model"])
    assert data.frame["n_pairs"].sum() == wide["human"].notna().sum()
    lazy = TaskData.load(pl.from_pandas(named).lazy(), real="human", synthetic="judge")
    pd.testing.assert_frame_equal(  # an 'id' column tells items apart without row numbers
        lazy.frame.sort_values("task", ignore_index=True),
        data.frame.sort_values("task", ignore_index=True),
        check_exact=False,
        rtol=0,
        atol=TOLERANCE,
    )
    one = wide[wide["model"] == "model-00"].drop(columns=["model", "item"])
    path = tmp_path / "judge-scores.v2.csv"
    one.to_csv(path, index=False)
    data = TaskData.load(path, real="human", synthetic="judge")
    assert data.tasks == ("judge-scores",)  # one task, named after the file
    assert int(data.frame["n_pairs"].iloc[0]) == one["human"].notna().sum()  # rows are units


def test_read_options_and_format_in(wide):
    reading = ReadOptions(**WIDE, format_in="wide")
    assert reading.names_columns
    with pytest.raises(ValueError, match="format_in"):
        ReadOptions(format_in="csv")
    with pytest.raises(ValueError, match="real must be"):
        ReadOptions(real="")
    got = TaskData.load(wide, format_in="wide", **WIDE)
    assert set(got.target_tasks) == {"model-22", "model-23"}


# ------------------------------------------------------------------------- errors
def test_a_human_score_without_a_judge_score_names_its_line(tmp_path):
    frame = pd.DataFrame(
        {"task": ["a"] * 4, "human": [1.0, None, 0.0, 1.0], "judge": [1.0, 1.0, None, 0.0]}
    )
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"scores\.csv: line 4: human score without a judge"):
        TaskData.load(path, real="human", synthetic="judge")
    lazy = pl.from_pandas(frame.assign(key=["w", "x", "y", "z"])).lazy()
    with pytest.raises(ValueError, match=r"item\(s\) 'y': human score without a judge"):
        TaskData.load(lazy, real="human", synthetic="judge", unit_col="key")


def test_an_item_without_any_score_is_a_counted_judge_nonresponse():
    frame = pd.DataFrame(
        {
            "task": ["a"] * 4 + ["b"] * 3,
            "human": [1.0, None, None, 0.0, None, None, None],
            "judge": [1.0, 0.0, None, 0.0, 1.0, None, 0.0],
        }
    )
    with pytest.warns(UserWarning, match="empty"):
        data = TaskData.load(frame, real="human", synthetic="judge")
    stats = data.frame.set_index("task")
    assert stats.loc["a", "n_missing_synth"] == 1 and stats.loc["b", "n_missing_synth"] == 1
    assert stats.loc["a", "n_synth"] == 3 and stats.loc["a", "n_real"] == 2
    assert data.target_tasks == ("b",)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"real": "humans", "synthetic": "judge"}, r"no real \(human\) score column 'humans'"),
        ({"real": "human", "synthetic": "llm"}, r"no synthetic \(judge\) score column 'llm'"),
        ({"real": "human", "synthetic": "human"}, "both column 'human'"),
        ({"real": "human", "synthetic": "judge", "task_col": "m"}, "no task column 'm'"),
        ({"real": "human", "synthetic": "judge", "unit_col": "u"}, "no unit column 'u'"),
        ({"real": "human"}, r"give synthetic \(--synth-col\) too"),
        ({"task_col": "model"}, r"give real \(--real-col\) too"),
    ],
)
def test_column_errors_name_the_column_and_the_fix(wide, keywords, message):
    with pytest.raises(ValueError, match=message):
        TaskData.load(wide, **keywords)


def test_clashing_and_unordered_sources_are_refused(wide):
    with pytest.raises(ValueError, match="column 'value' of the wide score table would clash"):
        TaskData.load(wide.assign(value=1.0), **WIDE)
    lazy = pl.from_pandas(wide.drop(columns="item")).lazy()
    with pytest.raises(ValueError, match=r"no\s+row numbers.*--unit-col"):
        TaskData.load(lazy, real="human", synthetic="judge", task_col="model")


def test_text_scores_are_an_error_naming_the_line(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("task,human,judge\na,1,0.5\na,,0.25\na,0,bad\n")
    with pytest.raises(ValueError, match=r"non-numeric values \('bad' at line 4\)"):
        TaskData.load(path, real="human", synthetic="judge")


# --------------------------------------------------------------------- commands
def _cli(*arguments: str) -> pd.DataFrame:
    result = CliRunner().invoke(app, [*arguments, "--format", "csv", "--out", "-"])
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


def test_infer_command_reads_a_wide_table(wide, tmp_path):
    wide_path, long_path = tmp_path / "wide.parquet", tmp_path / "long.csv"
    wide.to_parquet(wide_path, index=False)
    long_scores(wide).to_csv(long_path, index=False)
    options = ["--alpha", "0.1,0.2", "--method", ",".join(METHODS)]
    got = _cli("infer", str(wide_path), *CLI_WIDE, *options)
    want = _cli("infer", str(long_path), *options)
    assert_same_intervals(got, want)


def test_diagnose_and_plan_commands_read_a_wide_table(wide, tmp_path):
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["diagnose", str(path), *CLI_WIDE, "--permutations", "99"])
    assert result.exit_code == 0, result.output
    assert "22 history tasks" in result.stdout
    sizes = ["--history-n", "26", "--history-synthetic-n", "40", "--tasks", "30"]
    result = runner.invoke(app, ["plan", str(path), *CLI_WIDE, *sizes, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(io.StringIO(result.stdout))["n_history"].tolist() == [30]
    result = runner.invoke(app, ["infer", str(path), "--real-col", "human", "--synth-col", "x"])
    assert result.exit_code == 2
    assert "no synthetic (judge) score column 'x'" in result.output


# ------------------------------------------------------------------- entry points
def test_every_entry_point_takes_the_reading_options(wide, expected, tmp_path):
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = synthinfer.infer(path, alpha=[0.1, 0.2], method=METHODS, read=WIDE).to_frame()
        kept = synthinfer.backtest(path, alpha=0.2, read=ReadOptions(**WIDE)).tasks
        want = synthinfer.backtest(long_scores(wide), alpha=0.2).tasks
    assert_same_intervals(got, expected)
    assert_same_intervals(kept, want)
    report = synthinfer.diagnose(path, n_permutations=99, read=WIDE)
    assert "22 history tasks" in report.summary()
    model = synthinfer.fit_plan_model(path, n_real=26, n_synth=40, read=WIDE)
    want_model = synthinfer.fit_plan_model(long_scores(wide), n_real=26, n_synth=40)
    assert model.to_dict() == pytest.approx(want_model.to_dict(), rel=1e-9)  # REML by optimizer
    data = TaskData.load(path, **WIDE)
    with pytest.raises(ValueError, match="already read as task data"):
        synthinfer.infer(data, read=WIDE)
    with pytest.raises(ValueError, match="read must be ReadOptions or a dict"):
        synthinfer.infer(path, read="human")
