"""Use a trained model: `SensoryClassifier.from_pretrained(folder)`, `.predict(texts)`, `.explain(text)`,
`.predict_file(input, output)` (streamed, see `sensoryt5.streaming`).

A classifier is not thread-safe (its processor memoises words as it meets them): share one between threads only
behind a lock or a single worker thread, as `sensoryt5.serving` does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from sensoryt5.errors import InputError, ModelLoadError, check_choice, one_line
from sensoryt5.model_folder import check_model_folder, load_model
from sensoryt5.norms import PERCEPTUAL
from sensoryt5.texts import check_texts, text_problem

BACKENDS: tuple[str, ...] = ("torch", "onnx")
logger = logging.getLogger(__name__)

# One colour per perceptual sense (Tableau 10), shared by the terminal (`sensoryt5 explain`) and the web page.
SENSE_COLOURS: dict[str, str] = {
    "auditory": "#4e79a7",
    "gustatory": "#f28e2b",
    "haptic": "#e15759",
    "interoceptive": "#b07aa1",
    "olfactory": "#59a14f",
    "visual": "#edc948",
}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches in order of decreasing length (less padding); callers restore input order."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def dominant_sense(vector: dict[str, float]) -> tuple[str | None, float]:
    """The perceptual sense with the highest rating in `vector` and that rating (None, 0.0 when none is > 0)."""
    senses = [(vector[s], s) for s in PERCEPTUAL if s in vector and vector[s] > 0]
    if not senses:
        return None, 0.0
    value, sense = max(senses)
    return sense, float(value)


class SensoryClassifier:
    """A trained SensoryT5 model with its processor: predict emotions and explain them.

    Use `SensoryClassifier.from_pretrained(folder)`; `backend="onnx"` runs an exported ONNX file instead of
    PyTorch (see `sensoryt5 export`).
    """

    def __init__(self, model: Any, processor: Any, runner: Any = None, config: Any = None,
                 folder: str | Path | None = None, onnx_file: Path | None = None) -> None:
        """`model`: the PyTorch model, or None in an ONNX classifier (`model` then loads it from `folder` on first
        use); `config`: default `model.config`; `runner`: processed batch -> logits [B, C] (default PyTorch)."""
        self._model, self.processor = model, processor
        self.config = config if config is not None else model.config
        self._folder = folder
        self.onnx_file = onnx_file  # the ONNX file `runner` executes; None for the PyTorch backend
        self._runner = runner or self._torch_logits
        self.labels: list[str] = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        self.multi_label = self.config.problem_type == "multi_label_classification"

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | None = None, backend: str = "torch",
                        onnx_file: str | Path | None = None, onnx_threads: int | None = None
                        ) -> SensoryClassifier:
        """Load a model folder written by `sensoryt5 train`; `backend` is "torch" or "onnx".

        "onnx" runs `onnx_file` (default FOLDER/model.onnx, else FOLDER/model.int8.onnx; see `onnx_file` and the
        log line for the one chosen) with onnxruntime and `onnx_threads` intra-op threads. It never imports torch
        and needs no model.safetensors; only `explain` (which needs the adapter's attention) loads the PyTorch
        model, on first use.
        """
        check_choice("backend", backend, BACKENDS)
        if backend == "onnx":
            return cls._from_onnx(folder, onnx_file, onnx_threads)
        model = load_model(folder, device=device)
        return cls(model, _load_processor(folder, model.config))

    @classmethod
    def _from_onnx(cls, folder: str | Path, onnx_file: str | Path | None, threads: int | None) -> SensoryClassifier:
        """The ONNX classifier of `from_pretrained` (torch-free)."""
        from sensoryt5.exported import ExportedConfig, OnnxRunner, find_onnx_file
        from sensoryt5.oov_onnx import attach_onnx_embedder

        folder = check_model_folder(folder, weights=False)
        path = find_onnx_file(folder, onnx_file)
        config = ExportedConfig.from_folder(folder)
        processor = _load_processor(folder, config)
        processor.return_tensors = "np"
        oov = attach_onnx_embedder(processor.lexicon, folder)
        runner = OnnxRunner(path, threads=threads)
        labels = [config.id2label[i] for i in range(config.num_labels)]
        if runner.labels is not None and runner.labels != labels:
            raise ModelLoadError(f"{runner.path}: exported for labels {runner.labels}, but {folder} has {labels}")
        logger.info("loaded the ONNX file %s (unknown words embedded: %s)", path, oov)
        return cls(None, processor, runner=runner, config=config, folder=folder, onnx_file=path)

    @property
    def model(self) -> Any:
        """The PyTorch model; an ONNX classifier loads it (CPU) from its folder's safetensors on first use (for
        `explain`)."""
        if self._model is None:
            if self._folder is None:
                raise ModelLoadError("this classifier has no PyTorch model")
            try:
                self._model = load_model(self._folder, device="cpu")
            except ModelLoadError as error:
                raise ModelLoadError(f"the adapter's attention needs the PyTorch model: {error}") from error
        return self._model

    @property
    def thresholds(self) -> list[float] | None:
        """Per-label decision thresholds of a multi-label model (0.5 each unless tuned); None for single-label."""
        if not self.multi_label:
            return None
        return list(self.config.label_thresholds or [0.5] * len(self.labels))

    def _torch_logits(self, features: dict[str, Any]) -> np.ndarray:
        """Logits [B, C] of one processed batch with PyTorch."""
        import torch

        device = next(self.model.parameters()).device
        with torch.inference_mode():
            inputs = {k: v.to(device) for k, v in features.items()}
            return self.model(**inputs).logits.float().cpu().numpy()

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Class probabilities [N, C] in input order: softmax (single-label) or one sigmoid per label (multi-label).

        Texts are batched by length (less padding); `progress` shows a tqdm bar on stderr.
        """
        from tqdm.auto import tqdm

        from sensoryt5.alignment import _as_text_list

        batch = _as_text_list(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        check_texts(batch)
        probabilities = np.zeros((len(batch), len(self.labels)), dtype=np.float32)  # [N, C]
        with tqdm(total=len(batch), unit="text", desc="predict", disable=not progress) as bar:
            for idx in length_sorted_batches([len(t) for t in batch], batch_size):
                logits = self._runner(self.processor([batch[i] for i in idx]))  # [len(idx), C]
                probabilities[idx] = _sigmoid(logits) if self.multi_label else _softmax(logits)
                bar.update(len(idx))
        return probabilities

    def predict(self, texts: str | Sequence[str], batch_size: int = 32, top_k: int | None = None,
                progress: bool = False) -> list[list[dict[str, Any]]]:
        """Per text, labels with probabilities, best first: the top `top_k` (all when None) for single-label
        models; every label over its threshold for multi-label models (`top_k` caps the list)."""
        _check_top_k(top_k)
        probabilities = self.predict_proba([texts] if isinstance(texts, str) else texts, batch_size, progress)
        return [self.ranked(row, top_k) for row in probabilities]

    def sensory_coverage(self, texts: Sequence[str]) -> list[float]:
        """Per text, the share of its words with sensory values (found in the norms or predicted); 0.0 means the
        sensory branch saw nothing (e.g. a text outside English); see `SensoryProcessor.text_coverage`."""
        return self.processor.text_coverage(texts)

    def ranked(self, row: np.ndarray, top_k: int | None = None) -> list[dict[str, Any]]:
        """One text's probabilities [C] as [{"label", "score"}], best first (multi-label: those over threshold)."""
        _check_top_k(top_k)
        order = np.argsort(-row, kind="stable")
        if self.multi_label:
            thresholds = np.asarray(self.thresholds)
            order = [i for i in order if row[i] >= thresholds[i]]
        return [{"label": self.labels[i], "score": float(row[i])} for i in list(order)[:top_k]]

    def explain(self, text: str, top_k: int | None = 3) -> dict[str, Any]:
        """Each word of `text` with its sensory vector, how it was found, and the adapter's attention to it.

        Per word: `word`, `start`/`end` (its characters in `text`), `token_positions`, `source` (exact, lemma,
        multiword, predicted or missing), `vector` (rating per sensory dimension), `sense` and `strength` (its
        dominant perceptual sense and that rating, see `dominant_sense`) and `attention`: the attention its tokens
        receive from the sensory queries, averaged over the queries and summed over the word's tokens (the words'
        shares sum to at most 1; special tokens and punctuation take the rest; None for fusions without token
        attention). `predictions` are ranked as by `predict`; `sensory_coverage` is `sensory_coverage` of the text.
        """
        import torch

        problem = text_problem(text)
        if problem:
            raise InputError(f"the text {problem.message}")
        words = self.processor.explain_words(text)
        offsets = self.processor.tokenizer([text], truncation=True, max_length=self.processor.max_length,
                                           return_offsets_mapping=True)["offset_mapping"][0]  # [L] (start, end)
        features = self.processor([text], return_tensors="pt")
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            output = self.model(**{k: v.to(device) for k, v in features.items()}, output_attentions=True)
        received = None
        if output.attentions is not None:
            attention = output.attentions[0].float().cpu().numpy()  # [L_query, L_key]
            received = attention.mean(axis=0)  # [L_key]
        for word in words:
            positions = word["token_positions"]
            word["start"], word["end"] = _strip_span(text, offsets[positions[0]][0], offsets[positions[-1]][1])
            word["sense"], word["strength"] = dominant_sense(word["vector"])
            word["attention"] = float(received[positions].sum()) if received is not None else None
        logits = output.logits.float().cpu().numpy()  # [1, C]
        probabilities = (_sigmoid(logits) if self.multi_label else _softmax(logits))[0]  # [C]
        return {"text": text, "words": words, "predictions": self.ranked(probabilities, top_k),
                "sensory_coverage": self.sensory_coverage([text])[0]}

    def predict_file(self, input_path: str | Path, output_path: str | Path, text_column: str = "text",
                     batch_size: int = 32, chunk_size: int = 10_000, top_k: int | None = None,
                     id_column: str | None = None, progress: bool = False, skip_invalid: bool = False
                     ) -> dict[str, Any]:
        """Predict every row of a CSV/TSV/JSONL/Parquet file into a JSON Lines, CSV or Parquet file (by the output's
        extension; `-` is JSON Lines on stdout), streaming `chunk_size` rows at a time; see
        `sensoryt5.streaming.predict_file`."""
        from sensoryt5.streaming import predict_file

        _check_top_k(top_k)
        return predict_file(self, input_path, output_path, text_column=text_column, batch_size=batch_size,
                            chunk_size=chunk_size, top_k=top_k, id_column=id_column, progress=progress,
                            skip_invalid=skip_invalid)


def _load_processor(folder: str | Path, config: Any) -> Any:
    """The folder's SensoryProcessor; ModelLoadError when it cannot be rebuilt or disagrees with `config`."""
    from sensoryt5.alignment import SensoryProcessor

    try:
        processor = SensoryProcessor.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"{folder}: cannot rebuild the sensory processor ({one_line(error)})") from error
    if processor.sensory_mode != config.sensory_mode or list(processor.lexicon.dims) != list(config.sensory_dims):
        raise ModelLoadError(f"{folder}: sensory_processor.json (sensory_mode {processor.sensory_mode}, "
                             f"sensory_dims {list(processor.lexicon.dims)}) disagrees with config.json "
                             f"(sensory_mode {config.sensory_mode}, sensory_dims {list(config.sensory_dims)})")
    return processor


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A character span without surrounding whitespace (SentencePiece offsets may include the leading space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return int(start), int(end)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))
