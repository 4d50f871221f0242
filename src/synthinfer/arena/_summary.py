"""Battle logs to calibrated intervals for model win rates and Bradley-Terry scores.

A battle log has one row per battle: two models, the human verdict and an
autorater's verdict on the same battle (``a``, ``b`` or ``tie``). Each model is
a task. The pipeline

1. counts battles per (model, opponent, human verdict, judge verdict) with
   :func:`synthinfer.tables._units.battle_statistics` (DuckDB for files, so logs
   of any length stream through a fixed memory budget);
2. reduces the counts to a **summary table** in DESIGN.md's format, one row
   per model: the synthetic (autorater) estimate and its standard error, the
   real (human) estimate, and the paired gap with its standard error;
3. runs :func:`synthinfer.evaluate.backtest` (or :func:`~synthinfer.evaluate.infer`
   for models without human verdicts) on that table, so the intervals equal
   those of ``synthinfer backtest`` on the written summary file.

Estimands
---------
**Win rate** of model ``m``: over its battles, a win scores 1, a tie 1/2 and a
loss 0; real = mean human score ``h``, synthetic = mean judge score ``j``,
paired gap = mean of ``h − j`` with standard error ``sd(h − j)/√n`` (ddof 1).

**Bradley-Terry strength** ``β`` with ``P(i beats j) = σ(β_i − β_j)``, a tie
counting as half a win for each side, and a reference model pinned at 0. For
each model ``m`` the *field* (every other model with human verdicts) is
fitted on the human battles not involving ``m`` by Newton's method on the
aggregated win matrix. Then ``m`` is placed against the fixed field by a
one-dimensional Newton fit, once from its human verdicts (real) and once from
its autorater verdicts on the same battles (synthetic). Standard errors come
from the Fisher information; the gap standard error from a paired bootstrap
over ``m``'s battles, drawn exactly as multinomial counts of the cells
(opponent × human verdict × judge verdict). The reference model defines the
scale and is never a task. ``*_elo`` columns give the Elo scale
(``β · 400 / ln 10``).

Rank intervals turn a strength interval ``[L, U]`` into ranks against the
field's point strengths: best rank ``1 + #{field models above U}``, worst
rank ``1 + #{field models above L}``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.tables._units import (
    DEFAULT_MEMORY_LIMIT,
    BattleStatistics,
    Verdicts,
    battle_statistics,
)

__all__ = [
    "ELO_SCALE",
    "ESTIMANDS",
    "ArenaResult",
    "ArenaSummary",
    "BattleCounts",
    "BradleyTerryFit",
    "arena",
    "arena_summary",
    "bradley_terry_summary",
    "fit_bradley_terry",
    "place_model",
    "rank_interval",
    "read_battles",
    "win_rate_summary",
]

ELO_SCALE = 400.0 / math.log(10.0)
ESTIMANDS = ("win-rate", "bradley-terry")
SCORES = np.array([1.0, 0.5, 0.0])
STRENGTH_BOUND = 30.0
DEFAULT_BOOTSTRAP = 200
_HUMAN_CODES = {"win": 0, "tie": 1, "loss": 2}


# ------------------------------------------------------------------ battle counts
@dataclass(frozen=True)
class BattleCounts:
    """Battle counts as an array over (model, opponent, human verdict, judge verdict).

    Attributes
    ----------
    models : tuple of str
        Model names (sorted).
    cells : ndarray of int, shape (K, K, 4, 3)
        ``cells[m, o, h, j]``: battles of ``m`` against ``o`` with human
        verdict ``h`` (win, tie, loss from ``m``'s side, or 3 = no human
        verdict) and judge verdict ``j`` (win, tie, loss).
    times : pandas.Series or None
        Numeric release time per model (decimal years for dates).
    name : str
        Where the log came from.
    """

    models: tuple[str, ...]
    cells: np.ndarray = field(repr=False)
    times: pd.Series | None = field(default=None, repr=False)
    name: str = "battles"

    @classmethod
    def from_statistics(
        cls, stats: BattleStatistics, *, releases: pd.DataFrame | str | Path | None = None
    ) -> BattleCounts:
        """Arrange :class:`~synthinfer.tables._units.BattleStatistics` as an array.

        Parameters
        ----------
        stats : BattleStatistics
            Counts from :func:`~synthinfer.tables._units.battle_statistics`.
        releases : DataFrame or path, optional
            Release table with columns ``model`` and ``time`` (or
            ``release_date``); it overrides times from the log.
        """
        table = stats.counts
        models = tuple(sorted(set(table["model"])))
        index = {model: i for i, model in enumerate(models)}
        human = table["human"].map(_HUMAN_CODES).fillna(3).to_numpy(dtype=np.int64)
        judge = table["judge"].map(_HUMAN_CODES).to_numpy(dtype=np.int64)
        cells = np.zeros((len(models), len(models), 4, 3), dtype=np.int64)
        np.add.at(
            cells,
            (
                table["model"].map(index).to_numpy(),
                table["opponent"].map(index).to_numpy(),
                human,
                judge,
            ),
            table["count"].to_numpy(dtype=np.int64),
        )
        times = _numeric_times(stats.times, stats.name) if stats.times is not None else None
        if releases is not None:
            times = _release_times(releases, models, stats.name)
        return cls(models=models, cells=cells, times=times, name=stats.name)

    @property
    def n_models(self) -> int:
        """Number of models ``K``."""
        return len(self.models)

    @property
    def paired(self) -> np.ndarray:
        """Battles with both verdicts, shape ``(K, K, 3, 3)`` (human × judge)."""
        return self.cells[:, :, :3, :]

    @property
    def judge_only(self) -> np.ndarray:
        """Battles with an autorater verdict only, shape ``(K, K, 3)``."""
        return self.cells[:, :, 3, :]

    @property
    def is_history(self) -> np.ndarray:
        """Models with human verdicts (history tasks); the rest are targets."""
        return self.paired.sum(axis=(1, 2, 3)) > 0

    def index(self, model: str) -> int:
        """Position of ``model``; a clear error if it fought no battle."""
        try:
            return self.models.index(model)
        except ValueError:
            raise ValueError(
                f"{self.name}: model {model!r} appears in no battle (known models: "
                f"{', '.join(self.models[:5])}{', ...' if self.n_models > 5 else ''})"
            ) from None

    def human_wins(self) -> tuple[np.ndarray, np.ndarray]:
        """Human win matrix (ties as half wins) and battle counts, each ``(K, K)``."""
        human = self.paired.sum(axis=-1)
        return human @ SCORES, human.sum(axis=-1)

    def order(self) -> list[str]:
        """Models from earliest to latest release (ties by name)."""
        if self.times is None:
            raise ValueError(
                f"{self.name}: ordering models by release needs times: give the log a time "
                f"column (--time-col) or a release table (--releases FILE)"
            )
        missing = [m for m in self.models if pd.isna(self.times.get(m, np.nan))]
        if missing:
            raise ValueError(
                f"{self.name}: model {missing[0]!r} has no release time ({len(missing)} such "
                f"model(s)); give every model a time in the release table"
            )
        return sorted(self.models, key=lambda m: (float(self.times[m]), m))


def _numeric_times(times: pd.Series, name: str) -> pd.Series:
    from synthinfer.data._taskdata import decimal_years, time_values

    times = times.copy()
    if pd.api.types.is_datetime64_any_dtype(times) or times.map(lambda v: hasattr(v, "year")).all():
        return decimal_years(pd.to_datetime(times)).rename("time")
    return time_values(times, where=f"{name}: time column").rename("time")


def _release_times(
    releases: pd.DataFrame | str | Path, models: Sequence[str], name: str
) -> pd.Series:
    from synthinfer.tables._io import read_table

    frame = releases if isinstance(releases, pd.DataFrame) else read_table(releases)
    where = "release table" if isinstance(releases, pd.DataFrame) else str(releases)
    column = next((c for c in ("time", "release_date") if c in frame.columns), None)
    if "model" not in frame.columns or column is None:
        raise ValueError(
            f"{where}: a release table needs columns 'model' and 'time' (or 'release_date'); "
            f"found {', '.join(map(repr, frame.columns))}"
        )
    if frame["model"].duplicated().any():
        raise ValueError(
            f"{where}: model {frame['model'][frame['model'].duplicated()].iloc[0]!r} is listed "
            f"twice; give each model one release time"
        )
    unknown = sorted(set(frame["model"].astype(str)) - set(models))
    if unknown:
        raise ValueError(
            f"{where}: model {unknown[0]!r} appears in no battle of {name} ({len(unknown)} such "
            f"model(s)); remove it from the release table or check the spelling"
        )
    times = pd.Series(frame[column].to_numpy(), index=frame["model"].astype(str))
    return _numeric_times(times, where).reindex(list(models))


def read_battles(
    source: str | Path | pd.DataFrame,
    *,
    model_a: str = "model_a",
    model_b: str = "model_b",
    human: str = "human",
    judge: str = "judge",
    time: str | None = None,
    releases: pd.DataFrame | str | Path | None = None,
    verdicts: str | Verdicts | None = None,
    engine: str = "auto",
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> BattleCounts:
    """Read and validate a battle log (CSV, Parquet or DataFrame) into counts.

    Parameters
    ----------
    source : path or DataFrame
        The log, one row per battle.
    model_a, model_b, human, judge : str
        Column names (defaults match ``arena_judge_battles.csv``).
    time : str, optional
        Battle time column; a model's time is its earliest battle. A column
        named ``time`` is used when present and no name is given.
    releases : DataFrame or path, optional
        Release table (``model``, ``time``); overrides the log's times.
    verdicts : str or Verdicts, optional
        Verdict spellings ``"A,B,TIE"`` (default ``a,b,tie``).
    engine : {"auto", "pandas", "duckdb"}
        Aggregation engine (``auto``: DuckDB for files, pandas for frames).
    memory_limit : str
        DuckDB memory limit.

    Returns
    -------
    BattleCounts
    """
    if time is None and "time" in _columns(source):
        time = "time"
    stats = battle_statistics(
        source,
        model_a=model_a,
        model_b=model_b,
        human=human,
        judge=judge,
        time=time,
        verdicts=verdicts,
        engine=engine,
        memory_limit=memory_limit,
    )
    return BattleCounts.from_statistics(stats, releases=releases)


def _columns(source) -> list[str]:
    if isinstance(source, pd.DataFrame):
        return list(source.columns)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, nrows=0).columns)


# --------------------------------------------------------------------- win rates
def _tasks(counts: BattleCounts, anchor: int, exclude: Sequence[str] = ()) -> list[int]:
    """Task models: all but the ``anchor`` earliest and ``exclude``."""
    if int(anchor) != anchor or anchor < 0:
        raise ValueError(f"anchor must be a non-negative integer, got {anchor!r}")
    anchors = set(counts.order()[: int(anchor)]) if anchor else set()
    if anchor and len(anchors) >= counts.n_models:
        raise ValueError(
            f"anchor {anchor} leaves no task among {counts.n_models} models; lower --anchor"
        )
    skip = anchors | set(exclude)
    return [i for i, model in enumerate(counts.models) if model not in skip]


def _mean_and_se(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``values`` with counts (last axes) and its SE ``s/√n`` (ddof 1)."""
    axes = tuple(range(1, counts.ndim))
    n = counts.sum(axis=axes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (counts * values).sum(axis=axes) / n
        centered = values - mean.reshape((-1,) + (1,) * (counts.ndim - 1))
        variance = (counts * centered**2).sum(axis=axes) / (n - 1)
        se = np.sqrt(variance / n)
    return mean, se


def _check_sizes(counts: BattleCounts, n: np.ndarray, tasks: list[int]) -> None:
    small = [i for i in tasks if n[i] < 2]
    if small:
        raise ValueError(
            f"{counts.name}: model {counts.models[small[0]]!r} has {int(n[small[0]])} usable "
            f"battle(s); a standard error needs at least 2 (add battles or drop the model)"
        )


def _warn_unused(counts: BattleCounts) -> None:
    unused = int(counts.judge_only[counts.is_history].sum())
    if unused:
        warnings.warn(
            f"{counts.name}: {unused} autorater-only battle side(s) of models with human "
            f"verdicts are left out (those models use their paired battles only)",
            stacklevel=3,
        )


def win_rate_summary(counts: BattleCounts, *, anchor: int = 0) -> pd.DataFrame:
    """Per-model win-rate summary table (a tie counts one half).

    Parameters
    ----------
    counts : BattleCounts
        The battle counts.
    anchor : int
        The ``anchor`` earliest models are never tasks.

    Returns
    -------
    pandas.DataFrame
        One row per task model: ``task, synth_estimate, synth_se,
        real_estimate, real_se, gap_estimate, gap_se, n_real, n_synth`` and
        ``time`` when release times are known. Models without human verdicts
        (targets) have empty real and gap fields.
    """
    tasks = _tasks(counts, anchor)
    history = counts.is_history
    _warn_unused(counts)
    paired = counts.paired.sum(axis=1)  # (K, 3, 3): human × judge
    judge_only = counts.judge_only.sum(axis=1)  # (K, 3)
    human_score, judge_score = SCORES[:, None], SCORES[None, :]
    real, real_se = _mean_and_se(paired, np.broadcast_to(human_score, (3, 3)))
    synth_paired, synth_paired_se = _mean_and_se(paired, np.broadcast_to(judge_score, (3, 3)))
    gap, gap_se = _mean_and_se(paired, human_score - judge_score)
    synth_target, synth_target_se = _mean_and_se(judge_only, SCORES)
    n_paired = paired.sum(axis=(1, 2))
    n_synth = np.where(history, n_paired, judge_only.sum(axis=1))
    _check_sizes(counts, n_synth, tasks)
    table = pd.DataFrame(
        {
            "task": list(counts.models),
            "synth_estimate": np.where(history, synth_paired, synth_target),
            "synth_se": np.where(history, synth_paired_se, synth_target_se),
            "real_estimate": np.where(history, real, np.nan),
            "real_se": np.where(history, real_se, np.nan),
            "gap_estimate": np.where(history, gap, np.nan),
            "gap_se": np.where(history, gap_se, np.nan),
            "n_real": np.where(history, n_paired, 0),
            "n_synth": n_synth,
        }
    )
    return _with_time(table, counts).iloc[tasks].reset_index(drop=True)


def _with_time(table: pd.DataFrame, counts: BattleCounts) -> pd.DataFrame:
    if counts.times is not None:
        table["time"] = counts.times.reindex(list(counts.models)).to_numpy(dtype=float)
    return table


# ---------------------------------------------------------------- Bradley-Terry
@dataclass(frozen=True)
class BradleyTerryFit:
    """A Bradley-Terry fit with one model pinned at 0.

    Attributes
    ----------
    strengths : ndarray
        ``β`` per model (the reference is 0).
    se : ndarray
        Standard errors from the inverse Fisher information (0 for the reference).
    reference : int
        Position of the pinned model.
    n_iter : int
        Newton iterations used.
    """

    strengths: np.ndarray
    se: np.ndarray
    reference: int
    n_iter: int


def _log_likelihood(beta: np.ndarray, wins: np.ndarray) -> float:
    difference = beta[:, None] - beta[None, :]
    return float(-(wins * np.logaddexp(0.0, -difference)).sum())


def _check_connected(wins: np.ndarray, models: Sequence[str] | None, what: str) -> None:
    """The maximum-likelihood strengths exist iff the 'beat' graph is strongly connected."""
    n_parts, labels = connected_components(wins > 0, directed=True, connection="strong")
    if n_parts > 1:
        names = list(models) if models is not None else [str(i) for i in range(len(wins))]
        sizes = np.bincount(labels)
        small = int(np.argmin(sizes))
        example = names[int(np.flatnonzero(labels == small)[0])]
        raise ValueError(
            f"{what}: the human battles do not connect the models (model {example!r} is in a "
            f"group that never wins or never loses against the rest); Bradley-Terry strengths "
            f"are not identified: add battles or drop that group"
        )


def fit_bradley_terry(
    wins: np.ndarray,
    games: np.ndarray,
    *,
    reference: int = 0,
    models: Sequence[str] | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BradleyTerryFit:
    """Maximum-likelihood Bradley-Terry strengths by Newton's method on aggregated counts.

    Parameters
    ----------
    wins : ndarray, shape (K, K)
        ``wins[i, j]``: wins of ``i`` over ``j`` (ties counted as one half).
    games : ndarray, shape (K, K)
        Battles between ``i`` and ``j`` (symmetric; ``wins + wins.T == games``).
    reference : int
        Model pinned at ``β = 0``.
    models : sequence of str, optional
        Names for error messages.
    tol : float
        Stop when the largest Newton step is below ``tol``.
    max_iter : int
        Iteration cap.

    Returns
    -------
    BradleyTerryFit

    Examples
    --------
    >>> wins = np.array([[0.0, 3.0], [1.0, 0.0]])
    >>> fit = fit_bradley_terry(wins, wins + wins.T)
    >>> round(float(fit.strengths[1]), 6)  # log(1/3)
    -1.098612
    """
    wins = np.asarray(wins, dtype=float)
    games = np.asarray(games, dtype=float)
    k = wins.shape[0]
    if wins.shape != (k, k) or games.shape != (k, k) or k < 2:
        raise ValueError(
            f"wins and games must be square (K, K) arrays with K >= 2, got {wins.shape}"
        )
    if not np.allclose(wins + wins.T, games):
        raise ValueError(
            "games must equal wins + wins.T (every battle gives its two sides 1 point)"
        )
    _check_connected(wins, models, "Bradley-Terry fit")
    free = np.arange(k) != reference
    beta = np.zeros(k)
    loglik = _log_likelihood(beta, wins)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        information, gradient = _information(beta, wins, games)
        step = np.zeros(k)
        step[free] = np.linalg.solve(information[np.ix_(free, free)], gradient[free])
        scale = 1.0
        while scale > 1e-8:
            candidate = _log_likelihood(beta + scale * step, wins)
            if candidate >= loglik - 1e-12 * abs(loglik):
                break
            scale /= 2.0
        beta = beta + scale * step
        loglik = _log_likelihood(beta, wins)
        if np.max(np.abs(scale * step)) < tol:
            break
    information, _ = _information(beta, wins, games)
    se = np.zeros(k)
    se[free] = np.sqrt(np.diag(np.linalg.inv(information[np.ix_(free, free)])))
    return BradleyTerryFit(strengths=beta, se=se, reference=int(reference), n_iter=n_iter)


def _information(
    beta: np.ndarray, wins: np.ndarray, games: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fisher information matrix and score vector of the Bradley-Terry log-likelihood."""
    p = expit(beta[:, None] - beta[None, :])
    gradient = wins.sum(axis=1) - (games * p).sum(axis=1)
    v = games * p * (1.0 - p)
    information = np.diag(v.sum(axis=1)) - v
    return information, gradient


def place_model(
    wins: np.ndarray,
    games: np.ndarray,
    field: np.ndarray,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Place a model against a fixed field by a one-dimensional Newton fit.

    Solves ``Σ_o wins_o = Σ_o games_o σ(β − field_o)`` for ``β``, vectorized
    over leading axes (e.g. bootstrap replicates); opponents on the last axis.
    Steps are capped at 1 and ``β`` at ±30 (a model that won or lost every
    battle has no finite strength).

    Parameters
    ----------
    wins, games : ndarray, shape (..., K)
        Wins (ties as one half) and battles against each field model.
    field : ndarray, shape (K,) or (..., K)
        Fixed field strengths.

    Returns
    -------
    strength, se : ndarray, shape (...)
        Strength and its standard error ``1/√(Σ games·p(1 − p))``.
    """
    wins = np.asarray(wins, dtype=float)
    games = np.asarray(games, dtype=float)
    field = np.asarray(field, dtype=float)
    total_wins = wins.sum(axis=-1)
    total = games.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(total_wins / total, 0.02, 0.98)
        centre = (games * field).sum(axis=-1) / total
    beta = np.nan_to_num(centre) + np.log(share / (1.0 - share))
    for _ in range(max_iter):
        p = expit(beta[..., None] - field)
        gradient = total_wins - (games * p).sum(axis=-1)
        information = (games * p * (1.0 - p)).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.clip(np.nan_to_num(gradient / information), -1.0, 1.0)
        beta = np.clip(beta + step, -STRENGTH_BOUND, STRENGTH_BOUND)
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    p = expit(beta[..., None] - field)
    information = (games * p * (1.0 - p)).sum(axis=-1)
    with np.errstate(divide="ignore"):
        se = 1.0 / np.sqrt(information)
    return beta, se


def _default_reference(counts: BattleCounts) -> str:
    history = [m for m, h in zip(counts.models, counts.is_history, strict=True) if h]
    if counts.times is not None and not counts.times.reindex(history).isna().any():
        return min(history, key=lambda m: (float(counts.times[m]), m))
    battles = counts.paired.sum(axis=(1, 2, 3))
    return max(history, key=lambda m: (battles[counts.models.index(m)], m))


@dataclass(frozen=True)
class _Placement:
    strength: np.ndarray
    se: np.ndarray


def _placements(cells: np.ndarray, field: np.ndarray) -> tuple[_Placement, _Placement]:
    """Human and judge placements from cells ``(..., K, 3, 3)`` (opponent × human × judge)."""
    games = cells.sum(axis=(-1, -2))
    human = place_model(cells.sum(axis=-1) @ SCORES, games, field)
    judge = place_model(cells.sum(axis=-2) @ SCORES, games, field)
    return _Placement(*human), _Placement(*judge)


def _bootstrap_gap_se(
    cells: np.ndarray, field: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> float:
    """SD of the paired-bootstrap gap ``β_human − β_judge`` (multinomial cell counts)."""
    flat = cells.reshape(-1).astype(float)
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=n_bootstrap).reshape((n_bootstrap, *cells.shape))
    human, judge = _placements(draws, field)
    return float(np.std(human.strength - judge.strength, ddof=1))


@dataclass(frozen=True)
class ArenaSummary:
    """A battle log reduced to a per-model summary table.

    Attributes
    ----------
    table : pandas.DataFrame
        The summary table (DESIGN.md format), one row per task model.
    estimand : str
        ``win-rate`` or ``bradley-terry``.
    reference : str or None
        The pinned model (Bradley-Terry).
    field : dict
        Bradley-Terry: per task, the field's point strengths used to place it
        (for rank intervals).
    n_models : int
        Models in the log.
    """

    table: pd.DataFrame = field(repr=False)
    estimand: str
    reference: str | None = None
    field: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    n_models: int = 0


def bradley_terry_summary(
    counts: BattleCounts,
    *,
    reference: str | None = None,
    anchor: int = 0,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    rng: np.random.Generator | int | None = None,
) -> ArenaSummary:
    """Per-model Bradley-Terry summary table (held-out placement, paired bootstrap gaps).

    Parameters
    ----------
    counts : BattleCounts
        The battle counts.
    reference : str, optional
        Model pinned at 0 (never a task). Default: the earliest model when
        release times are known, else the model with most human-judged battles.
    anchor : int
        The ``anchor`` earliest models are never tasks (they stay in the field).
    n_bootstrap : int
        Paired bootstrap replicates per history model for the gap SE.
    rng : Generator or int, optional
        Randomness for the bootstrap (keyword-only).

    Returns
    -------
    ArenaSummary
    """
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}")
    rng = np.random.default_rng(rng)
    history = counts.is_history
    if history.sum() < 2:
        raise ValueError(
            f"{counts.name}: Bradley-Terry needs human verdicts for at least 2 models, found "
            f"{int(history.sum())}"
        )
    reference = _default_reference(counts) if reference is None else reference
    ref = counts.index(reference)
    if not history[ref]:
        raise ValueError(
            f"{counts.name}: reference model {reference!r} has no human verdicts; pick a model "
            f"with human-judged battles (--reference)"
        )
    _warn_unused(counts)
    tasks = _tasks(counts, anchor, exclude=[reference])
    wins, games = counts.human_wins()
    rows, fields = [], {}
    full_field = _field(counts, wins, games, history, ref, exclude=None)
    for task in tasks:
        model = counts.models[task]
        strengths = (
            _field(counts, wins, games, history, ref, exclude=task) if history[task] else full_field
        )
        in_field = history.copy()
        in_field[task] = False
        fields[model] = np.sort(strengths[in_field])[::-1]
        rows.append(_task_row(counts, task, strengths, in_field, int(n_bootstrap), rng))
    table = pd.DataFrame(rows)
    table["reference"] = reference
    if counts.times is not None:
        table["time"] = counts.times.reindex(table["task"]).to_numpy(dtype=float)
    return ArenaSummary(
        table=table,
        estimand="bradley-terry",
        reference=reference,
        field=fields,
        n_models=counts.n_models,
    )


def _field(
    counts: BattleCounts,
    wins: np.ndarray,
    games: np.ndarray,
    history: np.ndarray,
    ref: int,
    exclude: int | None,
) -> np.ndarray:
    """Field strengths (length K, zeros outside the field) fitted without ``exclude``."""
    members = history.copy()
    if exclude is not None:
        members[exclude] = False
    index = np.flatnonzero(members)
    names = [counts.models[i] for i in index]
    where = (
        f"{counts.name}: the field without {counts.models[exclude]!r}"
        if exclude is not None
        else f"{counts.name}: the field"
    )
    sub_wins = wins[np.ix_(index, index)]
    try:
        _check_connected(sub_wins, names, where)
    except ValueError as error:
        raise ValueError(str(error).replace("Bradley-Terry fit: ", "")) from None
    fit = fit_bradley_terry(
        sub_wins,
        games[np.ix_(index, index)],
        reference=int(np.flatnonzero(index == ref)[0]),
        models=names,
    )
    strengths = np.zeros(counts.n_models)
    strengths[index] = fit.strengths
    return strengths


def _task_row(
    counts: BattleCounts,
    task: int,
    strengths: np.ndarray,
    in_field: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    model = counts.models[task]
    if counts.is_history[task]:
        cells = counts.paired[task]
        real, synth = _placements(cells, strengths)
        gap_se = _bootstrap_gap_se(cells, strengths, n_bootstrap, rng)
        n = int(cells.sum())
        return {
            "task": model,
            "synth_estimate": float(synth.strength),
            "synth_se": float(synth.se),
            "real_estimate": float(real.strength),
            "real_se": float(real.se),
            "gap_estimate": float(real.strength - synth.strength),
            "gap_se": gap_se,
            "n_real": n,
            "n_synth": n,
        }
    judged = counts.judge_only[task] * in_field[:, None]
    left_out = int(counts.judge_only[task].sum() - judged.sum())
    if left_out:
        warnings.warn(
            f"{counts.name}: {left_out} battle(s) of target model {model!r} against models "
            f"without human verdicts are left out of its placement",
            stacklevel=4,
        )
    if judged.sum() < 1:
        raise ValueError(
            f"{counts.name}: target model {model!r} has no battles against models with human "
            f"verdicts; it cannot be placed in the field"
        )
    synth = place_model(judged @ SCORES, judged.sum(axis=-1), strengths)
    return {
        "task": model,
        "synth_estimate": float(synth[0]),
        "synth_se": float(synth[1]),
        "real_estimate": np.nan,
        "real_se": np.nan,
        "gap_estimate": np.nan,
        "gap_se": np.nan,
        "n_real": 0,
        "n_synth": int(judged.sum()),
    }


def rank_interval(
    lower: np.ndarray, upper: np.ndarray, field: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank interval of strength intervals against a field's point strengths.

    Parameters
    ----------
    lower, upper : ndarray
        Strength interval ends.
    field : ndarray
        Point strengths of the other models.

    Returns
    -------
    best, worst : ndarray of int
        ``1 + #{field > upper}`` and ``1 + #{field > lower}``.

    Examples
    --------
    >>> rank_interval(np.array([0.5]), np.array([1.5]), np.array([2.0, 1.0, 0.0]))
    (array([2]), array([3]))
    """
    field = np.asarray(field, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    best = 1 + (field[None, :] > upper[..., None]).sum(axis=-1)
    worst = 1 + (field[None, :] > lower[..., None]).sum(axis=-1)
    return best, worst


# --------------------------------------------------------------------- pipeline
def arena_summary(
    source: str | Path | pd.DataFrame | BattleCounts,
    *,
    estimand: str = "win-rate",
    reference: str | None = None,
    anchor: int = 0,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int | np.random.Generator | None = None,
    **read_options,
) -> ArenaSummary:
    """Reduce a battle log to the per-model summary table of ``estimand``.

    Parameters
    ----------
    source : path, DataFrame or BattleCounts
        The battle log (or counts already read).
    estimand : {"win-rate", "bradley-terry"}
        What each model's task estimates.
    reference, anchor, n_bootstrap
        As in :func:`bradley_terry_summary` (``anchor`` also for win rates).
    seed : int or Generator, optional
        Randomness for the bootstrap.
    **read_options
        Passed to :func:`read_battles` (column names, verdicts, releases, engine).

    Returns
    -------
    ArenaSummary
    """
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {list(ESTIMANDS)}, got {estimand!r}")
    counts = source if isinstance(source, BattleCounts) else read_battles(source, **read_options)
    if estimand == "win-rate":
        if reference is not None:
            counts.index(reference)
        table = win_rate_summary(counts, anchor=anchor)
        return ArenaSummary(table=table, estimand=estimand, n_models=counts.n_models)
    return bradley_terry_summary(
        counts, reference=reference, anchor=anchor, n_bootstrap=n_bootstrap, rng=seed
    )


@dataclass(frozen=True)
class ArenaResult:
    """Calibrated intervals for the models of a battle log.

    Attributes
    ----------
    tasks : pandas.DataFrame
        One row per model × method × level: DESIGN.md's output columns (with
        ``truth`` and ``covered`` in backtests) and, for Bradley-Terry,
        ``rank_lower``, ``rank_upper`` and Elo-scale ``*_elo`` columns.
    coverage : pandas.DataFrame or None
        Backtest coverage and widths per method × level (``None`` for inference).
    arena_summary : ArenaSummary
        The per-model summary table the intervals were computed from.
    protocol : str or None
        ``loo``, ``temporal``, or ``None`` for inference on target models.
    """

    tasks: pd.DataFrame = field(repr=False)
    coverage: pd.DataFrame | None = field(repr=False)
    arena_summary: ArenaSummary = field(repr=False)
    protocol: str | None = None

    @property
    def estimand(self) -> str:
        """``win-rate`` or ``bradley-terry``."""
        return self.arena_summary.estimand

    @property
    def summary_table(self) -> pd.DataFrame:
        """The per-model summary table (DESIGN.md format)."""
        return self.arena_summary.table

    def to_frame(self) -> pd.DataFrame:
        """The per-task rows."""
        return self.tasks

    def summary(self) -> str:
        """Readable coverage summary (backtests) or the intervals (inference)."""
        head = f"arena {self.estimand}" + (f" backtest ({self.protocol})" if self.protocol else "")
        if self.arena_summary.reference:
            head += f", reference {self.arena_summary.reference!r} = 0"
        if self.coverage is not None:
            return head + "\n" + self.coverage.to_string(index=False)
        columns = ["task", "method", "alpha", "estimate", "lower", "upper"]
        return head + "\n" + self.tasks[columns].to_string(index=False)

    def __str__(self) -> str:
        return self.summary()


def arena(
    source: str | Path | pd.DataFrame | BattleCounts,
    *,
    estimand: str = "win-rate",
    protocol: str | None = "loo",
    split_time: float | str | None = None,
    reference: str | None = None,
    anchor: int = 0,
    alpha: float | Sequence[float] = 0.1,
    method: str | Sequence[str] = "exchangeable",
    allocation: str | Allocation = DEFAULT_ALLOCATION,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int | None = None,
    **read_options,
) -> ArenaResult:
    """Calibrated intervals for every model of a battle log, end to end.

    Parameters
    ----------
    source : path, DataFrame or BattleCounts
        The battle log (CSV or Parquet, read by DuckDB out of core).
    estimand : {"win-rate", "bradley-terry"}
        Each model's estimand.
    protocol : {"loo", "temporal"} or None
        Backtest protocol over models with human verdicts; ``None`` calibrates
        the models without human verdicts (targets) on all the others.
    split_time : float or str, optional
        For ``temporal``: models released at or after it are held out.
    reference : str, optional
        Bradley-Terry reference model (pinned at 0).
    anchor : int
        The ``anchor`` earliest models never serve as tasks.
    alpha, method, allocation
        As in :func:`synthinfer.evaluate.backtest`.
    n_bootstrap : int
        Paired bootstrap replicates per model (Bradley-Terry gap SEs).
    seed : int, optional
        Seed for the bootstrap.
    **read_options
        Passed to :func:`read_battles`.

    Returns
    -------
    ArenaResult
    """
    from synthinfer.data._taskdata import TaskData
    from synthinfer.evaluate import PROTOCOLS, backtest, infer

    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)} or None, got {protocol!r}")
    summary = arena_summary(
        source,
        estimand=estimand,
        reference=reference,
        anchor=anchor,
        n_bootstrap=n_bootstrap,
        seed=seed,
        **read_options,
    )
    name = source.name if isinstance(source, BattleCounts) else _source_name(source)
    data = TaskData.from_frame(summary.table, name=f"{name} ({estimand} summary)")
    options = {"alpha": alpha, "method": method, "allocation": allocation}
    if protocol is None:
        if not data.target_tasks:
            raise ValueError(
                f"{name}: every model has human verdicts, so there is nothing to infer; "
                f"choose a backtest with --protocol loo or temporal"
            )
        tasks, coverage = infer(data, **options).to_frame(), None
    else:
        result = backtest(data, protocol=protocol, split_time=split_time, **options)
        tasks, coverage = result.tasks, result.summary_frame
    if estimand == "bradley-terry":
        tasks = _with_ranks_and_elo(tasks, summary)
    return ArenaResult(tasks=tasks, coverage=coverage, arena_summary=summary, protocol=protocol)


def _source_name(source) -> str:
    return "battles" if isinstance(source, pd.DataFrame) else str(source)


def _with_ranks_and_elo(tasks: pd.DataFrame, summary: ArenaSummary) -> pd.DataFrame:
    tasks = tasks.copy()
    best = np.empty(len(tasks), dtype=np.int64)
    worst = np.empty(len(tasks), dtype=np.int64)
    for model, rows in tasks.groupby("task", sort=False).groups.items():
        position = tasks.index.get_indexer(rows)
        b, w = rank_interval(
            tasks["lower"].to_numpy()[position],
            tasks["upper"].to_numpy()[position],
            summary.field[model],
        )
        best[position], worst[position] = b, w
    tasks["rank_lower"] = best
    tasks["rank_upper"] = worst
    for column in ("estimate", "lower", "upper", "width", "truth"):
        if column in tasks.columns:
            tasks[f"{column}_elo"] = tasks[column] * ELO_SCALE
    return tasks
