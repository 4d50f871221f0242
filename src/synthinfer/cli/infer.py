"""The ``infer`` and ``backtest`` commands: calibrated intervals from a task table.

Both commands take the same options for what is computed
(:class:`CalibrationOptions`), how it is calibrated (:class:`TuningOptions`)
and where the table is scanned (:class:`SourceOptions`); each is an option
group (see :mod:`synthinfer.cli._groups`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthinfer._columns import READABLE_COLUMNS
from synthinfer.allocation import AUTO_ALLOCATION
from synthinfer.cli._groups import option_field, with_option_groups
from synthinfer.cli._options import (
    AllocationOption,
    AlphaOption,
    BoundsOption,
    DataArgument,
    DecayOption,
    EncodingOption,
    Engine,
    EngineOption,
    MethodOption,
    Protocol,
    SeedOption,
    SplitTimeOption,
    TimeColOption,
    given_numbers,
    method_values,
)
from synthinfer.cli._output import OutputOptions, progress_report, report_errors, save_table

if TYPE_CHECKING:
    from synthinfer.data import TaskData

__all__ = [
    "DEFAULT_SEED",
    "CalibrationOptions",
    "SourceOptions",
    "TuningOptions",
    "backtest_command",
    "infer_command",
    "seed_note",
]

DEFAULT_SEED = 0
"""The seed of every randomized command when ``--seed`` is not given."""


def seed_note(seed: int | None, randomized: bool = True) -> None:
    """Say on stderr which seed a randomized result used (nothing when nothing was random)."""
    if randomized and seed is not None:
        typer.echo(f"note: seed {seed} (change with --seed)", err=True)


# ------------------------------------------------------------------ what is computed


class IntervalKind(str, Enum):
    """Per-task interval constructions for unit-level data."""

    wald = "wald"
    hoeffding = "hoeffding"
    bootstrap = "bootstrap"


@dataclass(frozen=True)
class CalibrationOptions:
    """What ``infer`` and ``backtest`` compute: levels, methods, budget split, estimand."""

    alpha: AlphaOption = None
    level: list[str] | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None, "--level", help="Confidence level(s) 1 - alpha instead of --alpha, e.g. 0.9,0.95."
    )
    method: MethodOption = None
    allocation: AllocationOption = AUTO_ALLOCATION.spec
    bounds: BoundsOption = None
    estimand: str = option_field("mean", "--estimand", help="mean or quantile:Q (unit-level data).")
    interval: IntervalKind | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None, "--interval", help="Interval construction for unit-level data (default: Wald)."
    )
    seed: SeedOption = DEFAULT_SEED

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`synthinfer.infer` and ``backtest``."""
        return {
            **dataclasses.asdict(self),
            "alpha": given_numbers(self.alpha, "--alpha"),
            "level": given_numbers(self.level, "--level"),
            "method": method_values(self.method),
            "interval": None if self.interval is None else self.interval.value,
        }


# --------------------------------------------------------------- how it is calibrated


class AdjustMode(str, Enum):
    """Covariate adjustment modes."""

    full = "full"
    split = "split"


@dataclass(frozen=True)
class TuningOptions:
    """How ``infer`` and ``backtest`` calibrate: recency, groups, adjustment, kernel weights."""

    decay: DecayOption = None
    group_by: str | None = option_field(
        None, "--group-by", help="Calibrate on history tasks of the same group."
    )
    adjust: str | None = option_field(
        None,
        "--adjust",
        help="Covariates for an adjusted band: task attributes and/or synth_estimate.",
    )
    adjust_mode: AdjustMode = option_field(  # noqa: RUF009 - a dataclasses.Field
        AdjustMode.full, "--adjust-mode", help="Full (ridge) or split conformal adjustment."
    )
    n_bootstrap: int = option_field(2000, "--n-bootstrap", help="Bootstrap replicates.")
    kernel: str | None = option_field(
        None,
        "--kernel",
        help="Task attributes for similarity weights in 'weighted' (comma-separated).",
    )
    bandwidth: float = option_field(
        1.0,
        "--bandwidth",
        help="Kernel bandwidth in standard deviations of numeric attributes.",
    )
    mismatch: float = option_field(
        0.5,
        "--mismatch",
        help="Kernel weight penalty per mismatching categorical attribute.",
    )
    penalty: float = option_field(1.0, "--penalty", help="Ridge penalty of the --adjust gap model.")

    def keywords(self) -> dict[str, Any]:
        """As in :meth:`CalibrationOptions.keywords`."""
        return {**dataclasses.asdict(self), "adjust_mode": self.adjust_mode.value}


