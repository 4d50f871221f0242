"""The battle-log commands ``arena`` and ``simulate-battles``."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthinfer._columns import ARENA_READABLE_COLUMNS
from synthinfer.allocation import AUTO_ALLOCATION
from synthinfer.cli._groups import option_field, with_option_groups
from synthinfer.cli._options import (
    AllocationOption,
    AlphaOption,
    Engine,
    EngineOption,
    MethodOption,
    ModelAColOption,
    ModelBColOption,
    Protocol,
    SeedOption,
    SplitTimeOption,
    alpha_values,
    method_values,
    option,
)
from synthinfer.cli._output import OutputOptions, report_errors, save_table, write_frame
from synthinfer.cli.infer import DEFAULT_SEED, seed_note

if TYPE_CHECKING:
    from synthinfer.arena import ArenaResult

__all__ = [
    "ArenaEstimand",
    "BattleLogOptions",
    "BattleModelOptions",
    "arena_command",
    "simulate_battles_command",
]

# ------------------------------------------------------------------------- arena


class ArenaEstimand(str, Enum):
    """Per-model estimands."""

    win_rate = "win-rate"
    bradley_terry = "bradley-terry"


BattlesArgument = Annotated[
    Path,
    typer.Argument(
        help="Battle log (CSV or Parquet, one row per battle) or a pairwise judge file "
        "(FastChat JSONL, MT-Bench human judgments, AlpacaEval annotations, Arena one-hot dump)."
    ),
]
EstimandOption = option(
    ArenaEstimand, "--estimand", help="Per-model estimand: win-rate or bradley-terry."
)
ProtocolOption = option(
    Protocol | None,
    "--protocol",
    help="Backtest over models with human verdicts: loo or temporal. Without it, "
    "models with autorater verdicts only are calibrated on all the others.",
)
ReferenceOption = option(
    str | None, "--reference", help="Bradley-Terry reference model, pinned at 0."
)
AnchorOption = option(int, "--anchor", help="The M earliest models never serve as tasks.", min=0)
GapBootstrapOption = option(
    int,
    "--n-gap-bootstrap",
    help="Paired bootstrap replicates per model for the gap SE (Bradley-Terry).",
)
SummaryOutOption = option(
    Path | None,
    "--summary-out",
    help="Also write the per-model summary table (usable by infer and backtest).",
)


@dataclass(frozen=True)
class BattleLogOptions:
    """How ``arena`` reads the battle log: columns, release times, verdict values, engine."""

    model_a: ModelAColOption = "model_a"
    model_b: ModelBColOption = "model_b"
    human: str = option_field("human", "--human-col", help="Column of the human verdict.")
    judge: str = option_field("judge", "--judge-col", help="Column of the autorater verdict.")
    time: str | None = option_field(
        None, "--time-col", help="Battle time column (default: 'time' if present)."
    )
    releases: Path | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None, "--releases", help="Release table: columns model, time (or release_date)."
    )
    verdicts: str = option_field(
        "a,b,tie", "--verdicts", help="Verdict values A,B,TIE; alternatives separated by '|'."
    )
    engine: EngineOption = Engine.duckdb
    memory_limit: str = option_field("1GB", "--memory-limit", help="DuckDB memory limit, e.g. 1GB.")
    format_in: str | None = option_field(
        None,
        "--format-in",
        help="File format: battles, fastchat, mtbench-human, alpacaeval or arena-onehot "
        "(default: detected from the columns).",
    )
    real: Path | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None,
        "--real",
        help="Human verdicts on the same battles, for a judgment file (MT-Bench human "
        "table, AlpacaEval annotations, Arena one-hot dump).",
    )
    synthetic_judge: str = option_field(
        "gpt",
        "--synthetic-judge",
        help="In a file whose judge column mixes humans and the autorater: the prefix of "
        "the autorater's names.",
    )

    def keywords(self) -> dict[str, Any]:
        """The options as the read options of :func:`synthinfer.arena.arena`."""
        return {**dataclasses.asdict(self), "engine": self.engine.value}


@report_errors
@with_option_groups
def arena_command(
    battles: BattlesArgument,
    *,
    estimand: EstimandOption = ArenaEstimand.win_rate,
    protocol: ProtocolOption = None,
    split_time: SplitTimeOption = None,
    reference: ReferenceOption = None,
    anchor: AnchorOption = 0,
    alpha: AlphaOption = None,
    method: MethodOption = None,
    allocation: AllocationOption = AUTO_ALLOCATION.spec,
    n_gap_bootstrap: GapBootstrapOption = 200,
    seed: SeedOption = DEFAULT_SEED,
    log: BattleLogOptions,
    output: OutputOptions,
    summary_out: SummaryOutOption = None,
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
        **log.keywords(),
    )
    if summary_out is not None:
        write_frame(result.summary_table, summary_out, json_newline=True)
    if output.out is not None or not output.table:
        output.emit(result.tasks, json_newline=True)
    if output.table:
        _print_arena_tables(result, estimand, output)
    seed_note(result.seed, result.randomized)


def _print_arena_tables(
    result: ArenaResult, estimand: ArenaEstimand, output: OutputOptions
) -> None:
    """The readable per-model table (unless written to a file) and the backtest coverage."""
    if output.out is None:
        columns = [c for c in ARENA_READABLE_COLUMNS if c in result.tasks.columns]
        header = f"arena {estimand.value}"
        if result.arena_summary.reference:
            header += f" (reference {result.arena_summary.reference} = 0)"
        sys.stdout.write(header + ":\n" + output.render(result.tasks[columns]))
    if result.coverage is not None:
        sys.stdout.write(f"backtest ({result.protocol}):\n" + output.render(result.coverage))


# -------------------------------------------------------------- simulate-battles

BattleLogOutOption = option(Path, "--out", "-o", help="Battle log to write (.csv, .parquet).")
ModelsOption = option(int, "--models", help="Number of models K.", min=2)
BattleCountOption = option(int, "--battles", help="Number of battles N.", min=1)
TruthOutOption = option(
    Path | None, "--truth-out", help="Also write true strengths, biases and win rates."
)


@dataclass(frozen=True)
class BattleModelOptions:
    """The battle model of ``simulate-battles``, as in :func:`synthinfer.arena.simulate_battles`."""

    strength_sd: float = option_field(1.0, "--strength-sd", help="SD of the true strengths.")
    judge_bias_sd: float = option_field(
        0.3, "--judge-bias-sd", help="SD of the autorater's per-model bias."
    )
    judge_scale: float = option_field(
        0.0, "--judge-scale", help="Autorater bias proportional to strength."
    )
    tie_rate: float = option_field(
        0.3, "--tie-rate", help="Tie probability of equal models, in [0, 0.5]."
    )
    judge_agreement: float = option_field(
        0.6, "--agreement", help="Probability the autorater shares the human's draw."
    )
    release_order: bool = option_field(
        False, "--release-order/--no-release-order", help="Release models one by one."
    )


@report_errors
@with_option_groups
def simulate_battles_command(
    *,
    out: BattleLogOutOption,
    n_models: ModelsOption = 20,
    n_battles: BattleCountOption = 20000,
    model: BattleModelOptions,
    seed: SeedOption = DEFAULT_SEED,
    truth_out: TruthOutOption = None,
) -> None:
    """Simulate a battle log with human and autorater verdicts on the same battles."""
    from synthinfer.arena import simulate_battles

    simulation = simulate_battles(n_models, n_battles, **dataclasses.asdict(model), seed=seed)
    frame = simulation.battles
    save_table(frame.astype(dict.fromkeys(("model_a", "model_b", "human", "judge"), str)), out)
    typer.echo(f"wrote {len(frame)} battles of {n_models} models to {out}", err=True)
    if truth_out is not None:
        save_table(simulation.model.truth(), truth_out)
        typer.echo(f"wrote the true model parameters to {truth_out}", err=True)
    seed_note(seed)
