"""Command-line options generated from a config dataclass, so that each option is declared once (on its field).

A field becomes an option when its metadata has a `flag`: the option's name is that flag, its help the field's
`help`, its default the field's default (none: the option is required) and its type the field's annotation; a
`bool` (or `bool | None`) field gets `--flag/--no-flag` and a tuple field a comma list (the dataclass splits it).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Any, Callable, Sequence

import typer


def flagged_fields(config_class: type, exclude: Sequence[str] = ()) -> list[dataclasses.Field]:
    """The fields of `config_class` that carry a `flag` in their metadata, minus the names in `exclude`."""
    return [f for f in dataclasses.fields(config_class) if "flag" in f.metadata and f.name not in exclude]


def _option(field: dataclasses.Field, annotation: Any) -> inspect.Parameter:
    """The typer parameter of one flagged field."""
    flag = field.metadata["flag"]
    default: Any = field.default
    if default is dataclasses.MISSING:
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else ...
    if typing.get_origin(annotation) is tuple:  # a comma list on the command line
        annotation, default = str, ",".join(default) if default is not ... else ...
    is_switch = annotation is bool or set(typing.get_args(annotation)) == {bool, type(None)}  # bool | None too
    decls = f"{flag}/--no-{flag.removeprefix('--')}" if is_switch else flag
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=typer.Option(default, decls, help=field.metadata.get("help")))


def config_command(name: str, config_class: type, body: Callable[..., None], lead: Sequence[inspect.Parameter] = (),
                   extra: Sequence[inspect.Parameter] = (), exclude: Sequence[str] = ()) -> Callable[..., None]:
    """The typer command `name` whose options are `lead`, the flagged fields of `config_class` (except `exclude`),
    then `extra` (`lead` and `extra`: command-only options); it calls `body(config_values, **other_values)`."""
    hints = typing.get_type_hints(config_class)
    fields = flagged_fields(config_class, exclude)
    parameters = [*lead, *(_option(f, hints[f.name]) for f in fields), *extra]
    names = {f.name for f in fields}

    @functools.wraps(body)
    def command(**values: Any) -> None:
        body({k: v for k, v in values.items() if k in names}, **{k: v for k, v in values.items() if k not in names})

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = command.__qualname__ = name
    del command.__wrapped__
    return command


def cli_option(name: str, annotation: Any, default: Any, *decls: str, help: str) -> inspect.Parameter:
    """A command-only option (one not on the config dataclass), in the form `config_command` takes."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=typer.Option(default, *decls, help=help))
