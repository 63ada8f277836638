"""Data sets from the Hugging Face hub (`hf:NAME[:CONFIG]`), with a fast, clear failure when it is unreachable."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import datasets
import numpy as np

from sensoryt5.data.files import SPLIT_ALIASES, Source, require_columns
from sensoryt5.errors import InputError

HUB_PREFIX = "hf:"
HUB_TIMEOUT_S = 3.0
_OFFLINE_VALUES = {"1", "true", "yes", "on"}


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


def hub_sources(spec: str, text_column: str, label_column: str) -> tuple[dict[str, Source], list[str] | None]:
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
    sources: dict[str, Source] = {}
    names = None
    for hub_split, dataset in loaded.items():
        split = SPLIT_ALIASES.get(hub_split.lower())
        if split is None or split in sources:
            continue
        source = Source(f"{spec} [{hub_split}]", dataset.to_pandas(), list(range(1, len(dataset) + 1)))
        require_columns(source, (text_column, label_column))
        feature = dataset.features[label_column]
        class_label = getattr(feature, "feature", feature)
        if isinstance(class_label, datasets.ClassLabel):
            names = list(class_label.names)
            source.frame[label_column] = _class_label_names(source.frame[label_column], class_label)
        sources[split] = source
    if "train" not in sources:
        raise InputError(f"{spec!r} has no train split (splits: {', '.join(loaded)})")
    return sources, names
