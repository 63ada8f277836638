#!/usr/bin/env bash
# The runs made on the development machine (2 CPU cores) after the GPU time was spent, in priority order.
# Each `sensoryt5 reproduce` call skips runs that already have a result.json, so the queue can be restarted.
# The reports pair runs on seed and device, so a CPU run uses a seed whose reference runs are from the CPU too.
# Steps 3 and 4 also run side by side, each from its own worktree on one thread (GoEmotions kept its 1-thread speed,
# about 1.0 step/s, and an ISEAR run took 20 min instead of 11), which is how the session of 2026-11-26 ran them.
set -euo pipefail
# One intra-op thread: on the shared 2-core machine two threads ran a training step several times slower.
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
S=.venv/bin/sensoryt5
loso_dims() {  # the perceptual set minus each sense, ';'-separated
  local out=() all=(auditory gustatory haptic interoceptive olfactory visual)
  for drop in "${all[@]}"; do
    local keep=(); for d in "${all[@]}"; do [ "$d" != "$drop" ] && keep+=("$d"); done
    out+=("$(IFS=,; echo "${keep[*]}")")
  done
  (IFS=';'; echo "${out[*]}")
}
# 1. The T5 path on a CPU-sized T5 from scratch, all three modes.
[ -f build/t5-tiny-scratch-isear/config.json ] || \
  .venv/bin/python -m experiments.t5_scratch --dataset isear --output build/t5-tiny-scratch-isear --size tiny
$S reproduce --name t5-tiny-scratch --backbone build/t5-tiny-scratch-isear --datasets isear \
  --modes none,norms,random --seeds 1 --epochs 3 --max-length 64
# 2. Leave one sense out of the input fusion on ISEAR.
$S reproduce --name minilm --datasets isear --modes norms --fusion input --dims "$(loso_dims)" --seeds 1
# 2b. The six-sense input run on this CPU, so that each removal above is compared on one device.
$S reproduce --name minilm-cpu --datasets isear --modes norms --fusion input --seeds 1
# 2c. A third seed on Empathetic Dialogues for none, paper and input, then their random controls (seed 3 only:
#     every pair the reports compare must share its device).
$S reproduce --name minilm --datasets empathetic_dialogues --modes none,norms --fusion paper,input --seeds 3
$S reproduce --name minilm --datasets empathetic_dialogues --modes random --fusion paper,input --seeds 3
# 3. GoEmotions on this CPU, seeds 2-3: none, input (the screening's lead) and paper, then their random controls, one
#    seed at a time so that each finished seed gives paired runs. Seeds 1, 4 and 5 of GoEmotions belong to the H200
#    (python -m experiments.gpu_goemotions, run through experiments/device_run.sh).
for seed in 2 3; do
  $S reproduce --name minilm --datasets goemotions --modes none,norms --fusion input,paper --seeds $seed
  $S reproduce --name minilm --datasets goemotions --modes random --fusion input,paper --seeds $seed
done
# 4. Leave one sense out on ISEAR (column removed), seeds 2-3, each after its six-sense reference on this CPU.
for seed in 2 3; do
  $S reproduce --name minilm-cpu --datasets isear --modes norms --fusion input --seeds $seed
  $S reproduce --name minilm --datasets isear --modes norms --fusion input --dims "$(loso_dims)" --seeds $seed
done
# 4b. Leave one sense out by zeroing it (`--ablate`): the six-sense model's shape, initialisation and random stream,
#     so each run differs from its six-sense reference (seeds 1-3 of ISEAR in results/minilm-cpu, seed 2 of
#     GoEmotions) only in that sense's values. Removing the column (step 4) changed the classifier head's
#     initialisation as well, which confounded that comparison.
SENSES=auditory,gustatory,haptic,interoceptive,olfactory,visual
for seed in 1 2 3; do
  $S reproduce --name minilm --datasets isear --modes norms --fusion input --ablate $SENSES --seeds $seed
done
$S reproduce --name minilm --datasets goemotions --modes norms --fusion input --ablate $SENSES --seeds 2
# 5. The second screening choice (gate) on the confirmation sets, on seeds that have a `none` run from this CPU.
$S reproduce --name minilm --datasets empathetic_dialogues --modes none,norms --fusion gate --seeds 3,4
$S reproduce --name minilm --datasets goemotions --modes norms --fusion gate --seeds 2,3
# 6. A third pair of norms and random values for input on Empathetic Dialogues (seed 4, whose none is from this CPU).
$S reproduce --name minilm --datasets empathetic_dialogues --modes norms,random --fusion input --seeds 4
