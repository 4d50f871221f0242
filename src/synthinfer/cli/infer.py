"""The ``infer`` and ``backtest`` commands: calibrated intervals from a task table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from synthinfer._columns import READABLE_COLUMNS
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AdjustMode,
    AdjustModeOption,
    AdjustOption,
    AllocationOption,
    AlphaOption,
    BandwidthOption,
    BoundsOption,
    DataArgument,
    DecayOption,
    Engine,
    EngineOption,
    EstimandOption,
    GroupByOption,
    IntervalOption,
    KernelOption,
    LevelOption,
    MethodOption,
    MismatchOption,
    NBootstrapOption,
    OutOption,
    OutputFormat,
    OutputFormatOption,
    PenaltyOption,
    Protocol,
    SeedOption,
    SparkRemoteOption,
    SplitTimeOption,
    TimeColOption,
    given_numbers,
    method_values,
)
from synthinfer.cli._output import emit, format_frame, progress_report, report_errors, save_table

__all__ = ["backtest_command", "infer_command"]


@report_errors
def infer_command(
    data: DataArgument,
    alpha: AlphaOption = None,
    level: LevelOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    bounds: BoundsOption = None,
    estimand: EstimandOption = "mean",
    interval: IntervalOption = None,
    seed: SeedOption = None,
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
    decay: DecayOption = None,
    group_by: GroupByOption = None,
    adjust: AdjustOption = None,
    adjust_mode: AdjustModeOption = AdjustMode.full,
    n_bootstrap: NBootstrapOption = 2000,
    kernel: KernelOption = None,
    bandwidth: BandwidthOption = 1.0,
    mismatch: MismatchOption = 0.5,
    penalty: PenaltyOption = 1.0,
    engine: EngineOption = Engine.duckdb,
    spark_remote: SparkRemoteOption = None,
) -> None:
    """Calibrated intervals for every target task (tasks with synthetic data only)."""
    from synthinfer.data import TaskData
    from synthinfer.evaluate import infer

    with progress_report("calibrating") as progress:
        result = infer(
            TaskData.load(data, engine=engine.value, spark_remote=spark_remote),
            alpha=given_numbers(alpha, "--alpha"),
            level=given_numbers(level, "--level"),
            method=method_values(method),
            allocation=allocation,
            bounds=bounds,
            estimand=estimand,
            interval=None if interval is None else interval.value,
            decay=decay,
            group_by=group_by,
            adjust=adjust,
            adjust_mode=adjust_mode.value,
            n_bootstrap=n_bootstrap,
            seed=seed,
            kernel=kernel,
            bandwidth=bandwidth,
            mismatch=mismatch,
            penalty=penalty,
            progress=progress,
        )
    frame = result.to_frame()
    if output_format is OutputFormat.table and out is None:
        frame = frame[list(READABLE_COLUMNS)]
    emit(frame, output_format, out)


@report_errors
def backtest_command(
    data: DataArgument,
    protocol: Annotated[
        Protocol, typer.Option("--protocol", help="loo or temporal.")
    ] = Protocol.loo,
    time_col: TimeColOption = "time",
    split_time: SplitTimeOption = None,
    alpha: AlphaOption = None,
    level: LevelOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    bounds: BoundsOption = None,
    estimand: EstimandOption = "mean",
    interval: IntervalOption = None,
    seed: SeedOption = None,
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
    summary_out: Annotated[
        Path | None,
        typer.Option("--summary-out", help="Also write the coverage summary to FILE."),
    ] = None,
    decay: DecayOption = None,
    group_by: GroupByOption = None,
    adjust: AdjustOption = None,
    adjust_mode: AdjustModeOption = AdjustMode.full,
    n_bootstrap: NBootstrapOption = 2000,
    kernel: KernelOption = None,
    bandwidth: BandwidthOption = 1.0,
    mismatch: MismatchOption = 0.5,
    penalty: PenaltyOption = 1.0,
    engine: EngineOption = Engine.duckdb,
    spark_remote: SparkRemoteOption = None,
) -> None:
    """Hold out history tasks and report coverage and widths.

    With --format table the coverage summary is printed; with csv or json the
    per-task rows (output columns plus truth and covered).
    """
    from synthinfer.data import TaskData
    from synthinfer.evaluate import backtest

    with progress_report("backtest") as progress:
        result = backtest(
            TaskData.load(data, engine=engine.value, spark_remote=spark_remote),
            protocol=protocol.value,
            split_time=split_time,
            time_col=time_col,
            alpha=given_numbers(alpha, "--alpha"),
            level=given_numbers(level, "--level"),
            method=method_values(method),
            allocation=allocation,
            bounds=bounds,
            estimand=estimand,
            interval=None if interval is None else interval.value,
            decay=decay,
            group_by=group_by,
            adjust=adjust,
            adjust_mode=adjust_mode.value,
            n_bootstrap=n_bootstrap,
            seed=seed,
            kernel=kernel,
            bandwidth=bandwidth,
            mismatch=mismatch,
            penalty=penalty,
            progress=progress,
        )
    if summary_out is not None:
        save_table(result.summary_frame, summary_out)
    if out is not None:
        emit(result.tasks, output_format, out)
    if output_format is OutputFormat.table:
        sys.stdout.write(f"backtest ({protocol.value}):\n")
        sys.stdout.write(format_frame(result.summary_frame, output_format))
    elif out is None:
        emit(result.tasks, output_format, None)
