"""The inputs of ``generate``: questions, personas, real answers and battle logs, checked.

Questions and personas are small tables of text, read as written (CSV, TSV,
Parquet, YAML or a dataframe): a cell ``None`` or ``NA`` stays that text, an
empty cell is missing. Each problem stops with one message naming the input,
the row and the column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthinfer._columns import UNIT_RESERVED
from synthinfer._validation import check_columns
from synthinfer.generate._parse import LETTERS
from synthinfer.generate._requires import require
from synthinfer.tables import read_table

__all__ = [
    "Personas",
    "Question",
    "read_battle_log",
    "read_personas",
    "read_questions",
    "read_real",
    "read_records",
]

_YAML_SUFFIXES = (".yaml", ".yml")
_TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
_LIST_SEPARATOR = "|"


def _suffixes(path: Path) -> list[str]:
    return [s.lower() for s in path.suffixes]


def read_records(source: Any, what: str, key: str | None = None) -> tuple[pd.DataFrame, str]:
    """A small table of text cells, and its name for messages.

    Parameters
    ----------
    source : path, DataFrame, or list of dict
        CSV/TSV (compressed too), Parquet, YAML (a list of mappings, or a
        mapping whose ``key`` holds one), a dataframe or records.
    what : str
        What the table is, for messages (``questions``, ``personas``).
    key : str, optional
        The YAML mapping key that may hold the list.

    Returns
    -------
    (pandas.DataFrame, str)
        Cells as text (lists and mappings of YAML kept as they are), missing
        cells as empty strings.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(), what
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        return pd.DataFrame(list(source)), what
    path = Path(source)
    where = str(path)
    if not path.exists():
        raise FileNotFoundError(f"{what}: no such file {path}")
    suffixes = _suffixes(path)
    if any(s in _YAML_SUFFIXES for s in suffixes):
        yaml = require("yaml")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ValueError(f"{where}: not valid YAML ({error})") from None
        if isinstance(data, Mapping) and key is not None and key in data:
            data = data[key]
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise ValueError(f"{where}: YAML {what} must be a list of mappings, one per row")
        return pd.DataFrame(data), where
    if any(s in _TEXT_SUFFIXES for s in suffixes):
        sep = "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False), where
    return read_table(path), where


