"""Emotion data sets as `datasets.DatasetDict` (splits `train`, `validation`, `test`): the bundled ones and the user's.

Every split has a `text` column and either a `ClassLabel` column `label` (single-label) or a multi-hot `labels`
column (float32, one slot per label, for multi-label data), plus the extras a bundled set keeps (`id`, `intensity`).
`dataset.info.description` holds a JSON object (read it with `dataset_metadata`): the data set name, its label
names, whether it is multi-label, and a `report` of every row that was dropped, skipped or changed, by reason.

Bundled sets (offline, read with `importlib.resources`, parsed once per process):
- `goemotions`: official train/dev/test, rows with exactly one of the 28 labels (incl. neutral); keeps `id`.
- `goemotions-multilabel`: all rows, 28 labels, multi-hot `labels`; keeps `id`.
- `empathetic_dialogues`: HypEmo's 32-class situation-level split (its `aug_text` paraphrases are not used).
- `isear`: 7 emotions, placeholder answers and duplicate texts dropped (`isear_filter_report`), then a seeded,
  stratified 80/10/10 split; keeps `id` (the record key MYKEY).
- `emoint`: WASSA-2017 EmoInt as 4-way classification; keeps `id` and the gold `intensity`; optional hashtag masking.

User data: CSV, TSV, JSON Lines or Parquet files (one file split 80/10/10, or given split files), or `hf:NAME`.
Every problem in the user's data raises `InputError` naming the file, the row (the line an editor shows: the CSV
header is line 1) and the column; with `skip_invalid=True` bad rows are skipped instead, counted and logged.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa

from sensoryt5.errors import InputError

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
HELD_OUT_SHARE = 0.1  # share of each class carved out for a missing validation or test split
SPLIT_ALIASES: dict[str, str] = {"train": "train", "validation": "validation", "valid": "validation",
                                 "dev": "validation", "val": "validation", "test": "test"}
FILE_FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
                                ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
HUB_PREFIX = "hf:"
HUB_TIMEOUT_S = 3.0
_RESOURCES = "resources/datasets"
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as decoded with errors="surrogateescape"
_OFFLINE_VALUES = {"1", "true", "yes", "on"}

# ---------------------------------------------------------------------------------------------------------------
# Metadata, features and the deterministic stratified split


def dataset_metadata(dataset: datasets.Dataset) -> dict[str, Any]:
    """The JSON metadata that sensoryt5 keeps in `dataset.info.description` (empty if there is none)."""
    try:
        metadata = json.loads(dataset.info.description or "{}")
    except json.JSONDecodeError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def label_names(data: datasets.Dataset | datasets.DatasetDict) -> list[str]:
    """Label names in id order, for single-label (`ClassLabel`) and multi-hot data alike."""
    dataset = data["train"] if isinstance(data, datasets.DatasetDict) else data
    feature = dataset.features.get("label")
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return list(dataset_metadata(dataset)["labels"])


def is_multi_label(data: datasets.Dataset | datasets.DatasetDict) -> bool:
    """Whether the data carry a multi-hot `labels` column instead of a `label` column."""
    dataset = data["train"] if isinstance(data, datasets.DatasetDict) else data
    return "labels" in dataset.features and "label" not in dataset.features


def _features(names: Sequence[str], multi_label: bool, extras: dict[str, datasets.Value]) -> datasets.Features:
    """`text`, then `label` (ClassLabel) or multi-hot `labels`, then the extra columns."""
    target = ({"labels": datasets.Sequence(datasets.Value("float32"), length=len(names))} if multi_label
              else {"label": datasets.ClassLabel(names=list(names))})
    return datasets.Features({"text": datasets.Value("string"), **target, **extras})


def _dataset(columns: dict[str, Any], features: datasets.Features, split: str,
             metadata: dict[str, Any]) -> datasets.Dataset:
    """One split from column lists, with `metadata` as JSON in `info.description`."""
    info = datasets.DatasetInfo(description=json.dumps(metadata, ensure_ascii=False), features=features)
    return datasets.Dataset.from_dict(columns, features=features, info=info, split=split)


def multi_hot(label_ids: Sequence[Sequence[int]], n_labels: int) -> np.ndarray:
    """[n_rows, n_labels] float32 matrix with a 1 at each row's label ids."""
    matrix = np.zeros((len(label_ids), n_labels), dtype=np.float32)
    for row, ids in enumerate(label_ids):
        matrix[row, list(ids)] = 1.0
    return matrix


def _multi_hot_column(label_ids: Sequence[Sequence[int]], n_labels: int) -> pa.FixedSizeListArray:
    """The multi-hot matrix as an Arrow fixed-size list column (10x faster to load than nested Python lists)."""
    return pa.FixedSizeListArray.from_arrays(pa.array(multi_hot(label_ids, n_labels).reshape(-1)), n_labels)


def _shuffle_key(seed: int, index: int) -> bytes:
    """Position of row `index` in the seeded shuffle: a BLAKE2 digest, identical on every machine and version."""
    return hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()


