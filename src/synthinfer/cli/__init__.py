"""The ``synthinfer`` command line."""

from synthinfer.cli._app import app, main

__all__ = ["app", "main"]
