"""The one wording of every problem found in a unit-level table.

:mod:`synthinfer.tables._checks` counts bad rows in the same pass that sums
the statistics; this module turns a count (with a few example values and,
where the source has a row order, their line numbers) into one ``ValueError``
whose one-line message names the data, the column and what to do. Line
numbers count the header as line 1, as a spreadsheet or editor shows a CSV
file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Located", "key_text", "lines_text", "nonresponse_text", "plain", "row_problem"]

_SHOWN = 5


@dataclass(frozen=True)
class Located:
    """Bad rows of one kind: their ``count``, up to five ``examples`` as the table
    holds them, and the 0-based row ``positions`` of the examples (empty when the
    source has no row order, e.g. a lazy or distributed frame)."""

    count: int
    examples: tuple = ()
    positions: tuple[int, ...] = ()

    @property
    def example(self) -> object:
        """The first offending value (``None`` if none was fetched)."""
        return plain(self.examples[0]) if self.examples else None


def plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds (so messages show ``0``, not ``np.int64(0)``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", None) == 0 else value


def lines_text(positions: Sequence[int], count: int) -> str:
    """``line 6`` or ``lines 2, 3, 9 and 4 more`` (the header is line 1)."""
    shown = ", ".join(str(p + 2) for p in positions[:_SHOWN])
    more = f" and {count - min(len(positions), _SHOWN)} more" if count > _SHOWN else ""
    return f"line {shown}{more}" if count == 1 else f"lines {shown}{more}"


def key_text(task: object, coord: object = "") -> str:
    """``task 'a'`` or ``task 'a' / coord 'x'``."""
    text = f"task {plain(task)!r}"
    return text + (f" / coord {plain(coord)!r}" if coord not in ("", None) else "")


_FIRST_ROWS = {
    "source": "column 'source' must be 'real' or 'synthetic', got {example!r} at {lines}",
    "text": "column {name} has non-numeric values ({example!r} at {lines})",
    "missing": "column {name} has missing (NaN) values at {lines}",
    "infinite": "column {name} has infinite values at {lines}",
    "negative": "column {name} has negative weights at {lines}",
}
"""Where the first bad rows of each kind are, said when the rows have an order."""


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def row_problem(where: str, kind: str, column: str, located: Located) -> ValueError:
    """The error for bad rows of one ``kind`` in ``column``.

    Parameters
    ----------
    where : str
        The data's name (a path, or ``data``).
    kind : str
        ``empty-id``, ``source``, ``text``, ``missing``, ``infinite`` or ``negative``.
    column : str
        The column holding the bad values.
    located : Located
        Their count, examples and positions.

    Returns
    -------
    ValueError
        One line: where the first bad rows are (when the rows have an order),
        then how many there are and what to do.
    """
    n, ex, name = located.count, located.example, repr(column)
    lines = lines_text(located.positions, n) if located.positions else ""
    if kind == "empty-id":
        at = f"at {lines}" if lines else f"in {n} row(s)"
        text = f"column {name} is empty {at}; every row needs {_article(column)} {column} id"
    elif kind == "source":
        values = ", ".join(map(repr, sorted({str(plain(v)) for v in located.examples})))
        text = (
            f"column 'source' must be 'real' or 'synthetic'; {n} row(s) have other values "
            f"({values}): rename or remove them"
        )
    elif kind == "text":
        text = f"column {name} has {n} non-numeric value(s) (e.g. {ex!r}): fix or remove those rows"
    elif kind in ("missing", "infinite"):
        text = (
            f"column {name} has {n} missing (NaN) or infinite value(s) (e.g. {ex!r}): use "
            f"finite numbers or remove those rows"
        )
    elif kind == "negative":
        text = f"column {name} has {n} negative value(s) (e.g. {ex!r}); survey weights must be >= 0"
    else:
        raise KeyError(kind)
    first = lines and _FIRST_ROWS.get(kind, "").format(name=name, example=ex, lines=lines)
    return ValueError(f"{where}: " + "; ".join(part for part in (first, text) if part))


def _listed(parts: Sequence[str]) -> str:
    """The first few ``parts``, then how many more."""
    more = f" and {len(parts) - _SHOWN} more" if len(parts) > _SHOWN else ""
    return ", ".join(parts[:_SHOWN]) + more


def nonresponse_text(where: str, statistics) -> str:
    """The one note on empty values (non-response), per task and source; ``""`` when none.

    Parameters
    ----------
    where : str
        The data's name.
    statistics : pandas.DataFrame
        Per ``(task, coord)``: ``n_missing_synth``, ``n_missing_real`` and
        ``n_pairs_lost``.

    Returns
    -------
    str
        E.g. ``data: 3 empty values (non-response) left out of every estimate:
        task 'q1' 2 synthetic, task 'q2' 1 real; 1 unit with real and
        synthetic rows left out of the paired gap, its values on one side all
        empty (task 'q1' 1)``.
    """
    synth, real = statistics["n_missing_synth"], statistics["n_missing_real"]
    total = int(synth.sum() + real.sum())
    if not total:
        return ""
    parts = []
    for task, coord, s, r in zip(statistics["task"], statistics["coord"], synth, real, strict=True):
        sides = [f"{int(n)} {name}" for n, name in ((s, "synthetic"), (r, "real")) if n]
        if sides:
            parts.append(f"{key_text(task, coord)} {' and '.join(sides)}")
    values = "value" if total == 1 else "values"
    text = f"{where}: {total} empty {values} (non-response) left out of every estimate: "
    text += _listed(parts)
    lost = statistics[statistics["n_pairs_lost"] > 0]
    if len(lost):
        n = int(lost["n_pairs_lost"].sum())
        units = "unit" if n == 1 else "units"
        its = "its values" if n == 1 else "their values"
        where_lost = [
            f"{key_text(task, coord)} {int(k)}"
            for task, coord, k in zip(
                lost["task"], lost["coord"], lost["n_pairs_lost"], strict=True
            )
        ]
        text += (
            f"; {n} {units} with real and synthetic rows left out of the paired gap, {its} on "
            f"one side all empty ({_listed(where_lost)})"
        )
    return text
