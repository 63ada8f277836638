"""Use a trained model: `SensoryClassifier.from_pretrained(folder)`, `.predict(texts)`, `.explain(text)`.

Model folders are loaded from safetensors only: a pickle checkpoint (`pytorch_model.bin`, `*.pt`) is refused,
because unpickling a file can run arbitrary code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from sensoryt5.errors import ModelLoadError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def check_model_folder(folder: str | Path) -> Path:
    """Validate a saved model folder before loading it; ModelLoadError says what is wrong and what to do."""
    from sensoryt5.alignment import PROCESSOR_FILE

    path = Path(folder)
    if not path.is_dir():
        raise ModelLoadError(f"model folder {path} does not exist (train one with `sensoryt5 train`)")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{path} is not a sensoryt5 model folder: config.json is missing "
                             "(an interrupted training leaves no config.json; rerun it with --resume)")
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{config_file} is not valid JSON: {error}") from error
    if model_type != "sensoryt5":
        raise ModelLoadError(f"{path} holds a {model_type!r} model, not a sensoryt5 model")
    if not any(path.glob("*.safetensors")):
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
    import torch

    from sensoryt5.backbones import quiet_weight_loading
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    path = check_model_folder(folder)
    try:
        with quiet_weight_loading():
            model, info = SensoryT5ForSequenceClassification.from_pretrained(
                str(path), use_safetensors=True, output_loading_info=True)
    except Exception as error:  # corrupted or truncated weights surface as many exception types
        raise ModelLoadError(f"cannot load the weights in {path}: {error}") from error
    if info.get("missing_keys"):
        raise ModelLoadError(f"{path}: the weights file lacks {len(info['missing_keys'])} tensors "
                             f"(e.g. {sorted(info['missing_keys'])[0]}); the folder is incomplete or corrupted")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches in order of decreasing length (less padding); callers restore input order."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


class SensoryClassifier:
    """A trained SensoryT5 model with its processor: predict emotions and explain them.

    Use `SensoryClassifier.from_pretrained(folder)`; `backend="onnx"` runs an exported ONNX file instead of
    PyTorch (see `sensoryt5 export`).
    """

    def __init__(self, model: Any, processor: Any, runner: Any = None) -> None:
        self.model, self.processor = model, processor
        self.config = model.config
        self._runner = runner or self._torch_logits
        self.labels: list[str] = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        self.multi_label = self.config.problem_type == "multi_label_classification"

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | None = None, backend: str = "torch",
                        onnx_file: str | Path | None = None) -> SensoryClassifier:
        """Load a model folder written by `sensoryt5 train`; `backend` is "torch" or "onnx"."""
        from sensoryt5.alignment import SensoryProcessor

        model = load_model(folder, device="cpu" if backend == "onnx" else device)
        processor = SensoryProcessor.from_pretrained(folder)
        if processor.mode != model.config.sensory_mode or list(processor.lexicon.dims) != list(
                model.config.sensory_dims):
            raise ModelLoadError(f"{folder}: sensory_processor.json (mode {processor.mode}, dims "
                                 f"{list(processor.lexicon.dims)}) disagrees with config.json (mode "
                                 f"{model.config.sensory_mode}, dims {list(model.config.sensory_dims)})")
        if backend == "torch":
            return cls(model, processor)
        if backend == "onnx":
            from sensoryt5.export import OnnxRunner

            return cls(model, processor, runner=OnnxRunner(onnx_file or Path(folder) / "model.onnx"))
        raise ValueError(f"unknown backend {backend!r}; choose 'torch' or 'onnx'")

    def _torch_logits(self, features: dict[str, Any]) -> np.ndarray:
        """Logits [B, C] of one processed batch with PyTorch."""
        import torch

        device = next(self.model.parameters()).device
        with torch.inference_mode():
            inputs = {k: v.to(device) for k, v in features.items()}
            return self.model(**inputs).logits.float().cpu().numpy()

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Class probabilities [N, C]: softmax (single-label) or one sigmoid per label (multi-label)."""
        from sensoryt5.alignment import _as_text_list

        batch = _as_text_list(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        probabilities = np.zeros((len(batch), len(self.labels)), dtype=np.float32)
        for idx in length_sorted_batches([len(t) for t in batch], batch_size):
            logits = self._runner(self.processor([batch[i] for i in idx]))
            probabilities[idx] = _sigmoid(logits) if self.multi_label else _softmax(logits)
        return probabilities

    def predict(self, texts: str | Sequence[str], batch_size: int = 32, top_k: int | None = None
                ) -> list[list[dict[str, Any]]]:
        """Per text, labels with probabilities, best first: the top `top_k` (all when None) for single-label
        models; every label over its threshold for multi-label models (`top_k` caps the list)."""
        probabilities = self.predict_proba([texts] if isinstance(texts, str) else texts, batch_size)
        return [self._ranked(row, top_k) for row in probabilities]

    def _ranked(self, row: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
        order = np.argsort(-row, kind="stable")
        if self.multi_label:
            thresholds = np.asarray(self.config.label_thresholds or [0.5] * len(self.labels))
            order = [i for i in order if row[i] >= thresholds[i]]
        return [{"label": self.labels[i], "score": float(row[i])} for i in list(order)[:top_k]]

    def explain(self, text: str, top_k: int = 3) -> dict[str, Any]:
        """Each word of `text` with its sensory vector, how it was found, and the adapter's attention to it.

        The attention of a word is the attention its tokens receive from the sensory queries, averaged over the
        queries and summed over the word's tokens (None for fusions without token attention).
        """
        import torch

        words = self.processor.explain_words(text)
        features = self.processor([text])
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            output = self.model(**{k: v.to(device) for k, v in features.items()}, output_attentions=True)
        weights = output.attentions
        received = None
        if weights is not None:
            attention = weights[0].float().cpu().numpy()  # [L_query, L_key]
            received = attention.mean(axis=0)  # [L_key]
        for word in words:
            word["attention"] = float(received[word["token_positions"]].sum()) if received is not None else None
        logits = output.logits.float().cpu().numpy()
        probabilities = (_sigmoid(logits) if self.multi_label else _softmax(logits))[0]
        return {"text": text, "words": words, "predictions": self._ranked(probabilities, top_k)}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))
