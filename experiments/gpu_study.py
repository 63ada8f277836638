"""The whole comparison in one prioritised, deadline-bounded job (written for one lent GPU, runs anywhere).

Stages, in the order the process pool takes them:
  A  screen: ISEAR and EmoInt × {none} ∪ {paper, residual, gate, late, input} × {norms, random} × seeds 1-3
  B0 Empathetic Dialogues and GoEmotions × {none, paper-norms, paper-random}, seed 1
  T5 the paper's T5 path: a t5-small-sized T5 from scratch (experiments.t5_scratch) on ISEAR × 3 modes, seed 1
  -- when A is complete: the two best non-paper fusions by mean dev macro-F1 gain over `none` (dev only) --
  B1 ED and GoEmotions × {best1-norms, best2-norms, best1-random}, seed 1
  B2 ED and GoEmotions × all B variants, seeds 2-3
  C  leave-one-sense-out of best1: ISEAR seeds 1-3, GoEmotions seed 1
Every finished run leaves its result.json (see sensoryt5.reproduce); after each one the results folder is packed
into OUT/study.tar.gz, so whatever finished before the deadline comes back. Re-running skips finished runs.

    python -m experiments.gpu_study --results results --out /tmp/out --workers 8 --deadline-s 540

A failed run is logged and the study goes on, unless the first three runs all fail.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import statistics
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Callable

from sensoryt5.fusion import FUSIONS
from sensoryt5.norms import PERCEPTUAL
from sensoryt5.reproduce import Job, ReproduceConfig, Variant, is_done, load_results, run_one, training_template

SCREEN = ["isear", "emoint"]
CONFIRM = ["empathetic_dialogues", "goemotions"]
PACKED = ("result.json", "train_metrics.json", "transfer.json")  # the files of a run that come back from the GPU


def choose_fusions(config: ReproduceConfig, seeds: list[int]) -> list[str]:
    """Non-paper fusions ranked by mean dev macro-F1 gain of `<fusion>-norms` over `none` on the screening sets."""
    results = [r for r in load_results(config.folder) if r["dataset"] in SCREEN]
    dev = {(r["dataset"], r["variant_key"], r["seed"]): r["dev"]["macro_f1"] for r in results}
    gains = {}
    for fusion in FUSIONS:
        if fusion == "paper":
            continue
        deltas = [dev[(d, f"{fusion}-norms", s)] - dev[(d, "none", s)] for d in SCREEN for s in seeds
                  if (d, f"{fusion}-norms", s) in dev and (d, "none", s) in dev]
        if deltas:
            gains[fusion] = statistics.mean(deltas)
    return sorted(gains, key=gains.get, reverse=True)


def leave_one_out(fusion: str) -> list[Variant]:
    """The perceptual set minus one sense, for each of the six senses."""
    return [Variant("norms", fusion, ",".join(d for d in PERCEPTUAL if d != sense)) for sense in PERCEPTUAL]


def pack(results: Path, out: Path) -> None:
    """Tar every run's PACKED files and log under `results` into out/study.tar.gz (atomically)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(results.rglob("*")):
            if path.is_file() and (path.name in PACKED or path.suffix == ".log"):
                tar.add(path, arcname=str(path.relative_to(results.parent)))
    tmp = out / ".study.tar.gz.tmp"
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, out / "study.tar.gz")


