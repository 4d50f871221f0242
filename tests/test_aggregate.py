"""Sufficient statistics of unit-level tables and battle logs: backends and files agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthinfer._columns import UNIT_STATISTICS_COLUMNS
from synthinfer.datasets import dataset_path
from synthinfer.tables import Verdicts, battle_statistics, unit_statistics

ENGINES = ["pandas", "duckdb"]
BATTLES = Path(str(dataset_path("arena_judge_battles")))


def on(engine: str, frame: pd.DataFrame):
    """The frame as it is (pandas), or as a DuckDB relation (computed on in DuckDB)."""
    if engine == "pandas":
        return frame
    import duckdb

    return duckdb.from_df(frame)


def long_table(*, paired: bool, weighted: bool, seed: int = 0, offset: float = 1e3) -> pd.DataFrame:
    """Four history tasks and one target, two coordinates, values far from zero."""
    rng = np.random.default_rng(seed)
    n, tasks = 40, 5
    task = np.repeat([f"t{i}" for i in range(tasks)], 2 * n)
    source = np.tile(np.r_[["real"] * n, ["synthetic"] * n], tasks)
    unit = np.tile(np.r_[np.arange(n), np.arange(n)], tasks)
    frame = pd.DataFrame(
        {
            "task": task,
            "source": source,
            "value": rng.normal(size=task.size) + offset,
            "coord": np.where(unit % 2 == 0, "x", "y"),
            "time": np.repeat(np.arange(tasks, dtype=float), 2 * n),
        }
    )
    if paired:
        frame["unit"] = unit
    if weighted:
        w = rng.uniform(0.5, 2.0, size=(tasks, n))
        frame["weight"] = np.concatenate([np.r_[row, row] for row in w])
    target = (frame["task"] == "t4") & (frame["source"] == "real")
    return frame[~target].reset_index(drop=True)


@pytest.mark.parametrize("paired", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_engines_agree(paired: bool, weighted: bool, tmp_path: Path) -> None:
    frame = long_table(paired=paired, weighted=weighted)
    expected = unit_statistics(frame, attributes=["time"])
    assert list(expected.columns) == [*UNIT_STATISTICS_COLUMNS, "time"]
    path = tmp_path / "units.parquet"
    frame.to_parquet(path)
    for got in (
        unit_statistics(on("duckdb", frame), attributes=["time"]),
        unit_statistics(path, attributes=["time"]),
    ):
        pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=0, check_dtype=False)
    assert expected.loc[expected["task"] == "t4", "n_real"].eq(0).all()
    assert expected.loc[expected["task"] == "t4", ["real_mean", "gap_var"]].isna().all().all()


def test_csv_file_matches_frame(tmp_path: Path) -> None:
    frame = long_table(paired=True, weighted=False, offset=0.0)
    path = tmp_path / "units.csv"
    frame.to_csv(path, index=False)
    got = unit_statistics(path, engine="duckdb")
    expected = unit_statistics(frame)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, check_dtype=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_unweighted_formulas(engine: str) -> None:
    # real 1, 0, 1 and synthetic 1, 1, 1 on units a, b, c.
    frame = pd.DataFrame(
        {
            "task": ["t"] * 6,
            "source": ["real"] * 3 + ["synthetic"] * 3,
            "value": [1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
            "unit": ["a", "b", "c"] * 2,
        }
    )
    row = unit_statistics(on(engine, frame)).iloc[0]
    assert row["coord"] == ""
    assert row["real_mean"] == pytest.approx(2 / 3)
    assert row["real_var"] == pytest.approx((1 / 3) / 3)  # s² = 1/3, n = 3
    assert row["synth_var"] == 0.0
    assert row["n_pairs"] == 3
    assert row["gap_mean"] == pytest.approx(-1 / 3)  # differences 0, -1, 0
    assert row["gap_var"] == pytest.approx((1 / 3) / 3)
    unpaired = unit_statistics(on(engine, frame.drop(columns="unit"))).iloc[0]
    assert unpaired["n_pairs"] == 0
    assert unpaired["gap_var"] == pytest.approx(row["real_var"] + row["synth_var"])


@pytest.mark.parametrize("engine", ENGINES)
def test_hajek_formulas(engine: str) -> None:
    x, w = np.array([1.0, 0.0, 2.0]), np.array([1.0, 3.0, 2.0])
    y = np.array([0.5, 0.5, 1.0])
    frame = pd.DataFrame(
        {
            "task": ["t"] * 6,
            "source": ["real"] * 3 + ["synthetic"] * 3,
            "value": np.r_[x, y],
            "weight": np.r_[w, w],
            "unit": [1, 2, 3, 1, 2, 3],
        }
    )
    row = unit_statistics(on(engine, frame)).iloc[0]
    mu = (w * x).sum() / w.sum()
    assert row["real_mean"] == pytest.approx(mu)
    assert row["real_var"] == pytest.approx((w**2 * (x - mu) ** 2).sum() / w.sum() ** 2)
    d = x - y
    mu_d = (w * d).sum() / w.sum()
    assert row["gap_mean"] == pytest.approx(mu_d)
    assert row["gap_var"] == pytest.approx((w**2 * (d - mu_d) ** 2).sum() / w.sum() ** 2)


def test_matches_task_data_statistics() -> None:
    from synthinfer.data import TaskData

    frame = long_table(paired=True, weighted=True).drop(columns="coord")
    ours = unit_statistics(frame).set_index("task")
    stats = TaskData.from_frame(frame).statistics()[""]
    index = stats.index_of(list(ours.index))
    np.testing.assert_allclose(stats.synth.estimate[index], ours["synth_mean"], rtol=1e-12)
    np.testing.assert_allclose(stats.synth.se[index] ** 2, ours["synth_var"], rtol=1e-10)
    history = ours["n_real"] > 0
    np.testing.assert_allclose(
        stats.gap.se[index][history.to_numpy()] ** 2, ours.loc[history, "gap_var"], rtol=1e-10
    )


def _broken(kind: str) -> pd.DataFrame:
    frame = long_table(paired=True, weighted=True, offset=0.0)
    if kind == "source":
        frame.loc[3, "source"] = "human"
    elif kind == "text":
        frame["value"] = frame["value"].astype(object)
        frame.loc[5, "value"] = "abc"
    elif kind == "nan":
        frame.loc[5, "value"] = np.nan
    elif kind == "negative":
        frame.loc[7, "weight"] = -1.0
    elif kind == "duplicate":
        frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    elif kind == "one-sided":
        frame = frame.drop(index=[0, 1, 2]).reset_index(drop=True)
    elif kind == "weights":
        frame.loc[0, "weight"] = frame.loc[0, "weight"] + 1.0
    elif kind == "no-synthetic":
        frame = frame[~((frame["task"] == "t1") & (frame["source"] == "synthetic"))]
    elif kind == "missing":
        frame = frame.drop(columns="value")
    return frame


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("source", r"column 'source' must be 'real' or 'synthetic'; 1 row\(s\).*'human'"),
        ("text", r"column 'value' has 1 non-numeric value\(s\) \(e\.g\. 'abc'\)"),
        ("negative", r"column 'weight' has 1 negative value"),
        ("weights", r"1 unit\(s\) carry different real and synthetic values in column 'weight'"),
        ("no-synthetic", r"task 't1'.* has real rows but no synthetic rows"),
        ("missing", r"needs column\(s\) 'value'"),
    ],
)
def test_validation_errors(engine: str, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unit_statistics(on(engine, _broken(kind)))


@pytest.mark.parametrize("engine", ENGINES)
def test_former_refusals_are_non_response_clusters_and_unlabelled_units(engine: str) -> None:
    """Issue 13 items 5-6 and issue 12 item 2: these tables used to be refused.

    An empty value is non-response (counted, left out, one warning); a repeated
    row of a unit is a cluster (averaged per unit: the same statistics); real
    rows dropped from paired units leave those synthetic units unlabelled.
    """
    clean = unit_statistics(on(engine, _broken("none"))).set_index(["task", "coord"])
    with pytest.warns(UserWarning, match=r"1 empty value \(non-response\).*task 't0' / coord"):
        nan = unit_statistics(on(engine, _broken("nan"))).set_index(["task", "coord"])
    assert nan.loc[
        ("t0", "y"), ["n_missing_real", "n_real", "n_pairs", "n_pairs_lost"]
    ].tolist() == [
        1,
        19,
        19,
        1,
    ]
    assert nan["n_missing_real"].sum() == 1 and nan["n_missing_synth"].sum() == 0
    duplicate = unit_statistics(on(engine, _broken("duplicate"))).set_index(["task", "coord"])
    assert duplicate.loc[("t0", "x"), "n_real_rows"] == clean.loc[("t0", "x"), "n_real_rows"] + 1
    same = duplicate.drop(columns="n_real_rows")
    pd.testing.assert_frame_equal(same, clean.drop(columns="n_real_rows"), rtol=1e-12)
    one_sided = unit_statistics(on(engine, _broken("one-sided"))).set_index(["task", "coord"])
    assert one_sided.loc[("t0", "x"), ["n_real", "n_synth", "n_pairs"]].tolist() == [18, 20, 18]
    assert one_sided.loc[("t0", "y"), ["n_real", "n_synth", "n_pairs"]].tolist() == [19, 20, 19]
    synthetic = ["n_synth", "synth_mean", "synth_var"]
    pd.testing.assert_frame_equal(one_sided[synthetic], clean[synthetic], rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_varying_attribute(engine: str) -> None:
    frame = long_table(paired=False, weighted=False)
    frame.loc[0, "time"] = 99.0
    with pytest.raises(ValueError, match="column 'time' varies within task 't0'"):
        unit_statistics(on(engine, frame), attributes=["time"])


def test_bad_engine() -> None:
    with pytest.raises(ValueError, match="engine must be one of"):
        unit_statistics(long_table(paired=False, weighted=False), engine="pandas")


# ----------------------------------------------------------------------- battles
def test_battle_engines_agree(tmp_path: Path) -> None:
    frame = pd.read_csv(BATTLES)
    expected = battle_statistics(frame)
    path = tmp_path / "battles.parquet"
    frame.to_parquet(path)
    for source in (BATTLES, path):
        got = battle_statistics(source)
        pd.testing.assert_frame_equal(got.counts, expected.counts, check_dtype=False)
    assert expected.n_battles == len(frame) == 26919
    # every battle is listed from both sides
    assert expected.counts["count"].sum() == 2 * len(frame)


def test_battle_counts_are_oriented() -> None:
    frame = pd.DataFrame(
        {
            "model_a": ["x", "x", "y"],
            "model_b": ["y", "y", "x"],
            "human": ["a", "tie", "a"],
            "judge": ["b", "TIE ", "a"],
        }
    )
    counts = battle_statistics(frame).counts.set_index(["model", "opponent", "human", "judge"])
    assert counts.loc[("x", "y", "win", "loss"), "count"] == 1
    assert counts.loc[("x", "y", "tie", "tie"), "count"] == 1
    assert counts.loc[("y", "x", "win", "win"), "count"] == 1
    assert counts.loc[("x", "y", "loss", "loss"), "count"] == 1
    assert counts["count"].sum() == 6


@pytest.mark.parametrize("engine", ENGINES)
def test_battle_validation(engine: str) -> None:
    frame = pd.read_csv(BATTLES).head(200)
    bad = frame.copy()
    bad.loc[[3, 4], "human"] = "model_a"
    with pytest.raises(ValueError, match=r"column 'human' has unknown verdict values: 'model_a'"):
        battle_statistics(on(engine, bad))
    same = frame.copy()
    same.loc[0, "model_b"] = same.loc[0, "model_a"]
    with pytest.raises(ValueError, match=r"1 battle\(s\) pit a model against itself"):
        battle_statistics(on(engine, same))
    missing = frame.copy()
    missing.loc[0, "judge"] = None
    with pytest.raises(ValueError, match=r"column 'judge' is empty in 1 row"):
        battle_statistics(on(engine, missing))
    with pytest.raises(ValueError, match=r"needs column\(s\) 'verdict'"):
        battle_statistics(on(engine, frame), human="verdict")


def test_verdict_spellings_and_times() -> None:
    frame = pd.DataFrame(
        {
            "left": ["x", "y", "x"],
            "right": ["y", "z", "z"],
            "people": ["model_a", "tie (bothbad)", None],
            "llm": ["model_b", "tie", "model_a"],
            "when": [3.0, 1.0, 2.0],
        }
    )
    stats = battle_statistics(
        frame,
        model_a="left",
        model_b="right",
        human="people",
        judge="llm",
        time="when",
        verdicts="model_a,model_b,tie|tie (bothbad)",
    )
    counts = stats.counts
    assert counts["human"].isna().sum() == 2  # the judge-only battle, from both sides
    assert stats.times.to_dict() == {"x": 2.0, "y": 1.0, "z": 1.0}


def test_verdicts_parse() -> None:
    assert Verdicts.parse(None) == Verdicts()
    assert Verdicts.parse("A|1,B|2,T").a == ("a", "1")
    with pytest.raises(ValueError, match="three comma-separated values"):
        Verdicts.parse("a,b")
    with pytest.raises(ValueError, match="two meanings"):
        Verdicts.parse("a,a,tie")


def test_all_attributes_and_summary_table(tmp_path: Path) -> None:
    from synthinfer.data import TaskData
    from synthinfer.tables import to_summary_table

    frame = long_table(paired=True, weighted=False).drop(columns="coord")
    path = tmp_path / "units.csv"
    frame.to_csv(path, index=False)
    stats = unit_statistics(path, attributes="all")
    assert list(stats.columns) == [*UNIT_STATISTICS_COLUMNS, "time"]
    summary = to_summary_table(stats)
    assert "coord" not in summary.columns
    data = TaskData.from_frame(summary)
    assert data.target_tasks == ("t4",)
    direct = TaskData.from_frame(frame).statistics()[""]
    ours = data.statistics()[""]
    index = direct.index_of(list(ours.tasks))
    np.testing.assert_allclose(ours.gap.se, direct.gap.se[index], rtol=1e-10)
    np.testing.assert_allclose(ours.synth.estimate, direct.synth.estimate[index], rtol=1e-12)
    with pytest.raises(ValueError, match="attributes must be a list of column names or 'all'"):
        unit_statistics(frame, attributes="some")
