"""`sensoryt5 predict`, `sensoryt5 explain` and `sensoryt5 serve`: use a trained model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sensoryt5.cli.checks import BACKEND, DEVICE, check_backend, check_device
from sensoryt5.errors import InputError

console = Console()
err_console = Console(stderr=True)
MODEL_DIR = typer.Argument(..., help="A model folder written by `sensoryt5 train`.")
BAR_WIDTH = 30
STRONG_RATING = 3.5  # ratings (0-5) from here on are drawn bold; below 2, dim


def load_classifier(model_dir: Path, device: str | None, backend: str = "torch") -> Any:
    """The classifier of MODEL_DIR; with the onnx backend, the ONNX file it runs is named once on stderr."""
    from sensoryt5.classifier import SensoryClassifier

    classifier = SensoryClassifier.from_pretrained(model_dir, device=device, backend=backend)
    if classifier.onnx_file is not None:
        err_console.print(f"Running {classifier.onnx_file} with onnxruntime", highlight=False, soft_wrap=True)
    return classifier


def _ranked_text(predictions: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['label']} {p['score']:.3f}" for p in predictions) or "(no label over its threshold)"


def predict(
    model_dir: Path = MODEL_DIR,
    texts: list[str] | None = typer.Argument(None, help="Texts to classify (or use --input)."),
    input_file: Path | None = typer.Option(None, "--input", help="CSV/TSV/JSONL/Parquet file to classify, "
                                                                 "read in chunks."),
    output: str | None = typer.Option(None, help="Where the --input predictions go, in the format of its "
                                                    "extension: .jsonl, .csv or .parquet (appears only when "
                                                    "complete), or - for JSON Lines on stdout."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Skip --input rows whose text is blank, "
                                                                    "missing or not valid text, and count them."),
    text_column: str = typer.Option("text", help="Text column of the --input file."),
    id_column: str | None = typer.Option(None, help="Column of the --input file copied to each output line "
                                                       "as `id`."),
    top_k: int | None = typer.Option(None, min=1, help="Labels per text (default: all; multi-label models: those "
                                                       "over their threshold)."),
    batch_size: int = typer.Option(32, min=1, help="Texts per model batch."),
    chunk_size: int = typer.Option(10_000, min=1, help="Rows of the --input file held in memory at a time."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: when "
                                                                                  "stderr is a terminal)."),
    device: str | None = DEVICE,
    backend: str = BACKEND,
) -> None:
    """Classify texts given on the command line, or every row of a file (--input FILE --output FILE)."""
    from sensoryt5.streaming import STDOUT, TextFileReader, check_output_path

    check_backend(backend, device)
    check_device(device)
    show_progress = sys.stderr.isatty() if progress is None else progress
    if input_file is None:
        if skip_invalid:
            raise InputError("--skip-invalid needs --input FILE")
        if output is not None:
            raise InputError("--output needs --input FILE")
        if not texts:
            raise InputError("nothing to predict: pass texts, or --input FILE --output FILE")
        classifier = load_classifier(model_dir, device, backend)
        predictions = classifier.predict(texts, batch_size=batch_size, top_k=top_k, progress=show_progress)
        coverage = classifier.sensory_coverage(texts)
        _warn_uncovered(sum(share == 0 for share in coverage), len(texts))
        if as_json:
            typer.echo(json.dumps([{"text": t, "predictions": p, "sensory_coverage": c}
                                   for t, p, c in zip(texts, predictions, coverage)], indent=2, ensure_ascii=False))
            return
        table = Table("text", "predictions", title=str(model_dir))
        for text, ranked in zip(texts, predictions):
            table.add_row(text, _ranked_text(ranked))
        console.print(table)
        return
    if texts:
        raise InputError("pass texts or --input FILE, not both")
    if output is None:
        raise InputError("--input needs --output FILE (.jsonl, .csv, .parquet, or - for stdout)")
    with TextFileReader(input_file, text_column, chunk_size, id_column) as reader:  # fail before loading the model
        check_output_path(output, reader.path)
    summary = load_classifier(model_dir, device, backend).predict_file(
        input_file, output, text_column=text_column, batch_size=batch_size, chunk_size=chunk_size, top_k=top_k,
        id_column=id_column, progress=show_progress, skip_invalid=skip_invalid)
    if as_json:
        typer.echo(json.dumps(summary), err=output == STDOUT)
        return
    _warn_uncovered(summary["uncovered"], summary["rows"])
    report = Console(stderr=True) if output == STDOUT else console  # stdout holds the predictions
    report.print(f"[green]Wrote[/] {summary['rows']} predictions to {summary['output']}")
    if skip_invalid:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(summary["skipped"].items()))
        report.print(f"Skipped {sum(summary['skipped'].values())} rows" + (f" ({reasons})" if reasons else ""))


def explain(
    model_dir: Path = MODEL_DIR,
    text: str = typer.Argument(..., help="The text to explain."),
    top_k: int = typer.Option(5, min=1, help="Emotions to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    device: str | None = DEVICE,
) -> None:
    """Show the text's words coloured by their dominant sense, how each was found, and the top emotions."""
    check_device(device)
    result = load_classifier(model_dir, device).explain(text, top_k=top_k)
    _warn_uncovered(int(result["sensory_coverage"] == 0), 1)
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    console.print(_coloured_text(result))
    console.print(_legend())
    console.print(_word_table(result))
    console.print(_emotion_bars(result["predictions"]))


