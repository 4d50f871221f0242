"""Small tables (summaries, results, release dates) read into pandas, and written out."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import IO, Any

import pandas as pd

from synthinfer.tables._encodings import (
    decode_problem,
    detect_encoding,
    fallback_note,
    is_fallback,
)
from synthinfer.tables._sources import ScanOptions, is_path, resolve_path, scan
from synthinfer.tables._surveyfiles import FILES_EXTRA, SURVEY_KINDS, read_survey_file

__all__ = ["WRITE_FORMATS", "read_table", "write_table"]

WRITE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".xlsx": "xlsx",
}
"""File suffixes :func:`write_table` writes, and their format."""

_TEXT_FORMATS = ("csv", "tsv", "json")
_WRITE_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
_PANDAS_COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz"}
_PARQUET_EXTRA = 'pip install "synthinfer[parquet]"'


def read_table(source: Any, options: ScanOptions | None = None) -> pd.DataFrame:
    """A small table in pandas, from a path or any dataframe.

    Parameters
    ----------
    source : path or dataframe
        A CSV/TSV (any encoding; compressed too), Parquet, Excel (``.xlsx``),
        Stata (``.dta``) or SPSS (``.sav``) file, a partitioned Parquet folder
        or a glob, or a dataframe of any Narwhals backend.
    options : ScanOptions, optional
        How files are read: the engine for folders and globs (DuckDB by
        default, or Spark) and the text encoding (detected by default).

    Returns
    -------
    pandas.DataFrame
        A single file is read by pandas (Excel, Stata and SPSS as
        :mod:`synthinfer.tables._surveyfiles` describes: value labels as text
        outside the numeric columns); anything else is collected.

    Raises
    ------
    ValueError
        If a CSV file is not text in the given encoding: the message names
        the file and the fix (``--encoding``, ``encoding=``).
    """
    if isinstance(source, pd.DataFrame):
        return source
    options = options or ScanOptions()
    if is_path(source):
        path = os.fspath(source)
        file = resolve_path(source)
        if file.kind in SURVEY_KINDS.values():
            return read_survey_file(path, file.kind, encoding=options.encoding)
        zstd = path.lower().endswith(".zst")
        if file.single and options.engine == "duckdb" and not zstd:
            return _read_file(path, file.kind, file.delimiter, options.encoding)
    with scan(source, options) as frame:
        return frame.collect("pandas").to_native()


def _read_file(path: str, kind: str, delimiter: str, encoding: str | None) -> pd.DataFrame:
    if kind == "csv":
        used = encoding or detect_encoding(path)
        if encoding is None and is_fallback(used):
            warnings.warn(fallback_note(path, used), UserWarning, stacklevel=3)
        compression = _PANDAS_COMPRESSION.get(Path(path).suffix.lower())
        try:
            return pd.read_csv(path, sep=delimiter, encoding=used, compression=compression)
        except UnicodeDecodeError:
            raise decode_problem(path, used) from None
    try:
        return pd.read_parquet(path)
    except ImportError as error:
        raise ImportError(
            f"{path}: reading Parquet needs pyarrow; install it with {_PARQUET_EXTRA}"
        ) from error


def write_table(
    frame: pd.DataFrame, path: str | os.PathLike | IO[str], *, format: str | None = None
) -> None:
    """Write a DataFrame to a file, in the format its extension names.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : str, os.PathLike or text stream
        The file: ``.csv``, ``.tsv`` (``.tab``), ``.parquet`` (``.pq``),
        ``.json`` or ``.xlsx`` (:data:`WRITE_FORMATS`); CSV, TSV and JSON may
        be compressed (``.csv.gz``, ``.bz2``, ``.xz``, ``.zip``, ``.zst``, the
        last with the ``zstandard`` package). Or an open text stream such as
        ``sys.stdout``, written in ``format``.
    format : {"csv", "tsv", "json", "parquet", "xlsx"}, optional
        The format, overriding the extension; required for a stream (which
        takes csv, tsv or json).

    Notes
    -----
    CSV and TSV write infinite numbers as ``inf``/``-inf`` and missing ones
    empty. JSON is a list of one object per row with infinite numbers as the
    strings ``"inf"``/``"-inf"`` and missing ones ``null``. Excel gets one
    sheet (``results``) with infinite numbers as the text ``inf``/``-inf``.

    Raises
    ------
    ValueError
        If the extension (or ``format``) is not one of these: the message
        lists the ones allowed.
    ImportError
        If Parquet (pyarrow) or Excel (openpyxl) support is not installed.
    """
    if hasattr(path, "write"):
        if format not in _TEXT_FORMATS:
            raise ValueError(f"a stream takes format 'csv', 'tsv' or 'json', got {format!r}")
        _write_text(frame, path, format)  # type: ignore[arg-type]
        return
    path = Path(path)  # type: ignore[arg-type]
    chosen = format or _format_of(path)
    if chosen not in WRITE_FORMATS.values():
        allowed = ", ".join(sorted(set(WRITE_FORMATS.values())))
        raise ValueError(f"format must be one of {allowed}, got {format!r}")
    if chosen == "parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError as error:
            raise ImportError(f"{path}: writing Parquet needs pyarrow; {_PARQUET_EXTRA}") from error
    elif chosen == "xlsx":
        _write_excel(frame, path)
    elif chosen == "json":
        _write_json(_json_text(frame), path)
    else:
        frame.to_csv(path, sep="\t" if chosen == "tsv" else ",", index=False)


def _format_of(path: Path) -> str:
    """The format a path's extension names; a ``ValueError`` listing the allowed ones."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in _WRITE_COMPRESSIONS
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (path.suffix.lower())
    found = WRITE_FORMATS.get(suffix)
    if found is None or (compressed and found not in ("csv", "tsv")):
        given = "".join(path.suffixes[-2:] if compressed else path.suffixes[-1:]) or "none"
        raise ValueError(
            f"{path}: cannot write a file with extension {given!r}; use .csv, .tsv, .parquet, "
            f".json or .xlsx (.csv, .tsv and .json may end in .gz, .bz2, .xz, .zip or .zst)"
        )
    return found


