"""Command-line battle logs: ``arena`` and ``simulate-battles``.

``register(app)`` adds both commands to a typer application.
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
    MethodOption,
    OutputFormat,
    Protocol,
    float_list,
    format_frame,
    report_errors,
    split_list,
    write_frame,
)

__all__ = ["register"]


class ArenaEstimand(str, Enum):
    """Per-model estimands."""

    win_rate = "win-rate"
    bradley_terry = "bradley-terry"


class ArenaEngine(str, Enum):
    """Aggregation engines."""

    auto = "auto"
    pandas = "pandas"
    duckdb = "duckdb"


_PEOPLE_COLUMNS = (
    "task",
    "method",
    "alpha",
    "estimate",
    "lower",
    "upper",
    "width",
    "truth",
    "covered",
    "rank_lower",
    "rank_upper",
    "estimate_elo",
    "lower_elo",
    "upper_elo",
)


def arena_command(
    battles: Annotated[
        Path, typer.Argument(help="Battle log, CSV or Parquet: one row per battle.")
    ],
    estimand: Annotated[
        ArenaEstimand, typer.Option(help="Per-model estimand: win-rate or bradley-terry.")
    ] = ArenaEstimand.win_rate,
    protocol: Annotated[
        Protocol | None,
        typer.Option(
            help="Backtest over models with human verdicts: loo or temporal. Without it, "
            "models with autorater verdicts only are calibrated on all the others."
        ),
    ] = None,
    split_time: Annotated[
        str | None,
        typer.Option("--split-time", help="Temporal: models released at or after V are held out."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Bradley-Terry reference model, pinned at 0.")
    ] = None,
    anchor: Annotated[
        int, typer.Option(help="The M earliest models never serve as tasks.", min=0)
    ] = 0,
    alpha: AlphaOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = "prop:0.1,0.2,0.7",
    n_bootstrap: Annotated[
        int, typer.Option("--n-bootstrap", help="Paired bootstrap replicates per model (BT).")
    ] = 200,
    seed: Annotated[int | None, typer.Option(help="Seed for the bootstrap.")] = None,
    model_a_col: Annotated[str, typer.Option("--model-a-col", help="Column of model A.")] = (
        "model_a"
    ),
    model_b_col: Annotated[str, typer.Option("--model-b-col", help="Column of model B.")] = (
        "model_b"
    ),
    human_col: Annotated[
        str, typer.Option("--human-col", help="Column of the human verdict.")
    ] = "human",
    judge_col: Annotated[
        str, typer.Option("--judge-col", help="Column of the autorater verdict.")
    ] = "judge",
    time_col: Annotated[
        str | None,
        typer.Option("--time-col", help="Battle time column (default: 'time' if present)."),
    ] = None,
    releases: Annotated[
        Path | None, typer.Option(help="Release table: columns model, time (or release_date).")
    ] = None,
    verdicts: Annotated[
        str,
        typer.Option(help="Verdict values A,B,TIE; alternatives separated by '|'."),
    ] = "a,b,tie",
    engine: Annotated[
        ArenaEngine, typer.Option(help="Aggregation engine (auto: DuckDB for files).")
    ] = ArenaEngine.auto,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 1GB.")
    ] = "1GB",
    output_format: FormatOption = OutputFormat.table,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write per-model rows to FILE (.csv, .parquet, .json)."),
    ] = None,
    summary_out: Annotated[
        Path | None,
        typer.Option(
            "--summary-out",
            help="Also write the per-model summary table (usable by infer and backtest).",
        ),
    ] = None,
) -> None:
    """Calibrated intervals for model win rates or Bradley-Terry scores from a battle log.

    Each model is a task: the autorater's verdicts give the synthetic
    estimate, the human verdicts on the same battles the real one. With
    --protocol the models with human verdicts are backtested; without it,
    models judged by the autorater only are calibrated on all the others.
    """
    from synthinfer.arena._summary import arena

    result = arena(
        battles,
        estimand=estimand.value,
        protocol=None if protocol is None else protocol.value,
        split_time=split_time,
        reference=reference,
        anchor=anchor,
        alpha=float_list(alpha, "--alpha") or [0.1],
        method=split_list(method) or ["exchangeable"],
        allocation=allocation,
        n_bootstrap=n_bootstrap,
        seed=seed,
        model_a=model_a_col,
        model_b=model_b_col,
        human=human_col,
        judge=judge_col,
        time=time_col,
        releases=releases,
        verdicts=verdicts,
        engine=engine.value,
        memory_limit=memory_limit,
    )
    if summary_out is not None:
        write_frame(result.summary_table, summary_out, json_newline=True)
    if out is not None:
        write_frame(result.tasks, out, json_newline=True)
    if output_format is OutputFormat.table:
        columns = [c for c in _PEOPLE_COLUMNS if c in result.tasks.columns]
        header = f"arena {estimand.value}"
        if result.arena_summary.reference:
            header += f" (reference {result.arena_summary.reference} = 0)"
        if out is None:
            sys.stdout.write(header + ":\n" + format_frame(result.tasks[columns], output_format))
        if result.coverage is not None:
            sys.stdout.write(f"backtest ({result.protocol}):\n")
            sys.stdout.write(format_frame(result.coverage, output_format))
    elif out is None:
        sys.stdout.write(format_frame(result.tasks, output_format, json_newline=True))


def simulate_battles_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Battle log to write (.csv, .parquet).")],
    models: Annotated[int, typer.Option("--models", help="Number of models K.", min=2)] = 20,
    battles: Annotated[int, typer.Option("--battles", help="Number of battles N.", min=1)] = 20000,
    strength_sd: Annotated[
        float, typer.Option("--strength-sd", help="SD of the true strengths.")
    ] = 1.0,
    judge_bias_sd: Annotated[
        float, typer.Option("--judge-bias-sd", help="SD of the autorater's per-model bias.")
    ] = 0.3,
    judge_scale: Annotated[
        float,
        typer.Option("--judge-scale", help="Autorater bias proportional to strength."),
    ] = 0.0,
    tie_rate: Annotated[
        float, typer.Option("--tie-rate", help="Tie probability of equal models, in [0, 0.5].")
    ] = 0.3,
    agreement: Annotated[
        float,
        typer.Option("--agreement", help="Probability the autorater shares the human's draw."),
    ] = 0.6,
    release_order: Annotated[
        bool,
        typer.Option("--release-order/--no-release-order", help="Release models one by one."),
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    truth_out: Annotated[
        Path | None,
        typer.Option("--truth-out", help="Also write true strengths, biases and win rates."),
    ] = None,
) -> None:
    """Simulate a battle log with human and autorater verdicts on the same battles."""
    from synthinfer.arena._simulate import simulate_battles
    from synthinfer.tables._io import write_table

    simulation = simulate_battles(
        models,
        battles,
        strength_sd=strength_sd,
        judge_bias_sd=judge_bias_sd,
        judge_scale=judge_scale,
        tie_rate=tie_rate,
        judge_agreement=agreement,
        release_order=release_order,
        rng=seed,
    )
    frame = simulation.battles
    write_table(frame.astype(dict.fromkeys(("model_a", "model_b", "human", "judge"), str)), out)
    typer.echo(f"wrote {len(frame)} battles of {models} models to {out}", err=True)
    if truth_out is not None:
        write_table(simulation.model.truth(), truth_out)
        typer.echo(f"wrote the true model parameters to {truth_out}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``arena`` and ``simulate-battles`` to ``app``."""
    app.command("arena")(report_errors(arena_command))
    app.command("simulate-battles")(report_errors(simulate_battles_command))
