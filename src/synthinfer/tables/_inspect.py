"""Inspect AI evaluation logs read as a unit-level (long) table.

An Inspect log (``.eval``, or Inspect's ``.json`` form) records, for one
model under evaluation within one eval, every sample's scores. Read here
through Inspect's own reader (``inspect_ai.log.read_eval_log``; ``pip install
"synthinfer[inspect]"``, imported inside the functions), the logs become the
long table of DESIGN.md:

* a **task** is a model within an eval: ``"<eval task>/<model>"``, with the
  task attributes ``eval_task`` and ``model``;
* a **unit** is a sample id; the epochs of a sample are repeated draws of
  that unit (several rows of one unit, averaged per unit: a cluster);
* a **value** is a score converted by Inspect's own ``value_to_float``
  (``C`` = 1, ``P`` = 0.5, ``I`` and ``N`` = 0, ``yes``/``no``,
  ``true``/``false``, numbers).

The user names two scorers. The **synthetic** one (a model grader, e.g.
``"model_graded_qa"``) gives a ``synthetic`` row for every sample and epoch;
its value is the scorer's own (the original of the score's edit ``history``
when a person has edited it since). The **real** one is either

* a separate scorer key (``real="human"``), typically scores added by people
  with ``inspect_ai.log.edit_score``: its current value is the real row; or
* ``real="edited:<scorer>"`` (``"edited"`` alone means the synthetic
  scorer): **human edits** of a score. A score edited with
  ``edit_score`` keeps the original in its ``history``: the edited value is
  real, the original synthetic. A score nobody edited is unlabelled. A
  reviewer who agrees with the grader records an edit with the same value.

A score that is missing (a scorer returning ``None`` leaves its key out of
``sample.scores``; a scorer absent from a log) or NaN (``Score(value=nan)``,
``NaN`` in ``.json`` logs) leaves the unit unlabelled for the real scorer,
and is a non-response (an empty ``synthetic`` value, counted downstream) for
the synthetic one. A value ``value_to_float`` cannot read (a list, a dict,
free text) is counted, reported in one warning, and kept as an empty value.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "EDITED",
    "INSPECT_COLUMNS",
    "INSPECT_EXTRA",
    "inspect_log_paths",
    "inspect_long_table",
    "is_inspect_source",
]

INSPECT_EXTRA = 'pip install "synthinfer[inspect]"'

EDITED = "edited"
"""Prefix of ``real`` that reads human edits of a score: ``"edited:<scorer>"``."""

INSPECT_COLUMNS = ("task", "source", "value", "unit", "eval_task", "model")
"""Columns of :func:`inspect_long_table`, in order."""

_LOG_SUFFIXES = (".eval", ".json")
_JSON_HEAD = re.compile(rb'\A\s*\{\s*"version"\s*:\s*\d+\s*,')
_JSON_EVAL = re.compile(rb'"eval"\s*:\s*\{')
_HEAD_BYTES = 4096
_SKIPPED_FIELDS = frozenset({"messages", "events", "store", "attachments"})
_TRUE_WORDS = ("yes", "true")
_FALSE_WORDS = ("no", "false")
_SENTINELS = ("C", "I", "P", "N")


# --------------------------------------------------------------------------- recognising logs
def is_inspect_source(source: Any) -> bool:
    """Whether ``source`` is Inspect AI evaluation logs.

    Parameters
    ----------
    source : Any
        A path (``str`` or ``os.PathLike``), or a list or tuple of paths.

    Returns
    -------
    bool
        ``True`` for an ``.eval`` log, an Inspect ``.json`` log (a JSON object
        that starts with ``"version"`` and holds ``"eval"``), a folder holding
        at least one such log (searched recursively; ``.eval`` and ``.json``
        may mix), or a non-empty list or tuple of these; ``False`` for anything
        else (dataframes, CSV or Parquet files, ...). Never raises.
    """
    if isinstance(source, list | tuple):
        return bool(source) and all(_is_path(item) and _is_log_path(item) for item in source)
    return _is_path(source) and _is_log_path(source)


def _is_path(source: Any) -> bool:
    return isinstance(source, str | os.PathLike)


def _is_log_path(source: str | os.PathLike) -> bool:
    path = Path(source)
    try:
        if path.is_dir():
            return next(_logs_under(path), None) is not None
        return _is_log_file(path)
    except OSError:
        return False


def _is_log_file(path: Path) -> bool:
    """An ``.eval`` file, or a ``.json`` file that begins like an Inspect log."""
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return True
    if suffix != ".json" or not path.is_file():
        return False
    with open(path, "rb") as stream:
        head = stream.read(_HEAD_BYTES)
    return _JSON_HEAD.match(head) is not None and _JSON_EVAL.search(head) is not None


def _logs_under(folder: Path) -> Iterator[Path]:
    """Inspect logs under ``folder`` (recursively, hidden entries skipped), in sorted order."""
    for path in _files_under(folder):
        if _is_log_file(path):
            yield path


def _files_under(folder: Path) -> Iterator[Path]:
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for file in sorted(files):
            if not file.startswith("."):
                yield Path(root) / file


def inspect_log_paths(source: Any, name: str | None = None) -> list[Path]:
    """The log files of ``source``: a log, a folder of logs, or a list of either.

    Parameters
    ----------
    source : str, os.PathLike, or list or tuple of them
        As in :func:`is_inspect_source`.
    name : str, optional
        The source's name in messages (default: the path).

    Returns
    -------
    list of pathlib.Path
        Every log file, in the order given (a folder's in sorted order).

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If a file given by name is not an Inspect log, or a folder holds none.

    Warns
    -----
    UserWarning
        When a folder holds files that are not Inspect logs (left out; the
        warning counts them and names one).
    """
    items = list(source) if isinstance(source, list | tuple) else [source]
    if not items:
        raise ValueError(f"{name or 'Inspect logs'}: no log files given; give a log or a folder")
    paths: list[Path] = []
    for item in items:
        if not _is_path(item):
            raise ValueError(
                f"{name or 'Inspect logs'}: Inspect logs are read from files; give the path of "
                f"a log or a log folder, not a {type(item).__name__}"
            )
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        paths.extend(_folder_logs(path) if path.is_dir() else [_checked_log_file(path)])
    return paths


def _checked_log_file(path: Path) -> Path:
    if not _is_log_file(path):
        raise ValueError(
            f"{path}: not an Inspect log; give .eval files or Inspect's .json logs "
            f"(written by inspect_ai.log.write_eval_log), or a folder holding them"
        )
    return path


def _folder_logs(folder: Path) -> list[Path]:
    logs, others = [], []
    for path in _files_under(folder):
        (logs if _is_log_file(path) else others).append(path)
    if not logs:
        raise ValueError(
            f"{folder}: the folder holds no Inspect log (.eval, or Inspect's .json logs); "
            f"give the folder Inspect wrote its logs to (--log-dir)"
        )
    if others:
        warnings.warn(
            f"{folder}: {len(others)} file(s) that are not Inspect logs left out "
            f"(e.g. {others[0].name})",
            UserWarning,
            stacklevel=4,
        )
    return logs


# --------------------------------------------------------------------------- the scorers asked for
@dataclass(frozen=True)
class _Scorers:
    """The scorer keys to read: the synthetic one, the real one, and whether real = edits."""

    synthetic: str
    real: str
    edited: bool

    @classmethod
    def parse(cls, real: Any, synthetic: Any, name: str) -> _Scorers:
        if not isinstance(synthetic, str) or not synthetic.strip():
            raise ValueError(
                f"{name}: Inspect logs need the synthetic scorer named: synthetic='<scorer>' "
                f"(--synth-col), e.g. 'model_graded_qa'; got {synthetic!r}"
            )
        if not isinstance(real, str) or not real.strip():
            raise ValueError(
                f"{name}: Inspect logs need the real scorer named: real='<scorer>' "
                f"(--real-col), e.g. 'human', or 'edited:{synthetic}' for human edits of "
                f"the {synthetic!r} scores; got {real!r}"
            )
        synthetic, real = synthetic.strip(), real.strip()
        head, _, tail = real.partition(":")
        if head.strip() == EDITED:
            return cls(synthetic, tail.strip() or synthetic, edited=True)
        if real == synthetic:
            raise ValueError(
                f"{name}: the real and the synthetic scorer are both {real!r}; name a separate "
                f"human scorer (real='human'), or real='edited:{real}' for human edits of "
                f"its scores"
            )
        return cls(synthetic, real, edited=False)

    @property
    def real_option(self) -> str:
        return f"{EDITED}:{self.real}" if self.edited else self.real


# --------------------------------------------------------------------------- reading the values
@dataclass
class _Tally:
    """What the reading saw: scorer keys, edits, unreadable values (with one example)."""

    keys: set[str] = field(default_factory=set)
    edited: Counter = field(default_factory=Counter)
    unreadable: Counter = field(default_factory=Counter)
    example: str = ""


def _read_value(value: Any, to_float: Any) -> float | None:
    """A score value as a float (``nan`` when missing); ``None`` when it cannot be read."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if not _convertible(value):
        return None
    return float(to_float(value))


def _convertible(value: Any) -> bool:
    """Whether Inspect's ``value_to_float`` reads ``value`` (rather than warning and giving 0)."""
    if isinstance(value, bool | int | float):
        return True
    if not isinstance(value, str):
        return False
    if value in _SENTINELS or value.lower() in _TRUE_WORDS + _FALSE_WORDS:
        return True
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _original(score: Any) -> Any:
    """The value a scorer gave, before any edit; ``None`` for a score a person added.

    ``edit_score`` records the scorer's score as the first entry of the
    history (with no provenance) before the first edit, so an edited score
    has two entries or more; a score created by ``edit_score`` has the edit
    alone as its first entry.
    """
    history = score.history
    if not history:
        return score.value
    first = history[0]
    if len(history) >= 2 and first.provenance is None:
        return first.value
    return None


# --------------------------------------------------------------------------- the long table
def inspect_long_table(
    source: Any, *, real: str, synthetic: str, name: str | None = None
) -> pd.DataFrame:
    """Inspect AI evaluation logs as a unit-level (long) table.

    See the module's description for the mapping: a task per model within an
    eval, a unit per sample id (epochs are repeated draws), values through
    Inspect's ``value_to_float``.

    Parameters
    ----------
    source : str, os.PathLike, or list or tuple of them
        An ``.eval`` or Inspect ``.json`` log, a folder of logs (searched
        recursively; ``.eval`` and ``.json`` may mix), or a list of these.
    real : str
        The real (human) scorer: a score key such as ``"human"``, or
        ``"edited:<scorer>"`` for human edits of that scorer's scores
        (``"edited"`` alone: of the synthetic scorer's).
    synthetic : str
        The synthetic scorer's key, e.g. ``"model_graded_qa"``.
    name : str, optional
        The source's name in messages (default: the path).

    Returns
    -------
    pandas.DataFrame
        Columns ``task, source, value, unit, eval_task, model``: for every
        sample and epoch a ``synthetic`` row (an empty value when the score is
        missing, NaN or unreadable) and, when the unit is labelled, a ``real``
        row; in the order of the logs and their samples.

    Raises
    ------
    ImportError
        If ``inspect_ai`` is not installed (the message names the extra).
    FileNotFoundError
        If a path does not exist.
    ValueError
        A file that is not an Inspect log or cannot be read, a log without
        samples, an infinite score, the same sample and epoch of one eval
        and model in two files, or a scorer no log has (the message lists
        the scorers found).

    Warns
    -----
    UserWarning
        One, when score values cannot be read as numbers: how many per
        scorer, with an example.
    """
    where = name or _source_name(source)
    scorers = _Scorers.parse(real, synthetic, where)
    read_eval_log, to_float = _inspect_functions(where)
    tally = _Tally()
    rows: list[tuple] = []
    seen: dict[tuple, Path] = {}
    for path in inspect_log_paths(source, where):
        log = _read_log(read_eval_log, path)
        rows.extend(_log_rows(log, path, scorers, to_float, tally, seen))
    _check_scorers(scorers, tally, where)
    _warn_unreadable(tally, where)
    frame = pd.DataFrame.from_records(rows, columns=list(INSPECT_COLUMNS))
    frame["value"] = frame["value"].astype(float)
    return frame


def _source_name(source: Any) -> str:
    if isinstance(source, list | tuple):
        return f"{len(source)} Inspect log source(s)" if len(source) != 1 else str(source[0])
    return str(source)


def _inspect_functions(where: str) -> tuple[Any, Any]:
    """Inspect's log reader and its ``value_to_float`` conversion."""
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError as error:
        raise ImportError(
            f"{where}: reading Inspect AI logs needs inspect_ai; {INSPECT_EXTRA}"
        ) from error
    return read_eval_log, value_to_float()


def _read_log(read_eval_log: Any, path: Path) -> Any:
    """One log with its samples (messages and events are not needed and not loaded)."""
    from zipfile import BadZipFile

    try:
        log = read_eval_log(str(path), exclude_fields=set(_SKIPPED_FIELDS))
    except (OSError, ValueError, KeyError, BadZipFile) as error:
        if isinstance(error, FileNotFoundError | PermissionError):
            raise
        raise ValueError(f"{path}: cannot read it as an Inspect log ({error})") from None
    if not log.samples:
        raise ValueError(
            f"{path}: the log holds no samples (field 'samples' is empty: the eval "
            f"wrote its header only, or stopped before a sample finished); rerun or "
            f"retry the eval (inspect eval-retry), or leave this log out"
        )
    return log


def _log_rows(
    log: Any,
    path: Path,
    scorers: _Scorers,
    to_float: Any,
    tally: _Tally,
    seen: dict[tuple, Path],
) -> Iterable[tuple]:
    """The rows of one log: a synthetic row per sample and epoch, a real row when labelled."""
    eval_task, model = str(log.eval.task), str(log.eval.model)
    task = f"{eval_task}/{model}"
    for sample in log.samples:
        unit = str(sample.id)
        key = (eval_task, model, unit, sample.epoch)
        if key in seen:
            raise ValueError(
                f"{path}: sample {unit!r} epoch {sample.epoch} of eval {eval_task!r} with "
                f"model {model!r} is also in {seen[key]}; keep one copy of each log (e.g. "
                f"not both a .eval and its .json conversion, nor a run and its retry)"
            )
        seen[key] = path
        scores = sample.scores or {}
        tally.keys.update(scores)
        place = f"sample {unit!r} epoch {sample.epoch} of {path.name}"
        synthetic = scores.get(scorers.synthetic)
        value = _original(synthetic) if synthetic is not None else None
        number = _value(value, scorers.synthetic, place, to_float, tally)
        yield (task, "synthetic", number, unit, eval_task, model)
        labelled = _real_value(scores.get(scorers.real), scorers, tally)
        if labelled is not None:
            real = _value(labelled, scorers.real_option, place, to_float, tally)
            if not math.isnan(real) or _unreadable(labelled):
                yield (task, "real", real, unit, eval_task, model)


def _real_value(score: Any, scorers: _Scorers, tally: _Tally) -> Any:
    """The real value of a sample: the human scorer's, or an edited score's; ``None`` if none."""
    if score is None:
        return None
    if not scorers.edited:
        return score.value
    if not score.history:
        return None
    tally.edited[scorers.real] += 1
    return score.value


def _unreadable(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value))) and (
        not _convertible(value)
    )


