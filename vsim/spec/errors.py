"""The one exception users see: :class:`ScenarioError`.

Everything a user can get wrong (a YAML file, a ``--set`` override, an argument
to an API function) ends in a ``ScenarioError`` whose message names the field
and says what is expected, one line per problem. The CLI prints the message and
exits with status 2; it never shows a traceback unless asked (``--debug``).
"""

from __future__ import annotations

__all__ = ["ScenarioError", "brief", "need_path", "need_bool"]


class ScenarioError(ValueError):
    """Bad input: a scenario, profile, plan or argument that cannot be used.

    ``problems`` holds one line per problem, each starting with the field path
    (``hosts[0].memory_gib: must be greater than 0``).
    """

    def __init__(self, problems: str | list[str], source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = head + f"{len(self.problems)} problems\n" + "\n".join(
                "  " + p for p in self.problems
            )
        super().__init__(msg)


def _repr():
    import reprlib

    r = reprlib.Repr()
    r.maxstring = r.maxother = 60
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 6
    r.maxlevel = 3
    r.maxlong = 40
    return r


_BRIEF = _repr()


def brief(value) -> str:
    """``repr(value)``, cut short: what an error message may echo of the user's
    input. A 10 MB string, a list of a million values or a YAML alias bomb is
    shown in at most a few hundred characters, in bounded time.

    >>> brief("nope"), brief(list(range(100)))
    ("'nope'", '[0, 1, 2, 3, 4, 5, ...]')
    """
    try:
        return _BRIEF.repr(value)
    except Exception:  # a value whose repr fails
        return f"<{type(value).__name__}>"


def need_path(value, name: str):
    """``value`` as a ``pathlib.Path``, or a ``ScenarioError`` naming ``name``
    (a file or folder argument must be text or a path, and not empty)."""
    import os
    from pathlib import Path

    if isinstance(value, bool) or not isinstance(value, str | os.PathLike):
        raise ScenarioError(f"{name}: expected a file or folder name (str or pathlib.Path), got {type(value).__name__}")
    if str(value) == "":
        raise ScenarioError(f"{name}: an empty name; give the name of a folder or file")
    return Path(value)


def need_bool(value, name: str) -> bool:
    """``value`` if it is True or False, else a ``ScenarioError`` naming ``name``."""
    if not isinstance(value, bool):
        raise ScenarioError(f"{name}: must be True or False, got {brief(value)}")
    return value