def _text(value: Any) -> str:
    """A cell as text; missing cells (None, NaN) as the empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _items(value: Any) -> list[str]:
    """A list cell: a YAML list, or text separated by ``|``."""
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    text = _text(value)
    return [part.strip() for part in text.split(_LIST_SEPARATOR)] if text else []


@dataclass(frozen=True)
class Question:
    """One survey question: a task.

    Attributes
    ----------
    task : str
        Task id.
    text : str
        The question.
    options : tuple of str
        Option labels, in order.
    values : tuple of float
        The numeric code of each option.
    attributes : dict
        Task attributes carried into the output (e.g. ``time``).
    """

    task: str
    text: str
    options: tuple[str, ...]
    values: tuple[float, ...]
    attributes: dict[str, Any] = field(default_factory=dict)


def default_values(n_options: int) -> tuple[float, ...]:
    """Codes of ``n`` options without given values: 1, 0 for two, else 1, ..., n."""
    return (1.0, 0.0) if n_options == 2 else tuple(float(k) for k in range(1, n_options + 1))


def read_questions(source: Any) -> tuple[Question, ...]:
    """Questions from a table with ``task``, ``text``, ``options`` and optional ``values``.

    Parameters
    ----------
    source : path, DataFrame or list of dict
        ``options`` are labels separated by ``|`` (or a YAML list);
        ``values`` the numeric codes in the same order (default 1, 0 for two
        options, else 1..k). Other columns are task attributes.

    Returns
    -------
    tuple of Question
    """
    frame, where = read_records(source, "questions", key="questions")
    check_columns([str(c) for c in frame.columns], ["task", "text", "options"], where, "questions")
    clash = [c for c in frame.columns if c in UNIT_RESERVED and c != "task"]
    if clash:
        raise ValueError(
            f"{where}: column {clash[0]!r} has a fixed meaning in the output table; rename it"
        )
    attributes = [c for c in frame.columns if c not in ("task", "text", "options", "values")]
    questions, seen = [], set()
    for row, record in enumerate(frame.to_dict(orient="records"), start=1):
        task = _text(record["task"])
        at = f"{where}: row {row}" + (f" (task {task!r})" if task else "")
        if not task:
            raise ValueError(f"{at}: column 'task' is empty")
        if task in seen:
            raise ValueError(
                f"{at}: task {task!r} is listed twice; give each question its own task"
            )
        seen.add(task)
        text = _text(record["text"])
        if not text:
            raise ValueError(f"{at}: column 'text' is empty")
        options = _items(record["options"])
        if len(options) < 2 or not all(options) or len(set(options)) != len(options):
            raise ValueError(
                f"{at}: column 'options' needs two or more distinct non-empty labels separated "
                f"by '|', got {record['options']!r}"
            )
        if len(options) > len(LETTERS):
            raise ValueError(f"{at}: at most {len(LETTERS)} options, got {len(options)}")
        values = _values(record.get("values"), len(options), at)
        extra = {name: record[name] for name in attributes}
        questions.append(Question(task, text, tuple(options), values, extra))
    if not questions:
        raise ValueError(f"{where}: no questions")
    return tuple(questions)


def _values(cell: Any, n_options: int, at: str) -> tuple[float, ...]:
    items = _items(cell)
    if not items:
        return default_values(n_options)
    try:
        values = tuple(float(v) for v in items)
    except ValueError:
        values = ()
    if len(values) != n_options or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"{at}: column 'values' needs {n_options} numbers separated by '|' (one per "
            f"option), got {cell!r}"
        )
    return values


@dataclass(frozen=True)
class Personas:
    """Respondents: a unit id, an optional weight, and fields for the prompt.

    Attributes
    ----------
    units : tuple of str
        Unit ids, unique.
    weights : tuple of float or None
        Positive survey weights (None without a ``weight`` column).
    fields : tuple of dict
        Per persona, its non-empty columns other than ``unit`` and ``weight``
        (in table order).
    """

    units: tuple[str, ...]
    weights: tuple[float, ...] | None
    fields: tuple[dict[str, str], ...]

    def __len__(self) -> int:
        return len(self.units)


def read_personas(source: Any) -> Personas:
    """Personas from a table with ``unit``, optional ``weight`` and any other columns."""
    frame, where = read_records(source, "personas", key="personas")
    check_columns([str(c) for c in frame.columns], ["unit"], where, "persona table")
    units = [_text(u) for u in frame["unit"]]
    for row, unit in enumerate(units, start=1):
        if not unit:
            raise ValueError(f"{where}: row {row}: column 'unit' is empty")
    duplicated = pd.Series(units)[pd.Series(units).duplicated()]
    if not duplicated.empty:
        raise ValueError(
            f"{where}: unit {duplicated.iloc[0]!r} is listed twice; give each persona its own unit"
        )
    weights = None
    if "weight" in frame.columns:
        weights = tuple(_weight(w, row, where) for row, w in enumerate(frame["weight"], start=1))
    columns = [c for c in frame.columns if c not in ("unit", "weight")]
    fields = tuple(
        {str(c): _text(record[c]) for c in columns if _text(record[c])}
        for record in frame.to_dict(orient="records")
    )
    if not units:
        raise ValueError(f"{where}: no personas")
    return Personas(tuple(units), weights, fields)


def _weight(value: Any, row: int, where: str) -> float:
    try:
        weight = float(_text(value))
    except ValueError:
        weight = math.nan
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(
            f"{where}: row {row}: column 'weight' must be a positive number, got {value!r}"
        )
    return weight


def read_real(source: Any, questions: Sequence[Question], personas: Personas) -> pd.DataFrame:
    """Real answers (``unit``, ``task``, ``value``, optional ``weight``) checked against the run.

    Returns
    -------
    pandas.DataFrame
        Columns ``task, source, value, unit`` (and ``weight`` when the
        answers or the personas have one); an empty value is non-response.
    """
    if isinstance(source, pd.DataFrame):
        frame, where = source.copy(), "real answers"
    else:
        where = str(source)
        if not Path(source).exists():
            raise FileNotFoundError(f"real answers: no such file {source}")
        frame = read_table(source)
    check_columns(
        [str(c) for c in frame.columns], ["unit", "task", "value"], where, "real-answer table"
    )
    tasks = {q.task for q in questions}
    frame["task"] = frame["task"].map(_text)
    frame["unit"] = frame["unit"].map(_text)
    unknown = sorted(set(frame["task"]) - tasks)
    if unknown:
        raise ValueError(
            f"{where}: task {unknown[0]!r} is not among the questions ({len(unknown)} such "
            f"task(s)); every real answer needs the question it answers"
        )
    known = set(personas.units)
    strangers = frame.loc[~frame["unit"].isin(known), "unit"]
    if not strangers.empty:
        raise ValueError(
            f"{where}: unit {strangers.iloc[0]!r} is not among the personas "
            f"({strangers.nunique()} such unit(s)); a real answer needs the persona it pairs with"
        )
    value = pd.to_numeric(frame["value"].map(lambda v: _text(v) or None), errors="coerce")
    bad = value.isna() & frame["value"].map(_text).ne("")
    bad |= value.abs().eq(math.inf)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise ValueError(
            f"{where}: line {row}: column 'value' must be a number (or empty for "
            f"non-response), got {frame['value'][bad].iloc[0]!r}"
        )
    out = pd.DataFrame(
        {
            "task": frame["task"],
            "source": "real",
            "value": value.astype(float),
            "unit": frame["unit"],
        }
    )
    if "weight" in frame.columns:
        if personas.weights is None:
            raise ValueError(
                f"{where}: the real answers carry weights but the personas have none; give the "
                f"persona table a 'weight' column so synthetic rows are weighted too"
            )
        out["weight"] = [_weight(w, i + 2, where) for i, w in enumerate(frame["weight"])]
    elif personas.weights is not None:
        out["weight"] = out["unit"].map(dict(zip(personas.units, personas.weights, strict=True)))
    return out.reset_index(drop=True)


def read_battle_log(source: Any, columns: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """A battle log with the given columns present; missing text cells become empty strings."""
    frame, where = read_records(source, "battles")
    check_columns([str(c) for c in frame.columns], list(columns), where, "battle log")
    if frame.empty:
        raise ValueError(f"{where}: the battle log has no rows")
    return frame.reset_index(drop=True), where
