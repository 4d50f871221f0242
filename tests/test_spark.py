"""The Spark path on a real PySpark session (``local[1]``, UI off, one shuffle partition).

Skipped when PySpark is not installed; CI installs it (with Java 17) and runs
this module. The fast suite covers the same code through sqlframe
(``tests/test_tables_backends.py``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

pyspark_sql = pytest.importorskip("pyspark.sql")

import synthinfer  # noqa: E402
from synthinfer.data import TaskData  # noqa: E402
from synthinfer.datasets import dataset_path  # noqa: E402
from synthinfer.tables import battle_statistics, unit_statistics  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

N_HISTORY, N_UNITS = 12, 20


@pytest.fixture(scope="module")
def spark():
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("synthinfer-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rows = []
    for j in range(N_HISTORY + 1):
        for unit in range(N_UNITS):
            real = 0.05 * j + unit % 3
            synth = real - 0.1 + 0.01 * (unit % 5)
            for source, value in (("real", real), ("synthetic", synth)):
                if j < N_HISTORY or source == "synthetic":
                    rows.append((f"q{j:02d}", source, value, f"u{unit}", 1.0 + unit % 2))
    return pd.DataFrame(rows, columns=["task", "source", "value", "unit", "weight"])


def test_spark_frame_statistics_and_intervals(spark, table: pd.DataFrame) -> None:
    frame = spark.createDataFrame(table)
    pd.testing.assert_frame_equal(
        unit_statistics(frame), unit_statistics(table), rtol=1e-12, check_dtype=False
    )
    expected = synthinfer.infer(table, alpha=0.5).to_frame()
    got = synthinfer.infer(frame, alpha=0.5).to_frame()
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)


def test_spark_engine_reads_files(spark, table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "units.parquet"
    table.to_parquet(path, index=False)
    data = TaskData.load(path, engine="spark")
    assert data.target_tasks == (f"q{N_HISTORY:02d}",)
    expected = synthinfer.infer(table, alpha=0.5).to_frame()
    got = synthinfer.infer(data, alpha=0.5).to_frame()
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)


def test_spark_errors_are_one_line(spark, table: pd.DataFrame) -> None:
    broken = table.copy()
    broken.loc[3, "weight"] = -1.0
    with pytest.raises(ValueError, match=r"column 'weight' has 1 negative value"):
        TaskData.load(spark.createDataFrame(broken), name="units")


def test_spark_battle_counts(spark) -> None:
    frame = pd.read_csv(str(dataset_path("arena_judge_battles"))).head(2000)
    expected = battle_statistics(frame)
    got = battle_statistics(spark.createDataFrame(frame))
    pd.testing.assert_frame_equal(got.counts, expected.counts, check_dtype=False)


def test_cli_engine_spark_agrees_with_the_default(spark, table: pd.DataFrame, tmp_path: Path):
    from typer.testing import CliRunner

    from synthinfer.cli import app

    path = tmp_path / "units.csv"
    table.to_csv(path, index=False)
    runner = CliRunner()

    def run(*extra: str) -> pd.DataFrame:
        result = runner.invoke(app, ["infer", str(path), "--alpha", "0.5", "-f", "csv", *extra])
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout))

    pd.testing.assert_frame_equal(run("--engine", "spark"), run(), rtol=1e-12)
