"""An exported folder predicts and serves with onnxruntime alone: no torch and no model.safetensors, in a fresh
interpreter that sees only what requirements-onnx.txt installs; the int8 file is found on its own."""

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

pytestmark = pytest.mark.usefixtures("one_thread")


def _requirements(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def _installed_closure(requirements: list[str]) -> set[str]:
    """The distributions `requirements` install here, with their own requirements (no extras), normalised."""
    import importlib.metadata as metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(name) or [])
    return seen


# Run first in the fresh interpreter: its path keeps the standard library and PYTHONPATH only (the installed
# packages and the editable install's source are dropped; .pth files have run, as at any start).
ISOLATE = ("import os, sys; keep = os.environ['PYTHONPATH'].split(os.pathsep); "
           "sys.path[:] = [p for p in sys.path if p in keep or p.startswith(sys.base_prefix)]\n")


@pytest.fixture(scope="module")
def torch_free(tmp_path_factory) -> dict[str, str]:
    """The environment of the minimal install, for `run_torch_free`: PYTHONPATH holds the source and links to the
    files of exactly the distributions that requirements-onnx.txt installs (with their requirements), so torch
    and every other package is absent."""
    import importlib.metadata as metadata

    closure = _installed_closure(_requirements(ROOT / "requirements-onnx.txt"))
    assert "torch" not in closure
    folder = tmp_path_factory.mktemp("minimal-install")
    for name in closure:
        distribution = metadata.distribution(name)
        for top in {Path(str(file)).parts[0] for file in distribution.files or []} - {"..", "__pycache__"}:
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{folder}", "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def run_torch_free(env: dict[str, str], code: str, *args: str) -> subprocess.CompletedProcess:
    """Run `code` with `args` in a fresh interpreter of the minimal install (`torch_free`), where torch cannot
    be imported; fails the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-c", ISOLATE + TORCH_ABSENT + code, *args], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


TORCH_ABSENT = "import importlib.util; assert importlib.util.find_spec('torch') is None, 'torch is importable'\n"


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


UNKNOWN = ["zorblax", "flibbertigibbet"]  # not in the norms: predicted by the OOV regressor
OOV_TEXTS = ["the zorblax smelled sweet", "a flibbertigibbet at home"]
LOOKUP = """
import json, sys, warnings
warnings.simplefilter("always")
from sensoryt5.classifier import SensoryClassifier
clf = SensoryClassifier.from_pretrained(sys.argv[1], backend="onnx")
lookups = [clf.processor.lexicon.lookup(word) for word in json.loads(sys.argv[2])]
print(json.dumps({"probabilities": clf.predict_proba(json.loads(sys.argv[3])).tolist(),
                  "sources": [w.source for w in lookups], "vectors": [w.vector.tolist() for w in lookups],
                  "torch": "torch" in sys.modules}))
