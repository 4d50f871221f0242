"""TaskData: both formats, and every malformed input of DESIGN.md's error list (library level)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer.data import Estimand, TaskData


def unit_base() -> pd.DataFrame:
    """Two history tasks ``a``, ``b`` (3 real, 3 synthetic rows) and a target ``t``."""
    return pd.DataFrame(
        {
            "task": ["a"] * 6 + ["b"] * 6 + ["t"] * 3,
            "source": (["real"] * 3 + ["synthetic"] * 3) * 2 + ["synthetic"] * 3,
            "value": [1.0, 2, 3, 1, 2, 4, 2, 3, 5, 1, 1, 2, 1, 2, 3],
        }
    )


def summary_base() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": ["a", "b", "t"],
            "synth_estimate": [0.1, 0.2, 0.3],
            "synth_se": [0.01, 0.02, 0.01],
            "real_estimate": [0.2, 0.25, np.nan],
            "gap_se": [0.02, 0.03, np.nan],
        }
    )


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    if column in frame.columns and not isinstance(value, float | int):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _with(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for name, values in columns.items():
        frame[name] = values
    return frame


PAIR_UNITS = ["u1", "u2", "u3", "u1", "u2", "u3", "v1", "v2", "v3", "v1", "v2", "v3", "x", "y", "z"]

# (case id, frame builder, message pattern): DESIGN.md "Errors"
MALFORMED = [
    (
        "missing-column-unit",
        lambda: unit_base().drop(columns="task"),
        r"a unit-level table needs column\(s\) 'task'",
    ),
    (
        "missing-column-summary",
        lambda: summary_base().drop(columns="synth_se"),
        r"a summary table needs column\(s\) 'synth_se'",
    ),
    (
        "unknown-format",
        lambda: pd.DataFrame({"task": ["a"], "estimate": [0.1]}),
        r"cannot tell the format",
    ),
    (
        "summary-without-real",
        lambda: summary_base().drop(columns="real_estimate"),
        r"needs 'real_estimate' or 'gap_estimate'",
    ),
    (
        "non-numeric-value",
        lambda: _set(unit_base(), 4, "value", "abc"),
        r"column 'value' has non-numeric values \('abc' at line 6\)",
    ),
    (
        "non-numeric-summary",
        lambda: _set(summary_base(), 1, "gap_se", "n/a"),
        r"column 'gap_se' has non-numeric values",
    ),
    (
        "inf-value",
        lambda: _set(unit_base(), 2, "value", np.inf),
        r"column 'value' has infinite values",
    ),
    (
        "nan-synth-se",
        lambda: _set(summary_base(), 2, "synth_se", np.nan),
        r"column 'synth_se' has missing \(NaN\) values at line 4",
    ),
    (
        "inf-summary",
        lambda: _set(summary_base(), 0, "synth_estimate", -np.inf),
        r"column 'synth_estimate' has infinite values",
    ),
    ("empty-table", lambda: unit_base().iloc[:0], r"the table has no rows"),
    (
        "empty-task-id",
        lambda: _set(unit_base(), 3, "task", None),
        r"column 'task' is empty at line 5",
    ),
    (
        "task-without-synthetic",
        lambda: pd.concat(
            [
                unit_base(),
                pd.DataFrame({"task": ["r", "r"], "source": "real", "value": [1.0, 2.0]}),
            ],
            ignore_index=True,
        ),
        r"task 'r' has real rows but no synthetic rows",
    ),
    (
        "bad-source",
        lambda: _set(unit_base(), 1, "source", "llm"),
        r"column 'source' must be 'real' or 'synthetic', got 'llm'",
    ),
    (
        "unpaired-units",
        lambda: _with(unit_base(), unit=[*PAIR_UNITS[:5], "u9", *PAIR_UNITS[6:]]),
        r"unit\(s\) of history tasks appear on one side only",
    ),
    (
        "missing-unit",
        lambda: _set(_with(unit_base(), unit=PAIR_UNITS), 0, "unit", None),
        r"column 'unit' is empty at line 2",
    ),
    (
        "negative-weight",
        lambda: _set(_with(unit_base(), weight=1.0), 7, "weight", -0.5),
        r"column 'weight' has negative weights at line 9",
    ),
    (
        "zero-weight-total",
        lambda: _with(unit_base(), weight=[0.0] * 3 + [1.0] * 12),
        r"the weights of 'a' / 'real' sum to 0",
    ),
    (
        "negative-se",
        lambda: _set(summary_base(), 1, "gap_se", -0.01),
        r"column 'gap_se' has negative standard errors at line 3",
    ),
    (
        "duplicate-summary-task",
        lambda: _set(summary_base(), 1, "task", "a"),
        r"duplicate rows for the same task at lines 2, 3",
    ),
    (
        "history-without-gap-se",
        lambda: _set(summary_base(), 0, "gap_se", np.nan),
        r"column 'gap_se' is empty for history rows at line 2",
    ),
    (
        "varying-attribute",
        lambda: _with(unit_base(), time=[1.0] * 5 + [2.0] + [3.0] * 9),
        r"column 'time' varies within task 'a'",
    ),
    (
        "bad-task-weight",
        lambda: _with(summary_base(), task_weight=[0.5, 1.5, np.nan]),
        r"column 'task_weight' must lie in \[0, 1\]",
    ),
    (
        "missing-coordinate",
        lambda: _with(summary_base(), coord=["x", "x", "y"]),
        r"task 'a' lacks coordinate\(s\) 'y'",
    ),
]


@pytest.mark.parametrize(("case", "build", "message"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_tables_raise_one_clear_error(case, build, message):
    frame = build()
    with pytest.raises(ValueError, match=message) as error:
        TaskData.from_frame(frame, name="mytable.csv")
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("mytable.csv: "), text  # names the file


def test_paired_units_validated():
    frame = _with(unit_base(), unit=PAIR_UNITS)
    data = TaskData.from_frame(frame)
    assert data.kind == "unit"
    assert data.history_tasks == ("a", "b")
    assert data.target_tasks == ("t",)
    # Two real rows for unit u1 of task a were refused; they are now one cluster
    # (averaged: (1 + 2) / 2 = 1.5), and unit u2's synthetic row is unlabelled.
    repeated = _set(frame, 1, "unit", "u1")
    stats = TaskData.from_frame(repeated).frame.set_index("task")
    assert stats.loc["a", ["n_real", "n_real_rows", "n_synth", "n_pairs"]].tolist() == [2, 3, 3, 2]
    assert stats.loc["a", "real_mean"] == pytest.approx((1.5 + 3) / 2)
    assert stats.loc["a", "gap_mean"] == pytest.approx(((1.5 - 1) + (3 - 4)) / 2)
    assert stats.loc["a", "synth_mean"] == pytest.approx((1 + 2 + 4) / 3)


def test_an_empty_value_is_non_response():
    """An empty value was refused as missing; it is now left out, counted and reported."""
    frame = _set(unit_base(), 0, "value", np.nan)
    with pytest.warns(UserWarning, match=r"1 empty value \(non-response\).*task 'a' 1 real"):
        stats = TaskData.from_frame(frame).frame.set_index("task")
    assert stats.loc["a", ["n_real", "n_missing_real", "n_missing_synth"]].tolist() == [2, 1, 0]
    assert stats.loc["a", "real_mean"] == pytest.approx(2.5)


def test_paired_weights_must_be_shared():
    frame = _with(unit_base(), unit=PAIR_UNITS, weight=1.0)
    frame.loc[3, "weight"] = 2.0  # synthetic row of unit u1 in task a
    with pytest.raises(ValueError, match="carry different weights"):
        TaskData.from_frame(frame)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_alpha_outside_unit_interval(alpha):
    data = TaskData.from_frame(summary_base())
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        synthinfer.infer(data, alpha=alpha)
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        synthinfer.backtest(data, alpha=[0.1, alpha])


@pytest.mark.parametrize(
    ("allocation", "alpha", "message"),
    [
        ("prop:0.1,0.2,0.6", 0.1, r"proportions must sum to 1"),
        ("abs:0.05,0.05", 0.1, r"leaves nothing for alpha3"),
        ("abs:0.1,0.2", 0.2, r"leaves nothing for alpha3"),
        ("prop:0.1,0.9", 0.1, r"'prop:' takes 3 numbers"),
    ],
)
def test_allocations_that_do_not_sum_to_alpha(allocation, alpha, message):
    data = TaskData.from_frame(summary_base())
    with pytest.raises(ValueError, match=message):
        synthinfer.infer(data, alpha=alpha, allocation=allocation)


def test_too_few_history_tasks_warns_and_reports_infinite_band():
    data = TaskData.from_frame(summary_base())
    # the default allocation ("auto") needs T >= 20 at alpha 0.1 (the paper's split: 28)
    with pytest.warns(UserWarning, match=r"infinite.*at least 20 are needed"):
        result = synthinfer.infer(data, alpha=0.1)
    interval = result[0]
    assert interval.feasible is False
    assert (interval.lower, interval.upper) == (-np.inf, np.inf)
    assert "2 history tasks are too few" in interval.message
    assert "at least 20 are needed" in interval.message
    assert "INFINITE" in interval.summary()
    # with bounds the infinite ends become the bounds, still feasible = False
    with pytest.warns(UserWarning, match="feasible = false"):
        clipped = synthinfer.infer(data, alpha=0.1, bounds=(0, 1))[0]
    assert (clipped.lower, clipped.upper, clipped.feasible) == (0.0, 1.0, False)


def test_unknown_method_interval_estimand():
    data = TaskData.from_frame(summary_base())
    with pytest.raises(ValueError, match="method must be one of"):
        synthinfer.infer(data, alpha=0.5, method="magic")
    with pytest.raises(ValueError, match="summary table carries estimates and standard errors"):
        synthinfer.infer(data, alpha=0.5, interval="bootstrap")
    with pytest.raises(ValueError, match="estimand must be 'mean' or 'quantile:Q'"):
        Estimand.parse("median")
    unit = TaskData.from_frame(unit_base())
    with pytest.raises(ValueError, match="interval must be one of"):
        synthinfer.infer(unit, alpha=0.5, interval="exact")


def test_summary_table_statistics():
    data = TaskData.from_frame(summary_base())
    assert data.kind == "summary"
    assert data.history_tasks == ("a", "b") and data.target_tasks == ("t",)
    stats = data.statistics()[""]
    np.testing.assert_allclose(stats.observed[:2], [0.1, 0.05])
    assert np.isnan(stats.observed[2])
    np.testing.assert_allclose(stats.truth[:2], [0.2, 0.25])
    np.testing.assert_allclose(stats.gap.se[:2], [0.02, 0.03])
    np.testing.assert_allclose(stats.synth.estimate, [0.1, 0.2, 0.3])


def test_gap_estimate_column_used_when_given():
    frame = summary_base().drop(columns="real_estimate")
    frame["gap_estimate"] = [0.05, -0.02, np.nan]
    stats = TaskData.from_frame(frame).statistics()[""]
    np.testing.assert_allclose(stats.observed[:2], [0.05, -0.02])
    np.testing.assert_allclose(stats.truth[:2], [0.15, 0.18])


def test_read_csv_and_parquet(tmp_path):
    frame = summary_base()
    frame.to_csv(tmp_path / "s.csv", index=False)
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    for name in ("s.csv", "s.parquet"):
        data = TaskData.read(tmp_path / name)
        assert data.history_tasks == ("a", "b")
        assert data.name.endswith(name)
    with pytest.raises(FileNotFoundError, match="no such file"):
        TaskData.read(tmp_path / "missing.csv")
    (tmp_path / "s.sas7bdat").write_text("x")
    with pytest.raises(ValueError, match=r"unknown file type '\.sas7bdat'"):
        TaskData.read(tmp_path / "s.sas7bdat")


def test_no_warning_for_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TaskData.from_frame(unit_base())
        TaskData.from_frame(summary_base())
