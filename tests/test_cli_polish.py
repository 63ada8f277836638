"""First-hour polish of the command line: early option checks, help at 80 columns, --version, the documented API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
