"""promptfoo results files (``promptfoo eval -o results.json``) as unit-level data.

A promptfoo results file holds one result per provider × prompt × test case
in ``results.results``. Each becomes unit-level rows (DESIGN.md):

* the **task** is the provider (``provider.label``, else ``provider.id``);
  when the file has several prompts, the task is ``provider | prompt``
  (``prompt.label``, else its index), since each prompt gives the provider
  other answers;
* the **unit** is the test case (``testIdx``, else its ``vars``): a result
  repeated with ``--repeat`` is a repeated draw of its unit (averaged);
* the **synthetic** value is the model-graded score: by default the score of
  the one model-graded assertion of the result (``llm-rubric``, ``g-eval``,
  ``model-graded-closedqa``, ``factuality``, ...), or the score named by
  ``synthetic=``;
* the **real** value is the human rating: by default the component result
  promptfoo's viewer records when a person grades an output (assertion type
  ``human``; it overrides the overall ``score`` and ``gradingResult.score``,
  which are therefore never read as the judge's score), or the score named
  by ``real=``.

A score named by ``real=`` or ``synthetic=`` is looked up in the result's
``namedScores`` first, then among its assertions (``gradingResult.
componentResults``, nested ones too) by ``assertion.metric``, then by
``assertion.type``. A component result without a ``score`` counts its
``pass`` as 1 or 0. A result without the judge's score (a provider error, an
assertion that did not run) or with one that is not a number is a judge
non-response: its synthetic row has an empty value, counted in a warning and
reported like any empty ``value``. A result without the human score is an
unlabelled item.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "HUMAN",
    "MODEL_GRADED",
    "is_promptfoo_source",
    "promptfoo_long_table",
    "promptfoo_results",
]

HUMAN = "human"
"""The assertion type of a rating given in promptfoo's viewer."""

MODEL_GRADED = frozenset(
    {
        "llm-rubric",
        "g-eval",
        "model-graded-closedqa",
        "model-graded-factuality",
        "factuality",
        "answer-relevance",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "conversation-relevance",
        "search-rubric",
        "select-best",
        "max-score",
        "pi",
        "classifier",
    }
)
"""Assertion types whose score a model gives (promptfoo's model-graded metrics)."""

_FIX = "write it with promptfoo eval -o results.json"
_SHOWN = 3


# --------------------------------------------------------------------------- the file
@lru_cache(maxsize=4)
def _parsed(path: str, _mtime: int, _size: int) -> Any:
    with open(path, encoding="utf-8-sig") as handle:
        return json.load(handle)


def _json_file(path: str) -> Any:
    """A JSON file's content (parsed once per file version)."""
    stat = os.stat(path)
    try:
        return _parsed(path, stat.st_mtime_ns, stat.st_size)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file ({error}); {_FIX}") from None


def _is_json_path(source: object) -> bool:
    if not isinstance(source, str | os.PathLike):
        return False
    path = Path(source)
    return path.suffix.lower() == ".json" and path.is_file()


def _has_results(content: Any) -> bool:
    inner = content.get("results") if isinstance(content, dict) else None
    return isinstance(inner, dict) and isinstance(inner.get("results"), list)


def is_promptfoo_source(source: object) -> bool:
    """Whether ``source`` is a promptfoo results file (or its parsed content).

    A JSON file (or a dict) whose top level has ``results.results`` is one.
    """
    if isinstance(source, dict):
        return _has_results(source)
    if not _is_json_path(source):
        return False
    try:
        return _has_results(_json_file(os.fspath(source)))  # type: ignore[arg-type]
    except ValueError:
        return False


def promptfoo_results(source: object, where: str) -> list[dict[str, Any]]:
    """The ``results.results`` list of a promptfoo file or its parsed content, checked."""
    if isinstance(source, dict):
        content = source
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        content = _json_file(os.fspath(path))
    else:
        raise ValueError(
            f"{where}: a promptfoo results file is read from its path (or its parsed JSON), "
            f"got {type(source).__name__}"
        )
    if not _has_results(content):
        raise ValueError(
            f"{where}: not a promptfoo results file: its top level has no 'results.results' "
            f"list; {_FIX}"
        )
    results = content["results"]["results"]
    bad = next((i for i, r in enumerate(results) if not isinstance(r, dict)), None)
    if bad is not None:
        raise ValueError(f"{where}: results.results[{bad}] is not an object; {_FIX}")
    return results


