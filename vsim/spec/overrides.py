"""Overrides: change one field of a scenario from the command line.

To try a scenario with more memory you could copy the file and edit it, or
say what to change::

    vsim run scenarios/boot-storm.yaml --set hosts.0.memory_gib=128

A *dotted path* names one place in the nested data that YAML gives: mapping
keys are names, list positions are numbers, and ``hosts.0.memory_gib`` and
``hosts[0].memory_gib`` mean the same (the first host group's memory). The
value after ``=`` is read as a YAML scalar, so ``32`` is a number, ``true`` a
yes/no value and ``kvm`` text.

Overrides change the *raw* data, before validation: the result is checked
exactly like a file the user wrote, so an override cannot slip past a check.
A path must lead through things that exist (a mapping that is not there yet is
created; a list position must exist), and a wrong path is a
:class:`~vsim.spec.errors.ScenarioError` that says which part is missing.
The sweep (``sweep:`` in a scenario) uses the same paths.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from vsim.spec.errors import ScenarioError, brief

__all__ = ["apply_overrides", "split_path", "set_path"]


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any] | None) -> dict:
    """Apply ``dotted.path=value`` overrides (``hosts.0.memory_gib=32`` or
    ``hosts[0].memory_gib=32``) to raw scenario data; values are YAML scalars."""
    if not overrides:
        return data
    data = copy.deepcopy(data)
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, dict):
        items = list(overrides.items())
        bad = [k for k, _ in items if not isinstance(k, str)]
        if bad:
            raise ScenarioError(f"overrides: keys must be dotted paths (text), got {brief(bad[0])}")
    elif not isinstance(overrides, list | tuple):
        raise ScenarioError("overrides: expected a list of 'path=value' texts or a dict {path: value}, "
                            f"got {type(overrides).__name__}")
    else:
        for ov in overrides:
            if not isinstance(ov, str) or "=" not in ov:
                raise ScenarioError(f"--set {brief(ov)}: expected dotted.path=value, e.g. hosts.0.memory_gib=32")
            key, _, raw = ov.partition("=")
            try:
                val = yaml.safe_load(raw) if raw.strip() else ""
            except (yaml.YAMLError, RecursionError):
                val = raw
            items.append((key.strip(), val))
    for key, val in items:
        set_path(data, key, val, what="--set")
    return data


def split_path(key: str) -> list[str | int]:
    """``"hosts[0].memory_gib"`` -> ``["hosts", 0, "memory_gib"]``."""
    parts: list[str | int] = []
    for chunk in key.replace("[", ".").replace("]", "").split("."):
        if chunk == "":
            continue
        parts.append(int(chunk) if chunk.isdigit() else chunk)
    return parts


def set_path(data: dict, key: str, val: Any, what: str = "path") -> None:
    """Set ``data[key] = val`` where key is a dotted path; the parent must exist."""
    parts = split_path(key)
    if not parts:
        raise ScenarioError(f"{what} {brief(key)}: empty path")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        here = ".".join(str(p) for p in parts[: i + 1])
        if isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                raise ScenarioError(f"{what} {brief(key)}: {here} is out of range (the list has {len(node)} items)")
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str):
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError(f"{what} {brief(key)}: {here} does not exist in the scenario")
    last = parts[-1]
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = val
    elif isinstance(node, dict) and isinstance(last, str):
        node[last] = val
    else:
        raise ScenarioError(f"{what} {brief(key)}: cannot set {brief(last)} there")
