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

__all__ = [
    "BootstrapInterval",
    "HoeffdingInterval",
    "IntervalFamily",
    "OrderStatisticInterval",
    "WaldInterval",
    "order_statistic_ranks",
    "sample_quantile",
]
