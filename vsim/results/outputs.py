"""Output folders that are either complete or absent.

A run or a sweep writes several files. If the program is interrupted half-way
(Ctrl-C, a full disk), a folder holding some of them would look like a result
and mislead whoever reads it next. So every output folder is built under a
temporary name next to its destination and renamed into place only once every
file is written; a rename within one file system is atomic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vsim.spec.errors import ScenarioError

__all__ = ["staged_folder"]


@contextmanager
def staged_folder(dest: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``dest``; when the block ends
    without an error, it becomes ``dest`` (an existing ``dest`` is replaced only
    with ``replace=True``). On any error the temporary folder is removed and
    ``dest`` is left as it was."""
    from vsim.spec.errors import need_path

    dest = need_path(dest, "--out")
    here = Path.cwd().resolve()
    target = dest.resolve()
    if target == here or target in here.parents or target == Path(target.anchor):
        raise ScenarioError(f"--out {dest}: is the current folder or holds it; give a new folder for the results "
                            "(e.g. --out results)")
    if dest.exists() and not replace:
        raise ScenarioError(f"--out {dest}: already exists; choose a new folder or pass --force to replace it")
    if dest.exists() and not dest.is_dir():
        raise ScenarioError(f"--out {dest}: is a file, not a folder")
    parent = dest.parent if str(dest.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(parent, dest.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.", dir=parent))
    except OSError as exc:  # the parent is a file, read-only, ...
        raise ScenarioError(f"--out {dest}: cannot create a folder there ({exc.strerror or exc})") from None
    try:
        yield tmp
        if dest.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.old.", dir=parent))
            os.replace(dest, trash / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its folders alone
    return True


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove staging folders (``.NAME.PID.*``) that a killed run left behind:
    their process is gone, so nothing will ever finish them."""
    prefix = f".{name}."
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        if not (p.name.startswith(prefix) and p.is_dir()):
            continue
        pid = p.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
