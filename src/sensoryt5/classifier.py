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

from sensoryt5.attribution import DEFAULT_STEPS, DEFAULT_TOLERANCE
from sensoryt5.errors import InputError, ModelLoadError, check_choice, one_line
from sensoryt5.long_text import Scores, aggregate_logits, check_long_text
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
# Signed contributions on a diverging blue–orange scale (ColorBrewer PuOr/RdBu ends; distinct for the common
# colour-vision deficiencies), shared by the terminal and the web page.
CONTRIBUTION_COLOURS: dict[str, str] = {"positive": "#2166ac", "negative": "#b35806"}


def contribution_colour(share: float) -> str:
    """Hex colour of a signed contribution `share` in [-1, 1] (its share of the text's largest): white at 0, the
    positive (towards the class) or negative colour of `CONTRIBUTION_COLOURS` at ±1."""
    end = CONTRIBUTION_COLOURS["positive" if share >= 0 else "negative"]
    weight = min(abs(share), 1.0)
    channels = (int(end[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 + weight * (c - 255)):02x}" for c in channels)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches in order of decreasing length (token counts: least padding); callers restore input order."""
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
        and needs no model.safetensors (`model` loads the PyTorch model on first use; `explain` needs the torch
        backend).
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
        """The PyTorch model; an ONNX classifier loads it (CPU) from its folder's safetensors on first use."""
        if self._model is None:
            if self._folder is None:
                raise ModelLoadError("this classifier has no PyTorch model")
            try:
                self._model = load_model(self._folder, device="cpu")
            except ModelLoadError as error:
                raise ModelLoadError(f"{self.onnx_file} runs without it, but the PyTorch model needs its weights: "
                                     f"{error}") from error
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

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False,
                      long_text: str = "truncate", stride: int | None = None, chunk_aggregate: str | None = None
                      ) -> np.ndarray:
        """Class probabilities [N, C] in input order: softmax (single-label) or one sigmoid per label (multi-label).

        Texts are batched by length (less padding); `progress` shows a tqdm bar on stderr. A text longer than the
        model's window (`max_length` tokens) is cut to it with `long_text="truncate"`, or with "chunk" read whole
        in overlapping windows whose logits are aggregated (see `scores` and `sensoryt5.long_text`).
        """
        return self.scores(texts, batch_size=batch_size, progress=progress, long_text=long_text, stride=stride,
                           chunk_aggregate=chunk_aggregate).probabilities

    def scores(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False, long_text: str = "truncate",
               stride: int | None = None, chunk_aggregate: str | None = None) -> Scores:
        """`predict_proba`'s probabilities [N, C] with each text's token count and, with `chunk`, its windows.

        `long_text`: "truncate" (the first `max_length` tokens) or "chunk" (windows of `max_length` tokens cut
        between words, overlapping by `stride` tokens, default a quarter of `max_length`; the windows of a batch of
        texts run `batch_size` at a time and their logits are averaged per text, or with `chunk_aggregate="max"`
        maximised, before the softmax or sigmoid). `Scores.truncated` flags the texts longer than the window.
        """
        from tqdm.auto import tqdm

        from sensoryt5.alignment import _as_text_list

        batch = _as_text_list(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        check_texts(batch)
        check_long_text(long_text, stride, chunk_aggregate)
        probabilities = np.zeros((len(batch), len(self.labels)), dtype=np.float32)  # [N, C]
        n_tokens = np.zeros(len(batch), dtype=np.int64)  # [N]
        chunks = np.zeros(len(batch), dtype=np.int64)  # [N]
        with tqdm(total=len(batch), unit="text", desc="predict", disable=not progress) as bar:
            for idx in length_sorted_batches(self.processor.token_counts(batch), batch_size):
                windows = self.processor.windows([batch[i] for i in idx], long_text, stride)
                logits = self._window_logits(windows.features, batch_size)  # [W, C]
                if long_text == "chunk":
                    logits = aggregate_logits(logits, windows.owner, len(idx), chunk_aggregate or "mean")
                probabilities[idx] = _sigmoid(logits) if self.multi_label else _softmax(logits)  # [len(idx), C]
                n_tokens[idx], chunks[idx] = windows.n_tokens, windows.chunks
                bar.update(len(idx))
        return Scores(probabilities, n_tokens, chunks if long_text == "chunk" else None, self.processor.max_length)

    def _window_logits(self, features: dict[str, Any], batch_size: int) -> np.ndarray:
        """Logits [W, C] of processed windows, run `batch_size` windows at a time."""
        rows = len(features["input_ids"])
        if rows <= batch_size:
            return self._runner(features)
        return np.concatenate([self._runner({k: v[start:start + batch_size] for k, v in features.items()})
                               for start in range(0, rows, batch_size)])

    def predict(self, texts: str | Sequence[str], batch_size: int = 32, top_k: int | None = None,
                progress: bool = False, long_text: str = "truncate", stride: int | None = None,
                chunk_aggregate: str | None = None) -> list[list[dict[str, Any]]]:
        """Per text, labels with probabilities, best first: the top `top_k` (all when None) for single-label
        models; every label over its threshold for multi-label models (`top_k` caps the list). `long_text`,
        `stride` and `chunk_aggregate` are as for `scores`."""
        _check_top_k(top_k)
        probabilities = self.predict_proba([texts] if isinstance(texts, str) else texts, batch_size, progress,
                                           long_text, stride, chunk_aggregate)
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

    def explain(self, text: str, label: str | None = None, top_k: int | None = 3, n_steps: int = DEFAULT_STEPS,
                attention: bool = False, tolerance: float | None = DEFAULT_TOLERANCE) -> dict[str, Any]:
        """Which words of `text`, and which of their senses, moved the prediction: Integrated Gradients (captum) of
        the class `label` (default: the top class), over the token embeddings and the sensory vectors.

        Per word: `word`, `start`/`end` (its characters in `text`), `token_positions`, `source` (exact, lemma,
        multiword, predicted or missing), `vector` (rating per sensory dimension), `sense` and `strength` (its
        dominant perceptual sense and that rating, see `dominant_sense`), `contribution` (signed: its tokens' total
        attribution, embedding and sensory parts together), `sensory_contribution` (the part through its sensory
        vector) and `senses` (that part per dimension). `other_contribution` is what the tokens outside words
        (punctuation, special tokens) carry. `explained` says what was explained: `label`, `output` (probability,
        or sigmoid for multi-label models), `score` and `baseline_score` (see `sensoryt5.attribution` for the
        baselines), `delta` (the convergence delta: the contributions sum to score − baseline_score − delta)
        and `n_steps` (the steps the text ended with: it starts with `n_steps` and doubles, up to
        `sensoryt5.attribution.MAX_STEPS`, while |delta| exceeds `tolerance`; None: no doubling). With `attention`,
        each word also gets `attention`: the adapter's attention its tokens receive, averaged over the sensory
        queries (None for fusions without token attention) — attention weights, not an explanation. `predictions`
        are ranked as by `predict`; `sensory_coverage` as by `sensory_coverage`.
        A text longer than the model's window is always explained, and its predictions given, on its first
        `max_length` tokens (the truncated first window, whatever `long_text` `predict` is given); `truncated` says
        whether it was longer.
        """
        problem = text_problem(text)
        if problem:
            raise InputError(f"the text {problem.message}")
        return self.explain_batch([text], label=label, top_k=top_k, n_steps=n_steps, attention=attention,
                                  tolerance=tolerance)[0]

    def explain_batch(self, texts: Sequence[str], label: str | None = None, top_k: int | None = 3,
                      n_steps: int = DEFAULT_STEPS, attention: bool = False, batch_size: int | None = None,
                      progress: bool = False, tolerance: float | None = DEFAULT_TOLERANCE) -> list[dict[str, Any]]:
        """`explain` for many texts, `batch_size` texts per Integrated Gradients pass (n_steps × batch_size rows;
        default 8 on a GPU, 1 on the CPU, where 8 was slower, see BENCHMARKS.md `explain_speed`); results in input
        order; `progress` shows a tqdm bar on stderr."""
        from tqdm.auto import tqdm

        from sensoryt5.alignment import _as_text_list

        _check_top_k(top_k)
        if batch_size is None:
            batch_size = 8 if next(self.model.parameters()).device.type == "cuda" else 1
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if self._runner != self._torch_logits:
            raise InputError("explain needs the torch backend (gradients); load the model with backend='torch'")
        batch = _as_text_list(texts)
        for i, text in enumerate(batch):
            problem = text_problem(text)
            if problem:
                raise InputError(f"texts[{i}] {problem.message}" if len(batch) > 1 else f"the text {problem.message}")
        target = self._label_index(label)
        results: list[dict[str, Any]] = [{} for _ in batch]
        with tqdm(total=len(batch), unit="text", desc="explain", disable=not progress) as bar:
            for idx in length_sorted_batches(self.processor.token_counts(batch), batch_size):
                for i, result in zip(idx, self._explain_chunk([batch[i] for i in idx], target, top_k, n_steps,
                                                              attention, tolerance)):
                    results[i] = result
                bar.update(len(idx))
        return results

    def _label_index(self, label: str | None) -> int | None:
        """The class index of `label` (None: each text's top class); InputError naming the labels otherwise."""
        if label is None:
            return None
        if label not in self.labels:
            raise InputError(f"unknown label {label!r}; this model's labels are {', '.join(self.labels)}")
        return self.labels.index(label)

    def _explain_chunk(self, texts: list[str], target: int | None, top_k: int | None, n_steps: int,
                       attention: bool, tolerance: float | None) -> list[dict[str, Any]]:
        """`explain` of one batch of texts (already checked)."""
        import torch

        from sensoryt5.attribution import explained_output, integrated_gradients

        windows = self.processor.windows(texts)  # the first window of each text
        features = windows.features  # input_ids/attention_mask [B, L], sensory [B, L, D]
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            output = self.model(**{k: v.to(device) for k, v in features.items()}, output_attentions=attention)
        logits = output.logits.float().cpu().numpy()  # [B, C]
        probabilities = _sigmoid(logits) if self.multi_label else _softmax(logits)  # [B, C]
        targets = [int(np.argmax(row)) if target is None else target for row in probabilities]
        parts = integrated_gradients(self.model, self.processor.tokenizer, features, targets, n_steps=n_steps,
                                     tolerance=tolerance)
        received = None
        if attention and output.attentions is not None:
            received = output.attentions.float().cpu().numpy().mean(axis=1)  # [B, L_key]
        coverage = self.sensory_coverage(texts)
        dims = list(self.processor.lexicon.dims)
        results = []
        for b, text in enumerate(texts):
            words = self.processor.explain_words(text)
            offsets = self.processor.tokenizer([text], truncation=True, max_length=self.processor.max_length,
                                               return_offsets_mapping=True)["offset_mapping"][0]  # [L] (start, end)
            token_total = parts.embedding[b] + parts.sensory[b].sum(axis=-1)  # [L]
            in_words = 0.0
            for word in words:
                positions = word["token_positions"]
                word["start"], word["end"] = _strip_span(text, offsets[positions[0]][0], offsets[positions[-1]][1])
                word["sense"], word["strength"] = dominant_sense(word["vector"])
                senses = parts.sensory[b, positions].sum(axis=0)  # [D]
                word["contribution"] = float(token_total[positions].sum())
                word["sensory_contribution"] = float(senses.sum())
                word["senses"] = dict(zip(dims, (float(v) for v in senses)))
                if attention:
                    word["attention"] = None if received is None else float(received[b, positions].sum())
                in_words += word["contribution"]
            results.append({
                "text": text, "words": words, "other_contribution": float(token_total.sum() - in_words),
                "explained": {"label": self.labels[targets[b]], "output": explained_output(self.model),
                              "score": float(parts.score[b]), "baseline_score": float(parts.baseline_score[b]),
                              "delta": float(parts.delta[b]), "n_steps": int(parts.n_steps[b]),
                              "tolerance": tolerance, "method": "integrated_gradients"},
                "predictions": self.ranked(probabilities[b], top_k), "sensory_coverage": coverage[b],
                "truncated": bool(windows.truncated[b]),
            })
        return results

    def predict_file(self, input_path: str | Path, output_path: str | Path, text_column: str = "text",
                     batch_size: int = 32, chunk_size: int = 10_000, top_k: int | None = None,
                     id_column: str | None = None, progress: bool = False, skip_invalid: bool = False,
                     long_text: str = "truncate", stride: int | None = None, chunk_aggregate: str | None = None
                     ) -> dict[str, Any]:
        """Predict every row of a CSV/TSV/JSONL/Parquet file into a JSON Lines, CSV or Parquet file (by the output's
        extension; `-` is JSON Lines on stdout), streaming `chunk_size` rows at a time; `long_text`, `stride` and
        `chunk_aggregate` are as for `scores`; see `sensoryt5.streaming.predict_file`."""
        from sensoryt5.streaming import predict_file

        _check_top_k(top_k)
        check_long_text(long_text, stride, chunk_aggregate)
        return predict_file(self, input_path, output_path, text_column=text_column, batch_size=batch_size,
                            chunk_size=chunk_size, top_k=top_k, id_column=id_column, progress=progress,
                            skip_invalid=skip_invalid, long_text=long_text, stride=stride,
                            chunk_aggregate=chunk_aggregate)


    def explain_file(self, input_path: str | Path, output_path: str | Path, text_column: str = "text",
                     label: str | None = None, top_k: int | None = 3, n_steps: int = DEFAULT_STEPS,
                     attention: bool = False, tolerance: float | None = DEFAULT_TOLERANCE,
                     batch_size: int | None = None, chunk_size: int = 64,
                     id_column: str | None = None, progress: bool = False, skip_invalid: bool = False
                     ) -> dict[str, Any]:
        """`explain` every row of a CSV/TSV/JSONL/Parquet file into a JSON Lines, CSV or Parquet file, streamed in
        chunks and batched (`batch_size` texts per Integrated Gradients pass); each record is {"row", ["id",]
        and `explain`'s fields}; see `sensoryt5.streaming.map_file` for rows, formats and what is returned."""
        from sensoryt5.streaming import map_file

        _check_top_k(top_k)
        self._label_index(label)

        def records(texts: list[str]) -> list[dict[str, Any]]:
            return self.explain_batch(texts, label=label, top_k=top_k, n_steps=n_steps, attention=attention,
                                      batch_size=batch_size, tolerance=tolerance)

        return map_file(input_path, output_path, records, "explain", text_column=text_column,
                        chunk_size=chunk_size, id_column=id_column, progress=progress, skip_invalid=skip_invalid)


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
