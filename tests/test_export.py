"""ONNX export: onnxruntime reproduces PyTorch (BERT and T5 paths, every fusion, dynamic batch and length), the
onnx backend of SensoryClassifier, int8 quantisation, OnnxRunner errors and the `sensoryt5 export` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sensoryt5.errors import ModelLoadError
from sensoryt5.export import OnnxRunner, export_model, export_onnx
from sensoryt5.training import TrainingConfig, train

TOLERANCE = 1e-4
SHORT = ["Sweet honey cake!", "The loud crash scared me."]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dev_texts() -> list[str]:
    """ISEAR validation texts (real sentences of many lengths)."""
    from sensoryt5.data import load_dataset

    return list(load_dataset("isear")["validation"]["text"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", "export", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def bert_export(tmp_path_factory, tiny_bert_folder) -> tuple[Path, subprocess.CompletedProcess]:
    """A tiny BERT SensoryT5 (paper fusion, norms) trained for a few seconds, exported fp32 in this process and
    int8 by `sensoryt5 export` (its completed process is returned with the folder)."""
    output = tmp_path_factory.mktemp("export") / "bert"
    train(TrainingConfig(dataset="isear", output=str(output), backbone=str(tiny_bert_folder), seed=3, oov_embedder=None,
                         max_train_samples=64, epochs=1, batch_size=16, max_length=32, early_stopping_patience=None))
    export_onnx(output)
    cli = _cli(str(output), "--format", "onnx", "--int8", "--output", str(output / "int8" / "model.onnx"),
               "--opset", "20")
    return output, cli


@pytest.fixture(scope="module")
def bert_model(bert_export) -> Path:
    """The folder of `bert_export`."""
    return bert_export[0]


@pytest.fixture(scope="module")
def t5_model(tmp_path_factory, tiny_t5_folder, lexicon) -> Path:
    """A tiny random T5 SensoryT5 (paper fusion on decoder states) saved with its processor, exported fp32."""
    from transformers import AutoTokenizer

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    output = tmp_path_factory.mktemp("export") / "t5"
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone(str(tiny_t5_folder), num_labels=7)
    model.save_pretrained(output)
    SensoryProcessor(AutoTokenizer.from_pretrained(tiny_t5_folder), lexicon, max_length=32).save_pretrained(output)
    export_onnx(output)
    return output


def _torch_logits(model, features) -> np.ndarray:
    with torch.inference_mode():
        return model(**features).logits.numpy()


def _assert_matches(model, path: Path, processor, batches: list[list[str]]) -> None:
    """ONNX logits equal PyTorch's within TOLERANCE on every batch, and the batches have distinct shapes."""
    runner = OnnxRunner(path)
    shapes = set()
    for texts in batches:
        features = processor(texts)
        shapes.add(tuple(features["input_ids"].shape))
        logits = runner(features)
        assert logits.shape == (len(texts), model.config.num_labels) and logits.dtype == np.float32
        assert np.abs(logits - _torch_logits(model, features)).max() <= TOLERANCE
    assert len(shapes) == len(batches)


@pytest.mark.parametrize("kind", ["bert", "t5"])
def test_onnx_logits_match_pytorch_at_several_shapes(kind, request, dev_texts):
    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.model_folder import load_model

    folder = request.getfixturevalue(f"{kind}_model")
    model, processor = load_model(folder, device="cpu"), SensoryProcessor.from_pretrained(folder)
    _assert_matches(model, folder / "model.onnx", processor, [SHORT[:1], SHORT, dev_texts[:9], dev_texts[40:73]])


