"""Budget allocations: how a level ``alpha`` is split into ``(alpha1, alpha2, alpha3)``.

``alpha1`` pays for the synthetic interval of the current task, ``alpha2`` for
the gap intervals of the historical tasks and ``alpha3`` for the conformal band
over tasks (Algorithm 1). Three specifications are accepted:

* ``prop:A,B,C`` splits ``alpha`` in proportions ``A, B, C`` (which sum to 1);
* ``abs:A1,A2`` sets ``alpha1 = A1`` and ``alpha2 = A2`` outright and gives
  ``alpha3 = alpha − A1 − A2`` the rest;
* ``auto`` (the default of ``infer``, ``backtest`` and ``arena``) chooses the
  split for each target and coordinate from design quantities only, with
  :func:`auto_allocation`.

How ``auto`` chooses
--------------------
With ``a`` the per-coordinate level (``alpha / D``) and ``T`` the number of
history tasks the conformal step ranks (the sum of the task weights for
``weighted``; the calibration tasks of a split-conformal adjustment), the band
is finite exactly when ``k_L = floor((T+1)·alpha3/2) ≥ 1``, i.e.
``alpha3 ≥ 2/(T+1)``, and ``alpha3`` matters only through the rank ``k_L``. So:

1. If ``a ≤ 2/(T+1)`` no split gives a finite band; ``auto`` gives the band
   ``0.99·a`` (so the infinite result names the true minimum history size).
2. Otherwise the rank is the one nearest the paper's share, ``k = round((T+1)·0.7·a/2)``
   (halves up), at least 1 (the smallest finite band) and at most the largest
   rank that leaves a tenth of ``a`` to ``alpha1 + alpha2`` (when more than
   rank 1 fits), and ``alpha3 = 2k/(T+1)``, the smallest level with that rank:
   any more would widen the other two intervals and not the band.
3. The rest ``a − alpha3`` is split between ``alpha1`` and ``alpha2`` to
   minimize ``z(alpha1/2)·s1 + z(alpha2/(2m))·s2`` (the ``W1 + W2`` of the
   normal model of :mod:`synthinfer.plan`), where ``s1`` is the median
   synthetic standard error, ``s2`` the median gap standard error of the
   history and ``m = T`` for ``task-only`` (else 1); neither share falls below
   a tenth of the rest. Without standard errors the rest is split 1:2, as in
   the paper.

Only ``T``, ``D``, ``alpha``, the method and standard errors enter, never the
observed gaps: ``alpha3`` depends on the design alone, so the conformal step is
the fixed-split one, and standard errors enter ``alpha1 : alpha2`` only as
medians over tasks (design summaries, like sample sizes). The interval is
finite whenever some allocation makes it so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

import numpy as np

from synthinfer._validation import check_alpha
from synthinfer.intervals import IntervalFamily

__all__ = [
    "AUTO_ALLOCATION",
    "DEFAULT_ALLOCATION",
    "Allocation",
    "auto_allocation",
    "design_se",
]

_PAPER_BAND_SHARE = 0.7
"""The paper's share of ``alpha3`` (``prop:0.1,0.2,0.7``): ``auto`` takes the rank nearest it."""
_MIN_SHARE = 0.1
"""The least share of ``a`` left to ``alpha1 + alpha2``, and of that rest to each of them."""
_INFEASIBLE_BAND_SHARE = 0.99
"""``alpha3 / a`` when no allocation gives a finite band."""
_ONE_SIGMA = 2.0 * (1.0 - NormalDist().cdf(1.0))
"""The level whose two-sided normal interval is ``estimate ± 1 SE`` (0.3173)."""


