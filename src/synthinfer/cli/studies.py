"""The study commands ``simulate``, ``reproduce`` and ``plot``."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthinfer._validation import split_list
from synthinfer.cli._groups import option_field, with_option_groups
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AllocationOption,
    AlphaOption,
    BoundsOption,
    DecayOption,
    SeedOption,
    alpha_values,
    number_pair,
    option,
)
from synthinfer.cli._output import OutputOptions, progress_bar, report_errors, write_frame
from synthinfer.cli.infer import DEFAULT_SEED, seed_note

if TYPE_CHECKING:
    from synthinfer.studies.simulate import SimulationModel

__all__ = [
    "Experiment",
    "ForestOptions",
    "ModelName",
    "ModelOptions",
    "plot_command",
    "reproduce_command",
    "simulate_command",
]

# ---------------------------------------------------------------------- simulate


class ModelName(str, Enum):
    """Generative models of ``synthinfer simulate``."""

    bernoulli = "bernoulli"
    gaussian = "gaussian"
    heavy_tail = "heavy-tail"
    unequal_n = "unequal-n"
    drift = "drift"
    attribute = "attribute"


ModelOption = option(ModelName, "--model", help="Generative model (see docs/simulations.md).")
TasksOption = option(int, "--tasks", help="Historical tasks T per replication.")
RepsOption = option(int, "--reps", help="Monte Carlo replications R.")


@dataclass(frozen=True)
class ModelOptions:
    """The parameters of the generative model of ``simulate`` (see :class:`SimulationModel`)."""

    n: int = option_field(1000, "--n", help="Real sample size per task.")
    synthetic_n: int = option_field(2000, "--synthetic-n", help="Synthetic sample size per task.")
    bias: float = option_field(0.05, "--bias", help="Mean synthetic bias E[θ~ − θ].")
    tau: float = option_field(0.10, "--tau", help="SD of the bias across tasks.")
    beta: str = option_field(
        "2,2", "--beta", help="Beta(A,B) law of success probabilities (Bernoulli models)."
    )
    df: float = option_field(3.0, "--df", help="Degrees of freedom of the t bias (heavy-tail).")
    n_min: int = option_field(20, "--n-min", help="Oldest task's real sample size (unequal-n).")
    drift: float = option_field(
        0.4, "--drift", help="Total drift of the mean bias over the history (drift)."
    )
    shift: float = option_field(
        0.3, "--shift", help="Extra bias of tasks with attribute 1 (attribute)."
    )
    share: float = option_field(
        0.5, "--share", help="Share of history tasks with attribute 1 (attribute)."
    )

    def model(self, name: ModelName) -> SimulationModel:
        """The generative model ``name`` with these parameters."""
        from synthinfer.studies.simulate import SimulationModel

        beta_a, beta_b = number_pair(self.beta, "--beta") or (2.0, 2.0)
        parameters = {k: v for k, v in dataclasses.asdict(self).items() if k != "beta"}
        return SimulationModel(name=name.value, beta_a=beta_a, beta_b=beta_b, **parameters)


# the methods compared
MethodsOption = option(
    list[str] | None,
    "--method",
    "-m",
    help="Methods (comma-separated, repeatable). Default exchangeable, task-only, "
    "finite-sample, synthetic-only. 'weighted' needs --decay, --attribute-weight or "
    "--uniform-weights.",
)
AttributeWeightOption = option(
    float | None,
    "--attribute-weight",
    help="Weight of history tasks whose attribute differs from the current task's "
    "(attribute model; same attribute gets 1).",
)
UniformWeightsOption = option(
    bool,
    "--uniform-weights",
    help="Run 'weighted' with all weights 1 (then it equals 'exchangeable').",
)

# output and threads
PerRepOption = option(
    Path | None, "--per-rep", help="Write every replication's row to FILE (.csv, .parquet)."
)
WorkersOption = option(
    int | None, "--workers", help="Threads for blocks of replications (default: CPUs, at most 4)."
)


@report_errors
@with_option_groups
def simulate_command(
    *,
    model: ModelOption = ModelName.bernoulli,
    tasks: TasksOption = 100,
    reps: RepsOption = 1000,
    parameters: ModelOptions,
    alphas: AlphaOption = None,
    methods: MethodsOption = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    bounds: BoundsOption = None,
    decay: DecayOption = None,
    attribute_weight: AttributeWeightOption = None,
    uniform_weights: UniformWeightsOption = False,
    seed: SeedOption = DEFAULT_SEED,
    output: OutputOptions,
    per_rep: PerRepOption = None,
    workers: WorkersOption = None,
) -> None:
    """Monte Carlo coverage of the methods on a generative model with known truth.

    Each replication draws T historical tasks and one current task; every
    method is scored against its own target (the current task's population
    parameter, or its real-sample mean for finite-sample). Prints one row per
    method × alpha: coverage, its Monte Carlo SE, mean and median width and
    the width decomposition w1, w2, w3.
    """
    from synthinfer.studies.simulate import DEFAULT_METHODS, coverage_study

    spec = parameters.model(model)
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
    if output.table and output.out is None:
        sys.stdout.write(
            f"model {model.value}: R = {reps}, T = {tasks}, allocation {result.allocation}, "
            f"seed {result.seed}\n"
        )
    output.emit(result.summary_frame, json_newline=True)
    seed_note(result.seed)


# --------------------------------------------------------------------- reproduce


class Experiment(str, Enum):
    """The paper's experiments that ``synthinfer reproduce`` runs."""

    simulated = "simulated"
    pew = "pew"
    arena = "arena"


