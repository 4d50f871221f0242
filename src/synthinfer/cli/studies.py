"""The study commands ``simulate``, ``reproduce`` and ``plot``."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer._validation import split_list
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AllocationOption,
    AlphaOption,
    BoundsOption,
    DecayOption,
    OutOption,
    OutputFormat,
    OutputFormatOption,
    SeedOption,
    alpha_values,
    number_pair,
)
from synthinfer.cli._output import format_frame, progress_bar, report_errors, write_frame

__all__ = [
    "Experiment",
    "ModelName",
    "plot_command",
    "reproduce_command",
    "simulate_command",
]


class ModelName(str, Enum):
    """Generative models of ``synthinfer simulate``."""

    bernoulli = "bernoulli"
    gaussian = "gaussian"
    heavy_tail = "heavy-tail"
    unequal_n = "unequal-n"
    drift = "drift"
    attribute = "attribute"


class Experiment(str, Enum):
    """The paper's experiments that ``synthinfer reproduce`` runs."""

    simulated = "simulated"
    pew = "pew"
    arena = "arena"


@report_errors
def simulate_command(
    model: Annotated[
        ModelName, typer.Option("--model", help="Generative model (see docs/simulations.md).")
    ] = ModelName.bernoulli,
    tasks: Annotated[
        int, typer.Option("--tasks", help="Historical tasks T per replication.")
    ] = 100,
    reps: Annotated[int, typer.Option("--reps", help="Monte Carlo replications R.")] = 1000,
    n: Annotated[int, typer.Option("--n", help="Real sample size per task.")] = 1000,
    synthetic_n: Annotated[
        int, typer.Option("--synthetic-n", help="Synthetic sample size per task.")
    ] = 2000,
    bias: Annotated[float, typer.Option("--bias", help="Mean synthetic bias E[θ~ − θ].")] = 0.05,
    tau: Annotated[float, typer.Option("--tau", help="SD of the bias across tasks.")] = 0.10,
    beta: Annotated[
        str,
        typer.Option("--beta", help="Beta(A,B) law of success probabilities (Bernoulli models)."),
    ] = "2,2",
    df: Annotated[
        float, typer.Option("--df", help="Degrees of freedom of the t bias (heavy-tail).")
    ] = 3.0,
    n_min: Annotated[
        int, typer.Option("--n-min", help="Oldest task's real sample size (unequal-n).")
    ] = 20,
    drift: Annotated[
        float,
        typer.Option("--drift", help="Total drift of the mean bias over the history (drift)."),
    ] = 0.4,
    shift: Annotated[
        float, typer.Option("--shift", help="Extra bias of tasks with attribute 1 (attribute).")
    ] = 0.3,
    share: Annotated[
        float,
        typer.Option("--share", help="Share of history tasks with attribute 1 (attribute)."),
    ] = 0.5,
    alphas: AlphaOption = None,
    methods: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            "-m",
            help="Methods (comma-separated, repeatable). Default exchangeable, task-only, "
            "finite-sample, synthetic-only. 'weighted' needs --decay, --attribute-weight or "
            "--uniform-weights.",
        ),
    ] = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    bounds: BoundsOption = None,
    decay: DecayOption = None,
    attribute_weight: Annotated[
        float | None,
        typer.Option(
            "--attribute-weight",
            help="Weight of history tasks whose attribute differs from the current task's "
            "(attribute model; same attribute gets 1).",
        ),
    ] = None,
    uniform_weights: Annotated[
        bool,
        typer.Option(
            "--uniform-weights",
            help="Run 'weighted' with all weights 1 (then it equals 'exchangeable').",
        ),
    ] = False,
    seed: SeedOption = None,
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
    per_rep: Annotated[
        Path | None,
        typer.Option("--per-rep", help="Write every replication's row to FILE (.csv, .parquet)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Threads for blocks of replications (default: CPUs, at most 4)."
        ),
    ] = None,
) -> None:
    """Monte Carlo coverage of the methods on a generative model with known truth.

    Each replication draws T historical tasks and one current task; every
    method is scored against its own target (the current task's population
    parameter, or its real-sample mean for finite-sample). Prints one row per
    method × alpha: coverage, its Monte Carlo SE, mean and median width and
    the width decomposition w1, w2, w3.
    """
    from synthinfer.studies.simulate import DEFAULT_METHODS, SimulationModel, coverage_study

    beta_a, beta_b = number_pair(beta, "--beta") or (2.0, 2.0)
    spec = SimulationModel(
        name=model.value,
        n=n,
        synthetic_n=synthetic_n,
        bias=bias,
        tau=tau,
        beta_a=beta_a,
        beta_b=beta_b,
        df=df,
        n_min=n_min,
        drift=drift,
        shift=shift,
        share=share,
    )
    with progress_bar(reps, "simulating") as progress:
        result = coverage_study(
            spec,
            reps=reps,
            tasks=tasks,
            methods=split_list(methods) or list(DEFAULT_METHODS),
            alphas=alpha_values(alphas),
            allocation=allocation,
            bounds=number_pair(bounds, "--bounds"),
            decay=decay,
            attribute_weight=attribute_weight,
            uniform_weights=uniform_weights,
            seed=seed,
            per_rep=per_rep is not None,
            progress=progress,
            workers=workers,
        )
    if per_rep is not None and result.per_rep is not None:
        write_frame(result.per_rep, per_rep, json_newline=True)
    if out is not None:
        write_frame(result.summary, out, json_newline=True)
        return
    if output_format is OutputFormat.table:
        sys.stdout.write(
            f"model {model.value}: R = {reps}, T = {tasks}, allocation {result.allocation}, "
            f"seed {result.seed}\n"
        )
    sys.stdout.write(format_frame(result.summary, output_format, json_newline=True))