@dataclass(frozen=True)
class Allocation:
    """A split of the level into the three budgets of Algorithm 1.

    Parameters
    ----------
    kind : {"prop", "abs", "auto"}
        Proportional, absolute, or chosen from the design (``auto``; resolve
        it with :meth:`resolve` before :meth:`split`).
    values : tuple of float
        Three positive proportions (``prop``), ``(alpha1, alpha2)`` (``abs``),
        or nothing (``auto``).

    Examples
    --------
    >>> Allocation.parse("prop:0.1,0.2,0.7").split(0.1)
    (0.01, 0.02, 0.07)
    >>> Allocation.parse("abs:0.005,0.005").split(0.1)
    (0.005, 0.005, 0.09)
    >>> Allocation.parse("auto").resolve(0.05, 47).spec  # Pew: rank 1 of 47 history tasks
    'prop:0.0555556,0.111111,0.833333'
    """

    kind: Literal["prop", "abs", "auto"]
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("prop", "abs", "auto"):
            raise ValueError(
                f"allocation kind must be 'prop' or 'abs' (or 'auto'), got {self.kind!r}"
            )
        expected = {"prop": 3, "abs": 2, "auto": 0}[self.kind]
        if len(self.values) != expected:
            raise ValueError(
                f"allocation '{self.kind}:' takes {expected} numbers, got {len(self.values)} "
                f"({self.spec}); e.g. "
                + {"prop": "prop:0.1,0.2,0.7", "abs": "abs:0.005,0.005", "auto": "auto"}[self.kind]
            )
        if any(not math.isfinite(v) or v <= 0 for v in self.values):
            raise ValueError(
                f"allocation numbers must be finite and positive (every budget needs a share), "
                f"got {self.spec}"
            )
        if self.kind == "prop" and abs(sum(self.values) - 1.0) > 1e-9:
            raise ValueError(
                f"allocation proportions must sum to 1 so that alpha1 + alpha2 + alpha3 = alpha, "
                f"got {self.spec} (sum {sum(self.values):g})"
            )

    @property
    def spec(self) -> str:
        """The specification string, e.g. ``prop:0.1,0.2,0.7`` or ``auto``."""
        if self.kind == "auto":
            return "auto"
        return f"{self.kind}:" + ",".join(f"{v:g}" for v in self.values)

    @property
    def is_auto(self) -> bool:
        """Whether the split is chosen from the design (``auto``)."""
        return self.kind == "auto"

    @classmethod
    def parse(cls, spec: str | Allocation) -> Allocation:
        """Parse ``prop:A,B,C``, ``abs:A1,A2`` or ``auto``.

        Parameters
        ----------
        spec : str or Allocation
            The specification; an ``Allocation`` is returned unchanged.

        Returns
        -------
        Allocation
        """
        if isinstance(spec, Allocation):
            return spec
        text = str(spec).strip()
        if text == "auto":
            return AUTO_ALLOCATION
        kind, sep, rest = text.partition(":")
        if not sep or kind not in ("prop", "abs"):
            raise ValueError(
                f"allocation must look like 'prop:A,B,C' or 'abs:A1,A2', or be 'auto', got {spec!r}"
            )
        try:
            values = tuple(float(part) for part in rest.split(","))
        except ValueError:
            raise ValueError(
                f"allocation numbers must be numeric, got {spec!r}; e.g. {DEFAULT_ALLOCATION.spec}"
            ) from None
        return cls(kind, values)  # type: ignore[arg-type]

    def resolve(
        self,
        alpha: float,
        n_history: float,
        *,
        synth_se: float = math.nan,
        gap_se: float = math.nan,
        gap_divisor: float = 1.0,
    ) -> Allocation:
        """The allocation to use at per-coordinate level ``alpha``: ``auto`` is chosen here.

        ``prop`` and ``abs`` allocations are returned unchanged; ``auto`` becomes
        the ``prop`` allocation of :func:`auto_allocation`.

        Parameters
        ----------
        alpha : float
            Per-coordinate level ``alpha / D``.
        n_history : float
            What the conformal step ranks (see :func:`auto_allocation`).
        synth_se, gap_se : float, optional
            Typical synthetic and gap standard errors (:func:`design_se`).
        gap_divisor : float
            ``T`` for ``task-only``, else 1.

        Returns
        -------
        Allocation
        """
        if not self.is_auto:
            return self
        return auto_allocation(
            alpha, n_history, synth_se=synth_se, gap_se=gap_se, gap_divisor=gap_divisor
        )

    def split(self, alpha: float) -> tuple[float, float, float]:
        """Split ``alpha`` into ``(alpha1, alpha2, alpha3)``.

        Parameters
        ----------
        alpha : float
            The level to split (per coordinate: ``alpha / D``).

        Returns
        -------
        tuple of float
            The three budgets; they sum to ``alpha``.
        """
        alpha = check_alpha(alpha)
        if self.kind == "auto":
            raise ValueError(
                "allocation 'auto' is chosen from the design (history size, standard errors): "
                "resolve it with Allocation.resolve(alpha, n_history, ...) before splitting"
            )
        if self.kind == "prop":
            total = sum(self.values)
            alpha1 = alpha * self.values[0] / total
            alpha2 = alpha * self.values[1] / total
            alpha3 = alpha * self.values[2] / total
            return _round(alpha1), _round(alpha2), _round(alpha3)
        alpha1, alpha2 = self.values
        alpha3 = alpha - alpha1 - alpha2
        if alpha3 <= 1e-15:
            raise ValueError(
                f"allocation {self.spec} does not fit alpha = {alpha:g}: alpha1 + alpha2 = "
                f"{alpha1 + alpha2:g} leaves nothing for alpha3; lower alpha1 and alpha2 "
                f"or raise alpha"
            )
        return _round(alpha1), _round(alpha2), _round(alpha3)


def _round(value: float) -> float:
    """Drop floating-point dust (``0.1 * 0.7`` → ``0.07``) at 15 significant digits."""
    return float(f"{value:.15g}")


DEFAULT_ALLOCATION = Allocation("prop", (0.1, 0.2, 0.7))
"""The paper's proportional split (what ``auto`` aims its band rank at)."""

