"""The README's "data flows one way", pinned: parse every module's imports (module level and deferred ones inside
functions alike) and check the direction of the arrows and that there are no cycles.

Module names come from the package folder, so modules added or split later (e.g. inference.py into
model_folder.py, classifier.py and streaming.py) are checked without editing this file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sensoryt5

PACKAGE = Path(sensoryt5.__file__).parent
UPSTREAM = {"norms", "lexicon", "data", "modeling"}  # the README: these import nothing downstream of them
STAGES = [{"norms", "lexicons"}, {"lexicon", "oov"}, {"alignment", "long_text"},
          {"modeling", "fusion", "configuration"}]
"""The flow up to the model, in order: a module may import its own stage and earlier ones (`modeling` may use
`alignment`, never the reverse). `lexicons` reads the other word tables into the norms' form; `oov` is the
lexicon's regressor; `long_text` plans the processor's windows; `fusion` and `configuration` are parts of the
model. `data` is a stage of its own beside them: it uses only the
foundations."""
FOUNDATIONS = {"errors", "atomic", "backbones", "texts", "legacy"}
"""Helpers every module may use, themselves importing only each other: error types, atomic writes, backbone
aliases, the text rule shared by the data loaders and prediction, and older key names of saved files."""


def _component(module: str) -> str:
    """The top-level unit a module belongs to: `data.files` → `data`, `cli.train_cmd` → `cli`, `norms` → `norms`."""
    return module.split(".")[0]


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name below `sensoryt5` (`data.files`, `cli`, `training`, ...)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and parts != ["__main__"]:
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `module` imports anywhere in its file (absolute and relative imports)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(["sensoryt5", *package[: len(package) - node.level + 1]])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.startswith("sensoryt5."):
                name = name.removeprefix("sensoryt5.")
                while name and name not in known:  # `data.load_dataset` → `data`
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_the_module_list_comes_from_the_package_folder():
    modules = _modules()
    assert {"norms", "lexicon", "data", "data.files", "modeling", "training", "cli", "cli.train_cmd"} <= set(modules)
    assert {_component(m) for m in modules} >= UPSTREAM | {"errors", "atomic", "backbones", "fusion", "oov"}
    assert _allowed("lexicon") >= {"norms", "oov"} and "alignment" not in _allowed("lexicon")
    assert "alignment" in _allowed("modeling") and "modeling" not in _allowed("alignment")
    assert _allowed("training") is None and _allowed("cli") is None
    graph = _graph()
    assert "norms" in graph["lexicon"] and "errors" in graph["data.files"]  # absolute imports are seen
    assert "fusion" in graph["modeling"]  # relative imports (`from .fusion import ...`) are seen


def _allowed(component: str) -> set[str] | None:
    """The components `component` may import, or None when it is downstream (free to import anything upstream)."""
    if component in FOUNDATIONS:
        return set(FOUNDATIONS)
    if component == "data":
        return {"data", *FOUNDATIONS}
    for number, stage in enumerate(STAGES):
        if component in stage:
            return set().union(*STAGES[: number + 1], FOUNDATIONS)
    return None


def test_upstream_modules_import_nothing_downstream():
    assert UPSTREAM <= {"data"}.union(*STAGES)
    for module, targets in _graph().items():
        allowed = _allowed(_component(module))
        if allowed is not None:
            downstream = {t for t in targets if _component(t) not in allowed}
            assert not downstream, f"{module} imports downstream module(s) {sorted(downstream)}"


def test_only_cli_imports_cli():
    for module, targets in _graph().items():
        if _component(module) != "cli":
            assert not {t for t in targets if _component(t) == "cli"}, f"{module} imports the command line"


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
