"""Prediction throughput: `SensoryClassifier.predict` against `transformers.pipeline("text-classification")` over
the same fine-tuned backbone without the sensory branch, on 2,000 ISEAR training texts, batch size 32, CPU.

Model: MiniLM (the bundled all-MiniLM-L6-v2) fine-tuned for one epoch on 3,000 ISEAR training texts with the paper
fusion and the norms (`RECIPE`; trained once and cached under `$SENSORYT5_BENCH_CACHE`, default
`~/.cache/sensoryt5/benchmarks`), with `oov_embedder=None` lexicon settings, so no OOV regressor runs; the untimed
warm-up round also fills the processor's word memo.
Baseline: an `AutoModelForSequenceClassification` of the backbone's family whose encoder weights are that model's
fine-tuned backbone (pooler and head random: throughput does not depend on them), saved with the tokenizer and run
by `pipeline(..., top_k=None)` with the same batch size and truncation length. Both return every label's score.
Ratio = SensoryClassifier time / pipeline time (target <= 0.50, i.e. at least twice the pipeline's throughput).
Threads: `$SENSORYT5_BENCH_THREADS` (default 1: on a shared 2-core machine with a load average above 2, two torch
threads made MiniLM 5x slower than one, as each thread waits out the other's time slices).
`--quick`: the untrained MiniLM SensoryT5 (throughput only), 256 texts, 3 repetitions.

    python -m benchmarks.inference_speed [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from benchmarks.harness import Figure, paired_timings
from sensoryt5.backbones import quiet_weight_loading

N_TEXTS, QUICK_TEXTS = 2000, 256
BATCH = 32
THREADS = int(os.environ.get("SENSORYT5_BENCH_THREADS", "1"))  # 2 threads on a loaded 2-core machine are far slower
REPEATS, QUICK_REPEATS = 5, 3
TARGET_RATIO = 0.50  # at least 2x the pipeline (issue 22)
RECIPE: dict[str, Any] = dict(dataset="isear", backbone="minilm", sensory_mode="norms", fusion="paper",
                              oov_embedder=None,
                              max_train_samples=3000, epochs=1.0, batch_size=32, max_length=128, learning_rate=1e-4,
                              seed=42, early_stopping_patience=None)


def cache_dir() -> Path:
    """Where benchmark models are cached: `$SENSORYT5_BENCH_CACHE` or `~/.cache/sensoryt5/benchmarks`."""
    return Path(os.environ.get("SENSORYT5_BENCH_CACHE", Path.home() / ".cache" / "sensoryt5" / "benchmarks"))


def benchmark_texts(n: int = N_TEXTS) -> list[str]:
    """The first `n` ISEAR training texts (real sentences; 22 words on average)."""
    from sensoryt5.data import load_dataset

    return list(load_dataset("isear")["train"]["text"][:n])


def fine_tuned_model() -> Path:
    """The MiniLM SensoryT5 fine-tuned on ISEAR with `RECIPE` (trained on first use: 94 steps, minutes on 2 cores)."""
    from sensoryt5.training import TrainingConfig, train

    folder = cache_dir() / "minilm-isear3000-paper-norms-e1"
    if not (folder / "config.json").is_file():
        train(TrainingConfig(output=str(folder), **RECIPE))
    return folder


def untrained_model(folder: Path) -> Path:
    """The MiniLM SensoryT5 with a random adapter and head, saved with its processor into `folder`."""
    from transformers import AutoTokenizer

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.backbones import resolve_backbone
    from sensoryt5.data import load_dataset
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    labels = load_dataset("isear")["train"].features["label"].names
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone("minilm", id2label=dict(enumerate(labels)))
    model.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    SensoryProcessor(tokenizer, SensoryLexicon(oov_embedder=None), max_length=RECIPE["max_length"]).save_pretrained(
        folder)
    return folder


def pipeline_model(model_dir: Path, folder: Path) -> Path:
    """Save into `folder` a plain sequence classifier whose encoder is the fine-tuned backbone of `model_dir`."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from sensoryt5.model_folder import load_model

    model = load_model(model_dir, device="cpu")
    config = AutoConfig.for_model(**{**model.config.backbone_config, "id2label": model.config.id2label,
                                     "label2id": model.config.label2id})
    classifier = AutoModelForSequenceClassification.from_config(config)
    result = classifier.base_model.load_state_dict(model.backbone.state_dict(), strict=False)
    if result.unexpected_keys or any(not key.startswith("pooler.") for key in result.missing_keys):
        raise RuntimeError(f"backbone weights do not fit the plain classifier: {result}")
    classifier.save_pretrained(folder)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(folder)
    return folder


def measure(model_dir: Path, texts: list[str], repeats: int, name: str) -> list[Figure]:
    """Paired timings of SensoryClassifier.predict against the pipeline on `texts`, same batch size."""
    from transformers import pipeline

    from sensoryt5.classifier import SensoryClassifier

    classifier = SensoryClassifier.from_pretrained(model_dir, device="cpu")
    max_length = classifier.processor.max_length
    with tempfile.TemporaryDirectory() as tmp:
        pipe = pipeline("text-classification", model=str(pipeline_model(model_dir, Path(tmp))), device="cpu")

    def ours() -> None:
        classifier.predict(texts, batch_size=BATCH)

    def theirs() -> None:
        pipe(texts, batch_size=BATCH, top_k=None, truncation=True, max_length=max_length)

    load_before = os.getloadavg()[0]
    ours_times, pipe_times = paired_timings(ours, theirs, repeats=repeats, warmup=1)
    figure = Figure(
        name=name,
        candidate="SensoryClassifier.predict (MiniLM + paper fusion, norms)",
        baseline='transformers.pipeline("text-classification"), same fine-tuned backbone, no sensory branch',
        unit="s/pass",
        candidate_times=ours_times,
        baseline_times=pipe_times,
        target=f"ratio <= {TARGET_RATIO:.2f}",
        notes={
            "texts": len(texts), "batch_size": BATCH, "max_length": max_length, "device": "cpu",
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "ours_texts_per_s_median": round(len(texts) / statistics.median(ours_times), 1),
            "pipeline_texts_per_s_median": round(len(texts) / statistics.median(pipe_times), 1),
            "oov": "none (no OOV regressor); processor memo warmed by the untimed round",
        },
    )
    figure.passed = figure.summary()["ratio_median"] <= TARGET_RATIO
    return [figure]


def run(quick: bool = False) -> list[Figure]:
    """One figure: the fine-tuned model on 2,000 texts (`quick`: the untrained model on 256 texts)."""
    torch.set_num_threads(THREADS)
    with quiet_weight_loading():
        if not quick:
            return measure(fine_tuned_model(), benchmark_texts(N_TEXTS), REPEATS, "inference_speed/minilm")
        with tempfile.TemporaryDirectory() as tmp:
            return measure(untrained_model(Path(tmp)), benchmark_texts(QUICK_TEXTS), QUICK_REPEATS,
                           "inference_speed/minilm-quick")


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
