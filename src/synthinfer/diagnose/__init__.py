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
history tasks, ``--task-group`` as many history levels, ``--adjust`` no target
level the history lacks (``Remedies`` in ``_remedies``); otherwise the finding
says why not, or that no remedy is feasible. When the targets' level of a
categorical attribute is new (no history task has it, e.g. a new survey
question whose cells are the targets), ``--group-by`` cannot help and
``--task-group COL`` (calibration across the attribute's levels) is suggested
instead.

Modules: ``_result`` (:class:`Finding`, :class:`DiagnosticReport`), ``_stats``
(permutation tests, Holm), ``_remedies`` (what can run), ``_checks`` (the
tests and checks of one coordinate), this module (:func:`diagnose`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthinfer._validation import check_alpha, check_count, check_seed
from synthinfer.allocation import Allocation
from synthinfer.data import summary_table
from synthinfer.diagnose._checks import attribute_columns, diagnose_one
from synthinfer.diagnose._remedies import Remedies
from synthinfer.diagnose._result import DiagnosticReport, Finding
from synthinfer.diagnose._stats import holm
from synthinfer.tables import ReadOptions

__all__ = ["DiagnosticReport", "Finding", "diagnose", "history_summary"]

REQUIRED = ("task", "synth_estimate", "gap_estimate")
PAPER_ALLOCATION = "prop:0.1,0.2,0.7"
"""The allocation remedies are judged with when none is given (the paper's)."""

_holm = holm  # Holm's adjustment under the name earlier releases exposed here


def history_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-task summary table with an observed gap, after checking its columns."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(
            f"diagnose needs column(s) {missing} of the summary table "
            f"(task, synth_estimate, synth_se, real_estimate, gap_estimate, gap_se)"
        )
    return frame[frame["gap_estimate"].notna()].reset_index(drop=True)


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
    read: ReadOptions | dict | None = None,
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
    read : ReadOptions or dict, optional
        How ``data`` is read when it is a wide score table or an evaluation
        log (see :func:`synthinfer.infer`).

    Returns
    -------
    DiagnosticReport
    """
    alpha = check_alpha(alpha)
    level = check_alpha(level, "level")
    n_permutations = check_count(n_permutations, "n_permutations", minimum=99)
    seed = check_seed(seed)
    data = summary_table(data, read)
    frame = history_summary(data)
    split = Allocation.parse(PAPER_ALLOCATION if allocation is None else allocation)
    names = attribute_columns(frame, time_col, attributes)
    rng = np.random.default_rng(seed)
    findings: list[Finding] = []
    outliers: list[str] = []
    targets = data[data["gap_estimate"].isna()]
    by_coord = "coord" in frame.columns
    parts = frame.groupby("coord", sort=False) if by_coord else [("", frame)]
    n_coords = int(frame["coord"].nunique()) if by_coord else 1
    for coord, part in parts:
        remedies = Remedies(
            history=part,
            targets=targets[targets["coord"] == coord] if by_coord else targets,
            alpha=float(alpha),
            n_coords=n_coords,
            allocation=split,
        )
        found, odd = diagnose_one(
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
