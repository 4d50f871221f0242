"""Forest plots and gap plots (Agg backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synthinfer.cli import app  # noqa: E402
from synthinfer.plot import forest_figure, forest_plot, gap_plot, select_rows  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def results_table(tasks: int = 6, coords=("",)) -> pd.DataFrame:
    """Calibrated intervals that cover and synthetic-only ones that miss every other task."""
    rows = []
    for coord in coords:
        for index in range(tasks):
            truth = 0.1 + 0.8 * index / max(tasks - 1, 1)
            for method, half, shift in (
                ("exchangeable", 0.2, 0.05),
                ("synthetic-only", 0.01, 0.05),
            ):
                estimate = truth + (shift if index % 2 else 0.0)
                rows.append(
                    {
                        "task": f"task {index:03d}",
                        "coord": coord,
                        "method": method,
                        "alpha": 0.1,
                        "estimate": estimate,
                        "lower": estimate - half,
                        "upper": estimate + half,
                        "truth": truth,
                    }
                )
    return pd.DataFrame(rows)


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_forest_plot_rows_legend_and_coverage_counts():
    ax = forest_plot(results_table(6))
    assert len(ax.get_yticks()) == 6
    labels = _legend_texts(ax)
    assert "exchangeable: covers 6/6" in labels
    assert "synthetic-only: covers 3/6" in labels
    assert "truth" in labels
    assert ax.get_title().startswith("exchangeable at α = 0.1")


def test_forest_plot_sorts_rows_by_truth():
    table = results_table(5).iloc[::-1]
    ax = forest_plot(table)
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == [f"task {i:03d}" for i in range(5)]
    # The smallest truth is drawn at the top.
    positions = dict(zip(labels, ax.get_yticks(), strict=True))
    assert positions["task 000"] > positions["task 004"]


def test_forest_plot_clips_to_bounds_and_marks_infinite_ends():
    table = results_table(4)
    mask = (table["method"] == "exchangeable") & (table["task"] == "task 001")
    table.loc[mask, "lower"] = -np.inf
    table.loc[mask, "upper"] = np.inf
    ax = forest_plot(table, bounds=(0, 1))
    low, high = ax.get_xlim()
    assert low >= -0.05 and high <= 1.05
    for collection in ax.collections:
        for segment in collection.get_segments():
            assert segment[:, 0].min() >= 0.0 and segment[:, 0].max() <= 1.0
    markers = [line.get_marker() for line in ax.lines if len(line.get_xdata())]
    assert "<" in markers and ">" in markers


def test_forest_plot_readable_with_100_tasks():
    ax = forest_plot(results_table(100))
    figure = ax.get_figure()
    assert figure.get_size_inches()[1] > 15
    assert ax.get_yticklabels()[0].get_fontsize() < 6


def test_forest_figure_one_panel_per_coordinate():
    figure = forest_figure(results_table(5, coords=("co", "opp")), title="two coordinates")
    assert len(figure.axes) == 2
    assert figure.axes[1].get_title().endswith("opp")


def test_select_rows_errors():
    table = results_table(3, coords=("co", "opp"))
    with pytest.raises(ValueError, match="several coordinates"):
        select_rows(table, "exchangeable")
    with pytest.raises(ValueError, match="method 'weighted' is not in the results"):
        select_rows(table, "weighted", coord="co")
    with pytest.raises(ValueError, match=r"alpha 0\.2 is not in the results"):
        select_rows(table, "exchangeable", alpha=0.2, coord="co")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['upper'\]"):
        forest_plot(table.drop(columns="upper"), coord="co")
    with pytest.raises(ValueError, match="sort must be"):
        forest_plot(table, coord="co", sort="random")


def test_forest_plot_of_per_replication_rows_without_baseline():
    table = results_table(4).rename(columns={"task": "rep"})
    table["rep"] = table.groupby("method").cumcount()
    ax = forest_plot(table, baseline=None)
    assert ax.get_ylabel() == "replication"
    assert _legend_texts(ax) == ["exchangeable: covers 4/4", "truth"]


def test_forest_plot_draws_on_given_axes():
    _, ax = plt.subplots()
    assert forest_plot(results_table(3), ax=ax) is ax


def test_gap_plot_with_band():
    ax = gap_plot([0.1, -0.2, 0.05], [0.02, 0.03, 0.01], labels=["a", "b", "c"], band=(-0.3, 0.2))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]
    assert "conformal band" in _legend_texts(ax)


def test_cli_plot_writes_an_image(tmp_path):
    source = tmp_path / "results.csv"
    results_table(8, coords=("co", "opp")).to_csv(source, index=False)
    image = tmp_path / "forest.png"
    result = CliRunner().invoke(
        app, ["plot", str(source), "--out", str(image), "--bounds", "0,1", "--title", "t"]
    )
    assert result.exit_code == 0, result.output
    assert image.stat().st_size > 10_000
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["plot", str(source), "--out", str(image), "-m", "nope"])
    assert bad.exit_code == 2
    assert "method 'nope' is not in the results table" in bad.output
