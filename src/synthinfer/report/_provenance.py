"""Where a results file came from: the command, its data files, seed, version and options.

A table cannot carry this, so every command that writes ``--out FILE`` also
writes a small JSON file beside it, ``FILE.meta.json``
(:func:`provenance_path`); :func:`read_provenance` reads it back for
``synthinfer report``.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from synthinfer._html import result_html

__all__ = [
    "PROVENANCE_FORMAT",
    "PROVENANCE_SUFFIX",
    "Provenance",
    "package_version",
    "plain_value",
    "provenance_path",
    "read_provenance",
    "write_provenance",
]

PROVENANCE_SUFFIX = ".meta.json"
"""Appended to a results file's name to name its provenance file."""

PROVENANCE_FORMAT = "synthinfer-provenance/1"
"""The ``format`` field of a provenance file."""


def package_version() -> str:
    """The installed version of synthinfer (``0.0.0`` when it is not installed)."""
    try:
        return version("synthinfer")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def plain_value(value: Any) -> Any:
    """A command-line value as JSON: paths as text, enums as their value, inf as text."""
    if isinstance(value, Enum):
        return plain_value(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return plain_value(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


@dataclass(frozen=True)
class Provenance:
    """Where a result came from.

    Attributes
    ----------
    command : str
        The command that computed it (``infer``, ``backtest``, ``arena``), or
        ``python`` for a result built in Python.
    data : dict of str to str
        Input files by argument name (absolute paths), e.g. ``{"data": "/x/tasks.csv"}``.
    seed : int or None
        The seed of the run.
    version : str
        The synthinfer version that computed it.
    created : str
        When, in ISO 8601 (UTC).
    options : dict
        Every option of the command, as given or by default.
    python : str
        The Python version.
    """

    command: str = "python"
    data: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    version: str = field(default_factory=package_version)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    options: dict[str, Any] = field(default_factory=dict)
    python: str = field(default_factory=platform.python_version)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Provenance:
        """Read back :meth:`to_dict` (unknown keys are ignored; missing ones take defaults)."""
        known = {"command", "data", "seed", "version", "created", "options", "python"}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, with the ``format`` marker."""
        return {"format": PROVENANCE_FORMAT, **plain_value(asdict(self))}

    def to_frame(self) -> pd.DataFrame:
        """One row per item (``item``, ``value``): command, files, seed, version, options."""
        rows = [("command", self.command)]
        rows += [(f"data file ({name})", path) for name, path in self.data.items()]
        rows += [
            ("seed", "not recorded" if self.seed is None else str(self.seed)),
            ("synthinfer version", self.version),
            ("created (UTC)", self.created),
            ("Python", self.python),
        ]
        rows += [(f"option {name}", _option_text(value)) for name, value in self.options.items()]
        return pd.DataFrame(rows, columns=["item", "value"])

    def summary(self) -> str:
        """The items as ``item: value`` lines."""
        frame = self.to_frame()
        return "\n".join(f"{item}: {value}" for item, value in frame.itertuples(index=False))

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def _option_text(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) if value else "(not given)"
    return str(value)


def provenance_path(results: str | os.PathLike) -> Path:
    """The provenance file of a results file: ``results.csv`` → ``results.csv.meta.json``."""
    path = Path(results)
    return path.with_name(path.name + PROVENANCE_SUFFIX)


def write_provenance(results: str | os.PathLike, provenance: Provenance) -> Path:
    """Write the provenance file beside ``results`` and return its path."""
    path = provenance_path(results)
    path.write_text(json.dumps(provenance.to_dict(), indent=1) + "\n")
    return path


def read_provenance(results: str | os.PathLike) -> Provenance | None:
    """The provenance recorded beside ``results``, or ``None`` when there is no such file.

    Raises
    ------
    ValueError
        If the file exists but is not a synthinfer provenance file.
    """
    path = provenance_path(results)
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); delete or rewrite it") from None
    if not isinstance(values, dict) or values.get("format") != PROVENANCE_FORMAT:
        raise ValueError(
            f"{path}: not a synthinfer provenance file (no 'format': '{PROVENANCE_FORMAT}'); "
            f"delete it or rerun the command that wrote {Path(results).name}"
        )
    return Provenance.from_dict(values)
