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

from sensoryt5.attribution import DEFAULT_STEPS, DEFAULT_TOLERANCE
from sensoryt5.cli.checks import BACKEND, CHUNK_AGGREGATE, DEVICE, LONG_TEXT, STRIDE, check_backend, check_device
from sensoryt5.errors import InputError
from sensoryt5.long_text import check_long_text

console = Console()
err_console = Console(stderr=True)
MODEL_DIR = typer.Argument(..., help="A model folder written by `sensoryt5 train`.")
BAR_WIDTH = 30


INPUT_FILE = typer.Option(None, "--input", help="CSV/TSV/JSONL/Parquet file of texts, read in chunks.")
OUTPUT = typer.Option(None, help="Where the --input results go, in the format of its extension: .jsonl, .csv or "
                                 ".parquet (appears only when complete), or - for JSON Lines on stdout.")
SKIP_INVALID = typer.Option(False, "--skip-invalid", help="Skip --input rows whose text is blank, missing or not "
                                                          "valid text, and count them.")
TEXT_COLUMN = typer.Option("text", help="Text column of the --input file.")
ID_COLUMN = typer.Option(None, help="Column of the --input file copied to each output line as `id`.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
PROGRESS = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: when stderr is a terminal).")
STEPS = typer.Option(DEFAULT_STEPS, "--steps", min=2, help="Integrated Gradients steps each text starts with.")
EXPLAIN_BATCH = typer.Option(None, "--batch-size", min=1, help="Texts per Integrated Gradients pass (default: 8 on a "
                                                               "GPU, 1 on the CPU, where batching was slower).")


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
    input_file: Path | None = INPUT_FILE,
    output: str | None = OUTPUT,
    skip_invalid: bool = SKIP_INVALID,
    text_column: str = TEXT_COLUMN,
    id_column: str | None = ID_COLUMN,
    top_k: int | None = typer.Option(None, min=1, help="Labels per text (default: all; multi-label models: those "
                                                       "over their threshold)."),
    batch_size: int = typer.Option(32, min=1, help="Texts per model batch."),
    chunk_size: int = typer.Option(10_000, min=1, help="Rows of the --input file held in memory at a time."),
    as_json: bool = AS_JSON,
    progress: bool | None = PROGRESS,
    long_text: str = LONG_TEXT,
    stride: int | None = STRIDE,
    chunk_aggregate: str | None = CHUNK_AGGREGATE,
    device: str | None = DEVICE,
    backend: str = BACKEND,
    engine: str = typer.Option("local", help="local (this process) or ray (a Ray Data pipeline: --input may be a "
                                             "file, folder or glob, --output a new folder of Parquet files; "
                                             "needs sensoryt5[ray]; joins the cluster of RAY_ADDRESS, else starts "
                                             "a local Ray)."),
    workers: int | None = typer.Option(None, min=1, help="With --engine ray: classifiers run at once, one per Ray "
                                                         "worker (default: 1)."),
    worker_threads: int | None = typer.Option(None, min=1, help="With --engine ray: threads (and CPUs reserved) "
                                                                "per worker (default: 1)."),
) -> None:
    """Classify texts given on the command line, or every row of a file (--input FILE --output FILE); with
    --engine ray, every row of a collection of files on Ray Data (--input FILE|FOLDER|GLOB --output FOLDER)."""
    check_backend(backend, device)
    check_device(device)
    check_long_text(long_text, stride, chunk_aggregate)
    show_progress = sys.stderr.isatty() if progress is None else progress
    _check_engine(engine, workers, worker_threads, bool(texts), input_file, output, device)
    long_options = {"long_text": long_text, "stride": stride, "chunk_aggregate": chunk_aggregate}
    if engine == "ray":
        from sensoryt5.ray_inference import predict_ray

        summary = predict_ray(model_dir, input_file, output, text_column=text_column, id_column=id_column,
                              batch_size=batch_size, chunk_size=chunk_size, top_k=top_k, workers=workers or 1,
                              worker_threads=worker_threads or 1, backend=backend, skip_invalid=skip_invalid,
                              progress=show_progress, **long_options)
        _warn_truncated(summary["truncated"], summary["rows"], long_text, summary["max_length"])
        _report_file(summary, output, as_json, skip_invalid, "predictions")
        return
    _check_sources(bool(texts), input_file, output, skip_invalid, text_column, id_column, "predict", "texts")
    if input_file is None:
        classifier = load_classifier(model_dir, device, backend)
        scores = classifier.scores(texts, batch_size=batch_size, progress=show_progress, **long_options)
        coverage = classifier.sensory_coverage(texts)
        _warn_uncovered(sum(share == 0 for share in coverage), len(texts))
        _warn_truncated(sum(scores.truncated), len(texts), long_text, scores.max_length)
        predictions = [classifier.ranked(row, top_k) for row in scores.probabilities]
        if as_json:
            typer.echo(json.dumps([{"text": t, "predictions": p, "sensory_coverage": c, **length}
                                   for t, p, c, length in zip(texts, predictions, coverage, scores.fields())],
                                  indent=2, ensure_ascii=False))
            return
        table = Table("text", "predictions", title=str(model_dir))
        for text, ranked in zip(texts, predictions):
            table.add_row(text, _ranked_text(ranked))
        console.print(table)
        return
    classifier = load_classifier(model_dir, device, backend)
    summary = classifier.predict_file(
        input_file, output, text_column=text_column, batch_size=batch_size, chunk_size=chunk_size, top_k=top_k,
        id_column=id_column, progress=show_progress, skip_invalid=skip_invalid, **long_options)
    _warn_truncated(summary["truncated"], summary["rows"], long_text, classifier.processor.max_length)
    _report_file(summary, output, as_json, skip_invalid, "predictions")


