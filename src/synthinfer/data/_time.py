"""Task times: numbers as they are, dates as decimal years."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["decimal_years", "time_values"]


def time_values(values: pd.Series, *, where: str) -> pd.Series:
    """Numeric times from numbers or dates (dates as decimal years, e.g. 2024.5).

    Parameters
    ----------
    values : pandas.Series
        Numbers, dates, or date strings; missing values are allowed.
    where : str
        Context for error messages.

    Returns
    -------
    pandas.Series of float
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return decimal_years(values)
    numeric = pd.to_numeric(values, errors="coerce")
    if not (numeric.isna() & values.notna()).any():
        return numeric.astype(float)
    dates = pd.to_datetime(values, errors="coerce")
    bad = dates.isna() & values.notna()
    if bad.any():
        raise ValueError(
            f"{where} has values that are neither numbers nor dates (e.g. "
            f"{values[bad].iloc[0]!r}); use numbers or ISO dates (YYYY-MM-DD)"
        )
    return decimal_years(dates)


def decimal_years(dates: pd.Series) -> pd.Series:
    """Dates as decimal years (``2024-07-02`` → about 2024.5)."""
    dates = pd.to_datetime(dates)
    start = pd.to_datetime(dates.dt.year.astype("Int64").astype(str) + "-01-01", errors="coerce")
    length = np.where(dates.dt.is_leap_year, 366.0, 365.0)
    fraction = (dates - start).dt.total_seconds() / (86400.0 * length)
    return (dates.dt.year + fraction).astype(float)
