"""The public API is locked: adding or removing a name is a deliberate change of this test."""

from __future__ import annotations

from importlib.metadata import version

import synthinfer

PUBLIC_API = [
    "Allocation",
    "BacktestResult",
    "BootstrapInterval",
    "Calibration",
    "DEFAULT_ALLOCATION",
    "DiagnosticReport",
    "Estimand",
    "History",
    "HoeffdingInterval",
    "InferenceResult",
    "IntervalFamily",
    "IntervalResult",
    "LabelPlan",
    "METHODS",
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


def test_public_api_is_locked():
    assert sorted(PUBLIC_API) == PUBLIC_API
    assert sorted(synthinfer.__all__) == PUBLIC_API
    assert len(set(synthinfer.__all__)) == len(synthinfer.__all__)


def test_every_public_name_exists():
    for name in synthinfer.__all__:
        assert hasattr(synthinfer, name), name
    assert callable(synthinfer.infer) and callable(synthinfer.backtest)
    assert set(synthinfer.METHODS) == {
        "exchangeable",
        "weighted",
        "finite-sample",
        "task-only",
        "synthetic-only",
        "hybrid",
        "ppi",
    }


def test_version_from_metadata():
    assert synthinfer.__version__ == version("synthinfer")


def test_star_import_gives_exactly_the_public_api():
    namespace: dict[str, object] = {}
    exec("from synthinfer import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_API


def test_no_lazy_attribute_map():
    # Every public name is bound at import time; nothing is resolved through __getattr__.
    assert "__getattr__" not in vars(synthinfer)
    assert all(name in vars(synthinfer) for name in synthinfer.__all__)


def test_every_result_class_has_summary_to_frame_and_str():
    import dataclasses

    import pandas as pd

    from synthinfer.arena import (
        ArenaResult,
        ArenaSummary,
        BattleCounts,
        BattleSimulation,
        BradleyTerryFit,
    )
    from synthinfer.generate import JudgeResult, SurveyResult
    from synthinfer.plan import WidthPrediction
    from synthinfer.report import Provenance, ReportInput
    from synthinfer.studies import StudyResult
    from synthinfer.studies.reproduce import Reproduction
    from synthinfer.weights import BarberBound

    classes = [
        synthinfer.IntervalResult,
        synthinfer.InferenceResult,
        synthinfer.BacktestResult,
        synthinfer.DiagnosticReport,
        WidthPrediction,
        synthinfer.LabelPlan,
        BarberBound,
        StudyResult,
        Reproduction,
        ArenaResult,
        ArenaSummary,
        BattleCounts,
        BradleyTerryFit,
        BattleSimulation,
        SurveyResult,
        JudgeResult,
        Provenance,
        ReportInput,
    ]
    for cls in classes:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        assert callable(getattr(cls, "summary", None)), cls
        assert callable(getattr(cls, "to_frame", None)), cls
        assert cls.__str__ is not object.__str__, cls
        assert callable(getattr(cls, "_repr_html_", None)), cls
    study = synthinfer.coverage_study("bernoulli", reps=20, tasks=20, alphas=[0.2], seed=1)
    assert "<table" in study._repr_html_() and "coverage study" in study._repr_html_()
    assert isinstance(study.to_frame(), pd.DataFrame)
    assert str(study) == study.summary() and "coverage study" in study.summary()
    bound = synthinfer.barber_bound_terms([1.0, 0.5])
    assert "coverage gap" in str(bound) and list(bound.to_frame().columns) == ["task", "p"]


def test_results_show_in_jupyter_as_an_html_table_of_intervals():
    import numpy as np

    cells = synthinfer.pew_tasks(scalar=True)
    targets = cells.copy()
    newest = targets["time"] == targets["time"].max()
    targets.loc[newest, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    few = targets[newest | (targets.index < 5)]  # 5 history tasks: an infinite band
    result = synthinfer.infer(few, alpha=0.1, bounds=(0, 1))
    page = result._repr_html_()
    assert "<caption>" in page
    for column in ("task", "estimate", "lower", "upper", "w1", "w2", "w3", "feasible"):
        assert f"<th>{column}</th>" in page
    assert page.count("<tr>") == len(result)  # one row per interval, below the header
    assert '<td class="infinite">False</td>' in page  # an infinite interval stands out
    assert result[0].task in page and result[0]._repr_html_().count("<tr>") == 1
