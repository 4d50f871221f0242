"""A checked unit-level table's rows, read back a few tasks at a time.

Wald intervals need only the per-task statistics; bootstrap, Hoeffding and
exact-quantile intervals need values. :class:`UnitRows` reads them from where
the table lives (the file again, or the frame), a batch of tasks at a time
and only the columns needed, in the table's row order where it has one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthinfer._columns import NO_COORD
from synthinfer.tables._problems import Located
from synthinfer.tables._rows import UnitLayout, collect_pandas, responses, text_ids, typed_rows
from synthinfer.tables._sources import Table

__all__ = ["UnitRows"]

_ROWS_PER_READ = 2_000_000


@dataclass(frozen=True)
class UnitRows:
    """The rows of a checked unit-level table, read back a few tasks at a time.

    ``table`` is the source and ``layout`` its columns; ``task_ids`` and
    ``coord_ids`` give each task's and coordinate's id as the table holds it, by
    its text; ``value_range`` is the smallest and largest value of the table.
    """

    table: Table
    layout: UnitLayout
    task_ids: dict[str, Any] = field(default_factory=dict, repr=False)
    coord_ids: dict[str, Any] = field(default_factory=dict, repr=False)
    value_range: tuple[float, float] = (-np.inf, np.inf)

    @property
    def weighted(self) -> bool:
        """Whether the rows carry survey weights."""
        return self.layout.weighted

    @property
    def paired(self) -> bool:
        """Whether the rows are paired by ``unit``."""
        return self.layout.paired

    def _rows(self, frame: Any, coord: str):
        """The typed rows of one coordinate."""
        import narwhals.stable.v2 as nw

        rows = typed_rows(frame, self.layout)
        if not self.layout.coord:
            return rows
        return rows.filter(nw.col("coord") == self.coord_ids[coord])

    def read(self, tasks: Sequence[str], coord: str = NO_COORD) -> pd.DataFrame:
        """The rows of ``tasks`` for one coordinate, in the table's row order.

        Rows with an empty value (non-response) are left out, as from every
        estimate.

        Returns
        -------
        pandas.DataFrame
            ``task, source, value`` (and ``weight``, ``unit`` as the table has them).
        """
        import narwhals.stable.v2 as nw

        columns = ["task", "source", "value"]
        columns += ["weight"] * self.weighted + ["unit"] * self.paired
        wanted = [self.task_ids[task] for task in tasks]
        with self.table.open(ordered=True) as frame:
            chosen = self._rows(frame, coord).filter(nw.col("task").is_in(wanted))
            rows = collect_pandas(responses(chosen).select(*columns))
        return rows.assign(task=text_ids(rows["task"]))

    def per_task(
        self, tasks: Sequence[str], sizes: Sequence[int], coord: str = NO_COORD
    ) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each task's rows in turn (read in batches of about two million rows).

        Parameters
        ----------
        tasks : sequence of str
            The tasks, in the order wanted.
        sizes : sequence of int
            Each task's row count (to size the batches; rows with a value will do).
        coord : str
            The coordinate.
        """
        for batch in _batches(list(tasks), list(sizes)):
            rows = self.read(batch, coord)
            groups = dict(tuple(rows.groupby("task", sort=False)))
            empty = rows.iloc[:0]
            for task in batch:
                yield task, groups.get(task, empty)

    def outside(self, low: float, high: float, coord: str = NO_COORD) -> Located:
        """Values of one coordinate outside ``[low, high]``: count and examples."""
        import narwhals.stable.v2 as nw

        if low <= self.value_range[0] and self.value_range[1] <= high:
            return Located(0)
        value = nw.col("value")
        with self.table.open(ordered=True) as frame:
            flagged = self._rows(frame, coord).with_columns(
                out=((value < low) | (value > high)).cast(nw.Int64)
            )
            count = collect_pandas(flagged.select(nw.col("out").sum()))["out"].iloc[0]
            found = collect_pandas(flagged.filter(nw.col("out") == 1).select("value").head(5))
        return Located(int(count or 0), tuple(found["value"]))


def _batches(tasks: list[str], sizes: list[int]) -> Iterator[list[str]]:
    batch: list[str] = []
    total = 0
    for task, size in zip(tasks, sizes, strict=True):
        if batch and total + size > _ROWS_PER_READ:
            yield batch
            batch, total = [], 0
        batch.append(task)
        total += int(size)
    if batch:
        yield batch
