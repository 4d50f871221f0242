"""The battle-log commands ``arena`` and ``simulate-battles``."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer._columns import ARENA_READABLE_COLUMNS
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AllocationOption,
    AlphaOption,
    Engine,
    EngineOption,
    MethodOption,
    OutOption,
    OutputFormat,
    OutputFormatOption,
    Protocol,
    SeedOption,
    SplitTimeOption,
    alpha_values,
    method_values,
)
from synthinfer.cli._output import format_frame, report_errors, save_table, write_frame

__all__ = ["ArenaEstimand", "arena_command", "simulate_battles_command"]


class ArenaEstimand(str, Enum):
    """Per-model estimands."""

    win_rate = "win-rate"
    bradley_terry = "bradley-terry"


@report_errors
def arena_command(
    battles: Annotated[
        Path, typer.Argument(help="Battle log, CSV or Parquet: one row per battle.")
    ],
    estimand: Annotated[
        ArenaEstimand,
        typer.Option("--estimand", help="Per-model estimand: win-rate or bradley-terry."),
    ] = ArenaEstimand.win_rate,
    protocol: Annotated[
        Protocol | None,
        typer.Option(
            "--protocol",
            help="Backtest over models with human verdicts: loo or temporal. Without it, "
            "models with autorater verdicts only are calibrated on all the others.",
        ),
    ] = None,
    split_time: SplitTimeOption = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Bradley-Terry reference model, pinned at 0.")
    ] = None,
    anchor: Annotated[
        int, typer.Option("--anchor", help="The M earliest models never serve as tasks.", min=0)
    ] = 0,
    alpha: AlphaOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    n_gap_bootstrap: Annotated[
        int,
        typer.Option(
            "--n-gap-bootstrap",
            help="Paired bootstrap replicates per model for the gap SE (Bradley-Terry).",
        ),
    ] = 200,
    seed: SeedOption = None,
    model_a: Annotated[str, typer.Option("--model-a-col", help="Column of model A.")] = "model_a",
    model_b: Annotated[str, typer.Option("--model-b-col", help="Column of model B.")] = "model_b",
    human: Annotated[
        str, typer.Option("--human-col", help="Column of the human verdict.")
    ] = "human",
    judge: Annotated[
        str, typer.Option("--judge-col", help="Column of the autorater verdict.")
    ] = "judge",
    time: Annotated[
        str | None,
        typer.Option("--time-col", help="Battle time column (default: 'time' if present)."),
    ] = None,
    releases: Annotated[
        Path | None,
        typer.Option("--releases", help="Release table: columns model, time (or release_date)."),
    ] = None,
    verdicts: Annotated[
        str,
        typer.Option("--verdicts", help="Verdict values A,B,TIE; alternatives separated by '|'."),
    ] = "a,b,tie",
    engine: EngineOption = Engine.duckdb,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 1GB.")
    ] = "1GB",
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
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
    from synthinfer.arena import arena

    result = arena(
        battles,
        estimand=estimand.value,
        protocol=None if protocol is None else protocol.value,
        split_time=split_time,
        reference=reference,
        anchor=anchor,
        alpha=alpha_values(alpha),
        method=method_values(method),
        allocation=allocation,
        n_gap_bootstrap=n_gap_bootstrap,
        seed=seed,
        model_a=model_a,
        model_b=model_b,
        human=human,
        judge=judge,
        time=time,
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
        columns = [c for c in ARENA_READABLE_COLUMNS if c in result.tasks.columns]
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


@report_errors
def simulate_battles_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Battle log to write (.csv, .parquet).")],
    n_models: Annotated[int, typer.Option("--models", help="Number of models K.", min=2)] = 20,
    n_battles: Annotated[
        int, typer.Option("--battles", help="Number of battles N.", min=1)
    ] = 20000,
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
    judge_agreement: Annotated[
        float,
        typer.Option("--agreement", help="Probability the autorater shares the human's draw."),
    ] = 0.6,
    release_order: Annotated[
        bool,
        typer.Option("--release-order/--no-release-order", help="Release models one by one."),
    ] = False,
    seed: SeedOption = None,
    truth_out: Annotated[
        Path | None,
        typer.Option("--truth-out", help="Also write true strengths, biases and win rates."),
    ] = None,
) -> None:
    """Simulate a battle log with human and autorater verdicts on the same battles."""
    from synthinfer.arena import simulate_battles

    simulation = simulate_battles(
        n_models,
        n_battles,
        strength_sd=strength_sd,
        judge_bias_sd=judge_bias_sd,
        judge_scale=judge_scale,
        tie_rate=tie_rate,
        judge_agreement=judge_agreement,
        release_order=release_order,
        seed=seed,
    )
    frame = simulation.battles
    save_table(frame.astype(dict.fromkeys(("model_a", "model_b", "human", "judge"), str)), out)
    typer.echo(f"wrote {len(frame)} battles of {n_models} models to {out}", err=True)
    if truth_out is not None:
        save_table(simulation.model.truth(), truth_out)
        typer.echo(f"wrote the true model parameters to {truth_out}", err=True)
