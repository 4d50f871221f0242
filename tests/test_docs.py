"""The documentation site lists every public name and every page.

The site itself is built with ``mkdocs build --strict`` in CI (its tutorials
run as it builds); these checks fail fast, without building it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import synthinfer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") :]
    return set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE))


def test_every_public_name_has_a_reference_entry():
    reference = (DOCS / "reference" / "api.md").read_text()
    documented = set(re.findall(r"^::: synthinfer\.(\w+)\s*$", reference, flags=re.MULTILINE))
    public = {name for name in synthinfer.__all__ if not name.startswith("__")}
    assert public - documented == set(), "add these to docs/reference/api.md"
    assert documented - public == set(), "docs/reference/api.md names what __all__ does not export"


def test_every_page_is_in_the_navigation():
    pages = {
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if "examples" not in path.relative_to(DOCS).parts
    }
    nav = _nav_pages()
    assert pages - nav == set(), "add these pages to the nav of mkdocs.yml"
    assert nav - pages == set(), "mkdocs.yml names pages that do not exist"


@pytest.mark.parametrize(
    "page", sorted(p for p in (DOCS / "tutorials").glob("*.md")), ids=lambda p: p.stem
)
def test_tutorials_run_their_code_when_the_site_is_built(page: Path):
    text = page.read_text()
    assert re.search(r'^```(python|console) exec="on"', text, flags=re.MULTILINE), (
        f"{page.name} has no code that runs at build time"
    )
