"""Errors that describe a user's mistake (bad file, bad option, bad model folder).

The command line prints these as one line and exits with code 2; everything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Sequence

_COMMAND_LINE: ContextVar[bool] = ContextVar("command_line", default=False)


class SensoryT5Error(Exception):
    """Base class for errors caused by user input rather than by a bug in sensoryt5."""


class InputError(SensoryT5Error, ValueError):
    """Bad input data, located as precisely as possible (file, 1-based row, column)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column = file, row, column
        where = ", ".join(
            part for part in (
                f"file {file}" if file is not None else None,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class ModelLoadError(SensoryT5Error):
    """A model folder that is missing, incomplete, corrupted or in a refused format (pickle)."""


class OptionError(SensoryT5Error, ValueError):
    """An option outside its choices: sensory mode, fusion, sensory dimensions, OOV embedder, backbone."""


def check_choice(kind: str, value: str, choices: Sequence[str]) -> None:
    """OptionError naming `kind` and listing `choices` unless `value` is one of them."""
    if value not in choices:
        raise OptionError(f"unknown {kind} {value!r}; choose from {', '.join(choices)}")


def one_line(error: object) -> str:
    """`error`'s message with its line breaks and runs of spaces collapsed, to quote inside a one-line error."""
    return " ".join(str(error).split())


@contextmanager
def command_line_hints() -> Iterator[None]:
    """Within this block `option` writes options as command-line flags (the CLI wraps every command in it)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option(name: str, value: Any = None) -> str:
    """Option `name` (a Python parameter) as a hint writes it: `--label-case lower` / `--skip-invalid` on the command
    line, `label_case='lower'` / `skip_invalid=True` in Python; without `value`, `--label-map` / `label_map=`."""
    if _COMMAND_LINE.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is None or value is True else f"{flag} {shlex.quote(str(value))}"
    return f"{name}=" if value is None else f"{name}={value!r}"
