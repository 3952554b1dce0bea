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
    dest = Path(dest)
    if dest.exists() and not replace:
        raise ScenarioError(f"--out {dest}: already exists; choose a new folder or pass --force to replace it")
    if dest.exists() and not dest.is_dir():
        raise ScenarioError(f"--out {dest}: is a file, not a folder")
    parent = dest.parent if str(dest.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=parent))
    except OSError as exc:  # the parent is a file, read-only, ...
        raise ScenarioError(f"--out {dest}: cannot create a folder there ({exc.strerror or exc})") from None
    try:
        yield tmp
        if dest.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=parent))
            os.replace(dest, trash / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
