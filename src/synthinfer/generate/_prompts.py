"""Prompt templates (Jinja2) and the JSON schema of an answer.

One template renders every prompt of a run, history and target tasks alike;
its SHA-256 goes into the run record so two runs can be checked to have
asked the same way. The package ships a default for surveys and one for
judges (``generate/templates``).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from synthinfer.generate._requires import require

__all__ = ["DEFAULT_TEMPLATES", "PromptTemplate", "answer_schema"]

DEFAULT_TEMPLATES = ("survey", "judge")
"""Names of the templates shipped with the package."""


@dataclass(frozen=True)
class PromptTemplate:
    """A Jinja2 prompt template.

    Undefined variables are errors, so a template that names a persona
    column the persona table lacks stops before any request is sent.

    Attributes
    ----------
    source : str
        The template text.
    name : str
        Where it came from: a file path or ``default:NAME``.
    """

    source: str
    name: str = "text"

    @classmethod
    def default(cls, kind: str) -> PromptTemplate:
        """The template shipped for ``kind`` (``survey`` or ``judge``)."""
        text = resources.files("synthinfer.generate").joinpath(f"templates/{kind}.jinja")
        return cls(text.read_text(encoding="utf-8"), name=f"default:{kind}")

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        """A template read from a file (UTF-8)."""
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"template: no such file {file}")
        return cls(file.read_text(encoding="utf-8"), name=str(file))

    @classmethod
    def resolve(cls, template: str | Path | PromptTemplate | None, kind: str) -> PromptTemplate:
        """A template from a path, a :class:`PromptTemplate`, or the default for ``kind``."""
        if template is None:
            return cls.default(kind)
        if isinstance(template, PromptTemplate):
            return template
        return cls.from_file(template)

    @property
    def sha256(self) -> str:
        """SHA-256 of the template text."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def render(self, **context: Any) -> str:
        """The prompt for one request.

        Raises
        ------
        ValueError
            If the template is not valid Jinja2 or uses an undefined variable.
        """
        jinja2 = require("jinja2")
        try:
            return _compiled(self.source).render(**context).strip()
        except jinja2.TemplateError as error:
            raise ValueError(f"template {self.name}: {error}") from None


@functools.lru_cache(maxsize=8)
def _compiled(source: str) -> Any:
    jinja2 = require("jinja2")
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
    )
    return environment.from_string(source)


def answer_schema(labels: list[str]) -> dict[str, Any]:
    """JSON schema of an answer: an object whose ``answer`` is one of ``labels``."""
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(labels)}},
        "required": ["answer"],
        "additionalProperties": False,
    }
