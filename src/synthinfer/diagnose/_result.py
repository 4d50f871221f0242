"""The findings of :func:`~synthinfer.diagnose.diagnose` and the report that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from synthinfer._html import result_html

__all__ = ["DiagnosticReport", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One diagnostic test and what it means.

    Attributes
    ----------
    test : str
        ``trend``, ``attribute:COL``, ``synth_estimate``, ``calibration`` or ``outliers``.
    statistic : float
        Test statistic (correlation, F statistic, coverage, count).
    p_value : float
        Permutation p-value (NaN for checks without one).
    p_adjusted : float
        Holm-adjusted p-value (NaN for checks without one).
    flagged : bool
        Whether the finding calls for action.
    message : str
        Plain-language finding with its evidence.
    remedy : str
        Suggested remedy, only ones that can run at the report's alpha, with
        the remedies ruled out and why; when none can run it says "no remedy
        is feasible ..." (empty when nothing is flagged).
    coord : str
        Coordinate (empty for scalar tables).
    feasible : bool
        Whether ``remedy`` suggests something that can run (``False`` when a
        flagged finding has no feasible remedy).
    """

    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    flagged: bool
    message: str
    remedy: str = ""
    coord: str = ""
    feasible: bool = True


@dataclass(frozen=True)
class DiagnosticReport:
    """Findings of :func:`~synthinfer.diagnose.diagnose`.

    Attributes
    ----------
    findings : tuple of Finding
        All tests and checks, flagged or not.
    alpha : float
        Level of the calibration check.
    level : float
        Significance level for flagging (Holm-adjusted).
    n_history : int
        Number of history rows analysed.
    n_permutations : int
        Permutations per test.
    outliers : tuple of str
        Tasks whose gaps are outliers.
    """

    findings: tuple[Finding, ...]
    alpha: float
    level: float
    n_history: int
    n_permutations: int
    outliers: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> tuple[Finding, ...]:
        """The findings that call for action."""
        return tuple(f for f in self.findings if f.flagged)

    @property
    def remedies(self) -> tuple[str, ...]:
        """Distinct suggested remedies of flagged findings (only ones that can run)."""
        return tuple(dict.fromkeys(f.remedy for f in self.flagged if f.remedy and f.feasible))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding."""
        return pd.DataFrame([asdict(f) for f in self.findings])

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python objects (for JSON)."""
        plain = {name: getattr(self, name) for name in ("alpha", "level", "n_history")}
        findings = [asdict(f) for f in self.findings]
        extra = {"outliers": list(self.outliers), "findings": findings}
        return {**plain, "n_permutations": self.n_permutations, **extra}

    def summary(self) -> str:
        """Readable report: flagged findings first, then the rest."""
        lines = [
            f"Task-exchangeability diagnostics: {self.n_history} history tasks, "
            f"{self.n_permutations} permutations, Holm-adjusted level {self.level:g}"
        ]
        if not self.flagged:
            lines.append("Nothing flagged: the history gives no evidence against exchangeability.")
        for finding in sorted(self.findings, key=lambda f: not f.flagged):
            mark = "FLAG" if finding.flagged else "ok  "
            where = f"[{finding.coord}] " if finding.coord else ""
            lines.append(f"{mark} {where}{finding.test}: {finding.message}")
            if finding.flagged and finding.remedy:
                lines.append(f"     remedy: {finding.remedy}")
        if self.flagged and not any(f.feasible for f in self.flagged):
            end = f"{self.n_history} history tasks: add history tasks or raise alpha."
            lines.append(f"No remedy is feasible at alpha {self.alpha:g} with {end}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())
