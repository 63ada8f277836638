"""`sensoryt5 export`: write a trained model as an ONNX file for onnxruntime."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sensoryt5.errors import OptionError
from sensoryt5.export import AGREEMENT_SPLIT, AGREEMENT_TEXTS, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET

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
    dataset: str | None = typer.Option(None, help="With --int8: the data whose --split measures the label agreement "
                                                  "with PyTorch (default: the training data set)."),
    split: str = typer.Option(AGREEMENT_SPLIT, help=f"With --int8: the split of --dataset whose first "
                                                    f"{AGREEMENT_TEXTS} texts measure the label agreement."),
) -> None:
    """Export a trained model to ONNX: inputs input_ids, attention_mask, sensory; output logits.

    Load it with `SensoryClassifier.from_pretrained(MODEL_DIR, backend="onnx", onnx_file=FILE)`.
    """
    from sensoryt5.export import export_onnx

    if not int8 and (dataset is not None or split != AGREEMENT_SPLIT):
        raise OptionError("--dataset and --split measure the int8 label agreement; add --int8")
    result = export_onnx(model_dir, output, int8=int8, opset=opset, overwrite=overwrite, fmt=fmt, dataset=dataset,
                         split=split)
    check = f"max |logit difference| vs PyTorch {result.max_abs_diff:.1e}"
    if result.int8_max_abs_diff is not None:
        check += f" (fp32 graph), {result.int8_max_abs_diff:.1e} (int8)"
    if result.agreement is not None:
        check += (f"; label agreement with PyTorch {result.agreement:.1%} of {result.agreement_texts} texts of "
                  f"{result.agreement_data}")
    elif result.int8:
        check += f"; label agreement not measured: {result.agreement_data}"
    if result.oov_embedder is not None:
        check += (f"; {'wrote' if result.oov_embedder_written else 'kept'} {result.oov_embedder} (MiniLM for words "
                  "outside the norms)")
    console.print(f"[green]Wrote[/] {result.path} ({result.size_bytes / 2**20:.1f} MiB, opset {result.opset}"
                  f"{', int8' if result.int8 else ''}; {check})", highlight=False,
                  soft_wrap=True)
