"""First-hour polish of the command line: early option checks, help at 80 columns, --version, the documented API."""

from __future__ import annotations

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
