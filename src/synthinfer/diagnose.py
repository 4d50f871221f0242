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

Remedies are suggested only when they can run at ``alpha / D`` with some
allocation (``α3 → α/D``): every ``--group-by`` group needs ``min_history(α3)``
history tasks, ``--adjust`` no target level the history lacks (``_Remedies``);
otherwise the finding says why not, or that no remedy is feasible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._columns import SUMMARY_RESERVED
from synthinfer._validation import check_alpha, check_count, check_seed, split_list
from synthinfer.allocation import Allocation
from synthinfer.conformal import conformal_lower, conformal_upper, min_history
from synthinfer.data import summary_table

__all__ = ["DiagnosticReport", "Finding", "diagnose", "history_summary"]

STANDARD_COLUMNS = frozenset(SUMMARY_RESERVED | {"task_weight"})
OUTLIER_Z = 3.5
OUTLIER_FAMILY_LEVEL = 0.01
MIN_EXPLAINED = 0.25
REQUIRED = ("task", "synth_estimate", "gap_estimate")
TIME_HALF = "time half"
PAPER_ALLOCATION = "prop:0.1,0.2,0.7"
"""The allocation remedies are judged with when none is given (the paper's)."""


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
# Remedies that can run
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Remedies:
    """Which remedies can run at the user's alpha, for one coordinate's history and targets.

    A band calibrated on ``T`` history tasks is finite for some allocation when
    ``T >= min_history(α/D)`` (the best case ``α3 → α/D``: the automatic
    allocation's limit and the level of ``finite-sample``); the given
    allocation needs ``min_history(α3)``. Remedies are feasible in the best
    case, with a note when the given allocation is not enough.
    """

    history: pd.DataFrame
    targets: pd.DataFrame
    alpha: float
    n_coords: int
    allocation: Allocation

    @property
    def level(self) -> str:
        per = f" ({self.alpha / self.n_coords:g} per coordinate)" if self.n_coords > 1 else ""
        return f"alpha {self.alpha:g}{per}"

    def _size(self, size: int, what: str) -> tuple[str | None, str]:
        """``(why not, note)`` for a band calibrated on ``size`` history tasks."""
        per, split = self.alpha / self.n_coords, self.allocation
        split = split.resolve(per, size) if split.kind == "auto" else split
        fewest, needed = min_history(per), min_history(split.split(per)[2])
        if size < fewest:
            return (
                f"{what} {size} history task(s), and a finite band at {self.level} needs at "
                f"least {fewest} even with all of it for the band (alpha3 = alpha/D)"
            ), ""
        if size < needed:
            return None, (
                f" ({what} {size} history task(s): enough only with a larger alpha3 than "
                f"{self.allocation.spec} gives, which needs {needed}; e.g. the auto allocation "
                f"or method 'finite-sample')"
            )
        return None, ""

    def _columns(self, name: str) -> tuple[pd.Series, pd.Series, str | None]:
        """History and target values of ``name`` as text, and why they cannot be used."""
        targets = self.targets[name] if name in self.targets.columns else pd.Series(dtype=object)
        missing = self.history[name].isna().any() or targets.isna().any()
        why = f"'{name}' has missing values" if missing else None
        return self.history[name].astype(str), targets.astype(str), why

    def group_by(self, name: str) -> tuple[str | None, str]:
        """``(why not, note)`` for ``--group-by name``: every group needs its own history."""
        history, targets, why = self._columns(name)
        if why:
            return why, ""
        counts = history.value_counts().reindex(history.unique().tolist() + list(targets))
        level, size = str(counts.fillna(0).idxmin()), int(counts.fillna(0).min())
        return self._size(size, f"the smallest group ({name} = '{level}') has")

    def adjust(self, name: str, categorical: bool) -> tuple[str | None, str]:
        """``(why not, note)`` for ``--adjust name``."""
        why, note = self._size(len(self.history), "there are")
        if why or name == "synth_estimate":
            return why, note
        history, targets, why = self._columns(name)
        if why or not categorical:
            return why, note
        unseen = sorted(set(targets) - set(history))
        if unseen:
            return f"target task(s) have {name} = '{unseen[0]}', a level no history task has", ""
        counts = history.value_counts()
        if (counts == 1).any():
            note += (
                f" (a leave-one-out backtest stops at the task with {name} = "
                f"'{counts.index[counts == 1][0]}': no other task has that level)"
            )
        return None, note

    def choose(
        self, options: Sequence[tuple[str, str, tuple[str | None, str]]]
    ) -> tuple[str, bool]:
        """The remedy from ``(flag, suggestion, (why not, note))`` options, and if one can run."""
        can = [text + note for _, text, (why, note) in options if why is None]
        cannot = [f"{flag}: {why}" for flag, _, (why, _note) in options if why is not None]
        if not can:
            size = len(self.history)
            text = f"no remedy is feasible at {self.level} with {size} history tasks; "
            return text + "; ".join(cannot), False
        return " or ".join(can) + "".join(f"; not {text}" for text in cannot), True

    def for_attribute(self, name: str, categorical: bool) -> tuple[str, bool]:
        """Remedies for a gap that depends on the attribute ``name``."""
        adjust = (f"--adjust {name}", f"adjust for it (--adjust {name})")
        options = [(*adjust, self.adjust(name, categorical))]
        if categorical:
            group = (f"--group-by {name}", f"calibrate within groups (--group-by {name})")
            return self.choose([(*group, self.group_by(name)), *options])
        kernel = (f"--kernel {name}", f"kernel weights on it (weighted, --kernel {name})")
        return self.choose([*options, (*kernel, self._size(len(self.history), "there are"))])

    def for_trend(self, time_col: str) -> tuple[str, bool]:
        """Remedies for a history that drifts in time."""
        text = (
            "history drifts, so a later target is not exchangeable with it: use method "
            "'weighted' with recency weights (--decay RHO), and check with "
            f"`backtest --protocol temporal --time-col {time_col}`"
        )
        return self.choose([("weighted", text, self._size(len(self.history), "there are"))])

    def for_synth_estimate(self) -> tuple[str, bool]:
        """Remedies for a gap that depends on the synthetic estimate."""
        text = (
            "adjust for it (--adjust synth_estimate): the band is then centred at each "
            "target's predicted gap"
        )
        why = self.adjust("synth_estimate", categorical=False)
        return self.choose([("--adjust synth_estimate", text, why)])


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _loo_covered(gaps: np.ndarray, alpha: float) -> np.ndarray:
    n = len(gaps)
    others = np.array([np.delete(gaps, i) for i in range(n)]) if n > 1 else np.empty((n, 0))
    return (conformal_lower(others, alpha) <= gaps) & (gaps <= conformal_upper(others, alpha))


