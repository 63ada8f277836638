"""A corpus of bad input across the command line, the Python API and the HTTP API; one test id per case.

Contract: the CLI exits with code 2 and prints one line, `error: ...`, on stderr (no traceback); the Python API raises
`SensoryT5Error`, `ValueError` or `TypeError` with a message that names the problem; the HTTP API answers 4xx with a
JSON `{"error": ...}`, never 500. Model folders load from safetensors only and a pickle is never unpickled.

CLI cases run the real entry point, `sensoryt5.cli.main`, in this process (an exception escaping it is the traceback
a user would see); `test_in_process_cli_matches_a_real_process` checks that against a subprocess.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sensoryt5.classifier import SensoryClassifier
from sensoryt5.errors import InputError, ModelLoadError, SensoryT5Error
from sensoryt5.serving import create_app

MAX_BATCH, MAX_LENGTH = 8, 100


@pytest.fixture(scope="module")
def client(clf):
    with TestClient(create_app(clf, max_batch_size=MAX_BATCH, max_text_length=MAX_LENGTH),
                    raise_server_exceptions=False) as client:
        yield client


@dataclass(frozen=True)
class Env:
    """What a case builds on: a trained model folder, a plain BERT folder, a scratch folder."""

    model: Path
    bert: Path
    tmp: Path


class Unpickled:
    """Unpickling this object creates `marker` (proof that a loader unpickled a file it should have refused)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def damaged_model(env: Env, damage: Callable[[Path], None]) -> Path:
    """A copy of the trained model folder with `damage` applied."""
    folder = env.tmp / "damaged"
    shutil.copytree(env.model, folder)
    damage(folder)
    return folder


def write_pickle(folder: Path, name: str = "pytorch_model.bin") -> None:
    """Put a pickle that would leave `UNPICKLED` behind into `folder`."""
    (folder / name).write_bytes(pickle.dumps(Unpickled(folder / "UNPICKLED")))


def pickle_only(folder: Path) -> None:
    (folder / "model.safetensors").unlink()
    write_pickle(folder)


def pickle_beside_truncated_safetensors(folder: Path) -> None:
    truncate(folder)
    write_pickle(folder)


def truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def scramble(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(np.random.default_rng(0).bytes(weights.stat().st_size))


def write(folder: Path, name: str, content: str | bytes) -> None:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def data_file(env: Env, name: str, content: str | bytes) -> str:
    """A file in the scratch folder; its path."""
    write(env.tmp, name, content)
    return str(env.tmp / name)


def binary_garbage() -> bytes:
    return np.random.default_rng(1).bytes(3000)


# ------------------------------------------------------------------------------------------------ command line


@dataclass(frozen=True)
class CliCase:
    """`sensoryt5 ARGS` (built from an `Env`) must fail with one `error:` line containing `message`."""

    name: str
    args: Callable[[Env], list[str]]
    message: str
    fresh_process: bool = False  # run as a subprocess: what it prints comes from a logger set up at import


def _predict_file(env: Env, name: str, content: str | bytes) -> list[str]:
    return ["predict", str(env.model), "--input", data_file(env, name, content), "--output",
            str(env.tmp / "out.jsonl")]


def _train(env: Env, *options: str, dataset: str = "isear") -> list[str]:
    return ["train", "--dataset", dataset, "--output", str(env.tmp / "trained"), "--backbone", str(env.bert),
            "--oov", "none", "--max-train-samples", "16", "--epochs", "1", *options]


def _model(damage: Callable[[Path], None], command: str = "predict") -> Callable[[Env], list[str]]:
    def args(env: Env) -> list[str]:
        return [command, str(damaged_model(env, damage)), *(["some text"] if command != "serve" else [])]

    return args


CLI_CASES = [
    CliCase("predict-input-binary-garbage", lambda e: _predict_file(e, "garbage.csv", binary_garbage()), "garbage.csv"),
    CliCase("predict-input-not-utf8", lambda e: _predict_file(e, "latin1.csv", "text\ncafé\n".encode("latin-1")),
            "byte 0xe9 is not valid UTF-8"),
    CliCase("predict-input-broken-quoting", lambda e: _predict_file(e, "quote.csv", 'text\n"never closed\n'),
            "broken quoting"),
    CliCase("predict-input-wrong-column", lambda e: _predict_file(e, "nokey.jsonl", '{"body": "hello"}\n'),
            "no key 'text'"),
    CliCase("predict-input-wrong-json-type", lambda e: _predict_file(e, "list.jsonl", '{"text": ["a", "b"]}\n'),
            "text is a list, not a string"),
    CliCase("predict-input-json-array", lambda e: _predict_file(e, "array.jsonl", '[{"text": "a"}]\n'),
            "JSON array"),
    CliCase("predict-input-is-a-folder",
            lambda e: ["predict", str(e.model), "--input", str(e.model), "--output", str(e.tmp / "out.jsonl")],
            "folder"),
    CliCase("predict-output-is-a-folder",
            lambda e: ["predict", str(e.model), "--input", data_file(e, "in.csv", "text\nhello\n"), "--output",
                       str(e.tmp)], "the output is a folder"),
    CliCase("predict-nothing-to-predict", lambda e: ["predict", str(e.model)], "nothing to predict"),
    CliCase("predict-argument-not-utf8", lambda e: ["predict", str(e.model), "caf\udce9"],
            "byte 0xe9 is not valid UTF-8"),
    CliCase("explain-argument-lone-surrogate", lambda e: ["explain", str(e.model), "bad \ud800"], "lone surrogate"),
    CliCase("model-empty-folder", lambda e: ["explain", str(e.tmp), "some text"], "config.json is missing"),
    CliCase("model-path-is-a-file", lambda e: ["predict", str(e.model / "config.json"), "some text"],
            "is a file"),
    CliCase("model-config-not-json", _model(lambda f: write(f, "config.json", "{not json")),
            "config.json is not a valid JSON object"),
    CliCase("model-missing-weights", _model(lambda f: (f / "model.safetensors").unlink()),
            "model.safetensors is missing"),
    CliCase("model-truncated-safetensors", _model(truncate), "cannot load the weights"),
    CliCase("model-corrupted-safetensors", _model(scramble), "cannot load the weights"),
    CliCase("model-pickle-only", _model(pickle_only), "sensoryt5 loads safetensors only"),
    CliCase("serve-pickle-only", _model(pickle_only, "serve"), "sensoryt5 loads safetensors only"),
    CliCase("model-of-another-type", lambda e: ["predict", str(e.bert), "some text"], "holds a 'bert' model"),
    CliCase("model-weights-of-another-model",
            lambda e: ["predict", str(damaged_model(e, lambda f: shutil.copy(e.bert / "model.safetensors", f))),
                       "some text"], "the weights file lacks",
            fresh_process=True),
    CliCase("model-processor-not-json", _model(lambda f: write(f, "sensory_processor.json", "not json")),
            "cannot rebuild the sensory processor"),
    CliCase("model-missing-tokenizer",
            _model(lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")]),
            "cannot rebuild the sensory processor"),
    CliCase("train-unknown-dataset", lambda e: _train(e, dataset="isaer"), "no bundled data set or file named"),
    CliCase("train-empty-file", lambda e: _train(e, dataset=data_file(e, "empty.csv", "")), "the file is empty"),
    CliCase("train-binary-garbage", lambda e: _train(e, dataset=data_file(e, "garbage.jsonl", binary_garbage())),
            "invalid JSON"),
    CliCase("train-wrong-columns", lambda e: _train(e, dataset=data_file(e, "cols.csv", "sentence,label\nhi,joy\n")),
            "no column 'text'"),
    CliCase("train-unknown-sensory-mode", lambda e: _train(e, "--sensory", "smell"), "unknown sensory mode"),
    CliCase("train-unknown-fusion", lambda e: _train(e, "--fusion", "concat"), "unknown fusion"),
    CliCase("train-unknown-dims", lambda e: _train(e, "--dims", "smell"), "unknown sensory dimension"),
    CliCase("train-ablate-unknown-sense", lambda e: _train(e, "--ablate", "smell"), "unknown dimension to ablate"),
    CliCase("train-ablate-every-sense", lambda e: _train(e, "--dims", "visual", "--ablate", "visual"),
            "cannot ablate every dimension"),
    CliCase("reproduce-ablate-unknown-sense",
            lambda e: ["reproduce", "--datasets", "isear", "--sensory", "norms", "--ablate", "smell", "--output",
                       str(e.tmp / "grid")], "unknown dimension to ablate"),
    CliCase("train-unknown-oov-embedder", lambda e: _train(e, "--oov", "word2vec"), "unknown OOV embedder"),
    CliCase("train-missing-backbone-folder", lambda e: _train(e, "--backbone", str(e.tmp / "no-such-backbone")),
            "no-such-backbone"),
    CliCase("evaluate-unknown-labels", lambda e: ["evaluate", str(e.model), "--dataset", "isear", "--output",
                                                  str(e.tmp / "eval")], "is not among the model's labels"),
]


@pytest.fixture
def env(model_dir, tiny_bert_folder, tmp_path) -> Env:
    return Env(model=model_dir, bert=tiny_bert_folder, tmp=tmp_path)


def run_subprocess(args: list[str]) -> tuple[int, str]:
    """Run `python -m sensoryt5 ARGS`: exit code and stderr."""
    real = subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert "Traceback" not in real.stderr, real.stderr
    return real.returncode, real.stderr


def run_cli(args: list[str], capfd: pytest.CaptureFixture) -> tuple[int, str]:
    """Run `sensoryt5 ARGS` through its entry point here: exit code and stderr (an escaping exception fails)."""
    from transformers.utils import logging as hf_logging

    from sensoryt5.cli import main

    hf_logging.set_verbosity_warning()  # a fresh process's level (in-process training lowers it)
    capfd.readouterr()
    argv = sys.argv
    sys.argv = ["sensoryt5", *args]
    try:
        main()
        code: Any = 0
    except SystemExit as exit_:
        code = exit_.code
    except Exception as error:  # noqa: BLE001 - what a user would see as a traceback
        pytest.fail(f"traceback instead of an error line: {type(error).__name__}: {error}")
    finally:
        sys.argv = argv
    return code, capfd.readouterr().err




@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CLI_CASES])
def test_cli_bad_input_is_one_error_line_and_exit_code_2(case: CliCase, env: Env, capfd):
    args = case.args(env)
    code, stderr = run_subprocess(args) if case.fresh_process else run_cli(args, capfd)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert case.message in lines[0]
    assert not (env.tmp / "out.jsonl").exists() and not list(env.tmp.rglob("UNPICKLED"))


