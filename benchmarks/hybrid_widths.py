"""Mean width and coverage of ``exchangeable``, ``ppi`` and ``hybrid`` against the target's m.

Run ``python benchmarks/hybrid_widths.py`` (seeded; a few seconds). Each of
``R`` replications draws ``T`` history tasks and one target by exact
sufficient statistics of Gaussian unit-level data:

* task level: ``θ_j ~ N(0.5, 0.2236²)`` (the mean and SD of Beta(2, 2)),
  bias ``ε_j ~ N(0.05, τ²)``, ``θ~_j = θ_j − ε_j`` so that the gap is ``Δ_j = ε_j``;
  ``τ = 0.1`` (the paper's model, ``studies/_models.py``) or ``τ = 0.3``
  (bias varies widely across tasks);
* ``N = 2000`` synthetic units with SD 0.5: synthetic mean ``~ N(θ~_j, 0.25/N)``;
* labelled pairs, real = synthetic + gap noise with SD ``σ = 0.4``: history
  task ``j`` has ``n = 2000`` pairs, of which a random ``m`` give its label
  gap; the target has ``m`` pairs. The subsample's and the rest's means and
  sums of squares are drawn independently and pooled, which is exact.

``labelled`` is the target's PPI family as ``ppi_py`` computes it for
``λ = 1``: ``θ̂~ + g`` with ``se² = s~²/N + s_d²/m`` (both SDs with ``ddof = 0``).
``ppi`` and ``hybrid`` read it with the package's default Student critical
value (``ppi_critical="student"``: the factor on ``m − 2`` degrees of freedom
that the data layer's PPI++ family needs; conservative for ``λ = 1``), or with
``--ppi-critical normal`` as ``ppi_py`` does. ``m = 0`` has no labels:
``hybrid`` is then Algorithm 1 exactly and ``ppi`` is infinite.

``hybrid`` is the method itself (the design share ``min(m/(m + c), ρ_T)`` of
``hybrid_ppi_share``); ``--shares`` adds fixed shares (0: the band alone) and
``--scales`` other constants ``c`` of the design share.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace

import numpy as np

from synthinfer.allocation import DEFAULT_ALLOCATION
from synthinfer.intervals import WaldInterval
from synthinfer.methods import (
    HYBRID_PPI_SCALE,
    History,
    calibrate,
    hybrid_calibration,
    hybrid_ppi_share,
)

M_GRID = (0, 5, 10, 25, 50, 100, 250, 1000)
MODELS = {"paper (tau 0.1)": 0.1, "wide bias (tau 0.3)": 0.3}


def pooled_pairs(rng, shape, delta, sigma, n, m):
    """Means and SDs of the m-subsample and of all n paired differences (exact)."""
    mean_m = rng.normal(delta, sigma / math.sqrt(m), shape)
    ss_m = sigma**2 * rng.chisquare(m - 1, shape) if m > 1 else np.zeros(shape)
    rest = n - m
    if rest == 0:
        return mean_m, np.sqrt(ss_m / (m - 1)), mean_m, np.sqrt(ss_m / (n - 1))
    mean_rest = rng.normal(delta, sigma / math.sqrt(rest), shape)
    ss_rest = sigma**2 * rng.chisquare(rest - 1, shape) if rest > 1 else np.zeros(shape)
    mean_n = (m * mean_m + rest * mean_rest) / n
    ss_n = ss_m + ss_rest + m * rest / n * (mean_m - mean_rest) ** 2
    sd_m = np.sqrt(ss_m / (m - 1)) if m > 1 else np.full(shape, np.nan)
    return mean_m, sd_m, mean_n, np.sqrt(ss_n / (n - 1))


def simulate(rng, reps, n_history, m, tau, *, n=2000, synth_n=2000, sigma=0.4, synth_sd=0.5):
    """One study: the target's truth and the method inputs, arrays over replications."""
    shape = (reps, n_history + 1)
    theta = rng.normal(0.5, math.sqrt(0.05), shape)
    delta = rng.normal(0.05, tau, shape)
    synth_mean = rng.normal(theta - delta, synth_sd / math.sqrt(synth_n))
    synth_se = synth_sd * np.sqrt(rng.chisquare(synth_n - 1, shape) / (synth_n - 1) / synth_n)
    history = {"gap": None}
    if m > 0:
        g, sd_m, gap_n, sd_n = pooled_pairs(rng, shape, delta, sigma, n, m)
        target_m, target_sd = g[:, -1], sd_m[:, -1]
    else:
        _, _, gap_n, sd_n = pooled_pairs(rng, shape, delta, sigma, n, 1)
        g = sd_m = np.full(shape, np.nan)
        target_m = target_sd = np.full(reps, np.nan)
    label_se = sd_m / math.sqrt(m) if m > 0 else sd_m
    # ppi_py's standard error (ddof = 0) for lambda = 1; the synthetic SD's ddof is immaterial
    pairs_var = target_sd**2 * (m - 1) / m**2 if m > 1 else np.full(reps, np.inf)
    ppi_se = np.sqrt(synth_se[:, -1] ** 2 + pairs_var)
    ppi_estimate = synth_mean[:, -1] + (target_m if m > 0 else 0.0)
    history = History(
        gap=WaldInterval(gap_n[:, :-1], sd_n[:, :-1] / math.sqrt(n)),
        labelled=WaldInterval(ppi_estimate, ppi_se),  # as the data layer gives it
        n_labelled=np.full(reps, float(m)),
        label_gap=g[:, :-1],
        label_gap_se=label_se[:, :-1],
        target_label_gap=target_m,
        target_label_gap_se=label_se[:, -1],
    )
    target = WaldInterval(synth_mean[:, -1], synth_se[:, -1])
    return theta[:, -1], target, history