def stratified_split(strata: Sequence[str], seed: int, held_out: Sequence[str] = ("validation", "test"),
                     share: float = HELD_OUT_SHARE) -> dict[str, list[int]]:
    """Row indices per split: each stratum of n rows gives round(share * n) to every held-out split, the rest to train.

    Rows are ordered per stratum by `_shuffle_key(seed, index)`, so the split depends only on the seed and the row
    order (not on hash randomisation or a library's shuffle). A class with fewer than 5 rows stays in train.
    Indices come back sorted (each split keeps the file order).
    """
    by_stratum: dict[str, list[int]] = {}
    for index, stratum in enumerate(strata):
        by_stratum.setdefault(stratum, []).append(index)
    parts: dict[str, list[int]] = {"train": [], **{name: [] for name in held_out}}
    for stratum in sorted(by_stratum):
        members = sorted(by_stratum[stratum], key=lambda index: _shuffle_key(seed, index))
        n_held = math.floor(share * len(members) + 0.5)
        for position, name in enumerate(held_out):
            parts[name] += members[position * n_held:(position + 1) * n_held]
        parts["train"] += members[len(held_out) * n_held:]
    return {name: sorted(indices) for name, indices in parts.items()}


# ---------------------------------------------------------------------------------------------------------------
# Bundled data sets


@dataclass(frozen=True)
class BundledDataset:
    """A data set shipped in `sensoryt5/resources/datasets/<folder>`."""

    name: str
    description: str
    build: Callable[..., datasets.DatasetDict]


def _resource_bytes(folder: str, file: str) -> bytes:
    """Bytes of a bundled file, gunzipped when its name ends in `.gz`."""
    raw = resources.files("sensoryt5").joinpath(f"{_RESOURCES}/{folder}/{file}").read_bytes()
    return gzip.decompress(raw) if file.endswith(".gz") else raw


def _resource_lines(folder: str, file: str) -> list[str]:
    """Non-empty lines of a bundled text file (label lists)."""
    return [line.strip() for line in _resource_bytes(folder, file).decode("utf-8").splitlines() if line.strip()]


def _read_resource_table(folder: str, file: str, **read_csv: Any) -> pd.DataFrame:
    """A bundled delimited file through pandas, every cell read as a string."""
    return pd.read_csv(io.BytesIO(_resource_bytes(folder, file)), dtype=str, keep_default_na=False, **read_csv)


def _bundled_dict(name: str, splits: dict[str, pd.DataFrame], names: Sequence[str], multi_label: bool,
                  extras: dict[str, datasets.Value], report: dict[str, Any]) -> datasets.DatasetDict:
    """DatasetDict from per-split frames holding `text`, `label` (ids) or `label_ids` (id lists) and `extras`."""
    features = _features(names, multi_label, extras)
    metadata = {"name": name, "labels": list(names), "multi_label": multi_label, "report": report}
    built = {}
    for split, frame in splits.items():
        target = ({"labels": _multi_hot_column(frame["label_ids"].tolist(), len(names))} if multi_label
                  else {"label": frame["label"].astype(int).tolist()})
        columns = {"text": frame["text"].str.strip().tolist(), **target,
                   **{column: frame[column].tolist() for column in extras}}
        built[split] = _dataset(columns, features, split, metadata)
    return datasets.DatasetDict(built)


@lru_cache(maxsize=1)
def _goemotions_frames() -> dict[str, pd.DataFrame]:
    """The three official GoEmotions files with `label_ids` parsed into lists of ints."""
    frames = {}
    for split, file in (("train", "train.tsv.gz"), ("validation", "dev.tsv.gz"), ("test", "test.tsv.gz")):
        frame = _read_resource_table("goemotions", file, sep="\t", header=None, names=["text", "ids", "id"],
                                     quoting=csv.QUOTE_NONE)
        frame["label_ids"] = [[int(i) for i in ids.split(",")] for ids in frame["ids"]]
        frames[split] = frame
    return frames


def _load_goemotions(multi_label: bool) -> datasets.DatasetDict:
    """GoEmotions: all rows (multi-hot) or the rows with exactly one label (ClassLabel)."""
    names = _resource_lines("goemotions", "emotions.txt")
    frames = _goemotions_frames()
    report: dict[str, Any] = {}
    if not multi_label:
        kept = {split: frame[frame["label_ids"].map(len) == 1] for split, frame in frames.items()}
        report["dropped_multi_label_rows"] = {split: len(frames[split]) - len(kept[split]) for split in frames}
        frames = {split: frame.assign(label=frame["label_ids"].str[0]) for split, frame in kept.items()}
    name = "goemotions-multilabel" if multi_label else "goemotions"
    return _bundled_dict(name, frames, names, multi_label, {"id": datasets.Value("string")}, report)


def _load_empathetic_dialogues() -> datasets.DatasetDict:
    """EmpatheticDialogues situations in HypEmo's split (32 classes); `aug_text` is ignored."""
    files = {"train": "train.csv.gz", "validation": "valid.csv.gz", "test": "test.csv.gz"}
    frames = {split: _read_resource_table("empathetic_dialogues", file, usecols=["text", "label"])
              for split, file in files.items()}
    names = _resource_lines("empathetic_dialogues", "labels.txt")
    return _bundled_dict("empathetic_dialogues", frames, names, False, {}, {})


