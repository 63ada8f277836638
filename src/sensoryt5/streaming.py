"""Predict a file in a stream: `TextFileReader` reads a CSV/TSV/JSON Lines/Parquet file in chunks, so memory stays
flat however long the file is, and the output writers write JSON Lines, CSV or Parquet (chosen by the output's
extension) atomically: a temporary file beside the output, renamed at the end (`-` writes JSON Lines to stdout).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Callable, Iterator, Sequence

from sensoryt5.errors import InputError, option
from sensoryt5.texts import text_problem

OUTPUT_FORMATS: dict[str, str] = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
STDOUT = "-"  # the output name that writes JSON Lines to stdout


def output_format(output: str | Path) -> str:
    """The format of a predictions output by its extension ("jsonl", "csv", "parquet"; `-`: "jsonl" on stdout)."""
    if str(output) == STDOUT:
        return "jsonl"
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"unsupported output extension {suffix or '(none)'!r} for --output / output_path=; use "
                         f"{', '.join(OUTPUT_FORMATS)} or {STDOUT} (JSON Lines on stdout)", file=str(output))
    return OUTPUT_FORMATS[suffix]


def check_output_path(output: str | Path, input_path: Path) -> None:
    """Reject an output with an unknown extension, whose folder does not exist or that would overwrite the input."""
    if str(output) == STDOUT:
        return
    output = Path(output)
    if not output.parent.is_dir():
        raise InputError(f"the output folder {output.parent} does not exist", file=str(output))
    if output.exists() and output.resolve() == input_path.resolve():
        raise InputError("the output file is the input file; choose another output", file=str(output))
    if output.is_dir():
        raise InputError("the output is a folder; name a file, e.g. predictions.jsonl", file=str(output))
    output_format(output)


@dataclass
class TextChunk:
    """Consecutive records of an input file: their row numbers, texts and (optionally) ids."""

    rows: list[int]
    texts: list[str]
    ids: list[Any] | None


class _ByteCounter(io.RawIOBase):
    """A read-only binary file that counts the bytes read through it (progress of a streamed text file)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class TextFileReader:
    """Stream the text column of a CSV/TSV/JSONL/Parquet file in chunks of `chunk_size` records.

    Opening checks the file (known format, exists, has the text and id columns); iterating yields `TextChunk`s and
    raises `InputError` naming file, row and column at the first bad record. Only one chunk is in memory at a time.
    Progress: `position` of `total`, in `unit`s (bytes of a text file, rows of a Parquet file). Use as a context
    manager (it holds the file open).
    """

    def __init__(self, path: str | Path, text_column: str = "text", chunk_size: int = 10_000,
                 id_column: str | None = None, skip_invalid: bool = False) -> None:
        from sensoryt5.data import input_file_format

        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.path, self.text_column, self.id_column = Path(path), text_column, id_column
        self.chunk_size, self.file = chunk_size, str(path)
        self.skip_invalid = skip_invalid
        self.skipped: Counter[str] = Counter()  # rows skipped by `skip_invalid`, per TextProblem reason
        self.format = input_file_format(self.path)
        self._bytes: _ByteCounter | None = None
        self._stream: io.TextIOWrapper | None = None
        self._parquet: Any = None
        try:
            if self.format == "parquet":
                self._open_parquet()
            else:
                self._open_text()
        except BaseException:
            self.close()
            raise

    @property
    def position(self) -> int:
        """Progress so far in `unit`s."""
        return self._bytes.count if self._bytes is not None else self._rows_read

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            self._parquet = pq.ParquetFile(self.path)
        except Exception as error:  # pyarrow raises several types for a damaged or non-Parquet file
            raise InputError(f"cannot read Parquet ({error})", file=self.file) from error
        self._check_columns(self._parquet.schema_arrow.names, header_row=None)
        self.total, self.unit, self._rows_read = self._parquet.metadata.num_rows, "row", 0

    def _open_text(self) -> None:
        self._bytes = _ByteCounter(open(self.path, "rb"))
        self._stream = io.TextIOWrapper(io.BufferedReader(self._bytes), encoding="utf-8-sig",
                                        errors="surrogateescape", newline="")
        self.total, self.unit = self.path.stat().st_size, "B"
        if self.format in ("csv", "tsv"):
            self._delimiter = "," if self.format == "csv" else "\t"
            self._csv = csv.reader(self._stream, delimiter=self._delimiter, strict=True)
            self._header = self._read_header()

    def _read_header(self) -> list[str]:
        from sensoryt5.data.files import checked_header

        try:
            header = next((fields for fields in self._csv if fields), None)
        except csv.Error as error:
            raise InputError(f"cannot parse the header ({error})", file=self.file, row=1) from error
        if header is None:
            raise InputError("the file is empty", file=self.file)
        header = checked_header(self.path, header)
        self._check_columns(header, header_row=self._csv.line_num)
        return header

    def _check_columns(self, present: Sequence[str], header_row: int | None) -> None:
        for column in (self.text_column, self.id_column):
            if column is not None and column not in present:
                listed = ", ".join(map(repr, present)) or "(none)"
                raise InputError(f"no column {column!r}; the columns are {listed}; choose another with "
                                 f"{option('text_column')}", file=self.file, row=header_row, column=column)

    def __enter__(self) -> TextFileReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._stream is not None:
            self._stream.close()
        elif self._bytes is not None:
            self._bytes.close()
        if self._parquet is not None:
            self._parquet.close()

    def __iter__(self) -> Iterator[TextChunk]:
        records = {"csv": self._delimited_records, "tsv": self._delimited_records, "jsonl": self._jsonl_records,
                   "parquet": self._parquet_records}[self.format]()
        valid = (record for record in records if record[1] is not None)
        while True:
            chunk = list(itertools.islice(valid, self.chunk_size))
            if not chunk:
                return
            rows, texts, ids = zip(*chunk)
            yield TextChunk(list(rows), list(texts), list(ids) if self.id_column is not None else None)

    def _text(self, value: Any, row: int) -> str | None:
        """A text cell checked by `text_problem`: InputError, or None (counted in `skipped`) with `skip_invalid`."""
        problem = text_problem(value)
        if problem is None:
            return value
        if self.skip_invalid:
            self.skipped[problem.reason] += 1
            return None
        raise InputError(f"the text {problem.message}", file=self.file, row=row, column=self.text_column)

    def _delimited_records(self) -> Iterator[tuple[int, str | None, Any]]:
        """(row, text, id) of each CSV/TSV record; `row` is the line where the record starts."""
        from sensoryt5.data.files import wrong_field_count

        text_at = self._header.index(self.text_column)
        id_at = self._header.index(self.id_column) if self.id_column is not None else None
        start = self._csv.line_num + 1
        try:
            for fields in self._csv:
                if fields:
                    if len(fields) != len(self._header):
                        wrong_field_count(self.path, start, fields, self._header, self._delimiter, None)
                    yield start, self._text(fields[text_at], start), fields[id_at] if id_at is not None else None
                start = self._csv.line_num + 1
        except csv.Error as error:
            raise self._broken_record(error, start) from error

    def _broken_record(self, error: csv.Error, row: int) -> InputError:
        """The InputError for a record the csv module cannot parse, naming the column where quoting breaks."""
        from sensoryt5.data.files import broken_quote_field

        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            line = next(itertools.islice(handle, row - 1, None), "")
        index = broken_quote_field(line.rstrip("\r\n"), self._delimiter)
        column = self._header[index] if index < len(self._header) else None
        return InputError(f"broken quoting ({error}); every quote that opens a field must be closed, and a quote "
                          f"inside a quoted field is written twice (\"\")", file=self.file, row=row, column=column)

    def _jsonl_records(self) -> Iterator[tuple[int, str | None, Any]]:
        """(line, text, id) of each JSON object; blank lines are skipped."""
        for number, line in enumerate(self._stream, start=1):
            if not line.strip():
                continue
            if number == 1 and line.lstrip().startswith("["):
                raise InputError("this is a JSON array; write one JSON object per line (JSON Lines)",
                                 file=self.file, row=1)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"invalid JSON ({error.msg} at character {error.colno})", file=self.file,
                                 row=number) from error
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object per line, found {type(record).__name__}",
                                 file=self.file, row=number)
            for column in (self.text_column, self.id_column):
                if column is not None and column not in record:
                    keys = ", ".join(map(repr, record)) or "(none)"
                    raise InputError(f"no key {column!r} in this object; its keys are {keys}", file=self.file,
                                     row=number, column=column)
            ident = record[self.id_column] if self.id_column is not None else None
            yield number, self._text(record[self.text_column], number), ident

    def _parquet_records(self) -> Iterator[tuple[int, str | None, Any]]:
        """(record number, text, id) of each Parquet row, read `chunk_size` rows at a time."""
        columns = [self.text_column] + ([self.id_column] if self.id_column not in (None, self.text_column) else [])
        for batch in self._parquet.iter_batches(batch_size=self.chunk_size, columns=columns):
            texts = batch.column(self.text_column).to_pylist()
            ids = batch.column(self.id_column).to_pylist() if self.id_column is not None else itertools.repeat(None)
            for text, ident in zip(texts, ids):
                self._rows_read += 1
                yield self._rows_read, self._text(text, self._rows_read), ident