class Scheduler:
    """A process pool fed in priority order, that stops taking new work at the deadline."""

    def __init__(self, workers: int, deadline: float, out: Path, results: Path) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        self.deadline, self.out, self.results = deadline, out, results
        self.running: dict[Future, tuple[ReproduceConfig, Job]] = {}
        self.finished, self.failed = 0, 0
        self.log = (out / "study.log").open("a", encoding="utf-8")

    def say(self, line: str) -> None:
        stamped = f"[{time.strftime('%H:%M:%S')}] {line}"
        print(stamped, flush=True)
        self.log.write(stamped + "\n")
        self.log.flush()

    def submit(self, config: ReproduceConfig, jobs: list[Job], function: Callable[..., dict] = run_one) -> None:
        """Queue the unfinished `jobs`; each runs as `function(config, dataset, variant, seed)`."""
        for job in jobs:
            if not is_done(config, job):
                self.running[self.pool.submit(function, config, *job)] = (config, job)

    def wait_for(self, condition=lambda: False) -> None:
        """Collect finished runs until nothing runs, `condition()` holds, or the deadline passes."""
        while self.running and not condition() and time.time() < self.deadline:
            done, _ = wait(list(self.running), timeout=max(1.0, self.deadline - time.time()),
                           return_when=FIRST_COMPLETED)
            for future in done:
                config, (dataset, variant, seed) = self.running.pop(future)
                try:
                    result = future.result()
                    self.finished += 1
                    self.say(f"done {config.name} {dataset} {variant.key} seed {seed}: test macro-F1 "
                             f"{result['test']['macro_f1']:.4f} dev {result['dev']['macro_f1']:.4f} "
                             f"({result['wall_time_s']:.0f} s)")
                except Exception as error:  # a failed run is reported and the study goes on
                    self.failed += 1
                    self.say(f"FAILED {config.name} {dataset} {variant.key} seed {seed}: {error!r}")
                pack(self.results, self.out)
            if self.failed >= 3 and self.finished == 0:
                raise RuntimeError("the first runs all failed; stopping the study (see FAILED lines above)")

    def pending(self, config: ReproduceConfig, jobs: list[Job]) -> bool:
        return any(c is config and j in jobs for c, j in self.running.values())

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Report what the deadline cut off, pack the results a last time, cancel what has not started and end the
        runs cut off by the deadline."""
        self.say(f"stopping: {len(self.running)} runs unfinished")
        pack(self.results, self.out)
        self.pool.shutdown(wait=False, cancel_futures=True)
        for child in mp.active_children():
            child.kill()  # SIGTERM would let a run finish its step and still evaluate on test after the deadline


def add_run_arguments(parser: argparse.ArgumentParser, deadline_s: float) -> None:
    """The options every GPU study takes: where runs go, the pool, the deadline and the training settings."""
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--deadline-s", type=float, default=deadline_s)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backbone", default="minilm", help="a smaller backbone folder for a smoke test")
    parser.add_argument("--max-train-samples", type=int, default=None, help="for a smoke test only")


def study_config(module: str, args: argparse.Namespace) -> ReproduceConfig:
    """The MiniLM run settings of a study from its parsed options, recording the command that ran it."""
    command = f"python -m {module} " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                if k not in ("out", "results", "reuse"))
    training = training_template(backbone=args.backbone, epochs=args.epochs, batch_size=args.batch_size,
                                 max_train_samples=args.max_train_samples, progress=False)
    return ReproduceConfig(training=training, name=Path(args.backbone).name, output=str(args.results),
                           command=command)


def main() -> None:
    """Run the study until done or until the deadline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, deadline_s=540)
    parser.add_argument("--t5-epochs", type=float, default=10.0)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--t5-folder", type=Path, default=Path("build/t5-small-scratch-isear"))
    args = parser.parse_args()
    deadline = time.time() + args.deadline_s
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    minilm = study_config("experiments.gpu_study", args)
    t5 = replace(minilm, backbone=str(args.t5_folder), name="t5-small-scratch", epochs=args.t5_epochs)

    from sensoryt5.lexicon import SensoryLexicon

    assert SensoryLexicon().regressor is not None  # fit the OOV regressor once, before the workers need it

    with Scheduler(args.workers, deadline, args.out, args.results) as scheduler:
        if not (args.t5_folder / "config.json").is_file():
            from experiments.t5_scratch import build

            try:
                build("isear", args.t5_folder)
            except Exception as error:  # the T5 stage is skipped, the rest of the study goes on
                scheduler.say(f"FAILED to build the T5 from scratch: {error!r}")
        modes = [Variant("none")] + [Variant(m, f) for f in FUSIONS for m in ("norms", "random")]
        stage_a = [(d, v, s) for s in seeds for d in SCREEN for v in modes]
        paper = [Variant("none"), Variant("norms"), Variant("random")]
        scheduler.say(f"stage A: {len(stage_a)} screening runs; stage B0 and the T5 path")
        scheduler.submit(minilm, stage_a)
        scheduler.submit(minilm, [(d, v, seeds[0]) for d in CONFIRM for v in paper])
        if (args.t5_folder / "config.json").is_file():
            scheduler.submit(t5, [("isear", v, seeds[0]) for v in paper])
        scheduler.wait_for(lambda: not scheduler.pending(minilm, stage_a))
        ranked = choose_fusions(minilm, seeds)
        scheduler.say(f"fusions ranked by dev gain over none on {SCREEN}: {ranked}")
        (args.out / "choice.json").write_text(json.dumps({"ranked_by_dev_gain": ranked}), encoding="utf-8")
        if len(ranked) >= 2 and time.time() < deadline:
            best1, best2 = ranked[:2]
            confirm = paper + [Variant("norms", best1), Variant("norms", best2), Variant("random", best1)]
            scheduler.submit(minilm, [(d, v, seeds[0]) for d in CONFIRM for v in confirm[3:]])
            scheduler.submit(minilm, [(d, v, s) for s in seeds[1:] for d in CONFIRM for v in confirm])
            scheduler.submit(minilm, [("isear", v, s) for s in seeds for v in leave_one_out(best1)])
            scheduler.submit(minilm, [("goemotions", v, seeds[0]) for v in leave_one_out(best1)])
        scheduler.wait_for()
    os._exit(0)  # do not wait for the pool's bookkeeping threads


if __name__ == "__main__":
    main()
