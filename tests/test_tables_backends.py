"""One unit-level table in every form users hand in: the same statistics, intervals and errors.

The table is paired (``unit``), weighted, has two coordinates and a task
attribute. It goes in as a CSV path, a Parquet path, a partitioned Parquet
folder, pandas, polars (eager and lazy), pyarrow, a DuckDB relation and a
sqlframe (Spark API, DuckDB-backed) DataFrame.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer._columns import UNIT_STATISTICS_COLUMNS
from synthinfer.data import TaskData
from synthinfer.datasets import dataset_path, pew_tasks
from synthinfer.tables import battle_statistics, source_columns, unit_statistics

pytestmark = pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy:UserWarning")

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
duckdb = pytest.importorskip("duckdb")

N_HISTORY, N_UNITS = 12, 30


def unit_table(seed: int = 0) -> pd.DataFrame:
    """Twelve history tasks and two targets, paired and weighted, coordinates x and y."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(N_HISTORY + 2):
        task = f"q{j:02d}"
        target = j >= N_HISTORY
        for unit in range(N_UNITS):
            weight = float(rng.uniform(0.5, 2.0))
            for coord in ("x", "y"):
                real = rng.normal(0.1 * j, 1.0) + 100.0
                synth = real - 0.2 + rng.normal(0, 0.5)
                sources = (
                    (("synthetic", synth),) if target else (("real", real), ("synthetic", synth))
                )
                for source, value in sources:
                    rows.append((task, source, value, weight, f"u{unit}", coord, 2000 + j))
    columns = ["task", "source", "value", "weight", "unit", "coord", "time"]
    return pd.DataFrame(rows, columns=columns)


def _sqlframe(path: Path):
    sqlframe = pytest.importorskip("sqlframe.duckdb")
    return sqlframe.DuckDBSession().read.parquet(str(path))


def _partitioned(frame: pd.DataFrame, folder: Path) -> Path:
    import pyarrow.parquet as pq

    pq.write_to_dataset(pa.Table.from_pandas(frame), folder, partition_cols=["source"])
    return folder


FORMS: dict[str, Callable[[pd.DataFrame, Path], object]] = {
    "pandas": lambda frame, tmp: frame,
    "polars": lambda frame, tmp: pl.from_pandas(frame),
    "polars-lazy": lambda frame, tmp: pl.from_pandas(frame).lazy(),
    "pyarrow": lambda frame, tmp: pa.Table.from_pandas(frame),
    "duckdb": lambda frame, tmp: duckdb.from_df(frame),
    "csv": lambda frame, tmp: _written(frame, tmp / "units.csv"),
    "csv-gzip": lambda frame, tmp: _written(frame, tmp / "units.csv.gz"),
    "tsv": lambda frame, tmp: _written(frame, tmp / "units.tsv"),
    "parquet": lambda frame, tmp: _written(frame, tmp / "units.parquet"),
    "parquet-folder": lambda frame, tmp: _partitioned(frame, tmp / "units"),
    "csv-glob": lambda frame, tmp: _halves(frame, tmp),
    "sqlframe": lambda frame, tmp: _sqlframe(_written(frame, tmp / "spark.parquet")),
}


def _halves(frame: pd.DataFrame, folder: Path) -> str:
    half = len(frame) // 2
    _written(frame.iloc[:half], folder / "part-1.csv")
    _written(frame.iloc[half:], folder / "part-2.csv")
    return str(folder / "part-*.csv")


