"""The deterministic stratified split, for data without an official one (ISEAR, a single user file)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

HELD_OUT_SHARE = 0.1  # share of each class carved out for a missing validation or test split


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


def examples_per_class(labels: Sequence[int], n: int, seed: int) -> tuple[list[int], dict[int, int]]:
    """Row indices of `n` seeded examples of each class in `labels` (all of a class that has fewer), sorted, and
    the classes that had fewer than `n` (class → rows it has).

    Rows are ordered per class by `_shuffle_key(seed, index)`, so the choice depends only on the seed and the row
    order, and a larger `n` keeps every row a smaller one chose (the learning curve's subsets are nested).
    """
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(index)
    chosen: list[int] = []
    for members in by_class.values():
        chosen += sorted(members, key=lambda index: _shuffle_key(seed, index))[:n]
    short = {label: len(members) for label, members in sorted(by_class.items()) if len(members) < n}
    return sorted(chosen), short
