"""No import runs up the layers of the package (issue 12): each package imports only lower layers.

Layers, lowest first: the ground floor (``contracts``, ``errors``, ``utils_io``, ``runtime``, ``lazy``), ``io``,
``data``, ``models``, ``train``, then ``eval`` and ``infer`` (side by side), ``sdg``, ``report``, and the
data catalogue ``catalog`` (it opens every data set as a Scene, with the demo's labels of ``report``).
Command modules (``*/cli.py``, ``__main__.py``, ``deeplight/cli.py``) sit on top and may import
anything; the ground-floor modules may import each other. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deeplight"
RANK = {
    "contracts": 0, "errors": 0, "utils_io": 0, "runtime": 0, "lazy": 0, "__init__": 0,
    "io": 1, "data": 2, "models": 3, "train": 4, "eval": 5, "infer": 5, "sdg": 6, "report": 7, "catalog": 8,
}
COMMANDS = {"cli.py", "__main__.py"}


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def _imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "deeplight" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def test_no_import_runs_up_the_layers():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in COMMANDS:
            continue
        own = _layer(path)
        assert own in RANK, f"{path}: layer {own!r} is not in the table of tests/test_layers.py"
        for target in _imported_layers(path):
            if target == own or target not in RANK:
                continue
            if RANK[target] > RANK[own] or (RANK[target] == RANK[own] and RANK[own] > 0):
                upward.append(f"{path.relative_to(PACKAGE.parent)} ({own}) imports deeplight.{target}")
    assert not upward, "imports that run up (or across) the layers:\n" + "\n".join(upward)


def test_every_lazy_export_resolves_to_its_module():
    """``deeplight.io``, ``.infer`` and ``.sdg`` load their exports on first use (``deeplight.lazy``):
    each name of ``__all__`` is defined by the module its table names (a typo would only surface when
    a caller first asked for the name)."""
    import importlib

    for package in ("deeplight.io", "deeplight.infer", "deeplight.sdg"):
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            assert value is getattr(importlib.import_module(module._PROVIDERS[name]), name), (package, name)
    assert importlib.import_module("deeplight.infer").tiling.__name__ == "deeplight.infer.tiling"  # a submodule, as before
