"""The one door every argument passes: levels, lists, bounds, names, seeds, columns.

Each check normalizes one kind of argument and, when it is wrong, raises one
``ValueError`` whose message names the argument, says what is allowed and
shows what was given. The library, its studies and its command line all call
these functions, so a problem is worded the same way wherever it is met.
Nothing here imports from the rest of the package.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Sequence
from typing import Any

__all__ = [
    "check_alpha",
    "check_alphas",
    "check_bounds",
    "check_choice",
    "check_choices",
    "check_columns",
    "check_count",
    "check_levels",
    "check_range",
    "check_seed",
    "number_list",
    "shown",
    "split_list",
]

_NO_BOUNDS = ("none", "")
MAX_ALPHA = 0.5
"""The largest miscoverage level accepted from users (a larger one is a typed confidence level)."""
DEFAULT_ALPHA = 0.1
"""The miscoverage level when none is given."""


def shown(value: Any) -> str:
    """A value as a message shows it: numbers plainly (no NumPy reprs), other values by repr.

    Examples
    --------
    >>> import numpy as np
    >>> shown(np.float64(2.0)), shown((np.int64(1), 0.5)), shown("x")
    ('2', '(1, 0.5)', "'x'")
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):g}" if not isinstance(value, numbers.Integral) else str(int(value))
    if isinstance(value, tuple | list):
        inner = ", ".join(shown(item) for item in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


def split_list(values: str | Iterable[Any] | None) -> list[str]:
    """Flatten comma-separated text into a list of stripped, non-empty items.

    Parameters
    ----------
    values : str, iterable or None
        ``"a,b"``, ``["a", "b,c"]`` (a repeated command-line option), or ``None``.

    Returns
    -------
    list of str
        The items in order; empty for ``None``.

    Examples
    --------
    >>> split_list(["exchangeable, task-only", "finite-sample"])
    ['exchangeable', 'task-only', 'finite-sample']
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    items: list[str] = []
    for value in values:
        items.extend(part.strip() for part in str(value).split(",") if part.strip())
    return items


def number_list(values: str | float | Iterable[Any] | None, name: str) -> list[float]:
    """Numbers from comma-separated text, a number, or a sequence of either.

    Parameters
    ----------
    values : str, float, iterable or None
        E.g. ``"0.1,0.2"``, ``0.1``, ``[0.1, "0.2"]``.
    name : str
        The argument's name for the error message (e.g. ``--alpha``).

    Returns
    -------
    list of float
        Empty for ``None``.
    """
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        values = [values]
    parsed: list[float] = []
    for value in values:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            parsed.append(float(value))
            continue
        for item in split_list(value):
            try:
                parsed.append(float(item))
            except ValueError:
                raise ValueError(f"{name} takes numbers (comma-separated), got {item!r}") from None
    return parsed


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """Return ``alpha`` as a float after checking it lies strictly between 0 and 1.

    Parameters
    ----------
    alpha : float
        Miscoverage level.
    name : str
        Name used in the error message.

    Returns
    -------
    float
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}") from None
    if math.isnan(value) or not (0.0 < value < 1.0):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {alpha!r}")
    return value


def check_alphas(alpha: Any, name: str = "alpha") -> tuple[float, ...]:
    """One or more miscoverage levels (a number, ``"0.1,0.2"`` or a sequence), each checked.

    A level above 0.5 is refused: it is almost surely a confidence level typed
    as alpha (``0.95`` for a 95% interval), and the message says so.

    Returns
    -------
    tuple of float
        In the order given; at least one.
    """
    values = [alpha] if isinstance(alpha, numbers.Real) else _non_empty(alpha, name)
    alphas = tuple(check_alpha(value, name) for value in number_list(values, name))
    for value in alphas:
        if value > MAX_ALPHA:
            raise ValueError(
                f"{name} is the miscoverage level and must lie in (0, {MAX_ALPHA:g}], got "
                f"{value:g}: for a {100 * value:g}% interval use {name} {round(1 - value, 12):g} "
                f"(or give the confidence level as level {value:g})"
            )
    return alphas


