"""p-values and tests by exact inversion of a nested family of intervals.

Every method gives an interval ``C(α)`` at any level ``α`` in ``(0, 1)``
(:meth:`synthinfer.IntervalResult.at`), and the intervals are nested: a larger
``α`` gives a narrower interval. The p-value of a null value ``θ0`` is the
smallest level at which the interval excludes it,

``p = inf{α in (0, 1) : θ0 ∉ C(α)}``  (1 when no level excludes it),

so that ``p ≤ α`` exactly when ``C(α)`` excludes ``θ0``: the test "reject when
``p ≤ α``" is the interval's own test, with the same guarantee.

How the infimum is found exactly
--------------------------------
``C(α)`` has continuous parts (a Wald or Hoeffding interval moves continuously
with its level) and step parts (conformal ranks ``k_L = floor((T+1)·α3/2)``,
bootstrap percentiles and order-statistic ranks jump at known levels). Both
are handled by one search over the floating-point numbers themselves: on a
fixed grid of levels the family is first checked to be nested (its lower end
never falls and its upper end never rises as the level grows; a family that
is not nested is an error, never a silent p-value), and the exclusion is
bracketed; then bisection over the binary representation of the levels in
the bracket finds the smallest double ``α`` at which the interval excludes the
null. The result holds for every double ``α`` in the searched range, at the
jumps too:

* A conformal rank jumps up *at* the level ``α3 = 2k/(T+1)`` (``floor`` is
  continuous from the right), so the narrower band already holds at the jump
  level: the set of excluding levels is closed on the left, ``[p, 1)``, and
  ``p`` is the jump level itself (as computed in floating point).
* A continuous end crosses the null at some real level ``α*``; the interval is
  closed, so at ``α*`` it still contains the null and the excluding levels form
  ``(α*, 1)``. The p-value is the smallest double above ``α*`` (within one unit
  in the last place of it), so again ``p ≤ α`` exactly when ``C(α)`` excludes.

An infinite interval never excludes a null (an infinite band clipped to
bounds excludes no null inside the bounds; a null outside them is refused).
Levels below :data:`LOWEST_LEVEL` are not searched: a null excluded even
there gets ``p = LOWEST_LEVEL`` (conservative).

One-sided alternatives
----------------------
``greater`` (H1: ``θ > θ0``) inverts the lower end of the two-sided interval
at twice the level: ``p_greater ≤ α`` exactly when ``L(2α) > θ0``, for every
``α < 1/2``; ``less`` (H1: ``θ < θ0``) likewise with ``U(2α) < θ0``. One end of
the ``1 − 2α`` interval is a ``1 − α`` one-sided bound whenever the two-sided
interval's error splits evenly enough between its ends (as every construction
here does by design); the one-sided p-value is half the level at which that end
passes the null, and 1 when no level below 1 makes it pass (so a one-sided
p-value is either below 1/2 or exactly 1).

Allocations
-----------
The family keeps the allocation of the result: ``prop`` and a resolved
``auto`` (a ``prop`` split chosen at the result's level) keep their proportions
``α1 : α2 : α3`` at every level, and so does ``abs:A1,A2``: the family keeps the
proportions it gave at the result's level (as :meth:`IntervalResult.at` does).
A ``D``-dimensional estimand runs each coordinate at ``α/D``; the joint null
(every coordinate at its null value) is rejected at ``α`` when any
coordinate's interval at ``α/D`` excludes its value, so the joint p-value is
the smallest per-coordinate p-value (:func:`joint_pvalues`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import pandas as pd

from synthinfer._columns import JOINT_PVALUE_COLUMNS, PVALUE_COLUMNS
from synthinfer._validation import check_choice, shown
from synthinfer.allocation import Allocation

__all__ = [
    "ALTERNATIVES",
    "LOWEST_LEVEL",
    "IntervalAt",
    "Recomputable",
    "check_alternative",
    "check_null",
    "excludes",
    "invert",
    "joint_pvalues",
    "null_for",
    "parse_null",
    "pvalue_frame",
    "result_family",
    "result_pvalue",
    "smallest_rejecting_level",
]

ALTERNATIVES = ("two-sided", "greater", "less")
"""The alternatives: ``θ ≠ θ0``, ``θ > θ0``, ``θ < θ0``."""

LOWEST_LEVEL = 1e-300
"""The smallest level searched; a null excluded even there gets this p-value."""

_HIGHEST_LEVEL = math.nextafter(1.0, 0.0)
_GRID = (
    LOWEST_LEVEL,
    1e-200,
    1e-100,
    1e-50,
    1e-20,
    1e-12,
    1e-8,
    1e-6,
    1e-4,
    1e-3,
    0.01,
    0.02,
    0.05,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.99,
    _HIGHEST_LEVEL,
)
"""Levels at which nesting is checked and the exclusion bracketed before bisection."""

IntervalAt = Callable[[float], tuple[float, float]]
"""A family of intervals: level ``α`` → ``(lower, upper)`` of the ``1 − α`` interval."""


class Recomputable(Protocol):
    """What a result needs to give its family of intervals (an ``IntervalResult``)."""

    coord: str
    n_coords: int
    bounds: tuple[float, float] | None
    allocation: Allocation | None

    def at(self, alpha: float) -> Recomputable: ...

    @property
    def lower(self) -> float: ...

    @property
    def upper(self) -> float: ...


def check_alternative(alternative: str) -> str:
    """``alternative`` if it is one of :data:`ALTERNATIVES`, else a clear error."""
    return check_choice(alternative, ALTERNATIVES, "alternative")


def check_null(null: object, name: str = "null") -> float:
    """The null value as a finite float, or a ``ValueError`` saying what was given."""
    try:
        value = float(null)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {shown(null)}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {shown(null)}")
    return value


def excludes(lower: float, upper: float, null: float) -> bool:
    """Whether the closed interval ``[lower, upper]`` excludes ``null``.

    An infinite end excludes nothing on its side; a NaN end is an error.
    """
    if math.isnan(lower) or math.isnan(upper):
        raise ValueError(f"the interval [{lower}, {upper}] has an undefined (NaN) end")
    return null < lower or null > upper


def _bits(level: float) -> int:
    """The IEEE-754 bits of a positive double (ordered like the doubles)."""
    return struct.unpack("<q", struct.pack("<d", level))[0]


def _level(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def _check_nested(levels: Sequence[float], ends: Sequence[tuple[float, float]]) -> None:
    """Refuse a family whose interval grows somewhere as the level grows."""
    for (low_level, (low_l, low_u)), (high_level, (high_l, high_u)) in zip(
        zip(levels, ends, strict=True), zip(levels[1:], ends[1:], strict=False), strict=False
    ):
        if any(math.isnan(v) for v in (low_l, low_u, high_l, high_u)):
            raise ValueError(
                f"the interval family has an undefined (NaN) end at level {low_level:g} or "
                f"{high_level:g}; no p-value can be read from it"
            )
        if high_l < low_l or high_u > low_u:
            raise ValueError(
                f"the interval family is not nested: at level {high_level:g} it is "
                f"[{high_l:g}, {high_u:g}], not inside [{low_l:g}, {low_u:g}] at level "
                f"{low_level:g}; its p-values cannot be read from it"
            )


def smallest_rejecting_level(
    family: IntervalAt, rejects: Callable[[float, float], bool]
) -> float | None:
    """The smallest double level in ``[LOWEST_LEVEL, 1)`` whose interval is rejected.

    Parameters
    ----------
    family : callable
        Level → ``(lower, upper)``; checked to be nested on a grid of levels.
    rejects : callable
        ``rejects(lower, upper)``: whether the interval rejects the null. It
        must be monotone along a nested family (once true, true at every
        higher level), as every test of :func:`invert` is.

    Returns
    -------
    float or None
        ``None`` when no level below 1 rejects.
    """
    ends = [family(level) for level in _GRID]
    _check_nested(_GRID, ends)
    verdicts = [rejects(lower, upper) for lower, upper in ends]
    if not any(verdicts):
        return None
    first = verdicts.index(True)
    if not all(verdicts[first:]):
        raise ValueError("the test is not monotone along the interval family")
    if first == 0:
        return LOWEST_LEVEL
    accept, reject = _bits(_GRID[first - 1]), _bits(_GRID[first])
    while reject - accept > 1:
        middle = (accept + reject) // 2
        if rejects(*family(_level(middle))):
            reject = middle
        else:
            accept = middle
    return _level(reject)


def invert(family: IntervalAt, null: float, alternative: str = "two-sided") -> float:
    """The p-value of ``null`` from a nested family of intervals (see the module docs).

    Parameters
    ----------
    family : callable
        Level ``α`` in ``(0, 1)`` → ``(lower, upper)`` of the ``1 − α`` interval.
    null : float
        The null value ``θ0``.
    alternative : {"two-sided", "greater", "less"}
        ``two-sided``: ``p ≤ α`` iff ``C(α)`` excludes ``θ0``; ``greater``:
        ``p ≤ α`` iff ``L(2α) > θ0`` (for ``α < 1/2``); ``less``: ``p ≤ α``
        iff ``U(2α) < θ0``.

    Returns
    -------
    float
        In ``[LOWEST_LEVEL / 2, 1]``.

    Examples
    --------
    >>> from statistics import NormalDist
    >>> z = NormalDist().inv_cdf
    >>> wald = lambda a: (1.0 + z(a / 2), 1.0 - z(a / 2))  # estimate 1, se 1
    >>> round(invert(wald, 0.0), 6), round(invert(wald, 0.0, "greater"), 6)
    (0.317311, 0.158655)
    """
    null = check_null(null)
    alternative = check_alternative(alternative)
    tests: dict[str, Callable[[float, float], bool]] = {
        "two-sided": lambda lower, upper: excludes(lower, upper, null),
        "greater": lambda lower, upper: excludes(lower, math.inf, null),
        "less": lambda lower, upper: excludes(-math.inf, upper, null),
    }
    level = smallest_rejecting_level(family, tests[alternative])
    if level is None:
        return 1.0
    return level if alternative == "two-sided" else level / 2.0


def result_family(result: Recomputable) -> IntervalAt:
    """The family of a result: level → the final ``(lower, upper)`` of ``result.at(level)``."""

    def family(level: float) -> tuple[float, float]:
        again = result.at(level)
        return again.lower, again.upper

    return family


def result_pvalue(result: Recomputable, null: float, alternative: str = "two-sided") -> float:
    """The p-value of ``null`` for one result (see :meth:`synthinfer.IntervalResult.pvalue`)."""
    null = check_null(null)
    if result.bounds is not None and not result.bounds[0] <= null <= result.bounds[1]:
        low, high = result.bounds
        raise ValueError(
            f"null {null:g} lies outside the bounds [{low:g}, {high:g}] of the estimand: every "
            f"interval excludes it; give a null inside the bounds"
        )
    return invert(result_family(result), null, alternative)


def null_for(null: float | Mapping[str, float], coord: str) -> float:
    """The null value of coordinate ``coord``: ``null`` itself, or its entry for ``coord``."""
    if isinstance(null, Mapping):
        return check_null(null[coord], f"null for coordinate {coord!r}")
    return check_null(null)


def parse_null(text: str) -> float | dict[str, float]:
    """The null of the command line: ``VALUE``, or ``COORD=V,COORD=V`` (one per coordinate).

    Examples
    --------
    >>> parse_null("0.5"), parse_null("co=0.5, opp=0.4")
    (0.5, {'co': 0.5, 'opp': 0.4})
    """
    text = str(text).strip()
    if "=" not in text:
        return check_null(text, "--null")
    values: dict[str, float] = {}
    for item in text.split(","):
        coord, sep, value = item.partition("=")
        coord = coord.strip()
        if not sep or not coord or coord in values:
            raise ValueError(
                f"--null must be VALUE or COORD=V,COORD=V with each coordinate once, got {text!r}"
            )
        values[coord] = check_null(value.strip(), f"--null for coordinate {coord!r}")
    return values


def _check_null_coords(null: float | Mapping[str, float], coords: Iterable[str]) -> None:
    """A mapping ``null`` names exactly the coordinates of the result."""
    if not isinstance(null, Mapping):
        return
    present = list(dict.fromkeys(coords))
    missing = [c for c in present if c not in null]
    unknown = [c for c in null if c not in present]
    if missing or unknown:
        raise ValueError(
            f"null must give one value per coordinate ({', '.join(map(repr, present))}); "
            + (f"missing {', '.join(map(repr, missing))}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"unknown {', '.join(map(repr, unknown))}" if unknown else "")
        )


def pvalue_frame(
    intervals: Sequence[Recomputable],
    null: float | Mapping[str, float],
    alternative: str = "two-sided",
) -> pd.DataFrame:
    """One row per interval: its keys, the null, the alternative and the p-value.

    Parameters
    ----------
    intervals : sequence of IntervalResult
        The intervals (each keeps its statistics).
    null : float or mapping of str to float
        One null value, or one per coordinate.
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    pandas.DataFrame
        Columns ``task, coord, method, alpha, null, alternative, pvalue``.
    """
    alternative = check_alternative(alternative)
    _check_null_coords(null, (r.coord for r in intervals))
    rows = []
    for result in intervals:
        value = null_for(null, result.coord)
        rows.append(
            {
                "task": result.task,  # type: ignore[attr-defined]
                "coord": result.coord,
                "method": result.method,  # type: ignore[attr-defined]
                "alpha": result.alpha,  # type: ignore[attr-defined]
                "null": value,
                "alternative": alternative,
                "pvalue": result_pvalue(result, value, alternative),
            }
        )
    return pd.DataFrame(rows, columns=list(PVALUE_COLUMNS))


def joint_pvalues(per_coordinate: pd.DataFrame) -> pd.DataFrame:
    """Joint p-values per task × method × α from per-coordinate ones (:func:`pvalue_frame`).

    The joint null fixes every coordinate; it is rejected at ``α`` when any
    coordinate's interval at ``α/D`` excludes its value, so ``p_joint`` is the
    smallest per-coordinate p-value: ``p_joint ≤ α`` exactly when the rectangle
    at ``α`` excludes the null vector.

    Returns
    -------
    pandas.DataFrame
        Columns ``task, method, alpha, alternative, coords, pvalue``.
    """
    keys = ["task", "method", "alpha", "alternative"]
    grouped = per_coordinate.groupby(keys, sort=False)
    joint = grouped.agg(coords=("coord", "size"), pvalue=("pvalue", "min")).reset_index()
    return joint[list(JOINT_PVALUE_COLUMNS)]
