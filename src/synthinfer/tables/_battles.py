"""Battle logs reduced to counts per (model, opponent, human verdict, judge verdict).

:func:`battle_statistics` counts a battle log (``model_a``, ``model_b``, a
human and an autorater verdict per battle) per ``(model, opponent, human
verdict, judge verdict)``. The counting is written once against Narwhals and
runs where the log lives (files are scanned by DuckDB, or Spark); only the
small table of counts comes into pandas, where it is checked and every battle
is listed from both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthinfer._columns import BATTLE_COLUMNS
from synthinfer._validation import check_columns
from synthinfer.tables._rows import collect_pandas
from synthinfer.tables._sources import DEFAULT_MEMORY_LIMIT, Table
from synthinfer.tables._units import scan_options

__all__ = ["BattleStatistics", "Verdicts", "battle_statistics"]

_KIND = "battle log"


@dataclass(frozen=True)
class Verdicts:
    """Which values of a verdict column mean "A won", "B won" and "tie".

    Values are compared after trimming and lower-casing. An empty verdict
    (missing value or empty string) in the human column marks a battle the
    autorater judged alone.

    Parameters
    ----------
    a, b, tie : tuple of str
        Accepted spellings of each outcome.
    """

    a: tuple[str, ...] = ("a",)
    b: tuple[str, ...] = ("b",)
    tie: tuple[str, ...] = ("tie",)

    @classmethod
    def parse(cls, spec: str | Verdicts | None) -> Verdicts:
        """Parse ``"A,B,TIE"``; each part may list spellings separated by ``|``.

        Examples
        --------
        >>> Verdicts.parse("model_a,model_b,tie|tie (bothbad)").tie
        ('tie', 'tie (bothbad)')
        """
        if spec is None:
            return cls()
        if isinstance(spec, Verdicts):
            return spec
        parts = [part.strip() for part in str(spec).split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"verdicts must be three comma-separated values 'A,B,TIE' (alternatives "
                f"separated by '|'), got {spec!r}"
            )
        a, b, tie = (
            tuple(v.strip().lower() for v in part.split("|") if v.strip()) for part in parts
        )
        if len(set(a + b + tie)) != len(a + b + tie):
            raise ValueError(f"verdicts must not give one value two meanings, got {spec!r}")
        return cls(a, b, tie)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Codes 0 (A won), 1 (tie), 2 (B won), 3 (missing) or -1 (unknown)."""
        text = values.astype("string").str.strip().str.lower()
        out = np.full(len(values), -1, dtype=np.int64)
        for code, spellings in enumerate((self.a, self.tie, self.b)):
            out[text.isin(spellings).fillna(False).to_numpy(dtype=bool)] = code
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
        out[missing] = 3
        return out


@dataclass(frozen=True)
class BattleStatistics:
    """Counts of a battle log per (model, opponent, human verdict, judge verdict).

    Attributes
    ----------
    counts : pandas.DataFrame
        Columns ``model, opponent, human, judge, count``; verdicts are from the
        model's side (``win``, ``tie``, ``loss``; ``human`` is missing for a
        battle the autorater judged alone). Every battle appears twice, once
        from each side.
    times : pandas.Series or None
        Earliest battle time per model (when the log has a time column).
    n_battles : int
        Rows of the log.
    name : str
        Where the log came from (for messages).
    """

    counts: pd.DataFrame = field(repr=False)
    times: pd.Series | None = field(repr=False)
    n_battles: int
    name: str = "battles"


