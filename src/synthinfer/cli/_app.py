"""The ``synthinfer`` application: every command and command group, added explicitly.

Importing a command module only defines its functions (and, for a group, its
sub-application); this module is the one place that puts them on the app.
"""

from __future__ import annotations

import typer

from synthinfer.cli.arena import arena_command, simulate_battles_command
from synthinfer.cli.datasets import datasets_app
from synthinfer.cli.diagnostics import diagnose_command, plan_command
from synthinfer.cli.generate import generate_app
from synthinfer.cli.infer import backtest_command, infer_command
from synthinfer.cli.studies import plot_command, reproduce_command, simulate_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="synthinfer",
    help="Valid confidence intervals from synthetic data via task exchangeability.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("infer")(infer_command)
app.command("backtest")(backtest_command)
app.add_typer(datasets_app, name="datasets")
app.command("simulate")(simulate_command)
app.command("reproduce")(reproduce_command)
app.command("plot")(plot_command)
app.command("arena")(arena_command)
app.command("simulate-battles")(simulate_battles_command)
app.command("diagnose")(diagnose_command)
app.command("plan")(plan_command)
app.add_typer(generate_app, name="generate")


def main() -> None:
    """Entry point of the ``synthinfer`` console script."""
    app()
