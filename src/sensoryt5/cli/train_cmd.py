"""`sensoryt5 train`, `sensoryt5 evaluate` and `sensoryt5 reproduce`."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from sensoryt5.cli.checks import BACKEND, CHUNK_AGGREGATE, DEVICE, LONG_TEXT, STRIDE, check_backend, check_device
from sensoryt5.cli.options import cli_option, config_command
from sensoryt5.reproduce import GRID_FIELDS
from sensoryt5.training import TrainingConfig

console = Console()
err_console = Console(stderr=True)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _train(values: dict[str, Any], deepspeed: Path | None, fsdp: str | None) -> None:
    """Fine-tune SensoryT5 on a data set; works unchanged under torchrun / accelerate launch."""
    from sensoryt5.train_report import closing_summary
    from sensoryt5.training import train as run_training

    trainer_args = {k: v for k, v in (("deepspeed", str(deepspeed) if deepspeed else None), ("fsdp", fsdp)) if v}
    metrics = run_training(TrainingConfig(**values, trainer_args=trainer_args))
    if not metrics["written_by_this_process"]:
        return
    console.print(closing_summary(metrics, values["output"]), markup=False, highlight=False, soft_wrap=True)


TRAIN_ONLY_OPTIONS = (  # `train` options that are not TrainingConfig fields (they fill `trainer_args`)
    cli_option("deepspeed", Path | None, None, "--deepspeed", help="DeepSpeed config JSON (passed to the Trainer)."),
    cli_option("fsdp", str | None, None, "--fsdp", help="FSDP options, e.g. 'full_shard auto_wrap' (passed to the "
                                                        "Trainer)."),
)
train = config_command("train", TrainingConfig, _train, extra=TRAIN_ONLY_OPTIONS)


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
    long_text: str = LONG_TEXT,
    stride: int | None = STRIDE,
    chunk_aggregate: str | None = CHUNK_AGGREGATE,
    device: str | None = DEVICE,
    backend: str = BACKEND,
) -> None:
    """Accuracy and macro-F1 with 95% bootstrap intervals, weighted-F1, per-class scores, confusion matrix and
    predictions of a split."""
    from sensoryt5.cli.predict_cmd import load_classifier
    from sensoryt5.evaluation import evaluate as run_evaluation
    from sensoryt5.long_text import check_long_text

    check_backend(backend, device)
    check_device(device)
    check_long_text(long_text, stride, chunk_aggregate)
    columns = {k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v is not None}
    report = run_evaluation(model_dir, dataset, split, output_dir=output, batch_size=batch_size,
                            classifier=load_classifier(model_dir, device, backend), data_options=columns, seed=seed,
                            long_text=long_text, stride=stride, chunk_aggregate=chunk_aggregate)
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
    if report.get("calibration"):
        calibration = report["calibration"]
        console.print(f"Calibration (temperature {calibration['temperature']:.3f}): ECE "
                      f"{calibration['ece_before']:.4f} → {calibration['ece_after']:.4f}, Brier "
                      f"{calibration['brier_before']:.4f} → {calibration['brier_after']:.4f} "
                      f"(reliability diagram: {report['reliability_diagram_file']})")
    per_class = Table("label", "precision", "recall", "F1", "support")
    for row in report["per_class"]:
        per_class.add_row(row["label"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                          str(row["support"]))
    console.print(per_class)
    console.print(f"Predictions: {report['predictions_file']}")


def calibrate(
    model_dir: Path = typer.Argument(..., help="A single-label model folder written by `sensoryt5 train`."),
    dataset: str | None = typer.Option(None, help="Data set whose validation split to fit on (default: the one "
                                                  "the model was trained on)."),
    batch_size: int = typer.Option(64, help="Prediction batch size."),
    as_json: bool = typer.Option(False, "--json", help="Print the fit as JSON."),
    device: str | None = DEVICE,
) -> None:
    """Fit the model's temperature on dev (as `train` does unless --no-calibrate) and store it in the folder."""
    from sensoryt5.evaluation import calibrate_model

    check_device(device)
    fit = calibrate_model(model_dir, dataset, batch_size=batch_size)
    if as_json:
        typer.echo(json.dumps(fit, indent=2))
    else:
        console.print(f"Temperature {fit['temperature']:.3f} fitted on {fit['dataset']}/validation: dev NLL "
                      f"{fit['dev_nll_before']:.4f} → {fit['dev_nll_after']:.4f}, ECE {fit['dev_ece_before']:.4f} → "
                      f"{fit['dev_ece_after']:.4f}; written to {model_dir / 'config.json'}")
        if fit["at_search_bound"]:
            err_console.print(f"[yellow]warning:[/] the temperature sits at the end of its search range: with "
                              f"{fit['dev_texts']} dev texts the fit is unreliable")
    if any(model_dir.glob("*.onnx")):
        err_console.print("[yellow]warning:[/] the ONNX files in the folder predate the temperature; run "
                          "`sensoryt5 export` again")