@pytest.mark.parametrize("backbone,mode,fusion,t5_states", [
    ("bert", "none", "paper", "decoder"), ("bert", "norms", "gate", "decoder"), ("bert", "shuffled", "late", "decoder"),
    ("t5", "random", "residual", "encoder"), ("t5", "norms", "input", "decoder"),
])
def test_every_sensory_mode_and_fusion_exports(backbone, mode, fusion, t5_states, bert_model, t5_model, tmp_path,
                                                dev_texts):
    from transformers import AutoConfig

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.modeling import SensoryConfig, SensoryT5ForSequenceClassification

    source = t5_model if backbone == "t5" else bert_model
    processor = SensoryProcessor.from_pretrained(source, sensory_mode="norms" if mode == "none" else mode)
    backbone_config = AutoConfig.from_pretrained(source).backbone_config
    one_block = {"num_layers": 1, "num_decoder_layers": 1} if backbone == "t5" else {"num_hidden_layers": 1}
    backbone_config.update(one_block)  # a faster export
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification(SensoryConfig(
        backbone_config=backbone_config, num_labels=5, sensory_mode=mode, fusion=fusion, t5_states=t5_states)).eval()
    path = export_model(model, processor(SHORT), tmp_path / "model.onnx")
    assert OnnxRunner(path).input_names == ["input_ids", "attention_mask", "sensory"]  # also for mode "none"
    _assert_matches(model, path, processor, [dev_texts[:3], dev_texts[100:117]])


def test_onnx_backend_predicts_like_torch(bert_model, dev_texts):
    from sensoryt5.classifier import SensoryClassifier

    texts = dev_texts[:64]
    with_torch = SensoryClassifier.from_pretrained(bert_model, device="cpu")
    with_onnx = SensoryClassifier.from_pretrained(bert_model, backend="onnx")
    onnx_proba, torch_proba = with_onnx.predict_proba(texts), with_torch.predict_proba(texts)
    assert np.abs(onnx_proba - torch_proba).max() <= 1e-6
    assert [row[0]["label"] for row in with_onnx.predict(texts)] == [row[0]["label"] for row in
                                                                      with_torch.predict(texts)]


def test_int8_file_is_quantised_and_agrees_with_fp32(bert_model, dev_texts):
    import onnx

    from sensoryt5.alignment import SensoryProcessor

    path = bert_model / "int8" / "model.onnx"
    op_types = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= op_types
    processor = SensoryProcessor.from_pretrained(bert_model)
    fp32, int8 = OnnxRunner(bert_model / "model.onnx"), OnnxRunner(path)
    assert int8.labels == fp32.labels == ["joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"]
    features = processor(dev_texts[:200])
    int8_logits, fp32_logits = int8(features), fp32(features)
    assert np.abs(int8_logits - fp32_logits).max() <= 1e-2
    assert np.mean(int8_logits.argmax(1) == fp32_logits.argmax(1)) >= 0.9  # 0.985 when written


def _float_matmuls(path: Path) -> set[str]:
    """Names of the MatMul nodes of an ONNX file that kept a constant float weight."""
    import onnx

    graph = onnx.load(str(path)).graph
    weights = {init.name for init in graph.initializer}
    return {n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights}


def test_feed_forward_matmuls_are_found_by_their_weight_shapes(bert_model):
    from sensoryt5.export import feed_forward_matmuls, fp32_nodes
    from sensoryt5.model_folder import load_model

    backbone = load_model(bert_model, device="cpu").config.backbone_config  # hidden 32, intermediate 64, 2 layers
    ffn = feed_forward_matmuls(bert_model / "model.onnx", backbone)
    assert len(ffn["down"]) == len(ffn["up"]) == 2 and not set(ffn["down"]) & set(ffn["up"])
    assert set(ffn["down"] + ffn["up"]) <= _float_matmuls(bert_model / "model.onnx")
    assert fp32_nodes("none", ffn) == [] and fp32_nodes("ffn-down", ffn) == ffn["down"]
    assert set(fp32_nodes("ffn", ffn)) == set(ffn["down"] + ffn["up"])
    assert feed_forward_matmuls(bert_model / "model.onnx", {"model_type": "other"}) == {"down": [], "up": []}


