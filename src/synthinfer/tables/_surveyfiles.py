"""Excel, Stata and SPSS files read into pandas, with their value labels and weights.

These files are small (they hold survey samples, not model logs), so they are
read whole into pandas and then go through the same Narwhals aggregation as
every other dataframe. Excel is read with openpyxl, Stata ``.dta`` and SPSS
``.sav``/``.zsav`` with pyreadstat (``pip install "synthinfer[files]"``),
imported inside the functions.

**Value labels.** A labelled column whose numbers are data keeps its numeric
codes: ``value``, ``weight``, ``unit``, ``time`` and a summary table's
numbers (:data:`CODE_COLUMNS`). Every other labelled column (``task``,
``source``, ``coord`` and task attributes such as ``group``) becomes the text
of its labels; a code without a label becomes its number as text (``3``), and
a missing code stays missing. Two codes of ``task`` or ``coord`` with the same
label are an error, since their tasks would merge. Stata's extended missing
values (``.a`` ... ``.z``) and SPSS user-missing values are missing, so in
``value`` they count as non-response.

**Weights.** A column named ``weight`` is the survey weight. An SPSS file
without one whose dictionary names a weight variable (``WEIGHT BY``) has that
variable used as ``weight``, with a warning that says so. Stata keeps its
``svyset`` weight where pyreadstat cannot see it: name the column ``weight``.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import pandas as pd

from synthinfer._columns import SUMMARY_NUMERIC

__all__ = [
    "CODE_COLUMNS",
    "FILES_EXTRA",
    "SURVEY_KINDS",
    "read_survey_file",
    "spss_weight_variable",
    "survey_frame",
]

SURVEY_KINDS = {
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".dta": "stata",
    ".sav": "spss",
    ".zsav": "spss",
}
"""File suffixes read whole into pandas, and their kind."""

FILES_EXTRA = 'pip install "synthinfer[files]"'

CODE_COLUMNS = frozenset({"value", "weight", "unit", "time", *SUMMARY_NUMERIC})
"""Labelled columns that keep their numeric codes (their numbers are data)."""

_IDENTIFIERS = ("task", "coord")
_KEPT_FRAMES = 2
_frames: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_lock = threading.Lock()
_SPSS_MAGIC = (b"$FL2", b"$FL3")
_SPSS_HEADER = 176


def read_survey_file(
    path: str, kind: str, *, encoding: str | None = None, name: str | None = None
) -> pd.DataFrame:
    """Read an Excel, Stata or SPSS file into pandas (labels and weights as the module says).

    Parameters
    ----------
    path : str
        The file.
    kind : {"excel", "stata", "spss"}
        Its format (see :data:`SURVEY_KINDS`).
    encoding : str, optional
        The text encoding of a Stata or SPSS file, for files whose own
        declaration is missing or wrong (old Stata files are often
        Windows-1252); pyreadstat detects it otherwise. Excel files are
        always Unicode.
    name : str, optional
        The file's name in messages (default: ``path``).

    Returns
    -------
    pandas.DataFrame
        Excel: the first sheet. Stata and SPSS: every variable, dates as
        datetimes.

    Raises
    ------
    ImportError
        If openpyxl or pyreadstat is not installed (the message names the
        ``files`` extra).
    ValueError
        If the file cannot be read as its format, or labels would merge tasks.
    """
    name = name or path
    if kind == "excel":
        return _read_excel(path, name)
    frame, labels = _read_stat(path, kind, encoding, name)
    frame = _with_labels(frame, labels, name)
    if kind == "spss":
        frame = _with_spss_weight(frame, spss_weight_variable(path), name)
    return frame


def survey_frame(path: str, kind: str, *, encoding: str | None = None) -> pd.DataFrame:
    """:func:`read_survey_file`, remembered for the next scans of the same file version.

    One analysis scans its table several times (columns, checks, statistics,
    rows read back); the last two files read are kept, keyed by path, size,
    modification time and encoding. The frame is shared: read it, never
    change it in place.
    """
    status = os.stat(path)
    key = (os.path.realpath(path), status.st_size, status.st_mtime_ns, kind, encoding)
    with _lock:
        if key in _frames:
            _frames.move_to_end(key)
            return _frames[key]
    frame = read_survey_file(path, kind, encoding=encoding)
    with _lock:
        _frames[key] = frame
        while len(_frames) > _KEPT_FRAMES:
            _frames.popitem(last=False)
    return frame


def _read_excel(path: str, name: str) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401 - pandas needs it for .xlsx
    except ImportError as error:
        raise ImportError(f"{name}: reading Excel files needs openpyxl; {FILES_EXTRA}") from error
    from zipfile import BadZipFile

    try:
        frame = pd.read_excel(path, sheet_name=0, engine="openpyxl")
    except (BadZipFile, KeyError, OSError) as error:
        if isinstance(error, FileNotFoundError | PermissionError):
            raise
        raise ValueError(f"{name}: not an Excel workbook (.xlsx) ({error})") from None
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _read_stat(
    path: str, kind: str, encoding: str | None, name: str
) -> tuple[pd.DataFrame, dict[str, dict[Any, Any]]]:
    """A Stata or SPSS file as codes, and its value labels per column."""
    try:
        import pyreadstat
    except ImportError as error:
        what = "Stata" if kind == "stata" else "SPSS"
        raise ImportError(
            f"{name}: reading {what} files needs pyreadstat; {FILES_EXTRA}"
        ) from error
    import codecs

    reader = pyreadstat.read_dta if kind == "stata" else pyreadstat.read_sav
    iconv = None if encoding is None else codecs.lookup(encoding).name.upper()
    try:
        frame, meta = reader(path, encoding=iconv, dates_as_pandas_datetime=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as error:
        what = "a Stata .dta" if kind == "stata" else "an SPSS .sav"
        raise ValueError(f"{name}: cannot read it as {what} file ({error})") from None
    frame.columns = [str(column) for column in frame.columns]
    return frame, dict(meta.variable_value_labels or {})


def _with_labels(frame: pd.DataFrame, labels: dict[str, dict[Any, Any]], name: str) -> pd.DataFrame:
    """Labelled columns outside :data:`CODE_COLUMNS` as the text of their labels."""
    for column, mapping in labels.items():
        if column not in frame.columns or column in CODE_COLUMNS or not mapping:
            continue
        codes = frame[column]
        text = codes.map(lambda code, mapping=mapping: _label(code, mapping))
        if column in _IDENTIFIERS:
            _check_distinct(codes, text, column, name)
        frame[column] = text.astype(object)
    return frame


def _label(code: Any, mapping: dict[Any, Any]) -> str | None:
    """One code's label, or the code as text; ``None`` when missing."""
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return None
    if code in mapping:
        return str(mapping[code])
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _check_distinct(codes: pd.Series, text: pd.Series, column: str, name: str) -> None:
    """Stop when two codes of an identifier column carry the same label."""
    pairs = pd.DataFrame({"code": codes, "text": text}).dropna().drop_duplicates()
    shared = pairs[pairs.duplicated("text", keep=False)]
    if shared.empty:
        return
    label = shared["text"].iloc[0]
    alike = ", ".join(_label(c, {}) or "" for c in shared.loc[shared["text"] == label, "code"])
    raise ValueError(
        f"{name}: the value labels of column {column!r} give codes {alike} the same label "
        f"{label!r}, so their tasks would merge; give each code its own label"
    )


