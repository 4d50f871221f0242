"""The commands ``diagnose`` and ``plan``: checks of a history and designs of a study."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import typer

from synthinfer._validation import number_list, split_list
from synthinfer.cli._groups import InputOptions, option_field, with_option_groups
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AllocationOption,
    AlphaOption,
    DataArgument,
    OutputFormat,
    PlotOption,
    SeedOption,
    TimeColOption,
    alpha_values,
)
from synthinfer.cli._output import OutputOptions, json_clean, report_errors

if TYPE_CHECKING:
    from synthinfer.plan import PlanModel

__all__ = [
    "GapModelOptions",
    "ReportOptions",
    "diagnose_command",
    "plan_command",
    "summary_frame",
]


def summary_frame(path: Path, columns: InputOptions | None = None) -> pd.DataFrame:
    """A per-task summary table from a summary or unit-level file (``TaskData.summary_table``).

    ``columns`` says how a wide score table or an evaluation log is read.
    """
    from synthinfer.data import summary_table

    return summary_table(path, (columns or InputOptions()).keywords())


# ---------------------------------------------------------------------------
# output of both commands
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOptions(OutputOptions):
    """The output options of ``diagnose`` and ``plan``, and the file of their plot."""

    plot: PlotOption = None

    def save_plot(self, draw: Callable[[], Any]) -> None:
        """Draw a figure off screen and save it to the plot file, when one is given.

        Parameters
        ----------
        draw : callable
            Draws the figure; returns one matplotlib Axes or an array of them.
        """
        if self.plot is None:
            return
        import matplotlib

        matplotlib.use("Agg")
        axes = np.atleast_1d(draw())
        figure = axes[0].get_figure()
        figure.tight_layout()
        figure.savefig(self.plot)


# ---------------------------------------------------------------------------
# diagnose
# ---------------------------------------------------------------------------


@report_errors
@with_option_groups
def diagnose_command(
    data: DataArgument,
    *,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            help="Level of the leave-one-out check, and at which remedies must give finite "
            "intervals.",
        ),
    ] = 0.1,
    time_col: TimeColOption = "time",
    attributes: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help="Task attributes to test (comma-separated, repeatable); default all.",
        ),
    ] = None,
    n_permutations: Annotated[
        int, typer.Option("--permutations", help="Permutations per test.")
    ] = 9999,
    level: Annotated[
        float, typer.Option("--level", help="Holm-adjusted level for flagging.")
    ] = 0.05,
    seed: SeedOption = 0,
    allocation: Annotated[
        str,
        typer.Option(
            "--allocation",
            help="Budget split that remedies are judged with (a remedy is suggested when some "
            "split gives finite intervals at --alpha; it says so when this one does not).",
        ),
    ] = DEFAULT_ALLOCATION_SPEC,
    report: ReportOptions,
    columns: InputOptions,
) -> None:
    """Is task exchangeability plausible for this history? Findings with remedies that can run.

    A remedy (--group-by, --task-group, --adjust, weighted) is suggested only
    when it gives finite intervals at --alpha (per coordinate) with the history
    at hand; otherwise the finding says why not, or that no remedy is feasible.
    An attribute whose target level no history task has (a new question) gets
    --task-group, not --group-by.
    """
    from synthinfer.diagnose import diagnose
    from synthinfer.plot import plot_diagnostics

    frame = summary_frame(data, columns)
    findings = diagnose(
        frame,
        alpha=alpha,
        time_col=time_col,
        attributes=split_list(attributes) or None,
        n_permutations=n_permutations,
        seed=seed,
        level=level,
        allocation=allocation,
    )
    suffix = None if report.out is None else report.out.suffix.lower()
    if suffix in TEXT_SUFFIXES or (suffix is None and report.table):
        _write_text(findings.summary(), report.out)
    elif suffix == ".json" or (suffix is None and report.output_format is OutputFormat.json):
        _write_text(json.dumps(json_clean(findings.to_dict()), indent=2), report.out)
    else:
        report.emit(findings.to_frame())
    report.save_plot(lambda: plot_diagnostics(frame, time_col=time_col))


TEXT_SUFFIXES = frozenset({".txt", ".md"})
"""Files ``diagnose`` writes its readable report to; ``.json`` gets the report as JSON and any
other ``--out`` the findings table, by extension."""


def _write_text(text: str, out: Path | None) -> None:
    """Print ``text``, or write it with a final newline to ``out``."""
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")


# ---------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------


_GAP_FLAGS = {
    "mu": "--mu",
    "tau": "--tau",
    "sigma_real": "--sigma-real",
    "sigma_synth": "--sigma-synth",
}
"""The parameters of the gap model and their flags."""


@dataclass(frozen=True)
class GapModelOptions:
    """The gap model of ``plan``: stated parameters, and the sizes of a history table."""

    mu: float | None = option_field(None, "--mu", help="Mean gap (stated).")
    tau: float | None = option_field(None, "--tau", help="SD of the gap across tasks.")
    sigma_real: float | None = option_field(None, "--sigma-real", help="Per-unit SD of real data.")
    sigma_synth: float | None = option_field(
        None, "--sigma-synth", help="Per-unit SD of synthetic data."
    )
    history_n_real: float | None = option_field(
        None, "--history-n", help="Real units per task in DATA."
    )
    history_n_synth: float | None = option_field(
        None, "--history-synthetic-n", help="Synthetic units per task in DATA."
    )

    def model(self, data: Path | None, columns: InputOptions | None = None) -> PlanModel | None:
        """The gap model: fitted from ``data``, with stated values taking precedence.

        Parameters
        ----------
        data : pathlib.Path or None
            History table to fit the model from (``history_n_real`` and
            ``history_n_synth`` give its units per task when it lacks the
            columns).
        columns : InputOptions, optional
            How ``data`` is read when it is a wide score table or an evaluation log.

        Returns
        -------
        PlanModel or None
            ``None`` when neither ``data`` nor any parameter is given.

        Raises
        ------
        ValueError
            If a parameter is neither stated nor fitted; the message names its flag.
        """
        from synthinfer.plan import PlanModel, fit_plan_model

        stated = {name: getattr(self, name) for name in _GAP_FLAGS}
        if data is None and all(value is None for value in stated.values()):
            return None
        fitted = (
            {}
            if data is None
            else fit_plan_model(
                summary_frame(data, columns),
                n_real=self.history_n_real,
                n_synth=self.history_n_synth,
            ).to_dict()
        )
        values = {
            name: fitted.get(name) if value is None else value for name, value in stated.items()
        }
        missing = [flag for name, flag in _GAP_FLAGS.items() if values[name] is None]
        if missing:
            raise ValueError(
                f"give a history table (DATA) to fit the gap model, or state {', '.join(missing)}"
            )
        return PlanModel(**values)


def group_needs(needed: list[int], cells_per_group: int | None) -> dict[str, list[int]]:
    """With task groups of ``cells_per_group`` cells: the groups needed and their cells.

    The group is the exchangeable unit, so a finite band needs ``needed``
    history groups however many cells each has (:func:`synthinfer.plan.min_groups_for`).
    """
    if cells_per_group is None:
        return {}
    if cells_per_group < 1:
        raise ValueError(f"--cells-per-group must be a positive count, got {cells_per_group}")
    return {
        "min_groups": list(needed),
        "min_group_cells": [count * cells_per_group for count in needed],
    }


@report_errors
@with_option_groups
def plan_command(
    data: Annotated[
        Path | None, typer.Argument(help="Optional history table to fit the gap model from.")
    ] = None,
    *,
    alpha: AlphaOption = None,
    allocation: AllocationOption = DEFAULT_ALLOCATION_SPEC,
    method: Annotated[
        str, typer.Option("--method", help="exchangeable, task-only or finite-sample.")
    ] = "exchangeable",
    n_coords: Annotated[
        int, typer.Option("--coords", help="Number of coordinates D (alpha/D each).")
    ] = 1,
    n_history: Annotated[
        list[str] | None, typer.Option("--tasks", help="History sizes T to tabulate.")
    ] = None,
    n_real: Annotated[list[str] | None, typer.Option("--n", help="Real units per task.")] = None,
    n_synth: Annotated[
        list[str] | None, typer.Option("--synthetic-n", help="Synthetic units per task.")
    ] = None,
    labels_for_width: Annotated[
        float | None,
        typer.Option(
            "--labels-for-width",
            help="Instead: how many labelled pairs the target needs for this width, by "
            "'hybrid' and 'ppi' (DATA: a unit-level history with labelled pairs).",
        ),
    ] = None,
    cells_per_group: Annotated[
        int | None,
        typer.Option(
            "--cells-per-group",
            help="With task groups (--task-group): cells per group; adds the history groups "
            "needed (min_groups) and their cells (min_group_cells).",
        ),
    ] = None,
    gap: GapModelOptions,
    report: ReportOptions,
    columns: InputOptions,
) -> None:
    """Minimum history size and expected interval width for a planned design."""
    from synthinfer.plan import min_history_for, plan_table
    from synthinfer.plot import plot_plan

    alphas = alpha_values(alpha)
    if labels_for_width is not None:
        _plan_labels(data, labels_for_width, alphas[0], allocation, n_synth, report, columns)
        return
    model = gap.model(data, columns)
    history_sizes = [int(t) for t in number_list(n_history, "--tasks") or [20, 30, 50, 100, 200]]
    reals = number_list(n_real, "--n") or [1000.0]
    synths = number_list(n_synth, "--synthetic-n") or [2000.0]
    needed = {a: min_history_for(a, allocation, n_coords=n_coords, method=method) for a in alphas}
    if model is None:
        minimum = pd.DataFrame(
            {
                "alpha": alphas,
                "method": method,
                "allocation": allocation,
                "coords": n_coords,
                "min_history": [needed[a] for a in alphas],
            }
        )
        for name, values in group_needs([needed[a] for a in alphas], cells_per_group).items():
            minimum[name] = values
        report.emit(minimum)
        typer.echo(
            "expected widths need a gap model: give a history table (DATA) or state "
            + ", ".join(_GAP_FLAGS.values()),
            err=True,
        )
        return
    table = pd.concat(
        [
            plan_table(
                model,
                history_sizes,
                reals,
                synths,
                alpha=a,
                allocation=allocation,
                method=method,
                n_coords=n_coords,
            ).assign(min_history=needed[a], **group_needs([needed[a]], cells_per_group))
            for a in alphas
        ],
        ignore_index=True,
    )
    if report.table and report.out is None:
        params = ", ".join(f"{k} = {v:.4g}" for k, v in model.to_dict().items())
        typer.echo(f"gap model: {params}")
        for a, t in needed.items():
            typer.echo(
                f"alpha = {a:g} ({method}, {allocation}, D = {n_coords}): at least {t} history "
                f"tasks for a finite interval"
            )
    report.emit(table)
    report.save_plot(lambda: plot_plan(table[table["alpha"] == alphas[0]]))


def _plan_labels(
    data: Path | None,
    width: float,
    alpha: float,
    allocation: str,
    n_synth: list[str] | None,
    report: ReportOptions,
    columns: InputOptions,
) -> None:
    """``plan --labels-for-width``: the answers on stdout (as a table), the widths against m."""
    from synthinfer.data import TaskData
    from synthinfer.plan_labels import plan_labels

    if data is None:
        raise ValueError(
            "--labels-for-width needs DATA: a unit-level history table with labelled pairs"
        )
    synths = number_list(n_synth, "--synthetic-n")
    plan = plan_labels(
        TaskData.load(data, **columns.keywords()),
        width=width,
        alpha=alpha,
        allocation=allocation,
        n_synth=synths[0] if synths else None,
    )
    if report.table and report.out is None:
        typer.echo(plan.summary())
    report.emit(plan.to_frame())
