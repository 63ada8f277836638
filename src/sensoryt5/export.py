"""Export a saved SensoryT5 model to ONNX (`sensoryt5 export`); `sensoryt5.exported.OnnxRunner` runs the file.

The graph takes `input_ids` [batch, seq] int64, `attention_mask` [batch, seq] int64 and `sensory`
[batch, seq, n_sensory] float32, and returns `logits` [batch, num_labels] float32; `batch` and `seq` are dynamic.
Every export declares all three inputs, `sensory_mode="none"` included (its graph ignores `sensory`), so that all
exports are called the same way.

Exporter: `torch.onnx.export(..., dynamo=True)` (torch.export + onnxscript). With torch 2.13 and transformers 5 the
TorchScript exporter (`dynamo=False`) writes wrong logits (max |difference| 4e-3 to 1e-1 on tiny BERT and T5
models, at the traced shape too), while the dynamo graph matches PyTorch to about 1e-7 at every batch size and
length. T5's SDPA attention does not survive torch.export's decompositions with a dynamic length (a `view` of a
transposed tensor), so the backbone is exported with its eager attention (the same computation).

`int8=True` applies onnxruntime dynamic quantisation: int8 weights (per output channel) for the MatMuls with a
constant weight, activations quantised per batch at run time; embeddings and the attention products stay float32.
Its label agreement with PyTorch is measured: the share of dev texts (the validation split of the data set recorded
in train_metrics.json, or the one given; at most `AGREEMENT_TEXTS`) whose predicted label (the label set, for
multi-label models) is the same. The file keeps the fewest MatMuls in float32 whose agreement reaches
`min_agreement`, trying in turn the levels of `FP32_LEVELS`: none, the feed-forward down-projections (their input,
after the activation function, has the outliers that one per-batch activation scale handles worst), then both
feed-forward MatMuls. On the `onnx_speed` benchmark's model the three levels agreed on 95.3%, 97.7% and 98.3% of
ISEAR dev texts and ran at 1.54x, 1.36x and 1.15x PyTorch's speed (BENCHMARKS.md). A model that predicts unknown
words also gets MODEL_DIR/oov_embedder/ (`export_embedder`; see `sensoryt5.oov_onnx`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from sensoryt5.atomic import default_mode
from sensoryt5.errors import InputError, option
from sensoryt5.exported import INPUT_DTYPES, OUTPUT_NAME, OnnxRunner, as_array

FORMATS: tuple[str, ...] = ("onnx",)
DEFAULT_OPSET = 18  # the opset the dynamo exporter writes natively; others go through the ONNX version converter
MIN_OPSET, MAX_OPSET = 18, 22  # 23+ use an Attention op whose mask shape onnxruntime 1.32 rejects
VERIFY_TOLERANCE = 1e-3  # max |logit difference| of an fp32 export against PyTorch before a file is kept
# Texts that trace the graph (2 texts: torch.export would fix a size-1 batch) and then check it at another shape.
EXAMPLE_TEXTS = ("I felt the warm sun on my face at the beach.", "The loud crash scared me.")
CHECK_TEXTS = ("When my friend lied to me I was furious and bitter.", "Sweet honey cake!",
               "I heard a strange noise in the dark house and smelled smoke, and I could not move at all.")
_QUIET_LOGGERS = ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")
EMBEDDER_TOLERANCE = 1e-4  # max |feature difference| of the OOV embedder against PyTorch before it is kept
# Words that trace the OOV embedder's graph, and words (other lengths, sub-word splits) that check it.
EMBEDDER_EXAMPLE_WORDS = ("sunshine", "zorblax")
EMBEDDER_CHECK_WORDS = ("flibbertigibbet", "smartphone", "cat", "unputdownable", "hyperloop", "très", "e-scooter")
AGREEMENT_SPLIT = "validation"
AGREEMENT_TEXTS = 1000  # the first texts of the dev split that the int8 agreement is measured on
MIN_AGREEMENT = 0.98  # the dev label agreement an int8 file keeps MatMuls in float32 to reach (0: quantise them all)
# Which MatMuls an int8 file keeps in float32, tried in this order (fastest first) until `min_agreement` is reached.
FP32_LEVELS: tuple[str, ...] = ("none", "ffn-down", "ffn")
FP32_LEVEL_NAMES = {"none": "every MatMul in int8", "ffn-down": "feed-forward down-projections kept in float32",
                    "ffn": "feed-forward layers kept in float32"}
# (model width, feed-forward width) keys of backbone configs: T5, BERT-family, DistilBERT
_FFN_DIM_KEYS = (("d_model", "d_ff"), ("hidden_size", "intermediate_size"), ("dim", "hidden_dim"))


@dataclass
class ExportResult:
    """What `export_onnx` wrote and how closely the file reproduces PyTorch on `CHECK_TEXTS`."""

    path: Path
    size_bytes: int
    int8: bool
    opset: int
    max_abs_diff: float  # of the fp32 graph's logits against PyTorch
    int8_max_abs_diff: float | None = None  # of the int8 graph's logits against PyTorch
    agreement: float | None = None  # int8: share of `agreement_texts` dev texts predicted the same as by PyTorch
    agreement_texts: int = 0
    agreement_data: str | None = None  # "DATASET/SPLIT" of those texts, or why agreement was not measured
    fp32_level: str | None = None  # int8: which MatMuls stayed float32 (one of FP32_LEVELS)
    agreement_by_level: dict[str, float] | None = None  # int8: the dev agreement of each level tried, in order
    oov_embedder: Path | None = None  # MODEL_DIR/oov_embedder when the processor predicts unknown words
    oov_embedder_written: bool = False  # False: an existing one was kept


def default_output(model_dir: str | Path, int8: bool = False) -> Path:
    """Where `sensoryt5 export` writes by default: MODEL_DIR/model.onnx (model.int8.onnx with `int8`)."""
    return Path(model_dir) / ("model.int8.onnx" if int8 else "model.onnx")


def _logits_module(model: Any) -> Any:
    """`model` as a module mapping (input_ids, attention_mask, sensory) to logits only."""
    from torch import nn

    class LogitsOnly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, sensory: Any) -> Any:
            sensory = sensory if self.model.fusion is not None else None
            return self.model(input_ids=input_ids, attention_mask=attention_mask, sensory=sensory).logits

    return LogitsOnly().eval()


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """The exporter's logs and warnings silenced; restored afterwards."""
    loggers = {name: logging.getLogger(name) for name in _QUIET_LOGGERS}
    levels = {name: logger.level for name, logger in loggers.items()}
    try:
        for logger in loggers.values():
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


