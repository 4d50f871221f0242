"""The example notebook runs from top to bottom and shows results as HTML tables."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = (
    Path(__file__).resolve().parents[1] / "docs" / "examples" / "notebook" / "quickstart.ipynb"
)


def test_the_example_notebook_runs_and_displays_results_as_html():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    html = [
        output["data"]["text/html"] for output in outputs if "text/html" in output.get("data", {})
    ]
    assert (
        len(html) >= 5
    )  # the data frame, two inference results, an interval, a backtest, an arena result
    assert any("w3" in page and "feasible" in page for page in html)
