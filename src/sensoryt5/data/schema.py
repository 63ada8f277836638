"""The shape of every sensoryt5 `DatasetDict`: features, the JSON metadata in `info.description`, labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

SPLITS: tuple[str, ...] = ("train", "validation", "test")


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


def split_features(names: Sequence[str], multi_label: bool, extras: dict[str, datasets.Value]) -> datasets.Features:
    """`text`, then `label` (ClassLabel) or multi-hot `labels`, then the extra columns."""
    target = ({"labels": datasets.Sequence(datasets.Value("float32"), length=len(names))} if multi_label
              else {"label": datasets.ClassLabel(names=list(names))})
    return datasets.Features({"text": datasets.Value("string"), **target, **extras})


def build_split(columns: dict[str, Any], features: datasets.Features, split: str,
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


def multi_hot_column(label_ids: Sequence[Sequence[int]], n_labels: int) -> pa.FixedSizeListArray:
    """The multi-hot matrix as an Arrow fixed-size list column (10x faster to load than nested Python lists)."""
    return pa.FixedSizeListArray.from_arrays(pa.array(multi_hot(label_ids, n_labels).reshape(-1)), n_labels)



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
