"""Command-line ``diagnose`` and ``plan``: call :func:`register` on the typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from synthinfer.cli._output import (
    FormatOption,
    OutputFormat,
    emit,
    float_list,
    json_clean,
    report_errors,
    split_list,
)

__all__ = ["register"]


def _read(path: Path) -> pd.DataFrame:
    from synthinfer.tables._io import read_table

    return read_table(path)


def summary_frame(path: Path) -> pd.DataFrame:
    """A per-task summary table from a summary or unit-level file.

    Unit-level tables go through :class:`synthinfer.data.TaskData` (Wald
    statistics, paired when the table has ``unit``) and come back with one row
    per task and coordinate and the task attributes.
    """
    frame = _read(path)
    if "gap_estimate" in frame.columns or "source" not in frame.columns:
        return frame
    from synthinfer.data._taskdata import TaskData

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


def _save_figure(ax_or_axes, path: Path) -> None:
    axes = np.atleast_1d(ax_or_axes)
    figure = axes[0].get_figure()
    figure.tight_layout()
    figure.savefig(path)


# ---------------------------------------------------------------------------
# diagnose
# ---------------------------------------------------------------------------


def diagnose_command(
    data: Annotated[Path, typer.Argument(help="Task table: summary or unit-level, CSV/Parquet.")],
    alpha: Annotated[float, typer.Option(help="Level of the leave-one-out check.")] = 0.1,
    time_col: Annotated[str, typer.Option("--time-col", help="Column ordering tasks.")] = "time",
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help="Task attributes to test (comma-separated, repeatable); default all.",
        ),
    ] = None,
    permutations: Annotated[int, typer.Option(help="Permutations per test.")] = 9999,
    level: Annotated[float, typer.Option(help="Holm-adjusted level for flagging.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 0,
    fmt: FormatOption = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the report to FILE.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Save gap-vs-time and gap-vs-estimate plots to FILE.")
    ] = None,
) -> None:
    """Is task exchangeability plausible for this history? Findings with remedies."""
    from synthinfer.diagnose import diagnose, plot_diagnostics

    frame = summary_frame(data)
    report = diagnose(
        frame,
        alpha=alpha,
        time_col=time_col,
        attributes=split_list(attribute) or None,
        n_permutations=permutations,
        seed=seed,
        level=level,
    )
    if fmt is OutputFormat.table:
        text = report.summary()
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n")
    elif fmt is OutputFormat.json:
        text = json.dumps(json_clean(report.to_dict()), indent=2)
        typer.echo(text) if out is None else out.write_text(text + "\n")
    else:
        emit(report.to_frame(), fmt, out)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        _save_figure(plot_diagnostics(frame, time_col=time_col), plot)


# ---------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------


def _plan_model(data, mu, tau, sigma_real, sigma_synth, history_n, history_synthetic_n):
    """The gap model fitted from DATA and/or stated values; ``None`` when nothing is given."""
    from synthinfer.plan import PlanModel, fit_plan_model

    if data is not None:
        fitted = fit_plan_model(
            summary_frame(data), n_real=history_n, n_synth=history_synthetic_n
        ).to_dict()
    else:
        fitted = {}
    stated = {"mu": mu, "tau": tau, "sigma_real": sigma_real, "sigma_synth": sigma_synth}
    if data is None and all(v is None for v in stated.values()):
        return None
    values = {k: (v if v is not None else fitted.get(k)) for k, v in stated.items()}
    missing = [f"--{k.replace('_', '-')}" for k, v in values.items() if v is None]
    if missing:
        raise ValueError(
            f"give a history table (DATA) to fit the gap model, or state {', '.join(missing)}"
        )
    return PlanModel(**values)


def plan_command(
    data: Annotated[
        Path | None, typer.Argument(help="Optional history table to fit the gap model from.")
    ] = None,
    alpha: Annotated[
        list[str] | None, typer.Option("--alpha", "-a", help="Level(s) (comma-separated).")
    ] = None,
    allocation: Annotated[str, typer.Option(help="Budget split.")] = "prop:0.1,0.2,0.7",
    method: Annotated[
        str, typer.Option(help="exchangeable, task-only or finite-sample.")
    ] = "exchangeable",
    coords: Annotated[int, typer.Option(help="Number of coordinates D (alpha/D each).")] = 1,
    tasks: Annotated[
        list[str] | None, typer.Option("--tasks", help="History sizes T to tabulate.")
    ] = None,
    n: Annotated[list[str] | None, typer.Option("--n", help="Real units per task.")] = None,
    synthetic_n: Annotated[
        list[str] | None, typer.Option("--synthetic-n", help="Synthetic units per task.")
    ] = None,
    mu: Annotated[float | None, typer.Option(help="Mean gap (stated).")] = None,
    tau: Annotated[float | None, typer.Option(help="SD of the gap across tasks.")] = None,
    sigma_real: Annotated[
        float | None, typer.Option("--sigma-real", help="Per-unit SD of real data.")
    ] = None,
    sigma_synth: Annotated[
        float | None, typer.Option("--sigma-synth", help="Per-unit SD of synthetic data.")
    ] = None,
    history_n: Annotated[
        float | None, typer.Option("--history-n", help="Real units per task in DATA.")
    ] = None,
    history_synthetic_n: Annotated[
        float | None,
        typer.Option("--history-synthetic-n", help="Synthetic units per task in DATA."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the table to FILE.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Save width-vs-T plot to FILE.")] = None,
) -> None:
    """Minimum history size and expected interval width for a planned design."""
    from synthinfer.plan import min_history_for, plan_table, plot_plan

    alphas = float_list(alpha, "--alpha") or [0.1]
    model = _plan_model(data, mu, tau, sigma_real, sigma_synth, history_n, history_synthetic_n)
    history_sizes = [int(t) for t in float_list(tasks, "--tasks") or [20, 30, 50, 100, 200]]
    reals = float_list(n, "--n") or [1000.0]
    synths = float_list(synthetic_n, "--synthetic-n") or [2000.0]
    needed = {a: min_history_for(a, allocation, coords, method) for a in alphas}
    if model is None:
        minimum = pd.DataFrame(
            {
                "alpha": alphas,
                "method": method,
                "allocation": allocation,
                "coords": coords,
                "min_history": [needed[a] for a in alphas],
            }
        )
        emit(minimum, fmt, out)
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
                n_coords=coords,
            ).assign(min_history=needed[a])
            for a in alphas
        ],
        ignore_index=True,
    )
    if fmt is OutputFormat.table and out is None:
        params = ", ".join(f"{k} = {v:.4g}" for k, v in model.to_dict().items())
        typer.echo(f"gap model: {params}")
        for a, t in needed.items():
            typer.echo(
                f"alpha = {a:g} ({method}, {allocation}, D = {coords}): at least {t} history "
                f"tasks for a finite interval"
            )
    emit(table, fmt, out)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        _save_figure(plot_plan(table[table["alpha"] == alphas[0]]), plot)


def register(app: typer.Typer) -> None:
    """Add the ``diagnose`` and ``plan`` commands to ``app``."""
    app.command("diagnose")(report_errors(diagnose_command))
    app.command("plan")(report_errors(plan_command))