# ISEAR ------------------------------------------------------------------------------------------------------------

ISEAR_COLUMNS = 43  # 42 named columns and the empty field after the trailing '|'
ISEAR_SIT, ISEAR_LABEL, ISEAR_KEY = 40, 36, 39  # field positions of SIT, Field1 (emotion name) and MYKEY
ISEAR_LABELS: tuple[str, ...] = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")  # EMOT codes 1-7
# A SIT answer is a placeholder (no situation described) when its core -- lower-cased, without the enclosing
# brackets, whitespace and final punctuation -- matches one of these in full. Phrasings were taken from the data;
# a denial followed by a second sentence ("I cannot remember a situation ... . I was eating ...") is kept.
ISEAR_PLACEHOLDER = re.compile(r"""
      .*\bno\ (?:res?ponse|answer)\b.*                  # "[ No response.]", "NO RESPONSE.", "[ No reponse.]"
    | none | blank | nothing | never | no\ description  # one-word non-answers, "[ No description.]"
    | .*\bnot\ applicable\b.* | does\ ?n[o']t\ apply   # "Not applicable to myself.", "Doesn't apply."
    | not\ included\ on\ questionnaire | (?:\.+\ ?)?has\ not\ (?:really\ )?happened
    | (?:i\ )?(?:do\ not|don't|can\ ?not|can't|could\ not|couldn't)\ (?:remember|recall|think\ of|describe|know)\b[^.]*
    | .*\bunable\ to\ remember\b[^.]*                   # "[ I have felt shame but am unable to remember any ...]"
    | (?:honestly,\ )?(?:i\ )?(?:have\ never|have\ not|haven't|never)\ (?:felt|experienced)\b[^.]*
    | haven't\ been\ frightened\b[^.]*
    | (?:the\ )?same\ (?:as|for)\b[^.]* | as\ for\ \w+ | the\ previous\ incident\b.*   # "[ Same as in anger.]"
""", re.VERBOSE)


def clean_isear_text(sit: str) -> str:
    """SIT with the export's line-break artefacts ('á', and '|' inside the text) as spaces, whitespace collapsed."""
    return " ".join(sit.replace("\u00e1", " ").replace("|", " ").split())


def is_isear_placeholder(text: str) -> bool:
    """Whether a cleaned SIT answer describes no situation ("[ No response.]", "Never experienced.", ...)."""
    core = re.sub(r"^[\s\[.]+|[\s\].!\"]+$", "", text).lower()
    return ISEAR_PLACEHOLDER.fullmatch(core) is not None


@lru_cache(maxsize=1)
def _isear_records() -> tuple[pd.DataFrame, dict[str, int]]:
    """ISEAR rows (`id`, `text`, `label`) after dropping placeholders and duplicate texts, and the drop counts.

    Duplicates are exact (after cleaning): the first copy is kept when all copies share one label; a text that
    occurs with different labels is dropped entirely (every copy), since no single label is right for it.
    """
    lines = _resource_bytes("isear", "isear.csv.gz").decode("utf-8").split("\n")
    records = []
    for line in lines[1:]:
        fields = line.split("|")
        if len(fields) < ISEAR_COLUMNS:
            raise RuntimeError(f"bundled ISEAR line has {len(fields)} fields: {line[:80]!r}")
        sit = "|".join(fields[ISEAR_SIT:-2])
        records.append((fields[ISEAR_KEY], clean_isear_text(sit), fields[ISEAR_LABEL]))
    frame = pd.DataFrame(records, columns=["id", "text", "label"])
    placeholder = frame["text"].map(is_isear_placeholder)
    answered = frame[~placeholder]
    labels_per_text = answered.groupby("text")["label"].nunique()
    conflicting = answered["text"].isin(labels_per_text.index[labels_per_text > 1])
    consistent = answered[~conflicting]
    kept = consistent[~consistent["text"].duplicated(keep="first")]
    report = {
        "raw_rows": len(frame),
        "placeholder_answers": int(placeholder.sum()),
        "duplicate_texts_same_label": len(consistent) - len(kept),
        "duplicate_texts_conflicting_labels": int(conflicting.sum()),
        "kept_rows": len(kept),
    }
    return kept.reset_index(drop=True), report


def isear_filter_report() -> dict[str, int]:
    """How many ISEAR rows were read, dropped per reason (placeholder answer, duplicate text) and kept."""
    return dict(_isear_records()[1])


def _load_isear(split_seed: int) -> datasets.DatasetDict:
    """ISEAR after filtering, split 80/10/10 per emotion with `split_seed`."""
    frame, report = _isear_records()
    frame = frame.assign(label=frame["label"].map(ISEAR_LABELS.index))
    parts = stratified_split(frame["label"].astype(str).tolist(), split_seed)
    splits = {split: frame.iloc[parts[split]] for split in SPLITS}
    return _bundled_dict("isear", splits, ISEAR_LABELS, False, {"id": datasets.Value("string")},
                         {**report, "split_seed": split_seed})


# EmoInt -----------------------------------------------------------------------------------------------------------