def _calibration_finding(
    gaps: np.ndarray,
    alpha: float,
    groups: dict[str, np.ndarray],
    coord: str,
    remedies: _Remedies,
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
    remedies: _Remedies,
) -> list[tuple[str, float, float, str, tuple[str, bool], float]]:
    """Raw tests: (name, statistic, p-value, description, (remedy, feasible), explained share)."""
    tests = []
    if time_col in frame.columns and frame[time_col].nunique() > 1:
        r, p = _correlation_test(gaps, frame[time_col].to_numpy(dtype=float), permuted)
        direction = "rise" if r > 0 else "fall"
        text = f"gaps {direction} with '{time_col}' (correlation {r:.2f})"
        tests.append(("trend", r, p, text, remedies.for_trend(time_col), np.nan))
    for name in attributes:
        series = frame[name]
        if series.nunique() < 2:
            continue
        categorical = _is_categorical(series)
        if categorical:
            labels = series.astype(str).to_numpy()
            stat, p = _anova_test(gaps, labels, permuted)
            means = pd.Series(gaps).groupby(labels).mean()
            described = ", ".join(f"{k}: {v:+.3f}" for k, v in means.items())
            k = len(means)
            r2 = stat * (k - 1) / (stat * (k - 1) + len(gaps) - k)
            text = f"mean gap differs across '{name}' levels ({described}; F = {stat:.1f})"
        else:
            stat, p = _correlation_test(gaps, series.to_numpy(dtype=float), permuted)
            r2 = stat**2
            text = f"gap correlates with '{name}' (correlation {stat:.2f})"
        remedy = remedies.for_attribute(name, categorical)
        tests.append((f"attribute:{name}", stat, p, _explained(text, r2), remedy, r2))
    r, p = _correlation_test(gaps, frame["synth_estimate"].to_numpy(dtype=float), permuted)
    text = _explained(f"gap correlates with the synthetic estimate (correlation {r:.2f})", r**2)
    tests.append(("synth_estimate", r, p, text, remedies.for_synth_estimate(), r**2))
    return tests


