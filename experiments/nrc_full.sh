#!/usr/bin/env bash
# Issue 23, part 2 on a full training set with its own labels (not the four-emotion subsets of experiments/transfer.sh):
# `none`, `input` with the norms, with random values and with the NRC Emotion Lexicon (all 10 columns, `--oov none`;
# needs `pip install "sensoryt5[nrc]"`), seeds 1-3, the fusion study's protocol (MiniLM, 3 epochs, batch 32, epoch
# chosen on dev, test once), into results/next-checks/nrc, so that every comparison pairs runs of one seed made on one
# device. Arguments: a comma list of data sets (default isear), a comma list of variants (default all four) and a
# comma list of seeds (default 1,2,3); two queues with disjoint variants can run at once, e.g.
# `nrc_full.sh isear none,norms & nrc_full.sh isear random,nrc`.
# Seed-major, and `reproduce` skips finished runs, so a partial grid is a complete table for its first seeds and the
# queue can be restarted. The 32-label Empathetic Dialogues (3x ISEAR's training set) takes about 52 minutes a run
# on the 2-core CPU with two queues (measured, seed 1); experiments/gpu_next_checks.py queues it for a GPU.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
datasets=${1:-isear}
variants=${2:-none,norms,random,nrc}
seeds=${3:-1,2,3}
source "$(dirname "$0")/variants.sh"
for seed in ${seeds//,/ }; do
  for variant in ${variants//,/ }; do
    .venv/bin/sensoryt5 reproduce --output results/next-checks --name nrc --datasets "$datasets" \
      ${options[$variant]} --fusion input --seeds "$seed" --epochs 3 --batch-size 32
  done
done