EMOINT_LABELS: tuple[str, ...] = ("anger", "fear", "joy", "sadness")
EMOINT_MASK = "#emotion"
# Hashtags that name an emotion (whole tag, any case), per emotion; `mask_label_hashtags` replaces all of them in
# every row, whatever the row's label, so the mask itself carries no label. Query hashtags that name no emotion
# (#bitter, #revenge, #nightmare, #smile, #hilarious, #blues, #lost, ...) are left alone.
EMOINT_EMOTION_HASHTAGS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "angry", "angrier", "angriest", "angrily", "angered", "mad", "madder", "furious", "fury",
              "fume", "fumed", "fuming", "rage", "raging", "enraged", "outrage", "outraged", "irate", "livid",
              "wrath", "pissed", "pissedoff", "irritated", "annoyed", "hangry", "resentful", "resentment",
              "infuriated", "offended"),
    "fear": ("fear", "fears", "feared", "fearful", "fearing", "afraid", "scared", "scary", "scare", "frightened",
             "frightening", "fright", "terrified", "terrifying", "terror", "horror", "horrified", "horrifying",
             "panic", "panicked", "panicking", "anxious", "anxiety", "nervous", "nervousness", "worried", "worry",
             "worrying", "dread", "dreading", "alarmed", "petrified", "spooked"),
    "joy": ("joy", "joys", "joyful", "joyous", "happy", "happier", "happiest", "happily", "happiness", "behappy",
            "glad", "gladness", "glee", "gleeful", "delight", "delighted", "cheerful", "elated", "elation",
            "ecstatic", "jubilant", "rejoice", "rejoicing", "bliss", "blissful", "mirth", "merry", "overjoyed",
            "thrilled"),
    "sadness": ("sad", "sadder", "saddest", "sadly", "sadness", "unhappy", "unhappiness", "sorrow", "sorrowful",
                "depressed", "depression", "depressing", "gloomy", "gloom", "melancholy", "heartbroken",
                "heartbreak", "miserable", "misery", "grief", "grieving", "despair", "despondent", "mournful",
                "mourning", "downcast", "dejected"),
}
_EMOTION_HASHTAG = re.compile(
    r"#(?:" + "|".join(sorted({w for words in EMOINT_EMOTION_HASHTAGS.values() for w in words}, key=len,
                              reverse=True)) + r")(?!\w)", re.IGNORECASE)


def mask_emotion_hashtags(text: str) -> str:
    """Replace every hashtag in `EMOINT_EMOTION_HASHTAGS` (e.g. #Angry, #sadness) by `#emotion`."""
    return _EMOTION_HASHTAG.sub(EMOINT_MASK, text)


def _load_emoint(mask_label_hashtags: bool) -> datasets.DatasetDict:
    """EmoInt train / dev gold / test gold as 4-way classification with the gold `intensity` kept."""
    suffixes = {"train": "train", "validation": "dev.gold", "test": "test.gold"}
    splits, masked = {}, {}
    for split, suffix in suffixes.items():
        parts = [_read_resource_table("emoint", f"{emotion}-ratings-0to1.{suffix}.txt.gz", sep="\t", header=None,
                                      names=["id", "text", "emotion", "intensity"], quoting=csv.QUOTE_NONE)
                 for emotion in EMOINT_LABELS]
        frame = pd.concat(parts, ignore_index=True)
        frame["label"] = frame["emotion"].map(EMOINT_LABELS.index)
        frame["intensity"] = frame["intensity"].astype("float32")
        if mask_label_hashtags:
            masked_text = frame["text"].map(mask_emotion_hashtags)
            masked[split] = int((masked_text != frame["text"]).sum())
            frame["text"] = masked_text
        splits[split] = frame
    report = {"mask_label_hashtags": mask_label_hashtags, **({"rows_with_masked_hashtags": masked} if masked else {})}
    extras = {"id": datasets.Value("string"), "intensity": datasets.Value("float32")}
    return _bundled_dict("emoint", splits, EMOINT_LABELS, False, extras, report)


BUNDLED: dict[str, BundledDataset] = {
    entry.name: entry for entry in (
        BundledDataset("goemotions", "Reddit comments, 28 emotions incl. neutral, single-label rows",
                       lambda **_: _load_goemotions(multi_label=False)),
        BundledDataset("goemotions-multilabel", "Reddit comments, 28 emotions incl. neutral, all rows, multi-hot",
                       lambda **_: _load_goemotions(multi_label=True)),
        BundledDataset("empathetic_dialogues", "EmpatheticDialogues situations, 32 emotions (HypEmo split, "
                       "lower-cased)", lambda **_: _load_empathetic_dialogues()),
        BundledDataset("isear", "ISEAR situation reports, 7 emotions, deduplicated, seeded 80/10/10 split",
                       lambda split_seed, **_: _load_isear(split_seed)),
        BundledDataset("emoint", "WASSA-2017 EmoInt tweets, 4 emotions with gold intensity",
                       lambda mask_label_hashtags, **_: _load_emoint(mask_label_hashtags)),
    )
}


def list_datasets() -> list[str]:
    """Names of the bundled data sets."""
    return list(BUNDLED)


