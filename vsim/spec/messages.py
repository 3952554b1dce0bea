"""Error messages: one line per problem, naming the field and the fix.

pydantic checks every field of a scenario, but its reports are written for
programmers::

    1 validation error for Scenario
    hosts.0.memroy_gib
      Extra inputs are not permitted [type=extra_forbidden, input_value=64, ...]

A user wants to know *where* the problem is, in the words of the file they
wrote, and *what to do*. :func:`format_validation_error` turns each pydantic
error into one line that starts with the field path (``hosts[0].memroy_gib``,
with list positions in brackets, as the user counts them) and ends with the
fix::

    hosts[0].memroy_gib: unknown field; did you mean 'memory_gib'?

Most of the work is the hint for an unknown field. The models say which
fields are valid at each place of a file (:func:`_models_at` walks from the
top model down the path of the error), so a misspelt field is matched against
its neighbours first (``difflib``), and a field written one level too high is
found in the model below (``it belongs inside 'disk'``).

This module knows no particular model. The top-level models (``Scenario``,
``Profile``) introduce themselves with :func:`register_root`; a pydantic error
carries only the *name* of the model that failed, and the registry turns that
name back into the model. This way the scenario and profile modules can use
the messages, and the messages need not import them (which would be an import
cycle).
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from vsim.spec.errors import ScenarioError, brief

__all__ = ["format_validation_error", "register_root", "suggest"]

# Top-level models by name (the ``title`` of their ValidationError), and the
# models whose field names make up the words a user may write in a file.
_ROOTS: dict[str, type[BaseModel]] = {}
_WORD_MODELS: dict[type[BaseModel], None] = {}  # a set that keeps its order


def register_root(root: type[BaseModel], vocabulary: Iterable[type[BaseModel]] = ()) -> None:
    """Make ``root``'s validation errors point into its fields, and add the
    fields of the ``vocabulary`` models to the words an unknown field is
    compared with when its place in the file is not known."""
    _ROOTS[root.__name__] = root
    _WORD_MODELS.update(dict.fromkeys(vocabulary))


def _vocabulary() -> set[str]:
    """Every field name of the registered models."""
    words: set[str] = set()
    for m in _WORD_MODELS:
        words.update(m.model_fields)
    return words


def suggest(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"; did you mean {brief(close[0])}?" if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a type (``list[HostGroup]``, ``A | B | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _models_at(root: type[BaseModel] | None, loc: tuple) -> list[type[BaseModel]]:
    """The models that describe the value at ``loc`` (empty if unknown)."""
    models = [root] if root is not None else []
    for el in loc:
        if isinstance(el, int) or not models:
            continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            if el in m.model_fields:
                nxt.extend(_models_in(m.model_fields[el].annotation))
            elif "type" in m.model_fields and el in _literal_values(m.model_fields["type"].annotation):
                nxt.append(m)  # the tag pydantic adds for a discriminated union
        models = nxt
    return models


def _literal_values(annotation: Any) -> tuple:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()


def _unknown_field_hint(name: str, here: list[type[BaseModel]]) -> str:
    """'did you mean' from the fields valid at that place, else where the field belongs."""
    if not here:
        return suggest(name, _vocabulary()) or "; remove it or check the spelling"
    fields = [f for m in here for f in m.model_fields]
    starts = [f for f in fields if f.startswith(name) or name.startswith(f)]
    if len(starts) == 1:
        return f"; did you mean {brief(starts[0])}?"
    hint = suggest(name, fields)
    if hint:
        return hint
    for m in here:
        for f, info in m.model_fields.items():
            if any(name in sub.model_fields for sub in _models_in(info.annotation)):
                return f"; it belongs inside {brief(f)} ({f}: {{{name}: ...}})"
    shown = ", ".join(dict.fromkeys(fields))
    return f"; remove it or check the spelling (fields here: {shown})"


_TAGS = {"batch", "poisson", "every", "times", "fixed", "exponential", "forever", "trace"}


def _loc_to_path(loc: tuple, prefix: str = "") -> str:
    parts: list[str] = [prefix] if prefix else []
    prev = None
    for el in loc:
        if isinstance(el, int):
            if parts:
                parts[-1] += f"[{el}]"
            else:
                parts.append(f"[{el}]")
        elif el in _TAGS and prev in ("arrivals", "lifetime"):
            pass  # the tag of a discriminated union: not a field the user wrote
        elif isinstance(el, str) and (el.startswith("function-") or el in ("list[...]",)):
            pass
        else:
            parts.append(str(el))
        prev = el
    return ".".join(parts) if parts else "(top level)"


def format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    """One line per pydantic error: ``field.path: what is expected``."""
    lines: list[str] = []
    root = _ROOTS.get(exc.title)
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        typ = err.get("type", "")
        msg = err.get("msg", "invalid")
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ScenarioError):  # raised by a cross-field check: already has paths
            lines.extend(f"{prefix}.{p}" if prefix else p for p in inner.problems)
            continue
        if typ == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            msg = "unknown field" + _unknown_field_hint(name, _models_at(root, loc[:-1]))
        elif typ == "missing":
            msg = "required field is missing"
        elif typ == "union_tag_invalid" or typ == "union_tag_not_found":
            tags = [t for m in _models_at(root, loc) for t in _literal_values(m.model_fields["type"].annotation)]
            choice = ", ".join(repr(t) for t in tags) or (err.get("ctx") or {}).get("expected_tags", "")
            got = (err.get("ctx") or {}).get("tag")
            msg = f"'type' must be one of {choice}" + (f" (got {brief(got)})" if got is not None else " (it is missing)")
        elif typ == "invalid_key":
            msg = f"field names must be text, got {brief(err.get('input'))}"
        else:
            msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
            if "validation error for" in msg:  # a nested pydantic error: keep its words, one line
                msg = re.sub(r"\s*For further information visit [^\s)]+", "", msg)
                msg = re.sub(r"\s*\[type=[^\]]*\]", "", msg)
                msg = re.sub(r"\d+ validation errors? for \w+\s*", "", msg).replace("Input should be", "must be")
                msg = " ".join(msg.split())
            msg = re.sub(r"must be a valid dictionary( or (instance of \w+|object to extract fields from))?",
                         "must be a mapping of fields (key: value)", msg)
            if typ in ("int_parsing", "float_parsing", "int_type", "float_type", "bool_parsing", "string_type"):
                msg += f" (got {brief(err.get('input'))})"
            m = re.match(r"^([a-z_][a-z0-9_]*): (.+)$", msg, re.S) if typ == "value_error" else None
            if m and any(m.group(1) in mod.model_fields for mod in _models_at(root, loc)):
                loc, msg = (*loc, m.group(1)), m.group(2)  # a check on one field of the model
        lines.append(f"{_loc_to_path(loc, prefix)}: {msg}")
    return lines