class _JsonlWriter:
    """One JSON object per line: {"row", ["id",] "text", "predictions", "sensory_coverage", "truncated"}."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def write(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


class _CsvWriter:
    """A header row, then one row per record; `predictions` is the ranked list as JSON."""

    def __init__(self, handle: IO[str]) -> None:
        self.writer: Any = None
        self.handle = handle

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.writer is None and records:
            self.writer = csv.DictWriter(self.handle, fieldnames=list(records[0]), lineterminator="\n")
            self.writer.writeheader()
        for record in records:
            self.writer.writerow({**record, "predictions": json.dumps(record["predictions"], ensure_ascii=False)})


RANKED_FIELDS = (("label", "string"), ("score", "float64"))  # one {label, score} of a record's `predictions`


def records_table(records: list[dict[str, Any]]) -> Any:
    """Output records as a pyarrow Table whose `predictions` column is a list of {label, score} structs (an
    explicit type: a batch of empty multi-label lists would otherwise be list<null>)."""
    import pyarrow as pa

    table = pa.Table.from_pylist(records)
    ranked = pa.list_(pa.struct([(name, pa.type_for_alias(kind)) for name, kind in RANKED_FIELDS]))
    return table.cast(table.schema.set(table.schema.get_field_index("predictions"), pa.field("predictions", ranked)))


class _ParquetWriter:
    """One Parquet row group per chunk; `predictions` is a list of {label, score} structs."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.writer = handle, None

    def write(self, records: list[dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        if not records:
            return
        table = records_table(records)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.handle, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def open_writer(output: str | Path) -> Iterator[Any]:
    """A writer with `.write(records)` for `output`'s format; a file appears under its name only when complete."""
    from sensoryt5.atomic import atomic_open

    file_format = output_format(output)
    if str(output) == STDOUT:
        yield _JsonlWriter(sys.stdout)
        sys.stdout.flush()
        return
    if file_format == "parquet":
        with atomic_open(output, "wb") as handle:
            writer = _ParquetWriter(handle)
            yield writer
            writer.close()
        return
    with atomic_open(output) as handle:
        yield _CsvWriter(handle) if file_format == "csv" else _JsonlWriter(handle)


def predict_file(classifier: Any, input_path: str | Path, output_path: str | Path, text_column: str = "text",
                 batch_size: int = 32, chunk_size: int = 10_000, top_k: int | None = None,
                 id_column: str | None = None, progress: bool = False, skip_invalid: bool = False,
                 long_text: str = "truncate", stride: int | None = None, chunk_aggregate: str | None = None
                 ) -> dict[str, Any]:
    """Predict every row of a CSV/TSV/JSONL/Parquet file with `classifier` (a `SensoryClassifier`), streaming
    `chunk_size` rows at a time (memory stays flat on any length of input).

    Each record is {"row", ["id",] "text", "predictions", "sensory_coverage", "truncated"} (`truncated`: the text
    is longer than the model's window), with `long_text="chunk"` also "chunks" (its number of windows); see
    `SensoryClassifier.scores` for `long_text`, `stride` and `chunk_aggregate`, and `map_file` for the rows, the
    output formats, invalid texts and what is returned.
    """
    def records(texts: list[str]) -> list[dict[str, Any]]:
        return prediction_records(classifier, texts, batch_size, top_k, long_text, stride, chunk_aggregate)

    return map_file(input_path, output_path, records, "predict", text_column=text_column, chunk_size=chunk_size,
                    id_column=id_column, progress=progress, skip_invalid=skip_invalid)


def prediction_records(classifier: Any, texts: list[str], batch_size: int = 32, top_k: int | None = None,
                       long_text: str = "truncate", stride: int | None = None, chunk_aggregate: str | None = None
                       ) -> list[dict[str, Any]]:
    """One output record per text, as `predict --input` writes it (without `row` and `id`): {"text",
    "predictions", "sensory_coverage", "truncated"[, "chunks"]}; the options are those of `predict_file`."""
    scores = classifier.scores(texts, batch_size=batch_size, long_text=long_text, stride=stride,
                               chunk_aggregate=chunk_aggregate)
    coverage = classifier.sensory_coverage(texts)
    return [{"text": text, "predictions": classifier.ranked(row, top_k), "sensory_coverage": share, **length}
            for text, row, share, length in zip(texts, scores.probabilities, coverage, scores.fields())]


def map_file(input_path: str | Path, output_path: str | Path, records: Callable[[list[str]], list[dict[str, Any]]],
             desc: str, text_column: str = "text", chunk_size: int = 10_000, id_column: str | None = None,
             progress: bool = False, skip_invalid: bool = False) -> dict[str, Any]:
    """Stream every row of a CSV/TSV/JSONL/Parquet file through `records` (texts → one record each, with its
    `sensory_coverage`) into a JSON Lines, CSV or Parquet file, `chunk_size` rows at a time.

    The output's extension picks its format (.jsonl, .csv, .parquet; `-`: JSON Lines on stdout); a file appears
    only when complete. Each record starts with `row`, numbering the input as `InputError`s do (CSV/TSV and JSON
    Lines: the line an editor shows; Parquet: 1, 2, ...), and `id`, the `id_column` value when one is named. A text
    that breaks `sensoryt5.texts.text_problem` (blank, missing, not a string, not UTF-8) raises `InputError` naming
    the file, row and column, or with `skip_invalid` is skipped and counted. Returns {"rows", "output", "skipped",
    "uncovered", "truncated"} (`skipped`: per reason; `uncovered`: texts with sensory coverage 0; `truncated`:
    records whose `truncated` is true). `desc` labels the progress bar.
    """
    from tqdm.auto import tqdm

    with TextFileReader(input_path, text_column, chunk_size, id_column, skip_invalid) as reader:
        check_output_path(output_path, reader.path)
        written = uncovered = truncated = 0
        with open_writer(output_path) as writer, tqdm(total=reader.total, unit=reader.unit, unit_scale=True,
                                                      desc=desc, disable=not progress) as bar:
            for chunk in reader:
                rows = []
                for i, (row, fields) in enumerate(zip(chunk.rows, records(chunk.texts))):
                    record: dict[str, Any] = {"row": row}
                    if chunk.ids is not None:
                        record["id"] = chunk.ids[i]
                    record.update(fields)
                    rows.append(record)
                    uncovered += fields["sensory_coverage"] == 0
                    truncated += bool(fields.get("truncated"))
                writer.write(rows)
                written += len(chunk.texts)
                bar.update(reader.position - bar.n)
                bar.set_postfix(rows=written)
        skipped = dict(reader.skipped)
    return {"rows": written, "output": str(output_path), "skipped": skipped, "uncovered": uncovered,
            "truncated": truncated}
