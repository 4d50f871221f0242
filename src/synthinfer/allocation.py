"""Budget allocations: how a level ``alpha`` is split into ``(alpha1, alpha2, alpha3)``.

``alpha1`` pays for the synthetic interval of the current task, ``alpha2`` for
the gap intervals of the historical tasks and ``alpha3`` for the conformal band
over tasks (Algorithm 1). Two specifications are accepted:

* ``prop:A,B,C`` splits ``alpha`` in proportions ``A, B, C`` (which sum to 1);
* ``abs:A1,A2`` sets ``alpha1 = A1`` and ``alpha2 = A2`` outright and gives
  ``alpha3 = alpha − A1 − A2`` the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from synthinfer._validation import check_alpha

__all__ = ["DEFAULT_ALLOCATION", "Allocation"]


@dataclass(frozen=True)
class Allocation:
    """A split of the level into the three budgets of Algorithm 1.

    Parameters
    ----------
    kind : {"prop", "abs"}
        Proportional or absolute split.
    values : tuple of float
        Three non-negative proportions (``prop``) or ``(alpha1, alpha2)`` (``abs``).

    Examples
    --------
    >>> Allocation.parse("prop:0.1,0.2,0.7").split(0.1)
    (0.01, 0.02, 0.07)
    >>> Allocation.parse("abs:0.005,0.005").split(0.1)
    (0.005, 0.005, 0.09)
    """

    kind: Literal["prop", "abs"]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.kind not in ("prop", "abs"):
            raise ValueError(f"allocation kind must be 'prop' or 'abs', got {self.kind!r}")
        expected = 3 if self.kind == "prop" else 2
        if len(self.values) != expected:
            raise ValueError(
                f"allocation '{self.kind}:' takes {expected} numbers, got {len(self.values)} "
                f"({self.spec}); e.g. "
                + (DEFAULT_ALLOCATION.spec if self.kind == "prop" else "abs:0.005,0.005")
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
        """The specification string, e.g. ``prop:0.1,0.2,0.7``."""
        return f"{self.kind}:" + ",".join(f"{v:g}" for v in self.values)

    @classmethod
    def parse(cls, spec: str | Allocation) -> Allocation:
        """Parse ``prop:A,B,C`` or ``abs:A1,A2``.

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
        kind, sep, rest = text.partition(":")
        if not sep or kind not in ("prop", "abs"):
            raise ValueError(f"allocation must look like 'prop:A,B,C' or 'abs:A1,A2', got {spec!r}")
        try:
            values = tuple(float(part) for part in rest.split(","))
        except ValueError:
            raise ValueError(
                f"allocation numbers must be numeric, got {spec!r}; e.g. {DEFAULT_ALLOCATION.spec}"
            ) from None
        return cls(kind, values)  # type: ignore[arg-type]

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
