"""Judge verdicts for battle logs, asked in both orders to cancel position bias.

Each battle (a prompt and two responses) is shown to the judge as ``A``/``B``
in the log's order and again swapped. Each answer is turned back to the
log's orientation (``a``: model A better, ``b``: model B better, ``tie``).
The rule that combines the two: **the verdict stands when both orders agree,
and is a tie when they disagree** — the same as averaging the two oriented
scores (a = 1, tie = 1/2, b = 0) and calling anything strictly between 0 and
1 a tie. A battle with an unparseable answer in either order gets an empty
verdict (non-response), counted in the run record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from synthinfer.generate._inputs import read_battle_log
from synthinfer.generate._parse import parse_choice
from synthinfer.generate._prompts import PromptTemplate, answer_schema
from synthinfer.generate._results import JudgeResult
from synthinfer.generate._run import Generation, check_sampling, request_seed
from synthinfer.generate._types import ClientSettings, Progress, Reply, Request

__all__ = ["JUDGE_LABELS", "ORDERS", "combine_verdicts", "judge"]

JUDGE_LABELS = ("A", "B", "tie")
"""What the judge answers: the first response, the second, or a tie."""

ORDERS = ("ab", "ba")
"""The log's order (model A's response first) and the swapped one."""

_ORIENTED = {"ab": ("a", "b", "tie"), "ba": ("b", "a", "tie")}
_SCORE = {"a": 1.0, "tie": 0.5, "b": 0.0}


def combine_verdicts(verdicts: list[str | None]) -> tuple[str, float]:
    """The verdict of a battle from its oriented verdicts (one per order shown).

    Parameters
    ----------
    verdicts : list of str or None
        ``a``, ``b``, ``tie`` or ``None`` (unparseable), already in the log's
        orientation.

    Returns
    -------
    (str, float)
        The verdict (``""`` when any answer is unparseable) and the mean
        oriented score of model A (NaN then).

    Examples
    --------
    >>> combine_verdicts(["a", "a"])
    ('a', 1.0)
    >>> combine_verdicts(["a", "b"])
    ('tie', 0.5)
    >>> combine_verdicts(["a", "tie"])
    ('tie', 0.75)
    """
    if any(v is None for v in verdicts):
        return "", float("nan")
    score = float(np.mean([_SCORE[v] for v in verdicts]))
    verdict = "a" if score == 1.0 else "b" if score == 0.0 else "tie"
    return verdict, score


def judge(
    battles: Any,
    *,
    model: str,
    base_url: str | None = None,
    swap: bool = True,
    draws: int = 1,
    template: str | Path | PromptTemplate | None = None,
    cache: str | Path | None = None,
    concurrency: int = 8,
    seed: int | None = 0,
    temperature: float = 0.0,
    structured: str = "auto",
    max_tokens: int | None = None,
    max_retries: int = 6,
    backoff: float = 1.0,
    timeout: float = 120.0,
    price: tuple[float, float] | None = None,
    progress: Callable[[Progress], object] | None = None,
    prompt_col: str = "prompt",
    response_a_col: str = "response_a",
    response_b_col: str = "response_b",
    model_a_col: str = "model_a",
    model_b_col: str = "model_b",
    human_col: str = "human",
    judge_col: str = "judge",
) -> JudgeResult:
    """Judge verdicts (``a``/``b``/``tie``) for every battle of a log, ready for ``arena``.

    Parameters
    ----------
    battles : path, DataFrame or list of dict
        One row per battle with the prompt, both responses and both model
        names (column names below); other columns are kept.
    model, base_url : str
        The judge model and its OpenAI-compatible server (see
        :func:`synthinfer.generate.survey`).
    swap : bool, default True
        Ask in both orders and combine (see the module notes); without it,
        the log's order only.
    draws : int
        Verdicts per battle; with more than one the output has one row per
        battle and draw, and a ``draw`` column.
    template : path or PromptTemplate, optional
        Jinja2 template with ``prompt``, ``first``, ``second`` (the responses
        in the order shown), ``order`` (``ab`` or ``ba``) and ``battle`` (the
        row); default: the shipped ``judge`` template.
    cache, concurrency, seed, temperature, structured, max_tokens : optional
        As for :func:`synthinfer.generate.survey` (``temperature`` defaults to 0).
    max_retries, backoff, timeout, price, progress : optional
        As for :func:`synthinfer.generate.survey`.
    prompt_col, response_a_col, response_b_col, model_a_col, model_b_col : str
        Input column names.
    human_col : str
        Human verdict column; added empty when the log has none (all battles
        then judge-only).
    judge_col : str
        Output verdict column; ``JUDGE_ab``, ``JUDGE_ba`` (each order, in the
        log's orientation) and ``JUDGE_score`` (model A's mean score) beside it.

    Returns
    -------
    JudgeResult
    """
    draws, seed, temperature, max_tokens = check_sampling(draws, seed, temperature, max_tokens)
    settings = ClientSettings(
        model, base_url, concurrency, max_retries, backoff, timeout, structured, price
    )
    needed = [prompt_col, response_a_col, response_b_col, model_a_col, model_b_col]
    log, where = read_battle_log(battles, needed)
    added = [judge_col, f"{judge_col}_ab", f"{judge_col}_ba", f"{judge_col}_score", "draw"]
    clash = [c for c in added if c in log.columns]
    if clash:
        raise ValueError(
            f"{where}: the log already has a column {clash[0]!r}; name the verdict column "
            f"otherwise (judge_col / --judge-col)"
        )
    run = Generation("judge", settings, PromptTemplate.resolve(template, "judge"), cache, progress)
    orders = ORDERS if swap else ORDERS[:1]
    parameters = {"temperature": temperature, "max_tokens": max_tokens}
    columns = (prompt_col, response_a_col, response_b_col)
    requests = _requests(log, needed, columns, orders, draws, run, parameters, seed)
    replies, stats = run.ask(requests)
    verdicts, answers = _verdicts(replies, len(log), draws, orders)
    table = _table(log, verdicts, orders, draws, judge_col, human_col)
    empty = table[judge_col] == ""
    models = table.loc[empty, [model_a_col, model_b_col]].astype(str)
    pairs = models[model_a_col] + " vs " + models[model_b_col]
    shown = answers["shown"].value_counts()
    decisive = shown.get("first", 0) + shown.get("second", 0)
    both = [v for v in verdicts if len(v.oriented) == 2 and None not in v.oriented]
    counted = table[judge_col].replace("", "unparseable").value_counts()
    record = run.record(
        {"swap": swap, "draws": draws, "seed": seed, **parameters},
        stats,
        counts={
            "unparseable": int(answers["verdict"].isna().sum()),
            "empty_verdicts": int(empty.sum()),
            "rows": len(table),
        },
        unparseable_by_task=pairs.value_counts().to_dict(),
        extra={
            "battles": len(log),
            "verdicts": {k: int(counted.get(k, 0)) for k in ("a", "b", "tie", "unparseable")},
            "position": {
                "both_orders": len(both),
                "inconsistent": sum(v.oriented[0] != v.oriented[1] for v in both),
                "first_position_wins": int(shown.get("first", 0)),
                "second_position_wins": int(shown.get("second", 0)),
                "ties": int(shown.get("tie", 0)),
                "first_position_share": shown.get("first", 0) / decisive if decisive else 0.5,
            },
        },
    )
    return JudgeResult(table=table, answers=answers.drop(columns="shown"), record=record)


class _Verdict(NamedTuple):
    """One battle and draw: the answer of each order shown, in the log's orientation."""

    battle: int
    draw: int
    oriented: tuple[str | None, ...]


