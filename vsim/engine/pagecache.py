"""A host's page cache: read-only data kept in memory, least recently used out first.

When a guest reads data that other guests share (the base image under linked
clones, a container image's layers), the host kernel keeps the pages in its
*page cache*: the next guest that reads them gets them from memory, not from
disk. That is why the tenth VM booting from one base image reads almost
nothing from disk, and why a boot storm from one image is bound by CPU rather
than by the disk, while full clones (each VM reads its *own* copy) get no help.

:class:`PageCache` keeps entries ``key -> MB`` in least-recently-used order
within a capacity that changes as the run goes on (the memory the host's
guests have not reserved: as guests are placed, the cache shrinks and the
oldest entries are evicted). It also keeps the reads in flight, so that
guests which ask for the same data while it is being read wait for that one
read instead of reading it again (as concurrent readers of a page wait for
the one I/O that fills it). It counts hits, shared reads, misses and
evictions for the results.

Pure bookkeeping, no simulated time: the model decides when to look up, when a
read starts and when it ends (:mod:`vsim.model.phases`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["PageCache"]


class PageCache:
    """Least-recently-used cache of read-only data within a changing capacity (MB).

    ``capacity()`` is called whenever the cache must know its room: an entry
    larger than the room is read but not kept.
    """

    def __init__(self, capacity: Callable[[], float]) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[Hashable, float] = OrderedDict()
        self.used_mb = 0.0
        #: reads in flight: key -> whatever the model waits on (a SimPy event)
        self.reading: dict[Hashable, Any] = {}
        self.hits = 0  # found in memory
        self.shared = 0  # waited for another reader's read in flight
        self.misses = 0  # read from disk
        self.hit_mb = 0.0
        self.shared_mb = 0.0
        self.miss_mb = 0.0
        self.evicted_mb = 0.0
        self.peak_mb = 0.0

    def __contains__(self, key: Hashable) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def trim(self) -> None:
        """Evict least recently used entries until the cache fits its capacity."""
        room = self.capacity()
        entries = self.entries
        while entries and self.used_mb > room + 1e-9:
            _, mb = entries.popitem(last=False)
            self.used_mb -= mb
            self.evicted_mb += mb
        if not entries:
            self.used_mb = 0.0  # no rounding residue once empty

    def lookup(self, key: Hashable, mb: float) -> bool:
        """Is ``key`` (``mb`` of data) in memory? A hit makes it the most
        recently used and is counted; a miss is counted by :meth:`read`."""
        self.trim()
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            self.hit_mb += mb
            return True
        return False

    def read(self, key: Hashable, mb: float) -> None:
        """Count a read of ``key`` from disk (a miss)."""
        self.misses += 1
        self.miss_mb += mb

    def share(self, mb: float) -> None:
        """Count a read served by another reader's read in flight."""
        self.shared += 1
        self.shared_mb += mb

    def insert(self, key: Hashable, mb: float) -> None:
        """Keep ``key`` (``mb``) as the most recently used entry, evicting
        the least recently used to make room; not kept if it cannot fit."""
        if key in self.entries:
            self.entries.move_to_end(key)
            return
        if mb > self.capacity():
            self.trim()
            return
        self.entries[key] = mb
        self.used_mb += mb
        self.trim()
        if self.used_mb > self.peak_mb:
            self.peak_mb = self.used_mb

    def __repr__(self) -> str:
        return f"PageCache({len(self.entries)} entries, {self.used_mb:.0f} MB)"