"""


@pytest.fixture(scope="module")
def oov_model(tmp_path_factory, model_dir) -> Path:
    """A copy of the toy model whose processor predicts unknown words (minilm), exported fp32 (which writes
    oov_embedder/ too)."""
    from sensoryt5.export import export_onnx

    folder = tmp_path_factory.mktemp("oov") / "model"
    shutil.copytree(model_dir, folder)
    settings = json.loads((folder / "sensory_processor.json").read_text(encoding="utf-8"))
    (folder / "sensory_processor.json").write_text(json.dumps({**settings, "oov_embedder": "minilm"}),
                                                   encoding="utf-8")
    assert export_onnx(folder).oov_embedder == folder / "oov_embedder"
    return folder


def _without(folder: Path, tmp_path: Path, *names: str) -> Path:
    """A copy of `folder` lacking the files or folders `names`."""
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(*names))
    return copy


def test_unknown_words_are_predicted_without_torch_as_with_it(oov_model, torch_free, tmp_path):
    from sensoryt5.classifier import SensoryClassifier

    reference = SensoryClassifier.from_pretrained(oov_model, device="cpu")  # PyTorch, MiniLM in PyTorch
    expected = [reference.processor.lexicon.lookup(word) for word in UNKNOWN]
    assert [w.source for w in expected] == ["predicted"] * len(UNKNOWN)
    folder = _without(oov_model, tmp_path, "model.safetensors")
    result = json.loads(run_torch_free(torch_free, LOOKUP, str(folder), json.dumps(UNKNOWN),
                                       json.dumps(OOV_TEXTS)).stdout)
    assert result["torch"] is False and result["sources"] == ["predicted"] * len(UNKNOWN)
    np.testing.assert_allclose(result["vectors"], [w.vector for w in expected], atol=1e-4)
    np.testing.assert_allclose(result["probabilities"], reference.predict_proba(OOV_TEXTS), atol=1e-4)


def test_without_the_onnx_embedder_or_torch_unknown_words_are_missing_with_one_warning(oov_model, torch_free,
                                                                                        tmp_path):
    folder = _without(oov_model, tmp_path, "model.safetensors", "oov_embedder")
    done = run_torch_free(torch_free, LOOKUP, str(folder), json.dumps(UNKNOWN), json.dumps(OOV_TEXTS))
    result = json.loads(done.stdout)
    assert result["sources"] == ["missing"] * len(UNKNOWN) and len(result["probabilities"]) == len(OOV_TEXTS)
    assert done.stderr.count("RuntimeWarning") == 1 and "torch is not installed" in done.stderr


def test_serve_answers_without_torch(exported, torch_free):
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", ISOLATE + TORCH_ABSENT + CLI, "serve", str(exported), "--port", str(port),
               "--backend", "onnx"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=torch_free)
    try:
        for _ in range(600):
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"texts": TEXTS}, timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within a minute")
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == len(TEXTS)
    assert log.count(f"Running {exported / 'model.int8.onnx'} with onnxruntime") == 1


@pytest.mark.parametrize("args, message", [
    (["--backend", "tflite"], "--backend 'tflite': choose from torch, onnx"),
    (["--backend", "onnx", "--device", "cpu"], "--device cpu applies to --backend torch only"),
])
@pytest.mark.parametrize("command", ["predict", "evaluate", "serve"])
def test_bad_backend_is_one_line_naming_the_flag(command, args, message, exported):
    extra = {"predict": ["a text"], "evaluate": ["--dataset", "isear"], "serve": []}[command]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sensoryt5", command, str(exported), *extra, *args],
                          capture_output=True, text=True, env=env, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr


EVERY_PATH = """
import json, sys
from pathlib import Path
from sensoryt5.classifier import SensoryClassifier
from sensoryt5.evaluation import evaluate
from sensoryt5.serving import create_app
import sensoryt5.cli
folder, data, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
clf = SensoryClassifier.from_pretrained(folder, backend="onnx")
clf.predict(["the zorblax smelled sweet"])
clf.predict_file(data, out / "predictions.parquet")
evaluate(folder, data, classifier=clf, output_dir=out / "eval")
create_app(clf)
sensoryt5.cli._register()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""



def test_the_minimal_install_runs_every_onnx_path(oov_model, model_dir, torch_free, tmp_path):
    folder = _without(oov_model, tmp_path, "model.safetensors")
    modules = json.loads(run_torch_free(torch_free, EVERY_PATH, str(folder), str(model_dir.parent / "toy.jsonl"),
                                        str(tmp_path)).stdout)
    assert "torch" not in modules and (tmp_path / "predictions.parquet").is_file()


def test_requirements_onnx_pin_what_pyproject_pins():
    import tomllib
    from packaging.requirements import Requirement

    base = {Requirement(r).name: Requirement(r) for r in
            tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]}
    for line in _requirements(ROOT / "requirements-onnx.txt"):
        requirement = Requirement(line)
        assert requirement.name in base and requirement.specifier == base[requirement.name].specifier, line


def test_an_onnx_classifier_loads_the_pytorch_model_only_when_asked(model_dir, exported):
    import torch

    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.errors import InputError, ModelLoadError

    onnx = SensoryClassifier.from_pretrained(model_dir, backend="onnx", onnx_file=exported / "model.int8.onnx")
    assert onnx._model is None
    with pytest.raises(InputError, match="explain needs the torch backend"):
        onnx.explain(TEXTS[0])
    reference = SensoryClassifier.from_pretrained(model_dir, device="cpu").model
    assert all(torch.equal(a, b) for a, b in zip(onnx.model.state_dict().values(), reference.state_dict().values()))
    with pytest.raises(ModelLoadError, match="the PyTorch model needs its weights.*model.safetensors is missing"):
        assert SensoryClassifier.from_pretrained(exported, backend="onnx").model is None  # raises first


def test_the_onnx_file_is_model_onnx_then_the_int8_file_and_its_absence_says_what_to_run(exported, tmp_path):
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.errors import ModelLoadError

    both = tmp_path / "both"
    shutil.copytree(exported, both)
    shutil.copy(both / "model.int8.onnx", both / "model.onnx")
    assert SensoryClassifier.from_pretrained(both, backend="onnx").onnx_file == both / "model.onnx"
    (both / "model.onnx").unlink()
    (both / "model.int8.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"has no ONNX file \(model.onnx or model.int8.onnx\); write one with "
                                             r"`sensoryt5 export"):
        SensoryClassifier.from_pretrained(both, backend="onnx")


def test_export_agreement_options_need_int8(exported, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sensoryt5", "export", str(exported), "--output",
                           str(tmp_path / "m.onnx"), "--dataset", "isear"], capture_output=True, text=True, env=env,
                          timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert "--dataset, --split and --min-agreement are for the int8" in lines[0]
    assert not (tmp_path / "m.onnx").exists()
