"""Per-task interval constructions (the paper's Assumption 2).

Every construction is an *interval family*: it keeps the statistics of many
tasks at once (the task axis is the last axis of ``estimate``) and returns the
``1 − a`` interval at any level ``a`` without going back to the data, so that
results can be recomputed at another level from kept statistics.
"""

from synthinfer.intervals._families import (
    BootstrapInterval,
    HoeffdingInterval,
    IntervalFamily,
    OrderStatisticInterval,
    WaldInterval,
    order_statistic_ranks,
    sample_quantile,
)
from synthinfer.intervals._ppi import (
    PPI_QUANTILE_GRID,
    PPIQuantileInterval,
    ppi_mean,
    ppi_power_tuning,
    ppi_quantile,
    ppi_student_factor,
)

__all__ = [
    "PPI_QUANTILE_GRID",
    "BootstrapInterval",
    "HoeffdingInterval",
    "IntervalFamily",
    "OrderStatisticInterval",
    "PPIQuantileInterval",
    "WaldInterval",
    "order_statistic_ranks",
    "ppi_mean",
    "ppi_power_tuning",
    "ppi_quantile",
    "ppi_student_factor",
    "sample_quantile",
]
