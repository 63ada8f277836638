"""Label maps shipped with the package, and applying a label map to a bundled data set.

A shipped map is named by a bare word (`four-emotions`) and resolves per bundled data set to
`sensoryt5/resources/label_maps/<name>/<data set>.json` (see the SOURCE.md there for each mapping and why). Any
other `--label-map` value is a file path; a value that is both a shipped name and an existing file is an error
(write the file as `./four-emotions`).

A bundled set relabelled by a map gets the sorted set of the map's targets for its labels as label names, the same
in every split (the order user files get: sorted unique labels); rows whose labels the map all drops are removed,
and a multi-label row keeps its other labels.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from sensoryt5.data.labels import LabelMap, Relabel, dropped_note, read_label_map
from sensoryt5.data.schema import (
    build_split,
    dataset_metadata,
    is_multi_label,
    label_array,
    label_names,
    multi_hot_column,
    split_features,
)
from sensoryt5.errors import InputError, option

logger = logging.getLogger(__name__)

_RESOURCES = "resources/label_maps"
SHIPPED_LABEL_MAPS: dict[str, str] = {
    "four-emotions": "anger, fear, joy and sadness, the label space shared by isear, emoint, goemotions and "
                     "empathetic_dialogues (the rest dropped)",
}
_MAP_FILE_OF: dict[str, str] = {"goemotions-multilabel": "goemotions"}  # bundled sets that share another's map


def shipped_map_file(name: str, bundled: str) -> Path:
    """The file of shipped map `name` for bundled data set `bundled`; InputError when it has none."""
    folder = resources.files("sensoryt5").joinpath(f"{_RESOURCES}/{name}")
    file = folder.joinpath(f"{_MAP_FILE_OF.get(bundled, bundled)}.json")
    if not file.is_file():
        covered = sorted(entry.name.removesuffix(".json") for entry in folder.iterdir()
                         if entry.name.endswith(".json"))
        raise InputError(f"the shipped label map {name!r} has no mapping for {bundled!r}; it covers "
                         f"{', '.join(covered)}")
    return Path(str(file))


def resolve_label_map(label_map: str | os.PathLike | Mapping[str, str | None] | None,
                      bundled: str | None) -> tuple[LabelMap | None, str | None]:
    """The map to apply (None: none) and the shipped map's name (None: a dict or the user's file).

    `bundled` is the bundled data set being loaded (None: the user's data), which a shipped name needs."""
    if label_map is None or isinstance(label_map, Mapping):
        return (None if label_map is None else dict(label_map)), None
    text = str(label_map)
    if text not in SHIPPED_LABEL_MAPS:
        return read_label_map(label_map), None
    if Path(text).exists():
        raise InputError(f"{option('label_map')} {text!r} is both a shipped label map and a file here; write the "
                         f"file as ./{text}")
    if bundled is None:
        raise InputError(f"the shipped label map {text!r} applies to the bundled data sets; for your own data pass "
                         f"a map file to {option('label_map')}")
    return read_label_map(shipped_map_file(text, bundled)), text


def relabel_bundled(data: datasets.DatasetDict, mapping: LabelMap, map_name: str | None) -> datasets.DatasetDict:
    """`data` (a bundled set) with its labels mapped and the rows of dropped labels removed (logged once).

    A label of the data that the map does not name is an InputError listing each with its row count."""
    names, multi_label = label_names(data), is_multi_label(data)
    relabel = Relabel("keep", mapping)
    labels = {split: label_array(ds) for split, ds in data.items()}  # [n] ids, or [n, n_labels] multi-hot
    missing = relabel.unmapped(names)
    if missing:
        counts = {name: sum(int(_rows_with(labels[split], names.index(name), multi_label).sum()) for split in data)
                  for name in missing}
        listed = ", ".join(f"{name!r} ({n} rows)" for name, n in sorted(counts.items()))
        bundled = dataset_metadata(data["train"]).get("name")
        raise InputError(f"the label map does not name {listed} of the bundled {bundled!r}; add them to the map "
                         f"(null drops a label)")
    targets = [mapping[name] for name in names]
    new_names = sorted({target for target in targets if target is not None})
    new_id = np.array([-1 if target is None else new_names.index(target) for target in targets])  # [n_labels]
    mapped = {split: _mapped(labels[split], new_id, len(new_names), multi_label) for split in data}
    dropped_rows, dropped = {}, {}
    for split, (_, keep) in mapped.items():
        gone = labels[split][~keep]
        per_label = gone.sum(0) if multi_label else np.bincount(gone, minlength=len(names))
        dropped[split] = Counter({names[i]: int(n) for i, n in enumerate(per_label) if n})
        dropped_rows[split] = int((~keep).sum())
    report = {"labels_renamed": {"label_map": relabel.mapping, **({"shipped": map_name} if map_name else {})}}
    if any(dropped_rows.values()):
        logger.warning("%s", dropped_note(sum(dropped_rows.values()), sum(dropped.values(), Counter())))
        report["dropped_by_label_map"] = {split: {"rows": dropped_rows[split], "labels": dict(sorted(c.items()))}
                                          for split, c in dropped.items() if dropped_rows[split]}
    metadata = dataset_metadata(data["train"])
    metadata.update(labels=new_names, report={**metadata.get("report", {}), **report})
    return datasets.DatasetDict({split: _rebuilt(ds.select(np.flatnonzero(mapped[split][1])), mapped[split][0],
                                                 new_names, multi_label, metadata)
                                 for split, ds in data.items()})


def _rows_with(labels: np.ndarray, label: int, multi_label: bool) -> np.ndarray:
    """[n] bool: the rows carrying label id `label`."""
    return labels[:, label] > 0 if multi_label else labels == label


def _mapped(labels: np.ndarray, new_id: np.ndarray, n_new: int, multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """The kept rows' new labels ([k] ids or [k, n_new] multi-hot) and the [n] mask of rows kept."""
    if not multi_label:
        ids = new_id[labels]  # [n]
        return ids[ids >= 0], ids >= 0
    matrix = np.zeros((len(labels), n_new), dtype=np.float32)  # [n, n_new]
    for old, new in enumerate(new_id):
        if new >= 0:
            matrix[:, new] = np.maximum(matrix[:, new], labels[:, old])
    keep = matrix.sum(1) > 0
    return matrix[keep], keep


def _rebuilt(ds: datasets.Dataset, ids: np.ndarray, names: list[str], multi_label: bool,
             metadata: dict[str, Any]) -> datasets.Dataset:
    """`ds` (the kept rows) with its target column replaced by `ids` under label names `names`, and `metadata`."""
    extras = {name: feature for name, feature in ds.features.items() if name not in ("text", "label", "labels")}
    target = ({"labels": multi_hot_column([np.flatnonzero(row).tolist() for row in ids], len(names))} if multi_label
              else {"label": ids.tolist()})
    columns = {"text": ds["text"], **target, **{name: ds[name] for name in extras}}
    return build_split(columns, split_features(names, multi_label, extras), str(ds.split), metadata)
