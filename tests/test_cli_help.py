"""Help screens read plainly: metavars instead of type names, on every command; ``--version``."""

from __future__ import annotations

import re
from enum import Enum
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthinfer.cli import app
from synthinfer.cli._options import metavar_for

NOISE = ("<list[", "<str>", "<int>", "<float>", "<path>", "<bool>", "{")
"""What typer prints for a type when a parameter has no metavar (and ``{data}`` in the usage)."""


def _command_paths(command, path=()):
    """Every command and command group of the app, as the words that call it."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*path, name))


PATHS = list(_command_paths(typer.main.get_command(app)))


def _help(path, columns):
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_reached():
    names = {" ".join(path) for path in PATHS}
    assert {"", "infer", "backtest", "diagnose", "plan", "datasets export"} <= names
    assert {"generate survey", "generate judge", "arena", "reproduce", "plot"} <= names


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "synthinfer")
def test_help_screens_show_no_type_names(path, columns):
    text = _help(path, columns)
    found = [noise for noise in NOISE if noise in text]
    assert not found, f"{' '.join(path)} --help shows {found}:\n{text}"


def test_infer_help_shows_the_documented_metavars():
    text = _help(("infer",), 200)
    assert re.search(r"Usage: synthinfer infer \[OPTIONS\] DATA\s", text)
    for flag, metavar in [
        ("--alpha", "A,..."),
        ("--method", "M,..."),
        ("--allocation", "SPEC"),
        ("--bounds", "LO,HI|none"),
        ("--out", "FILE"),
        ("--group-by", "COL"),
        ("--adjust", "COL,..."),
        ("--n-bootstrap", "N"),
        ("--interval", "wald|hoeffding|bootstrap"),
    ]:
        assert re.search(rf"{re.escape(flag)}\s+(-\w\s+)?{re.escape(metavar)}\s", text), flag
    assert "needs the 'spark' extra" in text  # no '[spark]' eaten as markup


def test_metavar_for_types_and_flags():
    class Colour(str, Enum):
        red = "red"
        blue = "blue"

    assert metavar_for(list[str] | None, ["--alpha", "-a"]) == "A,..."
    assert metavar_for(list[str] | None, ["--tasks"]) == "T,..."
    assert metavar_for(list[str], ["--whatever"]) == "TEXT,..."
    assert metavar_for(str | None, ["--adjust"]) == "COL,..."
    assert metavar_for(str, ["--judge-col"]) == "COL"
    assert metavar_for(Path | None, ["--summary-out"]) == "FILE"
    assert metavar_for(Path, ["--out"], help="Directory for results.") == "DIR"
    assert metavar_for(int, ["--workers"]) == "N"
    assert metavar_for(float | None, ["--mu"]) == "X"
    assert metavar_for(str, ["--title"]) == "TEXT"
    assert metavar_for(bool, ["--plots/--no-plots"]) == ""
    assert metavar_for(Colour, ["--colour"]) == "red|blue"


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"synthinfer {version('synthinfer')}"
    assert re.fullmatch(r"synthinfer \d+\.\d+\.\d+\S*", result.output.strip())


def test_commands_still_run_behind_the_readable_signatures(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["datasets", "export", "pew-scalar", "--out", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["datasets", "export", "nope", "--out", str(tmp_path / "q.csv")])
    assert result.exit_code == 2
    assert "unknown dataset 'nope'" in result.output
    result = runner.invoke(app, ["plan", "--alpha", "0.1", "--coords", "2"])
    assert result.exit_code == 0, result.output
    assert "min_history" in result.output
