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

Modules: `schema` (features, metadata, label arrays), `split` (the seeded stratified split), `bundled` (the
registry, GoEmotions, EmpatheticDialogues) with `isear`, `emoint` and `bundled_files`, `files` (reading the user's
files), `labels` (case folding and the label map), `label_maps` (the shipped maps, relabelling a bundled set),
`validation` (checking rows, building the DatasetDict) and
`hub` (hf:NAME). This module is the entry point.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

import datasets

from sensoryt5.data.bundled import BUNDLED, bundled_name, list_datasets, load_bundled
from sensoryt5.data.emoint import EMOINT_EMOTION_HASHTAGS, mask_emotion_hashtags
from sensoryt5.data.files import input_file_format, read_source, source_paths
from sensoryt5.data.hub import HUB_PREFIX, hub_sources
from sensoryt5.data.isear import clean_isear_text, is_isear_placeholder, isear_filter_report
from sensoryt5.data.label_maps import SHIPPED_LABEL_MAPS, relabel_bundled, resolve_label_map
from sensoryt5.data.labels import LABEL_CASES, Relabel, read_label_map
from sensoryt5.data.schema import SPLITS, dataset_metadata, describe, is_multi_label, label_array, label_names
from sensoryt5.data.split import stratified_split
from sensoryt5.data.validation import from_sources
from sensoryt5.errors import InputError, option

__all__ = ["BUNDLED", "EMOINT_EMOTION_HASHTAGS", "LABEL_CASES", "SHIPPED_LABEL_MAPS", "SPLITS", "clean_isear_text",
           "dataset_metadata", "describe", "input_file_format", "is_isear_placeholder", "is_multi_label",
           "isear_filter_report", "label_array", "label_names", "list_datasets", "load_dataset",
           "mask_emotion_hashtags", "read_label_map", "stratified_split"]


def _check_bundled_options(bundled: str, mask_label_hashtags: bool, file_options: dict[str, bool]) -> None:
    """Reject options that only apply to the user's files (`file_options`: name → given) or only to emoint."""
    misplaced = [option(name) for name, given in file_options.items() if given]
    if misplaced:
        raise InputError(f"{', '.join(misplaced)} apply to your own files, not to the bundled {bundled!r}")
    if mask_label_hashtags and bundled != "emoint":
        raise InputError(f"{option('mask_label_hashtags')} applies to emoint only, not to {bundled!r}")


def load_dataset(name_or_path: str | os.PathLike | None = None, *, text_column: str = "text",
                 label_column: str = "label", label_separator: str | None = None, split_seed: int = 0,
                 mask_label_hashtags: bool = False, labels: Sequence[str] | None = None,
                 train: str | os.PathLike | None = None, validation: str | os.PathLike | None = None,
                 test: str | os.PathLike | None = None, skip_invalid: bool = False, label_case: str = "keep",
                 label_map: str | os.PathLike | Mapping[str, str | None] | None = None) -> datasets.DatasetDict:
    """Load a bundled data set (`list_datasets()`), `hf:NAME[:CONFIG]`, a data file or a folder of split files.

    A single file is split 80/10/10 with `split_seed`, stratified by label (multi-label: by each row's rarest
    label; see `stratified_split`); with given train (+ validation, test) files, a missing validation or test split
    is carved out of train (10% of each label each). Labels are ordered as `labels`, else as the sorted unique
    training labels. `label_separator` (e.g. ";") makes the data multi-label (a multi-hot `labels` column), as do
    label lists in JSON Lines, Parquet or hub data. `split_seed` only affects data without an official split
    (isear, single files); `mask_label_hashtags` only applies to emoint (see `EMOINT_EMOTION_HASHTAGS`).
    `label_case` is `keep` (labels differing only in case are an error) or `lower` (fold them); `label_map` (a dict,
    a JSON / two-column CSV file, or a shipped map's name such as `four-emotions`, for bundled sets) renames raw
    labels after folding, drops those it sends to None (their rows are removed, counted and logged once), and a
    label it lacks is an error (see `sensoryt5.data.labels` and `sensoryt5.data.label_maps`); the label names are
    then the sorted mapped labels. It applies to bundled sets too. Surrounding whitespace is stripped from every
    label.
    """
    bundled = bundled_name(str(name_or_path)) if name_or_path is not None else None
    if bundled is not None:
        _check_bundled_options(bundled, mask_label_hashtags, {
            "text_column": text_column != "text", "label_column": label_column != "label",
            "label_separator": label_separator is not None, "labels": labels is not None,
            "skip_invalid": skip_invalid, "label_case": label_case != "keep"})
        if any(path is not None for path in (train, validation, test)):
            raise InputError(f"train= / validation= / test= files apply to your own data, not to the bundled "
                             f"{bundled!r}")
        mapping, shipped = resolve_label_map(label_map, bundled)
        data = load_bundled(bundled, split_seed if bundled == "isear" else 0, mask_label_hashtags)
        return data if mapping is None else relabel_bundled(data, mapping, shipped)
    if mask_label_hashtags:
        raise InputError(f"{option('mask_label_hashtags')} applies to the bundled emoint only")
    skipped = {split: Counter() for split in SPLITS}
    mapping, _ = resolve_label_map(label_map, None)
    relabel = Relabel(label_case, mapping)
    options = dict(text_column=text_column, label_column=label_column, label_separator=label_separator,
                   labels=labels, split_seed=split_seed, skip_invalid=skip_invalid, skipped=skipped, relabel=relabel)
    if name_or_path is not None and str(name_or_path).startswith(HUB_PREFIX):
        sources, hub_labels = hub_sources(str(name_or_path), text_column, label_column)
        renamed = label_case != "keep" or mapping is not None  # the hub's label order no longer applies
        options["labels"] = labels if labels is not None or renamed else hub_labels
        return from_sources(sources, name=str(name_or_path), **options)
    paths = source_paths(name_or_path, {"train": train, "validation": validation, "test": test})
    sources = {split: read_source(path, skipped[split] if skip_invalid else None) for split, path in paths.items()}
    return from_sources(sources, name=str(name_or_path or paths["train"]), **options)
