"""The ``synthinfer`` application: every command and command group, added explicitly.

Importing a command module only defines its functions (and, for a group, its
sub-application); this module is the one place that puts them on the app. It
also makes every help screen readable: each option and argument of every
command gets a metavar instead of a type name (:func:`synthinfer.cli._groups.readable`),
the usage line shows ``DATA`` rather than ``{data}`` and ``--help`` shows no
type at all (:class:`ReadableCommand`, :class:`ReadableGroup`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder

from synthinfer.cli._groups import readable
from synthinfer.cli._output import running_command
from synthinfer.cli.arena import arena_command, simulate_battles_command
from synthinfer.cli.datasets import datasets_app
from synthinfer.cli.diagnostics import diagnose_command, plan_command
from synthinfer.cli.generate import generate_app
from synthinfer.cli.infer import backtest_command, infer_command
from synthinfer.cli.report import report_command
from synthinfer.cli.studies import plot_command, reproduce_command, simulate_command

__all__ = ["ReadableCommand", "ReadableGroup", "app", "main", "package_version"]


def _plain_help_option(option: Any) -> Any:
    """The ``--help`` option without a type in the help screen (it takes no value)."""
    if option is not None:
        option.metavar = ""
    return option


def _no_type(ctx: Any = None) -> None:
    """No type beside an argument's name in the help screen (its metavar says what it is)."""
    return None


class ReadableCommand(TyperCommand):
    """A command whose arguments read plainly in its help screen.

    The usage line says ``DATA``, not ``{DATA}``, and the argument table shows
    the metavar without a type name beside it (recent typer versions show
    both, and an argument's metavar does not replace its type there).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
                param.display_type_rich = _no_type  # type: ignore[method-assign]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line's pieces, without the braces some typer versions put round arguments."""
        pieces = super().collect_usage_pieces(ctx)
        return [piece.replace("{", "").replace("}", "") for piece in pieces]

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, shown without a type."""
        return _plain_help_option(super().get_help_option(ctx))

    def invoke(self, ctx: Any) -> Any:
        """Run the command, recorded for the provenance of the files it writes."""
        arguments = {p.name for p in self.params if p.param_type_name == "argument"}
        with running_command(str(ctx.info_name), dict(ctx.params), arguments):
            return super().invoke(ctx)


class ReadableGroup(TyperGroup):
    """A command group whose ``--help`` option is shown without a type."""

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, shown without a type."""
        return _plain_help_option(super().get_help_option(ctx))


def package_version() -> str:
    """The installed version of synthinfer (``0.0.0`` when it is not installed)."""
    try:
        return version("synthinfer")
    except PackageNotFoundError:
        return "0.0.0"


def _print_version(value: bool) -> None:
    """Print ``synthinfer X.Y.Z`` and stop, when ``--version`` is given."""
    if value:
        typer.echo(f"synthinfer {package_version()}")
        raise typer.Exit()


def _callback(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Valid confidence intervals from synthetic data via task exchangeability."""


def _unset(cls: Any, default: type) -> bool:
    """Whether a registered command or group class is typer's own (given or by default)."""
    return cls is None or cls is default or isinstance(cls, DefaultPlaceholder)


def _make_readable(application: typer.Typer) -> None:
    """Readable help for every command of ``application`` and of its command groups."""
    callback = application.registered_callback
    if callback is not None and callback.callback is not None:
        callback.callback = readable(callback.callback)
    for info in application.registered_commands:
        if info.callback is not None:
            info.callback = readable(info.callback)
        if _unset(info.cls, TyperCommand):
            info.cls = ReadableCommand
    for group in application.registered_groups:
        if _unset(group.cls, TyperGroup):
            group.cls = ReadableGroup
        if group.typer_instance is not None:
            _make_readable(group.typer_instance)


app = typer.Typer(
    name="synthinfer",
    help="Valid confidence intervals from synthetic data via task exchangeability.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ReadableGroup,
)
app.callback()(_callback)
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
app.command("report")(report_command)
_make_readable(app)


def main() -> None:
    """Entry point of the ``synthinfer`` console script."""
    app()
