"""Older key names in saved JSON files (train_metrics.json, sensory_processor.json, result.json), read as today's.

The sensory settings have one name each across modules: `sensory_mode`, `sensory_dims`, `oov_embedder`. Files
written before that used `sensory` or `mode`, `dims` and `oov`; they still load.
"""

from __future__ import annotations

from typing import Any

LEGACY_KEYS = {"sensory": "sensory_mode", "mode": "sensory_mode", "dims": "sensory_dims", "oov": "oov_embedder"}


def current_keys(saved: dict[str, Any]) -> dict[str, Any]:
    """`saved` with every older key renamed to today's name (other keys unchanged)."""
    return {LEGACY_KEYS.get(key, key): value for key, value in saved.items()}
