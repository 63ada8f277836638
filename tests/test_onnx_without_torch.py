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


def torch_free_path(tmp_path: Path) -> Path:
    """A folder of links to every installed top-level module except torch's (and no .pth files), to put on the
    path of an interpreter started without site-packages (`python -S`): torch is then not installed for it."""
    import numpy

    site = Path(numpy.__file__).resolve().parents[1]
    folder = tmp_path / "site-packages-without-torch"
    folder.mkdir()
    for entry in site.iterdir():
        top = entry.name.split("-")[0].split(".")[0]
        if top in HIDDEN or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def run_torch_free(tmp_path: Path, code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that cannot import torch; fails the test on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{torch_free_path(tmp_path)}",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    done = subprocess.run([sys.executable, "-S", "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
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


def test_exported_folder_predicts_without_torch_or_safetensors(exported, tmp_path):
    from sensoryt5.classifier import SensoryClassifier

    result = json.loads(run_torch_free(tmp_path, PREDICT, str(exported), json.dumps(TEXTS)).stdout)
    assert result["torch"] is False
    assert not (exported / "model.safetensors").exists()
    assert result["onnx_file"] == str(exported / "model.int8.onnx")  # the only ONNX file
    in_process = SensoryClassifier.from_pretrained(exported, backend="onnx").predict_proba(TEXTS)
    np.testing.assert_allclose(result["probabilities"], in_process, atol=1e-6)