AUTO_ALLOCATION = Allocation("auto")
"""The default of ``infer``, ``backtest`` and ``arena``, chosen per target by
:func:`auto_allocation`."""


def auto_allocation(
    alpha: float,
    n_history: float,
    *,
    synth_se: float = math.nan,
    gap_se: float = math.nan,
    gap_divisor: float = 1.0,
) -> Allocation:
    """The design-based split of ``auto`` (see the module docs for the rule).

    Parameters
    ----------
    alpha : float
        Per-coordinate level ``a = alpha / D``.
    n_history : float
        What the conformal step ranks: the number ``T`` of history tasks (the
        sum of task weights for ``weighted``, the calibration tasks of a
        split-conformal adjustment).
    synth_se, gap_se : float, optional
        Typical synthetic and gap standard errors (:func:`design_se`); without
        them (NaN), ``alpha1 : alpha2 = 1 : 2``.
    gap_divisor : float
        ``T`` for ``task-only`` (its gap intervals are at ``alpha2 / T``), else 1.

    Returns
    -------
    Allocation
        A ``prop`` allocation of ``alpha``.

    Examples
    --------
    >>> auto_allocation(0.05, 47).split(0.05)  # Pew, leave-one-out: rank 1 of 47
    (0.00277777777777778, 0.00555555555555556, 0.0416666666666667)
    >>> auto_allocation(0.05, 30).split(0.05)[2]  # too few tasks: infinite whatever the split
    0.0495
    """
    shares = _auto_shares(
        check_alpha(alpha), float(n_history), float(synth_se), float(gap_se), float(gap_divisor)
    )
    return Allocation("prop", shares)


@lru_cache(maxsize=4096)
def _auto_shares(
    alpha: float, n_history: float, synth_se: float, gap_se: float, gap_divisor: float
) -> tuple[float, float, float]:
    """``(alpha1, alpha2, alpha3) / alpha`` of :func:`auto_allocation` (cached: LOO repeats it)."""
    if not n_history >= 0:
        raise ValueError(f"n_history must be a number >= 0, got {n_history!r}")
    step = 2.0 / (n_history + 1.0)  # alpha3 for each further rank
    if alpha <= step * (1.0 + 1e-9):
        band = _INFEASIBLE_BAND_SHARE
        return (1.0 - band) / 3.0, 2.0 * (1.0 - band) / 3.0, band
    nearest = math.floor(_PAPER_BAND_SHARE * alpha / step + 0.5)
    most = math.floor((1.0 - _MIN_SHARE) * alpha / step + 1e-9)
    rank = max(1, min(nearest, most))
    band = rank * step / alpha
    first = _first_share((1.0 - band) * alpha, synth_se, gap_se, gap_divisor)
    return (1.0 - band) * first, (1.0 - band) * (1.0 - first), band


def _first_share(rest: float, synth_se: float, gap_se: float, gap_divisor: float) -> float:
    """The share of ``rest`` for ``alpha1`` that minimizes ``W1 + W2`` under the normal model.

    ``z(alpha1/2)·s1 + z(alpha2/(2m))·s2`` is convex in ``alpha1``; a golden-section
    search finds its minimum within ``[0.1, 0.9]`` of the rest.
    """
    usable = all(math.isfinite(v) and v > 0 for v in (synth_se, gap_se))
    if not usable:
        return 1.0 / 3.0
    quantile = NormalDist().inv_cdf
    divisor = max(float(gap_divisor), 1.0)

    def width(share: float) -> float:
        alpha1, alpha2 = share * rest, (1.0 - share) * rest
        return synth_se * quantile(1.0 - alpha1 / 2.0) + gap_se * quantile(
            1.0 - alpha2 / (2.0 * divisor)
        )

    low, high = _MIN_SHARE, 1.0 - _MIN_SHARE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        if width(left) <= width(right):
            high = right
        else:
            low = left
    return round((low + high) / 2.0, 6)


def design_se(family: IntervalFamily | None, where: np.ndarray | None = None) -> float:
    """The median standard error of an interval family: half its ``±1 SE`` interval.

    For Wald intervals this is the median ``se``; for other constructions the
    half-width of their 68.27% interval plays its part. Only standard errors
    enter (no estimate), so :func:`auto_allocation` stays a design choice.

    Parameters
    ----------
    family : IntervalFamily or None
        Per-task intervals (tasks on the last axis).
    where : ndarray of bool, optional
        Which tasks to use (default: all); infinite or empty ones are skipped.

    Returns
    -------
    float
        NaN when no task has a finite positive standard error.
    """
    if family is None:
        return math.nan
    lower, upper = family.interval(_ONE_SIGMA)
    half = np.asarray((np.asarray(upper) - np.asarray(lower)) / 2.0, dtype=float)
    if where is not None:
        half = half[..., np.asarray(where, dtype=bool)]
    half = half[np.isfinite(half) & (half > 0)]
    return float(np.median(half)) if half.size else math.nan
