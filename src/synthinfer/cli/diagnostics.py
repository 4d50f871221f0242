"""The commands ``diagnose`` and ``plan``: checks of a history and designs of a study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import typer

from synthinfer._validation import number_list, split_list
from synthinfer.cli._options import (
    DEFAULT_ALLOCATION_SPEC,
    AllocationOption,
    AlphaOption,
    DataArgument,
    OutOption,
    OutputFormat,
    OutputFormatOption,
    PlotOption,
    SeedOption,
    TimeColOption,
    alpha_values,
)
from synthinfer.cli._output import emit, json_clean, report_errors

if TYPE_CHECKING:
    from synthinfer.plan import PlanModel

__all__ = ["diagnose_command", "plan_command", "summary_frame"]


def summary_frame(path: Path) -> pd.DataFrame:
    """A per-task summary table from a summary or unit-level file.

    Unit-level tables go through :class:`synthinfer.data.TaskData` (Wald
    statistics, paired when the table has ``unit``) and come back with one row
    per task and coordinate and the task attributes.

    Parameters
    ----------
    path : pathlib.Path
        The table's file.

    Returns
    -------
    pandas.DataFrame
        The summary table (a summary file as read).
    """
    from synthinfer.tables import read_table

    frame = read_table(path)
    if "gap_estimate" in frame.columns or "source" not in frame.columns:
        return frame
    from synthinfer.data import TaskData

    data = TaskData.from_frame(frame, name=str(path))
    parts = []
    for coord, stats in data.statistics().items():
        synth_se = getattr(stats.synth, "se", np.full(len(stats.tasks), np.nan))
        gap_se = getattr(stats.gap, "se", None) if stats.gap is not None else None
        part = pd.DataFrame(
            {
                "task": stats.tasks,
                "synth_estimate": np.asarray(stats.synth.estimate, dtype=float),
                "synth_se": np.asarray(synth_se, dtype=float),
                "real_estimate": stats.truth,
                "gap_estimate": stats.observed,
                "gap_se": np.nan if gap_se is None else np.asarray(gap_se, dtype=float),
            }
        )
        if coord:
            part["coord"] = coord
        parts.append(part)
    summary = pd.concat(parts, ignore_index=True)
    return summary.merge(data.attributes, left_on="task", right_index=True, how="left")


def _save_figure(ax_or_axes: Any, path: Path) -> None:
    """Save the figure of one matplotlib Axes or an array of them to ``path``."""
    axes = np.atleast_1d(ax_or_axes)
    figure = axes[0].get_figure()
    figure.tight_layout()
    figure.savefig(path)


# ---------------------------------------------------------------------------
# diagnose
# ---------------------------------------------------------------------------


@report_errors
def diagnose_command(
    data: DataArgument,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Level of the leave-one-out check.")
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
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
    plot: PlotOption = None,
) -> None:
    """Is task exchangeability plausible for this history? Findings with remedies."""
    from synthinfer.diagnose import diagnose

    frame = summary_frame(data)
    report = diagnose(
        frame,
        alpha=alpha,
        time_col=time_col,
        attributes=split_list(attributes) or None,
        n_permutations=n_permutations,
        seed=seed,
        level=level,
    )
    if output_format is OutputFormat.table:
        _write_text(report.summary(), out)
    elif output_format is OutputFormat.json:
        _write_text(json.dumps(json_clean(report.to_dict()), indent=2), out)
    else:
        emit(report.to_frame(), output_format, out)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from synthinfer.plot import plot_diagnostics

        _save_figure(plot_diagnostics(frame, time_col=time_col), plot)


def _write_text(text: str, out: Path | None) -> None:
    """Print ``text``, or write it with a final newline to ``out``."""
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")


def _plan_model(
    data: Path | None,
    *,
    mu: float | None,
    tau: float | None,
    sigma_real: float | None,
    sigma_synth: float | None,
    n_real: float | None,
    n_synth: float | None,
) -> PlanModel | None:
    """The gap model of ``plan``: fitted from ``data``, with stated values taking precedence.

    Parameters
    ----------
    data : pathlib.Path or None
        History table to fit the model from.
    mu, tau, sigma_real, sigma_synth : float or None
        Stated values of the model's parameters.
    n_real, n_synth : float or None
        Real and synthetic units per task in ``data`` when it lacks the columns.

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

    stated = (mu, tau, sigma_real, sigma_synth)
    if data is None and all(value is None for value in stated):
        return None
    fitted = (
        {}
        if data is None
        else fit_plan_model(summary_frame(data), n_real=n_real, n_synth=n_synth).to_dict()
    )
    mu = fitted.get("mu") if mu is None else mu
    tau = fitted.get("tau") if tau is None else tau
    sigma_real = fitted.get("sigma_real") if sigma_real is None else sigma_real
    sigma_synth = fitted.get("sigma_synth") if sigma_synth is None else sigma_synth
    flags = ("--mu", "--tau", "--sigma-real", "--sigma-synth")
    values = (mu, tau, sigma_real, sigma_synth)
    missing = [flag for flag, value in zip(flags, values, strict=True) if value is None]
    if missing:
        raise ValueError(
            f"give a history table (DATA) to fit the gap model, or state {', '.join(missing)}"
        )
    return PlanModel(mu=mu, tau=tau, sigma_real=sigma_real, sigma_synth=sigma_synth)


@report_errors
def plan_command(
    data: Annotated[
        Path | None, typer.Argument(help="Optional history table to fit the gap model from.")
    ] = None,
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
    mu: Annotated[float | None, typer.Option("--mu", help="Mean gap (stated).")] = None,
    tau: Annotated[float | None, typer.Option("--tau", help="SD of the gap across tasks.")] = None,
    sigma_real: Annotated[
        float | None, typer.Option("--sigma-real", help="Per-unit SD of real data.")
    ] = None,
    sigma_synth: Annotated[
        float | None, typer.Option("--sigma-synth", help="Per-unit SD of synthetic data.")
    ] = None,
    history_n_real: Annotated[
        float | None, typer.Option("--history-n", help="Real units per task in DATA.")
    ] = None,
    history_n_synth: Annotated[
        float | None,
        typer.Option("--history-synthetic-n", help="Synthetic units per task in DATA."),
    ] = None,
    output_format: OutputFormatOption = OutputFormat.table,
    out: OutOption = None,
    plot: PlotOption = None,
) -> None:
    """Minimum history size and expected interval width for a planned design."""
    from synthinfer.plan import min_history_for, plan_table

    alphas = alpha_values(alpha)
    model = _plan_model(
        data,
        mu=mu,
        tau=tau,
        sigma_real=sigma_real,
        sigma_synth=sigma_synth,
        n_real=history_n_real,
        n_synth=history_n_synth,
    )
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
        emit(minimum, output_format, out)
        typer.echo(
            "expected widths need a gap model: give a history table (DATA) or state "
            "--mu, --tau, --sigma-real, --sigma-synth",
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
            ).assign(min_history=needed[a])
            for a in alphas
        ],
        ignore_index=True,
    )
    if output_format is OutputFormat.table and out is None:
        params = ", ".join(f"{k} = {v:.4g}" for k, v in model.to_dict().items())
        typer.echo(f"gap model: {params}")
        for a, t in needed.items():
            typer.echo(
                f"alpha = {a:g} ({method}, {allocation}, D = {n_coords}): at least {t} history "
                f"tasks for a finite interval"
            )
    emit(table, output_format, out)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from synthinfer.plot import plot_plan

        _save_figure(plot_plan(table[table["alpha"] == alphas[0]]), plot)
