"""Seeded studies of covariate-adjusted and group-conditional calibration.

Run ``python benchmarks/study_adjust.py`` (about a minute on two cores). It prints

1. Monte Carlo coverage and mean width of unadjusted ``exchangeable``,
   group-conditional (``--group-by g``) and covariate-adjusted (``--adjust``,
   full and split conformal) intervals under three generative models of the
   bias: depending on a binary task attribute, depending linearly on the
   synthetic estimate (a judge that compresses scores), and pure noise with an
   unrelated attribute (the cost of adjusting for nothing);
2. leave-one-out on the 96 scalar GPT-4o Pew tasks at alpha = 0.2 with
   ``--adjust synth_estimate,role``, clipped and unclipped widths;
3. leave-one-out on LLM-judge tasks built from the bundled Arena battles
   (20 models x 3 estimands: win rate, tie rate, decisive-win share).

The numbers in ``docs/beyond.md`` come from this script.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthinfer.adjust import full_conformal_band, split_conformal_band
from synthinfer.intervals import WaldInterval
from synthinfer.methods import History, calibrate
from synthinfer.studies import group_subsets

ALLOCATION = "prop:0.1,0.2,0.7"


def simulate_tasks(
    model: str, n_reps: int, n_tasks: int, *, n_real=1000, n_synth=2000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Draw ``n_reps`` pools of ``n_tasks + 1`` Bernoulli tasks (the last is the target).

    ``model``: ``attribute`` (bias ±0.2 by a binary attribute g, within-group
    SD 0.05), ``linear`` (synthetic p~ = 0.5 + 0.5 (p − 0.5) + N(0, 0.01²):
    the gap is linear in p~), ``null`` (the paper's model, bias N(0.05, 0.1²),
    g unrelated).
    """
    rng = np.random.default_rng(seed)
    shape = (n_reps, n_tasks + 1)
    group = rng.integers(0, 2, size=shape)
    p = rng.beta(2.0, 2.0, size=shape)
    if model == "attribute":
        p_synth = p + np.where(group == 1, 0.2, -0.2) + rng.normal(0.0, 0.05, size=shape)
    elif model == "linear":
        p_synth = 0.5 + 0.5 * (p - 0.5) + rng.normal(0.0, 0.01, size=shape)
    elif model == "null":
        p_synth = p + rng.normal(0.05, 0.10, size=shape)
    else:
        raise ValueError(f"unknown model {model!r}")
    p_synth = np.clip(p_synth, 0.0, 1.0)
    real = rng.binomial(n_real, p) / n_real
    synth = rng.binomial(n_synth, p_synth) / n_synth
    real_se = np.sqrt(real * (1 - real) / n_real)
    synth_se = np.sqrt(synth * (1 - synth) / n_synth)
    return {
        "group": group.astype(float),
        "truth": p,
        "real": real,
        "synth": synth,
        "synth_se": synth_se,
        "gap": real - synth,
        "gap_se": np.sqrt(real_se**2 + synth_se**2),
    }


def _final(target, band, alpha, method="exchangeable"):
    """Synthetic interval of the target plus a band, as ``calibrate`` assembles it."""
    from synthinfer.allocation import Allocation

    a1, _, _ = Allocation.parse(ALLOCATION).split(alpha)
    if method == "finite-sample":
        return target.estimate + band[0], target.estimate + band[1]
    lo, hi = target.interval(a1)
    return lo + band[0], hi + band[1]


def _history_levels(sim, alpha, method):
    from synthinfer.allocation import Allocation

    _, a2, a3 = Allocation.parse(ALLOCATION).split(alpha)
    gap = WaldInterval(sim["gap"][:, :-1], sim["gap_se"][:, :-1])
    n_history = sim["gap"].shape[1] - 1
    if method == "finite-sample":
        observed = sim["gap"][:, :-1]
        return observed, observed, alpha
    level = a2 / n_history if method == "task-only" else a2
    lo, hi = gap.interval(level)
    return lo, hi, a3


