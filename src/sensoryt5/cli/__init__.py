"""The `sensoryt5` command: one Typer app, one sub-module per command group."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from sensoryt5 import __version__
from sensoryt5.errors import SensoryT5Error, command_line_hints

app = typer.Typer(
    name="sensoryt5",
    help="Sensory-aware fine-grained emotion classification (SensoryT5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain help text, wrapped to the terminal by click
)

err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    """`--version`: print the package version and stop."""
    if value:
        typer.echo(f"sensoryt5 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Options of `sensoryt5` itself (the commands are registered by `_register`)."""


def _register() -> None:
    """Attach the command groups (imported here so that `sensoryt5 --help` stays fast)."""
    from sensoryt5.cli import (
        analyze_cmd,
        compare_cmd,
        data_cmd,
        export_cmd,
        lexicon_cmd,
        predict_cmd,
        push_cmd,
        train_cmd,
    )

    app.add_typer(lexicon_cmd.app, name="lexicon")
    app.add_typer(data_cmd.app, name="data")
    app.command()(train_cmd.train)
    app.command()(train_cmd.evaluate)
    app.command()(train_cmd.calibrate)
    app.command()(train_cmd.reproduce)
    app.command()(compare_cmd.compare)
    app.command()(export_cmd.export)
    app.command()(predict_cmd.predict)
    app.command()(predict_cmd.explain)
    app.command()(analyze_cmd.analyze)
    app.command()(predict_cmd.serve)
    app.command()(push_cmd.push)


def main() -> None:
    """Console entry point: user mistakes become one red line on stderr and exit code 2."""
    _register()
    try:
        with command_line_hints():
            app()
    except SensoryT5Error as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
