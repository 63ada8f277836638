#!/usr/bin/env bash
# Issue 23, part 1: transfer across data sets in the shared four-emotion label space (anger, fear, joy, sadness;
# `--label-map four-emotions`, see results/next-checks/transfer/label_spaces.md). Train on each source (the
# arguments: a comma list of data sets, default isear,emoint,empathetic_dialogues) with `none`, `input` with the
# norms and `input` with random values, 3 seeds, the fusion study's protocol (MiniLM, 3 epochs, batch 32, epoch
# chosen on the source's dev split); each run, as it ends, is tested on the test split of every one of the four
# data sets (`python -m experiments.transfer_report --run`, which writes transfer.json beside result.json), and its
# model folder is kept; `python -m experiments.transfer_report` then builds the tables. Only the sources whose run is
# not yet tested on every target are trained (`transfer_report --pending`: a committed run has no model folder, which
# `reproduce --keep-models` would take for unfinished), so the queue can be restarted in a fresh clone; two queues
# with disjoint sources can run at once. Seed-major: every source x variant of seed 1 comes before seed 2, so a partial
# grid is a complete table for its first seeds.
# Part 2 (a second lexicon) shares this grid: a fourth variant, `input` with the NRC Emotion Lexicon (all 10 columns,
# `--oov none`, as in experiments/few_labels.sh; needs `pip install "sensoryt5[nrc]"`), pairs with the three above on
# the same sources, seeds and device.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
sources=${1:-isear,emoint,empathetic_dialogues}
source "$(dirname "$0")/variants.sh"
for seed in 1 2 3; do
  for variant in none norms random nrc; do
    pending=$(.venv/bin/python -m experiments.transfer_report --pending "$sources" --variant "${key[$variant]}" \
      --seed "$seed")
    [ -n "$pending" ] || continue
    .venv/bin/sensoryt5 reproduce --output results/next-checks --name transfer --datasets "$pending" \
      --label-map four-emotions --keep-models ${options[$variant]} --fusion input --seeds "$seed" --epochs 3 \
      --batch-size 32
    for source in ${pending//,/ }; do
      run="results/next-checks/transfer/runs/$source/${key[$variant]}/seed$seed"
      .venv/bin/python -m experiments.transfer_report --run "$run"
    done
  done
done
