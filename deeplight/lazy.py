"""Package namespaces that import on first use (PEP 562).

``deeplight.io``, ``deeplight.infer`` and ``deeplight.sdg`` re-export their public names. Imported
eagerly, ``import deeplight.io.cog`` or the ``deeplight`` console script (which registers every
command group) paid for xarray, rioxarray, geopandas and torch whether the command used them or not:
about 2.2 s of a 4.8 s start-up on the 2-core machine (``python -X importtime``). With
:func:`lazy_exports` a package names where each export lives and loads it when it is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, providers: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``providers`` maps an exported name to the
    module that defines it. A name that is not exported but is a submodule (``deeplight.io.scene``)
    is imported as such, as an eager ``__init__`` would have done."""

    def __getattr__(name: str) -> Any:
        module = providers.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif not name.startswith("__"):
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(providers))

    return __getattr__, __dir__
