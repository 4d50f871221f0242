"""CSV text in any encoding and compression, made readable by DuckDB.

DuckDB reads UTF-8 text only, compressed with gzip or zstd. A CSV in another
encoding (Latin-1 and Windows-1252 exports of SPSS and Excel, UTF-16 "Unicode
text"), or compressed with bzip2 or xz, is transcoded once into a UTF-8 copy:
streamed in chunks of :data:`CHUNK` bytes, so memory stays bounded at any
file size. The copy lives in a temporary folder of the process, is kept for
the few scans one analysis makes of the same file (at most
:data:`KEPT_COPIES` copies), and is removed when the process exits.

**Detection** (when no encoding is given), in this order:

1. a byte-order mark: UTF-8 (``utf-8-sig``), UTF-32 or UTF-16;
2. NUL bytes near the start: not text, or UTF-16 without a byte-order mark,
   which stops with an error that says to give the encoding;
3. the whole file is valid UTF-8: ``utf-8`` (one streamed pass; pure ASCII
   chunks are checked at memory speed);
4. otherwise a single-byte Western encoding: ``cp1252`` (Windows Western
   European, a superset of Latin-1's printable characters) when every byte
   decodes in it, else ``latin-1`` (which decodes any byte), with a warning
   that says how to give another encoding.

Giving ``utf-8`` explicitly skips the check; a byte that is not UTF-8 then
stops the scan with an error that names the file and the fix.
"""

from __future__ import annotations

import atexit
import bz2
import codecs
import gzip
import lzma
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "CHUNK",
    "KEPT_COPIES",
    "UTF8",
    "check_encoding",
    "codec_name",
    "decode_problem",
    "detect_encoding",
    "duckdb_compression",
    "fallback_note",
    "is_fallback",
    "readable_path",
]

CHUNK = 1 << 20
"""Bytes read at a time when checking or transcoding a file."""

KEPT_COPIES = 4
"""UTF-8 copies kept per process (the oldest is removed beyond it)."""

UTF8 = "utf-8"

_COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".bz2": "bz2", ".xz": "xz"}
_DUCKDB_COMPRESSIONS = {"gzip", "zstd"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_UTF8_FAMILY = {"utf-8", "utf-8-sig"}
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_FALLBACKS = ("cp1252", "latin-1")
_FIX = "--encoding latin-1 on the command line, encoding='latin-1' in Python"

_lock = threading.Lock()
_seen: dict[tuple[str, int, int], str] = {}
_copies: OrderedDict[tuple[str, int, int, str], str] = OrderedDict()
_folder: list[str] = []


def check_encoding(encoding: str | None) -> str | None:
    """``encoding`` if Python knows it (``None`` means: detect it).

    Raises
    ------
    ValueError
        If ``encoding`` is not a text encoding Python knows.
    """
    if encoding is None:
        return None
    try:
        b"a".decode(encoding)  # refuses unknown names and codecs that are not text (hex, zlib)
        known = True
    except UnicodeDecodeError:
        known = True
    except (LookupError, TypeError):
        known = False
    if not known:
        raise ValueError(
            f"encoding must be a text encoding such as 'utf-8', 'latin-1', 'cp1252' or "
            f"'utf-16', got {encoding!r}"
        )
    return encoding


def codec_name(encoding: str) -> str:
    """The canonical name of an encoding (``latin-1`` → ``iso8859-1``)."""
    return codecs.lookup(encoding).name


def is_fallback(encoding: str) -> bool:
    """Whether detection guessed a single-byte encoding (worth a warning)."""
    return encoding in _FALLBACKS


def fallback_note(name: str, encoding: str) -> str:
    """The warning that a file was read in a guessed single-byte encoding."""
    return (
        f"{name}: not UTF-8 text; read as {encoding} (Windows/Latin-1 Western European). "
        f"If accented letters look wrong, give the file's encoding (--encoding, or "
        f"encoding= in Python), e.g. cp1250 or mac-roman"
    )


def decode_problem(name: str, encoding: str, detail: str = "") -> ValueError:
    """The error for bytes that are not text in ``encoding``: names the file and the fix."""
    where = f" ({detail})" if detail else ""
    return ValueError(
        f"{name}: not valid {encoding} text{where}; give the file's encoding, e.g. {_FIX}"
    )


def duckdb_compression(path: str) -> str | None:
    """The ``compression`` DuckDB needs for ``path`` (gzip, zstd), or ``None`` for plain text."""
    compression = _COMPRESSION.get(Path(path).suffix.lower())
    return compression if compression in _DUCKDB_COMPRESSIONS else None


def _open_binary(path: str) -> IO[bytes] | None:
    """``path`` opened for reading its (decompressed) bytes; ``None`` when Python cannot."""
    compression = _COMPRESSION.get(Path(path).suffix.lower())
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard.open(path, "rb")


def _chunks(stream: IO[bytes]) -> Iterable[bytes]:
    return iter(lambda: stream.read(CHUNK), b"")


def _key(path: str) -> tuple[str, int, int]:
    status = os.stat(path)
    return os.path.realpath(path), status.st_size, status.st_mtime_ns


def detect_encoding(path: str) -> str:
    """The encoding of a CSV file, by the rule of this module (remembered per file version).

    Parameters
    ----------
    path : str
        A CSV or TSV file, compressed or not. A zstd file is checked when the
        ``zstandard`` package is installed, and read as UTF-8 otherwise.

    Returns
    -------
    str
        ``utf-8``, ``utf-8-sig``, ``utf-16``, ``utf-32``, ``cp1252`` or ``latin-1``.

    Raises
    ------
    ValueError
        If the start of the file holds NUL bytes (not text, or UTF-16
        without a byte-order mark).
    """
    key = _key(path)
    with _lock:
        if key in _seen:
            return _seen[key]
    with _unreadable(path):
        encoding = _detected(path)
    with _lock:
        if len(_seen) > 256:
            _seen.clear()
        _seen[key] = encoding
    return encoding


def _detected(path: str) -> str:
    """Detection by the rule of the module notes (the file read once, twice if not UTF-8)."""
    stream = _open_binary(path)
    if stream is None:
        return UTF8
    with stream:
        head = stream.read(CHUNK)
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                return encoding
        if b"\x00" in head[:65536]:
            raise ValueError(
                f"{path}: the file holds NUL bytes: it is not CSV text, or it is UTF-16 "
                f"without a byte-order mark; give the encoding, e.g. --encoding utf-16-le "
                f"(encoding='utf-16-le' in Python)"
            )
        decoder = codecs.getincrementaldecoder(UTF8)()
        try:
            for chunk in _chained(head, stream):
                if chunk.isascii() and not decoder.getstate()[0]:
                    continue
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return UTF8
        except UnicodeDecodeError:
            pass
    with _open_binary(path) as stream:  # type: ignore[union-attr]
        if any(_NOT_CP1252.search(chunk) for chunk in _chunks(stream)):
            return "latin-1"
    return "cp1252"


@contextmanager
def _unreadable(name: str) -> Iterator[None]:
    """A file that cannot be decompressed becomes one ``ValueError`` naming it."""
    try:
        yield
    except (EOFError, lzma.LZMAError, gzip.BadGzipFile) as error:
        raise ValueError(f"{name}: cannot decompress the file ({error})") from None
    except OSError as error:
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise ValueError(f"{name}: cannot decompress the file ({error})") from None


def _chained(head: bytes, stream: IO[bytes]) -> Iterable[bytes]:
    yield head
    yield from _chunks(stream)


def readable_path(path: str, encoding: str | None, name: str) -> tuple[str, str]:
    """A file DuckDB can read for the CSV ``path``, and the encoding it was read in.

    Parameters
    ----------
    path : str
        A CSV or TSV file, compressed or not.
    encoding : str or None
        The file's encoding, or ``None`` to detect it (see the module notes).
    name : str
        The file's name in messages.

    Returns
    -------
    (str, str)
        ``path`` itself when it is UTF-8 and compressed (if at all) as DuckDB
        reads it; otherwise a UTF-8 copy in a temporary folder (kept for the
        next scans of the same file). Then the encoding used.

    Raises
    ------
    ValueError
        If the file is not text in the given encoding (the message names the
        file and the fix), or is zstd-compressed in an encoding other than
        UTF-8 without the ``zstandard`` package.
    """
    encoding = encoding or detect_encoding(path)
    compression = _COMPRESSION.get(Path(path).suffix.lower())
    plain = compression is None or compression in _DUCKDB_COMPRESSIONS
    if codec_name(encoding) in _UTF8_FAMILY and plain:
        return path, encoding
    key = (*_key(path), codec_name(encoding))
    with _lock:
        if key in _copies and os.path.exists(_copies[key]):
            _copies.move_to_end(key)
            return _copies[key], encoding
    with _unreadable(name):
        copy = _transcode(path, encoding, name)
    with _lock:
        _copies[key] = copy
        while len(_copies) > KEPT_COPIES:
            _, old = _copies.popitem(last=False)
            Path(old).unlink(missing_ok=True)
    return copy, encoding


def _transcode(path: str, encoding: str, name: str) -> str:
    """Stream ``path`` from ``encoding`` into a new UTF-8 file; its path."""
    stream = _open_binary(path)
    if stream is None:
        raise ValueError(
            f"{name}: reading a zstd-compressed file in {encoding} needs the zstandard "
            f"package (pip install zstandard), or decompress it first (zstd -d)"
        )
    suffix = ".tsv" if ".tsv" in Path(path).name.lower() else ".csv"
    handle, copy = tempfile.mkstemp(prefix="utf8-", suffix=suffix, dir=_copy_folder())
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    read = 0
    try:
        with stream, os.fdopen(handle, "w", encoding=UTF8, newline="") as out:
            for chunk in _chunks(stream):
                out.write(decoder.decode(chunk))
                read += len(chunk)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as error:
        Path(copy).unlink(missing_ok=True)
        byte = error.object[error.start : error.start + 1]
        detail = f"byte 0x{byte.hex().upper()} near offset {read + error.start}"
        raise decode_problem(name, encoding, detail) from None
    except BaseException:
        Path(copy).unlink(missing_ok=True)
        raise
    return copy


def _copy_folder() -> str:
    """The process's folder of UTF-8 copies (made on first use, removed at exit)."""
    with _lock:
        if not _folder:
            folder = tempfile.mkdtemp(prefix="synthinfer-utf8-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _folder.append(folder)
        return _folder[0]
