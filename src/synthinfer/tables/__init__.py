"""Reading tables from a path or any dataframe, and the one aggregation of unit-level rows.

Files are scanned by DuckDB (embedded, out of core) or Spark; dataframes of
any Narwhals backend are computed on where they live. Only small per-task
results come into pandas.
"""

from synthinfer.tables._battles import BattleStatistics, Verdicts, battle_statistics
from synthinfer.tables._inspect import inspect_long_table, is_inspect_source
from synthinfer.tables._io import read_table, write_table
from synthinfer.tables._problems import Located, lines_text, row_problem
from synthinfer.tables._readers import FORMATS_IN, ReadOptions, unit_table
from synthinfer.tables._sources import DEFAULT_MEMORY_LIMIT, ScanOptions, Table, source_columns
from synthinfer.tables._units import (
    UnitRows,
    UnitSummary,
    scan_options,
    summarize_units,
    to_summary_table,
    unit_statistics,
)

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "FORMATS_IN",
    "BattleStatistics",
    "Located",
    "ReadOptions",
    "ScanOptions",
    "Table",
    "UnitRows",
    "UnitSummary",
    "Verdicts",
    "battle_statistics",
    "inspect_long_table",
    "is_inspect_source",
    "lines_text",
    "read_table",
    "row_problem",
    "scan_options",
    "source_columns",
    "summarize_units",
    "to_summary_table",
    "unit_statistics",
    "unit_table",
    "write_table",
]
