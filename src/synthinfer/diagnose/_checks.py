"""The tests and checks of one coordinate's history, each turned into a :class:`Finding`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthinfer._columns import SUMMARY_RESERVED
from synthinfer._validation import split_list
from synthinfer.conformal import conformal_lower, conformal_upper
from synthinfer.diagnose._remedies import Remedies
from synthinfer.diagnose._result import Finding
from synthinfer.diagnose._stats import anova_test, correlation_test, holm, permutations

__all__ = [
    "MIN_EXPLAINED",
    "OUTLIER_FAMILY_LEVEL",
    "OUTLIER_Z",
    "STANDARD_COLUMNS",
    "TIME_HALF",
    "attribute_columns",
    "diagnose_one",
]

STANDARD_COLUMNS = frozenset(SUMMARY_RESERVED | {"task_weight"})
OUTLIER_Z = 3.5
OUTLIER_FAMILY_LEVEL = 0.01
MIN_EXPLAINED = 0.25
TIME_HALF = "time half"

RawTest = tuple[str, float, float, str, tuple[str, bool], float]
"""(name, statistic, p-value, description, (remedy, feasible), explained share)."""


def _loo_covered(gaps: np.ndarray, alpha: float) -> np.ndarray:
    n = len(gaps)
    others = np.array([np.delete(gaps, i) for i in range(n)]) if n > 1 else np.empty((n, 0))
    return (conformal_lower(others, alpha) <= gaps) & (gaps <= conformal_upper(others, alpha))


def _calibration_finding(
    gaps: np.ndarray,
    alpha: float,
    groups: dict[str, np.ndarray],
    coord: str,
    remedies: Remedies,
    time_col: str,
) -> Finding:
    covered = _loo_covered(gaps, alpha)
    overall = float(covered.mean())
    worst: tuple[str, str, float, int] | None = None
    parts = []
    for name, labels in groups.items():
        for level in np.unique(labels):
            mask = labels == level
            coverage = float(covered[mask].mean())
            parts.append(f"{name}={level}: {coverage:.2f} (n={mask.sum()})")
            slack = 2.0 * np.sqrt(alpha * (1 - alpha) / mask.sum())
            if coverage < 1 - alpha - slack and (worst is None or coverage < worst[2]):
                worst = (name, str(level), coverage, int(mask.sum()))
    detail = "; ".join(parts)
    message = (
        f"leave-one-out finite-sample coverage of history gaps is {overall:.2f} "
        f"(target {1 - alpha:.2f}; by construction close to it overall)"
        + (f"; by subgroup: {detail}" if detail else "")
    )
    if worst is None:
        return Finding("calibration", overall, np.nan, np.nan, False, message, "", coord)
    name, level, coverage, size = worst
    message += (
        f". Tasks with {name}={level} are covered only {coverage:.0%} of the time "
        f"(n={size}): intervals are miscalibrated for them"
    )
    if name == TIME_HALF:
        remedy, feasible = remedies.for_trend(time_col)
    else:
        remedy, feasible = remedies.for_attribute(name, categorical=True)
    return Finding("calibration", overall, np.nan, np.nan, True, message, remedy, coord, feasible)


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
    count = float(len(outliers))
    return Finding("outliers", count, np.nan, np.nan, True, message, remedy, coord), outliers


def attribute_columns(
    frame: pd.DataFrame, time_col: str, attributes: Sequence[str] | None
) -> list[str]:
    """The task attributes to test: those named, or every non-standard column but time."""
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


def _attribute_test(
    frame: pd.DataFrame, name: str, gaps: np.ndarray, permuted: np.ndarray, remedies: Remedies
) -> RawTest:
    series = frame[name]
    categorical = _is_categorical(series)
    if categorical:
        labels = series.astype(str).to_numpy()
        stat, p = anova_test(gaps, labels, permuted)
        means = pd.Series(gaps).groupby(labels).mean()
        described = ", ".join(f"{k}: {v:+.3f}" for k, v in means.items())
        k = len(means)
        r2 = stat * (k - 1) / (stat * (k - 1) + len(gaps) - k)
        text = f"mean gap differs across '{name}' levels ({described}; F = {stat:.1f})"
    else:
        stat, p = correlation_test(gaps, series.to_numpy(dtype=float), permuted)
        r2 = stat**2
        text = f"gap correlates with '{name}' (correlation {stat:.2f})"
    remedy = remedies.for_attribute(name, categorical)
    return (f"attribute:{name}", stat, p, _explained(text, r2), remedy, r2)


def _tests(
    frame: pd.DataFrame,
    gaps: np.ndarray,
    permuted: np.ndarray,
    time_col: str,
    attributes: list[str],
    remedies: Remedies,
) -> list[RawTest]:
    """Raw tests: (name, statistic, p-value, description, (remedy, feasible), explained share)."""
    tests = []
    if time_col in frame.columns and frame[time_col].nunique() > 1:
        r, p = correlation_test(gaps, frame[time_col].to_numpy(dtype=float), permuted)
        direction = "rise" if r > 0 else "fall"
        text = f"gaps {direction} with '{time_col}' (correlation {r:.2f})"
        tests.append(("trend", r, p, text, remedies.for_trend(time_col), np.nan))
    for name in attributes:
        if frame[name].nunique() >= 2:
            tests.append(_attribute_test(frame, name, gaps, permuted, remedies))
    r, p = correlation_test(gaps, frame["synth_estimate"].to_numpy(dtype=float), permuted)
    text = _explained(f"gap correlates with the synthetic estimate (correlation {r:.2f})", r**2)
    tests.append(("synth_estimate", r, p, text, remedies.for_synth_estimate(), r**2))
    return tests


def _finding(raw: RawTest, p_adj: float, level: float, coord: str) -> Finding:
    name, stat, p, text, (remedy, feasible), r2 = raw
    significant = bool(p_adj <= level)
    flagged = significant and (np.isnan(r2) or r2 >= MIN_EXPLAINED)
    verdict = "evidence" if significant else "no evidence"
    if significant and not flagged:
        verdict = f"evidence, but too weak to act on (below {MIN_EXPLAINED:.0%})"
    message = f"{text}; permutation p = {p:.4g}, Holm-adjusted {p_adj:.4g} ({verdict})"
    return Finding(
        name,
        float(stat),
        p,
        float(p_adj),
        flagged,
        message,
        remedy if flagged else "",
        coord,
        feasible or not flagged,
    )


def diagnose_one(
    frame: pd.DataFrame,
    *,
    alpha: float,
    level: float,
    time_col: str,
    attributes: list[str],
    n_permutations: int,
    rng: np.random.Generator,
    coord: str,
    remedies: Remedies,
) -> tuple[list[Finding], tuple[str, ...]]:
    """Every finding of one coordinate's history, and the tasks whose gaps are outliers."""
    gaps = frame["gap_estimate"].to_numpy(dtype=float)
    if len(gaps) < 4:
        raise ValueError(f"diagnose needs at least 4 history tasks, got {len(gaps)}")
    permuted = permutations(gaps, n_permutations, rng)
    raw = _tests(frame, gaps, permuted, time_col, attributes, remedies)
    adjusted = holm([t[2] for t in raw])
    findings = [_finding(t, p_adj, level, coord) for t, p_adj in zip(raw, adjusted, strict=True)]
    groups = {
        name: frame[name].astype(str).to_numpy()
        for name in attributes
        if _is_categorical(frame[name]) and 1 < frame[name].nunique() <= 10
    }
    if time_col in frame.columns and frame[time_col].nunique() > 1:
        times = frame[time_col].to_numpy(dtype=float)
        groups[TIME_HALF] = np.where(times > np.median(times), "late", "early")
    findings.append(_calibration_finding(gaps, alpha, groups, coord, remedies, time_col))
    outlier, names = _outlier_finding(frame["task"].to_numpy(), gaps, coord)
    findings.append(outlier)
    return findings, names