# ----------------------------------------------------------- where the table is scanned


@dataclass(frozen=True)
class SourceOptions:
    """Where the task table of ``infer`` and ``backtest`` is scanned."""

    engine: EngineOption = Engine.duckdb
    spark_remote: str | None = option_field(
        None,
        "--spark-remote",
        help="Spark Connect address for --engine spark, e.g. sc://HOST:15002.",
    )
    encoding: EncodingOption = None

    def load(self, data: Path) -> TaskData:
        """The task data of the file ``data``, scanned by the chosen engine."""
        from synthinfer.data import TaskData

        return TaskData.load(
            data,
            engine=self.engine.value,
            spark_remote=self.spark_remote,
            encoding=self.encoding,
        )


# ---------------------------------------------------------------------- commands


def _calibrate(
    function: Callable[..., Any],
    label: str,
    data: Path,
    options: tuple[CalibrationOptions, TuningOptions, SourceOptions],
    **keywords: Any,
) -> Any:
    """Call ``infer`` or ``backtest`` on the file ``data`` with a progress bar labelled ``label``.

    ``keywords`` are the arguments that only ``function`` takes.
    """
    calibration, tuning, source = options
    with progress_report(label) as progress:
        return function(
            source.load(data),
            **calibration.keywords(),
            **tuning.keywords(),
            **keywords,
            progress=progress,
        )


@report_errors
@with_option_groups
def infer_command(
    data: DataArgument,
    *,
    calibration: CalibrationOptions,
    output: OutputOptions,
    tuning: TuningOptions,
    source: SourceOptions,
) -> None:
    """Calibrated intervals for every target task (tasks with synthetic data only)."""
    from synthinfer.evaluate import infer

    result = _calibrate(infer, "calibrating", data, (calibration, tuning, source))
    frame = result.to_frame()
    if output.table and output.out is None:
        frame = frame[list(READABLE_COLUMNS)]
    output.emit(frame)
    seed_note(result.seed, result.randomized)


@report_errors
@with_option_groups
def backtest_command(
    data: DataArgument,
    *,
    protocol: Annotated[
        Protocol, typer.Option("--protocol", help="loo or temporal.")
    ] = Protocol.loo,
    time_col: TimeColOption = "time",
    split_time: SplitTimeOption = None,
    calibration: CalibrationOptions,
    output: OutputOptions,
    summary_out: Annotated[
        Path | None,
        typer.Option("--summary-out", help="Also write the coverage summary to FILE."),
    ] = None,
    tuning: TuningOptions,
    source: SourceOptions,
) -> None:
    """Hold out history tasks and report coverage and widths.

    With --format table the coverage summary is printed; with csv or json the
    per-task rows (output columns plus truth and covered).
    """
    from synthinfer.evaluate import backtest

    result = _calibrate(
        backtest,
        "backtest",
        data,
        (calibration, tuning, source),
        protocol=protocol.value,
        split_time=split_time,
        time_col=time_col,
    )
    if summary_out is not None:
        save_table(result.summary_frame, summary_out)
    if output.out is not None or not output.table:
        output.emit(result.tasks)
    if output.table:
        sys.stdout.write(f"backtest ({protocol.value}):\n" + output.render(result.summary_frame))
    seed_note(result.seed, result.randomized)
