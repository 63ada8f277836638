"""`sensoryt5 data ...`: list the bundled data sets and describe any data set (splits, labels, lexicon coverage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from sensoryt5.training import option_help

app = typer.Typer(help="Emotion data sets: the bundled ones and your own files.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_datasets() -> None:
    """Print each bundled data set: name, one-line description and split sizes."""
    from sensoryt5.data import BUNDLED, SPLITS, load_dataset

    width = max(map(len, BUNDLED))
    for name, entry in BUNDLED.items():
        data = load_dataset(name)
        sizes = ", ".join(f"{split} {len(data[split]):,}" for split in SPLITS)
        typer.echo(f"{name:<{width}}  {entry.description} ({sizes})")


@app.command()
def describe(
    name_or_path: str = typer.Argument(..., help="A bundled name (see `data list`), a .csv/.tsv/.jsonl/.parquet "
                                                 "file, a folder of train/validation/test files, or hf:NAME."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: splits, labels, label_counts, coverage."),
    text_column: str = typer.Option("text", help="Column holding the text (your own files)."),
    label_column: str = typer.Option("label", help="Column holding the label (your own files)."),
    label_separator: str | None = typer.Option(None, help="Separator of several labels in one cell, e.g. ';' "
                                                             "(makes the data multi-label)."),
    label_case: str = typer.Option("keep", help=option_help("label_case")),
    label_map: Path | None = typer.Option(None, help=option_help("label_map")),
    split_seed: int = typer.Option(0, help="Seed of the 80/10/10 split of a single file (and of isear)."),
    mask_label_hashtags: bool = typer.Option(False, help="emoint only: replace emotion-naming hashtags by "
                                                         "#emotion."),
    skip_invalid: bool = typer.Option(False, help="Skip (and count) invalid rows instead of stopping at the first."),
    coverage: bool = typer.Option(True, "--coverage/--no-coverage", help="Measure the lexicon coverage of the "
                                                                         "words (slower on large data)."),
) -> None:
    """Print split sizes, label counts and the sensory-lexicon coverage of a data set's words."""
    from sensoryt5.data import describe as describe_data
    from sensoryt5.data import load_dataset

    data = load_dataset(name_or_path, text_column=text_column, label_column=label_column,
                        label_separator=label_separator, label_case=label_case, label_map=label_map,
                        split_seed=split_seed,
                        mask_label_hashtags=mask_label_hashtags, skip_invalid=skip_invalid)
    summary = describe_data(data)
    summary["coverage"] = _coverage([text for split in data.values() for text in split["text"]]) if coverage \
        else None
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    _print_summary(summary)


def _coverage(texts: list[str]) -> dict[str, Any]:
    """Shares of word tokens found exact / lemma / multiword / predicted / missing in the sensory lexicon."""
    from sensoryt5.alignment import coverage_report

    return coverage_report(texts)


def _print_summary(summary: dict[str, Any]) -> None:
    """Rich tables: label counts per split, then coverage and the data's report."""
    splits = list(summary["splits"])
    kind = "multi-label" if summary["multi_label"] else "single-label"
    table = Table("label", *(Column(name, justify="right") for name in [*splits, "total"]),
                  title=f"{summary['name']} ({kind}, {len(summary['labels'])} labels)")
    for label in summary["labels"]:
        counts = [summary["label_counts"][split][label] for split in splits]
        table.add_row(label, *(f"{n:,}" for n in counts), f"{sum(counts):,}")
    table.add_section()
    sizes = [summary["splits"][split] for split in splits]
    table.add_row("rows", *(f"{n:,}" for n in sizes), f"{sum(sizes):,}", style="bold")
    console.print(table)
    if summary["coverage"] is not None:
        shares = Table("source", Column("share", justify="right"), title="lexicon coverage of the words")
        for source, share in summary["coverage"].items():
            shares.add_row(source, f"{share:,}" if isinstance(share, int) else f"{share:.1%}")
        console.print(shares)
    if summary["report"]:
        console.print("report:", json.dumps(summary["report"], ensure_ascii=False), highlight=False)
