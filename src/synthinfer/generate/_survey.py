"""Silicon-sample surveys: every persona answers every question, ``draws`` times."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._validation import check_choice, check_count
from synthinfer.generate._inputs import (
    Personas,
    Question,
    read_personas,
    read_questions,
    read_real,
)
from synthinfer.generate._parse import LETTERS, option_probabilities, parse_choice
from synthinfer.generate._prompts import PromptTemplate, answer_schema
from synthinfer.generate._results import SurveyResult
from synthinfer.generate._run import Generation, check_sampling, request_seed
from synthinfer.generate._types import ClientSettings, Progress, Reply, Request

__all__ = ["SURVEY_MODES", "survey"]

SURVEY_MODES = ("sample", "logprobs")
"""``sample``: one sampled answer per request; ``logprobs``: option probabilities."""


def survey(
    questions: Any,
    personas: Any,
    *,
    model: str,
    base_url: str | None = None,
    draws: int = 1,
    real: Any = None,
    template: str | Path | PromptTemplate | None = None,
    cache: str | Path | None = None,
    concurrency: int = 8,
    seed: int | None = 0,
    temperature: float = 1.0,
    mode: str = "sample",
    structured: str = "auto",
    max_tokens: int | None = None,
    top_logprobs: int = 20,
    max_retries: int = 6,
    backoff: float = 1.0,
    timeout: float = 120.0,
    price: tuple[float, float] | None = None,
    progress: Callable[[Progress], object] | None = None,
) -> SurveyResult:
    """Ask a model every question as every persona, and return a unit-level table.

    Parameters
    ----------
    questions : path, DataFrame or list of dict
        Columns ``task``, ``text``, ``options`` (labels separated by ``|``),
        optional ``values`` (numeric codes in the same order; default 1, 0 for
        two options, else 1..k) and task attributes (e.g. ``time``), carried
        into the output. CSV, TSV, Parquet or YAML.
    personas : path, DataFrame or list of dict
        Column ``unit``, optional ``weight`` and persona fields for the prompt.
    model : str
        Model name as the server knows it.
    base_url : str, optional
        OpenAI-compatible base URL (``None``: the OpenAI API). The API key is
        read from ``OPENAI_API_KEY``; a server on this machine needs none.
    draws : int
        Answers per persona and question (repeated draws of one unit).
    real : path or DataFrame, optional
        Real answers (``unit``, ``task``, ``value``, optional ``weight``),
        appended as ``source = real`` rows paired by unit.
    template : path or PromptTemplate, optional
        Jinja2 template with ``persona`` (dict of fields), ``unit``,
        ``question``, ``options``, ``letters``, ``task``, ``attributes`` and
        ``mode``; default: the shipped ``survey`` template.
    cache : path, optional
        SQLite answer cache: a rerun or resume asks only for missing answers.
    concurrency : int
        Requests in flight at once.
    seed : int or None
        Run seed; each request gets its own seed derived from it, the unit and
        the draw (see :func:`~synthinfer.generate._run.request_seed`).
    temperature : float
        Sampling temperature.
    mode : {"sample", "logprobs"}
        ``sample``: the value is the code of the option answered.
        ``logprobs``: one request per persona and question with
        ``max_tokens = 1``; the value is the expected code under the option
        probabilities read from the first token's log-probabilities (the
        answer text when the server returns none). Needs ``draws = 1``.
    structured : {"auto", "on", "off"}
        JSON-schema output with an enum of the options (``sample`` mode).
    max_tokens : int, optional
        Answer length limit (``logprobs`` mode: 1 unless given).
    top_logprobs : int
        Log-probabilities per token asked for in ``logprobs`` mode (1-20).
    max_retries, backoff, timeout : int, float, float
        Retries on 429/5xx/timeouts, first backoff in seconds, seconds per answer.
    price : (float, float), optional
        US dollars per million prompt and completion tokens (cost estimate).
    progress : callable, optional
        Called with a :class:`~synthinfer.generate.Progress` after every answer.

    Returns
    -------
    SurveyResult
        ``to_frame()`` is ready for :func:`synthinfer.infer`: an unparseable
        answer is a row with an empty value (counted in the run record).

    Raises
    ------
    ValueError
        Bad inputs or parameters (nothing is sent).
    GenerationError
        A request failed for good; answers received so far are in the cache.
    """
    draws, seed, temperature, max_tokens = check_sampling(draws, seed, temperature, max_tokens)
    mode = check_choice(mode, SURVEY_MODES, "mode")
    top_logprobs = check_count(top_logprobs, "top_logprobs")
    if mode == "logprobs" and draws != 1:
        raise ValueError(
            f"mode 'logprobs' reads one probability per option, so repeated draws add nothing; "
            f"use draws=1 (got {draws})"
        )
    if not 1 <= top_logprobs <= 20:
        raise ValueError(f"top_logprobs must lie in [1, 20], got {top_logprobs}")
    structured = structured if mode == "sample" else "off"
    settings = ClientSettings(
        model, base_url, concurrency, max_retries, backoff, timeout, structured, price
    )
    items = read_questions(questions)
    people = read_personas(personas)
    real_rows = None if real is None else read_real(real, items, people)
    run = Generation(
        "survey", settings, PromptTemplate.resolve(template, "survey"), cache, progress
    )
    parameters = {
        "temperature": temperature,
        "max_tokens": max_tokens if mode == "sample" else (max_tokens or 1),
        "logprobs": True if mode == "logprobs" else None,
        "top_logprobs": top_logprobs if mode == "logprobs" else None,
    }
    replies, stats = run.ask(_requests(items, people, draws, run, parameters, seed, mode))
    answers = _answers(items, people, draws, replies, mode)
    table = _table(items, people, draws, answers, real_rows)
    unparseable = answers.groupby("task", sort=False)["value"].apply(lambda v: int(v.isna().sum()))
    record = run.record(
        {"mode": mode, "draws": draws, "seed": seed, **parameters},
        stats,
        counts={
            "unparseable": int(answers["value"].isna().sum()),
            "logprob_fallbacks": int(answers["fallback"].sum()),
            "synthetic_rows": len(answers),
            "real_rows": 0 if real_rows is None else len(real_rows),
        },
        unparseable_by_task=unparseable.to_dict(),
        extra={"questions": len(items), "personas": len(people), "tasks": [q.task for q in items]},
    )
    return SurveyResult(table=table, answers=answers.drop(columns="fallback"), record=record)


def _requests(
    items: tuple[Question, ...],
    people: Personas,
    draws: int,
    run: Generation,
    parameters: dict[str, Any],
    seed: int | None,
    mode: str,
) -> list[Request]:
    """One request per question, persona and draw, in that order."""
    requests = []
    for question in items:
        schema = answer_schema(list(question.options)) if mode == "sample" else None
        for unit, fields in zip(people.units, people.fields, strict=True):
            text = run.prompt.render(
                persona=fields,
                unit=unit,
                question=question.text,
                options=list(question.options),
                letters=LETTERS[: len(question.options)],
                task=question.task,
                attributes=question.attributes,
                mode=mode,
            )
            for draw in range(draws):
                wire = {**parameters, "seed": request_seed(seed, unit, draw)}
                identity = {"unit": unit, "mode": mode}
                requests.append(run.request(text, wire, identity, draw, schema))
    return requests


def _answers(
    items: tuple[Question, ...],
    people: Personas,
    draws: int,
    replies: list[Reply],
    mode: str,
) -> pd.DataFrame:
    """One row per request: the answer text, the option it names and its value."""
    rows = []
    position = 0
    for question in items:
        labels, values = question.options, question.values
        for unit in people.units:
            for draw in range(draws):
                reply = replies[position]
                position += 1
                text = reply.content if reply.content is not None else reply.refusal
                probabilities, fallback = None, False
                if mode == "logprobs":
                    probabilities = option_probabilities(reply.top_logprobs, len(labels))
                    fallback = probabilities is None
                if probabilities is not None:
                    value = float(np.dot(probabilities, values))
                    option = labels[int(np.argmax(probabilities))]
                else:
                    choice = None if reply.content is None else parse_choice(reply.content, labels)
                    value = math.nan if choice is None else values[choice]
                    option = None if choice is None else labels[choice]
                rows.append(
                    (question.task, unit, draw, text, option, value, reply.cached, fallback)
                )
    columns = ["task", "unit", "draw", "answer", "option", "value", "cached", "fallback"]
    return pd.DataFrame(rows, columns=columns)


def _table(
    items: tuple[Question, ...],
    people: Personas,
    draws: int,
    answers: pd.DataFrame,
    real_rows: pd.DataFrame | None,
) -> pd.DataFrame:
    """The unit-level table: synthetic rows (then real ones) with weights and task attributes."""
    table = pd.DataFrame(
        {
            "task": answers["task"],
            "source": "synthetic",
            "value": answers["value"].astype(float),
            "unit": answers["unit"],
        }
    )
    if people.weights is not None:
        table["weight"] = np.tile(np.repeat(people.weights, draws), len(items))
    if real_rows is not None:
        table = pd.concat([table, real_rows], ignore_index=True)
    names = list(dict.fromkeys(name for q in items for name in q.attributes))
    by_task = {q.task: q.attributes for q in items}
    for name in names:
        column = table["task"].map(lambda task, name=name: by_task[task].get(name))
        table[name] = _typed(column)
    return table


def _typed(column: pd.Series) -> pd.Series:
    """Attribute cells as numbers when every non-empty one is a number, else as given."""
    cells = [None if _missing(v) else str(v).strip() or None for v in column]
    try:
        numbers = [math.nan if c is None else float(c) for c in cells]
    except ValueError:
        return pd.Series([None if _missing(v) else v for v in column], index=column.index)
    out = pd.Series(numbers, index=column.index, dtype=float)
    finite = out.dropna()
    return out.astype("Int64") if len(finite) and (finite % 1 == 0).all() else out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
