"""Checks of command-line options that run before a command loads a model, so mistakes fail in a second."""

from __future__ import annotations

import typer

from sensoryt5.errors import OptionError

DEVICE = typer.Option(None, help="Torch device: cpu, cuda, cuda:1, mps (default: cuda when available, else cpu).")
LONG_TEXT = typer.Option("truncate", "--long-text", help="Texts longer than the model's window (its max_length "
                                                         "tokens): truncate (keep the first window) or chunk (read "
                                                         "them whole in overlapping windows cut between words, and "
                                                         "aggregate their logits).")
STRIDE = typer.Option(None, "--stride", help="With --long-text chunk: tokens consecutive windows overlap by "
                                             "(default: a quarter of max_length; at most half).")
CHUNK_AGGREGATE = typer.Option(None, "--chunk-aggregate", help="With --long-text chunk: how the windows' logits "
                                                               "make a text's: mean (default) or max.")
BACKEND = typer.Option("torch", help="torch (PyTorch) or onnx (onnxruntime on MODEL_DIR/model.onnx, else "
                                     "model.int8.onnx, written by `sensoryt5 export`; needs no torch).")


def available_devices() -> list[str]:
    """The torch devices this machine can use: cpu, then cuda:0, cuda:1, ... and mps where present."""
    import torch

    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0)]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_backend(backend: str, device: str | None) -> None:
    """OptionError naming `--backend` unless it is torch or onnx, or `--device` when it is given with onnx."""
    from sensoryt5.classifier import BACKENDS

    if backend not in BACKENDS:
        raise OptionError(f"--backend {backend!r}: choose from {', '.join(BACKENDS)}")
    if backend == "onnx" and device is not None:
        raise OptionError(f"--device {device} applies to --backend torch only (onnxruntime picks CUDA when it "
                          "has it, else the CPU)")


def check_device(device: str | None) -> None:
    """OptionError naming `--device` and the available devices unless `device` (None: automatic) exists here."""
    if device is None:
        return
    import torch

    available = available_devices()
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise OptionError(f"--device {device!r} is not a torch device (available here: {', '.join(available)})"
                          ) from None
    index = parsed.index or 0
    name = f"cuda:{index}" if parsed.type == "cuda" else parsed.type if index == 0 else f"{parsed.type}:{index}"
    if name not in available:
        raise OptionError(f"--device {device}: not available on this machine (available here: "
                          f"{', '.join(available)})")

