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

import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from vsim.spec.errors import ScenarioError, brief

__all__ = ["read_yaml", "read_text_file", "parse_yaml_text", "MAX_YAML_BYTES", "MAX_VALUES"]


def read_text_file(path: str | Path, what: str = "a scenario .yaml file", max_bytes: int | None = None) -> str:
    """The text of a regular file, read safely: one ``ScenarioError`` naming the
    path for anything else. A FIFO, a device (``/dev/zero``, ``/dev/urandom``)
    or a folder is refused before it is opened (reading one would hang or never
    end); at most ``max_bytes`` (default :data:`MAX_YAML_BYTES`) are read, so a
    file that grows or lies about its size cannot fill memory; read errors
    (``/proc/self/mem``) and text that is not UTF-8 are named."""
    if not (isinstance(path, str) or hasattr(path, "__fspath__")):
        raise ScenarioError(f"path: expected a file name (str or pathlib.Path), got {type(path).__name__}")
    cap = MAX_YAML_BYTES if max_bytes is None else max_bytes
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such file; check the path") from None
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL in it, no permission ...
        raise ScenarioError(f"{p}: not a usable file name ({brief(str(exc))}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError(f"{p}: is a folder; give {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ScenarioError(f"{p}: is {kind}, not a file vsim can read; give {what}")
    if st.st_size > cap:
        raise ScenarioError(f"{p}: {st.st_size:,} bytes; vsim reads files of at most {cap // (1024 * 1024)} MB")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(cap + 1)
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot be read ({exc.strerror or brief(str(exc))})") from None
    if len(raw) > cap:
        raise ScenarioError(f"{p}: more than {cap // (1024 * 1024)} MB; vsim reads files of at most that")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not a text file (not valid UTF-8); give {what}") from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely (:func:`read_text_file`, then :func:`parse_yaml_text`)."""
    return parse_yaml_text(read_text_file(path), str(Path(path)))


#: The largest file or text vsim reads as YAML (a scenario of a thousand workloads is ~1 MB).
MAX_YAML_BYTES = 10 * 1024 * 1024
#: The most values a document may hold once its aliases are expanded (every
#: mapping, list, key and value counts one): far above any real scenario,
#: far below a "billion laughs" alias bomb, which is refused in well under a second.
MAX_VALUES = 2_000_000
#: Digits beyond which a number is kept as text for its field to refuse (Python's int limit is 4,300).
MAX_DIGITS = 1000

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser when installed (~10x faster)

_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_TAG_INT, _TAG_FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_TAG_ZERO, _TAG_SEXA = "tag:vsim,2026:leading-zero", "tag:vsim,2026:sexagesimal"


class _SafeUniqueLoader(_Base):  # type: ignore[misc, valid-type]
    """``yaml.safe_load`` (libyaml's C parser when present) that also refuses a
    key given twice in one mapping (plain PyYAML silently keeps the last one,
    so half the user's input is lost) and reads numbers by YAML 1.2's rules:
    ``010`` and ``1:30``, which YAML 1.1 reads as 8 and 90, are refused with
    the fix; ``1e5`` is a number."""

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
                    f"duplicate key {brief(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class TooLong(str):
    """A number with more digits than any field takes: kept as text, so that
    the field it was given for refuses it by name (``hosts[0].cores: must be
    a valid integer (got '<a number of 5000 digits>')``)."""


def _number_text(loader, node) -> str:
    text = loader.construct_scalar(node).replace("_", "")
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS:
        return TooLong(f"<a number of {digits} digits>")
    return text


def _construct_int(loader, node) -> int | str:
    text = _number_text(loader, node)
    if isinstance(text, TooLong):
        return text
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    return sign * int(body)


def _construct_float(loader, node) -> float | str:
    text = _number_text(loader, node)
    if isinstance(text, TooLong):
        return text
    text = text.lower()
    if text.endswith((".inf",)):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


def _refuse(why: str):
    def construct(loader, node):
        value = loader.construct_scalar(node)
        raise yaml.constructor.ConstructorError(None, None, why.format(v=value), node.start_mark)
    return construct


_SafeUniqueLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TAG_INT, _TAG_FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DIGITS, _SIGNS = list("0123456789"), list("-+")
_SafeUniqueLoader.add_implicit_resolver(_TAG_SEXA, _SEXAGESIMAL, _DIGITS + _SIGNS)
_SafeUniqueLoader.add_implicit_resolver(_TAG_ZERO, _LEADING_ZERO, _DIGITS + _SIGNS)
_SafeUniqueLoader.add_implicit_resolver(_TAG_INT, _INT, _DIGITS + _SIGNS)
_SafeUniqueLoader.add_implicit_resolver(_TAG_FLOAT, _FLOAT, _DIGITS + _SIGNS + ["."])
_SafeUniqueLoader.add_constructor(_TAG_INT, _construct_int)
_SafeUniqueLoader.add_constructor(_TAG_FLOAT, _construct_float)
_SafeUniqueLoader.add_constructor(_TAG_ZERO, _refuse(
    "{v}: a number with a leading zero is octal in YAML 1.1 (010 = 8) and decimal in YAML 1.2 (010 = 10); "
    "write it without the zero, or 0o10 for octal"))
_SafeUniqueLoader.add_constructor(_TAG_SEXA, _refuse(
    "{v}: YAML 1.1 reads this as base 60 (1:30 = 90); write the number of seconds, or quote it as text"))


def _too_many_values(data: Any, cap: int) -> bool:
    """True if ``data``, with its YAML aliases expanded, holds more than ``cap``
    values (counted without expanding: at most ``cap`` steps)."""
    stack, n = [data], 0
    while stack:
        x = stack.pop()
        n += 1
        if n > cap:
            return True
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


def parse_yaml_text(text: str, where: str = "scenario") -> Any:
    """Parse YAML text safely (plain data only); every failure is a ``ScenarioError``."""
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: expected YAML text (str), got {type(text).__name__}")
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError(f"{where}: {len(text):,} characters; YAML input is limited to "
                            f"{MAX_YAML_BYTES // (1024 * 1024)} MB")
    if "\x00" in text:
        raise ScenarioError(f"{where}: contains NUL bytes; a scenario is a YAML text file")
    try:
        data = yaml.load(text, Loader=_SafeUniqueLoader)  # noqa: S506 - a SafeLoader subclass
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
    except (ValueError, OverflowError) as exc:  # a number the constructors could not read
        raise ScenarioError(f"{where}: a value YAML cannot read: {brief(str(exc))}") from None
    if _too_many_values(data, MAX_VALUES):
        raise ScenarioError(f"{where}: holds more than {MAX_VALUES:,} values once its aliases (*name) are "
                            "expanded; a scenario needs far fewer (is an alias repeated inside itself?)")
    if "\\u" in text or "\\U" in text:  # only an escape can make a lone surrogate (not valid text)
        bad = _lone_surrogate(data, "")
        if bad is not None:
            raise ScenarioError(f"{where}: {bad or '(top level)'}: holds a lone surrogate (an escape such as "
                                "\\udc80 that is half of a character); write the character itself")
    return data


def _lone_surrogate(x: Any, path: str) -> str | None:
    """The path of the first key or text holding a lone surrogate, or None."""
    def bad(t: str) -> bool:
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    if isinstance(x, str):
        return path if bad(x) else None
    if isinstance(x, dict):
        for k, v in x.items():
            key = brief(k).encode("ascii", "backslashreplace").decode() if isinstance(k, str) and bad(k) else str(k)
            here = f"{path}.{key}" if path else key
            if isinstance(k, str) and bad(k):
                return here
            found = _lone_surrogate(v, here)
            if found is not None:
                return found
    if isinstance(x, list):
        for i, v in enumerate(x):
            found = _lone_surrogate(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


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
