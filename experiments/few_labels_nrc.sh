#!/usr/bin/env bash
# Issue 23, parts 2 and 3: the NRC Emotion Lexicon's column of the few-labels learning curve (see few_labels.sh,
# whose protocol and folders it shares, so its runs pair with the none/norms/random runs on seed): `input` with
# `--lexicon nrc-emolex` (every one of its 10 columns) and no OOV regressor (nrclex lists only words with an
# association, so an absent word gets zeros; see the README). Needs `pip install "sensoryt5[nrc]"`. Resumable.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
S=.venv/bin/sensoryt5
for spec in 8:1,2,3 32:1,2,3 128:1,2,3 8:4,5 32:4,5; do
  n=${spec%%:*}; seeds=${spec#*:}
  $S reproduce --output results/next-checks/few-labels --name "n$n" --datasets isear,emoint \
    --sensory norms --lexicon nrc-emolex --oov none --fusion input --seeds "$seeds" --examples-per-class "$n" \
    --epochs 15 --batch-size 16 --patience 3
done
