"""The OOV regressor's MiniLM embedder as an ONNX file, so that an exported folder predicts unknown words without
torch.

`sensoryt5 export` of a model whose processor predicts unknown words (`oov_embedder` minilm or minilm+glove) also
writes FOLDER/oov_embedder/: `model.onnx` (all-MiniLM-L6-v2 returning its 7 hidden-state layers, `hidden_states`
[batch, 7, seq, 384] float32, from `input_ids`, `attention_mask` and `token_type_ids` [batch, seq] int64; kept in
float32, as large as MiniLM's weights, because its features feed the regressor's MLP and nearest neighbours) and
MiniLM's tokenizer files (`sensoryt5.export.export_embedder`). `OnnxMiniLMEmbedder` computes the same `Features`
as `MiniLMEmbedder` with NumPy and onnxruntime; the export checks them against PyTorch within
`sensoryt5.export.EMBEDDER_TOLERANCE`. The regressor itself (`resources/oov/`) is NumPy already.

A folder exported without it embeds unknown words with PyTorch when torch is installed; without torch its
unknown words stay `missing` (one RuntimeWarning at load), see `attach_onnx_embedder`.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sensoryt5.oov import MAX_TOKENS, MiniLMEmbedder, MiniLMGloveEmbedder, make_embedder

EMBEDDER_FOLDER = "oov_embedder"
EMBEDDER_FILE = "model.onnx"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "hidden_states"


class OnnxMiniLMEmbedder(MiniLMEmbedder):
    """`MiniLMEmbedder` with the network run by onnxruntime from `folder` (written by `export_embedder`)."""

    def __init__(self, folder: str | Path, template: str = "{}", batch_size: int = 256) -> None:
        super().__init__(template, batch_size)
        self.folder = Path(folder)

    def _load(self) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from sensoryt5.exported import default_providers

        self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._model = ort.InferenceSession(str(self.folder / EMBEDDER_FILE), options, providers=default_providers())
        self._inputs = [i.name for i in self._model.get_inputs()]

    def _embed_batch(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Dense features [b, 7 * 384] and L2-normalised keys [b, 384] of one batch, as `MiniLMEmbedder`."""
        texts = [self.prefix + w + self.suffix for w in words]
        enc = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np",
                              return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")  # [b, t, 2] character spans; (0, 0) for special tokens
        start = len(self.prefix)
        end = np.array([[start + len(w)] for w in words])  # [b, 1]
        in_word = (offsets[..., 0] >= start) & (offsets[..., 1] <= end) & (offsets[..., 1] > offsets[..., 0])
        attention = enc["attention_mask"].astype(bool)  # [b, t]
        in_word = np.where(in_word.any(1, keepdims=True), in_word, attention)  # no word token: use them all
        feed = {name: np.asarray(enc[name], dtype=np.int64) for name in self._inputs}
        states = self._model.run([OUTPUT_NAME], feed)[0]  # [b, 7, t, 384]
        dense = _masked_mean(states, in_word).reshape(len(words), -1)  # [b, 7 * 384]
        sentence = _masked_mean(states[:, -1], attention)  # [b, 384]
        keys = sentence / np.maximum(np.linalg.norm(sentence, axis=-1, keepdims=True), 1e-12)
        return dense.astype(np.float32), keys.astype(np.float32)


def _masked_mean(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of `states` [..., t, d] over the tokens where `mask` [b, t] is true (NumPy `oov._masked_mean`)."""
    weights = mask.astype(states.dtype)
    weights = weights[:, None, :, None] if states.ndim == 4 else weights[:, :, None]
    return (states * weights).sum(-2) / np.maximum(weights.sum(-2), 1.0)


def onnx_embedder(name: str, folder: str | Path) -> Any:
    """The embedder `name` (minilm or minilm+glove) with its MiniLM run from the ONNX folder `folder`."""
    embedder = make_embedder(name)
    minilm = OnnxMiniLMEmbedder(folder)
    if isinstance(embedder, MiniLMGloveEmbedder):
        embedder.minilm = minilm
        return embedder
    return minilm


def attach_onnx_embedder(lexicon: Any, folder: str | Path) -> str:
    """Make `lexicon` embed unknown words without torch when it can; returns how it embeds them.

    "onnx": FOLDER/oov_embedder/ is used. "torch": no such folder, but torch is installed, so the PyTorch
    embedder runs as in training. "off": neither; unknown words are `missing` and a RuntimeWarning says so once.
    "none": the lexicon predicts no unknown words anyway.
    """
    if lexicon.oov_embedder is None:
        return "none"
    path = Path(folder) / EMBEDDER_FOLDER
    if (path / EMBEDDER_FILE).is_file():
        lexicon.use_embedder(onnx_embedder(lexicon.oov_embedder, path))
        return "onnx"
    if importlib.util.find_spec("torch") is not None:
        return "torch"
    warnings.warn(f"{folder} has no {EMBEDDER_FOLDER}/{EMBEDDER_FILE} and torch is not installed, so words outside "
                  "the Lancaster norms get no predicted sensory values here (they are 'missing', unlike in "
                  f"PyTorch); write it with `sensoryt5 export {folder}` where torch is installed", RuntimeWarning,
                  stacklevel=3)
    lexicon.oov_embedder = None
    return "off"
