"""Reading YAML: the one place where vsim turns a file into plain data.

YAML can do more than describe data. With PyYAML's full loader a file may
say ``!!python/object/apply:os.system ["rm -rf ~"]`` and the loader runs it:
opening a scenario someone mailed you would run their code. vsim therefore
reads YAML with a *safe* loader, which builds only plain data (mappings,
lists, text, numbers, yes/no, null) and refuses every tag that asks for a
Python object.

A second trap: a mapping that names one key twice::

    hosts:
      - cores: 16
        cores: 64

is legal YAML, and plain PyYAML silently keeps the last value, so half of
what the user wrote is lost without a word. The loader here refuses it.

Every failure (no such file, a folder, not UTF-8, a syntax error, a refused
tag, a duplicate key) becomes a :class:`~vsim.spec.errors.ScenarioError` that
names the file and, where YAML knows it, the line. What the data *means* is
checked later, by the pydantic models (:mod:`vsim.spec.scenario`,
:mod:`vsim.spec.profile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vsim.spec.errors import ScenarioError

__all__ = ["read_yaml", "parse_yaml_text"]


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely; every failure becomes a ``ScenarioError``."""
    if not (isinstance(path, str) or hasattr(path, "__fspath__")):
        raise ScenarioError(f"path: expected a file name (str or pathlib.Path), got {type(path).__name__}")
    p = Path(path)
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, ...
        raise ScenarioError(f"{p}: not a usable file name ({exc}); check the path") from None
    if not exists:
        raise ScenarioError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise ScenarioError(f"{p}: is a folder; give a scenario .yaml file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not a text file (not valid UTF-8); a scenario is a YAML text file") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot be read ({exc.strerror})") from None
    return parse_yaml_text(text, str(p))


class _SafeUniqueLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that also refuses a key given twice in one mapping
    (plain PyYAML silently keeps the last one, so half the user's input is lost)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:
                continue
            if dup:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml_text(text: str, where: str = "scenario") -> Any:
    """Parse YAML text safely (plain data only); every failure is a ``ScenarioError``."""
    if "\x00" in text:
        raise ScenarioError(f"{where}: contains NUL bytes; a scenario is a YAML text file")
    try:
        return yaml.load(text, Loader=_SafeUniqueLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = str(exc.problem)
        if problem.startswith("duplicate key"):
            raise ScenarioError(f"{where}: {line}{problem} in one mapping; keep only one of them") from None
        if "constructor for the tag" not in problem:
            raise ScenarioError(f"{where}: {line}YAML error: {problem}") from None
        raise ScenarioError(
            f"{where}: {line}YAML tag refused ({problem}); scenario files hold plain data only"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(f"{where}: {line}YAML syntax error: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{where}: nested too deeply to be a scenario") from None


#: What each kind of vsim file has at its top level, and the command that reads it.
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "scenario": (("hosts",), "vsim run FILE (or vsim sweep FILE)"),
    "capacity plan": (("demand", "architectures"), "vsim plan FILE"),
    "platform profile": (("start_phases",), "a scenario's profiles: list, or vsim profiles FILE"),
    "validation group": (("group", "cases"), "vsim check (its cases live in vsim/validation/)"),
}


def file_kind(data: Any) -> str | None:
    """Which kind of vsim file ``data`` (as read from YAML) looks like, or None.

    >>> file_kind({"demand": {}, "architectures": []})
    'capacity plan'
    """
    if not isinstance(data, dict):
        return None
    for kind, (keys, _) in KINDS.items():
        if all(k in data for k in keys):
            return kind
    return None


def refuse_other_kind(data: Any, expected: str, where: str) -> None:
    """Raise one clear error if ``data`` is another kind of vsim file than ``expected``."""
    kind = file_kind(data)
    if kind is not None and kind != expected:
        how = KINDS[kind][1].replace("FILE", where)
        raise ScenarioError(f"{where}: this is a {kind}, not a {expected}: use {how}")
