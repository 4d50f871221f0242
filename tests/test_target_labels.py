"""Backtests with simulated labelling (``target_labels=`` / ``--target-labels``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthinfer import backtest
from synthinfer.cli import app
from synthinfer.data import Estimand, Labels, TaskData
from synthinfer.intervals import ppi_mean

ALPHA = 0.1


def paired_table(n_tasks: int, n_units: int = 100, labelled: int = 100, seed: int = 0):
    """Paired rows: every unit has one synthetic row, the first ``labelled`` a real one."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 1.0, (n_tasks, 1))
    real = means + rng.normal(0.0, 1.0, (n_tasks, n_units))
    synth = 0.8 * real + rng.normal(0.3, 0.2, (n_tasks, 1)) + rng.normal(0, 0.5, real.shape)
    tasks = np.repeat([f"t{i:03d}" for i in range(n_tasks)], n_units)
    units = np.tile(np.arange(n_units), n_tasks)
    synthetic = pd.DataFrame(
        {"task": tasks, "source": "synthetic", "value": synth.ravel(), "unit": units}
    )
    keep = units < labelled
    observed = pd.DataFrame(
        {"task": tasks[keep], "source": "real", "value": real.ravel()[keep], "unit": units[keep]}
    )
    return pd.concat([observed, synthetic], ignore_index=True)


def run(frame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return backtest(frame, **options)


def test_rows_and_summary_carry_target_labels():
    frame = paired_table(12)
    result = run(frame, method="ppi,exchangeable", target_labels=[10, 40])
    assert sorted(result.tasks["target_labels"].unique()) == [10, 40]
    assert len(result.tasks) == 12 * 2 * 2
    summary = result.summary_frame
    assert list(summary[["method", "target_labels"]].itertuples(index=False, name=None)) == [
        ("ppi", 10),
        ("exchangeable", 10),
        ("ppi", 40),
        ("exchangeable", 40),
    ]
    # other methods do not depend on the labels
    ex = result.tasks[result.tasks["method"] == "exchangeable"]
    np.testing.assert_array_equal(
        ex[ex["target_labels"] == 10]["lower"].to_numpy(),
        ex[ex["target_labels"] == 40]["lower"].to_numpy(),
    )
    # truth is the held-out task's full real estimate
    truth = frame[frame["source"] == "real"].groupby("task")["value"].mean()
    rows = result.tasks.set_index("task")
    np.testing.assert_allclose(rows.loc[truth.index, "truth"].iloc[::4], truth.to_numpy())
    # more labels: narrower PPI intervals
    ppi = summary[summary["method"] == "ppi"].set_index("target_labels")["mean_width"]
    assert ppi[40] < ppi[10]


def test_without_target_labels_there_is_no_column():
    result = run(paired_table(6), method="exchangeable")
    assert "target_labels" not in result.tasks.columns
    assert "target_labels" not in result.summary_frame.columns


def test_the_held_out_task_keeps_a_seeded_m_of_its_units_as_labels():
    frame = paired_table(5, n_units=80)
    data = TaskData.load(frame)
    labels = Labels(data, Estimand(), seed=7, methods=("ppi",), simulate=25)
    sample = labels.target_sample("", "t002")
    assert sample.m == 25 and sample.unlabelled.size == 55
    again = Labels(data, Estimand(), 7, ("ppi",), 25).target_sample("", "t002")
    np.testing.assert_array_equal(sample.real, again.real)
    other = Labels(data, Estimand(), 8, ("ppi",), 25).target_sample("", "t002")
    assert not np.array_equal(sample.real, other.real)
    # the labels are real values of the task; their synthetic partners leave the unlabelled
    rows = frame[frame["task"] == "t002"]
    real = rows[rows["source"] == "real"].set_index("unit")["value"]
    synth = rows[rows["source"] == "synthetic"].set_index("unit")["value"]
    units = real.index[np.isin(real.to_numpy(), sample.real)]
    assert len(units) == 25
    np.testing.assert_allclose(np.sort(sample.synth), np.sort(synth.loc[units].to_numpy()))
    np.testing.assert_allclose(np.sort(sample.unlabelled), np.sort(synth.drop(units).to_numpy()))
    result = run(frame, method="ppi", target_labels=25, seed=7, ppi_critical="normal")
    row = result.tasks[result.tasks["task"] == "t002"].iloc[0]
    family = ppi_mean(sample.real, sample.synth, sample.unlabelled)
    lower, upper = family.interval(ALPHA)
    assert (row["lower"], row["upper"]) == (pytest.approx(lower), pytest.approx(upper))


def test_held_out_tasks_with_too_few_labels_are_left_out_at_that_m():
    frame = paired_table(4, n_units=60)
    short = (frame["task"] == "t001") & (frame["source"] == "real") & (frame["unit"] >= 15)
    with pytest.warns(UserWarning, match=r"1 held-out task\(s\) have fewer than"):
        result = backtest(frame[~short], method="ppi", target_labels=[10, 20])
    tasks = result.tasks.groupby("target_labels")["task"].apply(list).to_dict()
    assert tasks == {10: ["t000", "t001", "t002", "t003"], 20: ["t000", "t002", "t003"]}
    # every unit labelled and m = all of them: no unit left unlabelled, left out too
    with pytest.warns(UserWarning, match="no unit left unlabelled"):
        result = backtest(paired_table(3, n_units=20), method="ppi", target_labels=[10, 20])
    assert set(result.tasks["target_labels"]) == {10}


def test_bad_uses_are_refused():
    frame = paired_table(4, n_units=40)
    with pytest.raises(ValueError, match="needs --target-labels M"):
        run(frame, method="ppi")
    with pytest.raises(ValueError, match="whole numbers"):
        run(frame, method="ppi", target_labels="1")
    with pytest.raises(ValueError, match="whole numbers"):
        run(frame, method="ppi", target_labels="ten")
    with pytest.raises(ValueError, match="'unit' column"):
        run(frame.drop(columns="unit"), method="exchangeable", target_labels=10)
    with pytest.raises(ValueError, match="option of infer"):
        run(frame, method="exchangeable", targets="t001")
    summary = TaskData.load(frame).summary_table()
    with pytest.raises(ValueError, match="unit-level table"):
        run(summary, method="exchangeable", target_labels=10)


def test_ppi_backtest_coverage_with_simulated_labels():
    """Held-out tasks' PPI intervals cover their full real mean at >= 1 - alpha.

    The truth is the mean over all of the task's units (a finite population
    the labels are drawn from), so coverage is at least nominal: one-sided.
    """
    n_tasks = 300
    result = run(paired_table(n_tasks, n_units=120, seed=1), method="ppi", target_labels=30)
    coverage = float(result.summary_frame["coverage"].iloc[0])
    mcse = np.sqrt(ALPHA * (1 - ALPHA) / n_tasks)
    assert coverage >= 1 - ALPHA - 3 * mcse


def test_cli_target_labels(tmp_path):
    path = tmp_path / "paired.csv"
    paired_table(6, n_units=40).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(
            app,
            ["backtest", str(path), "--method", "ppi", "--target-labels", "10,20"],
        )
    assert result.exit_code == 0, result.output
    assert "target_labels" in result.stdout
