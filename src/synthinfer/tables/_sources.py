"""Any table as one Narwhals LazyFrame: files scanned by DuckDB (or Spark), frames as given.

A *source* is a path (CSV or TSV in any encoding, compressed too; a Parquet
file, a partitioned Parquet folder or a glob; an Excel, Stata or SPSS file)
or a dataframe of any backend Narwhals knows: pandas, polars (eager or lazy),
pyarrow, a DuckDB relation, a PySpark DataFrame (classic or Spark Connect),
sqlframe, ... :func:`scan` opens it as a lazy frame on which every
computation of :mod:`synthinfer.tables` runs natively; files are read by a
DuckDB connection the library owns (a memory limit and a spill directory keep
memory bounded at any row count), or by a Spark session with
``engine="spark"``. A CSV that is not UTF-8 (or is compressed in a way DuckDB
does not read) is streamed into a UTF-8 copy first (see
:mod:`synthinfer.tables._encodings`); Excel, Stata and SPSS files are read
whole into pandas (see :mod:`synthinfer.tables._surveyfiles`).

DuckDB, Narwhals and PySpark are imported inside the functions that need them,
so importing the package stays fast.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthinfer._validation import check_choice, check_count
from synthinfer.tables._encodings import (
    check_encoding,
    codec_name,
    decode_problem,
    detect_encoding,
    duckdb_compression,
    fallback_note,
    is_fallback,
    readable_path,
)
from synthinfer.tables._surveyfiles import SURVEY_KINDS, survey_frame

if TYPE_CHECKING:
    import narwhals.stable.v2 as nw

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "ENGINES",
    "POSITION",
    "FileSpec",
    "ScanOptions",
    "Table",
    "is_path",
    "resolve_path",
    "scan",
    "source_columns",
    "source_name",
    "utf8_file",
]

ENGINES = ("duckdb", "spark")
DEFAULT_MEMORY_LIMIT = "1GB"
POSITION = "__synthinfer_row"
"""Column holding a row's 0-based position, where the source has a row order."""

_CSV = {".csv": ",", ".txt": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = (".parquet", ".pq")
_COMPRESSED = {".gz", ".gzip", ".zst", ".bz2", ".xz"}
_SURVEY = set(SURVEY_KINDS.values())
_SPARK_CHARSETS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "iso8859-1": "iso-8859-1",
    "ascii": "us-ascii",
    "utf-16": "utf-16",
    "utf-16-be": "utf-16be",
    "utf-16-le": "utf-16le",
    "utf-32": "utf-32",
}
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$", re.IGNORECASE)
_SPARK_EXTRA = "pip install 'synthinfer[spark]'"


@dataclass(frozen=True)
class ScanOptions:
    """How files are scanned.

    Parameters
    ----------
    engine : {"duckdb", "spark"}
        ``duckdb`` (embedded, out of core) or ``spark`` (the active Spark
        session, else a local one; ``spark_remote`` for Spark Connect). Frames
        are always computed on by their own backend.
    memory_limit : str
        DuckDB memory limit (e.g. ``"1GB"``); DuckDB spills to disk beyond it.
    threads : int, optional
        DuckDB threads (default: all cores).
    spark_remote : str, optional
        A Spark Connect address (``sc://HOST:PORT``) for ``engine="spark"``.
    encoding : str, optional
        The text encoding of CSV files (any Python codec name: ``latin-1``,
        ``cp1252``, ``utf-16`` ...), and of Stata and SPSS files whose own
        declaration is wrong. Default: detected (UTF-8, a byte-order mark,
        else Windows-1252 or Latin-1 with a warning; see
        :mod:`synthinfer.tables._encodings`).
    """

    engine: str = "duckdb"
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    threads: int | None = None
    spark_remote: str | None = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", check_choice(self.engine, ENGINES, "engine"))
        check_encoding(self.encoding)
        if not isinstance(self.memory_limit, str) or not _MEMORY.match(self.memory_limit):
            raise ValueError(
                f"memory_limit must be a size such as '1GB' or '512MB', got {self.memory_limit!r}"
            )
        if self.threads is not None:
            check_count(self.threads, "threads")


def is_path(source: object) -> bool:
    """Whether ``source`` names a file, folder or glob (rather than being a frame)."""
    return isinstance(source, str | os.PathLike)


def source_name(source: object) -> str:
    """The name used in messages: the path, or ``data`` for a frame."""
    return str(source) if is_path(source) else "data"


