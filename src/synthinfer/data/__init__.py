"""Task data: the two table formats, the estimand, and per-task statistics."""

from synthinfer.data._estimand import Estimand, TaskStatistics
from synthinfer.data._taskdata import TaskData
from synthinfer.data._time import decimal_years, time_values

__all__ = ["Estimand", "TaskData", "TaskStatistics", "decimal_years", "time_values"]
