"""Label a large collection past one machine: `predict --engine ray` as a Ray Data pipeline.

The input is a file, a folder (its CSV/TSV/JSON Lines/Parquet files) or a glob. A read stage streams each file with
`TextFileReader` (so rows are numbered, checked and skipped exactly as `predict --input` does), `map_batches` runs
a callable class that holds one `SensoryClassifier` per worker (an actor; torch or ONNX backend), and the records,
the same columns as `predict --input` writes (plus `file` when there are several input files), go to a folder of
Parquet files. The command starts a local Ray, or joins the cluster that `RAY_ADDRESS` names; on a cluster the
input files and the model folder must be readable at the same path on every node (a shared file system), and the
output is a local folder (written beside, renamed when complete) or a URI that pyarrow can write (`s3://...`).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

from sensoryt5.errors import InputError, OptionError

INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
READ_CPUS = 0.25  # a read task's CPU share: the workers hold a CPU each, and reading must still get scheduled
TASK_ROWS = 1024  # rows per inference task (at most `chunk_size`): small enough to share a file among workers


def input_files(spec: str | Path) -> list[Path]:
    """The files behind `--input`: a file, a folder's files with a known extension, or a glob (sorted)."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"the folder holds no {', '.join(INPUT_SUFFIXES)} file", file=str(path))
        return files
    if glob.has_magic(str(spec)):
        files = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file())
        if not files:
            raise InputError("the pattern matches no file", file=str(spec))
        return files
    return [path]


def check_inputs(files: list[Path], text_column: str, id_column: str | None) -> None:
    """Open each input file's header (format, text and id columns) before Ray starts: mistakes fail at once."""
    from sensoryt5.streaming import TextFileReader

    for path in files:
        with TextFileReader(path, text_column, 1, id_column):
            pass


def _is_uri(output: str) -> bool:
    return "://" in output


def check_output_folder(output: str) -> None:
    """InputError unless a local `output` is a new (or empty) folder in an existing parent folder."""
    if _is_uri(output):
        return
    folder = Path(output)
    if folder.suffix.lower() in (".jsonl", ".csv", ".parquet") and not folder.is_dir():
        raise InputError("--engine ray writes a folder of Parquet files; name a folder, e.g. predictions/",
                         file=output)
    if not folder.parent.is_dir():
        raise InputError(f"the output's parent folder {folder.parent} does not exist", file=output)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("the output exists and is not an empty folder; choose a new folder", file=output)


class _ReadChunks:
    """The read stage: each input path → batches of {"row", ["id",] "text"[, "file"]}, `chunk_size` rows each."""

    def __init__(self, text_column: str, id_column: str | None, chunk_size: int, skip_invalid: bool,
                 with_file: bool, counter: Any) -> None:
        self.text_column, self.id_column, self.chunk_size = text_column, id_column, chunk_size
        self.skip_invalid, self.with_file, self.counter = skip_invalid, with_file, counter

    def __call__(self, batch: dict[str, Any]) -> Iterator[dict[str, list[Any]]]:
        from sensoryt5.streaming import TextFileReader

        for path in batch["path"]:
            with TextFileReader(path, self.text_column, self.chunk_size, self.id_column, self.skip_invalid) as reader:
                for chunk in reader:
                    columns: dict[str, list[Any]] = {"row": chunk.rows}
                    if chunk.ids is not None:
                        columns["id"] = chunk.ids
                    columns["text"] = chunk.texts
                    if self.with_file:
                        columns["file"] = [str(path)] * len(chunk.rows)
                    yield columns
                if reader.skipped:
                    self.counter.add.remote(dict(reader.skipped))


class _Predictor:
    """The inference stage: one classifier per Ray worker; a batch of rows → their `predict --input` records."""

    def __init__(self, model_dir: str, backend: str, threads: int, options: dict[str, Any]) -> None:
        from sensoryt5.classifier import SensoryClassifier

        if backend == "torch":
            import torch

            torch.set_num_threads(threads)
        self.classifier = SensoryClassifier.from_pretrained(model_dir, backend=backend, onnx_threads=threads)
        self.options = options

    def __call__(self, batch: Any) -> Any:
        from sensoryt5.streaming import prediction_records, records_table

        rows = batch.to_pylist()  # [{"row", ["id",] "text"[, "file"]}]
        fields = prediction_records(self.classifier, [r["text"] for r in rows], **self.options)
        records = []
        for row, record in zip(rows, fields):
            head = {"row": row["row"], **({"id": row["id"]} if "id" in row else {})}
            records.append({**head, **record, **({"file": row["file"]} if "file" in row else {})})
        return records_table(records)


def _make_counter() -> Any:
    """A Ray actor that adds up the rows the read stage skipped, per reason."""
    import ray

    @ray.remote(num_cpus=0)
    class SkipCounter:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}

        def add(self, counts: dict[str, int]) -> None:
            for reason, count in counts.items():
                self.counts[reason] = self.counts.get(reason, 0) + count

        def get(self) -> dict[str, int]:
            return self.counts

    return SkipCounter.remote()


