"""``docs/generate.md`` stays true: its end-to-end example runs against a loopback server.

The commands of the console block with ``generate survey`` and the Python
block that calls ``survey(`` are run as written, with the documented base URL
replaced by the loopback server's, in a folder holding a copy of
``docs/examples``.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from generate_server import LoopbackServer
from test_generate_cli import make_app

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "generate.md"
DOCUMENTED_URL = "http://localhost:8000/v1"


def blocks(kind: str) -> list[str]:
    """The fenced blocks of one kind (``console``, ``python``) in the page."""
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def synthinfer_commands(block: str) -> list[str]:
    """The ``$ synthinfer ...`` commands of a console block, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line[2:] for line in joined.splitlines() if line.startswith("$ synthinfer ")]


def test_the_end_to_end_example_runs(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in blocks("console") if "generate survey" in b)
    commands = synthinfer_commands(block)
    assert [c.split()[1] for c in commands] == ["generate", "infer"]
    runner = CliRunner()
    with LoopbackServer() as server:
        outputs = []
        for command in commands:
            args = shlex.split(command.replace(DOCUMENTED_URL, server.url))[1:]
            result = runner.invoke(make_app(), args)
            assert result.exit_code == 0, f"{command}\n{result.output}"
            outputs.append(result.output)
        python = next(b for b in blocks("python") if "survey(" in b)
        exec(compile(python.replace(DOCUMENTED_URL, server.url), str(DOC), "exec"), {})
        assert sum(server.answered.values()) == 17 * 20  # the Python run reads the cache
    # what the page says about the example
    table = pd.read_csv(tmp_path / "survey.csv")
    assert list(table.columns) == ["task", "source", "value", "unit", "weight", "wave"]
    assert table["task"].nunique() == 17 and table["unit"].nunique() == 20
    assert (table["source"] == "real").sum() == 300
    targets = {"approve_budget", "approve_homelessness"}
    assert set(table["task"]) - set(table.loc[table["source"] == "real", "task"]) == targets
    assert (tmp_path / "survey.run.json").is_file()
    assert (tmp_path / "survey.cache.sqlite").is_file()
    assert all(task in outputs[-1] for task in targets)
    printed = capsys.readouterr().out
    assert "340 from the cache" in printed and all(task in printed for task in targets)
