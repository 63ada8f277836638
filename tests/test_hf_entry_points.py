"""A saved model folder through transformers' own entry points (Auto classes, tokenizer output, pipeline), and the
public names of `import sensoryt5`, which must not import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import sensoryt5

TEXTS = ["sweet honey cake at home", "loud thunder noise there", "rotten smelly garbage again"]


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_import_sensoryt5_imports_neither_torch_nor_transformers():
    result = _python("import json, sys, sensoryt5\n"
                     "print(json.dumps([m for m in ('torch', 'transformers') if m in sys.modules]))")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_help_imports_neither_torch_nor_transformers():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "sensoryt5", "--help"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0 and "Usage" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
    assert "sensoryt5.cli" in imported and not imported & {"torch", "transformers"}


def test_public_names_resolve_to_their_objects():
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.data import load_dataset
    from sensoryt5.export import export_onnx
    from sensoryt5.modeling import SensoryConfig, SensoryT5ForSequenceClassification
    from sensoryt5.training import TrainingConfig, train

    assert sensoryt5.SensoryClassifier is SensoryClassifier and sensoryt5.SensoryConfig is SensoryConfig
    assert sensoryt5.SensoryT5ForSequenceClassification is SensoryT5ForSequenceClassification
    assert (sensoryt5.TrainingConfig, sensoryt5.train) == (TrainingConfig, train)
    assert (sensoryt5.load_dataset, sensoryt5.export_onnx) == (load_dataset, export_onnx)
    for name in sensoryt5.__all__:
        assert getattr(sensoryt5, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sensoryt5.nope  # noqa: B018


def test_auto_model_loads_a_folder_after_import_sensoryt5_alone(model_dir, clf):
    code = f"""
import json, sys
import sensoryt5
from transformers import AutoModelForSequenceClassification, AutoTokenizer
assert "sensoryt5.modeling" not in sys.modules  # registered by the import hook, not by importing the model code
model = AutoModelForSequenceClassification.from_pretrained({str(model_dir)!r}).eval()
inputs = AutoTokenizer.from_pretrained({str(model_dir)!r})({TEXTS!r}, padding=True, return_tensors="pt")
print(json.dumps({{"class": type(model).__name__, "probabilities": model(**inputs).logits.softmax(-1).tolist()}}))
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["class"] == "SensoryT5ForSequenceClassification"
    np.testing.assert_allclose(output["probabilities"], clf.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.parametrize("auto", ["AutoTokenizer", "AutoProcessor"])
def test_tokenizer_output_runs_the_model_with_the_folders_sensory_processor(model_dir, clf, auto):
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    inputs = getattr(transformers, auto).from_pretrained(model_dir)(TEXTS, padding=True, return_tensors="pt")
    assert "token_type_ids" in inputs and "sensory" not in inputs
    with torch.inference_mode():
        probabilities = model(**inputs).logits.softmax(-1).numpy()
        features = clf.processor(TEXTS)
        np.testing.assert_array_equal(features["input_ids"].numpy(), inputs["input_ids"].numpy())
        explicit = model(**features).logits.softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, clf.predict_proba(TEXTS), atol=1e-5)
    np.testing.assert_allclose(probabilities, explicit, atol=1e-6)
    assert np.abs(features["sensory"].numpy()).sum() > 0  # the sensory branch had values to compute


def test_model_without_a_processor_folder_asks_for_sensory(model_dir):
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    loaded = SensoryT5ForSequenceClassification.from_pretrained(model_dir)
    model = SensoryT5ForSequenceClassification(loaded.config).eval()  # built from a config: no folder to use
    with pytest.raises(ValueError, match="needs `sensory`.*sensory_processor.json"):
        model(input_ids=torch.tensor([[101, 2000, 102]]))


def test_pipeline_scores_match_predict(model_dir, clf):
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir), device="cpu")
    every = classify(TEXTS, top_k=None)
    best = classify(TEXTS)
    for text, ranked, first, expected in zip(TEXTS, every, best, clf.predict(TEXTS)):
        assert [p["label"] for p in ranked] == [p["label"] for p in expected], text
        np.testing.assert_allclose([p["score"] for p in ranked], [p["score"] for p in expected], atol=1e-5)
        assert first["label"] == expected[0]["label"]
        assert first["score"] == pytest.approx(expected[0]["score"], abs=1e-5)
