"""What `sensoryt5 train` tells its user: the start banner (settings, labels, where each split came from) and the
closing summary (model folder, dev scores, warnings, the commands to try the model next)."""

from __future__ import annotations

import shlex
from typing import Any, Sequence

import numpy as np

SHOWN_LABELS = 8  # label names listed in the banner before "(+N more)"


def _label_line(labels: Sequence[str], multi_label: bool, separator: str | None) -> str:
    """`labels: 7 (single-label): anger, disgust, ...` with the names cut after SHOWN_LABELS."""
    kind = "multi-label" + (f", separator {separator!r}" if separator else "") if multi_label else "single-label"
    names = ", ".join(labels[:SHOWN_LABELS]) + (f", ... (+{len(labels) - SHOWN_LABELS} more)"
                                                if len(labels) > SHOWN_LABELS else "")
    return f"labels: {len(labels)} ({kind}): {names}"


def _sensory_line(sensory: str, fusion: str, dims: Sequence[str], oov: str | None, lexicon: str = "lancaster") -> str:
    """The sensory branch in one line: mode, fusion, lexicon, dimensions and the OOV regressor."""
    if sensory == "none":
        return "sensory: none (baseline: the backbone without the sensory branch)"
    regressor = f"OOV regressor {oov}" if oov else "no OOV regressor (words outside the lexicon get no values)"
    return f"sensory: {sensory}, fusion {fusion}, lexicon {lexicon}, {len(dims)} dims ({', '.join(dims)}), {regressor}"


def split_sources(dataset: Any) -> str:
    """Examples per split and where each split came from (given files, one file split 80/10/10, bundled data)."""
    from sensoryt5.data import BUNDLED, dataset_metadata

    sizes = {split: len(part) for split, part in dataset.items()}
    counts = "/".join(str(sizes.get(split, 0)) for split in ("train", "validation", "test"))
    metadata = dataset_metadata(dataset["train"])
    name, report = str(metadata.get("name", "")), metadata.get("report", {})
    if name in BUNDLED:
        renamed = report.get("labels_renamed", {})
        relabelled = "" if not renamed else (f", relabelled by the label map {renamed['shipped']}"
                                             if "shipped" in renamed else ", relabelled by the given label map")
        return f"data: bundled {name} ({BUNDLED[name].description}){relabelled}: train/validation/test {counts}"
    files = report.get("files", {})
    carved = report.get("carved_from_train")
    if carved and set(carved["splits"]) == {"validation", "test"}:
        return (f"data: one file given ({files.get('train', name)}): split 80/10/10 into {counts}, seeded "
                f"(split seed {carved['split_seed']}, stratified by label)")
    parts = [f"{split} {sizes[split]} from {files[split]}" for split in ("train", "validation", "test")
             if split in files]
    if carved:
        share = round(carved["share"] * 100)
        parts += [f"{split} {sizes[split]} carved out of the train file ({share}% per label, split seed "
                  f"{carved['split_seed']})" for split in carved["splits"]]
    return "data: " + "; ".join(parts)


def start_banner(config: Any, backbone_path: str, dataset: Any, train_examples: int, learning_rate: float,
                 class_weighted: bool) -> str:
    """The lines `train` prints before training: backbone, sensory settings, labels, data and its splits, and the
    optimisation settings in effect (`learning_rate`, `class_weighted`: as resolved for this data)."""
    from sensoryt5.data import is_multi_label, label_names
    from sensoryt5.lexicons import load_lexicon
    from sensoryt5.norms import parse_dims

    multi_label = is_multi_label(dataset)
    backbone = config.backbone + (f" ({backbone_path})" if backbone_path != config.backbone else "")
    lines = [f"Training SensoryT5 into {config.output}", f"  backbone: {backbone}",
             "  " + _sensory_line(config.sensory_mode, config.fusion,
                                  parse_dims(config.sensory_dims, load_lexicon(config.lexicon)), config.oov_embedder,
                                  config.lexicon),
             "  " + _label_line(label_names(dataset), multi_label, config.label_separator),
             "  " + split_sources(dataset)]
    if train_examples < len(dataset["train"]):
        lines.append(f"  training on {train_examples} of the {len(dataset['train'])} train examples "
                     f"({_subset_flag(config)}, seed {config.seed})")
    if config.lexicon == "nrc-emolex" and config.oov_embedder and config.sensory_mode != "none":
        lines.append("  note: nrclex lists only words with an emotion association, so the OOV regressor fitted on "
                     "them predicts associations for words that have none; --oov none gives those words zeros")
    weights = "class-weighted loss" if class_weighted else "unweighted loss"
    lines.append(f"  epochs {config.epochs:g}, learning rate {learning_rate:g}, batch size "
                 f"{config.batch_size}, {weights}; the best epoch is chosen on dev macro-F1")
    return "\n".join(lines)


def next_commands(model_dir: str, dataset: str) -> list[str]:
    """The commands to try a trained model: evaluate on test, predict, explain, serve."""
    folder, data = shlex.quote(model_dir), shlex.quote(dataset)
    return [f"sensoryt5 evaluate {folder} --dataset {data} --split test",
            f"sensoryt5 predict {folder} \"I finally got the job I wanted\"",
            f"sensoryt5 explain {folder} \"The smell of rotten food made me sick\"",
            f"sensoryt5 serve {folder}"]


