"""Cost of the sensory branch in training: one step (forward + backward + AdamW) of the paper fusion against the
same backbone without the sensory branch (`sensory_mode="none"`), batch 32 x length 64 on CPU.

Backbones: MiniLM (the bundled all-MiniLM-L6-v2, real weights) and a t5-small-sized T5 (d_model 512, 6 + 6 layers,
8 heads of 64, d_ff 2048, vocabulary 32128; random weights). Target: median time ratio <= 1.10. Peak memory (RSS)
of the same steps is measured for both modes in fresh processes.

    python -m benchmarks.model_step [--quick]
"""

from __future__ import annotations

import json
import os
import sys
from typing import Callable

import torch

from benchmarks.harness import Figure, benchmark_model, high_water_mib, in_fresh_process, paired_timings
from sensoryt5.modeling import SensoryT5ForSequenceClassification

BATCH, LENGTH = 32, 64
QUICK_BATCH, QUICK_LENGTH = 8, 32
NUM_LABELS = 7
TARGET_RATIO = 1.10
T5_SMALL = dict(d_model=512, num_layers=6, num_heads=8, d_kv=64, d_ff=2048, vocab_size=32128)
BACKBONES = ("minilm", "t5-small-sized")


def build_model(backbone: str, sensory_mode: str) -> SensoryT5ForSequenceClassification:
    """The benchmarked model in training mode; the same backbone weights for both modes."""
    return benchmark_model(backbone, sensory_mode, NUM_LABELS, T5_SMALL).train()


def make_batch(vocab_size: int, batch: int, length: int) -> dict[str, torch.Tensor]:
    """Right-padded token ids (lengths from length/2 to length), sensory values at ~60% of the real tokens."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=gen)
    lengths[0] = length
    attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).long()  # [B, L]
    input_ids = torch.randint(5, vocab_size, (batch, length), generator=gen) * attention_mask
    valued = (torch.rand(batch, length, 1, generator=gen) < 0.6) & attention_mask.bool()[..., None]
    sensory = 5 * torch.rand(batch, length, 6, generator=gen) * valued  # [B, L, 6]
    labels = torch.randint(0, NUM_LABELS, (batch,), generator=gen)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "sensory": sensory, "labels": labels}


def trainer(model: SensoryT5ForSequenceClassification, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    """A closure running one training step of `model` on `batch`."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        optimizer.step()

    return step


def peak_memory_of_steps(backbone: str, sensory_mode: str, batch: int, length: int, steps: int) -> dict[str, float]:
    """Run in a fresh process: build the model, run `steps` training steps; peak RSS (MiB) before and after them."""
    model = build_model(backbone, sensory_mode)
    step = trainer(model, make_batch(model.config.backbone_config["vocab_size"], batch, length))
    before = high_water_mib()
    for _ in range(steps):
        step()
    return {"model_built_mib": round(before, 1), "after_steps_mib": round(high_water_mib(), 1)}


def peak_memory(backbone: str, batch: int, length: int) -> dict[str, dict[str, float]]:
    """Peak memory of two training steps in each mode, each in a fresh process."""
    memory = {}
    for mode in ("norms", "none"):
        inside, harness_peak = in_fresh_process(peak_memory_of_steps, backbone, mode, batch, length, 2)
        memory[mode] = {**inside, "harness_peak_mib": round(harness_peak, 1)}
    return memory


def measure(backbone: str, quick: bool, memory: dict[str, dict[str, float]]) -> Figure:
    """Paired step timings of the paper fusion against `none` on one backbone, with its peak `memory`."""
    batch, length = (QUICK_BATCH, QUICK_LENGTH) if quick else (BATCH, LENGTH)
    repeats = 3 if quick else 5
    sensory, baseline = build_model(backbone, "norms"), build_model(backbone, "none")
    data = make_batch(sensory.config.backbone_config["vocab_size"], batch, length)
    sensory_times, baseline_times = paired_timings(trainer(sensory, data), trainer(baseline, data), repeats=repeats,
                                                   warmup=1)
    figure = Figure(
        name=f"model_step/{backbone}",
        candidate="paper fusion (sensory branch on)",
        baseline="sensory_mode=none (same backbone, no sensory branch)",
        unit="s/step",
        candidate_times=sensory_times,
        baseline_times=baseline_times,
        target=f"ratio <= {TARGET_RATIO:.2f}",
        notes={
            "batch": batch, "length": length, "device": "cpu", "threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "adapter_parameters": sum(p.numel() for p in sensory.fusion.parameters()),
            "peak_memory": memory,
            "peak_memory_ratio": round(memory["norms"]["after_steps_mib"] / memory["none"]["after_steps_mib"], 3),
        },
    )
    figure.passed = figure.summary()["ratio_median"] <= TARGET_RATIO
    return figure


def run(quick: bool = False) -> list[Figure]:
    """One figure per backbone (5 repetitions); `quick` uses batch 8 x length 32 and 3 repetitions (for CI)."""
    batch, length = (QUICK_BATCH, QUICK_LENGTH) if quick else (BATCH, LENGTH)
    memory = {backbone: peak_memory(backbone, batch, length) for backbone in BACKBONES}
    return [measure(backbone, quick, memory[backbone]) for backbone in BACKBONES]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
