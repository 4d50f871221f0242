"""synthinfer: valid confidence intervals from synthetic data via task exchangeability.

Historical tasks with both real and synthetic data show how far synthetic
answers fell from real ones; a conformal band of those gaps widens the
synthetic interval of a new task into a valid one (Tan & Zrnic, 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from synthinfer.adjust import design_matrix, make_gap_model
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.arena import (
    arena,
    battle_units,
    fit_bradley_terry,
    read_battles,
    read_judgments,
    simulate_battles,
)
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
from synthinfer.evaluate import backtest, infer
from synthinfer.intervals import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    PPIQuantileInterval,
    WaldInterval,
    ppi_mean,
    ppi_quantile,
)
from synthinfer.methods import METHODS, Calibration, History, MissingInputError, calibrate
from synthinfer.plan import (
    PlanModel,
    expected_width,
    fit_plan_model,
    min_groups_for,
    min_history_for,
    plan_table,
)
from synthinfer.plan_labels import LabelPlan, plan_labels
from synthinfer.plot import forest_plot, plot_diagnostics, plot_plan
from synthinfer.report import to_html, write_report
from synthinfer.results import BacktestResult, InferenceResult, IntervalResult
from synthinfer.studies.simulate import SimulationModel, coverage_study, simulate_tasks
from synthinfer.tables import ReadOptions, battle_statistics, unit_statistics
from synthinfer.weights import barber_bound_terms, kernel_weights, recency_weights

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
    "LabelPlan",
    "MissingInputError",
    "OrderStatisticInterval",
    "PPIQuantileInterval",
    "PlanModel",
    "ReadOptions",
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
    "battle_units",
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
    "min_groups_for",
    "min_history",
    "min_history_for",
    "pew_tasks",
    "plan_labels",
    "plan_table",
    "plot_diagnostics",
    "plot_plan",
    "ppi_mean",
    "ppi_quantile",
    "read_battles",
    "read_judgments",
    "recency_weights",
    "simulate_battles",
    "simulate_tasks",
    "to_html",
    "unit_statistics",
    "weighted_lower",
    "weighted_upper",
    "write_report",
]