def test_in_process_cli_matches_a_real_process(env: Env, capfd):
    args = _model(lambda f: write(f, "config.json", "{not json"))(env)
    code, stderr = run_cli(args, capfd)
    assert run_subprocess(args) == (code, stderr) == (2, stderr)
    assert stderr.startswith("error: ")


# ------------------------------------------------------------------------------------------------ Python API


@dataclass(frozen=True)
class ApiCase:
    """`call(env, clf)` must raise `error` with `message` in it."""

    name: str
    call: Callable[[Env, SensoryClassifier], Any]
    error: type[Exception]
    message: str


def _load(damage: Callable[[Path], None]) -> Callable[[Env, SensoryClassifier], Any]:
    return lambda env, _: SensoryClassifier.from_pretrained(damaged_model(env, damage), device="cpu")


def _disagreeing_processor(folder: Path) -> None:
    settings = json.loads((folder / "sensory_processor.json").read_text())
    write(folder, "sensory_processor.json", json.dumps({**settings, "dims": ["foot_leg", "hand_arm"]}))


def _predict_file_api(name: str, content: str | bytes) -> Callable[[Env, SensoryClassifier], Any]:
    return lambda env, clf: clf.predict_file(data_file(env, name, content), env.tmp / "out.jsonl")


def _train_api(env: Env, **options: Any) -> Any:
    from sensoryt5.training import TrainingConfig, train

    return train(TrainingConfig(dataset="isear", output=str(env.tmp / "trained"), backbone=str(env.bert),
                                oov_embedder=None,
                                max_train_samples=16, epochs=1, progress=False, **options))


