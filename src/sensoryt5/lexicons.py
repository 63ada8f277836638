"""The word tables the sensory adapter can read (`--lexicon`): the Lancaster norms (the default), the NRC Emotion
Lexicon, or a user's CSV file.

* `lancaster`: the bundled Lancaster Sensorimotor Norms (`norms.py`), 11 ratings 0-5.
* `nrc-emolex`: the NRC Word-Emotion Association Lexicon (Mohammad & Turney, 2013), 8 emotions plus positive and
  negative, 0/1 per word, read from the optional package `nrclex` (`pip install "sensoryt5[nrc]"`), which ships the
  6,468 words that have at least one association. The lexicon is free for research use only (see NRC_CITATION);
  sensoryt5 does not bundle it.
* a path to a CSV file: a header row, a word column (`word`, else the first column) and numeric columns, one per
  dimension (the Glasgow norms, NRC VAD, a user's own ratings). An empty cell, a non-number or a repeated word is
  an error naming the file, row and column.

Every table becomes a `Norms` whose sha256 is that of the file it was read from, so caches derived from it (the
OOV regressor) are keyed by its content.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from sensoryt5.errors import InputError, OptionError
from sensoryt5.norms import LANCASTER, Norms, load_norms

NRC_EMOLEX = "nrc-emolex"
BUILT_IN: tuple[str, ...] = (LANCASTER, NRC_EMOLEX)
NRC_DIMS: tuple[str, ...] = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust",
                             "negative", "positive")
NRC_CITATION = (
    "Mohammad, S. M., & Turney, P. D. (2013). Crowdsourcing a word-emotion association lexicon. Computational "
    "Intelligence, 29(3), 436-465 (NRC Emotion Lexicon, free for research use: "
    "https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm; read from the nrclex package, MIT)"
)
WORD_COLUMNS = ("word", "Word", "WORD")


def is_built_in(spec: str) -> bool:
    """Whether `spec` names a shipped lexicon rather than a CSV file."""
    return spec.strip().lower() in BUILT_IN


def load_lexicon(spec: str | Path = LANCASTER) -> Norms:
    """The table `spec` names: `lancaster`, `nrc-emolex` or a CSV path (OptionError for an unknown name or a
    missing file, InputError for a malformed CSV)."""
    key = str(spec).strip()
    if key.lower() == LANCASTER:
        return load_norms()
    if key.lower() == NRC_EMOLEX:
        return load_nrc_emolex()
    path = Path(key).expanduser()
    if not path.is_file():
        raise OptionError(f"--lexicon {key}: no such file; choose {', '.join(BUILT_IN)} or a CSV file with a word "
                          "column and numeric columns")
    return read_lexicon_csv(path)


@lru_cache(maxsize=1)
def load_nrc_emolex() -> Norms:
    """The NRC Emotion Lexicon from the installed `nrclex` package (its `data/nrc_en.json`), columns `NRC_DIMS`."""
    try:
        raw = resources.files("nrclex.data").joinpath("nrc_en.json").read_bytes()
    except ModuleNotFoundError as error:
        raise OptionError('--lexicon nrc-emolex needs the nrclex package: pip install "sensoryt5[nrc]"') from error
    associations: dict[str, list[str]] = json.loads(raw.decode("utf-8"))
    words = tuple(word.strip().lower() for word in associations)
    values = np.zeros((len(words), len(NRC_DIMS)), dtype=np.float32)  # [n_words, 10] 0/1
    column = {dim: j for j, dim in enumerate(NRC_DIMS)}
    for i, emotions in enumerate(associations.values()):
        values[i, [column[e] for e in emotions if e in column]] = 1.0
    return Norms(words=words, values=values, sha256=hashlib.sha256(raw).hexdigest(), name=NRC_EMOLEX,
                 dims=NRC_DIMS, default_dims=NRC_DIMS,
                 dimension_sets={"emotions": NRC_DIMS[:8], "sentiment": NRC_DIMS[8:]}, citation=NRC_CITATION)


def read_lexicon_csv(path: Path) -> Norms:
    """A user's lexicon: a CSV (or TSV, by extension) with a header, a word column and numeric columns."""
    raw = path.read_bytes()
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter)
    header = [name.strip() for name in next(rows, [])]
    word_column = next((header.index(n) for n in WORD_COLUMNS if n in header), 0)
    dims = tuple(name.lower().replace("-", "_").replace(" ", "_") for j, name in enumerate(header) if j != word_column)
    if not dims:
        raise InputError("the lexicon needs a header row with a word column and at least one numeric column",
                         file=str(path), row=1)
    if len(set(dims)) != len(dims) or not all(dims):
        raise InputError(f"the header has empty or repeated column names: {header}", file=str(path), row=1)
    words: list[str] = []
    values: list[list[float]] = []
    first_row: dict[str, int] = {}
    for cells in rows:
        number = rows.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise InputError(f"{len(cells)} cells for {len(header)} columns", file=str(path), row=number)
        word = cells[word_column].strip().lower()
        if not word:
            raise InputError("empty word", file=str(path), row=number, column=header[word_column])
        if word in first_row:
            raise InputError(f"{word!r} repeats row {first_row[word]} (words are compared in lower case)",
                             file=str(path), row=number, column=header[word_column])
        first_row[word] = number
        numbers = [_number(cell, path, number, header[j]) for j, cell in enumerate(cells) if j != word_column]
        words.append(word)
        values.append(numbers)
    if not words:
        raise InputError("the lexicon has no rows", file=str(path))
    return Norms(words=tuple(words), values=np.array(values, dtype=np.float32), sha256=hashlib.sha256(raw).hexdigest(),
                 name=path.name, dims=dims, default_dims=dims, dimension_sets={}, citation=f"user lexicon {path}")


def _number(cell: str, path: Path, row: int, column: str) -> float:
    """One numeric cell; InputError naming the file, row and column otherwise."""
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{cell.strip()!r} is not a number", file=str(path), row=row, column=column) from None
    if not math.isfinite(value):
        raise InputError(f"{cell.strip()!r} is not a finite number", file=str(path), row=row, column=column)
    return value


__all__ = ["BUILT_IN", "NRC_EMOLEX", "NRC_DIMS", "NRC_CITATION", "is_built_in", "load_lexicon", "load_nrc_emolex",
           "read_lexicon_csv"]
