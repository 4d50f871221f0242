"""Reading and writing tables, and the aggregation of unit-level rows to per-task statistics."""

from synthinfer.tables._io import read_table, write_table
from synthinfer.tables._units import to_summary_table, unit_statistics

__all__ = ["read_table", "to_summary_table", "unit_statistics", "write_table"]
