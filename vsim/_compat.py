"""Old import paths, kept working.

Until version 0.1 every module sat directly in ``vsim/`` (``vsim.world``,
``vsim.scenario``, ...). They now live in the layers (see ARCHITECTURE.md);
``import vsim.world`` still works and gives a module that finds each old name
in its new home, with a ``DeprecationWarning`` naming it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module -> the modules its public names now live in, searched in order.
MOVED: dict[str, tuple[str, ...]] = {
    "vsim.errors": ("vsim.spec.errors",),
    "vsim.fields": ("vsim.spec.fields",),
    "vsim.profile": ("vsim.spec.profile",),
    "vsim.scenario": ("vsim.spec.scenario",),
    "vsim.service_spec": ("vsim.spec.services",),
    "vsim.operations_spec": ("vsim.spec.operations",),
    "vsim.fairshare": ("vsim.engine.fairshare",),
    "vsim.weighted": ("vsim.engine.weighted",),
    "vsim.solo": ("vsim.engine.solo",),
    "vsim.phaselog": ("vsim.engine.phaselog",),
    "vsim.world": ("vsim.model.world", "vsim.experiments.run"),
    "vsim.services": ("vsim.mechanisms.services",),
    "vsim.cgroups": ("vsim.mechanisms.cgroups",),
    "vsim.migration": ("vsim.mechanisms.migration",),
    "vsim.faults": ("vsim.mechanisms.faults",),
    "vsim.energy": ("vsim.mechanisms.energy",),
    "vsim.outputs": ("vsim.results.outputs",),
}


class _Forward(types.ModuleType):
    """A module whose names are looked up in the modules that now hold them."""

    def __init__(self, name: str, homes: tuple[str, ...]) -> None:
        super().__init__(name, f"Moved: use {' or '.join(homes)}.")
        self._homes = homes

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        for home in self._homes:
            mod = importlib.import_module(home)
            if hasattr(mod, attr):
                return getattr(mod, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        homes = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {homes[0]}; import it from there (or from vsim)",
                      DeprecationWarning, stacklevel=3)
        return _Forward(spec.name, homes)

    def exec_module(self, module) -> None:
        pass


def install() -> None:
    """Let the old module paths be imported (once per interpreter)."""
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.append(_OldPaths())
