"""The HTML report: self-contained, complete, escaped, and rendered by a real browser."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
from synthinfer.cli import app
from synthinfer.report import (
    Provenance,
    format_value,
    intervals_html,
    provenance_path,
    read_provenance,
    table_html,
    write_provenance,
)

pytest.importorskip("matplotlib")

runner = CliRunner()
SCRIPT_TASK = "<script>alert('x')</script>"
PERMUTATIONS = 199


def tasks_with_odd_names(n_history: int = 24, seed: int = 3, drift: float = 0.0) -> pd.DataFrame:
    """A summary table: ``n_history`` history tasks and three targets, one named ``<script>``.

    The gap grows by ``drift`` per task (in time order).
    """
    rng = np.random.default_rng(seed)
    names = [f"h{j:02d}" for j in range(n_history)] + [SCRIPT_TASK, "a & b", "plain"]
    n = len(names)
    synth = rng.uniform(0.2, 0.8, size=n)
    gap = rng.normal(0.05, 0.04, size=n) + drift * np.arange(n)
    frame = pd.DataFrame(
        {
            "task": names,
            "synth_estimate": synth,
            "synth_se": rng.uniform(0.005, 0.02, size=n),
            "real_estimate": synth + gap,
            "gap_estimate": gap,
            "gap_se": rng.uniform(0.005, 0.02, size=n),
            "time": np.arange(n, dtype=float),
        }
    )
    frame.loc[n_history:, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    return frame


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return tasks_with_odd_names()


@pytest.fixture(scope="module")
def result(data):
    return synthinfer.infer(
        data, alpha=[0.2, 0.3], method=["exchangeable", "synthetic-only"], seed=7
    )


@pytest.fixture(scope="module")
def page(result, data) -> str:
    return result.to_html(data=data, n_permutations=PERMUTATIONS)


class Tables(HTMLParser):
    """Cell texts of every table, by the id of the section holding it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.section = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.section = attrs.get("id", "")
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables.setdefault(self.section, []).append(self.row)
            self.row = None

    def handle_data(self, text):
        if self.cell is not None:
            self.cell.append(text)


def parsed(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


def table_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    """The first table of a section as dicts (header row, then data rows)."""
    header = rows[0]
    return [dict(zip(header, row, strict=False)) for row in rows[1:] if row != header]


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    for value in re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page):
        assert value.startswith("data:"), value


def image_size(uri: str) -> tuple[int, int]:
    """Decode a data URI and return the image's size in pixels (PNG) or points (SVG)."""
    head, data = uri.split(",", 1)
    content = base64.b64decode(data, validate=True)
    if head == "data:image/png;base64":
        assert content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR"
        return struct.unpack(">II", content[16:24])
    assert head == "data:image/svg+xml;base64", head
    root = ET.fromstring(content)
    assert root.tag.endswith("svg")
    return tuple(int(float(root.attrib[k].rstrip("pt"))) for k in ("width", "height"))


# ----------------------------------------------------------------- the page itself


def test_the_page_is_self_contained_and_its_images_decode(page):
    assert_self_contained(page)
    images = parsed(page).images
    assert len(images) >= 3  # forest plot, gap plot, diagnostics
    for uri in images:
        width, height = image_size(uri)
        assert width > 50 and height > 50


def test_svg_images_decode(result, data):
    page = result.to_html(data=data, image_format="svg", n_permutations=PERMUTATIONS)
    assert_self_contained(page)
    images = parsed(page).images
    assert images and all(uri.startswith("data:image/svg+xml;base64,") for uri in images)
    assert all(min(image_size(uri)) > 50 for uri in images)


def test_every_interval_row_is_in_the_table(page, result):
    shown = table_dicts(parsed(page).tables["intervals"])
    frame = result.to_frame()
    assert len(shown) == len(frame) == 12
    keys = ("task", "method", "alpha", "lower", "upper", "estimate", "w1", "w2", "w3")
    expected = {tuple(format_value(row[k]) for k in keys) for _, row in frame.iterrows()}
    assert {tuple(row[k] for k in keys) for row in shown} == expected


def test_the_rows_are_there_at_full_precision(page, result):
    block = re.search(r"<pre>(.*?)</pre>", page, re.DOTALL).group(1)
    rows = pd.read_csv(io.StringIO(html.unescape(block)), keep_default_na=False)
    frame = result.to_frame()
    for column in ("lower", "upper", "w1", "w2", "w3", "alpha"):
        np.testing.assert_array_equal(rows[column].to_numpy(float), frame[column].to_numpy(float))
    assert rows["task"].tolist() == frame["task"].tolist()


