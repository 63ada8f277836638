"""The registry of bundled data sets, and the GoEmotions and EmpatheticDialogues loaders."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import datasets
import pandas as pd

from sensoryt5.data.bundled_files import bundled_dict, read_resource_table, resource_lines
from sensoryt5.data.emoint import load_emoint
from sensoryt5.data.isear import load_isear


@dataclass(frozen=True)
class BundledDataset:
    """A data set shipped in `sensoryt5/resources/datasets/<folder>`."""

    name: str
    description: str
    build: Callable[..., datasets.DatasetDict]


@lru_cache(maxsize=1)
def _goemotions_frames() -> dict[str, pd.DataFrame]:
    """The three official GoEmotions files with `label_ids` parsed into lists of ints."""
    frames = {}
    for split, file in (("train", "train.tsv.gz"), ("validation", "dev.tsv.gz"), ("test", "test.tsv.gz")):
        frame = read_resource_table("goemotions", file, sep="\t", header=None, names=["text", "ids", "id"],
                                     quoting=csv.QUOTE_NONE)
        frame["label_ids"] = [[int(i) for i in ids.split(",")] for ids in frame["ids"]]
        frames[split] = frame
    return frames


def _load_goemotions(multi_label: bool) -> datasets.DatasetDict:
    """GoEmotions: all rows (multi-hot) or the rows with exactly one label (ClassLabel)."""
    names = resource_lines("goemotions", "emotions.txt")
    frames = _goemotions_frames()
    report: dict[str, Any] = {}
    if not multi_label:
        kept = {split: frame[frame["label_ids"].map(len) == 1] for split, frame in frames.items()}
        report["dropped_multi_label_rows"] = {split: len(frames[split]) - len(kept[split]) for split in frames}
        frames = {split: frame.assign(label=frame["label_ids"].str[0]) for split, frame in kept.items()}
    name = "goemotions-multilabel" if multi_label else "goemotions"
    return bundled_dict(name, frames, names, multi_label, {"id": datasets.Value("string")}, report)


def _load_empathetic_dialogues() -> datasets.DatasetDict:
    """EmpatheticDialogues situations in HypEmo's split (32 classes); `aug_text` is ignored."""
    files = {"train": "train.csv.gz", "validation": "valid.csv.gz", "test": "test.csv.gz"}
    frames = {split: read_resource_table("empathetic_dialogues", file, usecols=["text", "label"])
              for split, file in files.items()}
    names = resource_lines("empathetic_dialogues", "labels.txt")
    return bundled_dict("empathetic_dialogues", frames, names, False, {}, {})



BUNDLED: dict[str, BundledDataset] = {
    entry.name: entry for entry in (
        BundledDataset("goemotions", "Reddit comments, 28 emotions incl. neutral, single-label rows",
                       lambda **_: _load_goemotions(multi_label=False)),
        BundledDataset("goemotions-multilabel", "Reddit comments, 28 emotions incl. neutral, all rows, multi-hot",
                       lambda **_: _load_goemotions(multi_label=True)),
        BundledDataset("empathetic_dialogues", "EmpatheticDialogues situations, 32 emotions (HypEmo split, "
                       "lower-cased)", lambda **_: _load_empathetic_dialogues()),
        BundledDataset("isear", "ISEAR situation reports, 7 emotions, deduplicated, seeded 80/10/10 split",
                       lambda split_seed, **_: load_isear(split_seed)),
        BundledDataset("emoint", "WASSA-2017 EmoInt tweets, 4 emotions with gold intensity",
                       lambda mask_label_hashtags, **_: load_emoint(mask_label_hashtags)),
    )
}


def list_datasets() -> list[str]:
    """Names of the bundled data sets."""
    return list(BUNDLED)


def bundled_name(name: str) -> str | None:
    """The bundled data set `name` refers to (any case, '-' or '_'), or None."""
    key = name.strip().lower().replace("_", "-")
    return next((bundled for bundled in BUNDLED if bundled.replace("_", "-") == key), None)


@lru_cache(maxsize=16)
def _load_bundled_cached(name: str, split_seed: int, mask_label_hashtags: bool) -> datasets.DatasetDict:
    """Build a bundled data set once per process and option set."""
    return BUNDLED[name].build(split_seed=split_seed, mask_label_hashtags=mask_label_hashtags)


def load_bundled(name: str, split_seed: int, mask_label_hashtags: bool) -> datasets.DatasetDict:
    """A bundled data set from the per-process cache, as new Dataset objects over the same (immutable) Arrow tables,
    so that a caller's `set_format` never reaches the cache."""
    cached = _load_bundled_cached(name, split_seed, mask_label_hashtags)
    return datasets.DatasetDict({split: datasets.Dataset(ds.data, info=ds.info.copy(), split=ds.split)
                                 for split, ds in cached.items()})

