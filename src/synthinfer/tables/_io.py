"""Small tables (summaries, results, release dates) read into pandas, and written out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from synthinfer.tables._sources import ScanOptions, is_path, resolve_path, scan

__all__ = ["read_table", "write_table"]

_PARQUET_SUFFIXES = {".parquet", ".pq"}
_TSV_SUFFIXES = {".tsv", ".tab"}


def read_table(source: Any, options: ScanOptions | None = None) -> pd.DataFrame:
    """A small table in pandas, from a path or any dataframe.

    Parameters
    ----------
    source : path or dataframe
        A CSV/TSV (compressed too) or Parquet file, a partitioned Parquet
        folder or a glob, or a dataframe of any Narwhals backend.
    options : ScanOptions, optional
        How folders and globs are read (DuckDB by default, or Spark).

    Returns
    -------
    pandas.DataFrame
        A single file is read by pandas; anything else is collected.
    """
    if isinstance(source, pd.DataFrame):
        return source
    if is_path(source):
        file = resolve_path(source)
        engine = (options or ScanOptions()).engine
        if file.single and engine == "duckdb":
            return _read_file(os.fspath(source), file.kind, file.delimiter)
    with scan(source, options) as frame:
        return frame.collect("pandas").to_native()


def _read_file(path: str, kind: str, delimiter: str) -> pd.DataFrame:
    if kind == "csv":
        return pd.read_csv(path, sep=delimiter)
    try:
        return pd.read_parquet(path)
    except ImportError as error:
        raise ImportError(
            f"{path}: reading Parquet needs pyarrow; install it with "
            f"pip install 'synthinfer[parquet]'"
        ) from error


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame to CSV, TSV or Parquet by the path's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        frame.to_parquet(path, index=False)
    elif suffix in _TSV_SUFFIXES:
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_csv(path, index=False)
