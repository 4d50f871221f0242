"""A persistent answer cache in SQLite, keyed by model, prompt, parameters and draw.

Every answer is written (and committed) as it arrives, so a run that stops —
a crash, a kill, a lost connection — keeps every answer it received, and a
rerun asks the server only for the rest. Without a file the cache lives in
memory for one run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["AnswerCache", "request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    reply TEXT NOT NULL
)
"""


def request_key(model: str, messages: Any, parameters: dict[str, Any], draw: int) -> str:
    """The cache key of one request: a SHA-256 of its model, messages, parameters and draw.

    Parameters
    ----------
    model : str
        Model name.
    messages : list of dict
        The chat messages.
    parameters : dict
        Everything else that shapes the answer (temperature, seed, mode,
        output schema, ...), JSON-serialisable.
    draw : int
        Index of the repeated draw.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    text = json.dumps(
        {"model": model, "messages": messages, "parameters": parameters, "draw": draw},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


class AnswerCache:
    """Answers by request key, in a SQLite file (or in memory).

    Parameters
    ----------
    path : str or Path, optional
        The cache file, created when missing. ``None`` keeps answers in memory.

    Notes
    -----
    The file uses SQLite's write-ahead log, so an answer committed before a
    crash is kept. Use one cache from one thread (the run's event loop).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None and not self.path.parent.is_dir():
            raise FileNotFoundError(f"cache: the folder of {self.path} does not exist")
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else self.path)
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as error:
            raise ValueError(
                f"cache: {self.path} is not a synthinfer answer cache ({error})"
            ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply of ``key``, or None."""
        row = self._db.execute("SELECT reply FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, reply: dict[str, Any]) -> None:
        """Store and commit one reply."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, model, created, reply) VALUES (?, ?, ?, ?)",
            (key, model, time.time(), json.dumps(reply, ensure_ascii=False)),
        )
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
