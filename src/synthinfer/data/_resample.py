"""Bootstrap replicates of one task's statistics, vectorized over replicates.

The statistic is the (weighted) mean or a (weighted) sample quantile; paired
designs resample units, so a unit's real and synthetic values stay together.
"""

from __future__ import annotations

import numpy as np

from synthinfer.intervals import sample_quantile

__all__ = ["bootstrap_draws", "statistic", "task_arrays"]

_BOOTSTRAP_CELLS = 4_000_000


def task_arrays(group, paired: bool, weighted: bool):
    """Real and synthetic values (and weights) of one task; paired rows aligned by unit.

    Parameters
    ----------
    group : pandas.DataFrame
        The task's rows (``source``, ``value``, and ``weight``, ``unit`` as present).
    paired, weighted : bool
        The design.

    Returns
    -------
    (ndarray, ndarray, (ndarray or None, ndarray or None))
        Real values, synthetic values, and their weights.
    """
    real = group[group["source"] == "real"]
    synth = group[group["source"] == "synthetic"]
    if paired and len(real):
        real = real.sort_values("unit", kind="stable")
        synth = synth.set_index("unit").loc[real["unit"]].reset_index()
    weights = (
        (real["weight"].to_numpy(float), synth["weight"].to_numpy(float))
        if weighted
        else (None, None)
    )
    return real["value"].to_numpy(float), synth["value"].to_numpy(float), weights


def statistic(values: np.ndarray, weights: np.ndarray | None, quantile: float | None) -> float:
    """The (weighted) mean, or the (weighted) sample quantile ``quantile``."""
    if quantile is None:
        return float(np.average(values, weights=weights))
    return sample_quantile(values, quantile, weights)


def _resampled(
    values: np.ndarray,
    weights: np.ndarray | None,
    quantile: float | None,
    index: np.ndarray,
) -> np.ndarray:
    """The statistic of each resample (rows of ``index``), vectorized over resamples."""
    resampled = values[index]
    if quantile is None:
        if weights is None:
            return resampled.mean(axis=1)
        w = weights[index]
        return (w * resampled).sum(axis=1) / w.sum(axis=1)
    if weights is None:
        return np.quantile(resampled, quantile, axis=1, method="inverted_cdf")
    order = np.argsort(resampled, axis=1, kind="stable")
    sorted_values = np.take_along_axis(resampled, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights[index], order, axis=1), axis=1)
    cumulative /= cumulative[:, -1:]
    position = np.argmax(cumulative >= quantile - 1e-12, axis=1)
    return sorted_values[np.arange(len(index)), position]


def bootstrap_draws(
    real: np.ndarray,
    synth: np.ndarray,
    weights: tuple[np.ndarray | None, np.ndarray | None],
    quantile: float | None,
    paired: bool,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the synthetic statistic and of the gap (NaN without real data)."""
    synth_draws = np.empty(n_bootstrap)
    gap_draws = np.full(n_bootstrap, np.nan)
    size = max(synth.size, real.size, 1)
    chunk = max(1, _BOOTSTRAP_CELLS // size)
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        synth_index = rng.integers(0, synth.size, size=(stop - start, synth.size))
        if real.size and paired:
            pair_index = rng.integers(0, real.size, size=(stop - start, real.size))
            real_stat = _resampled(real, weights[0], quantile, pair_index)
            paired_synth = _resampled(synth, weights[1], quantile, pair_index)
            gap_draws[start:stop] = real_stat - paired_synth
        synth_draws[start:stop] = _resampled(synth, weights[1], quantile, synth_index)
        if real.size and not paired:
            real_index = rng.integers(0, real.size, size=(stop - start, real.size))
            real_stat = _resampled(real, weights[0], quantile, real_index)
            gap_draws[start:stop] = real_stat - synth_draws[start:stop]
    return synth_draws, gap_draws
