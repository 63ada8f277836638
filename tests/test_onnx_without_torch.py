"""An exported folder predicts and serves with onnxruntime alone: no torch (hidden from a fresh interpreter, as in
the minimal install of requirements-onnx.txt) and no model.safetensors; the int8 file is found on its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["sweet honey cake today", "rotten smelly garbage again", "a loud thunder noise at home"]
HIDDEN = ("torch", "functorch", "torchgen")  # the torch distribution's top-level packages

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def torch_free(tmp_path_factory) -> dict[str, str]:
    """The environment of an interpreter, started without site-packages (`python -S`), for which torch is not
    installed: its path holds the source and links to every installed top-level module except torch's (no .pth)."""
    import numpy

    site = Path(numpy.__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("site-packages-without-torch")
    for entry in site.iterdir():
        top = entry.name.split("-")[0].split(".")[0]
        if top in HIDDEN or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (folder / entry.name).symlink_to(entry)
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{folder}", "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def run_torch_free(env: dict[str, str], code: str, *args: str) -> subprocess.CompletedProcess:
    """Run `code` with `args` in a fresh interpreter that cannot import torch; fails the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-S", "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def exported(tmp_path_factory, model_dir) -> Path:
    """A copy of the toy model with only the int8 ONNX file and no model.safetensors."""
    from sensoryt5.export import export_onnx

    folder = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(model_dir, folder)
    export_onnx(folder, int8=True)
    (folder / "model.safetensors").unlink()
    return folder


PREDICT = """
import json, sys
from sensoryt5.classifier import SensoryClassifier
clf = SensoryClassifier.from_pretrained(sys.argv[1], backend="onnx")
print(json.dumps({"probabilities": clf.predict_proba(json.loads(sys.argv[2])).tolist(),
                  "onnx_file": str(clf.onnx_file), "torch": "torch" in sys.modules,
                  "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def test_exported_folder_predicts_without_torch_or_safetensors(exported, torch_free):
    from sensoryt5.classifier import SensoryClassifier

    result = json.loads(run_torch_free(torch_free, PREDICT, str(exported), json.dumps(TEXTS)).stdout)
    assert result["torch"] is False
    assert not (exported / "model.safetensors").exists()
    assert result["onnx_file"] == str(exported / "model.int8.onnx")  # the only ONNX file
    in_process = SensoryClassifier.from_pretrained(exported, backend="onnx").predict_proba(TEXTS)
    np.testing.assert_allclose(result["probabilities"], in_process, atol=1e-6)


CLI = "import sys; from sensoryt5.cli import main; sys.argv[0] = 'sensoryt5'; main()"


def test_cli_predicts_and_evaluates_without_torch_and_names_the_file_once(exported, model_dir, torch_free,
                                                                          tmp_path):
    done = run_torch_free(torch_free, CLI, "predict", str(exported), *TEXTS, "--backend", "onnx", "--json")
    assert [row["text"] for row in json.loads(done.stdout)] == TEXTS
    assert done.stderr.count(f"Running {exported / 'model.int8.onnx'} with onnxruntime") == 1
    data = model_dir.parent / "toy.jsonl"
    done = run_torch_free(torch_free, CLI, "evaluate", str(exported), "--dataset", str(data), "--backend", "onnx",
                          "--output", str(tmp_path / "eval"), "--json")
    assert json.loads(done.stdout)["n"] == len(data.read_text(encoding="utf-8").splitlines())
    assert done.stderr.count("with onnxruntime") == 1
