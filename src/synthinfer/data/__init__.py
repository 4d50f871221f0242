"""Task data: the two table formats, the estimand, per-task statistics and backtest folds."""

from synthinfer.data._design import design_allocation
from synthinfer.data._estimand import Estimand, TaskStatistics
from synthinfer.data._folds import backtest_folds
from synthinfer.data._labels import (
    LABEL_COLUMNS,
    LabelledSample,
    Labels,
    check_target_labels,
    label_gap,
    ppi_family,
    split_targets,
)
from synthinfer.data._taskdata import TaskData, summary_table
from synthinfer.data._time import decimal_years, time_values

__all__ = [
    "LABEL_COLUMNS",
    "Estimand",
    "LabelledSample",
    "Labels",
    "TaskData",
    "TaskStatistics",
    "backtest_folds",
    "check_target_labels",
    "decimal_years",
    "design_allocation",
    "label_gap",
    "ppi_family",
    "split_targets",
    "summary_table",
    "time_values",
]
