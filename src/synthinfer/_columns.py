"""Column names of the input formats and of every output table, each set named once.

These lists are the data contract of DESIGN.md: scripts and other tools rely
on their names and order. Nothing here imports from the rest of the package.
"""

from __future__ import annotations

__all__ = [
    "ARENA_READABLE_COLUMNS",
    "BACKTEST_COLUMNS",
    "BATTLE_COLUMNS",
    "COVERAGE_COLUMNS",
    "GROUP_COVERAGE_COLUMN",
    "JOINT_PVALUE_COLUMNS",
    "NO_COORD",
    "OUTPUT_COLUMNS",
    "PVALUE",
    "PVALUE_COLUMNS",
    "READABLE_COLUMNS",
    "SOURCES",
    "STUDY_COLUMNS",
    "STUDY_REP_COLUMNS",
    "SUMMARY_NUMERIC",
    "SUMMARY_RESERVED",
    "SUMMARY_TABLE_COLUMNS",
    "TARGET_LABELS_COLUMN",
    "TASK_GROUP_COLUMN",
    "UNIT_RESERVED",
    "UNIT_STATISTICS_COLUMNS",
    "UNIT_TABLE_COLUMNS",
]

# ----------------------------------------------------------------------------- inputs

SOURCES = ("real", "synthetic")
"""Allowed values of a unit-level table's ``source`` column."""

NO_COORD = ""
"""The coordinate name of a one-dimensional estimand."""

UNIT_TABLE_COLUMNS = ("task", "source", "value")
"""Columns every unit-level (long) table has."""

UNIT_RESERVED = ("task", "source", "value", "weight", "unit", "coord")
"""Columns of a unit-level table with a fixed meaning; the others are task attributes."""

SUMMARY_TABLE_COLUMNS = ("task", "synth_estimate", "synth_se")
"""Columns every summary table (one row per task) has."""

SUMMARY_NUMERIC = (
    "synth_estimate",
    "synth_se",
    "real_estimate",
    "real_se",
    "gap_estimate",
    "gap_se",
    "n_real",
    "n_synth",
    "task_weight",
    "ppi_estimate",
    "ppi_se",
    "label_gap_estimate",
    "label_gap_se",
    "n_labelled",
)
"""Numeric columns of a summary table with a fixed meaning.

The last five are optional labelled-sample estimates (``docs/labels.md``): a
target's prediction-powered estimate and standard error (``ppi``, a Wald
interval), every task's gap estimate from ``m`` labelled pairs with its
standard error (``hybrid``), and the target's ``m`` itself (``n_labelled``,
which the Student critical value of ``ppi`` needs)."""

SUMMARY_RESERVED = frozenset({"task", "coord", *SUMMARY_NUMERIC} - {"task_weight"})
"""Summary-table columns that are not task attributes (``task_weight`` is one)."""

UNIT_STATISTICS_COLUMNS = (
    "task",
    "coord",
    "n_synth",
    "synth_mean",
    "synth_var",
    "n_real",
    "real_mean",
    "real_var",
    "n_pairs",
    "gap_mean",
    "gap_var",
    "n_synth_rows",
    "n_real_rows",
    "n_missing_synth",
    "n_missing_real",
    "n_pairs_lost",
)
"""Per-task sufficient statistics of a unit-level table (then its task attributes).

``n_synth``, ``n_real`` and ``n_pairs`` count units (each row is its own unit
without a ``unit`` column); ``n_*_rows`` count the rows with a value behind
them, ``n_missing_*`` the rows with an empty value (non-response), and
``n_pairs_lost`` the units with rows of both sources left out of the paired
gap because one side's values are all empty."""

BATTLE_COLUMNS = ("model", "opponent", "human", "judge", "count")
"""Counts of a battle log per (model, opponent, human verdict, judge verdict)."""

# ---------------------------------------------------------------------------- outputs

