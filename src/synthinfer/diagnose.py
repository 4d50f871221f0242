"""Diagnostics: is task exchangeability plausible for this history?

:func:`diagnose` runs, on the history tasks of a per-task summary table
(columns ``task, synth_estimate, synth_se, real_estimate, gap_estimate,
gap_se``, optional ``coord``, ``time`` and task attributes):

* a **trend** test of the gaps in time (permutation test of the correlation);
  a trend means a later target is not exchangeable with the history;
* for each task **attribute**, a test of gap differences across levels
  (permutation test of the one-way F statistic) or of a correlation with a
  numeric attribute;
* a test of dependence of the gap on the **synthetic estimate**;
* a **leave-one-out calibration check**: each history task in turn is
  predicted from the others by ``finite-sample`` at ``alpha``; overall
  coverage is close to ``1 − alpha`` by construction, so the check reports
  coverage within each attribute level and in each half of time, where
  undercoverage reveals conditional miscalibration;
* **outliers**: tasks whose gap lies more than ``z`` robust standard
  deviations (1.4826 × MAD) from the median gap, with ``z`` the larger of 3.5
  and the two-sided normal quantile at ``0.01 / T`` (with normal gaps, about
  one history in a hundred has any task flagged).

p-values are permutation p-values ``(1 + #{|T*| ≥ |T|}) / (B + 1)``, Holm-
adjusted across the tests of one coordinate. A trend in time breaks task
exchangeability for a later target: it is flagged whenever significant, and
the remedy is ``weighted`` (recency weights) and a temporal backtest.
Dependence of the gap on an attribute or on the synthetic estimate does not
break marginal validity, but intervals are then too wide for some tasks and
too narrow for others, and a narrower valid interval is available
(``--group-by``, ``--adjust``): it is flagged when significant *and* the
covariate explains at least 25% of the gap variance (the bias-spread part of
the width would shrink by about ``1 − sqrt(1 − R²) ≥ 13%``). Some such
dependence is expected even under exchangeability: the synthetic estimate
contains the bias itself, so gaps regress on it (in the paper's simulated
model ``R²`` is about 0.14, and 5% of histories of 100 tasks cross 25%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._columns import SUMMARY_RESERVED
from synthinfer._validation import check_alpha, check_count, check_seed, split_list
from synthinfer.conformal import conformal_lower, conformal_upper

__all__ = ["DiagnosticReport", "Finding", "diagnose", "history_summary"]

STANDARD_COLUMNS = frozenset(SUMMARY_RESERVED | {"task_weight"})
OUTLIER_Z = 3.5
OUTLIER_FAMILY_LEVEL = 0.01
MIN_EXPLAINED = 0.25
REQUIRED = ("task", "synth_estimate", "gap_estimate")


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
        Suggested remedy (empty when nothing is flagged).
    coord : str
        Coordinate (empty for scalar tables).
    """

    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    flagged: bool
    message: str
    remedy: str = ""
    coord: str = ""


