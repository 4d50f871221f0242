"""The ``synthinfer`` command line."""

from __future__ import annotations

import functools
import json
import math
import sys
import warnings
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import pandas as pd
import typer

from synthinfer import datasets as bundled
from synthinfer._io import write_table
from synthinfer.data import TaskData
from synthinfer.evaluate import SETTING_NAMES, backtest, infer

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

F = TypeVar("F", bound=Callable[..., object])

USER_ERRORS = (ValueError, FileNotFoundError, ImportError, KeyError, TypeError)


class OutputFormat(str, Enum):
    """How results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


class IntervalKind(str, Enum):
    """Per-task interval constructions for unit-level data."""

    wald = "wald"
    hoeffding = "hoeffding"
    bootstrap = "bootstrap"


class Protocol(str, Enum):
    """Backtest protocols."""

    loo = "loo"
    temporal = "temporal"


class AdjustMode(str, Enum):
    """Covariate adjustment modes."""

    full = "full"
    split = "split"


def split_list(values: list[str] | None) -> list[str]:
    """Comma-separated and repeated option values as one flat list."""
    items: list[str] = []
    for value in values or []:
        items.extend(part.strip() for part in str(value).split(",") if part.strip())
    return items


def float_list(values: list[str] | None, name: str) -> list[float]:
    """Parse a list option of numbers, naming the option on error."""
    out = []
    for item in split_list(values):
        try:
            out.append(float(item))
        except ValueError:
            raise ValueError(f"{name} takes numbers, got {item!r}") from None
    return out


def report_errors(func: F) -> F:
    """Turn user errors into one line on stderr and exit code 2; show warnings as lines."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = func(*args, **kwargs)
            except USER_ERRORS as error:
                _print_warnings(caught)
                message = error.args[0] if error.args else str(error)
                typer.echo(f"error: {message}", err=True)
                raise typer.Exit(code=2) from None
        _print_warnings(caught)
        return result

    return wrapper  # type: ignore[return-value]


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for item in caught:
        text = str(item.message)
        if text not in seen and issubclass(item.category, UserWarning):
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)


def _json_value(value):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if hasattr(value, "item"):
        return _json_value(value.item())
    return value


def frame_to_json(frame: pd.DataFrame) -> str:
    """Records as JSON; infinite values as the strings ``"inf"``/``"-inf"``, NaN as null."""
    records = [
        {column: _json_value(value) for column, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    return json.dumps(records, indent=1)


def format_frame(frame: pd.DataFrame, fmt: OutputFormat) -> str:
    """Render a frame for people (``table``) or pipes (``csv``, ``json``)."""
    if fmt is OutputFormat.csv:
        return frame.to_csv(index=False)
    if fmt is OutputFormat.json:
        return frame_to_json(frame)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n"


def emit(frame: pd.DataFrame, fmt: OutputFormat, out: Path | None) -> None:
    """Write ``frame`` to ``out`` (by suffix: CSV or Parquet; JSON for .json) or print it."""
    if out is not None:
        if out.suffix.lower() == ".json":
            out.write_text(frame_to_json(frame))
        else:
            write_table(frame, out)
        typer.echo(f"wrote {len(frame)} rows to {out}", err=True)
        return
    sys.stdout.write(format_frame(frame, fmt))


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
AlphaOption = Annotated[
    list[str] | None,
    typer.Option("--alpha", "-a", help="Level(s), e.g. 0.1,0.2 (repeatable). Default 0.1."),
]
MethodOption = Annotated[
    list[str] | None,
    typer.Option(
        "--method",
        "-m",
        help="exchangeable, weighted, finite-sample, task-only, synthetic-only "
        "(comma-separated, repeatable). Default exchangeable.",
    ),
]
AllocationOption = Annotated[str, typer.Option(help="Budget split: prop:A,B,C or abs:A1,A2.")]
BoundsOption = Annotated[
    str | None, typer.Option(help="Range of the estimand LO,HI: clips final intervals.")
]
EstimandOption = Annotated[str, typer.Option(help="mean or quantile:Q (unit-level data).")]
IntervalOption = Annotated[
    IntervalKind | None,
    typer.Option(help="Interval construction for unit-level data (default: Wald)."),
]
SeedOption = Annotated[int | None, typer.Option(help="Seed for bootstrap and splits.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
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
    data: Annotated[
        Path, typer.Argument(help="Task table: unit-level or summary, CSV or Parquet.")
    ],
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
    result = infer(TaskData.read(data, engine=engine), **options)
    frame = result.to_frame()
    if output_format is OutputFormat.table and out is None:
        frame = frame[PEOPLE_COLUMNS]
    emit(frame, output_format, out)


@app.command("backtest")
@report_errors
def backtest_command(
    data: Annotated[
        Path, typer.Argument(help="Task table: unit-level or summary, CSV or Parquet.")
    ],
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
    result = backtest(
        TaskData.read(data, engine=engine),
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
    from synthinfer._cli_arena import register as register_arena
    from synthinfer._cli_beyond import register as register_beyond
    from synthinfer._cli_study import register as register_study

    register_study(app)
    register_arena(app)
    register_beyond(app)


_register_extensions()


def main() -> None:
    """Entry point of the ``synthinfer`` console script."""
    app()


if __name__ == "__main__":
    main()
