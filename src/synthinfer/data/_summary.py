"""Checks of a summary table (one row per task and coordinate), in pandas.

A summary table is small, so whatever form it arrives in it is brought into
pandas and checked here: required columns, task ids, numeric and finite
columns, non-negative standard errors, one row per task (and coordinate),
and gap estimates (derived from ``real_estimate − synth_estimate`` where they
are missing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthinfer._columns import SUMMARY_NUMERIC, SUMMARY_TABLE_COLUMNS
from synthinfer._validation import check_columns
from synthinfer.tables import Located, lines_text, row_problem

__all__ = ["checked_summary"]

_STANDARD_ERRORS = ("synth_se", "gap_se", "real_se")


def _located(frame: pd.DataFrame, column: str, mask: np.ndarray) -> Located:
    positions = np.flatnonzero(mask)
    examples = tuple(frame[column].to_numpy()[positions[:5]])
    return Located(int(positions.size), examples, tuple(int(p) for p in positions[:5]))


def _lines(mask: np.ndarray) -> str:
    positions = np.flatnonzero(mask)
    return lines_text(positions[:5].tolist(), int(positions.size))


def _numeric(frame: pd.DataFrame, column: str, where: str, *, allow_missing: bool) -> None:
    """Make ``column`` float after checking it is numeric and finite."""
    values = pd.to_numeric(frame[column], errors="coerce")
    text = (values.isna() & frame[column].notna()).to_numpy()
    if text.any():
        raise row_problem(where, "text", column, _located(frame, column, text))
    array = values.to_numpy(dtype=float)
    if np.isinf(array).any():
        raise row_problem(where, "infinite", column, _located(frame, column, np.isinf(array)))
    if not allow_missing and np.isnan(array).any():
        raise row_problem(where, "missing", column, _located(frame, column, np.isnan(array)))
    frame[column] = array


def _ids(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    for column in ("task", "coord"):
        if column not in frame.columns:
            continue
        empty = frame[column].isna().to_numpy()
        if empty.any():
            raise row_problem(where, "empty-id", column, _located(frame, column, empty))
        frame[column] = frame[column].astype(str)
    return frame


def _fill_gap_estimate(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Derive ``gap_estimate = real_estimate − synth_estimate`` where it is missing."""
    has_real = "real_estimate" in frame.columns
    if "gap_estimate" not in frame.columns:
        if not has_real:
            raise ValueError(
                f"{name}: a summary table needs 'real_estimate' or 'gap_estimate' for its "
                f"history tasks (found neither column)"
            )
        frame["gap_estimate"] = frame["real_estimate"] - frame["synth_estimate"]
    elif has_real:
        derived = frame["real_estimate"] - frame["synth_estimate"]
        frame["gap_estimate"] = frame["gap_estimate"].fillna(derived)
    return frame


def checked_summary(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Check a summary table; return it cleaned and which rows are history.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (a copy the caller owns: columns are converted in place).
    name : str
        The data's name for messages.

    Returns
    -------
    (pandas.DataFrame, ndarray of bool)
    """
    check_columns(list(frame.columns), SUMMARY_TABLE_COLUMNS, name, "summary table")
    frame = _ids(frame, name)
    _numeric(frame, "synth_estimate", name, allow_missing=False)
    _numeric(frame, "synth_se", name, allow_missing=False)
    for column in SUMMARY_NUMERIC[2:]:
        if column in frame.columns:
            _numeric(frame, column, name, allow_missing=True)
    for column in _STANDARD_ERRORS:
        if column in frame.columns and (frame[column] < 0).any():
            raise ValueError(
                f"{name}: column '{column}' has negative standard errors at "
                f"{_lines((frame[column] < 0).to_numpy())}"
            )
    keys = ["task", "coord"] if "coord" in frame.columns else ["task"]
    duplicated = frame.duplicated(keys, keep=False).to_numpy()
    if duplicated.any():
        raise ValueError(
            f"{name}: duplicate rows for the same {' and '.join(keys)} at "
            f"{_lines(duplicated)}; a summary table has one row per {' × '.join(keys)}"
        )
    frame = _fill_gap_estimate(frame, name)
    is_history = frame["gap_estimate"].notna().to_numpy()
    if "gap_se" in frame.columns:
        missing_se = is_history & frame["gap_se"].isna().to_numpy()
        if missing_se.any():
            raise ValueError(
                f"{name}: column 'gap_se' is empty for history rows at {_lines(missing_se)}; "
                f"give every history task a gap SE (or drop the column to use only "
                f"finite-sample and synthetic-only)"
            )
    return frame, is_history
