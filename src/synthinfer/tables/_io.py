"""Reading tables from CSV or Parquet files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["read_table", "write_table"]

_CSV_SUFFIXES = {".csv", ".txt"}
_TSV_SUFFIXES = {".tsv", ".tab"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        File path; the format follows the suffix.

    Returns
    -------
    pandas.DataFrame
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return pd.read_csv(path)
    if suffix in _TSV_SUFFIXES:
        return pd.read_csv(path, sep="\t")
    if suffix in _PARQUET_SUFFIXES:
        try:
            return pd.read_parquet(path)
        except ImportError as error:
            raise ImportError(
                f"{path}: reading Parquet needs pyarrow; install it with "
                f"pip install 'synthinfer[parquet]'"
            ) from error
    raise ValueError(f"{path}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame to CSV or Parquet by the path's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        frame.to_parquet(path, index=False)
    elif suffix in _TSV_SUFFIXES:
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_csv(path, index=False)
