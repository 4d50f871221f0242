"""The package's layout: imports flow one way, down the floors of DESIGN.md.

Each module sits on a floor; a module imports only from its own floor or lower
ones (lazy imports inside functions included), never a private name of another
module, and no module grows past the size a reader can hold. ``import
synthinfer`` loads none of the heavy optional libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "synthinfer"
MAX_LINES = 650

# Lowest floor first. A module is matched by its longest listed prefix.
FLOORS = {
    "synthinfer._validation": 0,
    "synthinfer._columns": 0,
    "synthinfer._html": 0,
    "synthinfer.conformal": 1,
    "synthinfer.allocation": 1,
    "synthinfer.intervals": 1,
    "synthinfer.methods": 2,
    "synthinfer.weights": 2,
    "synthinfer.adjust": 2,
    "synthinfer.tables": 3,
    "synthinfer.data": 4,
    "synthinfer.results": 5,
    "synthinfer.pvalues": 5,
    "synthinfer.evaluate": 6,
    "synthinfer.diagnose": 6,
    "synthinfer.plan": 6,
    "synthinfer.plan_labels": 6,
    "synthinfer.datasets": 6,
    "synthinfer.plot": 7,
    "synthinfer.arena": 8,
    "synthinfer.generate": 8,
    "synthinfer.report": 8,
    "synthinfer.studies": 9,
    "synthinfer.cli": 10,
    "synthinfer": 11,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> int:
    matches = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    return FLOORS[max(matches, key=len)]


def _concept(module: str) -> str:
    """The package a module belongs to (``synthinfer.arena`` for its submodules)."""
    return max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` of every synthinfer import, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "synthinfer":
                found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "synthinfer":
                    found.append((alias.name, [], node.lineno))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules():
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_down(path: Path):
    here = _module_name(path)
    for module, _, line in _imports(path):
        if _concept(module) == _concept(here):
            continue
        assert _floor(module) <= _floor(here), (
            f"{here} (floor {_floor(here)}) imports {module} (floor {_floor(module)}) "
            f"at line {line}: imports must flow down"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_crosses_modules(path: Path):
    for module, names, line in _imports(path):
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path.name}:{line} imports private {private} from {module}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    names = {_module_name(p) for p in MODULES}
    for path in MODULES:
        here = _module_name(path)
        targets = set()
        for module, imported, _ in _imports(path):
            # ``from synthinfer.x import y`` may name the submodule ``synthinfer.x.y``.
            candidates = [f"{module}.{n}" for n in imported if f"{module}.{n}" in names]
            targets.update(candidates or [module])
        graph[here] = {t for t in targets if t in names and t != here and t != "synthinfer"}
    # A package's __init__ re-exporting its own modules is not a circle.
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_import_loads_no_heavy_optional_library():
    code = (
        "import sys, synthinfer; "
        "heavy = ['matplotlib', 'scipy', 'duckdb', 'polars', 'pyspark', 'sqlframe']; "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""
