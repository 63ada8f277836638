"""Register the `sensoryt5` model type with transformers' Auto classes, without importing torch at `import sensoryt5`.

transformers 5 imports torch as soon as its configuration classes load (`transformers.configuration_utils`), so
registering at `import sensoryt5` would make every import of the package, and `sensoryt5 --help`, pay for torch
(about 1.5 s). `install()` (called by `import sensoryt5`) adds an import hook instead:

- when `transformers.models.auto.configuration_auto` has loaded, `SensoryConfig` is registered with `AutoConfig`;
- when `transformers.models.auto.modeling_auto` has loaded, a stand-in for `SensoryT5ForSequenceClassification` is
  registered with `AutoModelForSequenceClassification`; the stand-in imports `sensoryt5.modeling` on first use, so
  loading the model code never runs in the middle of transformers' own imports. Importing `sensoryt5.modeling`
  registers the real class over it.

Either module already imported when `install()` runs is registered at once (torch is loaded by then).
"""

from __future__ import annotations

import importlib.abc
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Callable, Sequence

CONFIGURATION_AUTO = "transformers.models.auto.configuration_auto"
MODELING_AUTO = "transformers.models.auto.modeling_auto"


def _register_config(configuration_auto: ModuleType) -> None:
    from sensoryt5.configuration import SensoryConfig

    configuration_auto.AutoConfig.register(SensoryConfig.model_type, SensoryConfig, exist_ok=True)


class _LazyModelType(type):
    """Metaclass of the stand-in: every attribute it lacks (`from_pretrained`, `_from_config`...) is the real
    class's."""

    def __getattr__(cls, name: str) -> Any:
        from sensoryt5.modeling import SensoryT5ForSequenceClassification

        return getattr(SensoryT5ForSequenceClassification, name)


def _register_model(modeling_auto: ModuleType) -> None:
    from sensoryt5.configuration import SensoryConfig

    # None while sensoryt5.modeling is still importing (its own registration at its end then replaces the stand-in)
    model_class = getattr(sys.modules.get("sensoryt5.modeling"), "SensoryT5ForSequenceClassification", None)
    if model_class is None:  # named like the real class: pipelines check the model's class name against the mapping's
        model_class = _LazyModelType("SensoryT5ForSequenceClassification", (), {"config_class": SensoryConfig})
    modeling_auto.AutoModelForSequenceClassification.register(SensoryConfig, model_class, exist_ok=True)


_ACTIONS: dict[str, Callable[[ModuleType], None]] = {CONFIGURATION_AUTO: _register_config,
                                                     MODELING_AUTO: _register_model}


class _ThenLoader(importlib.abc.Loader):
    """A module's own loader, followed by `then(module)` once the module has run."""

    def __init__(self, loader: importlib.abc.Loader, then: Callable[[ModuleType], None]) -> None:
        self.loader, self.then = loader, then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.then(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds the watched modules with the other finders and wraps their loaders in `_ThenLoader`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if fullname not in _ACTIONS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenLoader(spec.loader, _ACTIONS[fullname])
                return spec
        return None


def install() -> None:
    """Register now what transformers has already imported, and hook the rest (idempotent)."""
    if not any(isinstance(finder, _AfterImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImportFinder())
    for name, action in _ACTIONS.items():
        if name in sys.modules:
            action(sys.modules[name])
