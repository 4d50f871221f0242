"""The ``datasets`` command group: list, export and credit the bundled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthinfer.cli._output import report_errors, save_table

__all__ = ["attribution_command", "datasets_app", "export_command", "list_command"]


@report_errors
def list_command() -> None:
    """List the bundled datasets and task tables."""
    from synthinfer.datasets import list_datasets

    frame = list_datasets()
    for row in frame.itertuples():
        typer.echo(f"{row.name:22} {row.kind:10} {row.description}")
    typer.echo("\nExport one with: synthinfer datasets export NAME --out FILE.csv")


@report_errors
def export_command(
    name: Annotated[str, typer.Argument(help="Dataset name (see 'synthinfer datasets list').")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Output file, by extension (.csv, .tsv, .parquet, .json, .xlsx)."
        ),
    ],
) -> None:
    """Write a bundled dataset or task table to a file."""
    from synthinfer.datasets import load_dataset

    frame = load_dataset(name)
    save_table(frame, out)
    typer.echo(f"wrote {len(frame)} rows of {name} to {out}", err=True)


def attribution_command() -> None:
    """Print where the bundled data come from and their licences."""
    from synthinfer.datasets import attribution

    typer.echo(attribution())


datasets_app = typer.Typer(help="Bundled real data: list and export.", no_args_is_help=True)
datasets_app.command("list")(list_command)
datasets_app.command("export")(export_command)
datasets_app.command("attribution")(attribution_command)
