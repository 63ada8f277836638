"""sensoryt5: sensory-aware fine-grained emotion classification (SensoryT5, arXiv 2403.15574)."""

__version__ = "0.1.0"
