"""`sensoryt5 export`: write a trained model as an ONNX file for onnxruntime."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sensoryt5.errors import OptionError
from sensoryt5.export import (
    AGREEMENT_SPLIT,
    AGREEMENT_TEXTS,
    DEFAULT_OPSET,
    FP32_LEVEL_NAMES,
    MAX_OPSET,
    MIN_AGREEMENT,
    MIN_OPSET,
)

console = Console()
err_console = Console(stderr=True)


def export(
    model_dir: Path = typer.Argument(..., help="A model folder written by `sensoryt5 train`."),
    fmt: str = typer.Option("onnx", "--format", help="Export format (onnx)."),
    output: Path | None = typer.Option(None, help="File to write (default MODEL_DIR/model.onnx, or "
                                                     "MODEL_DIR/model.int8.onnx with --int8)."),
    int8: bool = typer.Option(False, "--int8", help="Quantise the weights to int8 (onnxruntime dynamic "
                                                    "quantisation)."),
    min_agreement: float = typer.Option(MIN_AGREEMENT, help="With --int8: keep the feed-forward MatMuls in float32 "
                                                            "(down-projections first, then all) as far as needed for "
                                                            "this share of dev texts to get PyTorch's label; 0 "
                                                            "quantises every MatMul."),
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

    if not int8 and (dataset is not None or split != AGREEMENT_SPLIT or min_agreement != MIN_AGREEMENT):
        raise OptionError("--dataset, --split and --min-agreement are for the int8 label agreement; add --int8")
    result = export_onnx(model_dir, output, int8=int8, opset=opset, overwrite=overwrite, fmt=fmt, dataset=dataset,
                         split=split, min_agreement=min_agreement)
    check = f"max |logit difference| vs PyTorch {result.max_abs_diff:.1e}"
    if result.int8_max_abs_diff is not None:
        check += f" (fp32 graph), {result.int8_max_abs_diff:.1e} (int8)"
    if result.agreement is not None:
        check += (f"; label agreement with PyTorch {result.agreement:.1%} of {result.agreement_texts} texts of "
                  f"{result.agreement_data}, {FP32_LEVEL_NAMES[result.fp32_level]}")
        tried = [f"{FP32_LEVEL_NAMES[level]} {share:.1%}" for level, share in result.agreement_by_level.items()
                 if level != result.fp32_level]
        if tried:
            check += f" (tried first: {', '.join(tried)})"
    elif result.int8:
        check += f"; label agreement not measured: {result.agreement_data}; every MatMul in int8"
    if result.oov_embedder is not None:
        check += (f"; {'wrote' if result.oov_embedder_written else 'kept'} {result.oov_embedder} (MiniLM for words "
                  "outside the norms)")
    console.print(f"[green]Wrote[/] {result.path} ({result.size_bytes / 2**20:.1f} MiB, opset {result.opset}"
                  f"{', int8' if result.int8 else ''}; {check})", highlight=False,
                  soft_wrap=True)
    if result.agreement is not None and result.agreement < min_agreement:
        err_console.print(f"[yellow]warning:[/] the label agreement {result.agreement:.1%} is below --min-agreement "
                          f"{min_agreement:.1%} at every level tried ({FP32_LEVEL_NAMES[result.fp32_level]} is the "
                          "last); use the fp32 export where labels must match PyTorch's", highlight=False,
                          soft_wrap=True)
