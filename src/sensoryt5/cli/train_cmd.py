"""`sensoryt5 train`, `sensoryt5 evaluate` and `sensoryt5 reproduce`."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sensoryt5.training import option_help

console = Console()


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def train(
    dataset: str = typer.Option(..., help="Bundled data set (see `sensoryt5 data list`), a CSV/TSV/JSONL/Parquet "
                                          "file or folder, or hf:NAME."),
    output: Path = typer.Option(..., help="Folder for the trained model (+ train_metrics.json)."),
    backbone: str = typer.Option("minilm", help="minilm (bundled all-MiniLM-L6-v2), a hub name (t5-large is the "
                                                "paper's) or a local folder: T5, BERT, RoBERTa, ELECTRA, DeBERTa-v2, "
                                                "DistilBERT, MPNet, ModernBERT; another encoder gets an adapter key "
                                                "projection of its own (see README)."),
    sensory: str = typer.Option("norms", help="norms, random, shuffled or none (the baseline)."),
    fusion: str = typer.Option("paper", help="paper, residual, gate, late or input."),
    dims: str = typer.Option("perceptual", help="perceptual, action, sensorimotor or a comma list."),
    ablate: str = typer.Option("", help="Comma list of dimensions set to zero for every word (leave-one-sense-"
                                        "out with the model's shape and random stream unchanged)."),
    oov: str = typer.Option("minilm", help="Embedder of the OOV regressor, or none."),
    epochs: float = typer.Option(3.0, help="Training epochs (best epoch chosen on dev macro-F1)."),
    learning_rate: float = typer.Option(1e-4, "--lr", help="AdamW learning rate (paper: 1e-4)."),
    batch_size: int = typer.Option(32, help="Per-device training batch size."),
    eval_batch_size: int = typer.Option(64, help="Per-device evaluation batch size."),
    max_length: int = typer.Option(128, help="Maximum tokens per text."),
    warmup_ratio: float = typer.Option(0.0, help="Share of steps for linear warm-up."),
    weight_decay: float = typer.Option(0.0, help="AdamW weight decay."),
    gradient_accumulation_steps: int = typer.Option(1, "--grad-accum", help="Gradient accumulation steps."),
    seed: int = typer.Option(42, help="Random seed (model init, data order, random/shuffled modes)."),
    max_train_samples: int | None = typer.Option(None, help="Use only this many (seeded) training examples."),
    patience: int | None = typer.Option(2, help="Early stopping after this many evaluations without "
                                                   "improvement (0: off)."),
    class_weights: bool = typer.Option(False, help="Weight the loss by inverse class frequency."),
    save_steps: int | None = typer.Option(None, help="Checkpoint and evaluate every N steps instead of "
                                                        "every epoch."),
    keep_checkpoints: bool = typer.Option(False, help="Keep OUTPUT/checkpoints after training."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in OUTPUT/checkpoints."),
    overwrite: bool = typer.Option(False, help="Replace a model already in OUTPUT."),
    text_column: str = typer.Option("text", help="Text column of a user file."),
    label_column: str = typer.Option("label", help="Label column of a user file."),
    label_separator: str | None = typer.Option(None, help="Separator of multiple labels in a user file "
                                                             "(makes the task multi-label)."),
    label_case: str = typer.Option("keep", help=option_help("label_case")),
    label_map: Path | None = typer.Option(None, help=option_help("label_map")),
    mask_label_hashtags: bool = typer.Option(False, help="EmoInt: mask hashtags that name an emotion."),
    skip_invalid: bool = typer.Option(False, help=option_help("skip_invalid")),
    deepspeed: Path | None = typer.Option(None, help="DeepSpeed config JSON (passed to the Trainer)."),
    fsdp: str | None = typer.Option(None, help="FSDP options, e.g. 'full_shard auto_wrap' (passed to the "
                                                  "Trainer)."),
) -> None:
    """Fine-tune SensoryT5 on a data set; works unchanged under torchrun / accelerate launch."""
    from sensoryt5.training import TrainingConfig
    from sensoryt5.training import train as run_training

    trainer_args = {k: v for k, v in (("deepspeed", str(deepspeed) if deepspeed else None), ("fsdp", fsdp)) if v}
    metrics = run_training(TrainingConfig(
        dataset=dataset, output=str(output), backbone=backbone, sensory=sensory, fusion=fusion, dims=dims,
        ablate=tuple(_csv(ablate)), oov=None if oov.lower() == "none" else oov, epochs=epochs,
        learning_rate=learning_rate, batch_size=batch_size, eval_batch_size=eval_batch_size, max_length=max_length,
        warmup_ratio=warmup_ratio, weight_decay=weight_decay, gradient_accumulation_steps=gradient_accumulation_steps,
        seed=seed,
        max_train_samples=max_train_samples, early_stopping_patience=patience or None, class_weights=class_weights,
        save_steps=save_steps, keep_checkpoints=keep_checkpoints, resume=resume, overwrite=overwrite,
        text_column=text_column, label_column=label_column, label_separator=label_separator,
        label_case=label_case, label_map=str(label_map) if label_map else None,
        mask_label_hashtags=mask_label_hashtags, skip_invalid=skip_invalid, trainer_args=trainer_args,
    ))
    if not metrics["written_by_this_process"]:
        return
    dev = metrics["dev"]
    console.print(f"[green]Saved[/] {output}  dev macro-F1 {dev['macro_f1']:.4f}  accuracy {dev['accuracy']:.4f}  "
                  f"({metrics['wall_time_s']:.0f} s)")


def evaluate(
    model_dir: Path = typer.Argument(..., help="A model folder written by `sensoryt5 train`."),
    dataset: str = typer.Option(..., help="Bundled data set name or user file (as for train)."),
    split: str | None = typer.Option(None, help="train, validation or test (default: test; a single user file is "
                                                 "used whole unless a split is named)."),
    output: Path | None = typer.Option(None, help="Folder for metrics.json, predictions.jsonl and the "
                                                     "confusion matrix (default MODEL_DIR/eval-DATASET-SPLIT)."),
    batch_size: int = typer.Option(64, help="Prediction batch size."),
    text_column: str | None = typer.Option(None, help="Text column of a user file (default: as in training)."),
    label_column: str | None = typer.Option(None, help="Label column of a user file (default: as in training)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Accuracy and macro-F1 with 95% bootstrap intervals, weighted-F1, per-class scores, confusion matrix and
    predictions of a split."""
    from sensoryt5.evaluation import evaluate as run_evaluation

    columns = {k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v is not None}
    report = run_evaluation(model_dir, dataset, split, output_dir=output, batch_size=batch_size,
                            data_options=columns, seed=seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    summary = Table("metric", "value", "95% interval", title=f"{model_dir} on {dataset}/{report['split']}")
    for key in ("accuracy", "macro_f1", "micro_f1", "weighted_f1", "n"):
        if key in report:
            value = f"{report[key]:.4f}" if isinstance(report[key], float) else str(report[key])
            interval = report["ci"].get(key)
            summary.add_row(key, value, f"[{interval['low']:.4f}, {interval['high']:.4f}]" if interval else "")
    console.print(summary)
    per_class = Table("label", "precision", "recall", "F1", "support")
    for row in report["per_class"]:
        per_class.add_row(row["label"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                          str(row["support"]))
    console.print(per_class)
    console.print(f"Predictions: {report['predictions_file']}")


def reproduce(
    datasets: str = typer.Option("isear,emoint", help="Comma list of data sets."),
    modes: str = typer.Option("none,norms,random", help="Comma list of sensory modes (none = baseline)."),
    fusion: str = typer.Option("paper", help="Comma list of fusion variants."),
    dims: str = typer.Option("perceptual", help="Dimension set(s), separated by ';' (e.g. "
                                                "'perceptual;action')."),
    ablate: str = typer.Option("", help="Comma list of senses; each adds variants with that one sense set to zero "
                                        "for every word (leave-one-sense-out, same model shape as with it)."),
    seeds: str = typer.Option("1,2,3", help="Comma list of seeds."),
    backbone: str = typer.Option("minilm", help="Backbone name or folder."),
    epochs: float = typer.Option(3.0, help="Training epochs per run."),
    learning_rate: float = typer.Option(1e-4, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(32, help="Training batch size."),
    max_length: int = typer.Option(128, help="Maximum tokens per text."),
    max_train_samples: int | None = typer.Option(None, help="Cap on training examples per run."),
    output: Path = typer.Option(Path("results"), help="Results root (runs go to OUTPUT/NAME)."),
    name: str | None = typer.Option(None, help="Sub-folder name (default: the backbone's name)."),
    keep_models: bool = typer.Option(False, help="Keep each run's model folder."),
    quick: bool = typer.Option(False, help="Preset: ISEAR, 1 seed, 1 epoch, length 64 (about 10 min on 2 CPU "
                                           "cores)."),
    report_only: bool = typer.Option(False, help="Only rebuild the report from finished runs."),
    workers: int = typer.Option(1, help="Runs trained at once, each in its own process (small models can share "
                                        "one GPU)."),
) -> None:
    """Train/select/test every data set × variant × seed (finished runs are skipped) and write RESULTS.md."""
    from sensoryt5.reproduce import ReproduceConfig, quick_preset, run_grid, write_report

    config = ReproduceConfig(
        datasets=_csv(datasets), modes=_csv(modes), fusions=_csv(fusion),
        dims=[d.strip() for d in dims.split(";") if d.strip()], ablate=_csv(ablate),
        seeds=[int(s) for s in _csv(seeds)],
        backbone=backbone, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
        max_length=max_length, max_train_samples=max_train_samples, output=str(output), name=name,
        keep_models=keep_models, command="sensoryt5 " + shlex.join(sys.argv[1:]),
    )
    if quick:
        config = quick_preset(config)
    if report_only:
        write_report(config.folder, command=config.command)
    else:
        run_grid(config, workers=workers, progress=lambda line: console.print(f"[bold cyan]{line}[/]"))
    console.print(f"[green]Report:[/] {config.folder / 'RESULTS.md'}")
    console.print((config.folder / "RESULTS.md").read_text(encoding="utf-8"))