ENGINES = ("local", "ray")


def _check_engine(engine: str, workers: int | None, worker_threads: int | None, have_texts: bool,
                  input_file: Path | None, output: str | None, device: str | None) -> None:
    """OptionError for an unknown --engine, Ray-only options without --engine ray, or --engine ray without
    --input and a folder --output."""
    from sensoryt5.errors import OptionError

    if engine not in ENGINES:
        raise OptionError(f"--engine {engine!r}: choose from {', '.join(ENGINES)}")
    if engine == "local":
        for flag, value in (("--workers", workers), ("--worker-threads", worker_threads)):
            if value is not None:
                raise OptionError(f"{flag} applies to --engine ray only")
        return
    if have_texts or input_file is None or output is None or output == "-":
        raise OptionError("--engine ray needs --input FILE|FOLDER|GLOB and --output FOLDER (and no texts)")
    if device is not None:
        raise OptionError("--device applies to --engine local only (Ray workers run on their node's CPU)")


def _check_sources(have_texts: bool, input_file: Path | None, output: str | None, skip_invalid: bool,
                   text_column: str, id_column: str | None, verb: str, noun: str) -> None:
    """InputError unless the command got texts or --input FILE with --output FILE (checked before the model
    loads: the input's columns and the output path too)."""
    from sensoryt5.streaming import TextFileReader, check_output_path

    if input_file is None:
        if skip_invalid:
            raise InputError("--skip-invalid needs --input FILE")
        if output is not None:
            raise InputError("--output needs --input FILE")
        if not have_texts:
            raise InputError(f"nothing to {verb}: pass {noun}, or --input FILE --output FILE")
        return
    if have_texts:
        raise InputError(f"pass {noun} or --input FILE, not both")
    if output is None:
        raise InputError("--input needs --output FILE (.jsonl, .csv, .parquet, or - for stdout)")
    with TextFileReader(input_file, text_column, 1, id_column) as reader:
        check_output_path(output, reader.path)


def _report_file(summary: dict[str, Any], output: str, as_json: bool, skip_invalid: bool, what: str) -> None:
    """The summary of a --input run: rows written, rows skipped per reason, texts without sensory coverage."""
    from sensoryt5.streaming import STDOUT

    if as_json:
        typer.echo(json.dumps(summary), err=output == STDOUT)
        return
    _warn_uncovered(summary["uncovered"], summary["rows"])
    report = Console(stderr=True) if output == STDOUT else console  # stdout holds the results
    report.print(f"[green]Wrote[/] {summary['rows']} {what} to {summary['output']}")
    if skip_invalid:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(summary["skipped"].items()))
        report.print(f"Skipped {sum(summary['skipped'].values())} rows" + (f" ({reasons})" if reasons else ""))


