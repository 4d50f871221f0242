"""What a generation run returns: the table, the raw answers, and the run record.

The run record says how the data was made (model, server, template hash,
parameters) and what happened (requests, calls, cache hits, retries,
unparseable answers, tokens, cost). It is written as JSON beside the output
table, so a history run and a target run can be checked to have been made
the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthinfer._html import result_html
from synthinfer.tables import write_table

__all__ = ["GenerationResult", "JudgeResult", "RunRecord", "SurveyResult", "record_path"]

_COMPRESSION = {".gz", ".bz2", ".xz", ".zip", ".zst"}


def record_path(out: str | Path) -> Path:
    """Where the run record of an output table goes: ``survey.csv`` → ``survey.run.json``."""
    path = Path(out)
    while path.suffix.lower() in _COMPRESSION:
        path = path.with_suffix("")
    return path.with_suffix(".run.json")


@dataclass(frozen=True)
class RunRecord:
    """How a synthetic table was made, and what the run did.

    Attributes
    ----------
    kind : str
        ``survey`` or ``judge``.
    model : str
        Model name.
    base_url : str or None
        The server.
    template : str
        Where the prompt template came from (a path or ``default:NAME``).
    template_sha256 : str
        SHA-256 of the template text.
    parameters : dict
        Temperature, seed, draws, mode, structured output, token limits ...
    counts : dict
        ``requests``, ``calls``, ``cache_hits``, ``retries`` (and by cause),
        ``schema_rejected``, ``unparseable``, ``rows`` ...
    tokens : dict
        Prompt and completion tokens of this run's calls and of cached answers.
    cost : float or None
        Estimated cost of this run's calls in US dollars (with a price).
    structured_output : bool or None
        Whether the answers were asked for with the JSON schema.
    unparseable_by_task : dict
        Surveys: unparseable answers per task. Judges: empty verdicts per model
        pair (``"A vs B"``). Non-zero counts only.
    extra : dict
        Kind-specific facts (inputs, position-swap counts).
    cache : str or None
        The cache file.
    synthinfer_version : str
        The library version.
    created : str
        UTC time the run ended (ISO 8601).
    seconds : float
        Wall time of the run.
    """

    kind: str
    model: str
    base_url: str | None
    template: str
    template_sha256: str
    parameters: dict[str, Any]
    counts: dict[str, int]
    tokens: dict[str, int]
    cost: float | None
    structured_output: bool | None
    unparseable_by_task: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None
    synthinfer_version: str = ""
    created: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dictionary."""
        return asdict(self)

    def to_json(self) -> str:
        """The record as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the record as JSON to ``path``; returns the path."""
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: str | Path) -> RunRecord:
        """Read a record written by :meth:`write`."""
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))

    def summary(self) -> str:
        """Two lines: what was asked of whom, and what the run did."""
        c, t = self.counts, self.tokens
        cost = "" if self.cost is None else f", about ${self.cost:.4g}"
        schema = {True: "JSON schema", False: "text answers", None: "no answers"}
        lines = [
            f"{self.kind}: {c.get('requests', 0)} requests to {self.model} "
            f"({schema[self.structured_output]}, template {self.template_sha256[:12]})",
            f"{c.get('calls', 0)} calls, {c.get('cache_hits', 0)} from the cache, "
            f"{c.get('retries', 0)} retries, {c.get('unparseable', 0)} unparseable; "
            f"{t.get('prompt', 0) + t.get('completion', 0)} tokens{cost}",
        ]
        return "\n".join(lines)


def _unparseable_line(record: RunRecord) -> str:
    counts = record.unparseable_by_task
    if not counts:
        return ""
    shown = ", ".join(f"{task} {n}" for task, n in list(counts.items())[:8])
    more = ", ..." if len(counts) > 8 else ""
    return f"\nunparseable answers (empty value) per task: {shown}{more}"


@dataclass(frozen=True)
class GenerationResult:
    """What a generation run returns: its table, the raw answers and the run record.

    :class:`SurveyResult` and :class:`JudgeResult` say what their tables hold.

    Attributes
    ----------
    table : pandas.DataFrame
        The generated table.
    answers : pandas.DataFrame
        One row per request.
    record : RunRecord
        How the table was made.
    """

    table: pd.DataFrame = field(repr=False)
    answers: pd.DataFrame = field(repr=False)
    record: RunRecord

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table."""
        return self.table.copy()

    def save(self, out: str | Path) -> Path:
        """Write the table (CSV, TSV or Parquet by suffix) and the run record beside it.

        Returns
        -------
        pathlib.Path
            Where the run record went (see :func:`record_path`).
        """
        write_table(self.table, out)
        return self.record.write(record_path(out))

    def headline(self) -> str:
        """What was generated, in a line or two."""
        return f"{self.record.kind}: {len(self.table)} rows"

    def summary(self) -> str:
        """The :meth:`headline`, then the run's counts and the unparseable answers per task."""
        return self.headline() + "\n" + self.record.summary() + _unparseable_line(self.record)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


class SurveyResult(GenerationResult):
    """A generated survey: the unit-level table, the raw answers and the run record.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``task, source, value, unit`` (``weight`` with weighted
        personas) and the task attributes; one synthetic row per question,
        persona and draw (an empty value where the answer was unparseable),
        then the real rows. ``to_frame()`` is ready for :func:`synthinfer.infer`.
    answers : pandas.DataFrame
        One row per request: ``task, unit, draw, answer, option, value, cached``.
    record : RunRecord
        How the table was made.
    """

    def headline(self) -> str:
        """Questions, personas and draws, and the rows they gave."""
        draws = self.record.parameters.get("draws", 1)
        extra = self.record.extra
        synthetic = int((self.table["source"] == "synthetic").sum())
        real = len(self.table) - synthetic
        return (
            f"{extra.get('questions', 0)} questions x {extra.get('personas', 0)} personas x "
            f"{draws} draw{'' if draws == 1 else 's'} = {synthetic} synthetic rows"
            + (f" (+ {real} real)" if real else "")
        )


class JudgeResult(GenerationResult):
    """Judge verdicts for a battle log, and the run record.

    Attributes
    ----------
    table : pandas.DataFrame
        The battle log with the verdict columns added (see
        :func:`synthinfer.generate.judge`), ready for :func:`synthinfer.arena`.
    answers : pandas.DataFrame
        One row per request: ``battle, draw, order, answer, verdict, cached``.
    record : RunRecord
        How the verdicts were made, with the position-swap counts in
        ``record.extra["position"]``.
    """

    def headline(self) -> str:
        """Verdict counts and order bias."""
        position = self.record.extra.get("position", {})
        verdicts = self.record.extra.get("verdicts", {})
        head = f"{self.record.extra.get('battles', 0)} battles: " + ", ".join(
            f"{name} {n}" for name, n in verdicts.items()
        )
        if position.get("both_orders"):
            head += (
                f"\nposition swap: {position['inconsistent']} of {position['both_orders']} "
                f"verdicts changed with the order; the first position won "
                f"{position['first_position_share']:.1%} of decisive answers"
            )
        return head
