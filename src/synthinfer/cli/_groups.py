"""Option groups: options that travel together, declared once as a frozen dataclass.

A command parameter annotated with an option group stands for the group's
options. The group is a dataclass whose fields are options: a field annotated
with an option alias (``seed: SeedOption = None``), or declared with
:func:`option_field` (``n: int = option_field(1000, "--n", help="...")``).
:func:`with_option_groups` shows typer those options in the parameter's
place, so ``--help`` lists them where the command declares the group, and
hands the command one instance of the group built from their values.

:func:`readable` gives every option and argument of a command a readable
metavar (:func:`synthinfer.cli._options.metavar_for`; an argument shows its
name in capitals, ``DATA``) when it declares none; :func:`with_option_groups`
applies it, and the app applies it to every command it adds.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from typer.models import ArgumentInfo, OptionInfo, ParameterInfo

from synthinfer.cli._options import metavar_for

__all__ = ["InputOptions", "option_field", "readable", "with_option_groups"]

F = TypeVar("F", bound=Callable[..., object])


def option_field(default: Any, *flags: str, help: str, **settings: Any) -> Any:
    """A field of an option group that is a command-line option with the given ``default``.

    ``flags``, ``help`` and ``settings`` are as in :func:`synthinfer.cli._options.option`;
    the ``typer.Option`` they make goes into the metadata of the returned
    :func:`dataclasses.field`. Without a ``metavar`` in ``settings``, the field's
    type and flags choose one when the group is expanded (:func:`readable`).
    """
    return dataclasses.field(
        default=default, metadata={"option": typer.Option(*flags, help=help, **settings)}
    )


def _field_parameters(group: type) -> list[inspect.Parameter]:
    """The fields of an option group as keyword-only parameters, in their order."""
    hints = typing.get_type_hints(group, include_extras=True)
    parameters = []
    for field in dataclasses.fields(group):
        annotation = hints[field.name]
        if "option" in field.metadata:
            annotation = Annotated[annotation, field.metadata["option"]]
        default = field.default
        if default is dataclasses.MISSING:
            default = inspect.Parameter.empty
        kind = inspect.Parameter.KEYWORD_ONLY
        parameters.append(
            inspect.Parameter(field.name, kind, default=default, annotation=annotation)
        )
    return parameters


def with_option_groups(command: F) -> F:
    """Expand each option-group parameter of ``command`` into the group's options.

    Parameters
    ----------
    command : callable
        A command function; some of its parameters are annotated with a
        dataclass (an option group), the others as usual for typer.

    Returns
    -------
    callable
        ``command`` behind a signature in which each group parameter is
        replaced by the group's fields (every parameter keyword-only, as typer
        passes them, each with a readable metavar); a call collects each
        group's values into one instance.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    hints.pop("return", None)
    groups = {name: hint for name, hint in hints.items() if dataclasses.is_dataclass(hint)}
    parameters: list[inspect.Parameter] = []
    for parameter in inspect.signature(command).parameters.values():
        if parameter.name in groups:
            parameters.extend(_field_parameters(groups[parameter.name]))
        else:
            kind = inspect.Parameter.KEYWORD_ONLY
            parameters.append(parameter.replace(kind=kind, annotation=hints[parameter.name]))

    @functools.wraps(command)
    def wrapper(**options: Any) -> Any:
        for name, group in groups.items():
            values = {field.name: options.pop(field.name) for field in dataclasses.fields(group)}
            options[name] = group(**values)
        return command(**options)

    return _with_signature(wrapper, [_readable_parameter(p) for p in parameters])


def readable(command: F) -> F:
    """``command`` behind the same signature, with a readable metavar on every parameter.

    Parameters
    ----------
    command : callable
        A command function whose parameters are annotated for typer
        (``Annotated[kind, typer.Option(...)]`` or ``typer.Argument``).

    Returns
    -------
    callable
        A wrapper that calls ``command`` unchanged; each option or argument
        that declares no metavar gets a copy of its ``typer.Option`` /
        ``typer.Argument`` with one (an option's from
        :func:`~synthinfer.cli._options.metavar_for`, an argument's its name in
        capitals), so ``--help`` shows no type names.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    parameters = [
        _readable_parameter(parameter.replace(annotation=hints.get(name, parameter.annotation)))
        for name, parameter in inspect.signature(command).parameters.items()
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **options: Any) -> Any:
        return command(*args, **options)

    return _with_signature(wrapper, parameters)


def _with_signature(wrapper: F, parameters: list[inspect.Parameter]) -> F:
    """``wrapper`` as typer sees it: with these parameters and their annotations."""
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def _readable_parameter(parameter: inspect.Parameter) -> inspect.Parameter:
    """``parameter`` with a metavar on its typer option or argument (a copy), if it has none."""
    annotation = parameter.annotation
    if typing.get_origin(annotation) is not Annotated:
        return parameter
    kind, *metadata = typing.get_args(annotation)
    infos = [item for item in metadata if isinstance(item, ParameterInfo)]
    if len(infos) != 1 or infos[0].metavar is not None:
        return parameter
    info = copy.copy(infos[0])
    if isinstance(info, ArgumentInfo):
        info.metavar = parameter.name.upper()
    elif isinstance(info, OptionInfo):
        flags = [info.default] if isinstance(info.default, str) else []
        flags += [flag for flag in info.param_decls or () if isinstance(flag, str)]
        info.metavar = metavar_for(kind, [f for f in flags if f.startswith("-")], info.help or "")
    else:
        return parameter
    items = [info if item is infos[0] else item for item in metadata]
    return parameter.replace(annotation=Annotated[(kind, *items)])


@dataclasses.dataclass(frozen=True)
class InputOptions:
    """How DATA is read when it is a wide score table or an evaluation log (promptfoo, Inspect).

    The options of every command that reads unit-level data, named as the
    keywords of :meth:`synthinfer.data.TaskData.load` they feed (see
    :meth:`keywords`).
    """

    real_col: str | None = option_field(
        None,
        "--real-col",
        help="Wide score table: the human (real) score column; promptfoo or Inspect log: "
        "the human score's name (Inspect: edited:SCORER reads human edits of a score).",
        metavar="COL",
    )
    synth_col: str | None = option_field(
        None,
        "--synth-col",
        help="Wide score table: the judge (synthetic) score column; promptfoo or Inspect log: "
        "the judge score's name.",
        metavar="COL",
    )
    task_col: str | None = option_field(
        None,
        "--task-col",
        help="Wide score table: the task column (default: 'task', else one task named after "
        "the file).",
        metavar="COL",
    )
    unit_col: str | None = option_field(
        None,
        "--unit-col",
        help="Wide score table: the item id column (default: 'unit' or 'id', else the row number).",
        metavar="COL",
    )
    format_in: str | None = option_field(
        None,
        "--format-in",
        help="wide, promptfoo or inspect (default: found from DATA and the options given).",
        metavar="FORMAT",
    )

    def keywords(self) -> dict[str, str | None]:
        """The options as keyword arguments of ``TaskData.load``."""
        return {
            "real": self.real_col,
            "synthetic": self.synth_col,
            "task_col": self.task_col,
            "unit_col": self.unit_col,
            "format_in": self.format_in,
        }