def _value(value: Any, scorer: str, place: str, to_float: Any, tally: _Tally) -> float:
    """A score value as a float: NaN when missing or unreadable (counted), an error if infinite."""
    number = _read_value(value, to_float)
    if number is None:
        tally.unreadable[scorer] += 1
        if not tally.example:
            tally.example = f"{value!r} ({scorer}, {place})"
        return math.nan
    if math.isinf(number):
        raise ValueError(
            f"{place}: the {scorer!r} score is {value!r}, not a finite number; edit the score "
            f"(inspect_ai.log.edit_score) to a finite value, or to NaN if it is not scored"
        )
    return number


def _check_scorers(scorers: _Scorers, tally: _Tally, where: str) -> None:
    """Stop when a scorer named is in no log, or no score of the edited scorer was edited."""
    found = ", ".join(map(repr, sorted(tally.keys))) or "none"
    options = {scorers.synthetic: "synthetic= (--synth-col)", scorers.real: "real= (--real-col)"}
    for key, option in options.items():
        if key not in tally.keys:
            raise ValueError(
                f"{where}: no sample has a score named {key!r} ({option}); the logs' "
                f"scorers are: {found}"
            )
    if scorers.edited and not tally.edited[scorers.real]:
        raise ValueError(
            f"{where}: no {scorers.real!r} score has been edited, so real={scorers.real_option!r} "
            f"finds no human labels; record them with inspect_ai.log.edit_score (an edit with "
            f"the same value confirms the grader), or name a separate human scorer"
        )


def _warn_unreadable(tally: _Tally, where: str) -> None:
    total = sum(tally.unreadable.values())
    if not total:
        return
    per_scorer = ", ".join(f"{key}: {count}" for key, count in sorted(tally.unreadable.items()))
    warnings.warn(
        f"{where}: {total} score value(s) are not numbers Inspect's value_to_float reads "
        f"(C/I/P/N, yes/no, true/false, numbers) and count as empty values ({per_scorer}; "
        f"e.g. {tally.example}); edit them (inspect_ai.log.edit_score) to read them",
        UserWarning,
        stacklevel=3,
    )