# ----------------------------------------------------------------------------- files
@dataclass(frozen=True)
class FileSpec:
    """A path resolved to what DuckDB or Spark reads.

    Attributes
    ----------
    pattern : str
        The file, or a glob (a partitioned folder becomes ``folder/**/*.parquet``).
    kind : {"csv", "parquet", "excel", "stata", "spss"}
        The format.
    delimiter : str
        The CSV field separator.
    single : bool
        Whether it is one file (whose rows have positions).
    files : tuple of str
        The files DuckDB reads instead of ``pattern`` (UTF-8 copies of the
        files a glob matches); empty to read ``pattern``.
    compression : str, optional
        The CSV compression to tell DuckDB (``gzip``, ``zstd``); ``None``
        lets it go by the file name.
    """

    pattern: str
    kind: str
    delimiter: str = ","
    single: bool = True  # one file, whose rows have positions
    files: tuple[str, ...] = ()
    compression: str | None = None

    @property
    def literal(self) -> str:
        """The pattern (or the list of files) as an SQL literal."""
        if self.files:
            return "[" + ", ".join(_quoted(f) for f in self.files) + "]"
        return _quoted(self.pattern)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _suffixes(name: str) -> list[str]:
    suffixes = [s.lower() for s in Path(name).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return suffixes


def resolve_path(source: str | os.PathLike) -> FileSpec:
    """What a path names: a CSV/TSV, Parquet, Excel, Stata or SPSS file, a folder, or a glob."""
    text = os.fspath(source)
    path = Path(text)
    if any(ch in text for ch in "*?["):
        return _typed(text, _suffixes(path.name), single=False)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        for suffix in _PARQUET:
            if any(path.rglob(f"*{suffix}")):
                return FileSpec(str(path / "**" / f"*{suffix}"), "parquet", single=False)
        raise ValueError(f"{path}: a folder is read as partitioned Parquet; it has no .parquet")
    return _typed(text, _suffixes(path.name), single=True)


def _typed(pattern: str, suffixes: list[str], *, single: bool) -> FileSpec:
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _CSV:
        return FileSpec(pattern, "csv", _CSV[suffix], single)
    if suffix in _PARQUET:
        return FileSpec(pattern, "parquet", ",", single)
    if suffix in SURVEY_KINDS:
        if not single:
            raise ValueError(f"{pattern}: read {suffix} files one at a time, not by a glob")
        if Path(pattern).suffix.lower() != suffix:
            raise ValueError(f"{pattern}: decompress {suffix} files before reading them")
        return FileSpec(pattern, SURVEY_KINDS[suffix], ",", single)
    raise ValueError(
        f"{pattern}: unknown file type {suffix!r}; use .csv or .tsv (any encoding; .gz, .zst, "
        f".bz2 or .xz too), .parquet, .xlsx, .dta or .sav"
    )


def utf8_file(file: FileSpec, encoding: str | None) -> FileSpec:
    """``file`` as DuckDB can read it: UTF-8 text, compressed with gzip or zstd if at all.

    Parameters
    ----------
    file : FileSpec
        A CSV file or glob (other kinds are returned as they are).
    encoding : str, optional
        The files' encoding; ``None`` detects it per file (a warning says when
        a file is read as Windows-1252 or Latin-1).

    Returns
    -------
    FileSpec
        ``file`` itself, or one that reads UTF-8 copies (see
        :func:`synthinfer.tables._encodings.readable_path`).
    """
    if file.kind != "csv":
        return file
    paths = [file.pattern] if file.single else sorted(glob.glob(file.pattern, recursive=True))
    readable = []
    for path in paths:
        copy, used = readable_path(path, encoding, path)
        if encoding is None and is_fallback(used):
            warnings.warn(fallback_note(path, used), UserWarning, stacklevel=4)
        readable.append(copy)
    compressions = {duckdb_compression(path) for path in readable}
    compression = compressions.pop() if len(compressions) == 1 else None
    if readable == paths:
        return replace(file, compression=compression)
    if file.single:
        return replace(file, pattern=readable[0], compression=compression)
    return replace(file, files=tuple(readable), compression=compression)


def _spill_directory() -> str:
    return tempfile.mkdtemp(prefix="synthinfer-duckdb-")


@contextmanager
def duckdb_connection(options: ScanOptions, *, ordered: bool = False) -> Iterator[Any]:
    """A private DuckDB connection with a memory limit and its own spill directory.

    Parameters
    ----------
    options : ScanOptions
        Memory limit and threads.
    ordered : bool
        Keep rows in file order (for reading rows back); aggregations leave
        it off, which lets DuckDB stream with less memory.
    """
    import duckdb

    spill = _spill_directory()
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = '{options.memory_limit.strip()}'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute(f"SET preserve_insertion_order = {str(ordered).lower()}")
        _quiet_progress(con, duckdb)
        if options.threads is not None:
            con.execute(f"SET threads = {int(options.threads)}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _quiet_progress(con: Any, duckdb: Any) -> None:
    """Turn DuckDB's progress bar off where DuckDB lets us.

    In a Jupyter kernel without ``ipywidgets`` DuckDB refuses to change the
    setting at all (an ``InvalidInputException``); its progress bar cannot be
    shown there either, so the connection is used as it is.
    """
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")


def _duckdb_reader(file: FileSpec, positions: bool, text_columns: tuple[str, ...]) -> str:
    if file.kind == "parquet":
        options = ["hive_partitioning = true", "union_by_name = true"]
        if positions and file.single:
            options.append("file_row_number = true")
        return f"read_parquet({file.literal}, {', '.join(options)})"
    options = ["header = true", f"delim = '{file.delimiter}'"]
    if file.compression:
        options.append(f"compression = '{file.compression}'")
    if text_columns:
        types = ", ".join(f"'{c}': 'VARCHAR'" for c in text_columns)
        options.append(f"types = {{{types}}}")
    ordinality = " WITH ORDINALITY" if positions and file.single else ""
    return f"read_csv({file.literal}, {', '.join(options)}){ordinality}"


def _duckdb_relation(con: Any, file: FileSpec, positions: bool, text_columns: tuple[str, ...]):
    reader = _duckdb_reader(file, positions, text_columns)
    if positions and file.single:
        counter = "file_row_number" if file.kind == "parquet" else "ordinality - 1"
        hidden = "file_row_number" if file.kind == "parquet" else "ordinality"
        return con.sql(f'SELECT * EXCLUDE ({hidden}), {counter} AS "{POSITION}" FROM {reader}')
    return con.sql(f"SELECT * FROM {reader}")


def spark_session(options: ScanOptions) -> Any:
    """The active Spark session, or a new local (or Spark Connect) one."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise ImportError(
            f"engine='spark' needs PySpark; install it with {_SPARK_EXTRA}"
        ) from error
    if options.spark_remote:
        return SparkSession.builder.remote(options.spark_remote).getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master("local[*]")
        .appName("synthinfer")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _spark_frame(options: ScanOptions, file: FileSpec) -> Any:
    reader = spark_session(options).read
    if file.kind == "parquet":
        folder = file.pattern.split(f"{os.sep}**{os.sep}")[0]
        return reader.parquet(folder if not file.single else file.pattern)
    pattern, encoding = file.pattern, options.encoding
    if encoding is None and file.single:
        encoding = detect_encoding(pattern)
        if is_fallback(encoding):
            warnings.warn(fallback_note(pattern, encoding), UserWarning, stacklevel=4)
    charset = _SPARK_CHARSETS.get(codec_name(encoding or "utf-8"))
    if charset is None:  # Spark reads only the encodings above: a local UTF-8 copy
        if options.spark_remote or not file.single:
            raise ValueError(
                f"{pattern}: Spark reads CSV in {', '.join(sorted(set(_SPARK_CHARSETS.values())))} "
                f"only, not {encoding}; convert the file to UTF-8 first (iconv -f {encoding} "
                f"-t utf-8)"
            )
        pattern, charset = readable_path(pattern, encoding, pattern)[0], "utf-8"
    return reader.csv(pattern, header=True, inferSchema=True, sep=file.delimiter, encoding=charset)


@contextmanager
def _utf8_errors(name: str) -> Iterator[None]:
    """DuckDB meeting bytes that are not UTF-8 becomes one error naming the file and the fix."""
    try:
        yield
    except Exception as error:
        text = str(error)
        if "Invalid unicode" in text or "not utf-8 encoded" in text:
            raise decode_problem(name, "UTF-8") from None
        raise


def _eager(frame: Any, positions: bool) -> Any:
    """A pandas frame read from a file, as a LazyFrame (with row positions if asked)."""
    import narwhals.stable.v2 as nw

    eager = nw.from_native(frame, eager_only=True)
    return (eager.with_row_index(POSITION) if positions else eager).lazy()


# ---------------------------------------------------------------------------- frames
def _from_native(source: object, name: str) -> Any:
    import narwhals.stable.v2 as nw

    try:
        return nw.from_native(source)
    except TypeError:
        raise TypeError(
            f"{name}: expected a path or a dataframe (pandas, polars, pyarrow, DuckDB, Spark, "
            f"...), got {type(source).__name__}"
        ) from None


@contextmanager
def scan(
    source: object,
    options: ScanOptions | None = None,
    *,
    positions: bool = False,
    ordered: bool = False,
    text_columns: tuple[str, ...] = (),
) -> Iterator[nw.LazyFrame]:
    """Open ``source`` as a Narwhals LazyFrame for the duration of a ``with`` block.

    Parameters
    ----------
    source : path or dataframe
        A file, folder or glob, or a dataframe of any Narwhals backend.
    options : ScanOptions, optional
        How files are read (DuckDB by default).
    positions : bool
        Add the column :data:`POSITION` (a row's 0-based position) where the
        source has a row order: eager frames and single files read by DuckDB.
    ordered : bool
        Keep file order when reading rows back (DuckDB).
    text_columns : tuple of str
        CSV columns DuckDB should read as text (to report unparseable values).

    Yields
    ------
    narwhals.LazyFrame
    """
    import narwhals.stable.v2 as nw

    options = options or ScanOptions()
    if not is_path(source):
        frame = _from_native(source, "data")
        if isinstance(frame, nw.DataFrame):
            frame = (frame.with_row_index(POSITION) if positions else frame).lazy()
        yield frame
        return
    file = resolve_path(source)
    name = source_name(source)
    if file.kind in _SURVEY:
        yield _eager(survey_frame(file.pattern, file.kind, encoding=options.encoding), positions)
        return
    if options.engine == "spark":
        yield nw.from_native(_spark_frame(options, file))
        return
    readable = utf8_file(file, options.encoding)
    with duckdb_connection(options, ordered=ordered) as con, _utf8_errors(name):
        yield nw.from_native(_duckdb_relation(con, readable, positions, text_columns))


@dataclass(frozen=True)
class Table:
    """A source and how to read it: what the aggregation and row reads take.

    Parameters
    ----------
    source : path or dataframe
        Any source :func:`scan` takes.
    options : ScanOptions
        How files are read.
    name : str, optional
        The name used in messages (default: the path, or ``data``).
    text_columns : tuple of str
        CSV columns read as text (set after DuckDB met a value its type
        guess could not convert, so the bad rows can be reported).
    reshape : callable, optional
        A lazy query applied to the source each time it is opened (e.g. a
        wide score table unpivoted into the unit-level format). It receives
        the frame with :data:`POSITION` where the source has a row order and
        keeps that column; it is dropped afterwards unless positions were asked.
    """

    source: object
    options: ScanOptions = ScanOptions()
    name: str | None = None
    text_columns: tuple[str, ...] = ()
    reshape: Callable[[Any], Any] | None = None

    @property
    def where(self) -> str:
        """The data's name for messages."""
        return self.name or source_name(self.source)

    @property
    def is_file(self) -> bool:
        """Whether the source is read from files."""
        return is_path(self.source)

    def open(self, *, positions: bool = False, ordered: bool = False):
        """:func:`scan` the source (a context manager yielding a LazyFrame)."""
        if self.reshape is not None:
            return self._reshaped(positions, ordered)
        return scan(
            self.source,
            self.options,
            positions=positions,
            ordered=ordered,
            text_columns=self.text_columns,
        )

    @contextmanager
    def _reshaped(self, positions: bool, ordered: bool) -> Iterator[nw.LazyFrame]:
        """The source opened with row positions, through :attr:`reshape`."""
        options = {"ordered": ordered, "text_columns": self.text_columns}
        with scan(self.source, self.options, positions=True, **options) as frame:
            frame = self.reshape(frame)  # type: ignore[misc]
            if not positions and POSITION in frame.collect_schema().names():
                frame = frame.drop(POSITION)
            yield frame

    def columns(self) -> list[str]:
        """Column names (a file's header or schema; nothing is read beyond it)."""
        with self.open() as frame:
            return [str(c) for c in frame.collect_schema().names()]


def source_columns(source: object, options: ScanOptions | None = None) -> list[str]:
    """Column names of a dataframe, or of a file (read from its header or schema).

    Parameters
    ----------
    source : path or dataframe
        Any source :func:`scan` takes.
    options : ScanOptions, optional
        How files are read.

    Returns
    -------
    list of str
    """
    with scan(source, options) as frame:
        return [str(c) for c in frame.collect_schema().names()]
