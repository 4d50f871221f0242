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
    "METHODS",
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
    "plot_diagnostics",
    "plot_plan",
    "read_battles",
    "recency_weights",
    "simulate_battles",
    "simulate_tasks",
    "unit_statistics",
    "weighted_lower",
    "weighted_upper",
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
    from synthinfer.studies import StudyResult
    from synthinfer.studies.reproduce import Reproduction
    from synthinfer.weights import BarberBound

    classes = [
        synthinfer.IntervalResult,
        synthinfer.InferenceResult,
        synthinfer.BacktestResult,
        synthinfer.DiagnosticReport,
        WidthPrediction,
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
    ]
    for cls in classes:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        assert callable(getattr(cls, "summary", None)), cls
        assert callable(getattr(cls, "to_frame", None)), cls
        assert cls.__str__ is not object.__str__, cls
    study = synthinfer.coverage_study("bernoulli", reps=20, tasks=20, alphas=[0.2], seed=1)
    assert isinstance(study.to_frame(), pd.DataFrame)
    assert str(study) == study.summary() and "coverage study" in study.summary()
    bound = synthinfer.barber_bound_terms([1.0, 0.5])
    assert "coverage gap" in str(bound) and list(bound.to_frame().columns) == ["task", "p"]
