"""Reading the files shipped in `sensoryt5/resources/datasets` and building a bundled `DatasetDict` from them."""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from importlib import resources
from typing import Any

import datasets
import pandas as pd

from sensoryt5.data.schema import build_split, multi_hot_column, split_features

_RESOURCES = "resources/datasets"


def resource_bytes(folder: str, file: str) -> bytes:
    """Bytes of a bundled file, gunzipped when its name ends in `.gz`."""
    raw = resources.files("sensoryt5").joinpath(f"{_RESOURCES}/{folder}/{file}").read_bytes()
    return gzip.decompress(raw) if file.endswith(".gz") else raw


def resource_lines(folder: str, file: str) -> list[str]:
    """Non-empty lines of a bundled text file (label lists)."""
    return [line.strip() for line in resource_bytes(folder, file).decode("utf-8").splitlines() if line.strip()]


def read_resource_table(folder: str, file: str, **read_csv: Any) -> pd.DataFrame:
    """A bundled delimited file through pandas, every cell read as a string."""
    return pd.read_csv(io.BytesIO(resource_bytes(folder, file)), dtype=str, keep_default_na=False, **read_csv)


def bundled_dict(name: str, splits: dict[str, pd.DataFrame], names: Sequence[str], multi_label: bool,
                  extras: dict[str, datasets.Value], report: dict[str, Any]) -> datasets.DatasetDict:
    """DatasetDict from per-split frames holding `text`, `label` (ids) or `label_ids` (id lists) and `extras`."""
    features = split_features(names, multi_label, extras)
    metadata = {"name": name, "labels": list(names), "multi_label": multi_label, "report": report}
    built = {}
    for split, frame in splits.items():
        target = ({"labels": multi_hot_column(frame["label_ids"].tolist(), len(names))} if multi_label
                  else {"label": frame["label"].astype(int).tolist()})
        columns = {"text": frame["text"].str.strip().tolist(), **target,
                   **{column: frame[column].tolist() for column in extras}}
        built[split] = build_split(columns, features, split, metadata)
    return datasets.DatasetDict(built)
