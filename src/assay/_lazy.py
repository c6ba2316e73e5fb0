"""Packages whose public names are imported on first use.

``assay``, ``assay.core`` and ``assay.analyse`` re-export names from their modules (httpx's
habit: users import ``assay.Store``, not ``assay.store.repository.Store``). Importing every
module eagerly made each command pay for everything (pydantic for ``assay --help``, the whole
analysis layer for ``assay show``); :func:`export_lazily` defers each import to the first
access of a name, and keeps a public name from being shadowed by a submodule of the same name
(``assay.run`` the function and ``assay.run`` the subpackage; ``assay.analyse.gate``).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


class LazyPackage(types.ModuleType):
    """A package module whose exported names win over its submodules.

    Importing a submodule binds it on its parent (``import assay.run`` sets ``assay.run``);
    for a name the package exports, that binding is dropped, so ``assay.run`` stays the
    function. The submodule is still importable (``from assay.run import Eval``): it lives in
    ``sys.modules``.
    """

    _lazy_exports: Mapping[str, str] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._lazy_exports and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def export_lazily(package: str, exports: Mapping[str, str], names: list[str]) -> None:
    """Make ``package`` import each of ``exports`` (name → defining module) on first access.

    Installs ``__getattr__`` and ``__dir__`` (PEP 562) on the package and turns it into a
    :class:`LazyPackage`. ``names`` is the package's ``__all__``.
    """
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return list(names)

    module.__dict__["__getattr__"] = __getattr__
    module.__dict__["__dir__"] = __dir__
    module.__class__ = LazyPackage
    module.__dict__["_lazy_exports"] = exports