ExperimentArgument = Annotated[Experiment, typer.Argument(help="simulated, pew or arena.")]
DirectoryOption = option(
    Path | None, "--out", "-o", help="Directory for results (default reproduce-NAME)."
)
SimulatedRepsOption = option(int, "--reps", help="Replications (simulated only).")
PlotsOption = option(bool, "--plots/--no-plots", help="Write forest plots.")


@report_errors
def reproduce_command(
    name: ExperimentArgument,
    out: DirectoryOption = None,
    reps: SimulatedRepsOption = 1000,
    seed: SeedOption = 2026,
    plots: PlotsOption = True,
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


# -------------------------------------------------------------------------- plot

ResultsArgument = Annotated[
    Path, typer.Argument(help="Results file from infer, backtest, simulate --per-rep.")
]
ImageOption = option(Path, "--out", "-o", help="Image file (.png, .pdf, .svg).")


@dataclass(frozen=True)
class ForestOptions:
    """What the forest plot of ``plot`` shows, as in :func:`synthinfer.plot.forest_figure`."""

    method: str | None = option_field(
        None, "--method", "-m", help="Calibrated method (default: the first not baseline)."
    )
    baseline: str = option_field(
        "synthetic-only", "--baseline", help="Method drawn beside it; 'none' for none."
    )
    alpha: float | None = option_field(None, "--alpha", "-a", help="Level (default: the smallest).")
    bounds: BoundsOption = None
    sort: str = option_field("truth", "--sort", help="Row order: truth, estimate or none.")
    max_tasks: int | None = option_field(None, "--max-tasks", help="Show only the first N tasks.")
    title: str | None = option_field(None, "--title", help="Figure title.")
    xlabel: str = option_field("estimand", "--xlabel", help="Label of the horizontal axis.")

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`synthinfer.plot.forest_figure`."""
        return {
            **dataclasses.asdict(self),
            "baseline": None if self.baseline.lower() == "none" else self.baseline,
            "bounds": number_pair(self.bounds, "--bounds"),
        }


@report_errors
@with_option_groups
def plot_command(
    results: ResultsArgument,
    *,
    out: ImageOption,
    forest: ForestOptions,
    dpi: Annotated[int, typer.Option("--dpi", help="Resolution of raster images.")] = 150,
) -> None:
    """Forest plot of a results file: calibrated and synthetic-only intervals per task.

    The truth is marked when the file has it (backtests, simulations);
    intervals that miss it are drawn dashed. A table with several coordinates
    gets one panel per coordinate.
    """
    from synthinfer.plot import forest_figure
    from synthinfer.tables import read_table

    figure = forest_figure(read_table(results), **forest.keywords())
    figure.savefig(out, dpi=dpi)
    typer.echo(f"wrote {out}", err=True)
