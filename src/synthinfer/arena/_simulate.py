"""A simulator of battle logs with human and autorater verdicts on the same battles.

``K`` models have true Bradley-Terry strengths ``β_k ~ N(0, strength_sd²)``.
An autorater sees strengths ``β_k + b_k`` with a per-model bias
``b_k = judge_scale · β_k + N(0, judge_bias_sd²)``. In a battle of ``A``
against ``B`` with strength difference ``d``, a verdict is a tie with
probability ``t = tie_rate · 4σ(d)(1 − σ(d))`` and otherwise a win for ``A``
or ``B``, such that ``P(A wins) + t/2 = σ(d)``: with a tie counted as half a
win, the expected score is exactly the Bradley-Terry probability, so the
ties-as-half-wins fit is consistent for ``β``. Human and autorater verdicts
share one uniform draw with probability ``judge_agreement`` (and use
independent draws otherwise), which pairs them without changing either
marginal.

With ``release_order``, model ``k`` is released at time ``k``; a battle at
time ``s`` (uniform on ``1..K−1``) pits two distinct models among those
released by then, so early models fight more battles, as on a live leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synthinfer._html import result_html
from synthinfer._validation import check_count, check_range, check_seed

__all__ = ["VERDICTS", "BattleModel", "BattleSimulation", "simulate_battles"]

VERDICTS = np.array(["a", "tie", "b"])
"""Verdict values of a simulated log, in the order of their codes 0, 1, 2."""

Seed = int | np.random.Generator | None


def _generator(seed: Seed) -> np.random.Generator:
    """A generator from a seed (``None`` or a whole number >= 0) or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed))


def _outcome_probabilities(difference: np.ndarray, tie_rate: float) -> tuple[np.ndarray, ...]:
    """``P(A wins)`` and ``P(tie)`` for strength differences ``d``."""
    from scipy.special import expit

    p = expit(difference)
    tie = tie_rate * 4.0 * p * (1.0 - p)
    return p - tie / 2.0, tie