def _bundled_name(name: str) -> str | None:
    """The bundled data set `name` refers to (any case, '-' or '_'), or None."""
    key = name.strip().lower().replace("_", "-")
    return next((bundled for bundled in BUNDLED if bundled.replace("_", "-") == key), None)


@lru_cache(maxsize=16)
def _load_bundled_cached(name: str, split_seed: int, mask_label_hashtags: bool) -> datasets.DatasetDict:
    """Build a bundled data set once per process and option set."""
    return BUNDLED[name].build(split_seed=split_seed, mask_label_hashtags=mask_label_hashtags)


def _fresh(data: datasets.DatasetDict) -> datasets.DatasetDict:
    """New Dataset objects over the same (immutable) Arrow tables: a caller's `set_format` never reaches the cache."""
    return datasets.DatasetDict({split: datasets.Dataset(ds.data, info=ds.info.copy(), split=ds.split)
                                 for split, ds in data.items()})


# ---------------------------------------------------------------------------------------------------------------
# Reading the user's files


@dataclass
class _Source:
    """One split as read: raw cells, and the row number to show for each (editor line or record number)."""

    file: str
    frame: pd.DataFrame
    rows: list[int]
    header_row: int | None = None


@dataclass
class _Rows:
    """Validated rows of one split."""

    file: str
    texts: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def subset(self, indices: Sequence[int]) -> _Rows:
        """The rows at `indices`, counting skips into the same counter."""
        return _Rows(self.file, [self.texts[i] for i in indices], [self.labels[i] for i in indices],
                     [self.rows[i] for i in indices], self.skipped)


