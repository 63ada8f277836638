"""Shared measuring tools: repeated timings, paired ratios, peak memory in a fresh process, and the benchmarked
model."""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from sensoryt5.modeling import SensoryT5ForSequenceClassification


@dataclass
class Figure:
    """One benchmark figure: a candidate measured against a named baseline in the same run."""

    name: str
    candidate: str
    baseline: str
    unit: str  # unit of the raw timings, e.g. "s/step"
    candidate_times: list[float]
    baseline_times: list[float]
    target: str = ""  # e.g. "ratio <= 1.10"; empty when the figure is only reported
    passed: bool | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratios(self) -> list[float]:
        """Per-repetition candidate/baseline ratios (paired: repetition i of each was run back to back)."""
        return [c / b for c, b in zip(self.candidate_times, self.baseline_times)]

    def summary(self) -> dict[str, Any]:
        """Median, min and max of the ratio and of both raw timings."""
        ratios = self.ratios
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("candidate_times", "baseline_times")},
            "repetitions": len(ratios),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "candidate_median": statistics.median(self.candidate_times),
            "baseline_median": statistics.median(self.baseline_times),
        }


def interleaved_timings(functions: dict[str, Callable[[], Any]], repeats: int = 5,
                        warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, timed in turn (`warmup` untimed rounds first; the order rotates every
    round), so that every function meets the same drift in machine load."""
    for _ in range(warmup):
        for fn in functions.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
    return times


def paired_timings(candidate: Callable[[], Any], baseline: Callable[[], Any], repeats: int = 5,
                   warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time `candidate` and `baseline` alternately (`warmup` untimed rounds first); seconds per call."""
    times = interleaved_timings({"baseline": baseline, "candidate": candidate}, repeats, warmup)
    return times["candidate"], times["baseline"]


def high_water_mib() -> float:
    """This process's peak RSS in MiB (VmHWM on Linux; `ru_maxrss` elsewhere).

    On Linux `ru_maxrss` keeps the peak of the parent image a spawned child was forked from, VmHWM does not.
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024.0
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(target: Callable[..., Any], args: tuple, queue: Any) -> None:
    result = target(*args)
    queue.put((result, high_water_mib()))


def in_fresh_process(target: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run `target(*args)` in a new process; return its result and that process's peak RSS in MiB."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    result, peak_mib = queue.get()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark child process failed with exit code {proc.exitcode}")
    return result, peak_mib


def benchmark_model(backbone: str, sensory_mode: str, num_labels: int,
                    t5_sizes: dict[str, int]) -> SensoryT5ForSequenceClassification:
    """A paper-fusion model seeded with 0: the bundled MiniLM for "minilm", else a random-weight T5 of `t5_sizes`."""
    import torch
    from transformers import T5Config

    from sensoryt5.modeling import SensoryConfig, SensoryT5ForSequenceClassification

    torch.manual_seed(0)
    options = dict(num_labels=num_labels, sensory_mode=sensory_mode, fusion="paper")
    if backbone == "minilm":
        return SensoryT5ForSequenceClassification.from_backbone("minilm", **options)
    return SensoryT5ForSequenceClassification(SensoryConfig(backbone_config=T5Config(**t5_sizes).to_dict(),
                                                            **options))