@dataclass(frozen=True)
class BattleModel:
    """True strengths, autorater biases and release times of ``K`` models.

    Parameters
    ----------
    models : tuple of str
        Model names.
    strengths : ndarray
        True Bradley-Terry strengths ``β``.
    judge_bias : ndarray
        Autorater bias ``b`` per model (the autorater sees ``β + b``).
    tie_rate : float
        Tie probability between equally strong models, in ``[0, 0.5]``.
    judge_agreement : float
        Probability that the autorater shares the human's random draw.
    release_order : bool
        Whether models enter the arena one by one (model ``k`` at time ``k``).
    """

    models: tuple[str, ...]
    strengths: np.ndarray = field(repr=False)
    judge_bias: np.ndarray = field(repr=False)
    tie_rate: float = 0.3
    judge_agreement: float = 0.6
    release_order: bool = False

    @classmethod
    def draw(
        cls,
        n_models: int = 20,
        *,
        strength_sd: float = 1.0,
        judge_bias_sd: float = 0.3,
        judge_scale: float = 0.0,
        tie_rate: float = 0.3,
        judge_agreement: float = 0.6,
        release_order: bool = False,
        seed: Seed = None,
    ) -> BattleModel:
        """Draw strengths and biases for ``n_models`` models (see the module docstring).

        The parameters are those of :func:`simulate_battles`, which draws the
        model this way and then its battles.
        """
        n_models = check_count(n_models, "n_models", minimum=2)
        check_range(strength_sd, "strength_sd", 0.0)
        check_range(judge_bias_sd, "judge_bias_sd", 0.0)
        tie_rate = check_range(tie_rate, "tie_rate", 0.0, 0.5)
        judge_agreement = check_range(judge_agreement, "judge_agreement", 0.0, 1.0)
        rng = _generator(seed)
        width = len(str(n_models - 1))
        models = tuple(f"model-{k:0{width}d}" for k in range(n_models))
        strengths = rng.normal(0.0, strength_sd, size=n_models)
        bias = float(judge_scale) * strengths + rng.normal(0.0, judge_bias_sd, size=n_models)
        return cls(
            models=models,
            strengths=strengths,
            judge_bias=bias,
            tie_rate=tie_rate,
            judge_agreement=judge_agreement,
            release_order=bool(release_order),
        )

    @property
    def n_models(self) -> int:
        """Number of models."""
        return len(self.models)

    @property
    def release(self) -> pd.Series:
        """Release time per model (``0..K−1`` with ``release_order``, else all 0)."""
        times = np.arange(self.n_models) if self.release_order else np.zeros(self.n_models)
        return pd.Series(times.astype(float), index=list(self.models), name="time")

    def pair_weights(self) -> np.ndarray:
        """``P(a battle pits i against j)`` up to a constant, shape ``(K, K)``, zero diagonal."""
        k = self.n_models
        if not self.release_order:
            return 1.0 - np.eye(k)
        times = np.arange(1, k)
        per_time = 1.0 / ((times + 1.0) * times)
        tail = np.concatenate([np.cumsum(per_time[::-1])[::-1], [0.0]])
        first = np.maximum(np.maximum.outer(np.arange(k), np.arange(k)), 1)
        weights = tail[first - 1]
        np.fill_diagonal(weights, 0.0)
        return weights

    def true_win_rate(self) -> pd.Series:
        """Population human win rate of each model against its opponent mix (ties half)."""
        from scipy.special import expit

        weights = self.pair_weights()
        p = expit(self.strengths[:, None] - self.strengths[None, :])
        rate = (weights * p).sum(axis=1) / weights.sum(axis=1)
        return pd.Series(rate, index=list(self.models), name="win_rate")

    def true_strength(self, reference: str | None = None) -> pd.Series:
        """True strengths relative to ``reference`` (default: the first model)."""
        reference = self.models[0] if reference is None else reference
        if reference not in self.models:
            raise ValueError(f"reference {reference!r} is not one of the simulated models")
        beta = pd.Series(self.strengths, index=list(self.models), name="strength")
        return beta - beta[reference]

    def truth(self) -> pd.DataFrame:
        """One row per model: ``model, strength, judge_bias, time, win_rate``."""
        return pd.DataFrame(
            {
                "model": list(self.models),
                "strength": self.strengths,
                "judge_bias": self.judge_bias,
                "time": self.release.to_numpy(),
                "win_rate": self.true_win_rate().to_numpy(),
            }
        )

    def _pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        k = self.n_models
        if self.release_order:
            time = rng.integers(1, k, size=n)
            available = time + 1
        else:
            time = np.zeros(n, dtype=np.int64)
            available = np.full(n, k)
        first = np.floor(rng.random(n) * available).astype(np.int64)
        second = np.floor(rng.random(n) * (available - 1)).astype(np.int64)
        second += second >= first
        return first, second, time

    def battles(self, n_battles: int, *, seed: Seed = None) -> pd.DataFrame:
        """Draw ``n_battles`` battles.

        Parameters
        ----------
        n_battles : int
            Number of battles (at least 1).
        seed : int or Generator, optional
            Randomness (keyword-only).

        Returns
        -------
        pandas.DataFrame
            Columns ``model_a, model_b, human, judge`` (categorical; verdicts
            ``a``, ``b``, ``tie``) and ``time`` with ``release_order``.
        """
        n = check_count(n_battles, "n_battles", minimum=1)
        rng = _generator(seed)
        a, b, time = self._pairs(n, rng)
        shared = rng.random(n)
        own = rng.random(n)
        judged = np.where(rng.random(n) < self.judge_agreement, shared, own)
        human = self._verdicts(self.strengths[a] - self.strengths[b], shared)
        seen = self.strengths + self.judge_bias
        judge = self._verdicts(seen[a] - seen[b], judged)
        models = list(self.models)
        frame = pd.DataFrame(
            {
                "model_a": pd.Categorical.from_codes(a, categories=models),
                "model_b": pd.Categorical.from_codes(b, categories=models),
                "human": pd.Categorical.from_codes(human, categories=list(VERDICTS)),
                "judge": pd.Categorical.from_codes(judge, categories=list(VERDICTS)),
            }
        )
        if self.release_order:
            frame["time"] = time.astype(np.int64)
        return frame

    def _verdicts(self, difference: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Codes 0 (a), 1 (tie), 2 (b) by inverse CDF of a uniform draw."""
        win, tie = _outcome_probabilities(difference, self.tie_rate)
        return (uniform >= win).astype(np.int8) + (uniform >= win + tie).astype(np.int8)


@dataclass(frozen=True)
class BattleSimulation:
    """A simulated battle log with the model that generated it.

    Attributes
    ----------
    battles : pandas.DataFrame
        The log (``model_a, model_b, human, judge`` and ``time`` with release order).
    model : BattleModel
        True strengths, biases and release times.
    """

    battles: pd.DataFrame = field(repr=False)
    model: BattleModel

    def to_frame(self) -> pd.DataFrame:
        """The battle log."""
        return self.battles

    def summary(self) -> str:
        """The log's size and the true parameters of its models, as text."""
        order = ", released one by one" if self.model.release_order else ""
        head = f"{len(self.battles)} simulated battles among {self.model.n_models} models{order}"
        return head + "\n" + self.model.truth().to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary's first line over the result's table (shown in Jupyter)."""
        return result_html(self.summary(), self.to_frame())


def simulate_battles(
    n_models: int = 20,
    n_battles: int = 20_000,
    *,
    strength_sd: float = 1.0,
    judge_bias_sd: float = 0.3,
    judge_scale: float = 0.0,
    tie_rate: float = 0.3,
    judge_agreement: float = 0.6,
    release_order: bool = False,
    seed: Seed = None,
) -> BattleSimulation:
    """Simulate a battle log of ``n_models`` models and ``n_battles`` battles.

    Parameters
    ----------
    n_models, n_battles : int
        Numbers of models ``K`` (at least 2) and of battles ``N`` (at least 1).
    strength_sd : float
        SD of the true strengths.
    judge_bias_sd : float
        SD of the autorater's per-model bias.
    judge_scale : float
        Autorater bias proportional to strength (``> 0``: it flatters strong models).
    tie_rate : float
        Tie probability between equally strong models, in ``[0, 0.5]``.
    judge_agreement : float
        Probability that the autorater's verdict shares the human's draw.
    release_order : bool
        Release models one by one (adds a battle ``time`` column).
    seed : int or Generator, optional
        Randomness (keyword-only).

    Returns
    -------
    BattleSimulation

    Examples
    --------
    >>> sim = simulate_battles(5, 100, seed=0)
    >>> list(sim.battles.columns)
    ['model_a', 'model_b', 'human', 'judge']
    """
    rng = _generator(seed)
    model = BattleModel.draw(
        n_models,
        strength_sd=strength_sd,
        judge_bias_sd=judge_bias_sd,
        judge_scale=judge_scale,
        tie_rate=tie_rate,
        judge_agreement=judge_agreement,
        release_order=release_order,
        seed=rng,
    )
    return BattleSimulation(battles=model.battles(n_battles, seed=rng), model=model)