def test_the_width_decomposition_is_the_mean_per_method_and_alpha(page, result):
    shown = table_dicts(parsed(page).tables["widths"])
    frame = result.to_frame()
    means = frame.groupby(["method", "alpha"], sort=False)[["w1", "w2", "w3"]].mean()
    assert len(shown) == len(means) == 4
    for row in shown:
        expected = means.loc[(row["method"], float(row["alpha"]))]
        assert [row[w] for w in ("w1", "w2", "w3")] == [format_value(v) for v in expected]
    assert "w1 synthetic noise" in page and "w2 history-gap noise" in page
    assert "w3 bias spread" in page


def test_seed_version_and_data_are_recorded(page, tmp_path, result, data):
    items = dict(parsed(page).tables["provenance"][1:])
    assert items["seed"] == "7" and items["synthinfer version"] == version("synthinfer")
    path = tmp_path / "tasks.csv"
    data.to_csv(path, index=False)
    on_file = dict(
        parsed(result.to_html(data=path, n_permutations=PERMUTATIONS)).tables["provenance"][1:]
    )
    assert on_file["data file (data)"] == str(path.resolve())


def test_task_names_are_escaped(page):
    assert "<script" not in page.lower()
    assert html.escape(SCRIPT_TASK) in page and "a &amp; b" in page
    tasks = {row["task"] for row in table_dicts(parsed(page).tables["intervals"])}
    assert {SCRIPT_TASK, "a & b", "plain"} == tasks


def test_table_fragment_escapes_headers_and_cells():
    fragment = table_html(pd.DataFrame({"<b>": ["<i>x</i>"], "n": [np.inf]}))
    assert "<b>" not in fragment and "<i>" not in fragment
    assert "&lt;b&gt;" in fragment and "∞" in fragment


def test_the_verdict_reports_the_diagnostics(page, result, data):
    found = synthinfer.diagnose(data, alpha=0.2, n_permutations=PERMUTATIONS, seed=7)
    verdict = re.search(r'<section id="verdict">(.*?)</section>', page, re.DOTALL).group(1)
    if found.flagged:
        assert f"{len(found.flagged)} of {len(found.findings)} checks flagged" in verdict
    else:
        assert "nothing flagged" in verdict
    findings = table_dicts(parsed(page).tables["diagnostics"])
    assert [row["test"] for row in findings] == [f.test for f in found.findings]
    without = result.to_html(n_permutations=PERMUTATIONS)
    assert "Diagnostics not run: no task data was given" in without


def test_a_flagged_finding_is_shown_with_its_remedy():
    drifting = tasks_with_odd_names(40, drift=0.01)
    result = synthinfer.infer(drifting, alpha=0.2, seed=0)
    page = result.to_html(data=drifting, n_permutations=PERMUTATIONS)
    assert 'class="verdict flagged"' in page and "trend" in page and "remedy:" in page


def test_infinite_intervals_are_never_shown_finite(data):
    small = tasks_with_odd_names(5)
    with pytest.warns(UserWarning, match="infinite"):
        result = synthinfer.infer(small, alpha=0.2, method="exchangeable", bounds=(0, 1))
    page = result.to_html(data=small, n_permutations=PERMUTATIONS)
    rows = table_dicts(parsed(page).tables["intervals"])
    assert rows and all(row["feasible"] == "no" for row in rows)
    assert all(row["status"] == "INFINITE (shown clipped to the bounds)" for row in rows)
    with pytest.warns(UserWarning, match="infinite"):
        unbounded = synthinfer.infer(small, alpha=0.2, method="exchangeable", bounds=None)
    rows = table_dicts(parsed(unbounded.to_html(diagnostics=False)).tables["intervals"])
    assert {(row["lower"], row["upper"], row["status"]) for row in rows} == {
        ("−∞", "∞", "INFINITE")
    }


def test_intervals_fragment_marks_infinite_rows_without_a_feasible_column(result):
    rows = result.to_frame().drop(columns="feasible").head(2)
    rows.loc[rows.index[0], ["lower", "upper"]] = [-np.inf, np.inf]
    fragment = intervals_html(rows)
    shown = table_dicts(parsed(f'<section id="x">{fragment}</section>').tables["x"])
    assert [row["status"] for row in shown] == ["INFINITE", "finite"]
    assert [row["feasible"] for row in shown] == ["no", "yes"]


