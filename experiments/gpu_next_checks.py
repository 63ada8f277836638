"""The grids of issue 23 that the 2-core CPU cannot finish, for one call on a lent GPU (runs anywhere).

Jobs, in priority order (MiniLM, the fusion study's protocol: 3 epochs, batch 32, epoch chosen on dev, test once):
  1 transfer (part 1): ISEAR-4, EmoInt and ED-4 (`--label-map four-emotions`) × none / input-norms / input-random
    × seeds 1-3 into results/next-checks/gpu/transfer; after each run its model is tested on the test split of every
    one of the four data sets (`experiments.transfer_report.cross_test`, kept as transfer.json) and deleted
  2 NRC on full training sets (part 2): ISEAR, EmoInt, Empathetic Dialogues and GoEmotions (single-label, the data set
    the issue asks to be run on a GPU) × none / input-norms / input-random /
    input with `--lexicon nrc-emolex --oov none` × seeds 1-3 into results/next-checks/gpu/nrc (all four on this device,
    so that every comparison pairs runs of one seed made on one device)
  3 GoEmotions as the standard 28-label multi-label task (part 6): none, input-norms and input-random (the control
    that tells the senses from the branch) × seeds 1-3 into results/next-checks/gpu/goemotions-multilabel (thresholds
    tuned on dev at training time)
Everything goes under next-checks/gpu/, apart from the CPU's grids (results/next-checks/transfer holds CPU runs at
the same run paths): every comparison pairs runs of one seed made on one device.
Runs already under --results are skipped, so a second call goes on where the first stopped (on a lent machine:
`RESUME=results/next-checks/gpu bash experiments/device_run.sh` copies the committed runs in first); a transfer run
counts as done only once transfer.json holds every other target, since it is rewritten after each. After each
finished run the results are packed into OUT/study.tar.gz (result.json, transfer.json, train_metrics.json), so
whatever finished before the deadline comes back.

    python -m experiments.gpu_next_checks --results results --out /tmp/out --workers 8 --deadline-s 470
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import replace
from typing import Any

from experiments.gpu_study import Scheduler, add_run_arguments, study_config
from experiments.transfer_report import cross_test, fully_tested
from sensoryt5.reproduce import Job, ReproduceConfig, Variant, run_one

BASELINE, NORMS, RANDOM = Variant("none"), Variant("norms", "input"), Variant("random", "input")
NRC = Variant("norms", "input", sensory_dims="all", lexicon="nrc-emolex")
TRANSFER_SOURCES = ["isear", "emoint", "empathetic_dialogues"]
NRC_DATASETS = ["isear", "emoint", "empathetic_dialogues", "goemotions"]
SEEDS = [1, 2, 3]


def transfer_one(config: ReproduceConfig, dataset: str, variant: Variant, seed: int) -> dict[str, Any]:
    """Train one transfer run, test its model on every target's test split, then delete the model."""
    run_dir = config.folder / "runs" / dataset / variant.key / f"seed{seed}"
    result = run_one(config, dataset, variant, seed)
    cross_test(run_dir, result)
    shutil.rmtree(run_dir / "model", ignore_errors=True)
    return result


def transfer_done(config: ReproduceConfig, job: Job) -> bool:
    """A transfer run is done once its result.json exists and its transfer.json holds every other target (the file
    is rewritten after each target, so a call cut off mid-test leaves it partial; its model is deleted after)."""
    dataset, variant, seed = job
    return fully_tested(config.folder / "runs" / dataset / variant.key / f"seed{seed}", dataset)


def configs(args: argparse.Namespace) -> dict[str, ReproduceConfig]:
    """The run settings of each grid: one results folder per part, the NRC runs without an OOV regressor."""
    base = replace(study_config("experiments.gpu_next_checks", args), output=str(args.results / "next-checks" / "gpu"))
    transfer = replace(base, name="transfer", keep_models=True,
                       training=replace(base.training, label_map="four-emotions"))
    nrc = replace(base, name="nrc")
    return {"transfer": transfer, "nrc": nrc, "nrc-no-oov": replace(nrc, training=replace(nrc.training,
                                                                                          oov_embedder=None)),
            "goemotions-multilabel": replace(base, name="goemotions-multilabel")}


def main() -> None:
    """Run the grids until done or until the deadline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, deadline_s=470)
    args = parser.parse_args()
    deadline = time.time() + args.deadline_s
    args.out.mkdir(parents=True, exist_ok=True)
    grids = configs(args)

    from sensoryt5.lexicon import SensoryLexicon

    assert SensoryLexicon().regressor is not None  # fit the OOV regressor once, before the workers need it
    with Scheduler(args.workers, deadline, args.out, args.results) as scheduler:
        transfer = [(d, v, s) for s in SEEDS for d in TRANSFER_SOURCES for v in (BASELINE, NORMS, RANDOM)]
        scheduler.submit(grids["transfer"], [j for j in transfer if not transfer_done(grids["transfer"], j)],
                         function=transfer_one)
        scheduler.submit(grids["nrc"], [(d, v, s) for s in SEEDS for d in NRC_DATASETS
                                        for v in (BASELINE, NORMS, RANDOM)])
        scheduler.submit(grids["nrc-no-oov"], [(d, NRC, s) for s in SEEDS for d in NRC_DATASETS])
        scheduler.submit(grids["goemotions-multilabel"],
                         [("goemotions-multilabel", v, s) for s in SEEDS for v in (BASELINE, NORMS, RANDOM)])
        scheduler.say(f"{len(scheduler.running)} jobs submitted")
        scheduler.wait_for()
    (args.out / "plan.json").write_text(json.dumps({k: str(c.folder) for k, c in grids.items()}), encoding="utf-8")
    os._exit(0)  # do not wait for the pool's bookkeeping threads


if __name__ == "__main__":
    main()