# ------------------------------------------------------------------------ one result
def _components(grading: Any) -> Iterator[dict[str, Any]]:
    """A grading result's component results, nested ones (assert-sets) included."""
    if not isinstance(grading, dict):
        return
    for component in grading.get("componentResults") or ():
        if isinstance(component, dict):
            yield component
            yield from _components(component)


def _assertion(component: dict[str, Any]) -> dict[str, Any]:
    assertion = component.get("assertion")
    return assertion if isinstance(assertion, dict) else {}


def _component_score(component: dict[str, Any]) -> Any:
    """A component's ``score``, else its ``pass`` as 1 or 0 (``None`` when neither)."""
    score = component.get("score")
    if score is None and isinstance(component.get("pass"), bool):
        return float(component["pass"])
    return score


@dataclass
class _Lookup:
    """What a score name finds in one result: the raw score, or why there is none."""

    score: Any = None
    found: bool = False
    ambiguous: tuple[str, ...] = ()


def _named(result: dict[str, Any], key: str) -> _Lookup:
    """The score ``key`` of a result: ``namedScores``, then assertion metric, then type."""
    named = result.get("namedScores")
    if isinstance(named, dict) and key in named:
        return _Lookup(named[key], True)
    components = list(_components(result.get("gradingResult")))
    for attribute in ("metric", "type"):
        matches = [c for c in components if _assertion(c).get(attribute) == key]
        if len(matches) == 1:
            return _Lookup(_component_score(matches[0]), True)
        if matches:
            return _Lookup(ambiguous=tuple(f"{attribute} {key!r}" for _ in matches))
    return _Lookup()


def _model_graded(result: dict[str, Any]) -> _Lookup:
    """The score of the result's one model-graded assertion."""
    graded = [
        c
        for c in _components(result.get("gradingResult"))
        if _assertion(c).get("type") in MODEL_GRADED
    ]
    if len(graded) == 1:
        return _Lookup(_component_score(graded[0]), True)
    if graded:
        names = tuple(str(_assertion(c).get("metric") or _assertion(c)["type"]) for c in graded)
        return _Lookup(ambiguous=names)
    return _Lookup()


def _number(score: Any) -> float | None:
    """A score as a finite number, or ``None`` when it is not one."""
    if isinstance(score, bool):
        return float(score)
    if isinstance(score, int | float):
        value = float(score)
    elif isinstance(score, str):
        try:
            value = float(score.strip())
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def _provider(result: dict[str, Any], index: int, where: str) -> str:
    provider = result.get("provider")
    if isinstance(provider, str) and provider:
        return provider
    if isinstance(provider, dict):
        for key in ("label", "id"):
            if isinstance(provider.get(key), str) and provider[key]:
                return provider[key]
    raise ValueError(
        f"{where}: results.results[{index}] has no provider (provider.label or provider.id), "
        f"which names its task; {_FIX}"
    )


def _prompt(result: dict[str, Any]) -> str:
    prompt = result.get("prompt")
    if isinstance(prompt, dict) and isinstance(prompt.get("label"), str) and prompt["label"]:
        return prompt["label"]
    return f"prompt {result.get('promptIdx', 0)}"


def _test_case(result: dict[str, Any], index: int, where: str) -> str:
    test = result.get("testIdx")
    if isinstance(test, int) and not isinstance(test, bool):
        return str(test)
    variables = result.get("vars")
    if variables is None and isinstance(result.get("testCase"), dict):
        variables = result["testCase"].get("vars")
    if isinstance(variables, dict):
        return json.dumps(variables, sort_keys=True, default=str)
    raise ValueError(
        f"{where}: results.results[{index}] has neither testIdx nor vars, which name its test "
        f"case (the unit); {_FIX}"
    )


