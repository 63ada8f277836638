"""ONNX Runtime against PyTorch: `SensoryClassifier.predict` throughput with the fp32 export and the int8 export at
each level of `sensoryt5.export.FP32_LEVELS` (every MatMul int8; feed-forward down-projections kept float32; both
feed-forward MatMuls kept float32), and the dev accuracy / macro-F1 / label agreement of each, on the model, texts and
batch size of `benchmarks.inference_speed`.

Speed: the first 1,000 of those ISEAR training texts, batch 32, CPU, torch and onnxruntime both on `THREADS`
intra-op threads; the backends are timed in turn every round, and each export gets a figure with the PyTorch
backend as baseline (ratio = ONNX time / PyTorch time; the target for int8 is ratio <= 0.286, i.e. at least 3.5x,
with label agreement with PyTorch of at least 98% on the dev split). `int8` is every MatMul in int8 (what
`export --int8 --min-agreement 0` writes); the note `export_default` marks the level `export --int8` picks (the
first reaching 98% dev agreement).
Accuracy: ISEAR validation (743 texts) with each backend (`dev_scores`).
`--quick`: the untrained MiniLM SensoryT5, 256 texts, 3 repetitions, no dev scores.

    python -m benchmarks.onnx_speed [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.harness import Figure, interleaved_timings
from benchmarks.inference_speed import (
    BATCH,
    QUICK_REPEATS,
    QUICK_TEXTS,
    REPEATS,
    THREADS,
    benchmark_texts,
    fine_tuned_model,
    untrained_model,
)
from sensoryt5.backbones import quiet_weight_loading

TARGET_INT8_RATIO = round(1 / 3.5, 3)  # at least 3.5x torch fp32 (issue 22)
TARGET_AGREEMENT = 0.98  # int8 label agreement with torch on the dev split
N_TEXTS = 1000  # half of benchmarks.inference_speed's 2,000, to keep `python -m benchmarks` under 10 minutes


def export_files(model_dir: Path, folder: Path) -> dict[str, Path]:
    """Export `model_dir` to fp32 ONNX in `folder` and quantise it at every level of FP32_LEVELS ("int8" for level
    none, "int8-<level>" for the others)."""
    from sensoryt5.export import FP32_LEVELS, export_onnx, feed_forward_matmuls, fp32_nodes, quantize_int8
    from sensoryt5.model_folder import load_model

    fp32 = export_onnx(model_dir, folder / "model.fp32.onnx", overwrite=True).path
    ffn = feed_forward_matmuls(fp32, load_model(model_dir, device="cpu").config.backbone_config)
    files = {"fp32": fp32}
    for level in FP32_LEVELS:
        name = "int8" if level == "none" else f"int8-{level}"
        files[name] = quantize_int8(fp32, folder / f"model.{name}.onnx", fp32_nodes(level, ffn))
    return files


def classifiers(model_dir: Path, files: dict[str, Path]) -> dict[str, Any]:
    """SensoryClassifier on PyTorch and on each ONNX file (onnxruntime on `THREADS` threads)."""
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.export import OnnxRunner

    backends = {"torch": SensoryClassifier.from_pretrained(model_dir, device="cpu")}
    for precision, path in files.items():
        backends[f"onnx-{precision}"] = SensoryClassifier(backends["torch"].model, backends["torch"].processor,
                                                          runner=OnnxRunner(path, threads=THREADS))
    return backends


def dev_scores(model_dir: Path, files: dict[str, Path] | None = None) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 on ISEAR validation of PyTorch and of each ONNX export (exported here if not given)."""
    from sensoryt5.data import label_array, load_dataset
    from sensoryt5.metrics import single_label_metrics

    dev = load_dataset("isear")["validation"]
    gold, texts = label_array(dev), list(dev["text"])
    with tempfile.TemporaryDirectory() as tmp:
        backends = classifiers(model_dir, files or export_files(model_dir, Path(tmp)))
        predictions = {name: clf.predict_proba(texts, batch_size=BATCH).argmax(1) for name, clf in backends.items()}
    scores = {}
    for name, pred in predictions.items():
        metrics = single_label_metrics(gold, pred)
        scores[name] = {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4),
                        "agreement_with_torch": round(float(np.mean(pred == predictions["torch"])), 4)}
    return scores


def measure(model_dir: Path, texts: list[str], repeats: int, name: str, with_dev: bool) -> list[Figure]:
    """PyTorch and each ONNX export timed in turn on `texts`; one figure per export against the same PyTorch
    timings; dev scores in the notes if `with_dev`."""
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        files = export_files(model_dir, Path(tmp))
        backends = classifiers(model_dir, files)
        scores = dev_scores(model_dir, files) if with_dev else None
        load_before = os.getloadavg()[0]
        times = interleaved_timings({backend: partial(clf.predict, texts, BATCH) for backend, clf in backends.items()},
                                    repeats=repeats, warmup=1)
        default = next((p for p in files if p != "fp32" and scores
                        and scores[f"onnx-{p}"]["agreement_with_torch"] >= TARGET_AGREEMENT), None)
        for precision, path in files.items():
            onnx_times, torch_times = times[f"onnx-{precision}"], times["torch"]
            figure = Figure(
                name=f"{name}/{precision}",
                candidate=f"SensoryClassifier, backend onnx ({precision}, onnxruntime)",
                baseline="SensoryClassifier, backend torch (fp32)",
                unit="s/pass",
                candidate_times=onnx_times,
                baseline_times=torch_times,
                target=(f"ratio <= {TARGET_INT8_RATIO:.3f}" + (f", dev agreement >= {TARGET_AGREEMENT:.0%}"
                                                                  if scores else "")) if precision != "fp32" else "",
                notes={
                    "texts": len(texts), "batch_size": BATCH, "device": "cpu", "threads": THREADS,
                    "speedup_median": round(float(np.median(np.divide(torch_times, onnx_times))), 3),
                    "file_mib": round(path.stat().st_size / 2**20, 1),
                    "export_default": (precision == default) if scores else None,
                    "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    "dev_scores": scores,
                },
            )
            if figure.target:
                agrees = scores is None or scores[f"onnx-{precision}"]["agreement_with_torch"] >= TARGET_AGREEMENT
                figure.passed = figure.summary()["ratio_median"] <= TARGET_INT8_RATIO and agrees
            figures.append(figure)
    return figures


def run(quick: bool = False) -> list[Figure]:
    """fp32 and int8 figures (one per level) for the fine-tuned model on 1,000 texts (`quick`: untrained model,
    256 texts)."""
    torch.set_num_threads(THREADS)
    with quiet_weight_loading():
        if not quick:
            return measure(fine_tuned_model(), benchmark_texts(N_TEXTS), REPEATS, "onnx_speed/minilm",
                           with_dev=True)
        with tempfile.TemporaryDirectory() as tmp:
            return measure(untrained_model(Path(tmp)), benchmark_texts(QUICK_TEXTS), QUICK_REPEATS,
                           "onnx_speed/minilm-quick", with_dev=False)


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