@report_errors
def reproduce_command(
    name: Annotated[Experiment, typer.Argument(help="simulated, pew or arena.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory for results (default reproduce-NAME)."),
    ] = None,
    reps: Annotated[int, typer.Option("--reps", help="Replications (simulated only).")] = 1000,
    seed: SeedOption = 2026,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write forest plots.")] = True,
) -> None:
    """Run one of the paper's experiments and compare with the numbers it reports.

    Writes per-task results (CSV), a summary (CSV and Markdown) next to the
    paper's numbers, and forest plots (PNG) into --out, and prints the summary.
    Rows whose difference from the paper exceeds Monte Carlo error (simulated)
    or the paper's rounding (pew, arena) are flagged. --reps and --seed apply
    to the simulated experiment only.
    """
    from synthinfer.studies.reproduce import reproduce

    directory = out if out is not None else Path(f"reproduce-{name.value}")
    with progress_bar(2 * reps if name is Experiment.simulated else 1, name.value) as progress:
        result = reproduce(
            name.value, out=directory, reps=reps, seed=seed, plots=plots, progress=progress
        )
    sys.stdout.write(result.report() + "\n")
    for path in result.files:
        typer.echo(f"wrote {path}", err=True)
    if result.flagged:
        typer.echo(
            f"{result.flagged} row(s) differ from the paper beyond Monte Carlo error or "
            f"rounding (flag DIFFERS)",
            err=True,
        )


@report_errors
def plot_command(
    results: Annotated[
        Path, typer.Argument(help="Results file from infer, backtest, simulate --per-rep.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Image file (.png, .pdf, .svg).")],
    method: Annotated[
        str | None,
        typer.Option("--method", "-m", help="Calibrated method (default: the first not baseline)."),
    ] = None,
    baseline: Annotated[
        str, typer.Option("--baseline", help="Method drawn beside it; 'none' for none.")
    ] = "synthetic-only",
    alpha: Annotated[
        float | None, typer.Option("--alpha", "-a", help="Level (default: the smallest).")
    ] = None,
    bounds: BoundsOption = None,
    sort: Annotated[
        str, typer.Option("--sort", help="Row order: truth, estimate or none.")
    ] = "truth",
    max_tasks: Annotated[
        int | None, typer.Option("--max-tasks", help="Show only the first N tasks.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Figure title.")] = None,
    xlabel: Annotated[
        str, typer.Option("--xlabel", help="Label of the horizontal axis.")
    ] = "estimand",
    dpi: Annotated[int, typer.Option("--dpi", help="Resolution of raster images.")] = 150,
) -> None:
    """Forest plot of a results file: calibrated and synthetic-only intervals per task.

    The truth is marked when the file has it (backtests, simulations);
    intervals that miss it are drawn dashed. A table with several coordinates
    gets one panel per coordinate.
    """
    from synthinfer.plot import forest_figure
    from synthinfer.tables import read_table

    frame = read_table(results)
    figure = forest_figure(
        frame,
        method=method,
        baseline=None if baseline.lower() == "none" else baseline,
        alpha=alpha,
        bounds=number_pair(bounds, "--bounds"),
        sort=sort,
        title=title,
        max_tasks=max_tasks,
        xlabel=xlabel,
    )
    figure.savefig(out, dpi=dpi)
    typer.echo(f"wrote {out}", err=True)