# ------------------------------------------------------------------------- the table
@dataclass
class _Tally:
    """Scores that could not be used, per side: counted and shown in one warning."""

    unreadable: Counter = field(default_factory=Counter)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    absent: int = 0

    def note(self, side: str, score: Any) -> None:
        self.unreadable[side] += 1
        self.examples.setdefault(side, [])
        if len(self.examples[side]) < _SHOWN:
            self.examples[side].append(score)

    def warn(self, where: str, synthetic: str) -> None:
        parts = [
            f"{n} {side} score(s) are not numbers (e.g. "
            f"{', '.join(repr(e) for e in self.examples[side])})"
            for side, n in sorted(self.unreadable.items())
        ]
        if self.absent:
            parts.append(f"{self.absent} result(s) have no judge score ({synthetic})")
        if parts:
            warnings.warn(
                f"{where}: {'; '.join(parts)}; they are read as empty values (non-response, "
                f"counted per task in the estimates' report)",
                UserWarning,
                stacklevel=4,
            )


def _score(lookup: _Lookup, side: str, tally: _Tally) -> float:
    value = _number(lookup.score)
    if value is None:
        tally.note(side, lookup.score)
        return math.nan
    return value


def _ambiguity(where: str, index: int, names: tuple[str, ...], option: str) -> ValueError:
    return ValueError(
        f"{where}: results.results[{index}] has several scores that fit "
        f"({', '.join(sorted(set(names)))}); name the one to read with {option} (a namedScores "
        f"key or an assertion metric)"
    )


def promptfoo_long_table(
    source: object,
    *,
    real: str | None = None,
    synthetic: str | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """A promptfoo results file as a unit-level (long) table.

    Parameters
    ----------
    source : path or dict
        ``promptfoo eval -o results.json`` output, or its parsed JSON.
    real : str, optional
        The human score: a ``namedScores`` key, an assertion metric or an
        assertion type (default ``human``: ratings given in promptfoo's viewer).
    synthetic : str, optional
        The judge's score, named likewise (default: the result's one
        model-graded assertion).
    name : str, optional
        The data's name in messages (default: the path).

    Returns
    -------
    pandas.DataFrame
        Columns ``task`` (provider, or ``provider | prompt``), ``unit`` (the
        test case), ``source`` and ``value``.

    Raises
    ------
    ValueError
        The file is not a promptfoo results file, a result lacks its provider
        or test case, a result has several scores that fit, or no result has
        the judge's score.

    Warns
    -----
    UserWarning
        Scores that are not numbers and results without the judge's score,
        counted (their values are empty: non-response).
    """
    where = name or (os.fspath(source) if isinstance(source, str | os.PathLike) else "data")
    results = promptfoo_results(source, where)
    if not results:
        raise ValueError(f"{where}: the promptfoo file has no results; {_FIX}")
    prompts = {_prompt(r) for r in results}
    synthetic_name = repr(synthetic) if synthetic else "a model-graded assertion"
    tally, rows, judged = _Tally(), [], 0
    for index, result in enumerate(results):
        task = _provider(result, index, where)
        if len(prompts) > 1:
            task = f"{task} | {_prompt(result)}"
        unit = _test_case(result, index, where)
        judge = _model_graded(result) if synthetic is None else _named(result, synthetic)
        if judge.ambiguous:
            raise _ambiguity(where, index, judge.ambiguous, "synthetic= (--synth-col)")
        if judge.found:
            judged += 1
            rows.append((task, unit, "synthetic", _score(judge, "judge", tally)))
        else:
            tally.absent += 1
            rows.append((task, unit, "synthetic", math.nan))
        human = _named(result, real or HUMAN)
        if human.ambiguous:
            raise _ambiguity(where, index, human.ambiguous, "real= (--real-col)")
        if human.found:
            rows.append((task, unit, "real", _score(human, "human", tally)))
    if not judged:
        raise ValueError(
            f"{where}: no result has the judge's score ({synthetic_name}); name it with "
            f"synthetic= (--synth-col): a namedScores key, an assertion metric or type"
        )
    tally.warn(where, synthetic_name)
    return pd.DataFrame(rows, columns=["task", "unit", "source", "value"])
