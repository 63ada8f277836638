"""Cost of an explanation: `SensoryClassifier.explain` (Integrated Gradients, default steps) against `predict` on
the same model and texts, and batched explanations against one text at a time.

Model: the MiniLM SensoryT5 fine-tuned on ISEAR with the paper fusion and the norms (`inference_speed.RECIPE`,
cached; trained weights matter: the default integration starts at `DEFAULT_STEPS` and doubles the steps of the texts
whose delta exceeds `DEFAULT_TOLERANCE`, which depends on the model), `oov_embedder=None`, on ISEAR training texts
(22 words on average). The notes give the mean steps the texts ended with. An untimed warm-up round fills the
processor's word memo. `--quick`: the untrained model (`inference_speed.untrained_model`), fewer texts.

- `explain_speed/latency`: one text per call, `explain(text)` against `predict([text])`, summed over the texts;
  target: ratio at most 30 (issue 20).
- `explain_speed/batched`: `explain_batch(texts, batch_size=8)` against `explain` one text at a time; reported
  (texts per second in the notes), no target.

Threads: `$SENSORYT5_BENCH_THREADS` (default 1, as for inference_speed).

    python -m benchmarks.explain_speed [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.harness import Figure, paired_timings
from benchmarks.inference_speed import THREADS, benchmark_texts, fine_tuned_model, untrained_model
from sensoryt5.backbones import quiet_weight_loading

N_TEXTS, QUICK_TEXTS = 32, 8
REPEATS, QUICK_REPEATS = 3, 2
TARGET_RATIO = 30.0
BATCH = 8


def measure(model_dir: Path, texts: list[str], repeats: int) -> list[Figure]:
    """The latency and batched figures on `texts`."""
    from sensoryt5.attribution import DEFAULT_STEPS
    from sensoryt5.classifier import SensoryClassifier

    clf = SensoryClassifier.from_pretrained(model_dir, device="cpu")

    def explain_each() -> None:
        for text in texts:
            clf.explain(text)  # one text per Integrated Gradients pass

    def predict_each() -> None:
        for text in texts:
            clf.predict([text])

    def explain_batched() -> None:
        clf.explain_batch(texts, batch_size=BATCH)

    steps = [r["explained"]["n_steps"] for r in clf.explain_batch(texts, batch_size=1)]
    notes = {"texts": len(texts), "start_steps": DEFAULT_STEPS, "mean_steps_used": round(statistics.mean(steps), 1),
             "model": str(model_dir), "device": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__,
             "load_average_1min_before": round(os.getloadavg()[0], 2)}
    explain_times, predict_times = paired_timings(explain_each, predict_each, repeats=repeats, warmup=1)
    latency = Figure(name="explain_speed/latency",
                     candidate=f"SensoryClassifier.explain, one text per call (IG from {DEFAULT_STEPS} steps)",
                     baseline="SensoryClassifier.predict, one text per call, same model and texts", unit="s/pass",
                     candidate_times=explain_times, baseline_times=predict_times,
                     target=f"ratio <= {TARGET_RATIO:.0f}",
                     notes={**notes, "explain_s_per_text_median": round(statistics.median(explain_times) / len(texts),
                                                                         3),
                            "predict_s_per_text_median": round(statistics.median(predict_times) / len(texts), 4)})
    latency.passed = latency.summary()["ratio_median"] <= TARGET_RATIO
    batched_times, single_times = paired_timings(explain_batched, explain_each, repeats=repeats, warmup=0)
    batched = Figure(name="explain_speed/batched",
                     candidate=f"SensoryClassifier.explain_batch, {BATCH} texts per IG pass",
                     baseline="SensoryClassifier.explain, one text per call", unit="s/pass",
                     candidate_times=batched_times, baseline_times=single_times,
                     notes={**notes, "batched_texts_per_s_median": round(len(texts) / statistics.median(batched_times),
                                                                         2),
                            "single_texts_per_s_median": round(len(texts) / statistics.median(single_times), 2),
                            "load_average_1min_after": round(os.getloadavg()[0], 2)})
    return [latency, batched]


def run(quick: bool = False) -> list[Figure]:
    """Both figures on `N_TEXTS` ISEAR texts with the fine-tuned model (`quick`: the untrained model,
    `QUICK_TEXTS`, fewer repetitions)."""
    torch.set_num_threads(THREADS)
    with quiet_weight_loading(), tempfile.TemporaryDirectory() as tmp:
        if quick:
            return measure(untrained_model(Path(tmp)), benchmark_texts(QUICK_TEXTS), QUICK_REPEATS)
        return measure(fine_tuned_model(), benchmark_texts(N_TEXTS), REPEATS)


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