def check_levels(alpha: Any = None, level: Any = None) -> tuple[float, ...]:
    """Miscoverage levels from exactly one of ``alpha`` and ``level`` (``1 − alpha``).

    Neither given means the default ``alpha = 0.1``.

    Examples
    --------
    >>> check_levels(level="0.9,0.95")
    (0.1, 0.05)
    """
    if alpha is not None and level is not None:
        raise ValueError("give alpha (miscoverage) or level (confidence), not both")
    if level is None:
        return check_alphas(DEFAULT_ALPHA if alpha is None else alpha)
    levels = [level] if isinstance(level, numbers.Real) else _non_empty(level, "level")
    alphas = []
    for value in number_list(levels, "level"):
        if not MAX_ALPHA <= value < 1.0:
            raise ValueError(
                f"level is the confidence level and must lie in [{1 - MAX_ALPHA:g}, 1), got "
                f"{value:g}"
            )
        alphas.append(round(1.0 - value, 12))
    return check_alphas(alphas)


def _non_empty(values: Any, name: str) -> list[Any]:
    items = (
        split_list(values) if isinstance(values, str) else list([] if values is None else values)
    )
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def check_bounds(bounds: Any) -> tuple[float, float] | None:
    """Normalize ``bounds``: ``None``/``"none"``, ``"LO,HI"`` or a pair with ``LO < HI``.

    Returns
    -------
    (float, float) or None
    """
    if bounds is None or (isinstance(bounds, str) and bounds.strip().lower() in _NO_BOUNDS):
        return None
    if isinstance(bounds, str):
        try:
            bounds = tuple(float(part) for part in bounds.split(","))
        except ValueError:
            raise ValueError(f"bounds must be 'LO,HI' numbers, got {shown(bounds)}") from None
    try:
        pair = tuple(float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds must be two finite numbers LO < HI, got {shown(bounds)}"
        ) from None
    if len(pair) != 2 or not all(math.isfinite(b) for b in pair) or not pair[0] < pair[1]:
        raise ValueError(f"bounds must be two finite numbers LO < HI, got {shown(bounds)}")
    return pair[0], pair[1]


def check_choice(value: Any, choices: Collection[str], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else name them all.

    Examples
    --------
    >>> check_choice("loo", ("loo", "temporal"), "protocol")
    'loo'
    """
    text = getattr(value, "value", value)  # accept a str Enum member
    if text not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {shown(value)}")
    return str(text)


def check_choices(values: Any, choices: Collection[str], name: str) -> tuple[str, ...]:
    """One or more names (comma-separated text or a sequence), each one of ``choices``."""
    return tuple(check_choice(v, choices, name) for v in split_list(_non_empty(values, name)))


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """A whole number at least ``minimum`` (booleans and fractions are refused).

    Examples
    --------
    >>> check_count(3.0, "reps")
    3
    """
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )
    whole = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not whole or not math.isfinite(value) or value != int(value) or int(value) < minimum:
        raise ValueError(f"{name} must be {what}, got {shown(value)}")
    return int(value)


def check_range(
    value: Any,
    name: str,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A number in the interval from ``low`` to ``high`` (each end open or closed)."""
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    where = f"{left}{low:g}, {high:g}{right}" if math.isfinite(high) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (math.isfinite(number) and above and below):
        if where is None:
            what = "positive" if low == 0 and low_open else f"at least {low:g}"
            if low == 0 and not low_open:
                what = "non-negative"
            raise ValueError(f"{name} must be {what}, got {shown(value)}")
        raise ValueError(f"{name} must lie in {where}, got {shown(value)}")
    return number


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``None`` or a non-negative whole number (what NumPy's generators accept)."""
    if seed is None:
        return None
    return check_count(seed, name, minimum=0)


def check_columns(
    columns: Sequence[str], required: Iterable[str], where: str, what: str = "table"
) -> None:
    """Stop with one message naming every required column that ``columns`` lacks.

    Parameters
    ----------
    columns : sequence of str
        The columns present.
    required : iterable of str
        The columns needed.
    where : str
        The data's name (a file, or ``"data"`` for a frame).
    what : str
        What kind of table it was read as (``unit-level table``, ...).
    """
    missing = [column for column in required if column not in columns]
    if missing:
        raise ValueError(
            f"{where}: a {what} needs column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, columns)) or 'none'}"
        )
