"""`sensoryt5 compare`: two models on the same split, with paired bootstrap intervals of their difference."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def compare(
    model_a: Path = typer.Argument(..., help="Model folder A (the reference)."),
    model_b: Path = typer.Argument(..., help="Model folder B (differences are B − A)."),
    dataset: str = typer.Option(..., help="Bundled data set name or user file (as for evaluate)."),
    split: str | None = typer.Option(None, help="train, validation or test (default: test; a single user file is "
                                                 "used whole unless a split is named)."),
    batch_size: int = typer.Option(64, help="Prediction batch size."),
    text_column: str | None = typer.Option(None, help="Text column of a user file (default: as in training A)."),
    label_column: str | None = typer.Option(None, help="Label column of a user file (default: as in training A)."),
    seed: int = typer.Option(0, help="Seed of the paired bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Macro-F1 and accuracy of two models on the same rows, and B − A with a paired bootstrap 95% interval."""
    from sensoryt5.comparison import compare as run_comparison

    columns = {k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v is not None}
    result = run_comparison(model_a, model_b, dataset, split, batch_size=batch_size, data_options=columns,
                            seed=seed)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table("metric", "A", "B", "B − A", "95% interval", "share B ≤ A",
                  title=f"{model_b} − {model_a} on {dataset}/{result['split']} (n={result['n']})")
    for name, row in result["metrics"].items():
        table.add_row(name, f"{row['a']:.4f}", f"{row['b']:.4f}", f"{row['difference']:+.4f}",
                      f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]", f"{row['p_b_not_better']:.3f}")
    console.print(table)
