"""An exported model folder, read without torch: its ONNX file and the parts of config.json that prediction needs.

`SensoryClassifier.from_pretrained(folder, backend="onnx")` uses this module instead of the PyTorch model, so an
exported folder (an ONNX file, config.json, the tokenizer files and sensory_processor.json) predicts with
onnxruntime alone: no torch import and no model.safetensors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensoryt5.errors import ModelLoadError

ONNX_FILES: tuple[str, ...] = ("model.onnx", "model.int8.onnx")  # looked for in this order


@dataclass(frozen=True)
class ExportedConfig:
    """What prediction reads from a model folder's config.json (the same names as `SensoryConfig`)."""

    id2label: dict[int, str]
    problem_type: str
    label_thresholds: list[float] | None
    sensory_mode: str
    sensory_dims: list[str]
    fusion: str

    @property
    def num_labels(self) -> int:
        """Number of labels C."""
        return len(self.id2label)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ExportedConfig:
        """Read FOLDER/config.json (checked by `check_model_folder`); ModelLoadError names a missing key."""
        config_file = Path(folder) / "config.json"
        saved: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8"))
        try:
            id2label = {int(i): str(label) for i, label in saved["id2label"].items()}
            thresholds = saved.get("label_thresholds")
            return cls(id2label=id2label, problem_type=saved.get("problem_type") or "single_label_classification",
                       label_thresholds=[float(t) for t in thresholds] if thresholds is not None else None,
                       sensory_mode=saved.get("sensory_mode", "norms"), sensory_dims=list(saved["sensory_dims"]),
                       fusion=saved.get("fusion", "paper"))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ModelLoadError(f"{config_file} lacks a valid {error} entry; it was not written by sensoryt5 "
                                 "train") from error


def find_onnx_file(folder: str | Path, onnx_file: str | Path | None = None) -> Path:
    """`onnx_file` when given, else the first of `ONNX_FILES` in `folder` (model.onnx, then model.int8.onnx);
    ModelLoadError when there is none."""
    if onnx_file is not None:
        return Path(onnx_file)
    for name in ONNX_FILES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    raise ModelLoadError(f"{folder} has no ONNX file ({' or '.join(ONNX_FILES)}); write one with `sensoryt5 "
                         f"export {folder}` (add --int8 for the int8 file)")
