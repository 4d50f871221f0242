"""The ``synthinfer`` command line: one typer app, assembled in :mod:`synthinfer.cli._app`.

Command modules: :mod:`~synthinfer.cli.infer` (``infer``, ``backtest``),
:mod:`~synthinfer.cli.datasets` (the ``datasets`` group),
:mod:`~synthinfer.cli.studies` (``simulate``, ``reproduce``, ``plot``),
:mod:`~synthinfer.cli.arena` (``arena``, ``simulate-battles``),
:mod:`~synthinfer.cli.diagnostics` (``diagnose``, ``plan``) and
:mod:`~synthinfer.cli.generate` (the ``generate`` group). Options shared by
several commands are declared once in ``_options``; options that travel
together are option groups (``_groups``); output helpers live in ``_output``.
"""

from synthinfer.cli._app import app, main

__all__ = ["app", "main"]