def _user_error(error: BaseException) -> BaseException | None:
    """The sensoryt5 error (a bad row, a bad model folder) behind an exception Ray raised, if there is one."""
    from sensoryt5.errors import SensoryT5Error

    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SensoryT5Error):
            return current
        stack.extend([current.__cause__, current.__context__, getattr(current, "cause", None)])
    return None


def _start_ray(workers: int, threads: int) -> bool:
    """Join the cluster of RAY_ADDRESS, or start a local Ray with room for the workers; True if it started one."""
    import ray

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan and timing lines; errors still show
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")  # a one-block input
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**quiet)
        return False
    ray.init(num_cpus=max(os.cpu_count() or 1, workers * threads + 1), **quiet)
    return True


def predict_ray(model_dir: str | Path, input_spec: str | Path, output: str, text_column: str = "text",
                id_column: str | None = None, batch_size: int = 32, chunk_size: int = 10_000,
                top_k: int | None = None, workers: int = 1, worker_threads: int = 1, backend: str = "torch",
                skip_invalid: bool = False, long_text: str = "truncate", stride: int | None = None,
                chunk_aggregate: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Predict every row of `input_spec` (file, folder or glob) on Ray Data into the Parquet folder `output`, with
    `workers` classifiers of `worker_threads` threads each; the other options are those of `predict_file`.

    Returns {"rows", "output", "skipped", "uncovered", "truncated", "files", "workers", "max_length"}. Needs
    `pip install sensoryt5[ray]`; a bad row raises `InputError` naming its file, row and column, and leaves no output.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise OptionError("--engine ray needs Ray Data: pip install 'sensoryt5[ray]'") from None
    if workers < 1 or worker_threads < 1:
        raise OptionError("--workers and --worker-threads must be at least 1")
    from sensoryt5.model_folder import check_model_folder

    folder = check_model_folder(model_dir, weights=backend == "torch")
    files = input_files(input_spec)
    check_inputs(files, text_column, id_column)
    check_output_folder(output)
    started = _start_ray(workers, worker_threads)
    target = output if _is_uri(output) else f"{output.rstrip('/')}.partial-{os.getpid()}"
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows come out in input order, as with `predict`
        context.enable_progress_bars = progress
        counter = _make_counter()
        options = {"batch_size": batch_size, "top_k": top_k, "long_text": long_text, "stride": stride,
                   "chunk_aggregate": chunk_aggregate}
        task_rows = min(chunk_size, TASK_ROWS)
        read = _ReadChunks(text_column, id_column, chunk_size, skip_invalid, len(files) > 1, counter)
        dataset = (ray.data.from_items([{"path": str(p)} for p in files])
                   .map_batches(read, batch_size=1, num_cpus=READ_CPUS)
                   .repartition(target_num_rows_per_block=task_rows)  # a file's rows → blocks for every worker
                   .map_batches(_Predictor, batch_size=task_rows, batch_format="pyarrow",
                                compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=worker_threads,
                                fn_constructor_args=(str(folder), backend, worker_threads, options)))
        try:
            dataset.write_parquet(target)
        except Exception as error:
            cause = _user_error(error)
            if cause is not None:
                raise cause from None
            raise
        if not _is_uri(output):
            Path(target).mkdir(exist_ok=True)  # no rows (every one skipped): an empty folder, not none
        skipped = ray.get(counter.get.remote())
    except BaseException:
        if not _is_uri(output):
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        if started:
            ray.shutdown()
    if not _is_uri(output):
        if Path(output).is_dir():
            Path(output).rmdir()  # empty, as check_output_folder found it
        os.replace(target, output)
    return {**_summary(output), "output": output, "skipped": skipped, "files": len(files), "workers": workers,
            "max_length": _max_length(folder)}


def _max_length(folder: Path) -> int:
    """The model's window in tokens, from its processor file."""
    import json

    from sensoryt5.alignment import PROCESSOR_FILE

    return int(json.loads((folder / PROCESSOR_FILE).read_text(encoding="utf-8"))["max_length"])


def _summary(output: str) -> dict[str, int]:
    """Rows written, texts without sensory coverage and truncated texts, counted from the written Parquet files."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(output, format="parquet")
    if "truncated" not in dataset.schema.names:  # no file written: no rows
        return {"rows": 0, "uncovered": 0, "truncated": 0}
    table = dataset.to_table(columns=["sensory_coverage", "truncated"])
    return {"rows": table.num_rows,
            "uncovered": int(pc.sum(pc.equal(table["sensory_coverage"], 0.0)).as_py() or 0),
            "truncated": int(pc.sum(table["truncated"]).as_py() or 0)}