def _with_spss_weight(frame: pd.DataFrame, declared: str | None, name: str) -> pd.DataFrame:
    """The SPSS weight variable as ``weight`` (when the file has no ``weight`` column)."""
    if declared is None:
        return frame
    matches = [c for c in frame.columns if c.lower() == declared.lower()]
    if not matches or matches[0] == "weight":
        return frame
    if "weight" in frame.columns:
        warnings.warn(
            f"{name}: the file's weight variable {matches[0]!r} (WEIGHT BY) is not used: "
            f"the column 'weight' is the survey weight",
            UserWarning,
            stacklevel=4,
        )
        return frame
    warnings.warn(
        f"{name}: the file's weight variable {matches[0]!r} (WEIGHT BY) is the survey weight "
        f"(read as column 'weight')",
        UserWarning,
        stacklevel=4,
    )
    return frame.rename(columns={matches[0]: "weight"})


def spss_weight_variable(path: str | Path) -> str | None:
    """The weight variable an SPSS ``.sav`` file declares (``WEIGHT BY``), if any.

    pyreadstat does not report it, so the file's dictionary is read here: the
    header's weight index points at a variable record, whose short name the
    long-names record maps to the name pyreadstat gives.

    Parameters
    ----------
    path : str or pathlib.Path
        An SPSS system file (``.sav`` or ``.zsav``).

    Returns
    -------
    str or None
        The variable's name; ``None`` when no weight is declared or the
        dictionary cannot be followed.
    """
    with open(path, "rb") as stream:
        header = stream.read(_SPSS_HEADER)
        if len(header) < _SPSS_HEADER or header[:4] not in _SPSS_MAGIC:
            return None
        order = "<" if struct.unpack("<i", header[64:68])[0] in (2, 3) else ">"
        index = struct.unpack(order + "i", header[76:80])[0]
        if index <= 0:
            return None
        try:
            short, long_names = _spss_dictionary(stream, order, index)
        except (struct.error, ValueError, IndexError):
            return None
    if short is None:
        return None
    return long_names.get(short.upper(), short)


def _spss_dictionary(stream: IO[bytes], order: str, index: int) -> tuple[str | None, dict]:
    """The short name of the ``index``-th variable record, and the long names by short name."""

    def ints(count: int) -> tuple[int, ...]:
        return struct.unpack(order + "i" * count, stream.read(4 * count))

    short, long_names, position = None, {}, 0
    while True:
        (record,) = ints(1)
        if record == 2:
            _, has_label, n_missing, _, _ = ints(5)
            variable = stream.read(8)
            position += 1
            if position == index:
                short = variable.decode("utf-8", "replace").strip()
            if has_label:
                (length,) = ints(1)
                stream.seek((length + 3) // 4 * 4, 1)
            stream.seek(abs(n_missing) * 8, 1)
        elif record == 3:
            (count,) = ints(1)
            for _ in range(count):
                stream.seek(8, 1)
                length = stream.read(1)[0]
                stream.seek((length + 8) // 8 * 8 - 1, 1)
        elif record == 4:
            (count,) = ints(1)
            stream.seek(4 * count, 1)
        elif record == 6:
            (count,) = ints(1)
            stream.seek(80 * count, 1)
        elif record == 7:
            subtype, size, count = ints(3)
            data = stream.read(size * count)
            if subtype == 13:
                for pair in data.decode("utf-8", "replace").split("\t"):
                    key, _, value = pair.partition("=")
                    if value:
                        long_names[key.strip().upper()] = value.strip()
        else:  # 999: the dictionary ends
            return short, long_names