def closing_summary(metrics: dict[str, Any], model_dir: str) -> str:
    """The lines `train` prints at the end: model folder, dev scores, warnings and the next commands."""
    dev = metrics["dev"]
    accuracy = "exact-match accuracy" if metrics["multi_label"] else "accuracy"  # multi-label: whole label set
    scores = f"dev macro-F1 {dev['macro_f1']:.4f}, {accuracy} {dev['accuracy']:.4f}"
    if "micro_f1" in dev:
        scores += f", micro-F1 {dev['micro_f1']:.4f}"
    lines = [f"Saved the model to {model_dir} ({metrics['wall_time_s']:.0f} s)", f"  {scores}"]
    if metrics.get("thresholds_tuned_on"):
        lines.append(f"  (per-label thresholds tuned on dev, so these dev scores are optimistic; dev macro-F1 at "
                     f"threshold 0.5: {metrics['dev_macro_f1_at_0.5']:.4f})")
    if metrics.get("calibration"):
        fit = metrics["calibration"]
        lines.append(f"  scores calibrated on dev: temperature {fit['temperature']:.3f} (dev ECE "
                     f"{fit['dev_ece_before']:.4f} → {fit['dev_ece_after']:.4f}; --no-calibrate to skip)")
        if fit.get("at_search_bound"):
            lines.append(f"Warning: the temperature sits at the end of its search range: with {fit['dev_texts']} dev "
                         "texts and these dev scores the fit is unreliable; check the calibration with `sensoryt5 "
                         "evaluate`, or train with --no-calibrate")
    lines += [f"Warning: {warning}" for warning in metrics.get("warnings", [])]
    lines += ["", "Try it:"] + [f"  {command}" for command in next_commands(model_dir, metrics["config"]["dataset"])]
    return "\n".join(lines)


NO_SIGNAL_CAUSE = ("likely cause: too few training steps or a learning rate too low or too high for this data; try "
                   "more --epochs, another --lr{extra}")


def constant_prediction_warnings(predicted: np.ndarray, labels: Sequence[str], multi_label: bool,
                                 thresholds: Sequence[float] | None) -> list[str]:
    """Warnings when the chosen model gives every dev text the same prediction (predicted label ids [N] or the
    multi-hot matrix [N, C] at the tuned thresholds), and when most tuned thresholds sit at the grid's floor."""
    from sensoryt5.metrics import THRESHOLD_GRID

    warnings = []
    constant = len(predicted) > 1 and len(np.unique(predicted, axis=0)) == 1
    if constant and not multi_label:
        label = labels[int(predicted[0])]
        warnings.append(f"every dev text gets the same label {label!r}: the model has not learned to tell the labels "
                        f"apart ({NO_SIGNAL_CAUSE.format(extra=f', or --class-weights if {label!r} dominates')})")
    elif constant:
        chosen = [name for name, on in zip(labels, predicted[0]) if on]
        what = (f"all {len(labels)} labels" if len(chosen) == len(labels) else
                "no label" if not chosen else f"the same labels ({', '.join(chosen)})")
        hint = NO_SIGNAL_CAUSE.format(extra="; multi-label data need the class-weighted loss, on unless "
                                            "--no-class-weights was given")
        warnings.append(f"every dev text gets {what}: the model has not learned to tell the texts apart ({hint})")
    floor = min(THRESHOLD_GRID)
    at_floor = sum(t <= floor for t in thresholds or ())
    if at_floor and (constant or 2 * at_floor > len(labels)):
        warnings.append(f"{at_floor} of {len(labels)} thresholds tuned on dev sit at their floor ({floor:g}): "
                        "for those labels predicting every text scored best, so the dev macro-F1 at the tuned "
                        "thresholds is what guessing would score")
    return warnings


def dev_diagnostics(gold: np.ndarray, logits: np.ndarray, labels: Sequence[str], multi_label: bool,
                    thresholds: Sequence[float] | None) -> dict[str, Any]:
    """What train_metrics.json records beside the dev scores: for multi-label, that the thresholds were tuned on
    dev and the dev macro-F1 at 0.5; for both, warnings about constant dev predictions. `logits` [N, C]."""
    from sensoryt5.metrics import multi_label_metrics

    if not multi_label:
        return {"warnings": constant_prediction_warnings(logits.argmax(-1), labels, False, None)}
    probabilities = 1 / (1 + np.exp(-logits))  # [N, C]
    predicted = probabilities >= np.asarray(thresholds)
    return {"thresholds_tuned_on": "validation",
            "dev_macro_f1_at_0.5": multi_label_metrics(gold, probabilities >= 0.5)["macro_f1"],
            "warnings": constant_prediction_warnings(predicted, labels, True, thresholds)}


def _subset_flag(config: Any) -> str:
    """The option that chose a training subset: --examples-per-class N or --max-train-samples N."""
    if config.examples_per_class is not None:
        return f"--examples-per-class {config.examples_per_class}"
    return f"--max-train-samples {config.max_train_samples}"
