"""`sensoryt5 analyze`: sensory attributions per predicted emotion over a split (table and heat map)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from sensoryt5.cli.checks import DEVICE, check_device
from sensoryt5.cli.predict_cmd import AS_JSON, EXPLAIN_BATCH, MODEL_DIR, PROGRESS, STEPS
from sensoryt5.errors import InputError

console = Console()


def analyze(
    model_dir: Path = MODEL_DIR,
    dataset: str = typer.Option(..., help="Bundled data set name or user file (as for train)."),
    split: str | None = typer.Option(None, help="train, validation or test (default: validation; a single user "
                                                "file is used whole unless a split is named; keep test for a final "
                                                "report)."),
    max_samples: int | None = typer.Option(None, min=1, help="Explain only this many (seeded) texts of the split."),
    steps: int = STEPS,
    batch_size: int | None = EXPLAIN_BATCH,
    output: Path | None = typer.Option(None, help="Folder for analysis.json, analysis.md and the heat map "
                                                  "analysis.png (default MODEL_DIR/analyze-DATASET-SPLIT)."),
    seed: int = typer.Option(0, help="Seed of the sample and of the bootstrap intervals."),
    text_column: str | None = typer.Option(None, help="Text column of a user file (default: as in training)."),
    label_column: str | None = typer.Option(None, help="Label column of a user file (default: as in training)."),
    as_json: bool = AS_JSON,
    progress: bool | None = PROGRESS,
    device: str | None = DEVICE,
) -> None:
    """Which senses push towards which emotion: each text explained for its predicted emotion (Integrated
    Gradients), the sensory part per sense averaged per predicted emotion with 95% bootstrap intervals."""
    from sensoryt5.analysis import analyze as run_analysis
    from sensoryt5.analysis import in_points, write_analysis
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.evaluation import dataset_slug, is_single_file, load_split, recorded_data_options
    from sensoryt5.profile import difference_cell

    check_device(device)
    columns = {k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v is not None}
    split = split or (None if is_single_file(dataset) else "validation")
    part, _, split_name = load_split(dataset, split, {**recorded_data_options(model_dir), **columns})
    texts = list(part["text"])
    if not texts:
        raise InputError(f"{dataset}/{split_name} has no texts")
    if max_samples is not None and max_samples < len(texts):
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), max_samples, replace=False))
        texts = [texts[i] for i in keep]
    classifier = SensoryClassifier.from_pretrained(model_dir, device=device)
    show_progress = sys.stderr.isatty() if progress is None else progress
    analysis = run_analysis(classifier, texts, n_steps=steps, batch_size=batch_size, seed=seed,
                            progress=show_progress)
    analysis.update(model=str(model_dir), dataset=dataset, split=split_name)
    folder = output or model_dir / f"analyze-{dataset_slug(dataset)}-{split_name}"
    paths = write_analysis(analysis, folder)
    if as_json:
        typer.echo(json.dumps(analysis, indent=2))
        return
    table = Table("predicted", "n", *(sense[:5] for sense in analysis["senses"]), box=box.SIMPLE_HEAD,
                  padding=(0, 1),
                  title=f"Sensory part of the predicted emotion's {analysis['output']}, in points "
                        f"({dataset}/{split_name}, {len(texts)} texts; * 95% interval excludes 0)")
    for row in analysis["emotions"]:
        table.add_row(row["label"], str(row["texts"]),
                      *(difference_cell(in_points(row["sensory_part"][s]), 2) for s in analysis["senses"]))
    console.print(table)
    console.print(f"Wrote {', '.join(str(p) for p in paths)}")
