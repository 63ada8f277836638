"""Use a trained model: `SensoryClassifier.from_pretrained(folder)`, `.predict(texts)`, `.explain(text)`,
`.predict_file(input, output)`.

Model folders are loaded from safetensors only: a pickle checkpoint (`pytorch_model.bin`, `*.pt`) is refused,
because unpickling a file can run arbitrary code.

`predict_file` streams a CSV/TSV/JSON Lines/Parquet file in chunks (`TextFileReader`), so memory stays flat however
long the file is, and writes JSON Lines atomically (a temporary file beside the output, renamed at the end).

A classifier is not thread-safe (its processor memoises words as it meets them): share one between threads only
behind a lock or a single worker thread, as `sensoryt5.serving` does.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Iterator, Sequence

import numpy as np

from sensoryt5.errors import InputError, ModelLoadError, one_line
from sensoryt5.norms import PERCEPTUAL

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
# One colour per perceptual sense (Tableau 10), shared by the terminal (`sensoryt5 explain`) and the web page.
SENSE_COLOURS: dict[str, str] = {
    "auditory": "#4e79a7",
    "gustatory": "#f28e2b",
    "haptic": "#e15759",
    "interoceptive": "#b07aa1",
    "olfactory": "#59a14f",
    "visual": "#edc948",
}


def check_model_folder(folder: str | Path) -> Path:
    """Validate a saved model folder before loading it; ModelLoadError says what is wrong and what to do."""
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


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches in order of decreasing length (less padding); callers restore input order."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def text_problem(text: Any) -> str | None:
    """Why `text` cannot be classified (not a string, bytes that are not UTF-8, a lone surrogate), or None."""
    if not isinstance(text, str):
        missing = text is None or (isinstance(text, float) and math.isnan(text))
        return "missing text" if missing else f"text is a {type(text).__name__}, not a string"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = ord(text[error.start])
        if 0xDC80 <= bad <= 0xDCFF:  # a byte that was not UTF-8, kept by errors="surrogateescape"
            return f"byte 0x{bad - 0xDC00:02x} is not valid UTF-8; save the file as UTF-8"
        return f"text holds a lone surrogate (U+{bad:04X}), which is not valid Unicode"
    return None


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

    def __init__(self, model: Any, processor: Any, runner: Any = None) -> None:
        self.model, self.processor = model, processor
        self.config = model.config
        self._runner = runner or self._torch_logits
        self.labels: list[str] = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        self.multi_label = self.config.problem_type == "multi_label_classification"

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | None = None, backend: str = "torch",
                        onnx_file: str | Path | None = None, onnx_threads: int | None = None
                        ) -> SensoryClassifier:
        """Load a model folder written by `sensoryt5 train`; `backend` is "torch" or "onnx" (the file
        `onnx_file`, default FOLDER/model.onnx, run by onnxruntime with `onnx_threads` intra-op threads)."""
        from sensoryt5.alignment import SensoryProcessor

        model = load_model(folder, device="cpu" if backend == "onnx" else device)
        try:
            processor = SensoryProcessor.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"{folder}: cannot rebuild the sensory processor ({one_line(error)})") from error
        if processor.mode != model.config.sensory_mode or list(processor.lexicon.dims) != list(
                model.config.sensory_dims):
            raise ModelLoadError(f"{folder}: sensory_processor.json (mode {processor.mode}, dims "
                                 f"{list(processor.lexicon.dims)}) disagrees with config.json (mode "
                                 f"{model.config.sensory_mode}, dims {list(model.config.sensory_dims)})")
        if backend == "torch":
            return cls(model, processor)
        if backend == "onnx":
            from sensoryt5.export import OnnxRunner

            runner = OnnxRunner(onnx_file or Path(folder) / "model.onnx", threads=onnx_threads)
            labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
            if runner.labels is not None and runner.labels != labels:
                raise ModelLoadError(f"{runner.path}: exported for labels {runner.labels}, but {folder} has {labels}")
            return cls(model, processor, runner=runner)
        raise ValueError(f"unknown backend {backend!r}; choose 'torch' or 'onnx'")

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
        for i, text in enumerate(batch):
            problem = text_problem(text)
            if problem:
                raise InputError(f"text {i}: {problem}")
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
        attention). `predictions` are ranked as by `predict`.
        """
        import torch

        problem = text_problem(text)
        if problem:
            raise InputError(problem)
        words = self.processor.explain_words(text)
        offsets = self.processor.tokenizer([text], truncation=True, max_length=self.processor.max_length,
                                           return_offsets_mapping=True)["offset_mapping"][0]  # [L] (start, end)
        features = self.processor([text])
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
        return {"text": text, "words": words, "predictions": self.ranked(probabilities, top_k)}

    def predict_file(self, input_path: str | Path, output_path: str | Path, text_column: str = "text",
                     batch_size: int = 32, chunk_size: int = 10_000, top_k: int | None = None,
                     id_column: str | None = None, progress: bool = False) -> dict[str, Any]:
        """Predict every row of a CSV/TSV/JSONL/Parquet file into a JSON Lines file, streaming `chunk_size` rows at
        a time (memory stays flat on any length of input).

        Each output line is {"row", ["id",] "text", "predictions"}: `row` numbers the input as `InputError`s do
        (CSV/TSV and JSON Lines: the line an editor shows; Parquet: 1, 2, ...), `id` is the `id_column` value when
        one is named. Empty texts are predicted like any other; a missing or non-string text raises `InputError`
        naming the file, row and column. The output appears under its name only when complete. Returns
        {"rows", "output"}.
        """
        from tqdm.auto import tqdm

        from sensoryt5.atomic import atomic_open

        _check_top_k(top_k)
        output = Path(output_path)
        with TextFileReader(input_path, text_column, chunk_size, id_column) as reader:
            check_output_path(output, reader.path)
            written = 0
            with atomic_open(output) as handle, tqdm(total=reader.total, unit=reader.unit, unit_scale=True,
                                                     desc="predict", disable=not progress) as bar:
                for chunk in reader:
                    predictions = self.predict(chunk.texts, batch_size=batch_size, top_k=top_k)
                    for i, (row, text, ranked) in enumerate(zip(chunk.rows, chunk.texts, predictions)):
                        record: dict[str, Any] = {"row": row}
                        if chunk.ids is not None:
                            record["id"] = chunk.ids[i]
                        record.update(text=text, predictions=ranked)
                        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                    written += len(chunk.texts)
                    bar.update(reader.position - bar.n)
                    bar.set_postfix(rows=written)
        return {"rows": written, "output": str(output)}


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")


