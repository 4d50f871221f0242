"""Task data: the two table formats, the estimand, per-task statistics and backtest folds."""

from synthinfer.data._design import design_allocation
from synthinfer.data._estimand import Estimand, TaskStatistics
from synthinfer.data._folds import backtest_folds
from synthinfer.data._taskdata import TaskData, summary_table
from synthinfer.data._time import decimal_years, time_values

__all__ = [
    "Estimand",
    "TaskData",
    "TaskStatistics",
    "backtest_folds",
    "decimal_years",
    "design_allocation",
    "summary_table",
    "time_values",
]