OUTPUT_COLUMNS = (
    "task",
    "coord",
    "method",
    "alpha",
    "alpha1",
    "alpha2",
    "alpha3",
    "estimate",
    "lower",
    "upper",
    "width",
    "synth_lower",
    "synth_upper",
    "gap_lower",
    "gap_upper",
    "w1",
    "w2",
    "w3",
    "feasible",
    "n_history",
    "n_effective",
    "synth_estimate",
)
"""One row per target × coordinate × method × α (``infer``).

``estimate`` is the calibrated point (the synthetic estimate plus the median
history gap, clipped to the bounds); ``synth_estimate`` the synthetic estimate.
"""

PVALUE = "pvalue"
"""The p-value column: added after ``synth_estimate`` when a null value is given (``--null``)."""

PVALUE_COLUMNS = ("task", "coord", "method", "alpha", "null", "alternative", PVALUE)
"""One p-value per task × coordinate × method × α (``InferenceResult.pvalue``)."""

JOINT_PVALUE_COLUMNS = ("task", "method", "alpha", "alternative", "coords", PVALUE)
"""One joint p-value per task × method × α over all ``coords`` coordinates."""

BACKTEST_COLUMNS = (*OUTPUT_COLUMNS, "truth", "covered")
"""One row per held-out task × coordinate × method × α (``backtest``)."""

TARGET_LABELS_COLUMN = "target_labels"
"""Backtest rows and coverage summary with simulated labelling (``target_labels=``):
the number ``m`` of labelled units each held-out task kept, after the other columns."""

TASK_GROUP_COLUMN = "task_group"
"""Backtest rows with task groups (``task_group=``): each row's group label, after
:data:`BACKTEST_COLUMNS`."""

GROUP_COVERAGE_COLUMN = "group_coverage"
"""Coverage summary with task groups: the share of held-out groups whose every cell
(and coordinate) has a finite interval that covers, after :data:`COVERAGE_COLUMNS`."""

COVERAGE_COLUMNS = (
    "method",
    "alpha",
    "coord",
    "tasks",
    "finite",
    "infinite",
    "coverage",
    "coverage_mcse",
    "joint_coverage",
    "mean_width",
    "median_width",
    "w1",
    "w2",
    "w3",
)
"""A backtest's coverage summary: one row per method × α × coordinate.

``finite`` and ``infinite`` count the intervals; coverage and widths are over
the finite ones."""

STUDY_COLUMNS = (
    "method",
    "alpha",
    "finite",
    "infinite",
    "coverage",
    "coverage_mcse",
    "mean_width",
    "median_width",
    "w1",
    "w2",
    "w3",
    "reps",
    "tasks",
)
"""A Monte Carlo study's summary: one row per method × α (coverage and widths over
the ``finite`` replications; ``infinite`` counts the others)."""

STUDY_REP_COLUMNS = (
    "rep",
    *(c for c in OUTPUT_COLUMNS if c not in ("task", "coord", "n_effective")),
    "truth",
    "covered",
)
"""A Monte Carlo study's per-replication rows: the output columns, one row per replication."""

_DETAIL_COLUMNS = ("alpha1", "alpha2", "alpha3", "synth_lower", "synth_upper", "synth_estimate")

READABLE_COLUMNS = tuple(
    c for c in OUTPUT_COLUMNS if c not in _DETAIL_COLUMNS and not c.startswith("gap_")
)
"""The columns ``infer`` prints when its results are shown as a table for people:
the output columns without the split of the level, the synthetic interval and
estimate, and the gap band."""

ARENA_READABLE_COLUMNS = (
    "task",
    "method",
    "alpha",
    "estimate",
    "lower",
    "upper",
    "width",
    "truth",
    "covered",
    "rank_lower",
    "rank_upper",
    "estimate_elo",
    "lower_elo",
    "upper_elo",
)
"""The columns ``arena`` prints, where present, when its results are shown as a table."""