def history_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-task summary table with an observed gap, after checking its columns."""
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
    remedies: _Remedies,
) -> tuple[list[Finding], tuple[str, ...]]:
    gaps = frame["gap_estimate"].to_numpy(dtype=float)
    if len(gaps) < 4:
        raise ValueError(f"diagnose needs at least 4 history tasks, got {len(gaps)}")
    permuted = _permutations(gaps, n_permutations, rng)
    raw = _tests(frame, gaps, permuted, time_col, attributes, remedies)
    adjusted = _holm([t[2] for t in raw])
    findings = []
    for (name, stat, p, text, (remedy, feasible), r2), p_adj in zip(raw, adjusted, strict=True):
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
                feasible or not flagged,
            )
        )
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


def diagnose(
    data: pd.DataFrame,
    *,
    alpha: float = 0.1,
    time_col: str = "time",
    attributes: Sequence[str] | None = None,
    n_permutations: int = 9999,
    seed: int = 0,
    level: float = 0.05,
    allocation: str | Allocation | None = None,
) -> DiagnosticReport:
    """Is task exchangeability plausible for this history?

    Parameters
    ----------
    data : DataFrame, path or any dataframe
        Task data in either format (a unit-level table is reduced to per-task
        statistics); targets are ignored; a ``coord`` column is analysed per coordinate.
    alpha : float
        Level of the leave-one-out calibration check, and the level at which a
        suggested remedy must give finite intervals (divided by the number of
        coordinates, as the methods do).
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
    allocation : str or Allocation, optional
        Budget split the remedies are judged with (default the paper's
        ``prop:0.1,0.2,0.7``). A remedy is suggested when some allocation
        gives finite intervals (``α3 → α/D``); it says so when this one does not.

    Returns
    -------
    DiagnosticReport
    """
    alpha = check_alpha(alpha)
    level = check_alpha(level, "level")
    n_permutations = check_count(n_permutations, "n_permutations", minimum=99)
    seed = check_seed(seed)
    data = summary_table(data)
    frame = history_summary(data)
    split = Allocation.parse(PAPER_ALLOCATION if allocation is None else allocation)
    names = _attribute_columns(frame, time_col, attributes)
    rng = np.random.default_rng(seed)
    findings: list[Finding] = []
    outliers: list[str] = []
    targets = data[data["gap_estimate"].isna()]
    by_coord = "coord" in frame.columns
    parts = frame.groupby("coord", sort=False) if by_coord else [("", frame)]
    n_coords = int(frame["coord"].nunique()) if by_coord else 1
    for coord, part in parts:
        remedies = _Remedies(
            history=part,
            targets=targets[targets["coord"] == coord] if by_coord else targets,
            alpha=float(alpha),
            n_coords=n_coords,
            allocation=split,
        )
        found, odd = _diagnose_one(
            part.reset_index(drop=True),
            alpha=alpha,
            level=level,
            time_col=time_col,
            attributes=names,
            n_permutations=int(n_permutations),
            rng=rng,
            coord=str(coord),
            remedies=remedies,
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
