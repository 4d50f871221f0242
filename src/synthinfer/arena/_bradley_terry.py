"""Bradley-Terry strengths: the field fit, one model's placement, bootstrap gaps, ranks.

Model ``i`` beats model ``j`` with probability ``σ(β_i − β_j)``, a tie counting
as half a win for each side, and a reference model pinned at ``β = 0``.

* :func:`fit_bradley_terry` fits all strengths of a field by Newton's method on
  the aggregated win matrix, with standard errors from the Fisher information.
* :func:`place_model` places one model against a fixed field by a
  one-dimensional Newton fit, vectorized over bootstrap replicates.
* :func:`place_human_and_judge` places a model once from its human verdicts and
  once from its autorater verdicts on the same battles, and
  :func:`bootstrap_gap_se` gives the standard error of their difference by a
  paired bootstrap over the model's battles, drawn exactly as multinomial
  counts of the cells (opponent × human verdict × judge verdict).
* :func:`rank_interval` turns a strength interval ``[L, U]`` into ranks against
  the field's point strengths: best rank ``1 + #{field models above U}``,
  worst rank ``1 + #{field models above L}``.

``ELO_SCALE`` converts strengths to the Elo scale (``β · 400 / ln 10``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer.arena._counts import SCORES

__all__ = [
    "ELO_SCALE",
    "STRENGTH_BOUND",
    "BradleyTerryFit",
    "Placement",
    "bootstrap_gap_se",
    "check_connected",
    "fit_bradley_terry",
    "place_human_and_judge",
    "place_model",
    "rank_interval",
]

ELO_SCALE = 400.0 / math.log(10.0)
"""Elo points per unit of Bradley-Terry strength."""

STRENGTH_BOUND = 30.0
"""Largest absolute strength of a placement (a model that won or lost every battle)."""

_SHARE_CLIP = 0.02  # win shares are clipped to [0.02, 0.98] for a placement's start


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
    models : tuple of str or None
        Model names, when given to the fit.
    """

    strengths: np.ndarray
    se: np.ndarray
    reference: int
    n_iter: int
    models: tuple[str, ...] | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per model: ``model, strength, se`` (the model's position without names)."""
        return pd.DataFrame({"model": self._names(), "strength": self.strengths, "se": self.se})

    def summary(self) -> str:
        """The strengths as text, with the reference and the Newton iterations."""
        reference = self._names()[self.reference]
        head = (
            f"Bradley-Terry fit of {len(self.strengths)} models, reference {reference!r} = 0 "
            f"({self.n_iter} Newton iterations)"
        )
        return head + "\n" + self.to_frame().to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())

    def _names(self) -> list[str] | list[int]:
        """Model names, or positions when the fit was given none."""
        if self.models is not None:
            return list(self.models)
        return list(range(len(self.strengths)))


def _log_likelihood(beta: np.ndarray, wins: np.ndarray) -> float:
    difference = beta[:, None] - beta[None, :]
    return float(-(wins * np.logaddexp(0.0, -difference)).sum())