def _write_text(frame: pd.DataFrame, stream: IO[str], format: str) -> None:
    if format == "json":
        stream.write(_json_text(frame))
    else:
        stream.write(frame.to_csv(sep="\t" if format == "tsv" else ",", index=False))


def _json_cell(value: Any) -> Any:
    """One cell as JSON: ``None`` for NaN, ``"inf"``/``"-inf"``, NumPy scalars as Python."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _json_text(frame: pd.DataFrame) -> str:
    records = [
        {str(column): _json_cell(value) for column, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    return json.dumps(records, indent=1, default=str) + "\n"


def _write_json(text: str, path: Path) -> None:
    """Write JSON text, compressed as the last extension says."""
    suffix = path.suffix.lower()
    data = text.encode("utf-8")
    if suffix == ".zip":
        import zipfile

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.stem, data)
        return
    if suffix == ".zst":
        try:
            import zstandard
        except ImportError as error:
            raise ImportError(f"{path}: writing .zst needs pip install zstandard") from error
        data = zstandard.ZstdCompressor().compress(data)
    elif suffix in (".gz", ".bz2", ".xz"):
        import bz2
        import gzip
        import lzma

        compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix]
        data = compress(data)
    path.write_bytes(data)


def _write_excel(frame: pd.DataFrame, path: Path) -> None:
    try:
        import openpyxl  # noqa: F401 - pandas writes .xlsx with it
    except ImportError as error:
        raise ImportError(f"{path}: writing Excel files needs openpyxl; {FILES_EXTRA}") from error
    frame.to_excel(path, index=False, sheet_name="results", engine="openpyxl")
