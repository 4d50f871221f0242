"""The ``synthinfer`` command line."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synthinfer import datasets as bundled
from synthinfer.cli._output import (
    AllocationOption,
    AlphaOption,
    FormatOption,
    MethodOption,
    OutputFormat,
    Protocol,
    emit,
    float_list,
    format_frame,
    progress_report,
    report_errors,
    split_list,
)
from synthinfer.data._taskdata import TaskData
from synthinfer.evaluate import SETTING_NAMES, backtest, infer
from synthinfer.tables._io import write_table

__all__ = ["app", "main"]

app = typer.Typer(
    name="synthinfer",
    help="Valid confidence intervals from synthetic data via task exchangeability.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Bundled real data: list and export.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


class IntervalKind(str, Enum):
    """Per-task interval constructions for unit-level data."""

    wald = "wald"
    hoeffding = "hoeffding"
    bootstrap = "bootstrap"


class AdjustMode(str, Enum):
    """Covariate adjustment modes."""

    full = "full"
    split = "split"


PEOPLE_COLUMNS = [
    "task",
    "coord",
    "method",
    "alpha",
    "estimate",
    "lower",
    "upper",
    "width",
    "w1",
    "w2",
    "w3",
    "feasible",
    "n_history",
    "n_effective",
]

DataArgument = Annotated[
    Path, typer.Argument(help="Task table: unit-level or summary, CSV or Parquet.")
]
BoundsOption = Annotated[
    str | None, typer.Option(help="Range of the estimand LO,HI: clips final intervals.")
]
EstimandOption = Annotated[str, typer.Option(help="mean or quantile:Q (unit-level data).")]
IntervalOption = Annotated[
    IntervalKind | None,
    typer.Option(help="Interval construction for unit-level data (default: Wald)."),
]
SeedOption = Annotated[int | None, typer.Option(help="Seed for bootstrap and splits.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write rows to FILE (.csv, .parquet, .json).")
]
DecayOption = Annotated[
    float | None,
    typer.Option(help="Recency decay RHO for 'weighted': weight RHO ** (latest_time - time)."),
]
GroupByOption = Annotated[
    str | None, typer.Option("--group-by", help="Calibrate on history tasks of the same group.")
]
AdjustOption = Annotated[
    str | None,
    typer.Option(help="Covariates for an adjusted band: task attributes and/or synth_estimate."),
]
AdjustModeOption = Annotated[
    AdjustMode, typer.Option("--adjust-mode", help="Full (ridge) or split conformal adjustment.")
]
BootstrapOption = Annotated[int, typer.Option("--n-bootstrap", help="Bootstrap replicates.")]
KernelOption = Annotated[
    str | None,
    typer.Option(help="Task attributes for similarity weights in 'weighted' (comma-separated)."),
]
BandwidthOption = Annotated[
    float, typer.Option(help="Kernel bandwidth in standard deviations of numeric attributes.")
]
MismatchOption = Annotated[
    float, typer.Option(help="Kernel weight penalty per mismatching categorical attribute.")
]
PenaltyOption = Annotated[float, typer.Option(help="Ridge penalty of the --adjust gap model.")]
EngineOption = Annotated[
    str,
    typer.Option(
        help="auto, pandas or duckdb: duckdb reduces a unit-level file out of core to per-task "
        "means and SEs (Wald means only); auto does so for files over 256 MB."
    ),
]


def _common(values: dict) -> dict:
    """Library keyword arguments from the shared command-line options."""
    options = {name: values[name] for name in SETTING_NAMES}
    options["alpha"] = float_list(values["alpha"], "--alpha") or [0.1]
    options["method"] = split_list(values["method"]) or ["exchangeable"]
    options["interval"] = None if values["interval"] is None else values["interval"].value
    options["adjust_mode"] = values["adjust_mode"].value
    return options


@app.command("infer")
@report_errors
def infer_command(
    data: DataArgument,
    alpha: AlphaOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = "prop:0.1,0.2,0.7",
    bounds: BoundsOption = None,
    estimand: EstimandOption = "mean",
    interval: IntervalOption = None,
    seed: SeedOption = None,
    output_format: FormatOption = OutputFormat.table,
    out: OutOption = None,
    decay: DecayOption = None,
    group_by: GroupByOption = None,
    adjust: AdjustOption = None,
    adjust_mode: AdjustModeOption = AdjustMode.full,
    n_bootstrap: BootstrapOption = 2000,
    kernel: KernelOption = None,
    bandwidth: BandwidthOption = 1.0,
    mismatch: MismatchOption = 0.5,
    penalty: PenaltyOption = 1.0,
    engine: EngineOption = "auto",
) -> None:
    """Calibrated intervals for every target task (tasks with synthetic data only)."""
    options = _common(locals())
    with progress_report("calibrating") as progress:
        result = infer(TaskData.read(data, engine=engine), progress=progress, **options)
    frame = result.to_frame()
    if output_format is OutputFormat.table and out is None:
        frame = frame[PEOPLE_COLUMNS]
    emit(frame, output_format, out)


@app.command("backtest")
@report_errors
def backtest_command(
    data: DataArgument,
    protocol: Annotated[Protocol, typer.Option(help="loo or temporal.")] = Protocol.loo,
    time_col: Annotated[str, typer.Option("--time-col", help="Time column for temporal.")] = "time",
    split_time: Annotated[
        str | None, typer.Option("--split-time", help="History = tasks with time < V.")
    ] = None,
    alpha: AlphaOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = "prop:0.1,0.2,0.7",
    bounds: BoundsOption = None,
    estimand: EstimandOption = "mean",
    interval: IntervalOption = None,
    seed: SeedOption = None,
    output_format: FormatOption = OutputFormat.table,
    out: OutOption = None,
    summary_out: Annotated[
        Path | None, typer.Option("--summary-out", help="Also write the coverage summary here.")
    ] = None,
    decay: DecayOption = None,
    group_by: GroupByOption = None,
    adjust: AdjustOption = None,
    adjust_mode: AdjustModeOption = AdjustMode.full,
    n_bootstrap: BootstrapOption = 2000,
    kernel: KernelOption = None,
    bandwidth: BandwidthOption = 1.0,
    mismatch: MismatchOption = 0.5,
    penalty: PenaltyOption = 1.0,
    engine: EngineOption = "auto",
) -> None:
    """Hold out history tasks and report coverage and widths.

    With --format table the coverage summary is printed; with csv or json the
    per-task rows (output columns plus truth and covered).
    """
    options = _common(locals())
    with progress_report("backtest") as progress:
        result = backtest(
            TaskData.read(data, engine=engine),
            progress=progress,
            protocol=protocol.value,
            split_time=split_time,
            time_col=time_col,
            **options,
        )
    if summary_out is not None:
        write_table(result.summary_frame, summary_out)
    if out is not None:
        emit(result.tasks, output_format, out)
    if output_format is OutputFormat.table:
        sys.stdout.write(f"backtest ({protocol.value}):\n")
        sys.stdout.write(format_frame(result.summary_frame, output_format))
    elif out is None:
        emit(result.tasks, output_format, None)


@datasets_app.command("list")
@report_errors
def datasets_list() -> None:
    """List the bundled datasets and task tables."""
    frame = bundled.list_datasets()
    for row in frame.itertuples():
        typer.echo(f"{row.name:22} {row.kind:10} {row.description}")
    typer.echo("\nExport one with: synthinfer datasets export NAME --out FILE.csv")


@datasets_app.command("export")
@report_errors
def datasets_export(
    name: Annotated[str, typer.Argument(help="Dataset name (see 'synthinfer datasets list').")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.csv or .parquet).")],
) -> None:
    """Write a bundled dataset or task table to a file."""
    frame = bundled.load_dataset(name)
    write_table(frame, out)
    typer.echo(f"wrote {len(frame)} rows of {name} to {out}", err=True)


@datasets_app.command("attribution")
def datasets_attribution() -> None:
    """Print where the bundled data come from and their licences."""
    typer.echo(bundled.attribution())


def _register_extensions() -> None:
    """Commands defined in their own modules."""
    from synthinfer.cli.arena import register as register_arena
    from synthinfer.cli.diagnostics import register as register_beyond
    from synthinfer.cli.studies import register as register_study

    register_study(app)
    register_arena(app)
    register_beyond(app)


_register_extensions()


def main() -> None:
    """Entry point of the ``synthinfer`` console script."""
    app()


if __name__ == "__main__":
    main()