class _CellError(Exception):
    """A row-level problem in one column; becomes an InputError (or a skipped row)."""

    def __init__(self, column: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.column, self.reason = column, reason


def _decode(path: Path) -> str:
    """File text; bytes that are not UTF-8 survive as lone surrogates so the bad cell can be located later."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _broken_quote_field(line: str, delimiter: str) -> int:
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


def _read_delimited(path: Path, delimiter: str, skipped: Counter | None) -> _Source:
    """CSV/TSV through the `csv` module, which (unlike pandas' parser) knows each record's first line number.

    A record whose field count differs from the header's is counted into `skipped`, or rejected when it is None.
    """
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records, rows, header, start = [], [], None, 1
    try:
        for fields in reader:
            if not fields:
                start = reader.line_num + 1
                continue
            if header is None:
                header = _checked_header(path, fields)
            elif len(fields) != len(header):
                _wrong_field_count(path, start, fields, header, delimiter, skipped)
            else:
                records.append(fields)
                rows.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        lines = text.splitlines()
        line = lines[start - 1] if start <= len(lines) else ""
        column_index = _broken_quote_field(line, delimiter)
        column = header[column_index] if header and column_index < len(header) else None
        raise InputError(f"broken quoting ({error}); every quote that opens a field must be closed, and a quote "
                         f"inside a quoted field is written twice (\"\")", file=str(path), row=start,
                         column=column) from error
    if header is None:
        raise InputError("the file is empty", file=str(path))
    return _Source(str(path), pd.DataFrame(records, columns=header, dtype=object), rows, header_row=1)


def _checked_header(path: Path, header: list[str]) -> list[str]:
    """The header row, which must name each column once."""
    repeated = [name for name, n in Counter(header).items() if n > 1]
    if repeated:
        raise InputError(f"the header names column {repeated[0]!r} more than once", file=str(path), row=1,
                         column=repeated[0])
    return header


def _wrong_field_count(path: Path, row: int, fields: list[str], header: list[str], delimiter: str,
                       skipped: Counter | None) -> None:
    """Count into `skipped` (or reject, when it is None) a record whose field count differs from the header's."""
    if skipped is not None:
        skipped["wrong field count"] += 1
        return
    name = {",": "comma", "\t": "tab"}[delimiter]
    column = header[len(fields)] if len(fields) < len(header) else header[-1]
    raise InputError(f"{len(fields)} field(s) but the header has {len(header)} ({', '.join(header)}); mixed "
                     f"delimiters, or a {name} inside an unquoted value?", file=str(path), row=row, column=column)


def _read_jsonl(path: Path) -> _Source:
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
    return _Source(str(path), pd.DataFrame(records, dtype=object), rows)


def _read_parquet(path: Path) -> _Source:
    """Parquet; rows are numbered 1, 2, ... as records (there are no lines)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged or non-Parquet file
        raise InputError(f"cannot read Parquet ({error})", file=str(path)) from error
    return _Source(str(path), frame, list(range(1, len(frame) + 1)))


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


def _read_source(path: Path, skipped: Counter | None) -> _Source:
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


def _source_paths(name_or_path: str | os.PathLike | None, given: dict[str, Any]) -> dict[str, Path]:
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


# ---------------------------------------------------------------------------------------------------------------
# Validating rows and building the DatasetDict


def _label_text(value: Any) -> str:
    """A label cell as a label name ('' when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _label_parts(value: Any, separator: str | None, column: str) -> tuple[str, ...]:
    """The label names in one cell: a single name, a `separator`-joined list, or a list (JSON/Parquet/hub)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [_label_text(part) for part in value]
    elif separator is not None:
        parts = [part.strip() for part in _label_text(value).split(separator)]
    else:
        parts = [_label_text(value)]
    if not parts or any(part == "" for part in parts):
        raise _CellError(column, "empty or missing label" if parts in ([], [""]) else
                       f"empty label between separators in {_label_text(value)!r}", "empty label")
    for part in parts:
        _check_utf8(part, column)
    return tuple(dict.fromkeys(parts))


def _check_utf8(text: str, column: str) -> None:
    """Reject text that held bytes which are not UTF-8."""
    bad = _NOT_UTF8.search(text)
    if bad:
        raise _CellError(column, f"byte 0x{ord(bad.group()) - 0xDC00:02x} is not valid UTF-8; save the file as UTF-8",
                       "not UTF-8")


def _checked_text(value: Any, column: str) -> str:
    """The text cell, stripped; it must be a non-blank string of valid UTF-8."""
    if not isinstance(value, str):
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        raise _CellError(column, "missing text" if missing else f"text is a {type(value).__name__}, not a string",
                       "empty text")
    if not value.strip():
        raise _CellError(column, "empty or whitespace-only text", "empty text")
    _check_utf8(value, column)
    return value.strip()


def _require_columns(source: _Source, columns: Sequence[str]) -> None:
    """Fail when a needed column is absent, listing the columns there are."""
    for column in columns:
        if column not in source.frame.columns:
            present = [str(c) for c in source.frame.columns]
            hint = ""
            if len(present) == 1 and any(d in present[0] for d in (",", "\t", ";")):
                hint = " (one column only: is the file's delimiter the one its extension says?)"
            columns = ", ".join(map(repr, present)) or "(none)"
            raise InputError(f"no column {column!r}; the columns are {columns}{hint}; choose others with "
                             f"text_column= / label_column=", file=source.file,
                             row=source.header_row, column=column)


def _validated(source: _Source, text_column: str, label_column: str, separator: str | None,
               skip_invalid: bool, skipped: Counter) -> _Rows:
    """Check every row's text and label; bad rows raise InputError, or are counted when `skip_invalid`."""
    _require_columns(source, (text_column, label_column))
    rows = _Rows(source.file, skipped=skipped)
    for text, label, row in zip(source.frame[text_column], source.frame[label_column], source.rows):
        try:
            checked = _checked_text(text, text_column), _label_parts(label, separator, label_column)
        except _CellError as bad:
            if not skip_invalid:
                raise InputError(str(bad), file=source.file, row=row, column=bad.column) from None
            skipped[bad.reason] += 1
            continue
        rows.texts.append(checked[0])
        rows.labels.append(checked[1])
        rows.rows.append(row)
    return rows


def _label_order(train: _Rows) -> list[str]:
    """Sorted unique training labels: numerically when every label is an integer, else as strings."""
    names = {name for labels in train.labels for name in labels}
    if all(re.fullmatch(r"-?\d+", name) for name in names):
        return sorted(names, key=int)
    return sorted(names)


def _known_labels_only(rows: _Rows, names: Sequence[str], where: str, column: str, skip_invalid: bool) -> _Rows:
    """Drop (when `skip_invalid`) or reject rows whose labels are not in `names`."""
    known = set(names)
    keep = []
    for index, labels in enumerate(rows.labels):
        unknown = [name for name in labels if name not in known]
        if not unknown:
            keep.append(index)
        elif skip_invalid:
            rows.skipped["unknown label"] += 1
        else:
            raise InputError(f"label {unknown[0]!r} {where}", file=rows.file, row=rows.rows[index], column=column)
    return rows.subset(keep)


def _carve_missing_splits(parts: dict[str, _Rows], split_seed: int) -> dict[str, _Rows]:
    """Split the missing validation/test sets off train (10% of each stratum each).

    The stratum is the row's label; for multi-label rows, its rarest label in train (ties: first by name).
    """
    missing = [split for split in SPLITS[1:] if split not in parts]
    if not missing:
        return parts
    train = parts["train"]
    frequency = Counter(name for labels in train.labels for name in labels)
    strata = [min(labels, key=lambda name: (frequency[name], name)) for labels in train.labels]
    indices = stratified_split(strata, split_seed, held_out=missing)
    empty = [split for split in missing if not indices[split]]
    if empty:
        raise InputError(f"too few rows to carve a {' and a '.join(empty)} split out of {len(train.texts)} "
                         f"(a label needs 5 rows to give one to each); add rows or pass validation= / test= "
                         f"files", file=train.file)
    return {**parts, **{split: train.subset(indices[split]) for split in ["train", *missing]}}


def _user_dict(parts: dict[str, _Rows], names: Sequence[str], multi_label: bool,
               metadata: dict[str, Any]) -> datasets.DatasetDict:
    """DatasetDict from validated rows."""
    index = {name: i for i, name in enumerate(names)}
    features = _features(names, multi_label, {})
    built = {}
    for split in SPLITS:
        ids = [[index[name] for name in labels] for labels in parts[split].labels]
        target = {"labels": _multi_hot_column(ids, len(names))} if multi_label else {"label": [i[0] for i in ids]}
        built[split] = _dataset({"text": parts[split].texts, **target}, features, split, metadata)
    return datasets.DatasetDict(built)


def _from_sources(sources: dict[str, _Source], *, text_column: str, label_column: str,
                  label_separator: str | None, labels: Sequence[str] | None, split_seed: int, skip_invalid: bool,
                  name: str, skipped: dict[str, Counter]) -> datasets.DatasetDict:
    """Validate the read splits, fix the label order, carve missing splits and build the DatasetDict."""
    parts = {split: _validated(source, text_column, label_column, label_separator, skip_invalid, skipped[split])
             for split, source in sources.items()}
    if not parts["train"].texts:
        raise InputError("no usable rows in the training data", file=parts["train"].file)
    names = [str(name) for name in labels] if labels is not None else _label_order(parts["train"])
    if len(set(names)) != len(names):
        raise InputError(f"labels= repeats a name: {names}")
    for split in parts:
        where = "is not one of the given labels=" if labels is not None else \
            f"occurs in the {split} data but not in train"
        parts[split] = _known_labels_only(parts[split], names, where, label_column, skip_invalid)
    parts = _carve_missing_splits(parts, split_seed)
    multi_label = label_separator is not None or _has_list_labels(sources, label_column)
    report = _skip_report(skipped, sources, split_seed)
    metadata = {"name": name, "labels": list(names), "multi_label": multi_label, "report": report}
    return _user_dict(parts, names, multi_label, metadata)


def _has_list_labels(sources: dict[str, _Source], label_column: str) -> bool:
    """Whether any label cell is a list (JSON Lines, Parquet or hub data given as label lists)."""
    return any(isinstance(value, (list, tuple, np.ndarray))
               for source in sources.values() for value in source.frame[label_column])


def _skip_report(skipped: dict[str, Counter], sources: dict[str, _Source], split_seed: int) -> dict[str, Any]:
    """Where each split came from, rows skipped per reason (also logged), and the seed of any carved split."""
    counts = {split: dict(counter) for split, counter in skipped.items()}
    report: dict[str, Any] = {"files": {split: source.file for split, source in sources.items()}}
    if any(counts.values()):
        report["skipped_rows"] = {split: c for split, c in counts.items() if c}
        for split, c in report["skipped_rows"].items():
            logger.warning("skipped %d invalid row(s) in %s: %s", sum(c.values()), sources[split].file,
                           ", ".join(f"{n} {reason}" for reason, n in sorted(c.items())))
    carved = [split for split in SPLITS[1:] if split not in sources]
    if carved:
        report["carved_from_train"] = {"splits": carved, "share": HELD_OUT_SHARE, "split_seed": split_seed}
    return report


# ---------------------------------------------------------------------------------------------------------------
# The Hugging Face hub


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set."""
    return any(os.environ.get(var, "").strip().lower() in _OFFLINE_VALUES
               for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hub_address() -> tuple[str, int]:
    """Host and port of the hub endpoint (HF_ENDPOINT, default https://huggingface.co)."""
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    return endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80)


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub endpoint opens within `timeout` seconds (DNS included)."""
    address = _hub_address()
    opened: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            opened.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened)


def _hub_unreachable(spec: str, why: str) -> InputError:
    """The error for a hub data set that cannot be fetched now."""
    return InputError(f"the Hugging Face hub is unreachable ({why}), so {spec!r} cannot be loaded; download the "
                      f"data where the hub is reachable and pass a local file instead, e.g. "
                      f"load_dataset('train.csv') or `sensoryt5 data describe path/to/train.csv`")


def _class_label_names(values: Sequence[Any], class_label: datasets.ClassLabel) -> list[Any]:
    """Hub ClassLabel ids (or id lists) as names; the id -1 (no label) becomes None, a missing label."""
    def name(label_id: Any) -> str | None:
        return class_label.int2str(int(label_id)) if int(label_id) >= 0 else None

    return [name(value) if np.ndim(value) == 0 else [name(i) for i in value] for value in values]


def _hub_sources(spec: str, text_column: str, label_column: str) -> tuple[dict[str, _Source], list[str] | None]:
    """Fetch `hf:NAME[:CONFIG]` and map its splits; label names from a ClassLabel feature when there is one."""
    name, _, config = spec[len(HUB_PREFIX):].partition(":")
    offline = hub_offline()
    if not offline and not hub_reachable():
        raise _hub_unreachable(spec, f"no connection to {_hub_address()[0]} within {HUB_TIMEOUT_S:g} s")
    try:
        loaded = datasets.load_dataset(name, config or None)
    except ConnectionError as error:  # offline mode and not in the local cache
        raise _hub_unreachable(spec, "HF_HUB_OFFLINE is set and the data set is not cached" if offline
                               else str(error)) from error
    except (FileNotFoundError, ValueError) as error:
        raise InputError(f"cannot load {spec!r} from the hub: {error}") from error
    sources: dict[str, _Source] = {}
    names = None
    for hub_split, dataset in loaded.items():
        split = SPLIT_ALIASES.get(hub_split.lower())
        if split is None or split in sources:
            continue
        source = _Source(f"{spec} [{hub_split}]", dataset.to_pandas(), list(range(1, len(dataset) + 1)))
        _require_columns(source, (text_column, label_column))
        feature = dataset.features[label_column]
        class_label = getattr(feature, "feature", feature)
        if isinstance(class_label, datasets.ClassLabel):
            names = list(class_label.names)
            source.frame[label_column] = _class_label_names(source.frame[label_column], class_label)
        sources[split] = source
    if "train" not in sources:
        raise InputError(f"{spec!r} has no train split (splits: {', '.join(loaded)})")
    return sources, names


# ---------------------------------------------------------------------------------------------------------------
# Public entry points


def _check_bundled_options(bundled: str, mask_label_hashtags: bool, file_options: dict[str, bool]) -> None:
    """Reject options that only apply to the user's files (`file_options`: name → given) or only to emoint."""
    misplaced = [option for option, given in file_options.items() if given]
    if misplaced:
        raise InputError(f"{', '.join(misplaced)} apply to your own files, not to the bundled {bundled!r}")
    if mask_label_hashtags and bundled != "emoint":
        raise InputError(f"mask_label_hashtags applies to emoint only, not to {bundled!r}")


def load_dataset(name_or_path: str | os.PathLike | None = None, *, text_column: str = "text",
                 label_column: str = "label", label_separator: str | None = None, split_seed: int = 0,
                 mask_label_hashtags: bool = False, labels: Sequence[str] | None = None,
                 train: str | os.PathLike | None = None, validation: str | os.PathLike | None = None,
                 test: str | os.PathLike | None = None, skip_invalid: bool = False) -> datasets.DatasetDict:
    """Load a bundled data set (`list_datasets()`), `hf:NAME[:CONFIG]`, a data file or a folder of split files.

    A single file is split 80/10/10 with `split_seed`, stratified by label (multi-label: by each row's rarest
    label; see `stratified_split`); with given train (+ validation, test) files, a missing validation or test split
    is carved out of train (10% of each label each). Labels are ordered as `labels`, else as the sorted unique
    training labels. `label_separator` (e.g. ";") makes the data multi-label (a multi-hot `labels` column), as do
    label lists in JSON Lines, Parquet or hub data. `split_seed` only affects data without an official split
    (isear, single files); `mask_label_hashtags` only applies to emoint (see `EMOINT_EMOTION_HASHTAGS`).
    """
    bundled = _bundled_name(str(name_or_path)) if name_or_path is not None else None
    if bundled is not None:
        _check_bundled_options(bundled, mask_label_hashtags, {
            "text_column": text_column != "text", "label_column": label_column != "label",
            "label_separator": label_separator is not None, "labels": labels is not None,
            "train/validation/test": any(p is not None for p in (train, validation, test)),
            "skip_invalid": skip_invalid})
        return _fresh(_load_bundled_cached(bundled, split_seed if bundled == "isear" else 0, mask_label_hashtags))
    if mask_label_hashtags:
        raise InputError("mask_label_hashtags applies to the bundled emoint only")
    skipped = {split: Counter() for split in SPLITS}
    options = dict(text_column=text_column, label_column=label_column, label_separator=label_separator,
                   labels=labels, split_seed=split_seed, skip_invalid=skip_invalid, skipped=skipped)
    if name_or_path is not None and str(name_or_path).startswith(HUB_PREFIX):
        sources, hub_labels = _hub_sources(str(name_or_path), text_column, label_column)
        options["labels"] = labels if labels is not None else hub_labels
        return _from_sources(sources, name=str(name_or_path), **options)
    paths = _source_paths(name_or_path, {"train": train, "validation": validation, "test": test})
    sources = {split: _read_source(path, skipped[split] if skip_invalid else None) for split, path in paths.items()}
    return _from_sources(sources, name=str(name_or_path or paths["train"]), **options)


def label_array(dataset: datasets.Dataset) -> np.ndarray:
    """Label ids [n_rows] (single-label) or the multi-hot matrix [n_rows, n_labels], read through Arrow (fast)."""
    column = pa.chunked_array(dataset.with_format("arrow")["labels" if is_multi_label(dataset) else "label"])
    if not is_multi_label(dataset):
        return column.to_numpy()
    return column.combine_chunks().flatten().to_numpy().reshape(len(dataset), len(label_names(dataset)))


def describe(data: datasets.DatasetDict) -> dict[str, Any]:
    """Split sizes, label names, per-split label counts (rows carrying each label) and the data's report."""
    names = label_names(data)
    multi_label = is_multi_label(data)
    counts: dict[str, dict[str, int]] = {}
    for split, dataset in data.items():
        labels = label_array(dataset)
        per_label = labels.sum(0) if multi_label else np.bincount(labels, minlength=len(names))
        counts[split] = {name: int(n) for name, n in zip(names, per_label)}
    metadata = dataset_metadata(data["train"])
    return {"name": metadata.get("name"), "multi_label": multi_label,
            "splits": {split: len(dataset) for split, dataset in data.items()}, "labels": names,
            "label_counts": counts, "report": metadata.get("report", {})}
