"""A saved model folder: check it and load its model, from safetensors only.

A pickle checkpoint (`pytorch_model.bin`, `*.pt`) is refused, because unpickling a file can run arbitrary code.
`write_model_folder` saves one (as `sensoryt5 train` does) so that an interrupted write never leaves a folder that
loads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from sensoryt5.atomic import default_mode, write_json
from sensoryt5.errors import ModelLoadError, one_line

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
METRICS_FILE = "train_metrics.json"  # the training metrics saved beside the weights


def check_model_folder(folder: str | Path, weights: bool = True) -> Path:
    """Validate a saved model folder before loading it; ModelLoadError says what is wrong and what to do.

    `weights=False` skips the safetensors check (an exported folder served by onnxruntime needs no weights)."""
    from sensoryt5.alignment import PROCESSOR_FILE

    path = Path(folder)
    if path.is_file():
        raise ModelLoadError(f"model folder {path} is a file; give the folder written by `sensoryt5 train`")
    if not path.is_dir():
        raise ModelLoadError(f"model folder {path} does not exist (train one with `sensoryt5 train`)")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{path} is not a sensoryt5 model folder: config.json is missing "
                             "(an interrupted training leaves no config.json; rerun it with --resume)")
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise ModelLoadError(f"{config_file} is not a valid JSON object: {error}") from error
    if model_type != "sensoryt5":
        raise ModelLoadError(f"{path} holds a {model_type!r} model, not a sensoryt5 model")
    if weights and not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ModelLoadError(
                f"{path} has only pickle weights ({', '.join(pickles)}); sensoryt5 loads safetensors only, because "
                "unpickling a file can execute arbitrary code. Convert the weights with safetensors first."
            )
        raise ModelLoadError(f"{path} has no model weights (model.safetensors is missing)")
    if not (path / PROCESSOR_FILE).is_file():
        raise ModelLoadError(f"{path} has no {PROCESSOR_FILE}: it was not saved by sensoryt5")
    return path


def load_model(folder: str | Path, device: str | None = None) -> Any:
    """Load a SensoryT5 model from a checked folder (safetensors only), in eval mode on `device`."""
    path = check_model_folder(folder)  # before importing torch: a wrong folder fails fast
    import torch

    from sensoryt5.backbones import quiet_weight_loading
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    try:
        with quiet_weight_loading():
            model, info = SensoryT5ForSequenceClassification.from_pretrained(
                str(path), use_safetensors=True, output_loading_info=True, ignore_mismatched_sizes=True)
    except Exception as error:  # corrupted or truncated weights surface as many exception types
        raise ModelLoadError(f"cannot load the weights in {path}: {one_line(error)}") from error
    if info.get("missing_keys"):
        raise ModelLoadError(f"{path}: the weights file lacks {len(info['missing_keys'])} tensors "
                             f"(e.g. {sorted(info['missing_keys'])[0]}); the folder is incomplete or corrupted")
    if info.get("mismatched_keys"):
        name, stored, expected = sorted(info["mismatched_keys"])[0]
        raise ModelLoadError(f"{path}: {len(info['mismatched_keys'])} tensors of the weights file have the wrong "
                             f"shape (e.g. {name}: {tuple(stored)}, config.json expects {tuple(expected)}); the "
                             "weights belong to another model")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


def write_model_folder(output: Path, model: Any, processor: Any, metrics: dict[str, Any]) -> None:
    """Save model, processor and metrics into `output`: files renamed into place, `config.json` last."""
    staging = output / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    processor.save_pretrained(staging)
    write_json(staging / METRICS_FILE, metrics)
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    for path in sorted(files, key=lambda p: p.name == "config.json"):
        path.chmod(default_mode())
        target = output / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    shutil.rmtree(staging, ignore_errors=True)
