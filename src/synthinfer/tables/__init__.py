"""Reading and writing tables, and the aggregation of unit-level rows to per-task statistics."""

from synthinfer.tables._battles import BattleStatistics, Verdicts, battle_statistics
from synthinfer.tables._io import read_table, write_table
from synthinfer.tables._sources import source_columns
from synthinfer.tables._units import UnitRows, to_summary_table, unit_statistics

__all__ = [
    "BattleStatistics",
    "UnitRows",
    "Verdicts",
    "battle_statistics",
    "read_table",
    "source_columns",
    "to_summary_table",
    "unit_statistics",
    "write_table",
]