def _reproduce(training: dict[str, Any], datasets: str, sensory: str, fusion: str, dims: str, ablate: str,
               lexicon: str, seeds: str, output: Path, name: str | None, keep_models: bool, quick: bool,
               report_only: bool, workers: int) -> None:
    """Train/select/test every data set × variant × seed (finished runs are skipped) and write RESULTS.md."""
    from sensoryt5.reproduce import (
        ReproduceConfig,
        quick_model_dir,
        quick_preset,
        run_grid,
        training_template,
        write_report,
    )
    from sensoryt5.train_report import next_commands

    config = ReproduceConfig(
        datasets=_csv(datasets), sensory_modes=_csv(sensory), fusions=_csv(fusion),
        sensory_dims=[d.strip() for d in dims.split(";") if d.strip()], ablate=_csv(ablate), lexicons=_csv(lexicon),
        seeds=[int(s) for s in _csv(seeds)], training=training_template(**training), output=str(output), name=name,
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
    if quick and (quick_model_dir(config) / "config.json").is_file():
        console.print("\n".join([f"Kept the SensoryT5 model in {quick_model_dir(config)}; try it:",
                                  *(f"  {line}" for line in next_commands(str(quick_model_dir(config)), "isear"))]),
                      markup=False, highlight=False, soft_wrap=True)


REPRODUCE_GRID_OPTIONS = (  # `reproduce` options that are not training settings: the grid and its report
    cli_option("datasets", str, "isear,emoint", "--datasets", help="Comma list of data sets."),
    cli_option("sensory", str, "none,norms,random", "--sensory", "--modes",
               help="Comma list of sensory modes (none = baseline)."),
    cli_option("fusion", str, "paper", "--fusion", help="Comma list of fusion variants."),
    cli_option("dims", str, "perceptual", "--dims", help="Dimension set(s), separated by ';' (e.g. "
                                                         "'perceptual;action'); for a lexicon other than lancaster "
                                                         "the default is all its columns."),
    cli_option("ablate", str, "", "--ablate", help="Comma list of senses; each adds variants with that one sense set "
                                                   "to zero for every word (leave-one-sense-out, same model shape "
                                                   "as with it)."),
    cli_option("lexicon", str, "lancaster", "--lexicon", help="Comma list of lexicons: lancaster, nrc-emolex or "
                                                              "CSV files (see `train --lexicon`); the baseline runs "
                                                              "once."),
    cli_option("seeds", str, "1,2,3", "--seeds", help="Comma list of seeds."),
    cli_option("output", Path, Path("results"), "--output", help="Results root (runs go to OUTPUT/NAME)."),
    cli_option("name", str | None, None, "--name", help="Sub-folder name (default: the backbone's name)."),
    cli_option("keep_models", bool, False, "--keep-models/--no-keep-models", help="Keep each run's model folder."),
    cli_option("quick", bool, False, "--quick/--no-quick", help="Preset: ISEAR, 1 seed, 1 epoch, length 64 (about "
                                                                "10 min on 2 CPU cores)."),
    cli_option("report_only", bool, False, "--report-only/--no-report-only",
               help="Only rebuild the report from finished runs."),
    cli_option("workers", int, 1, "--workers", help="Runs trained at once, each in its own process (small models "
                                                    "can share one GPU)."),
)
reproduce = config_command("reproduce", TrainingConfig, _reproduce, lead=REPRODUCE_GRID_OPTIONS,
                           exclude=GRID_FIELDS)
