"""The optional libraries of ``synthinfer.generate``, imported when first needed.

``import synthinfer`` (and ``import synthinfer.generate``) stays fast and works
without them; a function that needs one calls :func:`require`, which names the
extra to install when the library is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRA", "require"]

EXTRA = "synthinfer[generate]"
"""The extra that installs every library ``generate`` needs."""


def require(name: str) -> ModuleType:
    """Import an optional library of ``generate``.

    Parameters
    ----------
    name : str
        Module name: ``openai``, ``tenacity``, ``jinja2`` or ``yaml``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        If the library is missing; the message says to install the extra.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"synthinfer generate needs the optional library {name!r}; install it with "
            f"pip install '{EXTRA}'"
        ) from error
