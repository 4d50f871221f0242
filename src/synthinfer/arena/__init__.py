"""Battle logs: counts, win rates, Bradley-Terry strengths, and a battle simulator."""

from synthinfer.arena._simulate import BattleModel, simulate_battles
from synthinfer.arena._summary import arena, fit_bradley_terry, read_battles

__all__ = ["BattleModel", "arena", "fit_bradley_terry", "read_battles", "simulate_battles"]
