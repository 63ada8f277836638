"""GPU throughput with bf16 autocast: training examples/s and inference texts/s, sensory branch on vs `none`.

Backbones: MiniLM (the bundled all-MiniLM-L6-v2) and a t5-base-sized T5 (d_model 768, 12 + 12 layers, 12 heads,
d_ff 3072, vocabulary 32128; random weights, since throughput does not depend on the weights and no T5 checkpoint
can be downloaded where this project is developed). Random token ids and sensory values of the stated shape.
Skipped (empty list) when no CUDA device is present.

    python -m benchmarks.gpu_throughput [--quick]
"""

from __future__ import annotations

import json
import sys
import time

import torch

from benchmarks.harness import Figure, benchmark_model, paired_timings
from sensoryt5.modeling import SensoryT5ForSequenceClassification

NUM_LABELS = 28
T5_BASE = dict(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, vocab_size=32128)
TRAIN_BATCH, INFER_BATCH, LENGTH = 32, 128, 128


def build(backbone: str, mode: str) -> SensoryT5ForSequenceClassification:
    """The benchmarked model on the GPU (float32 weights; bf16 comes from autocast, as in the Trainer)."""
    return benchmark_model(backbone, mode, NUM_LABELS, T5_BASE).cuda()


def batch(vocab: int, size: int) -> dict[str, torch.Tensor]:
    """Random ids, a full attention mask, sensory values at every token, random labels (on the GPU)."""
    gen = torch.Generator().manual_seed(0)
    return {"input_ids": torch.randint(5, vocab, (size, LENGTH), generator=gen).cuda(),
            "attention_mask": torch.ones(size, LENGTH, dtype=torch.long).cuda(),
            "sensory": (5 * torch.rand(size, LENGTH, 6, generator=gen)).cuda(),
            "labels": torch.randint(0, NUM_LABELS, (size,), generator=gen).cuda()}


def steps(model: SensoryT5ForSequenceClassification, data: dict[str, torch.Tensor], train: bool, n: int):
    """A closure running `n` bf16 training steps (AdamW) or inference batches, synchronised."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True) if train else None
    inputs = {k: v for k, v in data.items() if k != "labels"}

    def run() -> None:
        for _ in range(n):
            if train:
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = model(**data).loss
                loss.backward()
                optimizer.step()
            else:
                with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                    model(**inputs)
        torch.cuda.synchronize()

    model.train(train)
    return run


def run(quick: bool = False) -> list[Figure]:
    """Training and inference figures per backbone; time per call of `n` steps, ratio sensory/none."""
    if not torch.cuda.is_available():
        return []
    n, repeats = (3, 3) if quick else (10, 5)
    figures = []
    for backbone in ("minilm", "t5-base-sized"):
        sensory, baseline = build(backbone, "norms"), build(backbone, "none")
        vocab = sensory.config.backbone_config["vocab_size"]
        for train, size in ((True, TRAIN_BATCH), (False, INFER_BATCH)):
            data = batch(vocab, size)
            cand, base = paired_timings(steps(sensory, data, train, n), steps(baseline, data, train, n),
                                        repeats=repeats, warmup=1)
            kind = "train" if train else "inference"
            figure = Figure(name=f"gpu/{kind}/{backbone}", candidate="paper fusion, bf16 autocast",
                            baseline="sensory_mode=none, bf16 autocast", unit=f"s per {n} batches",
                            candidate_times=cand, baseline_times=base)
            summary = figure.summary()
            figure.notes = {
                "device": torch.cuda.get_device_name(0), "batch": size, "length": LENGTH,
                "sensory_per_s": round(n * size / summary["candidate_median"], 1),
                "none_per_s": round(n * size / summary["baseline_median"], 1),
                "unit_per_s": "training examples/s" if train else "texts/s",
                "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            }
            figures.append(figure)
        del sensory, baseline
        torch.cuda.empty_cache()
    return figures


if __name__ == "__main__":
    started = time.time()
    results = [f.summary() for f in run(quick="--quick" in sys.argv[1:])]
    print(json.dumps({"figures": results, "torch": torch.__version__, "wall_s": round(time.time() - started, 1)},
                     indent=2))
