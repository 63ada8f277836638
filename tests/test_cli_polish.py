"""First-hour polish of the command line: early option checks, help at 80 columns, --version, the documented API."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import sensoryt5
from sensoryt5.cli.checks import available_devices


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True,
                          env=environment, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def _absent_cuda() -> str:
    """A CUDA device this machine lacks: cuda without GPUs, else the one after the last GPU."""
    gpus = [device for device in available_devices() if device.startswith("cuda")]
    return f"cuda:{len(gpus)}" if gpus else "cuda"


@pytest.mark.parametrize("command", [
    ("predict", "MODEL", "a text"),
    ("explain", "MODEL", "a text"),
    ("serve", "MODEL"),
    ("evaluate", "MODEL", "--dataset", "isear"),
])
def test_an_absent_device_fails_before_the_model_is_loaded(command, tmp_path):
    # the model folder does not exist: naming --device rather than the folder shows the check comes first
    args = [str(tmp_path / "no-model") if part == "MODEL" else part for part in command]
    _one_line_error(_cli(*args, "--device", _absent_cuda()), "--device", _absent_cuda(), "available here: cpu")


def test_a_misspelt_device_names_the_flag(tmp_path):
    _one_line_error(_cli("predict", str(tmp_path / "no-model"), "a text", "--device", "gpu"),
                    "--device 'gpu' is not a torch device", "cpu")


def test_a_taken_port_is_one_line_naming_port_before_the_model_loads(model_dir, tmp_path):
    # truncated weights pass the folder check and fail only when loaded: the port error shows the bind comes first
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    (folder / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes()[:100])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("serve", str(folder), "--port", str(port))
    _one_line_error(result, f"--port {port} is already in use on 127.0.0.1", "choose another --port")


def test_serve_answers_on_the_socket_it_bound_first(model_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "sensoryt5", "serve", str(model_dir), "--port", str(port),
                               "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=environment)
    try:
        for _ in range(600):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer /health within a minute")
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    assert f"on http://127.0.0.1:{port}" in log


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and command group of the app, found by walking its click tree (the root is ())."""
    import typer

    from sensoryt5.cli import _register, app

    _register()
    paths, stack = [], [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        paths.append(path)
        stack.extend((path + (name,), sub) for name, sub in getattr(command, "commands", {}).items())  # groups
    return sorted(set(paths))


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "sensoryt5")
def test_help_fits_80_columns(path):
    result = _cli(*path, "--help", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage:") and "--help" in result.stdout
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert not set("╭│╰") & set(result.stdout)  # plain wrapped text, not rich panels (which squeeze the columns)


def test_every_command_is_checked_for_help():
    paths = _command_paths()
    assert {("serve",), ("predict",), ("train",), ("lexicon",), ("lexicon", "lookup"), ("data", "list")} <= set(paths)


def test_version_is_the_package_version():
    result = _cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sensoryt5 {sensoryt5.__version__}"
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "(.+)"$', pyproject, re.MULTILINE).group(1) == sensoryt5.__version__


README = Path(__file__).parents[1] / "README.md"


def _readme_api() -> tuple[list, dict[tuple[str, str], list]]:
    """The JSON blocks of README's "HTTP API" section: those before the first endpoint, and those of each endpoint
    (a paragraph opening with `METHOD /path`): the request then the answer for POST, the answer for GET."""
    section = README.read_text(encoding="utf-8").split("### HTTP API\n", 1)[1]
    section = re.split(r"^##", section, maxsplit=1, flags=re.MULTILINE)[0]
    preamble, *parts = re.split(r"^`(GET|POST) (/\S*)`", section, flags=re.MULTILINE)
    blocks = [[json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
              for text in [preamble, *parts[2::3]]]
    return blocks[0], {(method, path): found for method, path, found in zip(parts[::3], parts[1::3], blocks[1:])}


def _shape(value):
    """The keys of `value` at every depth, lists by their first item, leaves by their JSON type."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else type(value).__name__


@pytest.fixture(scope="module")
def api(clf):
    from fastapi.testclient import TestClient

    from sensoryt5.serving import create_app

    with TestClient(create_app(clf)) as client:
        yield client


def test_the_readme_documents_every_endpoint_as_the_server_answers(api):
    error_example, endpoints = _readme_api()
    assert set(endpoints) == {("POST", "/v1/predict"), ("POST", "/v1/explain"), ("GET", "/v1/labels"),
                              ("GET", "/health")}
    for (method, path), blocks in endpoints.items():
        if method == "POST":
            request, documented = blocks
            response = api.post(path, json=request)
        else:
            (documented,) = blocks
            response = api.get(path)
        assert response.status_code == 200, (path, response.text)
        assert _shape(response.json()) == _shape(documented), path
    request, documented = error_example
    response = api.post("/v1/predict", json=request)
    assert response.status_code == 422 and response.json() == documented


def test_the_openapi_page_is_served(api):
    assert "`/docs`" in README.read_text(encoding="utf-8")
    page = api.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text and "/openapi.json" in page.text
    assert {"/v1/predict", "/v1/explain", "/v1/labels", "/health"} <= set(api.get("/openapi.json").json()["paths"])


def _keys(value) -> set[str]:
    """Every key of `value`'s objects, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*map(_keys, value.values()))
    return set().union(*map(_keys, value)) if isinstance(value, list) else set()


def test_serve_help_requests_are_accepted_and_answered_as_shown(api):
    help_text = _cli("serve", "--help", COLUMNS="80").stdout.split("Arguments:")[0].split("  errors (413, 422)")[0]
    parts = re.split(r"^  (POST|GET) (/\S+)", help_text, flags=re.MULTILINE)[1:]
    documented = set()
    for method, path, text in zip(parts[::3], parts[1::3], parts[2::3]):
        request, _, answer = text.partition("->")
        response = api.post(path, json=json.loads(request)) if method == "POST" else api.get(path)
        assert response.status_code == 200, (path, response.text)
        assert set(re.findall(r'"(\w+)":', answer)) <= _keys(response.json()), path
        documented.add(path)
    assert documented == {"/v1/predict", "/v1/explain", "/v1/labels", "/health"}