@pytest.mark.parametrize("min_agreement", [0.0, 1.0])
def test_int8_keeps_feed_forward_layers_in_fp32_only_as_far_as_the_agreement_asks(bert_model, tmp_path,
                                                                                  min_agreement):
    from sensoryt5.export import FP32_LEVELS, feed_forward_matmuls, fp32_nodes
    from sensoryt5.model_folder import load_model

    result = export_onnx(bert_model, tmp_path / "model.onnx", int8=True, min_agreement=min_agreement)
    measured = result.agreement_by_level
    tried = list(measured)
    assert tried == list(FP32_LEVELS[:len(tried)]) and tried[-1] == result.fp32_level
    assert result.agreement == measured[result.fp32_level] and result.agreement_texts > 0
    assert all(share < min_agreement for share in list(measured.values())[:-1])  # each earlier level fell short
    assert result.agreement >= min_agreement or result.fp32_level == FP32_LEVELS[-1]
    if min_agreement == 0.0:
        assert result.fp32_level == "none"
    ffn = feed_forward_matmuls(bert_model / "model.onnx", load_model(bert_model, device="cpu").config.backbone_config)
    kept = _float_matmuls(result.path)
    assert set(fp32_nodes(result.fp32_level, ffn)) <= kept  # the level's MatMuls stayed float32 ...
    assert not (set(ffn["down"] + ffn["up"]) - set(fp32_nodes(result.fp32_level, ffn))) & kept  # ... and only they
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # the levels tried leave nothing behind


def test_runner_refuses_missing_corrupt_and_foreign_files(tmp_path, bert_model):
    import onnx
    from onnx import TensorProto, helper

    from sensoryt5.classifier import SensoryClassifier

    with pytest.raises(ModelLoadError, match="does not exist"):
        OnnxRunner(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes((bert_model / "model.onnx").read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="cannot load the ONNX file"):
        OnnxRunner(corrupt)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(foreign))
    with pytest.raises(ModelLoadError, match="not a sensoryt5 export"):
        OnnxRunner(foreign)
    with pytest.raises(ModelLoadError, match="does not exist"):
        SensoryClassifier.from_pretrained(bert_model, backend="onnx", onnx_file=tmp_path / "absent.onnx")


def test_failed_export_leaves_nothing_behind(bert_model, tmp_path, monkeypatch):
    import sensoryt5.export as export

    def broken(*args, **kwargs):
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(export, "export_model", broken)
    with pytest.raises(RuntimeError, match="exporter failed"):
        export.export_onnx(bert_model, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_cli_exports_a_working_int8_file(bert_export):
    folder, result = bert_export
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Wrote") and "int8" in result.stdout
    assert [p.name for p in (folder / "int8").iterdir()] == ["model.onnx"]  # no staging leftovers


def test_int8_export_reports_its_label_agreement_on_the_dev_split(bert_export, dev_texts):
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.export import AGREEMENT_TEXTS

    folder, result = bert_export
    texts = dev_texts[:AGREEMENT_TEXTS]  # the training data's validation split
    torch_labels = SensoryClassifier.from_pretrained(folder, device="cpu").predict_proba(texts).argmax(1)
    int8 = SensoryClassifier.from_pretrained(folder, backend="onnx", onnx_file=folder / "int8" / "model.onnx")
    share = float((int8.predict_proba(texts).argmax(1) == torch_labels).mean())
    assert f"label agreement with PyTorch {share:.1%} of {len(texts)} texts of isear/validation" in result.stdout


@pytest.mark.parametrize("case", ["missing folder", "existing output", "unknown format", "bad opset",
                                  "agreement above 1", "agreement without int8"])
def test_cli_bad_input_is_one_line_and_exit_2(case, bert_model, tmp_path):
    args = {
        "missing folder": [str(tmp_path / "nowhere")],
        "existing output": [str(bert_model), "--output", str(bert_model / "model.onnx")],
        "unknown format": [str(bert_model), "--format", "tflite", "--output", str(tmp_path / "m.tflite")],
        "bad opset": [str(bert_model), "--opset", "9", "--output", str(tmp_path / "m.onnx")],
        "agreement above 1": [str(bert_model), "--int8", "--min-agreement", "1.5",
                              "--output", str(tmp_path / "m.onnx")],
        "agreement without int8": [str(bert_model), "--min-agreement", "0.9", "--output", str(tmp_path / "m.onnx")],
    }[case]
    result = _cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.stderr
    expected = {"missing folder": "does not exist", "existing output": "--overwrite",
                "unknown format": "unknown export format", "bad opset": "opset 9",
                "agreement above 1": "--min-agreement must be between 0 and 1", "agreement without int8": "add --int8"
                }[case]
    assert expected in lines[0]
