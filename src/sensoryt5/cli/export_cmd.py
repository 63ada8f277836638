"""`sensoryt5 export`: write a trained model as an ONNX file for onnxruntime."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sensoryt5.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET

console = Console()


def export(
    model_dir: Path = typer.Argument(..., help="A model folder written by `sensoryt5 train`."),
    fmt: str = typer.Option("onnx", "--format", help="Export format (onnx)."),
    output: Path | None = typer.Option(None, help="File to write (default MODEL_DIR/model.onnx, or "
                                                     "MODEL_DIR/model.int8.onnx with --int8)."),
    int8: bool = typer.Option(False, "--int8", help="Quantise the weights to int8 (onnxruntime dynamic "
                                                    "quantisation)."),
    opset: int = typer.Option(DEFAULT_OPSET, help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET}."),
    overwrite: bool = typer.Option(False, help="Replace an existing output file."),
) -> None:
    """Export a trained model to ONNX: inputs input_ids, attention_mask, sensory; output logits.

    Load it with `SensoryClassifier.from_pretrained(MODEL_DIR, backend="onnx", onnx_file=FILE)`.
    """
    from sensoryt5.export import export_onnx

    result = export_onnx(model_dir, output, int8=int8, opset=opset, overwrite=overwrite, fmt=fmt)
    check = f"max |logit difference| vs PyTorch {result.max_abs_diff:.1e}"
    if result.int8_max_abs_diff is not None:
        check += f" (fp32 graph), {result.int8_max_abs_diff:.1e} (int8)"
    console.print(f"[green]Wrote[/] {result.path} ({result.size_bytes / 2**20:.1f} MiB, opset {result.opset}"
                  f"{', int8' if result.int8 else ''}; {check})", highlight=False,
                  soft_wrap=True)
