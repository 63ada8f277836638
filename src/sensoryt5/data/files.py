"""Reading the user's CSV, TSV, JSON Lines and Parquet files, with the row number of every record."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sensoryt5.data.bundled import BUNDLED
from sensoryt5.errors import InputError, option

SPLIT_ALIASES: dict[str, str] = {"train": "train", "validation": "validation", "valid": "validation",
                                 "dev": "validation", "val": "validation", "test": "test"}
CSV_FIELD_LIMIT = 2**31 - 1  # characters in one cell; the csv module's default (131,072) refuses long texts
FILE_FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
                                ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Source:
    """One split as read: raw cells, and the row number to show for each (editor line or record number)."""

    file: str
    frame: pd.DataFrame
    rows: list[int]
    header_row: int | None = None



def _decode(path: Path) -> str:
    """File text; bytes that are not UTF-8 survive as lone surrogates so the bad cell can be located later."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def broken_quote_field(line: str, delimiter: str) -> int:
    """Index of the field where quoting breaks on `line`: the field count of its longest cleanly parsed prefix."""
    fields = 0
    for cut, char in enumerate(line):
        if char != delimiter:
            continue
        try:
            fields = max(fields, len(next(csv.reader([line[:cut]], delimiter=delimiter, strict=True))))
        except (csv.Error, StopIteration):
            continue
    return fields


def _read_delimited(path: Path, delimiter: str, skipped: Counter | None) -> Source:
    """CSV/TSV through the `csv` module, which (unlike pandas' parser) knows each record's first line number.

    A record whose field count differs from the header's is counted into `skipped`, or rejected when it is None.
    """
    text = _decode(path)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records, rows, header, start = [], [], None, 1
    try:
        for fields in reader:
            if not fields:
                start = reader.line_num + 1
                continue
            if header is None:
                header = checked_header(path, fields)
            elif len(fields) != len(header):
                wrong_field_count(path, start, fields, header, delimiter, skipped)
            else:
                records.append(fields)
                rows.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        lines = text.splitlines()
        line = lines[start - 1] if start <= len(lines) else ""
        column_index = broken_quote_field(line, delimiter)
        column = header[column_index] if header and column_index < len(header) else None
        raise InputError(f"broken quoting ({error}); every quote that opens a field must be closed, and a quote "
                         f"inside a quoted field is written twice (\"\")", file=str(path), row=start,
                         column=column) from error
    if header is None:
        raise InputError("the file is empty", file=str(path))
    return Source(str(path), pd.DataFrame(records, columns=header, dtype=object), rows, header_row=1)


def checked_header(path: Path, header: list[str]) -> list[str]:
    """The header row, which must name each column once."""
    repeated = [name for name, n in Counter(header).items() if n > 1]
    if repeated:
        raise InputError(f"the header names column {repeated[0]!r} more than once", file=str(path), row=1,
                         column=repeated[0])
    return header


def wrong_field_count(path: Path, row: int, fields: list[str], header: list[str], delimiter: str,
                       skipped: Counter | None) -> None:
    """Count into `skipped` (or reject, when it is None) a record whose field count differs from the header's."""
    if skipped is not None:
        skipped["wrong field count"] += 1
        return
    name = {",": "comma", "\t": "tab"}[delimiter]
    column = header[len(fields)] if len(fields) < len(header) else header[-1]
    raise InputError(f"{len(fields)} field(s) but the header has {len(header)} ({', '.join(header)}); mixed "
                     f"delimiters, or a {name} inside an unquoted value?", file=str(path), row=row, column=column)


def _read_jsonl(path: Path) -> Source:
    """JSON Lines: one object per line; blank lines are not rows."""
    records, rows = [], []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        if number == 1 and line.lstrip().startswith("["):
            raise InputError("this is a JSON array; write one JSON object per line (JSON Lines)", file=str(path),
                             row=1)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"invalid JSON ({error.msg} at character {error.colno})", file=str(path),
                             row=number) from error
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object per line, found {type(record).__name__}", file=str(path),
                             row=number)
        records.append(record)
        rows.append(number)
    return Source(str(path), pd.DataFrame(records, dtype=object), rows)


def _read_parquet(path: Path) -> Source:
    """Parquet; rows are numbered 1, 2, ... as records (there are no lines)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged or non-Parquet file
        raise InputError(f"cannot read Parquet ({error})", file=str(path)) from error
    return Source(str(path), frame, list(range(1, len(frame) + 1)))


def input_file_format(path: Path) -> str:
    """The format of an existing data file, by extension; InputError for a folder, an unknown type, no file."""
    if path.is_dir():
        raise InputError("the input is a folder; name a data file in it", file=str(path))
    file_format = FILE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise InputError(f"unsupported file type {path.suffix or '(none)'!r}; use one of "
                         f"{', '.join(sorted(FILE_FORMATS))}", file=str(path))
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    return file_format


def read_source(path: Path, skipped: Counter | None) -> Source:
    """Read one data file, by extension; `skipped` counts skipped records (None: reject them)."""
    file_format = input_file_format(path)
    if file_format in ("csv", "tsv"):
        return _read_delimited(path, "," if file_format == "csv" else "\t", skipped)
    return _read_jsonl(path) if file_format == "jsonl" else _read_parquet(path)


def _split_files(directory: Path) -> dict[str, Path]:
    """train / validation (or dev, valid, val) / test files in `directory`, by file stem."""
    found: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        split = SPLIT_ALIASES.get(path.stem.lower())
        if split and path.suffix.lower() in FILE_FORMATS and path.is_file():
            found.setdefault(split, []).append(path)
    for split, paths in found.items():
        if len(paths) > 1:
            raise InputError(f"several {split} files: {', '.join(p.name for p in paths)}; keep one",
                             file=str(directory))
    if "train" not in found:
        raise InputError("no train file (train.csv, train.tsv, train.jsonl or train.parquet) in this folder",
                         file=str(directory))
    return {split: paths[0] for split, paths in found.items()}


def source_paths(name_or_path: str | os.PathLike | None, given: dict[str, Any]) -> dict[str, Path]:
    """Split → file: given split files, a folder of split files, or one file (to be split)."""
    given = {split: Path(path) for split, path in given.items() if path is not None}
    if name_or_path is not None and given:
        raise InputError(f"pass either {str(name_or_path)!r} or train=/validation=/test= files, not both")
    if given:
        if "train" not in given:
            raise InputError("a train file is required when split files are given")
        return given
    if name_or_path is None:
        raise InputError("pass a bundled data set name, a data file, a folder of split files, hf:NAME or train=")
    path = Path(name_or_path)
    if path.is_dir():
        return _split_files(path)
    if not path.exists() and path.suffix.lower() not in FILE_FORMATS:
        raise InputError(f"no bundled data set or file named {str(name_or_path)!r}; bundled: "
                         f"{', '.join(BUNDLED)}; or pass a .csv, .tsv, .jsonl or .parquet file, a folder of split "
                         f"files, or hf:NAME")
    return {"train": path}



def require_columns(source: Source, columns: Sequence[str]) -> None:
    """Fail when a needed column is absent, listing the columns there are."""
    for column in columns:
        if column not in source.frame.columns:
            present = [str(c) for c in source.frame.columns]
            hint = ""
            if len(present) == 1 and any(d in present[0] for d in (",", "\t", ";")):
                hint = " (one column only: is the file's delimiter the one its extension says?)"
            columns = ", ".join(map(repr, present)) or "(none)"
            raise InputError(f"no column {column!r}; the columns are {columns}{hint}; choose others with "
                             f"{option('text_column')} / {option('label_column')}", file=source.file,
                             row=source.header_row, column=column)
