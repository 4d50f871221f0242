"""Battle logs: counts, win rates, Bradley-Terry strengths, the pipeline, and a simulator.

Modules, each importing only those above it:

* ``_counts``: :class:`BattleCounts` and :func:`read_battles` (a log as counts);
* ``_judgments`` and ``_formats``: :func:`read_judgments`, pairwise judge
  files (FastChat, MT-Bench human judgments, AlpacaEval, Arena one-hot dumps)
  as a battle log;
* ``_bradley_terry``: :func:`fit_bradley_terry`, :func:`place_model`,
  :func:`rank_interval` and the paired bootstrap of a gap;
* ``_summary``: per-model summary tables (:func:`win_rate_summary`,
  :func:`bradley_terry_summary`);
* ``_pipeline``: :func:`arena_summary` and :func:`arena`, from a log to
  calibrated intervals;
* ``_simulate``: :func:`simulate_battles`, logs with known truth.
"""

from synthinfer.arena._bradley_terry import (
    ELO_SCALE,
    BradleyTerryFit,
    fit_bradley_terry,
    place_model,
    rank_interval,
)
from synthinfer.arena._counts import BattleCounts, read_battles
from synthinfer.arena._formats import JUDGMENT_FORMATS, detect_format, read_judgments
from synthinfer.arena._pipeline import ESTIMANDS, ArenaResult, arena, arena_summary
from synthinfer.arena._simulate import BattleModel, BattleSimulation, simulate_battles
from synthinfer.arena._summary import (
    DEFAULT_GAP_BOOTSTRAP,
    ArenaSummary,
    bradley_terry_summary,
    win_rate_summary,
)
from synthinfer.arena._units import battle_units

__all__ = [
    "DEFAULT_GAP_BOOTSTRAP",
    "ELO_SCALE",
    "ESTIMANDS",
    "JUDGMENT_FORMATS",
    "ArenaResult",
    "ArenaSummary",
    "BattleCounts",
    "BattleModel",
    "BattleSimulation",
    "BradleyTerryFit",
    "arena",
    "arena_summary",
    "battle_units",
    "bradley_terry_summary",
    "detect_format",
    "fit_bradley_terry",
    "place_model",
    "rank_interval",
    "read_battles",
    "read_judgments",
    "simulate_battles",
    "win_rate_summary",
]
