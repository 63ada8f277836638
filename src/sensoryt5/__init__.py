"""sensoryt5: sensory-aware fine-grained emotion classification (SensoryT5, arXiv 2403.15574).

The public names below load on first use (module `__getattr__`), so `import sensoryt5` does not import torch or
transformers; it also makes `AutoConfig` / `AutoModelForSequenceClassification.from_pretrained(folder)` know the
`sensoryt5` model type (see `sensoryt5.auto_classes`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sensoryt5.auto_classes import install as _install_auto_classes

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    "SensoryClassifier": "sensoryt5.classifier",
    "SensoryT5ForSequenceClassification": "sensoryt5.modeling",
    "SensoryConfig": "sensoryt5.configuration",
    "SensoryProcessor": "sensoryt5.alignment",
    "SensoryLexicon": "sensoryt5.lexicon",
    "TrainingConfig": "sensoryt5.training",
    "train": "sensoryt5.training",
    "evaluate": "sensoryt5.evaluation",
    "load_dataset": "sensoryt5.data",
    "export_onnx": "sensoryt5.export",
}
__all__ = ["SensoryClassifier", "SensoryConfig", "SensoryLexicon", "SensoryProcessor",
           "SensoryT5ForSequenceClassification", "TrainingConfig", "__version__", "evaluate", "export_onnx",
           "load_dataset", "train"]

if TYPE_CHECKING:
    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.configuration import SensoryConfig
    from sensoryt5.data import load_dataset
    from sensoryt5.evaluation import evaluate
    from sensoryt5.export import export_onnx
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.modeling import SensoryT5ForSequenceClassification
    from sensoryt5.training import TrainingConfig, train


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sensoryt5' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


_install_auto_classes()
