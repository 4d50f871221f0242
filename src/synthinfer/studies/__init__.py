"""Monte Carlo coverage studies and the paper's reproductions.

``_models`` holds the generative models of tasks with known truth and draws
their sufficient statistics; ``simulate`` runs coverage studies on them;
``reproduce`` runs the paper's three experiments and compares them with the
numbers it reports. Imports run one way: ``reproduce`` uses ``simulate``,
which uses ``_models``.
"""

from synthinfer.studies._models import (
    MODELS,
    Seed,
    SimulatedTasks,
    SimulationModel,
    simulate_tasks,
    study_weights,
)
from synthinfer.studies.reproduce import (
    EXPERIMENTS,
    Reproduction,
    reproduce,
    reproduce_arena,
    reproduce_pew,
    reproduce_simulated,
)
from synthinfer.studies.simulate import (
    DEFAULT_METHODS,
    StudyResult,
    block_size,
    coverage_study,
    group_subsets,
)

__all__ = [
    "DEFAULT_METHODS",
    "EXPERIMENTS",
    "MODELS",
    "Reproduction",
    "Seed",
    "SimulatedTasks",
    "SimulationModel",
    "StudyResult",
    "block_size",
    "coverage_study",
    "group_subsets",
    "reproduce",
    "reproduce_arena",
    "reproduce_pew",
    "reproduce_simulated",
    "simulate_tasks",
    "study_weights",
]