def battle_statistics(
    source: Any,
    *,
    model_a: str = "model_a",
    model_b: str = "model_b",
    human: str = "human",
    judge: str = "judge",
    time: str | None = None,
    verdicts: str | Verdicts | None = None,
    engine: Literal["duckdb", "spark"] = "duckdb",
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> BattleStatistics:
    """Reduce a battle log to counts per (model, opponent, human verdict, judge verdict).

    Parameters
    ----------
    source : path or dataframe
        Battle log, one row per battle: a CSV/TSV or Parquet path (a folder or
        a glob too), scanned out of core, or a dataframe of any Narwhals
        backend (pandas, polars, pyarrow, DuckDB, Spark, ...), counted where it
        lives.
    model_a, model_b, human, judge : str
        Column names of the two models and of the human and autorater
        verdicts (values ``a``, ``b``, ``tie`` by default, see ``verdicts``).
    time : str, optional
        Battle time column; each model's time is its earliest battle.
    verdicts : str or Verdicts, optional
        Verdict spellings, e.g. ``"model_a,model_b,tie|tie (bothbad)"``.
    engine : {"duckdb", "spark"}
        What scans files: DuckDB (embedded, out of core) or Spark.
    memory_limit : str
        DuckDB memory limit.
    threads : int, optional
        DuckDB threads.

    Returns
    -------
    BattleStatistics

    Raises
    ------
    ValueError
        Missing columns, empty model names, self-battles, unknown verdict
        values, or battles without an autorater verdict.
    """
    verdicts = Verdicts.parse(verdicts)
    table = Table(source, scan_options(engine, memory_limit, threads))
    columns = {"model_a": model_a, "model_b": model_b, "human": human, "judge": judge}
    if time is not None:
        columns["time"] = time
    grouped = _count(table, columns)
    return _orient_battles(grouped, verdicts, columns, table.where)


def _count(table: Table, columns: dict[str, str]) -> pd.DataFrame:
    """Battles per (model_a, model_b, human, judge) as written (verdicts trimmed, lower case)."""
    import narwhals.stable.v2 as nw

    def text(column: str):
        return nw.col(column).cast(nw.String)

    def verdict(column: str):
        return text(column).str.strip_chars().str.to_lowercase()

    with table.open() as frame:
        check_columns(frame.collect_schema().names(), list(columns.values()), table.where, _KIND)
        rows = frame.select(
            model_a=text(columns["model_a"]),
            model_b=text(columns["model_b"]),
            human=verdict(columns["human"]),
            judge=verdict(columns["judge"]),
            **({"time": nw.col(columns["time"])} if "time" in columns else {}),
        )
        counts = [nw.len().alias("count")]
        if "time" in columns:
            counts.append(nw.col("time").min().alias("time"))
        return collect_pandas(rows.group_by("model_a", "model_b", "human", "judge").agg(*counts))


def _verdict_error(name: str, column: str, grouped: pd.DataFrame, bad: np.ndarray, key: str):
    values = grouped.loc[bad].groupby(key, dropna=False)["count"].sum().sort_values()[::-1]
    shown = ", ".join(f"{value!r} ({int(n)} rows)" for value, n in values.head(5).items())
    return ValueError(
        f"{name}: column '{column}' has unknown verdict values: {shown}; verdicts must be "
        f"'a', 'b' or 'tie' (map other spellings with --verdicts A,B,TIE)"
    )


def _orient_battles(
    grouped: pd.DataFrame, verdicts: Verdicts, columns: dict[str, str], name: str
) -> BattleStatistics:
    """Validate the grouped log and list every battle from both sides."""
    if grouped.empty:
        raise ValueError(f"{name}: the battle log has no rows")
    for key in ("model_a", "model_b"):
        empty = grouped[key].isna() | (grouped[key].astype("string").str.strip() == "")
        if empty.any():
            n_empty = int(grouped.loc[empty, "count"].sum())
            raise ValueError(
                f"{name}: column '{columns[key]}' is empty in {n_empty} row(s); every battle "
                f"needs both model names"
            )
    same = (grouped["model_a"] == grouped["model_b"]).to_numpy(dtype=bool)
    if same.any():
        example = grouped.loc[same, "model_a"].iloc[0]
        raise ValueError(
            f"{name}: {int(grouped.loc[same, 'count'].sum())} battle(s) pit a model against "
            f"itself (e.g. {example!r} in columns '{columns['model_a']}' and "
            f"'{columns['model_b']}'); remove those rows"
        )
    human = verdicts.codes(grouped["human"])
    judge = verdicts.codes(grouped["judge"])
    for codes, key in ((human, "human"), (judge, "judge")):
        if (codes < 0).any():
            raise _verdict_error(name, columns[key], grouped, codes < 0, key)
    if (judge == 3).any():
        raise ValueError(
            f"{name}: column '{columns['judge']}' is empty in "
            f"{int(grouped.loc[judge == 3, 'count'].sum())} row(s); every battle needs an "
            f"autorater verdict (remove battles the autorater did not judge)"
        )
    counts = np.asarray(grouped["count"], dtype=np.int64)
    outcome_a = np.array(["win", "tie", "loss", None], dtype=object)
    outcome_b = np.array(["loss", "tie", "win", None], dtype=object)
    sides = pd.DataFrame(
        {
            "model": np.concatenate([grouped["model_a"], grouped["model_b"]]).astype(str),
            "opponent": np.concatenate([grouped["model_b"], grouped["model_a"]]).astype(str),
            "human": np.concatenate([outcome_a[human], outcome_b[human]]),
            "judge": np.concatenate([outcome_a[judge], outcome_b[judge]]),
            "count": np.concatenate([counts, counts]),
        }
    )
    table = (
        sides.groupby(["model", "opponent", "human", "judge"], dropna=False, sort=True)["count"]
        .sum()
        .reset_index()
    )
    times = None
    if "time" in grouped.columns:
        both = pd.DataFrame(
            {
                "model": np.concatenate([grouped["model_a"], grouped["model_b"]]).astype(str),
                "time": np.concatenate([grouped["time"].to_numpy(), grouped["time"].to_numpy()]),
            }
        )
        times = both.groupby("model")["time"].min()
    return BattleStatistics(
        counts=table[list(BATTLE_COLUMNS)], times=times, n_battles=int(counts.sum()), name=name
    )