def test_backtest_report_has_coverage(data):
    with pytest.warns(UserWarning, match="3 target task"):
        result = synthinfer.backtest(data, protocol="loo", alpha=0.2, method="exchangeable")
    page = result.to_html(data=data, n_permutations=PERMUTATIONS)
    coverage = table_dicts(parsed(page).tables["coverage"])
    assert len(coverage) == 1
    assert coverage[0]["coverage"] == format_value(result.summary_frame["coverage"].iloc[0])
    assert len(table_dicts(parsed(page).tables["intervals"])) == len(result.tasks)
    assert_self_contained(page)


def test_write_report_and_bad_input(tmp_path, result):
    path = synthinfer.write_report(result, tmp_path / "r.html", diagnostics=False)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match="to_html takes an InferenceResult"):
        synthinfer.to_html([1, 2])
    with pytest.raises(ValueError, match=r"lack column\(s\) \['upper'\]"):
        synthinfer.to_html(result.to_frame().drop(columns="upper"))
    with pytest.raises(ValueError, match="image_format must be one of"):
        result.to_html(image_format="gif")


# ---------------------------------------------------------------- provenance files


def test_provenance_round_trip(tmp_path):
    results = tmp_path / "r.csv"
    recorded = Provenance(command="infer", data={"data": "/x.csv"}, seed=3, options={"k": 1})
    assert write_provenance(results, recorded) == provenance_path(results)
    assert provenance_path(results).name == "r.csv.meta.json"
    assert read_provenance(results) == recorded
    assert read_provenance(tmp_path / "none.csv") is None
    provenance_path(results).write_text("[1]")
    with pytest.raises(ValueError, match="not a synthinfer provenance file"):
        read_provenance(results)
    assert "seed: 3" in str(recorded) and list(recorded.to_frame().columns) == ["item", "value"]


@pytest.fixture
def data_file(tmp_path, data) -> Path:
    path = tmp_path / "tasks.csv"
    data.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_cli_infer_records_provenance_and_report_reads_it(tmp_path, data_file, suffix):
    results = tmp_path / f"results{suffix}"
    run = runner.invoke(
        app,
        ["infer", str(data_file), "--alpha", "0.2", "--seed", "5", "--out", str(results)],
    )
    assert run.exit_code == 0, run.output
    meta = json.loads(provenance_path(results).read_text())
    assert meta["command"] == "infer" and meta["seed"] == 5
    assert meta["data"] == {"data": str(data_file.resolve())}
    assert meta["options"]["alpha"] == ["0.2"] and meta["version"] == version("synthinfer")
    out = tmp_path / "report.html"
    run = runner.invoke(
        app, ["report", str(results), "--out", str(out), "--permutations", str(PERMUTATIONS)]
    )
    assert run.exit_code == 0, run.output
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    tables = parsed(page).tables
    items = dict(tables["provenance"][1:])
    assert items["command"] == "infer" and items["seed"] == "5"
    assert items["data file (data)"] == str(data_file.resolve())
    assert items["option method"] == "(not given)"
    assert len(table_dicts(tables["intervals"])) == 3  # three targets, the default method
    assert len(table_dicts(tables["diagnostics"])) >= 3
    assert "<script" not in page.lower()


