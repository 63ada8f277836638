"""Checking each row of the user's data and building the `DatasetDict`: labels, missing splits, a skip report."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np

from sensoryt5.data.files import Source, require_columns
from sensoryt5.data.labels import Relabel, check_case_collisions, dropped_note
from sensoryt5.data.schema import SPLITS, build_split, multi_hot_column, split_features
from sensoryt5.data.split import HELD_OUT_SHARE, stratified_split
from sensoryt5.errors import InputError, option
from sensoryt5.texts import text_problem

logger = logging.getLogger(__name__)

LABEL_SEPARATOR_LIKE: tuple[str, ...] = (";", "|", ",")
UNSPLIT_LABEL_SHARE = 0.05  # share of label cells holding a separator-like character that triggers the warning
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as decoded with errors="surrogateescape"


@dataclass
class _Rows:
    """Validated rows of one split."""

    file: str
    texts: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # rows removed by the label map, per dropped label
    dropped_rows: int = 0

    def subset(self, indices: Sequence[int]) -> _Rows:
        """The rows at `indices`, counting skips into the same counter."""
        return _Rows(self.file, [self.texts[i] for i in indices], [self.labels[i] for i in indices],
                     [self.rows[i] for i in indices], self.skipped)


class _CellError(Exception):
    """A row-level problem in one column; becomes an InputError (or a skipped row)."""

    def __init__(self, column: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.column, self.reason = column, reason



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
    """The text cell, stripped; it must pass `sensoryt5.texts.text_problem` (a non-blank string of valid UTF-8)."""
    problem = text_problem(value)
    if problem:
        raise _CellError(column, f"the text {problem.message}", problem.reason)
    return value.strip()



def _validated(source: Source, text_column: str, label_column: str, separator: str | None,
               skip_invalid: bool, skipped: Counter, relabel: Relabel) -> _Rows:
    """Check every row's text and label, then fold and map the labels (`relabel`); bad rows raise InputError, or
    are counted when `skip_invalid`. Labels missing from a label map are all named in one error; rows whose labels
    the map all drops are counted in `dropped`."""
    require_columns(source, (text_column, label_column))
    rows = _Rows(source.file, skipped=skipped)
    unmapped: Counter = Counter()
    first_unmapped: int | None = None
    for text, label, row in zip(source.frame[text_column], source.frame[label_column], source.rows):
        try:
            checked = _checked_text(text, text_column), _label_parts(label, separator, label_column)
        except _CellError as bad:
            if not skip_invalid:
                raise InputError(str(bad), file=source.file, row=row, column=bad.column) from None
            skipped[bad.reason] += 1
            continue
        missing = relabel.unmapped(checked[1])
        if missing:
            unmapped.update(missing)
            first_unmapped = row if first_unmapped is None else first_unmapped
            if skip_invalid:
                skipped["label not in the label map"] += 1
            continue
        mapped = relabel(checked[1])
        if not mapped:  # every label of the row is dropped by the map
            rows.dropped.update(relabel.dropped(checked[1]))
            rows.dropped_rows += 1
            continue
        rows.texts.append(checked[0])
        rows.labels.append(mapped)
        rows.rows.append(row)
    if unmapped and not skip_invalid:
        names = ", ".join(f"{name!r} ({n} rows)" for name, n in sorted(unmapped.items()))
        raise InputError(f"the label map does not name {names}; add them to the map (a null, or an empty second CSV "
                         f"column, drops a label) or pass "
                         f"{option('skip_invalid', True)} to skip their rows", file=source.file, row=first_unmapped,
                         column=label_column)
    return rows


def _check_case_collisions(parts: dict[str, _Rows], label_column: str) -> None:
    """Stop on labels that differ only in case anywhere in the data (counted in rows, over all splits)."""
    counts = Counter(name for rows in parts.values() for labels in rows.labels for name in labels)
    files = {rows.file for rows in parts.values()}
    check_case_collisions(counts, files.pop() if len(files) == 1 else None, label_column)


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
                         f"(a label needs 5 rows to give one to each); add rows, or give validation and "
                         f"test files (a folder of train, validation and test files)", file=train.file)
    return {**parts, **{split: train.subset(indices[split]) for split in ["train", *missing]}}


def _user_dict(parts: dict[str, _Rows], names: Sequence[str], multi_label: bool,
               metadata: dict[str, Any]) -> datasets.DatasetDict:
    """DatasetDict from validated rows."""
    index = {name: i for i, name in enumerate(names)}
    features = split_features(names, multi_label, {})
    built = {}
    for split in SPLITS:
        ids = [[index[name] for name in labels] for labels in parts[split].labels]
        target = {"labels": multi_hot_column(ids, len(names))} if multi_label else {"label": [i[0] for i in ids]}
        built[split] = build_split({"text": parts[split].texts, **target}, features, split, metadata)
    return datasets.DatasetDict(built)


def from_sources(sources: dict[str, Source], *, text_column: str, label_column: str,
                  label_separator: str | None, labels: Sequence[str] | None, split_seed: int, skip_invalid: bool,
                  name: str, skipped: dict[str, Counter], relabel: Relabel) -> datasets.DatasetDict:
    """Validate the read splits, fold and map their labels, fix the label order, carve missing splits and build the
    DatasetDict."""
    parts = {split: _validated(source, text_column, label_column, label_separator, skip_invalid, skipped[split],
                               relabel)
             for split, source in sources.items()}
    _check_case_collisions(parts, label_column)
    dropped = {split: rows for split, rows in parts.items() if rows.dropped_rows}
    if label_separator is None:
        _warn_of_unsplit_labels(sources["train"], label_column)
    if not parts["train"].texts:
        raise InputError("no usable rows in the training data" + (" (the label map dropped them all)" if
                         "train" in dropped else ""), file=parts["train"].file)
    names = [str(name) for name in labels] if labels is not None else _label_order(parts["train"])
    if len(set(names)) != len(names):
        raise InputError(f"labels= repeats a name: {names}")
    for split in parts:
        where = "is not one of the given labels=" if labels is not None else \
            f"occurs in the {split} data but not in train"
        parts[split] = _known_labels_only(parts[split], names, where, label_column, skip_invalid)
    parts = _carve_missing_splits(parts, split_seed)
    multi_label = label_separator is not None or _has_list_labels(sources, label_column)
    report = {**_skip_report(skipped, sources, split_seed), **relabel.report(),
              **_dropped_report({split: (rows.dropped_rows, rows.dropped) for split, rows in dropped.items()})}
    metadata = {"name": name, "labels": list(names), "multi_label": multi_label, "report": report}
    return _user_dict(parts, names, multi_label, metadata)


def _dropped_report(dropped: dict[str, tuple[int, Counter]]) -> dict[str, Any]:
    """Rows a label map removed, per split and dropped label, logged once (all splits together)."""
    if not dropped:
        return {}
    total = sum((counts for _, counts in dropped.values()), Counter())
    logger.warning("%s", dropped_note(sum(rows for rows, _ in dropped.values()), total))
    return {"dropped_by_label_map": {split: {"rows": rows, "labels": dict(sorted(counts.items()))}
                                     for split, (rows, counts) in dropped.items()}}


def _warn_of_unsplit_labels(source: Source, label_column: str) -> None:
    """Warn (one line) when a separator-like character is in at least 5% of the label cells: several labels per
    cell, read as one label each because no separator was given."""
    cells = [value for value in source.frame[label_column] if isinstance(value, str) and value.strip()]
    for separator in LABEL_SEPARATOR_LIKE:
        share = sum(separator in value for value in cells) / max(len(cells), 1)
        if share >= UNSPLIT_LABEL_SHARE:
            logger.warning("warning: %s: %.0f%% of the %r cells contain %r, each read as one label; if they hold "
                           "several labels, pass %s", source.file, 100 * share, label_column, separator,
                           option("label_separator", separator))
            return


def _has_list_labels(sources: dict[str, Source], label_column: str) -> bool:
    """Whether any label cell is a list (JSON Lines, Parquet or hub data given as label lists)."""
    return any(isinstance(value, (list, tuple, np.ndarray))
               for source in sources.values() for value in source.frame[label_column])


def _skip_report(skipped: dict[str, Counter], sources: dict[str, Source], split_seed: int) -> dict[str, Any]:
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

