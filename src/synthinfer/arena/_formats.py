"""Pairwise judge files read into the battle log that :func:`~synthinfer.arena.arena` consumes.

Evaluation tools write pairwise judgments in their own files. Each reader
here turns one such file into *judgments*: one row per verdict, with the
battle it belongs to (a key), the two models as written, the verdict
(``a``, ``b``, ``tie``, or missing when it cannot be read) and its role
(``human`` or ``judge``). :func:`read_judgments` then makes the battle log
with the rules of ``_judgments``:

* a **battle** is a key (question and turn, instruction, or battle id) and an
  unordered model pair; it is listed once, models in sorted order, verdicts
  turned to that order;
* a battle with **several verdicts of one role** (several human raters, or
  the judge asked several times) is one unit with several draws, never
  several battles: its verdict is the majority of its draws (the sign of
  their mean score, a win 1, a tie 1/2, a loss 0; a tie when they balance);
  the count of such battles is reported in a warning;
* a battle with a judge verdict and no human one is **unlabelled**
  (judge-only: the ``human`` cell is empty);
* a battle with human verdicts but no judge verdict is an error (a real
  verdict needs its synthetic pair), unless the judge's verdicts on it could
  not be read: then it is left out, counted in the warning;
* verdicts that cannot be read (FastChat's ``error``, an empty AlpacaEval
  preference, an Arena row with no or several winner flags) are left out,
  counted per role in a warning.

Formats (detected from the columns, or named with ``format_in``):

``fastchat``
    FastChat / MT-Bench pairwise judgment JSONL (``question_id``, ``model_1``,
    ``model_2``, ``g1_winner``, ``g2_winner``, ``judge``, ``turn``): the judge
    was asked twice, positions swapped; FastChat maps both answers back to
    ``model_1``/``model_2``/``tie`` (or ``error``). Both orders are kept: when
    they agree that is the verdict, when they disagree it is a tie (the
    verdict is position bias, as FastChat itself counts it). Judge verdicts
    only: human verdicts come from ``real``.
``mtbench-human``
    The MT-Bench human-judgments table (``question_id``, ``model_a``,
    ``model_b``, ``winner``, ``judge``, ``turn``; winner ``model_a``,
    ``model_b``, ``tie``): rows whose judge name starts with
    ``synthetic_judge`` (default ``gpt``: ``gpt4_pair``) are the judge's, the
    others (``author_0``, ``expert_12``) human.
``alpacaeval``
    AlpacaEval annotations (``instruction``, ``generator_1``, ``generator_2``,
    ``preference``, ``annotator``): preference 1 means ``generator_1`` won, 2
    ``generator_2``, 1.5 (or 0) a tie. Other fractional preferences (weighted
    annotators) are fractional wins the battle log cannot score (it scores a
    win, a tie or a loss) and stop with an error. The file holds the judge's
    verdicts; human annotations in the same format come from ``real``.
``arena-onehot``
    Chatbot Arena dumps (``id``, ``model_a``, ``model_b``, ``winner_model_a``,
    ``winner_model_b``, ``winner_tie``, one flag set per row): the file holds
    the judge's verdicts and ``real`` the human ones (battles matched on
    ``id``); with a ``judge`` column, one file holds both (judge names
    starting with ``synthetic_judge`` are the judge's, the rest human).
``battles``
    The battle log itself (``model_a``, ``model_b``, ``human``, ``judge``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._validation import check_choice
from synthinfer.arena._judgments import battle_log
from synthinfer.tables import read_table, source_columns

__all__ = [
    "DEFAULT_SYNTHETIC_JUDGE",
    "JUDGMENT_FORMATS",
    "detect_format",
    "read_judgments",
    "with_battle_log",
]

JUDGMENT_FORMATS = ("battles", "fastchat", "mtbench-human", "alpacaeval", "arena-onehot")
"""Files ``arena`` reads (``format_in``, ``--format-in``)."""

DEFAULT_SYNTHETIC_JUDGE = "gpt"
"""Judge names starting with this (case-insensitive) are the autorater's, in files with a
``judge`` column that mixes human and autorater rows (MT-Bench's ``gpt4_pair``)."""

_SIGNATURES = {
    "fastchat": ("model_1", "model_2", "g1_winner", "g2_winner"),
    "alpacaeval": ("generator_1", "generator_2", "preference"),
    "arena-onehot": ("model_a", "model_b", "winner_model_a", "winner_model_b", "winner_tie"),
    "mtbench-human": ("model_a", "model_b", "winner", "judge"),
    "battles": ("model_a", "model_b", "human", "judge"),
}
"""The columns that identify each format, tried in this order."""

_KEYS = {
    "fastchat": ("question_id", "turn"),
    "mtbench-human": ("question_id", "turn"),
    "alpacaeval": ("instruction",),
    "arena-onehot": ("id",),
}
"""The columns that name a battle (with the model pair); a missing ``turn`` means turn 1."""

_ONEHOT = ("winner_model_a", "winner_tie", "winner_model_b")
_TIES = ("tie", "tie (bothbad)")
_BATTLE_DEFAULTS = {
    "model_a": "model_a",
    "model_b": "model_b",
    "human": "human",
    "judge": "judge",
    "time": None,
    "verdicts": "a,b,tie",
}
"""Battle-log options that apply to the ``battles`` format only, with their defaults."""


# ---------------------------------------------------------------------------
# Files and format detection
# ---------------------------------------------------------------------------


def _is_json(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    name = os.fspath(source).lower()
    return name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson"))


def _read_json(path: str) -> pd.DataFrame:
    """A JSON array of records or JSON lines (whatever the suffix says)."""
    try:
        frame = pd.read_json(path, dtype=False)
    except ValueError:
        try:
            frame = pd.read_json(path, lines=True, dtype=False)
        except ValueError as error:
            raise ValueError(
                f"{path}: not JSON records nor JSON lines ({error}); judgment files are "
                f"one JSON object per line (.jsonl) or a JSON array of objects"
            ) from None
    return frame


def _load(source: Any) -> pd.DataFrame:
    if _is_json(source):
        if not Path(os.fspath(source)).exists():
            raise FileNotFoundError(f"{os.fspath(source)}: no such file")
        return _read_json(os.fspath(source))
    return read_table(source)


def _columns(source: Any) -> list[str]:
    if _is_json(source):
        return [str(c) for c in _load(source).columns]
    return [str(c) for c in source_columns(source)]


def detect_format(columns: Any) -> str | None:
    """The judgment format whose identifying columns ``columns`` has, or ``None``.

    Parameters
    ----------
    columns : iterable of str
        Column names of a file.

    Returns
    -------
    str or None
        One of :data:`JUDGMENT_FORMATS`.

    Examples
    --------
    >>> detect_format(["question_id", "model_1", "model_2", "g1_winner", "g2_winner"])
    'fastchat'
    """
    present = {str(c) for c in columns}
    for name, needed in _SIGNATURES.items():
        if present.issuperset(needed):
            return name
    return None


def _resolve_format(columns: list[str], format_in: str | None, where: str) -> str:
    if format_in is not None:
        name = check_choice(format_in, JUDGMENT_FORMATS, "format_in")
        missing = [c for c in _SIGNATURES[name] if c not in columns]
        if missing:
            raise ValueError(
                f"{where}: format '{name}' needs column(s) {missing}; the file has "
                f"{sorted(columns)[:12]}; name another format with --format-in "
                f"({', '.join(JUDGMENT_FORMATS)})"
            )
        return name
    name = detect_format(columns)
    if name is None:
        known = "; ".join(f"{k}: {', '.join(v)}" for k, v in _SIGNATURES.items())
        raise ValueError(
            f"{where}: the columns {sorted(columns)[:12]} fit no judgment format ({known}); "
            f"rename the columns or name the format with --format-in"
        )
    return name


# ---------------------------------------------------------------------------
# Readers: one row per verdict
# ---------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    """Values as trimmed text; integral numbers without a decimal point; missing stays missing."""

    def one(value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, (list, tuple)):
            return str(value[0]) if value else None
        return str(value).strip()

    return series.map(one).astype(object)


def _keys(frame: pd.DataFrame, name: str, where: str) -> pd.Series:
    """The battle key of each row (without the model pair)."""
    columns = _KEYS[name]
    required = [c for c in columns if c != "turn"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: format '{name}' needs column(s) {missing} to tell battles apart "
            f"(the same prompt and model pair); add them"
        )
    parts = []
    for column in columns:
        values = _text(frame[column]) if column in frame.columns else pd.Series("1", frame.index)
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ValueError(
                f"{where}: column '{column}' is empty in {int(values.isna().sum())} row(s) "
                f"(first at row {row + 1}); every verdict needs its battle"
            )
        parts.append(values.astype(str))
    key = parts[0]
    for part in parts[1:]:
        key = key + " / " + part
    return key


def _judgments(
    frame: pd.DataFrame,
    key: pd.Series,
    models: tuple[str, str],
    verdict: np.ndarray,
    role: Any,
    raw: pd.Series,
) -> pd.DataFrame:
    """One row per verdict: battle key, models as written, verdict, role and the raw value."""
    return pd.DataFrame(
        {
            "key": key.to_numpy(dtype=object),
            "first": _text(frame[models[0]]).to_numpy(dtype=object),
            "second": _text(frame[models[1]]).to_numpy(dtype=object),
            "verdict": verdict,
            "role": role,
            "raw": raw.astype(str).to_numpy(dtype=object),
        }
    )


def _winner_codes(values: pd.Series, spellings: dict[str, str]) -> np.ndarray:
    text = _text(values).str.lower()
    return text.map(lambda v: spellings.get(v) if isinstance(v, str) else None).to_numpy(
        dtype=object
    )


def _read_fastchat(frame: pd.DataFrame, where: str, role: str) -> pd.DataFrame:
    if role == "human":
        raise ValueError(
            f"{where}: a FastChat judgment file holds the autorater's verdicts; pass it as "
            f"the battle file and the human verdicts with --real"
        )
    if "judge" in frame.columns:
        judges = sorted(set(_text(frame["judge"]).dropna()))
        if len(judges) > 1:
            raise ValueError(
                f"{where}: column 'judge' names several judge models ({', '.join(judges[:4])}); "
                f"keep the rows of one judge (a battle log has one autorater)"
            )
    spellings = {"model_1": "a", "model_2": "b", "tie": "tie"}
    g1 = _winner_codes(frame["g1_winner"], spellings)
    g2 = _winner_codes(frame["g2_winner"], spellings)
    readable = pd.notna(g1) & pd.notna(g2)
    verdict = np.where(readable, np.where(g1 == g2, g1, "tie"), None)
    raw = _text(frame["g1_winner"]).astype(str) + "/" + _text(frame["g2_winner"]).astype(str)
    key = _keys(frame, "fastchat", where)
    return _judgments(frame, key, ("model_1", "model_2"), verdict, role, raw)


def _roles(frame: pd.DataFrame, role: str, synthetic_judge: str, where: str) -> np.ndarray:
    """Each row's role: from a ``judge`` column when the file has one, else ``role``."""
    if "judge" not in frame.columns:
        return np.full(len(frame), role, dtype=object)
    names = _text(frame["judge"]).fillna("").str.lower()
    synthetic = names.str.startswith(synthetic_judge.lower()).to_numpy(dtype=bool)
    if role == "human" and synthetic.any():
        example = _text(frame["judge"])[synthetic].iloc[0]
        raise ValueError(
            f"{where}: {int(synthetic.sum())} row(s) of the human-verdict file are the "
            f"autorater's (judge {example!r} starts with {synthetic_judge!r}); pass this file "
            f"as the battle file, or remove those rows"
        )
    return np.where(synthetic, "judge", "human").astype(object)


def _read_mtbench(frame: pd.DataFrame, where: str, role: str, synthetic_judge: str):
    spellings = {"model_a": "a", "model_b": "b", **dict.fromkeys(_TIES, "tie")}
    verdict = _winner_codes(frame["winner"], spellings)
    roles = _roles(frame, role, synthetic_judge, where)
    key = _keys(frame, "mtbench-human", where)
    return _judgments(frame, key, ("model_a", "model_b"), verdict, roles, _text(frame["winner"]))


def _read_alpacaeval(frame: pd.DataFrame, where: str, role: str) -> pd.DataFrame:
    preference = pd.to_numeric(frame["preference"], errors="coerce").to_numpy(dtype=float)
    text = _text(frame["preference"])
    bad_text = text.notna().to_numpy() & np.isnan(preference)
    if bad_text.any():
        raise ValueError(
            f"{where}: column 'preference' has text {text[bad_text].iloc[0]!r} "
            f"({int(bad_text.sum())} row(s)); preferences are 1, 2, or 1.5 for a tie"
        )
    known = np.isnan(preference) | np.isin(preference, (0.0, 1.0, 1.5, 2.0))
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise ValueError(
            f"{where}: column 'preference' is {preference[row]:g} at row {row + 1} "
            f"({int((~known).sum())} such row(s)): a fractional win the battle log cannot "
            f"score (a win 1, a tie 1/2, a loss 0); use an annotator with discrete "
            f"preferences (1, 2, or 1.5 for a tie), or round the preferences to those values"
        )
    codes = {1.0: "a", 2.0: "b", 1.5: "tie", 0.0: "tie"}
    verdict = np.array([codes.get(p) for p in preference], dtype=object)
    key = _keys(frame, "alpacaeval", where)
    roles = np.full(len(frame), role, dtype=object)
    raw = _text(frame["preference"])
    return _judgments(frame, key, ("generator_1", "generator_2"), verdict, roles, raw)


def _read_onehot(frame: pd.DataFrame, where: str, role: str, synthetic_judge: str):
    flags = np.column_stack(
        [pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in _ONEHOT]
    )
    odd = ~(np.isnan(flags) | np.isin(flags, (0.0, 1.0)))
    if odd.any():
        row, column = (int(i[0]) for i in np.nonzero(odd))
        raise ValueError(
            f"{where}: column '{_ONEHOT[column]}' is {flags[row, column]:g} at row {row + 1}; "
            f"winner flags are 0 or 1 (a file of predicted probabilities is not a verdict)"
        )
    single = np.nansum(flags, axis=1) == 1
    outcome = np.array(["a", "tie", "b"], dtype=object)[np.nanargmax(np.nan_to_num(flags), axis=1)]
    verdict = np.where(single, outcome, None)
    roles = _roles(frame, role, synthetic_judge, where)
    key = _keys(frame, "arena-onehot", where)
    raw = pd.Series([f"flags {row.tolist()}" for row in flags], dtype=object)
    return _judgments(frame, key, ("model_a", "model_b"), verdict, roles, raw)


def _read(frame: pd.DataFrame, name: str, where: str, role: str, synthetic_judge: str):
    if frame.empty:
        raise ValueError(f"{where}: the file has no rows")
    frame = frame.reset_index(drop=True)
    if name == "fastchat":
        return _read_fastchat(frame, where, role)
    if name == "mtbench-human":
        return _read_mtbench(frame, where, role, synthetic_judge)
    if name == "alpacaeval":
        return _read_alpacaeval(frame, where, role)
    return _read_onehot(frame, where, role, synthetic_judge)


def read_judgments(
    source: Any,
    *,
    format_in: str | None = None,
    real: Any = None,
    real_format: str | None = None,
    synthetic_judge: str = DEFAULT_SYNTHETIC_JUDGE,
) -> pd.DataFrame:
    """Read a pairwise judge file (and a file of human verdicts) into a battle log.

    Parameters
    ----------
    source : path or DataFrame
        The judgment file: FastChat JSONL, the MT-Bench human-judgments table,
        AlpacaEval annotations (JSON), or a Chatbot Arena one-hot dump (CSV,
        Parquet, JSON). It holds the autorater's verdicts, and human ones too
        when a ``judge`` column tells them apart (MT-Bench, Arena).
    format_in : str, optional
        One of :data:`JUDGMENT_FORMATS` but ``battles``; default: detected
        from the columns.
    real : path or DataFrame, optional
        A file of human verdicts on the same battles (every row human), in
        any of the formats but ``fastchat``: matched per battle (question and
        turn, instruction, or battle ``id``, and the model pair).
    real_format : str, optional
        The format of ``real`` (default: detected from its columns).
    synthetic_judge : str
        In a file whose ``judge`` column mixes human and autorater rows, the
        prefix of the autorater's names (case-insensitive; default ``gpt``).

    Returns
    -------
    pandas.DataFrame
        The battle log, one row per battle: ``battle`` (its key), ``model_a``
        and ``model_b`` (sorted), ``human`` (``a``, ``b``, ``tie``, or empty
        for a battle only the autorater judged) and ``judge``.

    Raises
    ------
    ValueError
        A file that fits no format (or not the named one), missing key
        columns, unknown verdict values, fractional AlpacaEval preferences,
        human verdicts on battles the autorater never judged.

    Warns
    -----
    UserWarning
        Verdicts that cannot be read, battles with several verdicts of one
        role, battles left out because the autorater's verdict is unreadable.
    """
    synthetic_judge = str(synthetic_judge).strip()
    if not synthetic_judge:
        raise ValueError("synthetic_judge must be a non-empty prefix of the autorater's name")
    parts = [_file_judgments(source, format_in, "judge", synthetic_judge)]
    if real is not None:
        parts.append(_file_judgments(real, real_format, "human", synthetic_judge))
    if len(parts) == 2 and parts[0][1] != parts[1][1]:
        raise ValueError(
            f"{_where(real)}: battles of format '{parts[1][2]}' are named by "
            f"{list(parts[1][1])}, those of {_where(source)} ({parts[0][2]}) by "
            f"{list(parts[0][1])}; give human verdicts in a format that names battles alike"
        )
    judgments = pd.concat([p[0] for p in parts], ignore_index=True)
    log, notes = battle_log(judgments, _where(source))
    if notes:
        warnings.warn(f"{_where(source)}: " + "; ".join(notes), UserWarning, stacklevel=2)
    return log


def _where(source: Any) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "judgments"


def _file_judgments(
    source: Any, format_in: str | None, role: str, synthetic_judge: str
) -> tuple[pd.DataFrame, tuple[str, ...], str]:
    where = _where(source)
    frame = _load(source)
    name = _resolve_format([str(c) for c in frame.columns], format_in, where)
    if name == "battles":
        raise ValueError(
            f"{where}: this is a battle log (model_a, model_b, human, judge), which arena "
            f"reads as it is; --real applies to judgment files"
        )
    return _read(frame, name, where, role, synthetic_judge), _KEYS[name], name


def with_battle_log(source: Any, read_options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The source and read options :func:`~synthinfer.arena.read_battles` takes.

    A battle log passes through unchanged (a file is then scanned out of core);
    a judgment file (``format_in``, or detected from its columns), or a
    ``real`` file of human verdicts, is read by :func:`read_judgments` into a
    battle log with the standard column names.

    Parameters
    ----------
    source : path or DataFrame
        The battle log or judgment file.
    read_options : dict
        Read options of :func:`~synthinfer.arena.arena`; ``format_in``,
        ``real``, ``real_format`` and ``synthetic_judge`` are taken out.

    Returns
    -------
    tuple
        ``(source, read_options)`` for :func:`~synthinfer.arena.read_battles`.
    """
    options = dict(read_options)
    format_in = options.pop("format_in", None)
    real = options.pop("real", None)
    real_format = options.pop("real_format", None)
    synthetic_judge = options.pop("synthetic_judge", DEFAULT_SYNTHETIC_JUDGE)
    if format_in is not None:
        format_in = check_choice(format_in, JUDGMENT_FORMATS, "format_in")
    plain = format_in == "battles" or (format_in is None and _is_battle_log(source, options))
    if real is None and plain:
        return (_load(source) if _is_json(source) else source), options
    given = {
        key: options[key]
        for key, default in _BATTLE_DEFAULTS.items()
        if options.get(key, default) not in (default, None)
    }
    if given:
        flags = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise ValueError(
            f"{_where(source)}: {flags} name(s) battle-log columns or verdicts, which a "
            f"judgment file does not have; leave them out (the reader knows its format)"
        )
    log = read_judgments(
        source,
        format_in=format_in,
        real=real,
        real_format=real_format,
        synthetic_judge=synthetic_judge,
    )
    options.update(_BATTLE_DEFAULTS, verdicts=None)
    return log, options


def _is_battle_log(source: Any, options: dict[str, Any]) -> bool:
    """Whether ``source`` is read as a battle log: its columns fit no judgment format."""
    path = isinstance(source, (str, os.PathLike)) and not _is_json(source)
    if path and not Path(os.fspath(source)).exists():
        return True  # the battle-log reader reports a missing file, or scans a glob
    columns = _columns(source)
    detected = detect_format(columns)
    named = [options.get(k, _BATTLE_DEFAULTS[k]) for k in ("model_a", "model_b", "human", "judge")]
    return detected in (None, "battles") or set(named).issubset(columns)