def test_cli_report_without_provenance_or_data_says_so(tmp_path, data_file):
    results = tmp_path / "results.csv"
    runner.invoke(app, ["infer", str(data_file), "--alpha", "0.2", "--out", str(results)])
    provenance_path(results).unlink()
    out = tmp_path / "report.html"
    run = runner.invoke(app, ["report", str(results), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "no provenance file beside the results" in run.output
    page = out.read_text(encoding="utf-8")
    assert "Diagnostics not run: no provenance file beside the results" in page
    runner.invoke(app, ["infer", str(data_file), "--alpha", "0.2", "--out", str(results)])
    data_file.unlink()
    run = runner.invoke(app, ["report", str(results), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "are not available" in out.read_text(encoding="utf-8")
    run = runner.invoke(app, ["report", str(results), "--out", str(tmp_path / "r.txt")])
    assert run.exit_code == 2 and "--out must name an .html file" in run.output
    run = runner.invoke(app, ["report", str(tmp_path / "nope.csv"), "--out", str(out)])
    assert run.exit_code == 2 and "results file not found" in run.output


def test_cli_report_reads_infinite_endpoints_from_json(tmp_path):
    small = tmp_path / "small.csv"
    tasks_with_odd_names(5).to_csv(small, index=False)
    results = tmp_path / "small.json"
    run = runner.invoke(
        app, ["infer", str(small), "--alpha", "0.2", "--bounds", "none", "--out", str(results)]
    )
    assert run.exit_code == 0, run.output
    assert '"inf"' in results.read_text()
    out = tmp_path / "small.html"
    run = runner.invoke(app, ["report", str(results), "--out", str(out), "--no-diagnostics"])
    assert run.exit_code == 0, run.output
    rows = table_dicts(parsed(out.read_text(encoding="utf-8")).tables["intervals"])
    assert len(rows) == 3
    assert {(row["lower"], row["upper"], row["status"]) for row in rows} == {
        ("−∞", "∞", "INFINITE")
    }


def test_cli_report_of_a_backtest(tmp_path, data_file):
    results = tmp_path / "bt.csv"
    run = runner.invoke(
        app,
        ["backtest", str(data_file), "--protocol", "loo", "--alpha", "0.2", "--out", str(results)],
    )
    assert run.exit_code == 0, run.output
    out = tmp_path / "bt.html"
    run = runner.invoke(
        app, ["report", str(results), "--out", str(out), "--permutations", str(PERMUTATIONS)]
    )
    assert run.exit_code == 0, run.output
    tables = parsed(out.read_text(encoding="utf-8")).tables
    assert len(table_dicts(tables["coverage"])) == 1  # the default method
    assert len(table_dicts(tables["intervals"])) == 24


# ------------------------------------------------------- the bundled Arena analysis


@pytest.fixture(scope="module")
def arena_report(tmp_path_factory) -> Path:
    """``synthinfer arena`` on the bundled battles, then ``synthinfer report`` of its file."""
    folder = tmp_path_factory.mktemp("arena")
    battles = folder / "battles.csv"
    results = folder / "arena.csv"
    for args in (
        ["datasets", "export", "arena_judge_battles", "--out", str(battles)],
        [
            "arena",
            str(battles),
            "--protocol",
            "loo",
            "--alpha",
            "0.2,0.3",
            "--out",
            str(results),
            "--method",
            "exchangeable,finite-sample,synthetic-only",
        ],
        ["report", str(results), "--out", str(folder / "arena.html"), "--permutations", "999"],
    ):
        run = runner.invoke(app, args)
        assert run.exit_code == 0, run.output
    return folder / "arena.html"


def test_arena_report_holds_every_model(arena_report):
    page = arena_report.read_text(encoding="utf-8")
    assert_self_contained(page)
    tables = parsed(page).tables
    rows = table_dicts(tables["intervals"])
    assert len(rows) == 20 * 3 * 2 and len({row["task"] for row in rows}) == 20
    assert len(table_dicts(tables["coverage"])) == 6
    assert len(table_dicts(tables["diagnostics"])) >= 2  # rebuilt from the recorded battle log
    assert len(parsed(page).images) >= 4


CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && e.target.src) || "error"));
}, true);
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var mark = document.createElement("div");
  mark.id = "render-check";
  mark.textContent = "images=" + images.length + " broken=" + broken.length +
    " errors=" + window.__errors.length;
  document.body.appendChild(mark);
});
</script>"""


def chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    command = [
        shutil.which("chromium") or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={user_dir}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium is not installed")
def test_arena_report_renders_in_headless_chromium(arena_report, tmp_path):
    page = arena_report.read_text(encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("<head>", "<head>" + CHECK_SCRIPT, 1), encoding="utf-8")
    dom = chromium(
        "--virtual-time-budget=10000", "--dump-dom", checked.as_uri(), user_dir=tmp_path / "u1"
    )
    mark = re.search(r'id="render-check">([^<]*)<', dom.stdout)
    assert mark is not None, dom.stderr[-2000:]
    counts = dict(part.split("=") for part in mark.group(1).split())
    assert int(counts["images"]) == len(parsed(page).images) >= 4
    assert counts["broken"] == "0" and counts["errors"] == "0"
    shot = tmp_path / "arena.png"
    chromium(
        f"--screenshot={shot}",
        "--window-size=1200,3000",
        arena_report.as_uri(),
        user_dir=tmp_path / "u2",
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", shot.read_bytes()[16:24]) == (1200, 3000)
