"""Evaluate a trained model on a data set split: metrics, per-class report, confusion matrix, predictions file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensoryt5.atomic import write_json, write_jsonl
from sensoryt5.errors import InputError

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"
CONFUSION_FILE = "confusion_matrix.png"
RELIABILITY_FILE = "reliability.png"


def dataset_slug(text: str) -> str:
    """A file-name-safe name of a data set (a bundled name, a hub name or a path's file name) for output folders."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).name if os.sep in text else text).strip("_") or "data"


def gold_matrix(split: Any, model_labels: Sequence[str], split_labels: Sequence[str], multi_label: bool,
                source: str) -> np.ndarray:
    """Gold labels of a split in the model's label order: ints [N] or multi-hot [N, C].

    Raises InputError if the split has a label the model was not trained on.
    """
    from sensoryt5.data import label_array

    index = {name: i for i, name in enumerate(model_labels)}
    unknown = [name for name in split_labels if name not in index]
    if multi_label:
        matrix = label_array(split)  # [N, C_split]
        used_unknown = [name for j, name in enumerate(split_labels) if name in unknown and matrix[:, j].any()]
        if used_unknown:
            raise InputError(f"labels {used_unknown} are not among the model's labels", file=source, column="labels")
        gold = np.zeros((len(matrix), len(model_labels)), dtype=np.int64)
        for j, name in enumerate(split_labels):
            if name in index:
                gold[:, index[name]] = matrix[:, j] > 0.5
        return gold
    ids = label_array(split)  # [N]
    if unknown:
        used = sorted({split_labels[i] for i in ids if split_labels[i] in unknown})
        if used:
            row = int(np.flatnonzero(np.isin(ids, [split_labels.index(u) for u in used]))[0]) + 1
            raise InputError(f"label {used[0]!r} is not among the model's labels {list(model_labels)}",
                             file=source, row=row, column="label")
    return np.array([index[split_labels[i]] for i in ids], dtype=np.int64)


def plot_confusion(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str], path: Path, title: str) -> None:
    """Save a row-normalised confusion matrix as PNG (written to a temporary name, then renamed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(gold, pred, labels=list(range(len(labels))), normalize="true")
    size = max(5.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


WHOLE_FILE = "all"  # the split name of a user file evaluated whole


def is_single_file(dataset: str) -> bool:
    """Whether `dataset` names one user data file (not a bundled set, a folder of split files or hf:NAME)."""
    from sensoryt5.data.bundled import bundled_name
    from sensoryt5.data.hub import HUB_PREFIX

    return bundled_name(dataset) is None and not dataset.startswith(HUB_PREFIX) and Path(dataset).is_file()


def load_split(dataset: str, split: str | None, data_options: dict[str, Any]) -> tuple[Any, list[str], str]:
    """The rows to evaluate on, the data's label names and the split's name.

    `split=None` means the test split, except for a single user file, which is used whole (split name `all`);
    naming a split of a single file takes it from the seeded 80/10/10 split, as in training.
    """
    from sensoryt5.data import label_names, load_dataset

    if split is None and is_single_file(dataset):
        data = load_dataset(train=dataset, validation=dataset, test=dataset, **data_options)
        return data["test"], label_names(data), WHOLE_FILE
    split = split or "test"
    data = load_dataset(dataset, **data_options)
    if split not in data:
        raise InputError(f"no split {split!r} in {dataset} (splits: {', '.join(data)})")
    return data[split], label_names(data), split


def evaluate(model_dir: str | Path, dataset: str, split: str | None = None, output_dir: str | Path | None = None,
             batch_size: int = 64, classifier: Any = None, data_options: dict[str, Any] | None = None,
             n_resamples: int = 1000, seed: int = 0, long_text: str = "truncate", stride: int | None = None,
             chunk_aggregate: str | None = None) -> dict[str, Any]:
    """Predict a split once and report accuracy, macro-F1, weighted-F1, per-class scores and files written.

    `split=None`: the test split, or every row of a single user file (see `load_split`). Multi-label models use
    the per-label thresholds tuned on dev at training time (micro- and macro-F1). `data_options` are passed to
    `load_dataset` over those recorded in the model's train_metrics.json. `ci` holds seeded 95% bootstrap intervals
    of accuracy and macro-F1 over the evaluated rows. Single-label models also get `calibration` (ECE and Brier
    score with and without the model's temperature, see `sensoryt5.calibration`) and a reliability diagram. Texts
    longer than the model's window are read as `long_text`, `stride` and `chunk_aggregate` say (see
    `SensoryClassifier.scores`); the report records the mode and how many texts were `truncated` (longer than the
    window), and each predictions row its `truncated` flag.
    """
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.metrics import bootstrap_intervals, multi_label_metrics, per_class_report, single_label_metrics

    model_dir = Path(model_dir)
    clf = classifier or SensoryClassifier.from_pretrained(model_dir)
    options = {**recorded_data_options(model_dir), **(data_options or {})}
    part, split_labels, split = load_split(dataset, split, options)
    gold = gold_matrix(part, clf.labels, split_labels, clf.multi_label, dataset)
    texts = list(part["text"])
    scores = clf.scores(texts, batch_size=batch_size, long_text=long_text, stride=stride,
                        chunk_aggregate=chunk_aggregate)
    probabilities = scores.probabilities
    pred = predicted_labels(clf, probabilities)
    metrics = multi_label_metrics(gold, pred) if clf.multi_label else single_label_metrics(gold, pred)
    out = Path(output_dir) if output_dir else model_dir / f"eval-{dataset_slug(dataset)}-{split}"
    out.mkdir(parents=True, exist_ok=True)
    rows = [{**_prediction_row(t, g, p, pr, clf), **length}
            for t, g, p, pr, length in zip(texts, gold, pred, probabilities, scores.fields())]
    write_jsonl(out / PREDICTIONS_FILE, rows)
    report = {**metrics, "ci": bootstrap_intervals(gold, pred, n_resamples, seed),
              "per_class": per_class_report(gold, pred, clf.labels), "dataset": dataset, "split": split,
              "model": str(model_dir), "predictions_file": str(out / PREDICTIONS_FILE), "long_text": long_text,
              "truncated": sum(scores.truncated)}
    if not clf.multi_label:
        from sensoryt5.calibration import calibration_report, reliability_diagram

        title = f"{model_dir.name} on {dataset}/{split}"
        plot_confusion(gold, pred, clf.labels, out / CONFUSION_FILE, title)
        report["confusion_matrix_file"] = str(out / CONFUSION_FILE)
        report["calibration"] = calibration_report(probabilities, gold, clf.config.temperature)
        reliability_diagram(probabilities, gold, clf.config.temperature, out / RELIABILITY_FILE, title)
        report["reliability_diagram_file"] = str(out / RELIABILITY_FILE)
    write_json(out / METRICS_FILE, report)
    return report


def calibrate_model(model_dir: str | Path, dataset: str | None = None, batch_size: int = 64,
                    classifier: Any = None) -> dict[str, Any]:
    """Fit the temperature of a saved single-label model on the dev split of its training data (or of `dataset`),
    as `train` does at its end, and write it into the folder's config.json and train_metrics.json (atomically).
    Returns the fit (see `training.calibrate_on_dev`); OptionError for a multi-label model."""
    from sensoryt5.atomic import atomic_open
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.errors import OptionError
    from sensoryt5.model_folder import METRICS_FILE as TRAIN_METRICS
    from sensoryt5.training import calibrate_on_dev

    model_dir = Path(model_dir)
    clf = classifier or SensoryClassifier.from_pretrained(model_dir)
    if clf.multi_label:
        raise OptionError("calibration is for single-label models; a multi-label model's per-label thresholds are "
                          "tuned on dev instead")
    metrics_path = model_dir / TRAIN_METRICS
    recorded = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    dataset = dataset or recorded.get("config", {}).get("dataset")
    if not dataset:
        raise InputError(f"{model_dir} does not record its training data; name the data set to calibrate on")
    part, split_labels, _ = load_split(dataset, "validation", recorded_data_options(model_dir))
    gold = gold_matrix(part, clf.labels, split_labels, False, dataset)
    probabilities = clf.predict_proba(list(part["text"]), batch_size=batch_size)  # [N, C], current temperature
    logits = np.log(np.clip(probabilities, 1e-12, None))  # logits / T up to a constant per row
    fit = {**calibrate_on_dev(clf.config, logits, gold), "dataset": dataset}
    with atomic_open(model_dir / "config.json") as handle:
        handle.write(clf.config.to_json_string())
    if recorded:
        write_json(metrics_path, {**recorded, "calibration": fit})
    return fit


def predicted_labels(clf: Any, probabilities: np.ndarray) -> np.ndarray:
    """Predictions from probabilities [N, C]: argmax ints [N], or multi-hot [N, C] at the model's tuned
    per-label thresholds (0.5 where none were tuned)."""
    if clf.multi_label:
        thresholds = np.asarray(clf.config.label_thresholds or [0.5] * len(clf.labels))
        return (probabilities >= thresholds).astype(np.int64)
    return probabilities.argmax(axis=1)


def _prediction_row(text: str, gold: Any, pred: Any, probabilities: np.ndarray, clf: Any) -> dict[str, Any]:
    """One line of the predictions file."""
    names = clf.labels
    if clf.multi_label:
        gold_out = [names[i] for i in np.flatnonzero(gold)]
        pred_out = [names[i] for i in np.flatnonzero(pred)]
    else:
        gold_out, pred_out = names[int(gold)], names[int(pred)]
    return {"text": text, "gold": gold_out, "predicted": pred_out,
            "probabilities": {n: round(float(p), 6) for n, p in zip(names, probabilities)}}


def recorded_data_options(model_dir: Path) -> dict[str, Any]:
    """The data options a model was trained with (columns, separator, hashtag masking), if recorded."""
    from sensoryt5.model_folder import METRICS_FILE as TRAIN_METRICS

    path = model_dir / TRAIN_METRICS
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8")).get("config", {})
    keys = ("text_column", "label_column", "label_separator", "label_case", "label_map", "mask_label_hashtags",
            "skip_invalid")
    return {k: config[k] for k in keys if k in config}