def _warn_uncovered(uncovered: int, total: int) -> None:
    """One warning on stderr when texts have sensory coverage 0 (no word found in the norms or predicted)."""
    if uncovered:
        err_console.print(f"[yellow]warning:[/] {uncovered} of {total} text(s) have sensory coverage 0: no word "
                          "was found in the Lancaster norms (English only), so the sensory branch saw nothing "
                          "there and those predictions rest on the backbone alone")


def _word_style(word: dict[str, Any]) -> str:
    """Rich style of a word: its dominant sense's colour, bold when strong, dim when weak; '' without values."""
    from sensoryt5.classifier import SENSE_COLOURS

    if word["sense"] is None:
        return ""
    weight = " bold" if word["strength"] >= STRONG_RATING else (" dim" if word["strength"] < 2 else "")
    return SENSE_COLOURS[word["sense"]] + weight


def _coloured_text(result: dict[str, Any]) -> Text:
    """The text as given, each word styled by `_word_style`."""
    text = Text(result["text"])
    for word in result["words"]:
        style = _word_style(word)
        if style:
            text.stylize(style, word["start"], word["end"])
    return text


def _legend() -> Text:
    """One coloured square and name per sense."""
    from sensoryt5.classifier import SENSE_COLOURS

    legend = Text("senses: ", style="dim")
    for sense, colour in SENSE_COLOURS.items():
        legend.append("■ ", style=colour).append(f"{sense}  ")
    return legend.append("(bold: rating ≥ 3.5/5; plain: no values)", style="dim")


def _word_table(result: dict[str, Any]) -> Table:
    """Each word (as written) with its source, dominant sense and rating, and the adapter's attention."""
    table = Table("word", "found as", "dominant sense", "rating", "attention")
    for word in result["words"]:
        attention = "–" if word["attention"] is None else f"{word['attention']:.3f}"
        written = result["text"][word["start"]:word["end"]]
        table.add_row(Text(written, style=_word_style(word)), word["source"], word["sense"] or "–",
                      f"{word['strength']:.2f}" if word["sense"] else "–", attention)
    return table


def _emotion_bars(predictions: list[dict[str, Any]]) -> Table:
    """The ranked emotions as horizontal bars."""
    table = Table("emotion", "", "probability", box=None, title="emotions", title_justify="left")
    for prediction in predictions:
        filled = round(prediction["score"] * BAR_WIDTH)
        bar = Text("█" * filled, style="cyan").append("░" * (BAR_WIDTH - filled), style="dim")
        table.add_row(prediction["label"], bar, f"{prediction['score']:.3f}")
    return table


def serve(
    model_dir: Path = MODEL_DIR,
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 exposes the server to the network)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port."),
    max_batch_size: int = typer.Option(64, min=1, help="Most texts per model call and per request (more: 413)."),
    max_text_length: int = typer.Option(2000, min=1, help="Most characters per text (more: 413)."),
    batch_wait_ms: float = typer.Option(5.0, min=0.0, help="Most milliseconds a request waits for others to "
                                                           "join its model batch."),
    model_batch_size: int = typer.Option(32, min=1, help="Padded batch size inside one model call."),
    device: str | None = DEVICE,
    backend: str = BACKEND,
) -> None:
    """Serve the model over HTTP until Ctrl+C, with a demo page at / and the OpenAPI page at /docs.

    The port is bound before the model loads. Requests and answers (README.md, "HTTP API", has them in full):

    \b
    POST /v1/predict  {"texts": ["The soup smelled rotten"], "top_k": 2}
      -> {"predictions": [[{"label": "anger", "score": 0.2379},
                           {"label": "fear", "score": 0.2289}]],
          "sensory_coverage": [1.0]}
    POST /v1/explain  {"text": "The soup smelled rotten", "top_k": 2}
      -> {"text": "The soup smelled rotten", "words": [{"word": "soup",
          "token_positions": [2], "source": "exact", "vector": {"gustatory":
          4.091, ...}, "start": 4, "end": 8, "sense": "gustatory", "strength":
          4.091, "attention": 0.0913}, ...], "predictions": [...],
          "sensory_coverage": 1.0}
    GET /v1/labels    -> {"labels": [...], "multi_label": false, "thresholds":
                          null, "sensory_dims": [...], "senses": {...},
                          "max_batch_size": 64, "max_text_length": 2000}
    GET /health       -> {"status": "ok", "model_calls": 1, "queued": 0}
    errors (413, 422) -> {"error": "<one line>", "detail": ...}
    """
    from sensoryt5.serving import serve as run_server

    check_backend(backend, device)
    check_device(device)
    run_server(model_dir, host=host, port=port, max_batch_size=max_batch_size, max_text_length=max_text_length,
               batch_wait_ms=batch_wait_ms, model_batch_size=model_batch_size, device=device, backend=backend)