@dataclass(frozen=True)
class DiagnosticReport:
    """Findings of :func:`diagnose`.

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
        """Distinct suggested remedies of flagged findings."""
        return tuple(dict.fromkeys(f.remedy for f in self.flagged if f.remedy))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding."""
        return pd.DataFrame([asdict(f) for f in self.findings])

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python objects (for JSON)."""
        return {
            "alpha": self.alpha,
            "level": self.level,
            "n_history": self.n_history,
            "n_permutations": self.n_permutations,
            "outliers": list(self.outliers),
            "findings": [asdict(f) for f in self.findings],
        }

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
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------------
# Permutation statistics (vectorized over permutations)
# ---------------------------------------------------------------------------


def _permutations(values: np.ndarray, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permuted(np.tile(values, (n_permutations, 1)), axis=1)


def _standardized(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=-1, keepdims=True))
    return centred / np.where(norm > 0, norm, 1.0)


def _correlation_test(
    gaps: np.ndarray, covariate: np.ndarray, permuted: np.ndarray
) -> tuple[float, float]:
    """Pearson correlation and its two-sided permutation p-value."""
    x = _standardized(covariate.astype(float))
    observed = float(_standardized(gaps) @ x)
    null = _standardized(permuted) @ x
    p_value = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (len(null) + 1)
    return observed, float(p_value)


def _f_statistic(values: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    counts = onehot.sum(axis=0)
    grand = values.mean(axis=-1, keepdims=True)
    means = (values @ onehot) / counts
    between = ((means - grand) ** 2 * counts).sum(axis=-1) / (onehot.shape[1] - 1)
    total = ((values - grand) ** 2).sum(axis=-1)
    within = (total - between * (onehot.shape[1] - 1)) / (values.shape[-1] - onehot.shape[1])
    return between / np.where(within > 0, within, np.finfo(float).tiny)


def _anova_test(gaps: np.ndarray, labels: np.ndarray, permuted: np.ndarray) -> tuple[float, float]:
    levels = np.unique(labels)
    onehot = (labels[:, None] == levels[None, :]).astype(float)
    observed = float(_f_statistic(gaps, onehot))
    null = _f_statistic(permuted, onehot)
    p_value = (1 + np.sum(null >= observed * (1 - 1e-12))) / (len(null) + 1)
    return observed, float(p_value)


def _holm(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _loo_covered(gaps: np.ndarray, alpha: float) -> np.ndarray:
    n = len(gaps)
    others = np.array([np.delete(gaps, i) for i in range(n)]) if n > 1 else np.empty((n, 0))
    return (conformal_lower(others, alpha) <= gaps) & (gaps <= conformal_upper(others, alpha))


def _calibration_finding(
    frame: pd.DataFrame, gaps: np.ndarray, alpha: float, groups: dict[str, np.ndarray], coord: str
) -> Finding:
    covered = _loo_covered(gaps, alpha)
    overall = float(covered.mean())
    worst: tuple[str, float, int] | None = None
    parts = []
    for name, labels in groups.items():
        for level in np.unique(labels):
            mask = labels == level
            coverage = float(covered[mask].mean())
            parts.append(f"{name}={level}: {coverage:.2f} (n={mask.sum()})")
            slack = 2.0 * np.sqrt(alpha * (1 - alpha) / mask.sum())
            if coverage < 1 - alpha - slack and (worst is None or coverage < worst[1]):
                worst = (f"{name}={level}", coverage, int(mask.sum()))
    detail = "; ".join(parts)
    message = (
        f"leave-one-out finite-sample coverage of history gaps is {overall:.2f} "
        f"(target {1 - alpha:.2f}; by construction close to it overall)"
        + (f"; by subgroup: {detail}" if detail else "")
    )
    if worst is None:
        return Finding("calibration", overall, np.nan, np.nan, False, message, "", coord)
    message += (
        f". Tasks with {worst[0]} are covered only {worst[1]:.0%} of the time "
        f"(n={worst[2]}): intervals are miscalibrated for them"
    )
    remedy = _remedy_for(worst[0].split("=")[0])
    return Finding("calibration", overall, np.nan, np.nan, True, message, remedy, coord)


def _remedy_for(name: str) -> str:
    if name == "time half":
        return (
            "use method 'weighted' with recency weights (--decay RHO) and check with a "
            "temporal backtest"
        )
    return f"calibrate within groups (--group-by {name}) or adjust for it (--adjust {name})"


def _outlier_finding(
    tasks: np.ndarray, gaps: np.ndarray, coord: str
) -> tuple[Finding, tuple[str, ...]]:
    median = np.median(gaps)
    mad = 1.4826 * np.median(np.abs(gaps - median))
    z = np.abs(gaps - median) / mad if mad > 0 else np.zeros_like(gaps)
    from scipy import stats

    cutoff = max(OUTLIER_Z, float(stats.norm.isf(OUTLIER_FAMILY_LEVEL / (2 * len(gaps)))))
    outliers = tuple(str(t) for t in tasks[z > cutoff])
    if not outliers:
        message = f"no task's gap lies more than {cutoff:.2f} robust SDs from the median gap"
        return Finding("outliers", 0.0, np.nan, np.nan, False, message, "", coord), ()
    shown = ", ".join(outliers[:5]) + (" ..." if len(outliers) > 5 else "")
    message = (
        f"{len(outliers)} task(s) have gaps more than {cutoff:.2f} robust SDs "
        f"(1.4826 MAD = {mad:.3g}) from the median gap {median:.3g}: {shown}"
    )
    remedy = (
        "check these tasks for data errors or a different kind of task; if they differ in a "
        "known attribute use --group-by or --adjust (do not drop them silently: they widen "
        "the band honestly)"
    )
    return Finding(
        "outliers", float(len(outliers)), np.nan, np.nan, True, message, remedy, coord
    ), (outliers)


def _attribute_columns(frame: pd.DataFrame, time_col: str, attributes: Sequence[str] | None):
    if attributes is not None:
        names = split_list(attributes)
        missing = [a for a in names if a not in frame.columns]
        if missing:
            raise ValueError(
                f"attribute column(s) {missing} not in the table; "
                f"available: {sorted(frame.columns)}"
            )
        return names
    return [c for c in frame.columns if c not in STANDARD_COLUMNS and c != time_col]


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _explained(text: str, r2: float) -> str:
    narrower = 1.0 - np.sqrt(max(0.0, 1.0 - r2))
    return (
        f"{text}; it explains {r2:.0%} of the gap variance (adjusting would narrow the "
        f"bias-spread part of the width by about {narrower:.0%})"
    )


def _tests(
    frame: pd.DataFrame,
    gaps: np.ndarray,
    permuted: np.ndarray,
    time_col: str,
    attributes: list[str],
) -> list[tuple[str, float, float, str, str, float]]:
    """Raw tests: (name, statistic, p-value, description, remedy, explained share or NaN)."""
    tests = []
    if time_col in frame.columns and frame[time_col].nunique() > 1:
        r, p = _correlation_test(gaps, frame[time_col].to_numpy(dtype=float), permuted)
        tests.append(
            (
                "trend",
                r,
                p,
                f"gaps {'rise' if r > 0 else 'fall'} with '{time_col}' (correlation {r:.2f})",
                "history drifts, so a later target is not exchangeable with it: use method "
                "'weighted' with recency weights (--decay RHO), and check with "
                f"`backtest --protocol temporal --time-col {time_col}`",
                np.nan,
            )
        )
    for name in attributes:
        series = frame[name]
        if series.nunique() < 2:
            continue
        if _is_categorical(series):
            labels = series.astype(str).to_numpy()
            stat, p = _anova_test(gaps, labels, permuted)
            means = pd.Series(gaps).groupby(labels).mean()
            described = ", ".join(f"{k}: {v:+.3f}" for k, v in means.items())
            k = len(means)
            r2 = stat * (k - 1) / (stat * (k - 1) + len(gaps) - k)
            text = f"mean gap differs across '{name}' levels ({described}; F = {stat:.1f})"
            remedy = f"calibrate within groups (--group-by {name}) or adjust (--adjust {name})"
        else:
            stat, p = _correlation_test(gaps, series.to_numpy(dtype=float), permuted)
            r2 = stat**2
            text = f"gap correlates with '{name}' (correlation {stat:.2f})"
            remedy = f"adjust for it (--adjust {name}), or kernel weights on it (weighted)"
        tests.append((f"attribute:{name}", stat, p, _explained(text, r2), remedy, r2))
    r, p = _correlation_test(gaps, frame["synth_estimate"].to_numpy(dtype=float), permuted)
    tests.append(
        (
            "synth_estimate",
            r,
            p,
            _explained(f"gap correlates with the synthetic estimate (correlation {r:.2f})", r**2),
            "adjust for it (--adjust synth_estimate): the band is then centred at each "
            "target's predicted gap",
            r**2,
        )
    )
    return tests


def history_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-task summary table with an observed gap, after checking its columns."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("diagnose takes a per-task summary table (a pandas DataFrame)")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(
            f"diagnose needs column(s) {missing} of the summary table "
            f"(task, synth_estimate, synth_se, real_estimate, gap_estimate, gap_se)"
        )
    return frame[frame["gap_estimate"].notna()].reset_index(drop=True)


def _diagnose_one(
    frame: pd.DataFrame,
    *,
    alpha: float,
    level: float,
    time_col: str,
    attributes: list[str],
    n_permutations: int,
    rng: np.random.Generator,
    coord: str,
) -> tuple[list[Finding], tuple[str, ...]]:
    gaps = frame["gap_estimate"].to_numpy(dtype=float)
    if len(gaps) < 4:
        raise ValueError(f"diagnose needs at least 4 history tasks, got {len(gaps)}")
    permuted = _permutations(gaps, n_permutations, rng)
    raw = _tests(frame, gaps, permuted, time_col, attributes)
    adjusted = _holm([t[2] for t in raw])
    findings = []
    for (name, stat, p, text, remedy, r2), p_adj in zip(raw, adjusted, strict=True):
        significant = bool(p_adj <= level)
        flagged = significant and (np.isnan(r2) or r2 >= MIN_EXPLAINED)
        verdict = "evidence" if significant else "no evidence"
        if significant and not flagged:
            verdict = f"evidence, but too weak to act on (below {MIN_EXPLAINED:.0%})"
        message = f"{text}; permutation p = {p:.4g}, Holm-adjusted {p_adj:.4g} ({verdict})"
        findings.append(
            Finding(
                name,
                float(stat),
                p,
                float(p_adj),
                flagged,
                message,
                remedy if flagged else "",
                coord,
            )
        )
    groups = {
        name: frame[name].astype(str).to_numpy()
        for name in attributes
        if _is_categorical(frame[name]) and 1 < frame[name].nunique() <= 10
    }
    if time_col in frame.columns and frame[time_col].nunique() > 1:
        times = frame[time_col].to_numpy(dtype=float)
        groups["time half"] = np.where(times > np.median(times), "late", "early")
    findings.append(_calibration_finding(frame, gaps, alpha, groups, coord))
    outlier, names = _outlier_finding(frame["task"].to_numpy(), gaps, coord)
    findings.append(outlier)
    return findings, names


def diagnose(
    data: pd.DataFrame,
    *,
    alpha: float = 0.1,
    time_col: str = "time",
    attributes: Sequence[str] | None = None,
    n_permutations: int = 9999,
    seed: int = 0,
    level: float = 0.05,
) -> DiagnosticReport:
    """Is task exchangeability plausible for this history?

    Parameters
    ----------
    data : DataFrame
        Per-task summary table (see DESIGN.md); rows without ``gap_estimate``
        (targets) are ignored. A ``coord`` column is analysed per coordinate.
    alpha : float
        Level of the leave-one-out calibration check.
    time_col : str
        Column ordering tasks in time (skipped when absent).
    attributes : sequence of str, optional
        Task attributes to test; default: every column that is not a standard
        summary column or ``time_col``.
    n_permutations : int
        Permutations per test.
    seed : int
        Seed of the permutations.
    level : float
        Holm-adjusted significance level for flagging.

    Returns
    -------
    DiagnosticReport
    """
    alpha = check_alpha(alpha)
    level = check_alpha(level, "level")
    n_permutations = check_count(n_permutations, "n_permutations", minimum=99)
    seed = check_seed(seed)
    frame = history_summary(data)
    names = _attribute_columns(frame, time_col, attributes)
    rng = np.random.default_rng(seed)
    findings: list[Finding] = []
    outliers: list[str] = []
    parts = frame.groupby("coord", sort=False) if "coord" in frame.columns else [("", frame)]
    for coord, part in parts:
        found, odd = _diagnose_one(
            part.reset_index(drop=True),
            alpha=alpha,
            level=level,
            time_col=time_col,
            attributes=names,
            n_permutations=int(n_permutations),
            rng=rng,
            coord=str(coord),
        )
        findings.extend(found)
        outliers.extend(odd)
    return DiagnosticReport(
        findings=tuple(findings),
        alpha=float(alpha),
        level=float(level),
        n_history=len(frame),
        n_permutations=int(n_permutations),
        outliers=tuple(outliers),
    )
