"""The GoEmotions end of the fusion study, for one call on a lent GPU (runs anywhere).

On the 2-core CPU a GoEmotions run takes about an hour. On the H200 (2026-11-27) the setup before the first run took
about 2 min, eight GoEmotions runs side by side 217-222 s each, and one alone 151 s. Jobs, in priority order:
  1 GoEmotions seed 1: none, paper/input/gate with norms, paper/input with random values
  2 the zeroed leave-one-sense-out of input on GoEmotions, seed 1
  3 the seed-1 set for seeds 4 and 5
  4 Empathetic Dialogues seed 2: none and gate
  5 the zeroed leave-one-sense-out of input on GoEmotions, seed 4
Every comparison in the reports pairs runs of one seed made on one device. So the runs under --reuse (the repo's
results) that were made on this very GPU are copied in first and skipped; on another GPU every job runs afresh.
After each finished run the results are packed into OUT/study.tar.gz, so whatever finished before the deadline
comes back.

    python -m experiments.gpu_goemotions --results /root/results --out /tmp/out --workers 8 --deadline-s 470
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from experiments.gpu_study import Scheduler, add_run_arguments, study_config
from sensoryt5.norms import PERCEPTUAL
from sensoryt5.reproduce import Job, Variant, machine

CONFIRM = [Variant("none"), Variant("norms", "paper"), Variant("norms", "input"), Variant("norms", "gate"),
           Variant("random", "paper"), Variant("random", "input")]
ZEROED = [Variant("norms", "input", ablate=sense) for sense in PERCEPTUAL]


def plan() -> list[Job]:
    """Every job of this follow-up, most needed first."""
    return ([("goemotions", v, 1) for v in CONFIRM]
            + [("goemotions", v, 1) for v in ZEROED]
            + [("goemotions", v, s) for s in (4, 5) for v in CONFIRM]
            + [("empathetic_dialogues", v, 2) for v in (Variant("none"), Variant("norms", "gate"))]
            + [("goemotions", v, 4) for v in ZEROED])


def reuse(source: Path, target: Path, gpu: str) -> int:
    """Copy each result.json under `source` that was made on `gpu` to the same place under `target`; how many."""
    copied = 0
    for path in source.rglob("result.json"):
        if json.loads(path.read_text(encoding="utf-8"))["machine"].get("gpu") == gpu:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            copied += 1
    return copied


def main() -> None:
    """Run the follow-up until done or until the deadline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, deadline_s=470)
    parser.add_argument("--reuse", type=Path, default=Path("results/minilm"),
                        help="finished runs; those made on this GPU are skipped")
    args = parser.parse_args()
    deadline = time.time() + args.deadline_s
    args.out.mkdir(parents=True, exist_ok=True)
    config = study_config("experiments.gpu_goemotions", args)

    from sensoryt5.lexicon import SensoryLexicon

    assert SensoryLexicon().regressor is not None  # fit the OOV regressor once, before the workers need it
    gpu = machine()["gpu"]  # the name each result.json records
    with Scheduler(args.workers, deadline, args.out, args.results) as scheduler:
        if gpu:
            scheduler.say(f"{reuse(args.reuse, config.folder, gpu)} runs under {args.reuse} were made on {gpu}: "
                          "reused")
        jobs = plan()
        scheduler.say(f"{len(jobs)} jobs planned")
        scheduler.submit(config, jobs)
        scheduler.wait_for()
    os._exit(0)  # do not wait for the pool's bookkeeping threads


if __name__ == "__main__":
    main()