def explain(
    model_dir: Path = MODEL_DIR,
    text: str | None = typer.Argument(None, help="The text to explain (or use --input)."),
    label: str | None = typer.Option(None, help="The class to explain (default: the top class)."),
    steps: int = STEPS,
    tolerance: float = typer.Option(DEFAULT_TOLERANCE, min=0.0, help="Integrate a text again with twice the steps "
                                                                     "(up to 128) while |delta| exceeds this "
                                                                     "(probability units; 0: always 128 steps)."),
    attention: bool = typer.Option(False, "--attention", help="Also show the adapter's attention weight per word "
                                                              "(attention weights, not an explanation)."),
    input_file: Path | None = INPUT_FILE,
    output: str | None = OUTPUT,
    skip_invalid: bool = SKIP_INVALID,
    text_column: str = TEXT_COLUMN,
    id_column: str | None = ID_COLUMN,
    top_k: int = typer.Option(5, min=1, help="Emotions to show."),
    batch_size: int | None = EXPLAIN_BATCH,
    as_json: bool = AS_JSON,
    progress: bool | None = PROGRESS,
    device: str | None = DEVICE,
) -> None:
    """Which words, and which of their senses, moved the prediction (Integrated Gradients): the text shaded by
    each word's signed contribution, a table with each word's sensory part by sense, and the top emotions."""
    check_device(device)
    show_progress = sys.stderr.isatty() if progress is None else progress
    _check_sources(text is not None, input_file, output, skip_invalid, text_column, id_column, "explain", "a text")
    classifier = load_classifier(model_dir, device)
    if label is not None and label not in classifier.labels:
        raise InputError(f"--label {label!r} is not one of this model's labels: {', '.join(classifier.labels)}")
    if input_file is not None:
        summary = classifier.explain_file(input_file, output, text_column=text_column, label=label, top_k=top_k,
                                          n_steps=steps, attention=attention, batch_size=batch_size,
                                          tolerance=tolerance,
                                          id_column=id_column, progress=show_progress, skip_invalid=skip_invalid)
        _report_file(summary, output, as_json, skip_invalid, "explanations")
        return
    result = classifier.explain(text, label=label, top_k=top_k, n_steps=steps, attention=attention,
                                tolerance=tolerance)
    _warn_uncovered(int(result["sensory_coverage"] == 0), 1)
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    console.print(_explained_line(result))
    console.print(_shaded_text(result))
    console.print(_contribution_legend(result["explained"]["label"]))
    console.print(_word_table(result, attention))
    console.print(_emotion_bars(result["predictions"]))


def _explained_line(result: dict[str, Any]) -> Text:
    """What was explained: the class, its score against the baseline's, the method and its convergence delta."""
    explained = result["explained"]
    return Text(f"Explaining {explained['label']}: {explained['output']} {explained['score']:.3f} "
                f"(baseline {explained['baseline_score']:.3f}); Integrated Gradients, {explained['n_steps']} steps, "
                f"delta {explained['delta']:.1e}", style="bold")


def _scale(result: dict[str, Any]) -> float:
    """The largest absolute word contribution of a result (1.0 when all are 0), for shading."""
    return max((abs(word["contribution"]) for word in result["words"]), default=0.0) or 1.0


def _shaded_text(result: dict[str, Any]) -> Text:
    """The text as given, each word's background shaded by its signed contribution (see `contribution_colour`)."""
    from sensoryt5.classifier import contribution_colour

    text, scale = Text(result["text"]), _scale(result)
    for word in result["words"]:
        text.stylize(f"black on {contribution_colour(word['contribution'] / scale)}", word["start"], word["end"])
    return text


def _contribution_legend(label: str) -> Text:
    """The diverging scale's two ends."""
    from sensoryt5.classifier import CONTRIBUTION_COLOURS

    return (Text("shading: ", style="dim").append("■ ", style=CONTRIBUTION_COLOURS["positive"])
            .append(f"towards {label}  ").append("■ ", style=CONTRIBUTION_COLOURS["negative"])
            .append(f"against {label}  ").append("(darker: larger share of the score change)", style="dim"))


