"""Command-line studies: ``simulate``, ``reproduce`` and ``plot``.

``register(app)`` adds the three commands to a typer application.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer.cli._output import (
    AllocationOption,
    AlphaOption,
    FormatOption,
    OutputFormat,
    float_list,
    format_frame,
    progress_bar,
    report_errors,
    split_list,
    write_frame,
)

__all__ = ["register"]


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


def _pair(text: str | None, option: str) -> tuple[float, float] | None:
    if text is None:
        return None
    numbers = float_list([text], option)
    if len(numbers) != 2:
        raise ValueError(f"{option} takes two numbers A,B, got {text!r}")
    return numbers[0], numbers[1]


def simulate_command(
    model: Annotated[
        ModelName, typer.Option(help="Generative model (see docs/simulations.md).")
    ] = ModelName.bernoulli,
    tasks: Annotated[int, typer.Option(help="Historical tasks T per replication.")] = 100,
    reps: Annotated[int, typer.Option(help="Monte Carlo replications R.")] = 1000,
    n: Annotated[int, typer.Option("--n", help="Real sample size per task.")] = 1000,
    synthetic_n: Annotated[
        int, typer.Option("--synthetic-n", help="Synthetic sample size per task.")
    ] = 2000,
    bias: Annotated[float, typer.Option(help="Mean synthetic bias E[θ~ − θ].")] = 0.05,
    tau: Annotated[float, typer.Option(help="SD of the bias across tasks.")] = 0.10,
    beta: Annotated[
        str, typer.Option(help="Beta(A,B) law of success probabilities (Bernoulli models).")
    ] = "2,2",
    df: Annotated[float, typer.Option(help="Degrees of freedom of the t bias (heavy-tail).")] = 3.0,
    n_min: Annotated[
        int, typer.Option("--n-min", help="Oldest task's real sample size (unequal-n).")
    ] = 20,
    drift: Annotated[
        float, typer.Option(help="Total drift of the mean bias over the history (drift).")
    ] = 0.4,
    shift: Annotated[
        float, typer.Option(help="Extra bias of tasks with attribute 1 (attribute).")
    ] = 0.3,
    share: Annotated[
        float, typer.Option(help="Share of history tasks with attribute 1 (attribute).")
    ] = 0.5,
    alpha: AlphaOption = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            "-m",
            help="Methods (comma-separated, repeatable). Default exchangeable, task-only, "
            "finite-sample, synthetic-only. 'weighted' needs --decay, --attribute-weight or "
            "--uniform-weights.",
        ),
    ] = None,
    allocation: AllocationOption = "prop:0.1,0.2,0.7",
    bounds: Annotated[
        str | None, typer.Option(help="Clip final intervals to LO,HI (e.g. 0,1).")
    ] = None,
    decay: Annotated[
        float | None,
        typer.Option(help="Recency weights RHO ** (T + 1 − j) for 'weighted' (RHO in (0, 1])."),
    ] = None,
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
    seed: Annotated[
        int | None, typer.Option(help="Seed: the same seed gives the same study.")
    ] = None,
    output_format: FormatOption = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the summary to FILE (.csv, .json).")
    ] = None,
    per_rep: Annotated[
        Path | None,
        typer.Option("--per-rep", help="Write every replication's row to FILE (.csv, .parquet)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Threads for blocks of replications (default: CPUs, at most 4)."),
    ] = None,
) -> None:
    """Monte Carlo coverage of the methods on a generative model with known truth.

    Each replication draws T historical tasks and one current task; every
    method is scored against its own target (the current task's population
    parameter, or its real-sample mean for finite-sample). Prints one row per
    method × alpha: coverage, its Monte Carlo SE, mean and median width and
    the width decomposition w1, w2, w3.
    """
    from synthinfer.studies.simulate import SimulationModel, coverage_study

    beta_a, beta_b = _pair(beta, "--beta") or (2.0, 2.0)
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
    methods = split_list(method) or ["exchangeable", "task-only", "finite-sample", "synthetic-only"]
    with progress_bar(reps, "simulating") as progress:
        result = coverage_study(
            spec,
            reps=reps,
            tasks=tasks,
            methods=methods,
            alphas=float_list(alpha, "--alpha") or [0.1],
            allocation=allocation,
            bounds=_pair(bounds, "--bounds"),
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


def reproduce_command(
    name: Annotated[Experiment, typer.Argument(help="simulated, pew or arena.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory for results (default reproduce-NAME)."),
    ] = None,
    reps: Annotated[int, typer.Option(help="Replications (simulated only).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed (simulated only).")] = 2026,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write forest plots.")] = True,
) -> None:
    """Run one of the paper's experiments and compare with the numbers it reports.

    Writes per-task results (CSV), a summary (CSV and Markdown) next to the
    paper's numbers, and forest plots (PNG) into --out, and prints the summary.
    Rows whose difference from the paper exceeds Monte Carlo error (simulated)
    or the paper's rounding (pew, arena) are flagged.
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
        str, typer.Option(help="Method drawn beside it; 'none' for none.")
    ] = "synthetic-only",
    alpha: Annotated[
        float | None, typer.Option("--alpha", "-a", help="Level (default: the smallest).")
    ] = None,
    bounds: Annotated[
        str | None, typer.Option(help="Clip intervals and the axis to LO,HI (e.g. 0,1).")
    ] = None,
    sort: Annotated[str, typer.Option(help="Row order: truth, estimate or none.")] = "truth",
    max_tasks: Annotated[
        int | None, typer.Option("--max-tasks", help="Show only the first N tasks.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
    xlabel: Annotated[str, typer.Option(help="Label of the horizontal axis.")] = "estimand",
    dpi: Annotated[int, typer.Option(help="Resolution of raster images.")] = 150,
) -> None:
    """Forest plot of a results file: calibrated and synthetic-only intervals per task.

    The truth is marked when the file has it (backtests, simulations);
    intervals that miss it are drawn dashed. A table with several coordinates
    gets one panel per coordinate.
    """
    from synthinfer.plot import forest_figure
    from synthinfer.tables._io import read_table

    frame = read_table(results)
    figure = forest_figure(
        frame,
        method=method,
        baseline=None if baseline.lower() == "none" else baseline,
        alpha=alpha,
        bounds=_pair(bounds, "--bounds"),
        sort=sort,
        title=title,
        max_tasks=max_tasks,
        xlabel=xlabel,
    )
    figure.savefig(out, dpi=dpi)
    typer.echo(f"wrote {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``simulate``, ``reproduce`` and ``plot`` to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The application (``synthinfer.cli.app``).
    """
    app.command("simulate")(report_errors(simulate_command))
    app.command("reproduce")(report_errors(reproduce_command))
    app.command("plot")(report_errors(plot_command))