API_CASES = [
    ApiCase("load-config-json-list", _load(lambda f: write(f, "config.json", "[1, 2]")), ModelLoadError,
            "is not a valid JSON object"),
    ApiCase("load-config-not-utf8", _load(lambda f: write(f, "config.json", b'{"model_type": "\xff"}')),
            ModelLoadError, "is not a valid JSON object"),
    ApiCase("load-pickle-only-is-refused-unread", _load(pickle_only), ModelLoadError, "unpickling a file can execute"),
    ApiCase("load-pickle-beside-truncated-safetensors", _load(pickle_beside_truncated_safetensors), ModelLoadError,
            "cannot load the weights"),
    ApiCase("load-pt-file-only", _load(lambda f: (pickle_only(f), write_pickle(f, "model.pt"))), ModelLoadError,
            "model.pt"),
    ApiCase("load-missing-processor", _load(lambda f: (f / "sensory_processor.json").unlink()), ModelLoadError,
            "has no sensory_processor.json"),
    ApiCase("load-processor-disagrees-with-config", _load(_disagreeing_processor), ModelLoadError,
            "disagrees with config.json"),
    ApiCase("load-processor-missing-key", _load(lambda f: write(f, "sensory_processor.json",
                                                             '{"sensory_mode": "norms"}')),
            ModelLoadError, "cannot rebuild the sensory processor"),
    ApiCase("load-unknown-backend", lambda env, _: SensoryClassifier.from_pretrained(env.model, backend="tflite"),
            ValueError, "unknown backend 'tflite'"),
    ApiCase("load-missing-folder", lambda env, _: SensoryClassifier.from_pretrained(env.tmp / "nowhere"),
            ModelLoadError, "does not exist"),
    ApiCase("predict-an-int", lambda _, clf: clf.predict(42), TypeError, "got int"),
    ApiCase("predict-none", lambda _, clf: clf.predict(None), TypeError, "got NoneType"),
    ApiCase("predict-a-dict", lambda _, clf: clf.predict({"text": "hello"}), TypeError, "got dict"),
    ApiCase("predict-bytes-item", lambda _, clf: clf.predict(["fine", b"bytes"]), TypeError, "text 1 is bytes"),
    ApiCase("predict-nan-item", lambda _, clf: clf.predict(["fine", float("nan")]), TypeError, "text 1 is float"),
    ApiCase("predict-undecodable-byte", lambda _, clf: clf.predict(["caf\udce9"]), ValueError,
            "byte 0xe9 is not valid UTF-8"),
    ApiCase("predict-batch-size-zero", lambda _, clf: clf.predict("hello", batch_size=0), ValueError,
            "batch_size must be at least 1"),
    ApiCase("explain-not-a-string", lambda _, clf: clf.explain(42), ValueError, "text is a int"),
    ApiCase("predict-file-input-is-a-folder", lambda env, clf: clf.predict_file(env.model, env.tmp / "out.jsonl"),
            InputError, "folder"),
    ApiCase("predict-file-output-is-a-folder",
            lambda env, clf: clf.predict_file(data_file(env, "in.csv", "text\nhello\n"), env.tmp), InputError,
            "the output is a folder"),
    ApiCase("predict-file-wrong-json-type", _predict_file_api("num.jsonl", '{"text": "ok"}\n{"text": {"a": 1}}\n'),
            InputError, "text is a dict"),
    ApiCase("predict-file-binary-garbage", _predict_file_api("garbage.jsonl", binary_garbage()), InputError,
            "invalid JSON"),
    ApiCase("train-unknown-fusion", lambda env, _: _train_api(env, fusion="concat"), ValueError, "unknown fusion"),
    ApiCase("train-unknown-label-column", lambda env, _: _train_api(env, label_column="emotion"), SensoryT5Error,
            "label_column"),
    ApiCase("create-app-zero-text-length", lambda _, clf: create_app(clf, max_text_length=0), ValueError,
            "max_text_length"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in API_CASES])
