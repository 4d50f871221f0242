"""synthinfer: valid confidence intervals from synthetic data via task exchangeability.

Historical tasks with both real and synthetic data show how far synthetic
answers fell from real ones; a conformal band of those gaps widens the
synthetic interval of a new task into a valid one (Tan & Zrnic, 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from synthinfer.adjust import design_matrix, make_gap_model
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
from synthinfer.diagnose import DiagnosticReport, diagnose
from synthinfer.drift import barber_bound_terms, kernel_weights
from synthinfer.evaluate import backtest, infer
from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
)
from synthinfer.methods import METHODS, Calibration, History, MissingInputError, calibrate
from synthinfer.plan import PlanModel, expected_width, fit_plan_model, min_history_for, plan_table
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
    "DiagnosticReport",
    "Estimand",
    "History",
    "HoeffdingInterval",
    "InferenceResult",
    "IntervalFamily",
    "IntervalResult",
    "MissingInputError",
    "OrderStatisticInterval",
    "PlanModel",
    "TaskData",
    "TaskStatistics",
    "WaldInterval",
    "__version__",
    "arena_tasks",
    "backtest",
    "barber_bound_terms",
    "calibrate",
    "conformal_lower",
    "conformal_ranks",
    "conformal_upper",
    "design_matrix",
    "diagnose",
    "expected_width",
    "fit_plan_model",
    "infer",
    "kernel_weights",
    "list_datasets",
    "load_dataset",
    "make_gap_model",
    "min_history",
    "min_history_for",
    "pew_tasks",
    "plan_table",
    "weighted_lower",
    "weighted_upper",
]