def check_output_path(output: Path, input_path: Path) -> None:
    """Reject an output file whose folder does not exist or that would overwrite the input."""
    if not output.parent.is_dir():
        raise InputError(f"the output folder {output.parent} does not exist", file=str(output))
    if output.exists() and output.resolve() == input_path.resolve():
        raise InputError("the output file is the input file; choose another output", file=str(output))
    if output.is_dir():
        raise InputError("the output is a folder; name a file, e.g. predictions.jsonl", file=str(output))


@dataclass
class TextChunk:
    """Consecutive records of an input file: their row numbers, texts and (optionally) ids."""

    rows: list[int]
    texts: list[str]
    ids: list[Any] | None


class _ByteCounter(io.RawIOBase):
    """A read-only binary file that counts the bytes read through it (progress of a streamed text file)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class TextFileReader:
    """Stream the text column of a CSV/TSV/JSONL/Parquet file in chunks of `chunk_size` records.

    Opening checks the file (known format, exists, has the text and id columns); iterating yields `TextChunk`s and
    raises `InputError` naming file, row and column at the first bad record. Only one chunk is in memory at a time.
    Progress: `position` of `total`, in `unit`s (bytes of a text file, rows of a Parquet file). Use as a context
    manager (it holds the file open).
    """

    def __init__(self, path: str | Path, text_column: str = "text", chunk_size: int = 10_000,
                 id_column: str | None = None) -> None:
        from sensoryt5.data import input_file_format

        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.path, self.text_column, self.id_column = Path(path), text_column, id_column
        self.chunk_size, self.file = chunk_size, str(path)
        self.format = input_file_format(self.path)
        self._bytes: _ByteCounter | None = None
        self._stream: io.TextIOWrapper | None = None
        self._parquet: Any = None
        try:
            if self.format == "parquet":
                self._open_parquet()
            else:
                self._open_text()
        except BaseException:
            self.close()
            raise

    @property
    def position(self) -> int:
        """Progress so far in `unit`s."""
        return self._bytes.count if self._bytes is not None else self._rows_read

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            self._parquet = pq.ParquetFile(self.path)
        except Exception as error:  # pyarrow raises several types for a damaged or non-Parquet file
            raise InputError(f"cannot read Parquet ({error})", file=self.file) from error
        self._check_columns(self._parquet.schema_arrow.names, header_row=None)
        self.total, self.unit, self._rows_read = self._parquet.metadata.num_rows, "row", 0

    def _open_text(self) -> None:
        self._bytes = _ByteCounter(open(self.path, "rb"))
        self._stream = io.TextIOWrapper(io.BufferedReader(self._bytes), encoding="utf-8-sig",
                                        errors="surrogateescape", newline="")
        self.total, self.unit = self.path.stat().st_size, "B"
        if self.format in ("csv", "tsv"):
            self._delimiter = "," if self.format == "csv" else "\t"
            self._csv = csv.reader(self._stream, delimiter=self._delimiter, strict=True)
            self._header = self._read_header()

    def _read_header(self) -> list[str]:
        from sensoryt5.data.files import checked_header

        try:
            header = next((fields for fields in self._csv if fields), None)
        except csv.Error as error:
            raise InputError(f"cannot parse the header ({error})", file=self.file, row=1) from error
        if header is None:
            raise InputError("the file is empty", file=self.file)
        header = checked_header(self.path, header)
        self._check_columns(header, header_row=self._csv.line_num)
        return header

    def _check_columns(self, present: Sequence[str], header_row: int | None) -> None:
        for column in (self.text_column, self.id_column):
            if column is not None and column not in present:
                listed = ", ".join(map(repr, present)) or "(none)"
                raise InputError(f"no column {column!r}; the columns are {listed}; choose another with "
                                 f"--text-column / text_column=", file=self.file, row=header_row, column=column)

    def __enter__(self) -> TextFileReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._stream is not None:
            self._stream.close()
        elif self._bytes is not None:
            self._bytes.close()
        if self._parquet is not None:
            self._parquet.close()

    def __iter__(self) -> Iterator[TextChunk]:
        records = {"csv": self._delimited_records, "tsv": self._delimited_records, "jsonl": self._jsonl_records,
                   "parquet": self._parquet_records}[self.format]()
        while True:
            chunk = list(itertools.islice(records, self.chunk_size))
            if not chunk:
                return
            rows, texts, ids = zip(*chunk)
            yield TextChunk(list(rows), list(texts), list(ids) if self.id_column is not None else None)

    def _text(self, value: Any, row: int) -> str:
        """A text cell, checked; empty text is allowed."""
        problem = text_problem(value)
        if problem:
            raise InputError(problem, file=self.file, row=row, column=self.text_column)
        return value

    def _delimited_records(self) -> Iterator[tuple[int, str, Any]]:
        """(row, text, id) of each CSV/TSV record; `row` is the line where the record starts."""
        from sensoryt5.data.files import wrong_field_count

        text_at = self._header.index(self.text_column)
        id_at = self._header.index(self.id_column) if self.id_column is not None else None
        start = self._csv.line_num + 1
        try:
            for fields in self._csv:
                if fields:
                    if len(fields) != len(self._header):
                        wrong_field_count(self.path, start, fields, self._header, self._delimiter, None)
                    yield start, self._text(fields[text_at], start), fields[id_at] if id_at is not None else None
                start = self._csv.line_num + 1
        except csv.Error as error:
            raise self._broken_record(error, start) from error

    def _broken_record(self, error: csv.Error, row: int) -> InputError:
        """The InputError for a record the csv module cannot parse, naming the column where quoting breaks."""
        from sensoryt5.data.files import broken_quote_field

        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            line = next(itertools.islice(handle, row - 1, None), "")
        index = broken_quote_field(line.rstrip("\r\n"), self._delimiter)
        column = self._header[index] if index < len(self._header) else None
        return InputError(f"broken quoting ({error}); every quote that opens a field must be closed, and a quote "
                          f"inside a quoted field is written twice (\"\")", file=self.file, row=row, column=column)

    def _jsonl_records(self) -> Iterator[tuple[int, str, Any]]:
        """(line, text, id) of each JSON object; blank lines are skipped."""
        for number, line in enumerate(self._stream, start=1):
            if not line.strip():
                continue
            if number == 1 and line.lstrip().startswith("["):
                raise InputError("this is a JSON array; write one JSON object per line (JSON Lines)",
                                 file=self.file, row=1)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"invalid JSON ({error.msg} at character {error.colno})", file=self.file,
                                 row=number) from error
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object per line, found {type(record).__name__}",
                                 file=self.file, row=number)
            for column in (self.text_column, self.id_column):
                if column is not None and column not in record:
                    keys = ", ".join(map(repr, record)) or "(none)"
                    raise InputError(f"no key {column!r} in this object; its keys are {keys}", file=self.file,
                                     row=number, column=column)
            ident = record[self.id_column] if self.id_column is not None else None
            yield number, self._text(record[self.text_column], number), ident

    def _parquet_records(self) -> Iterator[tuple[int, str, Any]]:
        """(record number, text, id) of each Parquet row, read `chunk_size` rows at a time."""
        columns = [self.text_column] + ([self.id_column] if self.id_column not in (None, self.text_column) else [])
        for batch in self._parquet.iter_batches(batch_size=self.chunk_size, columns=columns):
            texts = batch.column(self.text_column).to_pylist()
            ids = batch.column(self.id_column).to_pylist() if self.id_column is not None else itertools.repeat(None)
            for text, ident in zip(texts, ids):
                self._rows_read += 1
                yield self._rows_read, self._text(text, self._rows_read), ident


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
