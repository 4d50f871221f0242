"""The study commands on their own typer app, for benchmarks run before they are wired into
``synthinfer.cli``. Same commands, same options: ``python benchmarks/_study_cli.py simulate ...``.
"""

from __future__ import annotations

import typer

from synthinfer._cli_study import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def main() -> None:
    """synthinfer study commands."""


register(app)

if __name__ == "__main__":
    app()