def test_api_bad_input_raises_a_clear_error(case: ApiCase, env: Env, clf: SensoryClassifier):
    with pytest.raises(case.error) as raised:
        case.call(env, clf)
    assert isinstance(raised.value, (SensoryT5Error, ValueError, TypeError))
    assert case.message in str(raised.value)
    assert not list(env.tmp.rglob("UNPICKLED")), "a pickle was unpickled"
    assert not (env.tmp / "out.jsonl").exists()


# ------------------------------------------------------------------------------------------------ HTTP API


@dataclass(frozen=True)
class HttpCase:
    """POST `body` to `path` must answer `status` (any 4xx when None) with `message` in the JSON error."""

    name: str
    path: str
    body: Any  # bytes, or a callable returning an iterator of bytes (sent chunked, without Content-Length)
    status: int | None  # None: any 4xx
    message: str
    content_type: str = "application/json"


def _chunked_whitespace() -> Any:
    yield b'{"texts": ["hello"]'
    for _ in range(200):
        yield b" " * 10_000  # 2 MB in all, far over the body limit, each chunk small
    yield b"}"


HTTP_CASES = [
    HttpCase("deeply-nested-json", "/v1/predict", b"[" * 100_000, None, "body"),
    HttpCase("texts-is-a-string", "/v1/predict", b'{"texts": "hello"}', 422, "body.texts: Input should be a valid"),
    HttpCase("json-string-body", "/v1/predict", b'"hello"', 422, "valid dictionary"),
    HttpCase("nan-text", "/v1/predict", b'{"texts": [NaN]}', 422, "body.texts.0"),
    HttpCase("top-k-overflowing-float", "/v1/predict", b'{"texts": ["a"], "top_k": 1e400}', 422, "valid integer"),
    HttpCase("trailing-garbage", "/v1/predict", b'{"texts": ["a"]} and more', 422, "JSON decode error"),
    HttpCase("multipart-upload", "/v1/predict", b'--x\r\nContent-Disposition: form-data; name="texts"\r\n\r\na\r\n--x--'
             b"\r\n", 422, "Content-Type: application/json", content_type="multipart/form-data; boundary=x"),
    HttpCase("explain-number-text", "/v1/explain", b'{"text": 42}', 422, "body.text: Input should be a valid string"),
    HttpCase("explain-top-k-zero", "/v1/explain", b'{"text": "a", "top_k": 0}', 422, "greater than or equal to 1"),
    HttpCase("explain-huge-text", "/v1/explain", json.dumps({"text": "word " * 200_000}).encode(), 413,
             "over the limit"),
    HttpCase("explain-text-is-a-list", "/v1/explain", b'{"text": []}', 422, "body.text: Input should be a valid"),
    HttpCase("chunked-body-over-the-limit", "/v1/predict", _chunked_whitespace, 413, "over the limit"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in HTTP_CASES])
def test_http_bad_input_is_4xx_never_500(case: HttpCase, client: TestClient):
    body = case.body() if callable(case.body) else case.body
    response = client.post(case.path, content=body, headers={"content-type": case.content_type})
    assert 400 <= response.status_code < 500, response.text[:500]
    assert case.status in (None, response.status_code), response.text[:500]
    error = response.json()["error"]
    assert isinstance(error, str) and "\n" not in error and case.message in error
