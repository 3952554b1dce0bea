"""The phase log: every phase of every guest, as four flat columns.

A guest's life is a sequence of phases (``pull``, ``clone-full``,
``firmware``, ``kernel``, ``shutdown``...), and the phases table of the
results has one row per phase per guest: about ten rows per guest, ten
million for a million guests. The world records them as they happen into
four plain lists (guest id, what, start, end) rather than one small list of
tuples per guest: appending a number to a list makes no new object for
Python's cyclic garbage collector to scan again and again while the run
goes on, and the table is built from the columns in a few vectorised steps.

``what`` is a phase's name, or, for a solo run (:mod:`vsim.engine.solo`) that ended
undisturbed, its :class:`~vsim.engine.solo.SoloSpec` with start and end both the
run's start: one entry stands for all of the run's phases, which
:meth:`PhaseLog.rows` and the phases table expand from the spec's offsets.

>>> log = PhaseLog()
>>> log.add(7, "kernel", 1.0, 2.5)
>>> log.rows(7)
[('kernel', 1.0, 2.5)]
"""

from __future__ import annotations

__all__ = ["PhaseLog"]


class PhaseLog:
    """Phases in the order they ended, as columns ``gid``, ``what``, ``start``, ``end``."""

    __slots__ = ("gid", "what", "start", "end")

    def __init__(self) -> None:
        self.gid: list[int] = []
        self.what: list = []  # a phase name, or a SoloSpec for a packed solo run
        self.start: list[float] = []
        self.end: list[float] = []

    def add(self, gid: int, what, start: float, end: float) -> None:
        """Record that guest ``gid`` went through phase ``what`` from ``start`` to ``end``
        (or, with a SoloSpec as ``what``, that its run started at ``start``)."""
        self.gid.append(gid)
        self.what.append(what)
        self.start.append(start)
        self.end.append(end)

    def __len__(self) -> int:
        return len(self.gid)

    def rows(self, gid: int) -> list[tuple[str, float, float]]:
        """Guest ``gid``'s phases as ``(name, start, end)``, in time order, packed
        runs expanded (a scan of the whole log: for tests and small scenarios)."""
        out = []
        for g, what, a, b in zip(self.gid, self.what, self.start, self.end, strict=True):
            if g != gid:
                continue
            if isinstance(what, str):
                out.append((what, a, b))
            else:
                out.extend((name, a + x, a + y) for name, x, y in what.records)
        return out
