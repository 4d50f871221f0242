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

import pandas as pd
import typer

from synthinfer._columns import PVALUE, READABLE_COLUMNS
from synthinfer.allocation import AUTO_ALLOCATION
from synthinfer.cli._groups import InputOptions, option_field, with_option_groups
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
    PPICritical,
    PPICriticalOption,
    Protocol,
    SeedOption,
    SplitTimeOption,
    TargetLabelsOption,
    TargetOption,
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
    ppi_critical: PPICriticalOption = PPICritical.student

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`synthinfer.infer` and ``backtest``."""
        return {
            **dataclasses.asdict(self),
            "alpha": given_numbers(self.alpha, "--alpha"),
            "level": given_numbers(self.level, "--level"),
            "method": method_values(self.method),
            "interval": None if self.interval is None else self.interval.value,
            "ppi_critical": self.ppi_critical.value,
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
    task_group: str | None = option_field(
        None,
        "--task-group",
        help="Task attribute whose levels are the exchangeable groups (e.g. the question).",
    )
    coverage: str | None = option_field(
        None,
        "--coverage",
        help="With --task-group: 'cell' (a random cell of a new group; default) or 'group' "
        "(all its cells at once).",
    )

    def keywords(self) -> dict[str, Any]:
        """As in :meth:`CalibrationOptions.keywords`."""
        return {**dataclasses.asdict(self), "adjust_mode": self.adjust_mode.value}


# ------------------------------------------------------------------- what is tested


class Alternative(str, Enum):
    """Alternative hypotheses of ``--null``."""

    two_sided = "two-sided"
    greater = "greater"
    less = "less"


@dataclass(frozen=True)
class NullOptions:
    """The null value tested by ``infer`` and ``backtest`` (a ``pvalue`` column)."""

    null: str | None = option_field(
        None,
        "--null",
        help="Test this value: VALUE, or COORD=V,COORD=V per coordinate; adds a pvalue column "
        "(pvalue <= alpha exactly when the interval at alpha excludes the value).",
    )
    alternative: Alternative | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None,
        "--alternative",
        help="With --null: two-sided (default), greater (theta > null) or less (theta < null).",
    )

    def with_pvalues(self, frame: pd.DataFrame, result: Any) -> pd.DataFrame:
        """``frame`` (rows of ``result``) with the ``pvalue`` column after ``synth_estimate``."""
        from synthinfer.pvalues import parse_null

        if self.null is None:
            if self.alternative is not None:
                raise ValueError("--alternative needs --null VALUE (the value to test)")
            return frame
        alternative = (self.alternative or Alternative.two_sided).value
        keys = ["task", "coord", "method", "alpha"]
        pvalues = result.pvalue(parse_null(self.null), alternative)[[*keys, PVALUE]]
        merged = frame[keys].merge(pvalues, on=keys, how="left", validate="one_to_one")
        frame = frame.copy()
        frame.insert(frame.columns.get_loc("synth_estimate") + 1, PVALUE, merged[PVALUE].values)
        return frame

    def joint_pvalues(self, result: Any) -> pd.DataFrame | None:
        """Joint p-values of ``result`` (all coordinates at their null values at once), or
        ``None`` without ``--null`` or with one coordinate."""
        from synthinfer.pvalues import parse_null

        if self.null is None or len({interval.coord for interval in result}) < 2:
            return None
        alternative = (self.alternative or Alternative.two_sided).value
        return result.joint_pvalue(parse_null(self.null), alternative)


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

    def load(self, data: Path, columns: InputOptions | None = None) -> TaskData:
        """The task data of the file ``data``, scanned by the chosen engine.

        ``columns`` says how a wide score table or an evaluation log is read.
        """
        from synthinfer.data import TaskData

        return TaskData.load(
            data,
            engine=self.engine.value,
            spark_remote=self.spark_remote,
            encoding=self.encoding,
            **(columns or InputOptions()).keywords(),
        )


# ---------------------------------------------------------------------- commands


def _calibrate(
    function: Callable[..., Any],
    label: str,
    data: Path,
    options: tuple[CalibrationOptions, TuningOptions, SourceOptions, InputOptions],
    **keywords: Any,
) -> Any:
    """Call ``infer`` or ``backtest`` on the file ``data`` with a progress bar labelled ``label``.

    ``keywords`` are the arguments that only ``function`` takes.
    """
    calibration, tuning, source, columns = options
    with progress_report(label) as progress:
        return function(
            source.load(data, columns),
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
    target: TargetOption = None,
    calibration: CalibrationOptions,
    test: NullOptions,
    output: OutputOptions,
    tuning: TuningOptions,
    source: SourceOptions,
    columns: InputOptions,
) -> None:
    """Calibrated intervals for every target task (tasks with synthetic data only, and --target)."""
    from synthinfer.evaluate import infer

    result = _calibrate(
        infer, "calibrating", data, (calibration, tuning, source, columns), targets=target
    )
    frame = test.with_pvalues(result.to_frame(), result)
    if output.table and output.out is None:
        frame = frame[[c for c in frame.columns if c in (*READABLE_COLUMNS, PVALUE)]]
    output.emit(frame)
    joint = test.joint_pvalues(result)
    if joint is not None and output.table and output.out is None:
        sys.stdout.write(
            "joint p-values (every coordinate at its null value at once; the smallest "
            "per-coordinate p):\n" + output.render(joint)
        )
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
    target_labels: TargetLabelsOption = None,
    calibration: CalibrationOptions,
    test: NullOptions,
    output: OutputOptions,
    summary_out: Annotated[
        Path | None,
        typer.Option("--summary-out", help="Also write the coverage summary to FILE."),
    ] = None,
    tuning: TuningOptions,
    source: SourceOptions,
    columns: InputOptions,
) -> None:
    """Hold out history tasks and report coverage and widths.

    With --format table the coverage summary is printed; with csv or json the
    per-task rows (output columns plus truth and covered, and pvalue with --null).
    """
    from synthinfer.evaluate import backtest

    result = _calibrate(
        backtest,
        "backtest",
        data,
        (calibration, tuning, source, columns),
        protocol=protocol.value,
        split_time=split_time,
        time_col=time_col,
        target_labels=target_labels,
    )
    if summary_out is not None:
        save_table(result.summary_frame, summary_out)
    tasks = test.with_pvalues(result.tasks, result)
    if output.out is not None or not output.table:
        output.emit(tasks)
    if output.table:
        sys.stdout.write(f"backtest ({protocol.value}):\n" + output.render(result.summary_frame))
        if PVALUE in tasks and output.out is None:
            shown = ["task", "coord", "method", "alpha", "lower", "upper", "truth", PVALUE]
            sys.stdout.write("p-values:\n" + output.render(tasks[shown]))
    seed_note(result.seed, result.randomized)