def _information(
    beta: np.ndarray, wins: np.ndarray, games: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fisher information matrix and score vector of the Bradley-Terry log-likelihood."""
    from scipy.special import expit

    p = expit(beta[:, None] - beta[None, :])
    gradient = wins.sum(axis=1) - (games * p).sum(axis=1)
    v = games * p * (1.0 - p)
    information = np.diag(v.sum(axis=1)) - v
    return information, gradient


def check_connected(wins: np.ndarray, models: Sequence[str] | None, what: str) -> None:
    """Stop unless the 'beat' graph is strongly connected.

    The maximum-likelihood strengths exist exactly when every model both wins
    and loses, directly or through others, against every other model.

    Parameters
    ----------
    wins : ndarray, shape (K, K)
        ``wins[i, j]``: wins of ``i`` over ``j``.
    models : sequence of str, optional
        Names for the message.
    what : str
        What is fitted, as the message's opening words.

    Raises
    ------
    ValueError
        Naming a model of the smallest group cut off from the rest.
    """
    from scipy.sparse.csgraph import connected_components

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


def _check_win_matrix(wins: np.ndarray, games: np.ndarray) -> None:
    k = wins.shape[0]
    if wins.shape != (k, k) or games.shape != (k, k) or k < 2:
        raise ValueError(
            f"wins and games must be square (K, K) arrays with K >= 2, got {wins.shape}"
        )
    if not np.allclose(wins + wins.T, games):
        raise ValueError(
            "games must equal wins + wins.T (every battle gives its two sides 1 point)"
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
        Names for error messages and the result.
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
    _check_win_matrix(wins, games)
    check_connected(wins, models, "Bradley-Terry fit")
    k = wins.shape[0]
    free = np.arange(k) != reference
    beta = np.zeros(k)
    loglik = _log_likelihood(beta, wins)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        information, gradient = _information(beta, wins, games)
        step = np.zeros(k)
        step[free] = np.linalg.solve(information[np.ix_(free, free)], gradient[free])
        scale = _step_scale(beta, step, wins, loglik)
        beta = beta + scale * step
        loglik = _log_likelihood(beta, wins)
        if np.max(np.abs(scale * step)) < tol:
            break
    information, _ = _information(beta, wins, games)
    se = np.zeros(k)
    se[free] = np.sqrt(np.diag(np.linalg.inv(information[np.ix_(free, free)])))
    names = tuple(models) if models is not None else None
    return BradleyTerryFit(
        strengths=beta, se=se, reference=int(reference), n_iter=n_iter, models=names
    )


def _step_scale(beta: np.ndarray, step: np.ndarray, wins: np.ndarray, loglik: float) -> float:
    """Halve the Newton step until the log-likelihood does not fall."""
    scale = 1.0
    while scale > 1e-8:
        candidate = _log_likelihood(beta + scale * step, wins)
        if candidate >= loglik - 1e-12 * abs(loglik):
            break
        scale /= 2.0
    return scale


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
    tol, max_iter
        As in :func:`fit_bradley_terry`.

    Returns
    -------
    strength, se : ndarray, shape (...)
        Strength and its standard error ``1/√(Σ games·p(1 − p))``.
    """
    from scipy.special import expit

    wins = np.asarray(wins, dtype=float)
    games = np.asarray(games, dtype=float)
    field = np.asarray(field, dtype=float)
    total_wins = wins.sum(axis=-1)
    total = games.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(total_wins / total, _SHARE_CLIP, 1.0 - _SHARE_CLIP)
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


@dataclass(frozen=True)
class Placement:
    """A model's strength against a fixed field and its standard error."""

    strength: np.ndarray
    se: np.ndarray


def place_human_and_judge(cells: np.ndarray, field: np.ndarray) -> tuple[Placement, Placement]:
    """Human and judge placements of one model from its paired battle cells.

    Parameters
    ----------
    cells : ndarray, shape (..., K, 3, 3)
        Battles per opponent × human verdict × judge verdict (win, tie, loss).
    field : ndarray, shape (K,)
        Fixed field strengths.

    Returns
    -------
    human, judge : Placement
    """
    games = cells.sum(axis=(-1, -2))
    human = place_model(cells.sum(axis=-1) @ SCORES, games, field)
    judge = place_model(cells.sum(axis=-2) @ SCORES, games, field)
    return Placement(*human), Placement(*judge)


def bootstrap_gap_se(
    cells: np.ndarray, field: np.ndarray, n_gap_bootstrap: int, rng: np.random.Generator
) -> float:
    """SD of the paired-bootstrap gap ``β_human − β_judge`` (multinomial cell counts).

    Parameters
    ----------
    cells : ndarray, shape (K, 3, 3)
        The model's paired battles per opponent × human verdict × judge verdict.
    field : ndarray, shape (K,)
        Fixed field strengths.
    n_gap_bootstrap : int
        Bootstrap replicates.
    rng : numpy.random.Generator
        Randomness for the multinomial draws.

    Returns
    -------
    float
    """
    flat = cells.reshape(-1).astype(float)
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=n_gap_bootstrap)
    human, judge = place_human_and_judge(draws.reshape((n_gap_bootstrap, *cells.shape)), field)
    return float(np.std(human.strength - judge.strength, ddof=1))


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