def _senses_text(word: dict[str, Any]) -> Text:
    """A word's sensory part by sense, largest magnitude first, each in its sense colour ('–' when none)."""
    from sensoryt5.classifier import SENSE_COLOURS

    shown = sorted(((v, s) for s, v in word["senses"].items() if abs(v) >= 5e-5), key=lambda x: -abs(x[0]))[:3]
    if not shown:
        return Text("–", style="dim")
    text = Text()
    for i, (value, sense) in enumerate(shown):
        text.append(", " if i else "").append(f"{sense} {value:+.4f}", style=SENSE_COLOURS.get(sense, ""))
    return text


def _word_table(result: dict[str, Any], attention: bool) -> Table:
    """Each word (as written) with its contribution, its sensory part (total and strongest senses) and source."""
    columns = ["word", "contribution", "sensory part", "by sense (strongest)", "found as"]
    table = Table(*columns, *(["attention weight"] if attention else []))
    for word in result["words"]:
        written = result["text"][word["start"]:word["end"]]
        row = [written, f"{word['contribution']:+.4f}", f"{word['sensory_contribution']:+.4f}", _senses_text(word),
               word["source"]]
        if attention:
            row.append("–" if word["attention"] is None else f"{word['attention']:.3f}")
        table.add_row(*row)
    return table


def _warn_truncated(truncated: int, total: int, long_text: str, max_length: int) -> None:
    """One warning on stderr when texts longer than the model's window were cut to it (`truncate`)."""
    if truncated and long_text == "truncate":
        err_console.print(f"[yellow]warning:[/] {truncated} of {total} text(s) are longer than the model's window of "
                          f"{max_length} tokens and were cut to it (truncated: true); --long-text chunk reads them "
                          "whole")


def _warn_uncovered(uncovered: int, total: int) -> None:
    """One warning on stderr when texts have sensory coverage 0 (no word found in the norms or predicted)."""
    if uncovered:
        err_console.print(f"[yellow]warning:[/] {uncovered} of {total} text(s) have sensory coverage 0: no word "
                          "was found in the Lancaster norms (English only), so the sensory branch saw nothing "
                          "there and those predictions rest on the backbone alone")


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
    long_text: str = LONG_TEXT,
    stride: int | None = STRIDE,
    chunk_aggregate: str | None = CHUNK_AGGREGATE,
    device: str | None = DEVICE,
    backend: str = BACKEND,
) -> None:
    """Serve the model over HTTP until Ctrl+C, with a demo page at / and the OpenAPI page at /docs.

    The port is bound before the model loads. Requests and answers (README.md, "HTTP API", has them in full):

    \b
    POST /v1/predict  {"texts": ["The soup smelled rotten"], "top_k": 2}
      -> {"predictions": [[{"label": "anger", "score": 0.2379},
                           {"label": "fear", "score": 0.2289}]],
          "sensory_coverage": [1.0], "truncated": [false]}
    POST /v1/explain  {"text": "The soup smelled rotten", "top_k": 2}
      -> {"text": "The soup smelled rotten", "words": [{"word": "soup",
          "token_positions": [2], "source": "exact", "vector": {"gustatory":
          4.091, ...}, "start": 4, "end": 8, "sense": "gustatory", "strength":
          4.091, "contribution": 0.1663, "sensory_contribution": 0.0545,
          "senses": {"gustatory": 0.0331, ...}}, ...], "other_contribution": 0.0,
          "explained": {"label": "disgust", "score": 0.9656, "baseline_score":
          0.1298, "delta": 3.7e-03, "n_steps": 32, ...}, "predictions": [...],
          "sensory_coverage": 1.0, "truncated": false}
    GET /v1/labels    -> {"labels": [...], "multi_label": false, "thresholds":
                          null, "sensory_dims": [...], "senses": {...},
                          "contribution_colours": {...},
                          "max_batch_size": 64, "max_text_length": 2000}
    GET /health       -> {"status": "ok", "model_calls": 1, "queued": 0}
    errors (413, 422) -> {"error": "<one line>", "detail": ...}
    """
    from sensoryt5.serving import serve as run_server

    check_backend(backend, device)
    check_device(device)
    check_long_text(long_text, stride, chunk_aggregate)
    run_server(model_dir, host=host, port=port, max_batch_size=max_batch_size, max_text_length=max_text_length,
               batch_wait_ms=batch_wait_ms, model_batch_size=model_batch_size, device=device, backend=backend,
               long_text=long_text, stride=stride, chunk_aggregate=chunk_aggregate)
