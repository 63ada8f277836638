"""Label names of the user's data: case folding, a label map (raw label → label) and the checks around them.

`--label-case keep` (the default) keeps labels as written and stops on labels that differ only in case (`Anger`,
`anger`); `lower` folds every label to lower case. A label map (JSON object or two-column CSV/TSV) renames raw
labels, e.g. to merge GoEmotions' 27 emotions into Ekman's six; it is applied after case folding (its keys are
folded too), and a label that the map does not name is an error (or, with skip_invalid, a skipped row).

A map can also drop a label: `null` as its JSON value, or an empty second column in CSV/TSV (`disgust,`). A row
whose labels are all dropped is removed (counted in the data's report and logged once); a multi-label row keeps its
other labels. An empty raw label (first column, or a JSON key "") and an empty JSON string value stay errors.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sensoryt5.errors import InputError, check_choice, option

LABEL_CASES: tuple[str, ...] = ("keep", "lower")


LabelMap = dict[str, str | None]  # raw label → label, or None: drop the label


def read_label_map(path: str | os.PathLike) -> LabelMap:
    """Raw label → label (None: drop it) from a JSON object (`.json`) or a two-column CSV/TSV file, each side
    stripped."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such label map file", file=str(path))
    text = path.read_text(encoding="utf-8-sig")
    pairs = _json_pairs(path, text) if path.suffix.lower() == ".json" else _delimited_pairs(path, text)
    mapping: LabelMap = {}
    for row, raw, label in pairs:
        raw, label = raw.strip(), None if label is None else label.strip()
        if not raw or label == "":
            raise InputError("a label map entry has an empty side (to drop a label, write null in JSON or leave "
                             "the second CSV column empty; the raw label must be named)", file=str(path), row=row)
        if raw in mapping and mapping[raw] != label:
            raise InputError(f"the label map sends {raw!r} to both {mapping[raw]!r} and {label!r}", file=str(path),
                             row=row)
        mapping[raw] = label
    if not mapping:
        raise InputError("the label map is empty", file=str(path))
    if all(label is None for label in mapping.values()):
        raise InputError("the label map drops every label", file=str(path))
    return mapping


def _json_pairs(path: Path, text: str) -> list[tuple[int | None, str, str | None]]:
    """(row, raw, label) of a JSON object of strings or nulls (null: drop the label)."""
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"invalid JSON ({error.msg})", file=str(path), row=error.lineno) from error
    if not isinstance(mapping, dict) or not all(v is None or isinstance(v, str) for v in mapping.values()):
        raise InputError('expected a JSON object of label names or null (drop), e.g. {"joy": "happiness", '
                         '"shame": null}', file=str(path))
    return [(None, raw, label) for raw, label in mapping.items()]


def _delimited_pairs(path: Path, text: str) -> list[tuple[int | None, str, str | None]]:
    """(row, raw, label) of a two-column CSV (or TSV, by extension) without a header; an empty (blank) second
    column is None: drop the label."""
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    pairs = []
    for row, fields in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(f"{len(fields)} field(s); each line of a label map is: raw label, label",
                             file=str(path), row=row)
        pairs.append((row, fields[0], fields[1] if fields[1].strip() else None))
    return pairs


class Relabel:
    """Turns the label names read from one cell into the data set's labels (case folding, then the map)."""

    def __init__(self, label_case: str = "keep", label_map: LabelMap | None = None) -> None:
        check_choice("label case", label_case, LABEL_CASES)
        self.fold = label_case == "lower"
        self.mapping = None if label_map is None else self._folded_map(label_map)

    def _folded_map(self, label_map: LabelMap) -> LabelMap:
        """The map with its keys folded like the labels (two keys that fold together must agree)."""
        folded: LabelMap = {}
        for raw, label in label_map.items():
            key = raw.lower() if self.fold else raw
            if key in folded and folded[key] != label:
                raise InputError(f"with {option('label_case', 'lower')} the label map sends {key!r} to both "
                                 f"{folded[key]!r} and {label!r}")
            folded[key] = label
        return folded

    def report(self) -> dict[str, Any]:
        """How labels were renamed, for the data's report (empty when they were kept as written)."""
        renamed: dict[str, Any] = {"label_case": "lower"} if self.fold else {}
        return {"labels_renamed": {**renamed, "label_map": self.mapping}} if self.fold or self.mapping else {}

    def unmapped(self, labels: Iterable[str]) -> list[str]:
        """The (folded) labels of one cell that the map does not name."""
        if self.mapping is None:
            return []
        return [name for name in dict.fromkeys(self._folded(labels)) if name not in self.mapping]

    def _folded(self, labels: Iterable[str]) -> list[str]:
        return [name.lower() if self.fold else name for name in labels]

    def dropped(self, labels: Iterable[str]) -> list[str]:
        """The (folded) labels of one cell that the map drops (sends to None)."""
        if self.mapping is None:
            return []
        return [name for name in dict.fromkeys(self._folded(labels)) if self.mapping.get(name, "") is None]

    def __call__(self, labels: Iterable[str]) -> tuple[str, ...]:
        """One cell's labels, folded and mapped, each once (two raw labels mapped to one label become one); labels
        the map drops are left out (all dropped: an empty tuple)."""
        folded = self._folded(labels)
        if self.mapping is None:
            return tuple(dict.fromkeys(folded))
        return tuple(dict.fromkeys(label for label in (self.mapping[n] for n in folded) if label is not None))


def check_case_collisions(counts: Counter, file: str | None, column: str) -> None:
    """InputError when labels differ only in case, naming each and its row count and how to fix it."""
    groups: dict[str, list[str]] = {}
    for name in sorted(counts):
        groups.setdefault(name.lower(), []).append(name)
    colliding = [names for names in groups.values() if len(names) > 1]
    if not colliding:
        return
    described = "; ".join(", ".join(f"{name!r} ({counts[name]} rows)" for name in names) for names in colliding)
    raise InputError(f"labels that differ only in case: {described}; pass {option('label_case', 'lower')} to fold "
                     f"them into one label, or {option('label_map')} to name each", file=file, column=column)


def dropped_note(rows: int, dropped: Counter) -> str:
    """The one-line note for `rows` rows removed by a label map, e.g. "dropped 12 rows with labels disgust, shame
    (label map)"; `dropped` counts removed rows per dropped label (most frequent first)."""
    names = ", ".join(name for name, _ in sorted(dropped.items(), key=lambda item: (-item[1], item[0])))
    return f"dropped {rows} rows with label{'s' if len(dropped) > 1 else ''} {names} (label map)"