def adjusted(sim, covariates, alpha, method="exchangeable", mode="full", chunk=250):
    """Coverage indicator and width of the adjusted interval in every replication."""
    target = WaldInterval(sim["synth"][:, -1], sim["synth_se"][:, -1])
    lo, hi, level = _history_levels(sim, alpha, method)
    design = np.stack([sim[name] for name in covariates], axis=-1)
    if mode == "full":
        parts = [
            full_conformal_band(lo[s], hi[s], design[s], level)
            for s in np.array_split(np.arange(lo.shape[0]), max(1, lo.shape[0] // chunk))
        ]
        band = tuple(np.concatenate([p[i] for p in parts]) for i in range(2))
    else:
        rows = [
            split_conformal_band(lo[r], hi[r], design[r, :-1], design[r, -1], level, seed=r)
            for r in range(lo.shape[0])
        ]
        band = (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    lower, upper = _final(target, band, alpha, method)
    truth = sim["real"][:, -1] if method == "finite-sample" else sim["truth"][:, -1]
    return (lower <= truth) & (truth <= upper), upper - lower


def unadjusted(sim, alpha, method="exchangeable"):
    """Coverage indicator and width of the core method on the whole history."""
    target = WaldInterval(sim["synth"][:, -1], sim["synth_se"][:, -1])
    history = History(
        gap=WaldInterval(sim["gap"][:, :-1], sim["gap_se"][:, :-1]), observed=sim["gap"][:, :-1]
    )
    cal = calibrate(method, target, history, alpha, ALLOCATION)
    truth = sim["real"][:, -1] if method == "finite-sample" else sim["truth"][:, -1]
    return (cal.lower <= truth) & (truth <= cal.upper), cal.upper - cal.lower


def group_conditional(sim, alpha, method="exchangeable"):
    """History restricted to the target's group; one core call per distinct group size."""
    n_reps = len(sim["group"])
    covered = np.zeros(n_reps, dtype=bool)
    width = np.zeros(n_reps)
    for reps, sub in group_subsets(sim, sim["group"]):
        covered[reps], width[reps] = unadjusted(sub, alpha, method)
    return covered, width


def monte_carlo_table(n_reps=1000, n_tasks=100, alpha=0.1, seed=2026):
    rows = []
    for model in ("attribute", "linear", "null"):
        sim = simulate_tasks(model, n_reps, n_tasks, seed=seed)
        runs = {
            "exchangeable": unadjusted(sim, alpha),
            "group-by g": group_conditional(sim, alpha),
            "adjust g (full)": adjusted(sim, ["group"], alpha),
            "adjust synth_estimate (full)": adjusted(sim, ["synth"], alpha),
            "adjust synth_estimate,g (full)": adjusted(sim, ["synth", "group"], alpha),
            "adjust synth_estimate,g (split)": adjusted(
                sim, ["synth", "group"], alpha, mode="split"
            ),
            "task-only": unadjusted(sim, alpha, "task-only"),
            "finite-sample": unadjusted(sim, alpha, "finite-sample"),
            "finite-sample adjust synth_estimate,g": adjusted(
                sim, ["synth", "group"], alpha, "finite-sample"
            ),
        }
        base = runs["exchangeable"][1].mean()
        for name, (covered, width) in runs.items():
            finite = np.isfinite(width)
            rows.append(
                {
                    "model": model,
                    "interval": name,
                    "coverage": covered.mean(),
                    "mean_width": width[finite].mean(),
                    "infinite": (~finite).mean(),
                    "width_ratio": width[finite].mean() / base,
                }
            )
    return pd.DataFrame(rows)


# --- Pew ---------------------------------------------------------------------


def pew_scalar_tasks() -> pd.DataFrame:
    """96 scalar GPT-4o Pew tasks (region x wave x role), summary format."""
    try:
        from synthinfer.datasets import pew_tasks

        return pew_tasks(scalar=True)
    except (ImportError, TypeError, AttributeError):
        pass
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[1] / "src/synthinfer/datasets/data/pew_approval_gpt4o.csv"
    )
    raw = pd.read_csv(path)
    raw = raw[raw["party"] != "Other"].copy()
    own = {"Trump": "Rep", "Biden": "Dem"}
    raw["role"] = np.where(raw["party"] == raw["president"].map(own), "co", "opp")
    raw["task"] = raw["region"] + " / " + raw["president"] + " " + raw["wave"]
    keep = raw.groupby("task")["n"].transform("min") >= 100
    raw = raw[keep & (raw.groupby("task")["role"].transform("nunique") == 2)]
    return pd.DataFrame(
        {
            "task": raw["task"] + " / " + raw["role"],
            "synth_estimate": raw["synth_mean"],
            "synth_se": raw["synth_se"],
            "real_estimate": raw["real_mean"],
            "gap_estimate": raw["gap_mean"],
            "gap_se": raw["gap_se"],
            "role": raw["role"],
            "time": raw["wave_number"],
        }
    ).reset_index(drop=True)


def leave_one_out(frame, alpha, covariates, *, bounds=(0.0, 1.0), allocation=ALLOCATION):
    """Leave-one-task-out coverage and widths, unadjusted vs adjusted (full conformal)."""
    from synthinfer.adjust import design_matrix
    from synthinfer.allocation import Allocation

    n = len(frame)
    others = np.array([np.delete(np.arange(n), i) for i in range(n)])
    gap = WaldInterval(frame["gap_estimate"].to_numpy()[others], frame["gap_se"].to_numpy()[others])
    target = WaldInterval(frame["synth_estimate"].to_numpy(), frame["synth_se"].to_numpy())
    truth = frame["real_estimate"].to_numpy()
    cal = calibrate("exchangeable", target, History(gap=gap), alpha, allocation)
    a1, a2, a3 = Allocation.parse(allocation).split(alpha)
    design = design_matrix(frame, covariates).matrix
    stacked = np.concatenate([design[others], design[:, None, :]], axis=1)
    lo, hi = gap.interval(a2)
    band = full_conformal_band(lo, hi, stacked, a3)
    s_lo, s_hi = target.interval(a1)
    results = {}
    for name, (lower, upper) in {
        "exchangeable": (cal.lower, cal.upper),
        f"adjust {covariates}": (s_lo + band[0], s_hi + band[1]),
    }.items():
        clipped = np.clip(lower, *bounds), np.clip(upper, *bounds)
        results[name] = {
            "coverage": np.mean((clipped[0] <= truth) & (truth <= clipped[1])),
            "width_unclipped": np.mean(upper - lower),
            "width_clipped": np.mean(clipped[1] - clipped[0]),
        }
    return pd.DataFrame(results).T


# --- Arena judge tasks -----------------------------------------------------------


def arena_judge_tasks() -> pd.DataFrame:
    """20 models x 3 estimands from paired human / GPT-4-judge verdicts on the same battles."""
    try:
        from synthinfer.datasets import load_dataset

        battles = load_dataset("arena_judge_battles")
    except (ImportError, AttributeError, ValueError):
        from pathlib import Path

        root = Path(__file__).resolve().parents[1]
        battles = pd.read_csv(root / "src/synthinfer/datasets/data/arena_judge_battles.csv")
    rows = []
    for side in ("a", "b"):
        model = battles[f"model_{side}"]
        for source in ("human", "judge"):
            v = battles[source]
            rows.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "battle": battles["battle"],
                        "source": source,
                        "win": (v == side) + 0.5 * (v == "tie"),
                        "tie": (v == "tie").astype(float),
                        "decisive": (v == side).astype(float),
                        "decided": (v != "tie"),
                    }
                )
            )
    long = pd.concat(rows)
    wide = long.pivot_table(
        index=["model", "battle"], columns="source", values=["win", "tie", "decisive", "decided"]
    )
    out = []
    for kind in ("win", "tie", "decisive"):
        h = wide[(kind, "human")]
        j = wide[(kind, "judge")]
        if kind == "decisive":  # share of decided battles won (paired on battles decided by both)
            both = (wide[("decided", "human")] > 0) & (wide[("decided", "judge")] > 0)
            h, j = h[both], j[both]
        d = h - j
        g = pd.DataFrame({"h": h, "j": j, "d": d}).groupby(level="model")
        n = g.size()
        out.append(
            pd.DataFrame(
                {
                    "task": [f"{m} / {kind}" for m in n.index],
                    "kind": kind,
                    "synth_estimate": g["j"].mean().to_numpy(),
                    "synth_se": (g["j"].std() / np.sqrt(n)).to_numpy(),
                    "real_estimate": g["h"].mean().to_numpy(),
                    "gap_estimate": g["d"].mean().to_numpy(),
                    "gap_se": (g["d"].std() / np.sqrt(n)).to_numpy(),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def main() -> None:
    pd.set_option("display.width", 160)
    print("Monte Carlo (R = 1000, T = 100, alpha = 0.1, prop:0.1,0.2,0.7, seed 2026)")
    print(monte_carlo_table().round(3).to_string(index=False))
    pew = pew_scalar_tasks()
    print(f"\nPew GPT-4o scalar tasks: {len(pew)}; leave-one-out at alpha = 0.2")
    for cov in ("synth_estimate,role", "role", "synth_estimate"):
        print(leave_one_out(pew, 0.2, cov).round(3).to_string())
    arena = arena_judge_tasks()
    print(f"\nArena judge tasks: {len(arena)} (20 models x 3 estimands); leave-one-out")
    for alpha in (0.1, 0.2):
        print(f"alpha = {alpha}")
        for cov in ("kind", "synth_estimate,kind"):
            print(leave_one_out(arena, alpha, cov).round(3).to_string())


if __name__ == "__main__":
    main()
