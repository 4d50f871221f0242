"""Inference for target tasks and backtests over history tasks.

``infer`` calibrates every target task against all history tasks;
``backtest`` holds history tasks out (leave-one-out, or by time) and scores
the intervals against their real estimates.
"""

from synthinfer.evaluate._run import backtest, infer
from synthinfer.evaluate._settings import (
    PROTOCOLS,
    Adjustment,
    InferOptions,
    Settings,
    Weighting,
)

__all__ = ["PROTOCOLS", "Adjustment", "InferOptions", "Settings", "Weighting", "backtest", "infer"]
