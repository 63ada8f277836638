"""`sensoryt5 data ...`: list the bundled data sets, describe any data set (splits, labels, lexicon coverage) and
profile it per emotion (coverage and sense means, `sensoryt5.profile`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Column, Table

from sensoryt5.cli.lexicon_cmd import OOV
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


DATA = typer.Argument(..., help="A bundled name (see `data list`), a .csv/.tsv/.jsonl/.parquet file, a folder of "
                                "train/validation/test files, or hf:NAME.")
TEXT_COLUMN = typer.Option("text", help="Column holding the text (your own files).")
LABEL_COLUMN = typer.Option("label", help="Column holding the label (your own files).")
LABEL_SEPARATOR = typer.Option(None, help="Separator of several labels in one cell, e.g. ';' (makes the data "
                                          "multi-label).")
LABEL_CASE = typer.Option("keep", help=option_help("label_case"))
LABEL_MAP = typer.Option(None, help=option_help("label_map"))
SPLIT_SEED = typer.Option(0, help="Seed of the 80/10/10 split of a single file (and of isear).")
MASK_LABEL_HASHTAGS = typer.Option(False, help="emoint only: replace emotion-naming hashtags by #emotion.")
SKIP_INVALID = typer.Option(False, help="Skip (and count) invalid rows instead of stopping at the first.")


@app.command()
def describe(
    name_or_path: str = DATA,
    as_json: bool = typer.Option(False, "--json", help="Print JSON: splits, labels, label_counts, coverage."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    label_separator: str | None = LABEL_SEPARATOR,
    label_case: str = LABEL_CASE,
    label_map: str | None = LABEL_MAP,
    split_seed: int = SPLIT_SEED,
    mask_label_hashtags: bool = MASK_LABEL_HASHTAGS,
    skip_invalid: bool = SKIP_INVALID,
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


@app.command()
def profile(
    name_or_path: str = DATA,
    split: str = typer.Option("train", help="The split to profile: train, validation or test."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
    output: Path | None = typer.Option(None, help="Folder to write profile.json, profile.md and the heat map "
                                                  "profile.png into."),
    oov_embedder: str = OOV,
    n_resamples: int = typer.Option(1000, min=1, help="Bootstrap resamples (of texts) for the 95% intervals."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    label_separator: str | None = LABEL_SEPARATOR,
    label_case: str = LABEL_CASE,
    label_map: str | None = LABEL_MAP,
    split_seed: int = SPLIT_SEED,
    mask_label_hashtags: bool = MASK_LABEL_HASHTAGS,
    skip_invalid: bool = SKIP_INVALID,
) -> None:
    """Per emotion: the share of word tokens found / predicted / missing in the sensory lexicon, and each sense's
    mean rating against the data set's mean, with bootstrap 95% intervals over texts."""
    from sensoryt5.alignment import default_processor
    from sensoryt5.data import SPLITS, is_multi_label, label_array, label_names, load_dataset
    from sensoryt5.errors import OptionError, check_choice
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.oov import EMBEDDERS
    from sensoryt5.profile import membership, profile_texts, write_profile

    if split not in SPLITS:
        raise OptionError(f"--split: unknown split {split!r}; choose from {', '.join(SPLITS)}")
    oov = None if oov_embedder.strip().lower() == "none" else oov_embedder.strip().lower()
    if oov is not None:
        try:
            check_choice("OOV embedder", oov, sorted(EMBEDDERS))
        except OptionError as error:
            raise OptionError(f"--oov: {error}; or none") from error
    data = load_dataset(name_or_path, text_column=text_column, label_column=label_column,
                        label_separator=label_separator, label_case=label_case, label_map=label_map,
                        split_seed=split_seed, mask_label_hashtags=mask_label_hashtags, skip_invalid=skip_invalid)
    rows, labels = data[split], label_names(data)
    texts = list(rows["text"])
    processor = default_processor(SensoryLexicon(oov_embedder=oov))
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=Console(stderr=True),
                  disable=not sys.stderr.isatty(), transient=True) as bar:
        task = bar.add_task(f"words of {len(texts):,} {split} texts", total=len(texts))
        result = profile_texts(texts, membership(label_array(rows), len(labels)), labels, processor,
                               n_resamples=n_resamples, seed=seed, progress=lambda n: bar.advance(task, n))
    result = {"dataset": str(name_or_path), "split": split, "multi_label": is_multi_label(data), "oov": oov,
              **result}
    if output is not None:
        for path in write_profile(result, output):
            Console(stderr=True).print(f"wrote {path}", highlight=False)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _print_profile(result)


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


def _print_profile(result: dict[str, Any]) -> None:
    """Rich table: per emotion, texts, words, coverage shares and each sense's difference from the mean."""
    from sensoryt5.profile import difference_cell

    senses = result["senses"]
    table = Table(Column("emotion", no_wrap=True), *(Column(name, justify="right", no_wrap=True) for name in
                               ["texts", "words", "found", "pred.", "miss."]),
                  *(Column(f"Δ {s[:4]}", justify="right", no_wrap=True, min_width=7) for s in senses),
                  title=f"{result['dataset']} ({result['split']}): lexicon coverage and Δ sense mean vs the data "
                        f"set (* 95% interval excludes 0)")

    def share(row: dict[str, Any], source: str) -> str:
        value = row["shares"][source]["value"]
        return "–" if value is None else f"{value:.1%}"

    for row in result["emotions"]:
        table.add_row(row["label"], f"{row['texts']:,}", f"{row['words']:,}",
                      *(share(row, s) for s in ("found", "predicted", "missing")),
                      *(difference_cell(row["difference"][s]) for s in senses))
    table.add_section()
    overall = result["overall"]
    means = [overall["means"][s]["value"] for s in senses]
    table.add_row("all (mean)", f"{overall['texts']:,}", f"{overall['words']:,}",
                  *(share(overall, s) for s in ("found", "predicted", "missing")),
                  *("–" if m is None else f"{m:.3f}" for m in means), style="bold")
    console.print(table)
