#!/usr/bin/env bash
# Issue 23, part 1: transfer across data sets in the shared four-emotion label space (anger, fear, joy, sadness;
# `--label-map four-emotions`, see results/next-checks/transfer/label_spaces.md). Train on each source (the
# arguments: a comma list of data sets, default isear,emoint,empathetic_dialogues) with `none`, `input` with the
# norms and `input` with random values, 3 seeds, the fusion study's protocol (MiniLM, 3 epochs, batch 32, epoch
# chosen on the source's dev split); the model folders are kept so that `python -m experiments.transfer_report`
# can test each on the test split of every one of the four data sets. `reproduce` skips finished runs, so the
# queue can be restarted; two queues with disjoint sources can run at once. Seed-major: every source x variant of
# seed 1 comes before seed 2, so a partial grid is a complete table for its first seeds.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for seed in 1 2 3; do
  .venv/bin/sensoryt5 reproduce --output results/next-checks --name transfer \
    --datasets "${1:-isear,emoint,empathetic_dialogues}" --label-map four-emotions --keep-models \
    --sensory none,norms,random --fusion input --seeds "$seed" --epochs 3 --batch-size 32
done
