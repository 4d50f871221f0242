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
from synthinfer.data._taskdata import Estimand, TaskData, TaskStatistics
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

# Heavier parts (SciPy's statistics, regression) load on first use.
_LAZY = {
    "design_matrix": "synthinfer.adjust",
    "make_gap_model": "synthinfer.adjust",
    "DiagnosticReport": "synthinfer.diagnose",
    "diagnose": "synthinfer.diagnose",
    "barber_bound_terms": "synthinfer.weights",
    "kernel_weights": "synthinfer.weights",
    "PlanModel": "synthinfer.plan",
    "expected_width": "synthinfer.plan",
    "fit_plan_model": "synthinfer.plan",
    "min_history_for": "synthinfer.plan",
    "plan_table": "synthinfer.plan",
    "SimulationModel": "synthinfer.studies.simulate",
    "coverage_study": "synthinfer.studies.simulate",
    "simulate_tasks": "synthinfer.studies.simulate",
    "arena": "synthinfer.arena._summary",
    "fit_bradley_terry": "synthinfer.arena._summary",
    "read_battles": "synthinfer.arena._summary",
    "battle_statistics": "synthinfer.tables._units",
    "unit_statistics": "synthinfer.tables._units",
    "forest_plot": "synthinfer.plot",
}


def __getattr__(name: str):
    """Load the heavier public names on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'synthinfer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "SimulationModel",
    "TaskData",
    "TaskStatistics",
    "WaldInterval",
    "__version__",
    "arena",
    "arena_tasks",
    "backtest",
    "barber_bound_terms",
    "battle_statistics",
    "calibrate",
    "conformal_lower",
    "conformal_ranks",
    "conformal_upper",
    "coverage_study",
    "design_matrix",
    "diagnose",
    "expected_width",
    "fit_bradley_terry",
    "fit_plan_model",
    "forest_plot",
    "infer",
    "kernel_weights",
    "list_datasets",
    "load_dataset",
    "make_gap_model",
    "min_history",
    "min_history_for",
    "pew_tasks",
    "plan_table",
    "read_battles",
    "simulate_tasks",
    "unit_statistics",
    "weighted_lower",
    "weighted_upper",
]
