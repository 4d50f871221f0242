"""synthinfer: valid confidence intervals from synthetic data via task exchangeability.

Historical tasks with both real and synthetic data show how far synthetic
answers fell from real ones; a conformal band of those gaps widens the
synthetic interval of a new task into a valid one (Tan & Zrnic, 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.conformal import (
    conformal_lower,
    conformal_ranks,
    conformal_upper,
    min_history,
    weighted_lower,
    weighted_upper,
)
from synthinfer.data import Estimand, TaskData, TaskStatistics
from synthinfer.datasets import arena_tasks, list_datasets, load_dataset, pew_tasks
from synthinfer.evaluate import backtest, infer
from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
)
from synthinfer.methods import METHODS, Calibration, History, MissingInputError, calibrate
from synthinfer.results import BacktestResult, InferenceResult, IntervalResult

try:
    __version__ = version("synthinfer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_ALLOCATION",
    "METHODS",
    "Allocation",
    "BacktestResult",
    "BootstrapInterval",
    "Calibration",
    "Estimand",
    "History",
    "HoeffdingInterval",
    "InferenceResult",
    "IntervalFamily",
    "IntervalResult",
    "MissingInputError",
    "OrderStatisticInterval",
    "TaskData",
    "TaskStatistics",
    "WaldInterval",
    "__version__",
    "arena_tasks",
    "backtest",
    "calibrate",
    "conformal_lower",
    "conformal_ranks",
    "conformal_upper",
    "infer",
    "list_datasets",
    "load_dataset",
    "min_history",
    "pew_tasks",
    "weighted_lower",
    "weighted_upper",
]