@contextmanager
def _export_mode(model: Any) -> Iterator[None]:
    """Eager attention in the backbone, and the exporter quiet (`quiet_exporter`); all restored afterwards."""
    backbone = model.backbone
    attention = backbone.config._attn_implementation
    try:
        backbone.set_attn_implementation("eager")
        with quiet_exporter():
            yield
    finally:
        backbone.set_attn_implementation(attention)


def export_model(model: Any, example: Mapping[str, Any], path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write `model` (a SensoryT5ForSequenceClassification; moved in place to CPU, float32, eval mode) as an fp32
    ONNX graph at `path`.

    `example` is a processed batch of at least 2 texts padded to at least 2 tokens (sizes 0 and 1 would be fixed
    in the graph). Writes `path` directly (plus `path.data` for models over 2 GB); `export_onnx` adds the atomic
    rename. Returns `path`.
    """
    import torch

    model = model.float().cpu().eval()
    names = list(INPUT_DTYPES)
    example = {name: torch.as_tensor(as_array(example[name], INPUT_DTYPES[name])) for name in names}
    if example["input_ids"].shape[0] < 2 or example["input_ids"].shape[1] < 2:
        raise ValueError(f"the example batch must hold at least 2 texts of at least 2 tokens, got "
                         f"{tuple(example['input_ids'].shape)}")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    with _export_mode(model):
        program = torch.onnx.export(
            _logits_module(model), (), kwargs=example, input_names=names, output_names=[OUTPUT_NAME],
            dynamic_shapes={name: {0: batch, 1: seq} for name in names}, opset_version=opset, dynamo=True,
            optimize=True, verbose=False,
        )
    config = model.config
    program.model.metadata_props.update({
        "sensoryt5.labels": json.dumps([config.id2label[i] for i in range(config.num_labels)]),
        "sensoryt5.problem_type": config.problem_type,
        "sensoryt5.sensory_mode": config.sensory_mode,
        "sensoryt5.sensory_dims": json.dumps(list(config.sensory_dims)),
        "sensoryt5.fusion": config.fusion,
    })
    program.save(str(path))
    return Path(path)


def feed_forward_matmuls(path: str | Path, backbone_config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Names of the MatMul nodes of the ONNX file at `path` whose constant weight is a feed-forward projection:
    {"down": [...], "up": [...]}, found by the weight's shape ([d_ff, d_model] down, [d_model, d_ff] up, with the
    widths read from `backbone_config`; both empty when the config names neither width)."""
    import onnx

    dims = next(((backbone_config[m], backbone_config[f]) for m, f in _FFN_DIM_KEYS
                 if m in backbone_config and f in backbone_config), None)
    found: dict[str, list[str]] = {"down": [], "up": []}
    if dims is None or dims[0] == dims[1]:
        return found
    d_model, d_ff = dims
    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2:
            shape = shapes.get(node.input[1])
            if shape == [d_ff, d_model]:
                found["down"].append(node.name)
            elif shape == [d_model, d_ff]:
                found["up"].append(node.name)
    return found


def fp32_nodes(level: str, ffn: Mapping[str, list[str]]) -> list[str]:
    """The MatMul nodes that `level` (one of FP32_LEVELS) keeps in float32, given `feed_forward_matmuls`."""
    return {"none": [], "ffn-down": list(ffn["down"]), "ffn": list(ffn["down"]) + list(ffn["up"])}[level]


def quantize_int8(source: str | Path, destination: str | Path, keep_fp32: list[str] | None = None) -> Path:
    """Dynamic int8 quantisation of an fp32 export (weights of constant-weight MatMuls, per channel), leaving the
    MatMul nodes named in `keep_fp32` in float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, destination = Path(source), Path(destination)
    large = source.with_name(source.name + ".data").exists()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint through the root logger
    try:
        quantize_dynamic(source, destination, op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8, use_external_data_format=large,
                         nodes_to_exclude=list(keep_fp32 or []),
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)
    return destination


def max_abs_difference(model: Any, path: str | Path, features: Mapping[str, Any]) -> float:
    """Max |logit difference| between `model` in PyTorch and the ONNX file at `path` on one processed batch."""
    import torch

    with torch.inference_mode():
        reference = model(**{k: v.to(model.device) for k, v in features.items()}).logits.float().cpu().numpy()
    return float(np.abs(OnnxRunner(path, providers=["CPUExecutionProvider"])(features) - reference).max())


def predicted_labels(logits: np.ndarray, thresholds: list[float] | None) -> list[tuple[int, ...]]:
    """Per text, its predicted label indices as `SensoryClassifier.predict` reports them: the first largest softmax
    probability of logits [N, C] (`thresholds` None; two labels can tie in float32 where their logits do not),
    else those whose sigmoid reaches their threshold."""
    from sensoryt5.classifier import _softmax

    if thresholds is None:
        return [(int(i),) for i in _softmax(logits.astype(np.float32)).argmax(axis=1)]
    over = 1.0 / (1.0 + np.exp(-logits)) >= np.asarray(thresholds)  # [N, C]
    return [tuple(int(i) for i in np.flatnonzero(row)) for row in over]


def reference_labels(model: Any, processor: Any, texts: list[str], batch_size: int = 32
                     ) -> list[tuple[Any, list[tuple[int, ...]]]]:
    """`texts` processed in the batches `SensoryClassifier.predict` makes (int8 activations are quantised per
    batch, so a batch's padding can tip a near tie), each with PyTorch's predicted labels (`predicted_labels`)."""
    import torch

    from sensoryt5.classifier import length_sorted_batches

    batches = []
    for idx in length_sorted_batches(processor.token_counts(texts), batch_size):
        features = processor([texts[i] for i in idx])
        with torch.inference_mode():
            logits = model(**{k: v.to(model.device) for k, v in features.items()}).logits.float().cpu().numpy()
        batches.append((features, predicted_labels(logits, label_thresholds(model.config))))
    return batches


def label_thresholds(config: Any) -> list[float] | None:
    """A multi-label model's per-label thresholds (0.5 where none were tuned); None for a single-label model."""
    if config.problem_type != "multi_label_classification":
        return None
    return list(config.label_thresholds or [0.5] * config.num_labels)


def label_agreement(reference: list[tuple[Any, list[tuple[int, ...]]]], path: str | Path,
                    thresholds: list[float] | None) -> float:
    """Share of the texts of `reference` (see `reference_labels`) whose predicted label (label set, with
    `thresholds`) is the same in the ONNX file at `path` as in PyTorch."""
    runner = OnnxRunner(path, providers=["CPUExecutionProvider"])
    same = total = 0
    for features, expected in reference:
        same += sum(a == b for a, b in zip(expected, predicted_labels(runner(features), thresholds)))
        total += len(expected)
    return same / total


def quantize_to_agreement(model: Any, processor: Any, fp32: Path, target: Path, texts: list[str],
                          min_agreement: float) -> tuple[str, dict[str, float]]:
    """Write the int8 file `target` from the fp32 export `fp32` with the first level of FP32_LEVELS whose dev
    label agreement on `texts` reaches `min_agreement` (the last level if none does; the first, unmeasured, if
    there are no texts). Returns the level and the agreement of each level tried."""
    ffn = feed_forward_matmuls(fp32, model.config.backbone_config or {})
    levels = [level for level in FP32_LEVELS if level == "none" or ffn["down"]]
    reference = reference_labels(model, processor, texts) if texts else []
    measured: dict[str, float] = {}
    for level in levels:
        candidate = target.parent / level / target.name
        candidate.parent.mkdir(exist_ok=True)
        quantize_int8(fp32, candidate, fp32_nodes(level, ffn))
        if reference:
            measured[level] = label_agreement(reference, candidate, label_thresholds(model.config))
        if not reference or measured[level] >= min_agreement or level == levels[-1]:
            break
        shutil.rmtree(candidate.parent)
    for file in candidate.parent.iterdir():
        os.replace(file, target.parent / file.name)
    return level, measured


def dev_texts(folder: Path, dataset: str | None = None, split: str = AGREEMENT_SPLIT) -> tuple[list[str], str]:
    """The first `AGREEMENT_TEXTS` texts of `split` of `dataset` (default: the data set recorded in the folder's
    train_metrics.json) and "DATASET/SPLIT"; ([], reason) when no data set is recorded or it cannot be found."""
    from sensoryt5.evaluation import load_split, recorded_data_options
    from sensoryt5.model_folder import METRICS_FILE

    given = dataset is not None
    if dataset is None:
        metrics = folder / METRICS_FILE
        recorded = json.loads(metrics.read_text(encoding="utf-8")).get("config", {}) if metrics.is_file() else {}
        dataset = recorded.get("dataset")
        if not dataset:
            return [], f"no data set recorded in {METRICS_FILE}; pass --dataset"
    try:
        part, _, split = load_split(dataset, split, recorded_data_options(folder))
    except (InputError, OSError, ValueError) as error:
        if given:
            raise InputError(f"--dataset {dataset} --split {split}: {error}") from error
        return [], f"the training data {dataset} cannot be read ({error}); pass --dataset"
    return list(part["text"])[:AGREEMENT_TEXTS], f"{dataset}/{split}"


@contextmanager
def _staged(output: Path) -> Iterator[Path]:
    """A path named like `output` in a temporary folder beside it; on success the folder's files replace
    `output` (an external weights file first, the graph last); the folder is always removed."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
    try:
        target = staging / output.name
        yield target
        for extra in staging.iterdir():
            if extra.is_file() and extra != target:
                os.chmod(extra, default_mode())
                os.replace(extra, output.parent / extra.name)
        os.chmod(target, default_mode())
        os.replace(target, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_export_options(model_dir: str | Path, output: str | Path, fmt: str = "onnx", opset: int = DEFAULT_OPSET,
                         overwrite: bool = False) -> Path:
    """Validate `sensoryt5 export` options before any heavy import; InputError/ModelLoadError name the problem."""
    from sensoryt5.model_folder import check_model_folder

    if fmt.lower() not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InputError(f"opset {opset} is not supported; choose {MIN_OPSET} to {MAX_OPSET}")
    folder = check_model_folder(model_dir)
    output = Path(output)
    if output.is_dir():
        raise InputError(f"output {output} is a folder; give a file name such as {output / 'model.onnx'}")
    if output.exists() and not overwrite:
        raise InputError(f"output {output} already exists; pass --overwrite to replace it")
    return folder


def export_onnx(model_dir: str | Path, output: str | Path | None = None, *, int8: bool = False,
                opset: int = DEFAULT_OPSET, overwrite: bool = False, fmt: str = "onnx", dataset: str | None = None,
                split: str = AGREEMENT_SPLIT, min_agreement: float = MIN_AGREEMENT) -> ExportResult:
    """Export the model folder `model_dir` to ONNX at `output` (default `default_output`), fp32 or `int8`.

    The file is written under a temporary name and renamed into place only after its fp32 graph matched PyTorch
    on `CHECK_TEXTS` (a different batch size and length than the traced example) within `VERIFY_TOLERANCE`.
    An int8 file's label agreement with PyTorch is measured on `split` of `dataset` (see `dev_texts`), and
    feed-forward MatMuls stay float32 as far as needed to reach `min_agreement` (see `quantize_to_agreement`). When the
    processor predicts unknown words, MODEL_DIR/oov_embedder/ is written too (kept if present, unless
    `overwrite`), so that the folder predicts them without torch (see `sensoryt5.oov_onnx`).
    """
    output = Path(output) if output is not None else default_output(model_dir, int8)
    if not 0.0 <= min_agreement <= 1.0:
        raise InputError(f"{option('min_agreement')} must be between 0 and 1, not {min_agreement:g}")
    folder = check_export_options(model_dir, output, fmt, opset, overwrite)
    texts, data = dev_texts(folder, dataset, split) if int8 else ([], None)

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.model_folder import load_model

    model = load_model(folder, device="cpu").float()
    processor = SensoryProcessor.from_pretrained(folder)
    check = processor(list(CHECK_TEXTS))
    with _staged(output) as target:
        fp32 = target if not int8 else target.parent / "fp32" / target.name
        fp32.parent.mkdir(exist_ok=True)
        export_model(model, processor(list(EXAMPLE_TEXTS)), fp32, opset)
        diff = max_abs_difference(model, fp32, check)
        if not diff <= VERIFY_TOLERANCE:
            raise RuntimeError(f"the ONNX graph of {folder} differs from PyTorch by {diff:.3g} (> "
                               f"{VERIFY_TOLERANCE:g}); please report this as a sensoryt5 bug")
        int8_diff = agreement = level = measured = None
        if int8:
            level, measured = quantize_to_agreement(model, processor, fp32, target, texts, min_agreement)
            shutil.rmtree(fp32.parent)
            int8_diff = max_abs_difference(model, target, check)
            agreement = measured.get(level)
        embedder, written = _write_oov_embedder(folder, processor, overwrite)
    return ExportResult(path=output, size_bytes=output.stat().st_size, int8=int8, opset=opset, max_abs_diff=diff,
                        int8_max_abs_diff=int8_diff, agreement=agreement, agreement_texts=len(texts),
                        agreement_data=data, fp32_level=level, agreement_by_level=measured,
                        oov_embedder=embedder, oov_embedder_written=written)


def _write_oov_embedder(folder: Path, processor: Any, overwrite: bool) -> tuple[Path | None, bool]:
    """FOLDER/oov_embedder for a processor that predicts unknown words (None otherwise), and whether it was
    written now (an existing one is kept unless `overwrite`)."""
    from sensoryt5.oov_onnx import EMBEDDER_FILE, EMBEDDER_FOLDER

    if processor.lexicon.oov_embedder is None:
        return None, False
    path = folder / EMBEDDER_FOLDER
    if (path / EMBEDDER_FILE).is_file() and not overwrite:
        return path, False
    return export_embedder(path), True


def export_embedder(output: str | Path) -> Path:
    """Write the MiniLM of `MiniLMEmbedder` as FOLDER/`EMBEDDER_FILE` with its tokenizer files into `output`
    (replaced), after checking its features against PyTorch on `EMBEDDER_CHECK_WORDS`; returns `output`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from sensoryt5.backbones import quiet_weight_loading, resolve_backbone
    from sensoryt5.oov_onnx import EMBEDDER_FILE, INPUT_NAMES
    from sensoryt5.oov_onnx import OUTPUT_NAME as STATES

    output = Path(output)
    staging = output.with_name(f".{output.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        path = resolve_backbone("minilm")
        tokenizer = AutoTokenizer.from_pretrained(path)
        with quiet_weight_loading():
            model = AutoModel.from_pretrained(path, attn_implementation="eager").float().eval()
        tokenizer.save_pretrained(str(staging))
        example = tokenizer(list(EMBEDDER_EXAMPLE_WORDS), padding=True, return_tensors="pt")
        dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")}
        with quiet_exporter():
            program = torch.onnx.export(_states_module(model), (), kwargs={n: example[n] for n in INPUT_NAMES},
                                        input_names=list(INPUT_NAMES), output_names=[STATES],
                                        dynamic_shapes={n: dims for n in INPUT_NAMES}, dynamo=True, optimize=True,
                                        verbose=False)
        program.save(str(staging / EMBEDDER_FILE))
        _check_embedder(staging)
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


def _check_embedder(folder: Path) -> None:
    """RuntimeError unless the ONNX embedder in `folder` gives PyTorch's features on `EMBEDDER_CHECK_WORDS`."""
    from sensoryt5.oov import MiniLMEmbedder
    from sensoryt5.oov_onnx import OnnxMiniLMEmbedder

    reference = MiniLMEmbedder().embed(list(EMBEDDER_CHECK_WORDS))
    exported = OnnxMiniLMEmbedder(folder).embed(list(EMBEDDER_CHECK_WORDS))
    diff = max(float(np.abs(reference.dense - exported.dense).max()),
               float(np.abs(reference.keys - exported.keys).max()))
    if not diff <= EMBEDDER_TOLERANCE:
        raise RuntimeError(f"the ONNX OOV embedder differs from PyTorch by {diff:.3g} (> {EMBEDDER_TOLERANCE:g}); "
                           "please report this as a sensoryt5 bug")


def _states_module(model: Any) -> Any:
    """`model` as a module mapping (input_ids, attention_mask, token_type_ids) to its stacked hidden states
    [batch, 7, seq, 384]."""
    import torch
    from torch import nn

    class AllStates(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             output_hidden_states=True)
            return torch.stack(out.hidden_states, 1)

    return AllStates().eval()