def _requests(
    log: pd.DataFrame,
    identity: list[str],
    columns: tuple[str, str, str],
    orders: tuple[str, ...],
    draws: int,
    run: Generation,
    parameters: dict[str, Any],
    seed: int | None,
) -> list[Request]:
    """One request per battle, draw and order shown, in that order."""
    prompt_col, response_a_col, response_b_col = columns
    schema = answer_schema(list(JUDGE_LABELS))
    requests = []
    for row in log.to_dict(orient="records"):
        ident = _battle_id([row[c] for c in identity])
        shown = {"ab": (row[response_a_col], row[response_b_col])}
        shown["ba"] = shown["ab"][::-1]
        for draw in range(draws):
            wire = {**parameters, "seed": request_seed(seed, ident, draw)}
            for order in orders:
                content = run.prompt.render(
                    prompt=_text(row[prompt_col]),
                    first=_text(shown[order][0]),
                    second=_text(shown[order][1]),
                    order=order,
                    battle=row,
                )
                shown_as = {"battle": ident, "order": order}
                requests.append(run.request(content, wire, shown_as, draw, schema))
    return requests


def _verdicts(
    replies: list[Reply], n_battles: int, draws: int, orders: tuple[str, ...]
) -> tuple[list[_Verdict], pd.DataFrame]:
    """Each answer read and turned to the log's orientation; one row per request too."""
    verdicts, answers = [], []
    replies_in_order = iter(replies)
    for battle in range(n_battles):
        for draw in range(draws):
            oriented = []
            for order in orders:
                reply = next(replies_in_order)
                choice = None
                if reply.content is not None:
                    choice = parse_choice(reply.content, JUDGE_LABELS, letters=False)
                verdict = None if choice is None else _ORIENTED[order][choice]
                shown = "none" if choice is None else ("first", "second", "tie")[choice]
                oriented.append(verdict)
                answers.append((battle, draw, order, reply.content, verdict, reply.cached, shown))
            verdicts.append(_Verdict(battle, draw, tuple(oriented)))
    columns = ["battle", "draw", "order", "answer", "verdict", "cached", "shown"]
    return verdicts, pd.DataFrame(answers, columns=columns)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _battle_id(cells: list[Any]) -> str:
    """A battle's id: a hash of its prompt, responses and models (stable under reordering)."""
    text = json.dumps([_text(v) for v in cells], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _table(
    log: pd.DataFrame,
    verdicts: list[_Verdict],
    orders: tuple[str, ...],
    draws: int,
    judge_col: str,
    human_col: str,
) -> pd.DataFrame:
    """The log with the verdict columns; one row per battle and draw."""
    table = log.iloc[[v.battle for v in verdicts]].reset_index(drop=True)
    if human_col not in table.columns:
        table[human_col] = ""
    if draws > 1:
        table["draw"] = [v.draw for v in verdicts]
    combined = [combine_verdicts(list(v.oriented)) for v in verdicts]
    table[judge_col] = [verdict for verdict, _ in combined]
    for k, order in enumerate(orders):
        table[f"{judge_col}_{order}"] = [v.oriented[k] or "" for v in verdicts]
    table[f"{judge_col}_score"] = [score for _, score in combined]
    return table
