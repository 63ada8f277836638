"""An exported model folder, read without torch: its ONNX file, run by `OnnxRunner`, and the parts of config.json
that prediction needs.

`SensoryClassifier.from_pretrained(folder, backend="onnx")` uses this module instead of the PyTorch model, so an
exported folder (an ONNX file, config.json, the tokenizer files and sensory_processor.json) predicts with
onnxruntime alone: no torch import and no model.safetensors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sensoryt5.errors import ModelLoadError, one_line

ONNX_FILES: tuple[str, ...] = ("model.onnx", "model.int8.onnx")  # looked for in this order
INPUT_DTYPES: dict[str, Any] = {"input_ids": np.int64, "attention_mask": np.int64, "sensory": np.float32}
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class ExportedConfig:
    """What prediction reads from a model folder's config.json (the same names as `SensoryConfig`)."""

    id2label: dict[int, str]
    problem_type: str
    label_thresholds: list[float] | None
    sensory_mode: str
    sensory_dims: list[str]
    temperature: float = 1.0  # already applied inside an ONNX file exported after calibration

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
                       temperature=float(saved.get("temperature", 1.0)))
        except KeyError as error:
            raise ModelLoadError(f"{config_file} has no {error} entry; it was not written by sensoryt5") from error
        except (TypeError, ValueError, AttributeError) as error:
            raise ModelLoadError(f"{config_file}: unreadable id2label, label_thresholds or sensory_dims "
                                 f"({one_line(error)})") from error


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


def default_providers() -> list[str]:
    """CUDA then CPU when onnxruntime has CUDA, else CPU only."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def as_array(value: Any, dtype: Any) -> np.ndarray:
    """A torch tensor or array-like as a contiguous NumPy array of `dtype`."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value, dtype=dtype)


class OnnxRunner:
    """An exported SensoryT5 file in an onnxruntime session: `runner(features)` gives logits [B, C] float32.

    `features` is the processor's output (torch tensors or NumPy arrays): input_ids, attention_mask and sensory.
    A missing, corrupt or foreign file raises ModelLoadError. `threads` sets onnxruntime's intra-op threads
    (default: its own choice, one per physical core).
    """

    def __init__(self, path: str | Path, providers: list[str] | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"ONNX file {self.path} does not exist (write it with `sensoryt5 export MODEL_DIR`)")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers or default_providers())
        except Exception as error:  # onnxruntime raises its own exception types for unreadable files
            raise ModelLoadError(f"cannot load the ONNX file {self.path}: {error}") from error
        self.input_names = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if not {"input_ids", "attention_mask"} <= set(self.input_names) <= set(INPUT_DTYPES) or \
                outputs != [OUTPUT_NAME]:
            raise ModelLoadError(f"{self.path} is not a sensoryt5 export: it takes {self.input_names} and gives "
                                 f"{outputs}; expected {list(INPUT_DTYPES)} -> ['{OUTPUT_NAME}']")
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def labels(self) -> list[str] | None:
        """Label names recorded at export (None for files written elsewhere)."""
        labels = self.metadata.get("sensoryt5.labels")
        return json.loads(labels) if labels else None

    def __call__(self, features: Mapping[str, Any]) -> np.ndarray:
        """Logits [B, C] float32 of one processed batch."""
        missing = [name for name in self.input_names if name not in features]
        if missing:
            raise ValueError(f"features lack {missing}; {self.path} needs {self.input_names}")
        feed = {name: as_array(features[name], INPUT_DTYPES[name]) for name in self.input_names}
        return self.session.run([OUTPUT_NAME], feed)[0]