def scores(lower, upper, truth):
    """Coverage and mean width (over finite intervals; inf when none is finite)."""
    covered = float(np.mean((lower <= truth) & (truth <= upper)))
    width = upper - lower
    finite = np.isfinite(width)
    return covered, float(np.mean(width[finite])) if finite.any() else math.inf


def study(tau, m, *, reps, n_history, alpha, seed, shares, scales=(), critical="student"):
    """Rows ``(method, coverage, width)`` for one model and one m.

    ``shares`` are fixed PPI shares; ``scales`` are constants ``c`` of the design
    share ``min(m/(m + c), ρ_T)`` besides the default (the column ``hybrid``).
    """
    rng = np.random.default_rng([seed, int(tau * 1000), m])
    truth, target, history = simulate(rng, reps, n_history, m, tau)
    history = replace(history, ppi_critical=critical)
    rows = []
    exch = calibrate("exchangeable", target, history, alpha)
    rows.append(("exchangeable", *scores(exch.lower, exch.upper, truth)))
    ppi = calibrate("ppi", target, history, alpha)
    rows.append(("ppi", *scores(ppi.lower, ppi.upper, truth)))
    for share in shares:
        cal = hybrid_calibration(target, history, alpha, ppi_share=share)
        rows.append((f"hybrid, PPI share {share:g}", *scores(cal.lower, cal.upper, truth)))
    for scale in scales:
        share = hybrid_ppi_share(m, n_history, alpha, DEFAULT_ALLOCATION, scale=scale)
        cal = hybrid_calibration(target, history, alpha, ppi_share=share)
        rows.append((f"hybrid, c = {scale:g}", *scores(cal.lower, cal.upper, truth)))
    cal = calibrate("hybrid", target, history, alpha)
    rows.append(("hybrid", *scores(cal.lower, cal.upper, truth)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--history", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--shares", default="0,0.1", help="fixed PPI shares to compare")
    parser.add_argument(
        "--scales", default="", help=f"constants c of the design share besides {HYBRID_PPI_SCALE:g}"
    )
    parser.add_argument("--ppi-critical", default="student", choices=("student", "normal"))
    args = parser.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",") if s]
    scales = [float(s) for s in args.scales.split(",") if s]
    print(
        f"R = {args.reps}, T = {args.history}, alpha = {args.alpha}, prop:0.1,0.2,0.7, "
        f"seed {args.seed}, ppi_critical {args.ppi_critical}; coverage / mean width\n"
    )
    for name, tau in MODELS.items():
        table = {
            m: study(
                tau,
                m,
                reps=args.reps,
                n_history=args.history,
                alpha=args.alpha,
                seed=args.seed,
                shares=shares,
                scales=scales,
                critical=args.ppi_critical,
            )
            for m in M_GRID
        }
        methods = [row[0] for row in table[M_GRID[0]]]
        print(f"model: {name}")
        print("| m | " + " | ".join(methods) + " |")
        print("|---" * (len(methods) + 1) + "|")
        for m, rows in table.items():
            cells = [f"{cov:.3f} / {width:.3f}" for _, cov, width in rows]
            print(f"| {m} | " + " | ".join(cells) + " |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
