"""Reading a model's answer as one of the options: from text, JSON or log-probabilities.

The same parser reads every answer of a run, whether the server honoured the
JSON schema or not, so history and target tasks are parsed alike. An answer
that names no option, or more than one, is unparseable (``None``): it becomes
an empty value, counted, never guessed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

__all__ = ["LETTERS", "option_probabilities", "parse_choice"]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Letters that label options in prompts (at most 26 options)."""

_TRIM = " \t\r\n\"'`*_.,;:!?"
_BRACKETED = re.compile(r"\[\[\s*([^\[\]]+?)\s*\]\]")
_LEADING_LETTER = re.compile(r"^\(?([A-Za-z])\s*[.):\]]\s*(.*)$", re.DOTALL)
_PREAMBLE = re.compile(
    r"^(?:my\s+)?(?:final\s+)?(?:answer|choice|verdict|option|response)\s*(?:is)?\s*[:=\-]?\s*",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    """Text without surrounding space, quotes, markdown emphasis and end punctuation."""
    return text.strip(_TRIM)


def _json_answer(text: str) -> str | None:
    """The ``answer`` of a JSON object (fenced in markdown or not), or None."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("answer", "verdict", "choice"):
            if isinstance(data.get(key), str | int | float):
                return str(data[key])
    return None


def _exact(text: str, labels: Sequence[str], letters: bool) -> int | None:
    """The option whose label (or letter) the whole text is."""
    folded = _clean(text).casefold()
    for index, label in enumerate(labels):
        if folded == _clean(label).casefold():
            return index
    if letters and len(folded) == 1 and folded.upper() in LETTERS[: len(labels)]:
        return LETTERS.index(folded.upper())
    return None


def _mentioned(text: str, labels: Sequence[str]) -> int | None:
    """The one option whose label the text mentions as a whole word (longest labels first)."""
    found: set[int] = set()
    remaining = text
    for index in sorted(range(len(labels)), key=lambda i: -len(labels[i])):
        label = _clean(labels[index])
        if not label:
            continue
        flags = 0 if len(label) == 1 else re.IGNORECASE
        pattern = re.compile(rf"(?<!\w){re.escape(label)}(?!\w)", flags)
        if pattern.search(remaining):
            found.add(index)
            remaining = pattern.sub(" ", remaining)
    return found.pop() if len(found) == 1 else None


def parse_choice(text: str | None, labels: Sequence[str], *, letters: bool = True) -> int | None:
    """The index of the option an answer names, or ``None`` when it names none or several.

    Tried in order: a JSON object's ``answer``; the whole answer as a label
    (case and surrounding punctuation ignored) or, with ``letters``, as an
    option letter; a ``[[X]]`` verdict; a leading letter such as ``B.`` or
    ``(B)`` (when the label that may follow it agrees); and finally the one
    label the answer mentions as a whole word.

    Parameters
    ----------
    text : str or None
        The model's answer.
    labels : sequence of str
        The option labels, in order.
    letters : bool, default True
        Whether the prompt labelled the options ``A``, ``B``, ... .

    Returns
    -------
    int or None

    Examples
    --------
    >>> parse_choice('{"answer": "Disapprove"}', ["Approve", "Disapprove"])
    1
    >>> parse_choice("My answer: B. Disapprove", ["Approve", "Disapprove"])
    1
    >>> parse_choice("Approve or disapprove?", ["Approve", "Disapprove"]) is None
    True
    """
    if text is None or not text.strip():
        return None
    answer = _json_answer(text)
    if answer is not None:
        return _exact(answer, labels, letters)
    text = _PREAMBLE.sub("", text.strip(), count=1)
    choice = _exact(text, labels, letters)
    if choice is not None:
        return choice
    bracketed = _BRACKETED.findall(text)
    if len(set(bracketed)) == 1:
        return _exact(bracketed[0], labels, letters)
    leading = _LEADING_LETTER.match(text.strip(_TRIM.replace(".", "").replace(")", "")))
    if letters and leading and leading.group(1).upper() in LETTERS[: len(labels)]:
        index = LETTERS.index(leading.group(1).upper())
        rest = _clean(leading.group(2))
        if not rest or _mentioned(rest, labels) in (None, index):
            return index
        return None
    return _mentioned(text, labels)


def option_probabilities(
    top_logprobs: Sequence[tuple[str, float]] | None, n_options: int, *, labels: Sequence[str] = ()
) -> list[float] | None:
    """Probabilities of the options from the first answer token's top log-probabilities.

    Tokens are read as option letters (``A``, `` B``, ``(C`` ...) or, when
    ``labels`` are given, as labels; the probabilities of the tokens naming
    each option are summed and renormalised over the options.

    Parameters
    ----------
    top_logprobs : sequence of (str, float) or None
        ``(token, log-probability)`` pairs of the first token.
    n_options : int
        Number of options.
    labels : sequence of str, optional
        Labels to match instead of letters.

    Returns
    -------
    list of float or None
        ``None`` when no token names an option.
    """
    if not top_logprobs:
        return None
    names = [label.casefold() for label in labels] or [c.casefold() for c in LETTERS[:n_options]]
    mass = [0.0] * n_options
    for token, logprob in top_logprobs:
        name = token.strip(" \t\r\n()[].:*\"'").casefold()
        if name in names and math.isfinite(logprob):
            mass[names.index(name)] += math.exp(logprob)
    total = sum(mass)
    if total <= 0:
        return None
    return [m / total for m in mass]