def _written(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.name.endswith(".csv.gz"):
        with gzip.open(path, "wt") as handle:
            frame.to_csv(handle, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return unit_table()


@pytest.fixture(scope="module")
def expected(table: pd.DataFrame) -> pd.DataFrame:
    return unit_statistics(table, attributes=["time"])


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("task", "coord", "method", "alpha") if c in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("form", list(FORMS))
def test_statistics_agree(form: str, table: pd.DataFrame, expected, tmp_path: Path) -> None:
    source = FORMS[form](table, tmp_path)
    got = unit_statistics(source, attributes=["time"])
    assert list(got.columns) == [*UNIT_STATISTICS_COLUMNS, "time"]
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=0, check_dtype=False)
    assert (got["n_pairs"][got["n_real"] > 0] == N_UNITS).all()


@pytest.mark.parametrize("form", list(FORMS))
def test_infer_gives_identical_intervals(form: str, table: pd.DataFrame, tmp_path: Path) -> None:
    expected = _ordered(synthinfer.infer(table, alpha=0.5).to_frame())
    got = _ordered(synthinfer.infer(FORMS[form](table, tmp_path), alpha=0.5).to_frame())
    assert len(got) == 4  # two targets × two coordinates
    assert got["feasible"].all()
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("form", ["csv", "parquet", "polars-lazy", "duckdb"])
def test_task_data_from_any_form(form: str, table: pd.DataFrame, tmp_path: Path) -> None:
    data = TaskData.load(FORMS[form](table, tmp_path))
    assert data.kind == "unit"
    assert set(data.history_tasks) == {f"q{j:02d}" for j in range(N_HISTORY)}
    assert data.target_tasks == ("q12", "q13")
    assert data.coords == ("x", "y")
    assert data.attributes["time"].to_dict()["q03"] == 2003.0


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_rows_read_back_from_files(form: str, table: pd.DataFrame, tmp_path: Path) -> None:
    """Bootstrap and quantile intervals read each task's rows from the file, in file order."""
    source = FORMS[form](table, tmp_path)
    for options in (
        {"interval": "bootstrap"},
        {"estimand": "quantile:0.5", "interval": "bootstrap"},
    ):
        expected = synthinfer.infer(table, alpha=0.5, seed=3, n_bootstrap=200, **options)
        got = synthinfer.infer(source, alpha=0.5, seed=3, n_bootstrap=200, **options)
        pd.testing.assert_frame_equal(got.to_frame(), expected.to_frame())


def test_hoeffding_and_exact_quantiles_from_a_file(tmp_path: Path) -> None:
    frame = unit_table().drop(columns=["weight", "unit"])
    frame["value"] = (frame["value"] > 100.0).astype(float)
    path = _written(frame, tmp_path / "binary.parquet")
    for options in ({"interval": "hoeffding", "bounds": (0, 1)}, {"estimand": "quantile:0.5"}):
        expected = synthinfer.infer(frame, alpha=0.5, seed=1, n_bootstrap=200, **options)
        got = synthinfer.infer(path, alpha=0.5, seed=1, n_bootstrap=200, **options)
        pd.testing.assert_frame_equal(got.to_frame(), expected.to_frame())
    with pytest.raises(ValueError, match=r"fall outside --bounds 0,0\.5"):
        synthinfer.infer(path, alpha=0.5, interval="hoeffding", bounds=(0, 0.5))


def test_summary_tables_in_any_form() -> None:
    frame = pew_tasks()
    expected = TaskData.load(frame).statistics()
    for source in (pl.from_pandas(frame).lazy(), duckdb.from_df(frame)):
        data = TaskData.load(source)
        assert data.kind == "summary"
        for coord, stats in data.statistics().items():
            np.testing.assert_array_equal(stats.synth.estimate, expected[coord].synth.estimate)


# ------------------------------------------------------------------------ errors
def _broken(kind: str) -> pd.DataFrame:
    frame = unit_table().iloc[: 4 * N_UNITS * 2].reset_index(drop=True)  # two history tasks
    if kind == "text":
        frame["value"] = frame["value"].astype(str)
    edits = {
        "missing-task": ("task", None),
        "missing-source": ("source", None),
        "source": ("source", "human"),
        "text": ("value", "abc"),
        "nan": ("value", np.nan),
        "inf": ("value", np.inf),
        "negative": ("weight", -1.0),
    }
    if kind in edits:
        column, value = edits[kind]
        frame.loc[3, column] = value
    elif kind == "one-sided":
        frame = frame.drop(index=[1]).reset_index(drop=True)  # a synthetic row: its real is alone
    elif kind == "repeated":
        frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    elif kind == "weights":
        frame.loc[0, "weight"] += 1.0
    elif kind == "varying":
        frame.loc[0, "time"] = 1.0
    elif kind == "no-synthetic":
        frame = frame[~((frame["task"] == "q01") & (frame["source"] == "synthetic"))]
    return frame


ERRORS = [
    ("missing-task", r"column 'task' is empty (at line 5|in 1 row\(s\))"),
    ("missing-source", r"column 'source' must be 'real' or 'synthetic'.*1 row\(s\)"),
    ("source", r"column 'source' must be 'real' or 'synthetic'; 1 row\(s\).*'human'"),
    ("text", r"column 'value' has 1 non-numeric value\(s\) \(e\.g\. 'abc'\)"),
    ("inf", r"column 'value' has 1 missing \(NaN\) or infinite value\(s\) \(e\.g\. inf\)"),
    ("negative", r"column 'weight' has 1 negative value"),
    ("one-sided", r"1 unit\(s\) of history tasks appear on one side only"),
    ("weights", r"1 unit\(s\) carry different real and synthetic values in column 'weight'"),
    ("varying", r"column 'time' varies within task 'q00'"),
    ("no-synthetic", r"task 'q01' / coord 'x' has real rows but no synthetic rows"),
]


def _lazy(frame: pd.DataFrame, form: str):
    if form == "polars-lazy":
        return pl.from_pandas(frame).lazy()
    if form == "duckdb":
        return duckdb.from_df(frame)
    return frame


@pytest.mark.parametrize("form", ["pandas", "polars-lazy", "duckdb"])
@pytest.mark.parametrize(("kind", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_rows_give_one_line_errors(form: str, kind: str, message: str) -> None:
    frame = _broken(kind)
    with pytest.raises(ValueError, match=message) as error:
        TaskData.load(_lazy(frame, form), name="units.csv")
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("units.csv: ")


def test_errors_name_file_lines(tmp_path: Path) -> None:
    frame = _broken("inf")  # an empty value ("nan") is non-response now: tests/test_clusters.py
    path = _written(frame, tmp_path / "units.csv")
    with pytest.raises(
        ValueError, match=r"units\.csv: column 'value' has infinite values at line 5"
    ):
        TaskData.load(path)


def test_late_text_value_in_a_large_csv(tmp_path: Path) -> None:
    """A value that is not a number far past DuckDB's type sample is still reported by line."""
    frame = unit_table()
    frame = pd.concat([frame] * 15, ignore_index=True)
    frame["task"] = np.repeat(np.arange(15), len(frame) // 15).astype(str) + frame["task"]
    text = frame.to_csv(index=False).splitlines()
    last = text[-1].split(",")
    last[2] = "abc"
    text[-1] = ",".join(last)
    path = tmp_path / "late.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=rf"non-numeric values \('abc' at line {len(text)}\)"):
        unit_statistics(path)


def test_engine_and_sources_are_checked(tmp_path: Path, table: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"engine must be one of \['duckdb', 'spark'\]"):
        unit_statistics(table, engine="pandas")
    with pytest.raises(ValueError, match="memory_limit must be a size"):
        unit_statistics(table, memory_limit="lots")
    with pytest.raises(TypeError, match="expected a path or a dataframe"):
        TaskData.load([1, 2, 3])
    with pytest.raises(FileNotFoundError, match="no such file"):
        unit_statistics(tmp_path / "nothing.csv")
    assert source_columns(_written(table, tmp_path / "u.parquet"))[:3] == [
        "task",
        "source",
        "value",
    ]


def test_spark_engine_names_the_extra(tmp_path: Path, table: pd.DataFrame) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        path = _written(table, tmp_path / "u.parquet")
        with pytest.raises(ImportError, match=r"synthinfer\[spark\]"):
            unit_statistics(path, engine="spark")
    else:
        pytest.skip("PySpark is installed (tests/test_spark.py runs it)")


def test_no_warnings_on_clean_tables(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit_statistics(pl.from_pandas(table).lazy())


# ----------------------------------------------------------------------- battles
@pytest.mark.parametrize("form", ["polars", "polars-lazy", "pyarrow", "duckdb", "parquet"])
def test_battle_counts_agree(form: str, tmp_path: Path) -> None:
    frame = pd.read_csv(str(dataset_path("arena_judge_battles")))
    expected = battle_statistics(frame)
    got = battle_statistics(FORMS[form](frame, tmp_path))
    pd.testing.assert_frame_equal(got.counts, expected.counts, check_dtype=False)
    assert got.n_battles == expected.n_battles == len(frame)


def test_source_spellings_are_cleaned(table: pd.DataFrame, expected) -> None:
    messy = table.assign(source=table["source"].map({"real": " Real", "synthetic": "SYNTHETIC"}))
    for source in (messy, duckdb.from_df(messy)):
        got = unit_statistics(source, attributes=["time"])
        pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=0, check_dtype=False)


def test_dates_read_from_files_are_decimal_years(table: pd.DataFrame, tmp_path: Path) -> None:
    dated = table.assign(time=table["time"].astype(str) + "-07-02")
    path = _written(dated, tmp_path / "dated.csv")
    expected = TaskData.load(dated).attributes["time"]
    got = TaskData.load(path).attributes["time"]
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert expected.loc["q03"] == pytest.approx(2003.5, abs=0.01)


def test_whole_numbers_give_exact_statistics(table: pd.DataFrame) -> None:
    """Whole-number values are summed exactly (no centring pass); results match the frame's."""
    years = table.assign(value=np.round(table["value"] * 10), weight=np.round(table["weight"] * 2))
    expected = unit_statistics(years)
    for source in (pl.from_pandas(years).lazy(), duckdb.from_df(years)):
        pd.testing.assert_frame_equal(unit_statistics(source), expected, rtol=1e-15, atol=0)
    task = years[(years["task"] == "q00") & (years["coord"] == "x")]
    real = task[task["source"] == "real"]
    w, x = real["weight"].to_numpy(), real["value"].to_numpy()
    mu = np.sum(w * x) / np.sum(w)
    row = expected[(expected["task"] == "q00") & (expected["coord"] == "x")].iloc[0]
    assert row["real_mean"] == pytest.approx(mu, rel=1e-15)
    assert row["real_var"] == pytest.approx(
        np.sum(w**2 * (x - mu) ** 2) / np.sum(w) ** 2, rel=1e-13
    )
