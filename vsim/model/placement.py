"""Placement: which host takes a guest, without a loop over every host.

For each shape of guest the placer keeps the policy's score of every host and
its best host, and re-scores only the hosts that changed since it last looked;
a numpy arg-min only when the best host got worse, so a thousand hosts cost no
Python loop over every host per guest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from vsim.model.guest import Guest
from vsim.model.host import Host
from vsim.spec.scenario import Image

__all__ = ["Placer", "Refusal", "conditions", "disk_fits", "EPS"]

EPS = 1e-9  # MiB, vCPUs, MB: sums of reservations are exact only up to rounding


# -- the placement rule, stated once ---------------------------------------------------

def conditions(on, platform_count, platform_limit, count, max_guests, mem_free, vcpu_free, mem, vcpus):
    """The placement rule: a host can take a guest of ``mem`` MiB and ``vcpus``
    vCPUs when every condition holds, and its disk fits (:func:`disk_fits`).

    Each host argument is one host's number (the lazy per-shape scores, a
    migration target) or a numpy array of every host's (the full check and
    the reason for a refusal): the same expressions serve both. The
    conditions come in the order a refusal names them.
    """
    return (("platform", on),  # it runs the platform and takes new guests (it is on)
            ("guest limit", (platform_count < platform_limit) & (count < max_guests)),
            ("memory", mem_free >= mem - EPS),
            ("vcpus", vcpu_free >= vcpus - EPS))


def disk_fits(free, own, whole, lacking) -> bool:
    """The disk part of the rule, for one host: room for the guest's own disk
    and the image data the host lacks, which is between 0 and the ``whole``
    image; ``lacking()`` (a look at the host's cache) is asked only when the
    answer depends on it. :meth:`Placer._disk_fits` decides the sure cases
    for all hosts at once in the same way."""
    return free >= own + whole - EPS or (free >= own - EPS and free >= own + lacking() - EPS)


class Refusal(NamedTuple):
    """Why a guest was not placed: the binding ``resource`` (platform, hosts,
    guest limit, memory, vcpus, disk, or a mechanism's, such as kernel) and
    the ``message`` a user reads (the instances table's ``reason``)."""

    resource: str
    message: str

    def __str__(self) -> str:
        return self.message


class _Shape:
    """What the placer keeps for one shape of guest: the policy's score of
    every host (inf where the shape does not fit) and how much of the change
    log it has seen. ``rescore`` applies the placement rule host by host."""

    __slots__ = ("placer", "guest", "own", "whole", "mask", "pcount", "plimit", "mem", "vcpus",
                 "mem_lo", "vcpu_lo", "own_lo", "sure_lo", "score", "seen", "best", "best_i")

    def __init__(self, placer: Placer, guest: Guest, own_disk_mb: float) -> None:
        p = guest.platform
        self.placer = placer
        self.guest = guest  # any guest of this shape: the disk rule asks it for its image
        self.own = own_disk_mb
        im = guest.image
        self.whole = placer._items(im)[0] if im is not None else 0.0  # the image's whole size on disk
        self.mask, self.pcount, self.plimit = placer._pmask[p], placer._pcount[p], placer._plimit[p]
        self.mem = guest.memory_mib
        self.vcpus = guest.vcpus
        # The rule's thresholds for this shape, worked out once (see rescore).
        self.mem_lo = self.mem - EPS
        self.vcpu_lo = self.vcpus - EPS
        self.own_lo = own_disk_mb - EPS
        self.sure_lo = own_disk_mb + self.whole - EPS
        self.score: np.ndarray = np.zeros(0)
        self.seen = -1
        # The lowest score and its host (the lowest index among equal scores),
        # as score.argmin() gives them; best_i < 0: not known, ask argmin.
        self.best = math.inf
        self.best_i = -1

    def rescore(self, hosts) -> None:
        """Bring the scores of ``hosts`` (indices) up to date.

        This is the placement rule (:func:`conditions` and :func:`disk_fits`)
        written out for one host at a time: the same comparisons in the same
        order, with this shape's thresholds worked out once and everything
        held in locals, because it runs for every host changed since the shape
        last looked (calling the two functions per host made a datacenter day
        ~5% slower). ``tests/test_hot_path.py`` checks that the scores kept
        this way equal the rule applied to every host at once.
        """
        pl = self.placer
        score, score_of, inf = self.score, pl._score_of, math.inf
        mask, pcount, plimit, count, max_guests = self.mask, self.pcount, self.plimit, pl._count, pl._max_guests
        mem, vcpu, disk = pl._mem, pl._vcpu, pl._disk
        mem_lo, vcpu_lo, sure_lo, own_lo = self.mem_lo, self.vcpu_lo, self.sure_lo, self.own_lo
        m, mi = inf, -1  # the lowest new score among these hosts
        for i in hosts:
            if (mask[i] and pcount[i] < plimit[i] and count[i] < max_guests[i]
                    and mem[i] >= mem_lo and vcpu[i] >= vcpu_lo):
                free = disk[i]
                if free >= sure_lo or (free >= own_lo
                                       and free >= self.own + pl.extra_disk_mb(self.guest, i) - EPS):
                    x = score[i] = score_of(i)
                    if x < m or (x == m and i < mi):
                        m, mi = x, i
                    continue
            score[i] = inf
        # The best host is still known if it did not change, or if one of these
        # now scores at least as well as it did (every other host is unchanged).
        bi = self.best_i
        if bi < 0 or mi < 0:
            if bi in hosts:
                self.best_i = -1
            return
        b = self.best
        if m < b or (m == b and mi <= bi):
            self.best, self.best_i = m, mi
        elif bi in hosts:
            self.best_i = -1


class Placer:
    """Free capacity of every host, and placement without a loop over hosts.

    For each *shape* of guest (platform, memory, vCPUs, disk, image) the placer
    keeps the policy's score of every host as a numpy array (the lowest score
    wins; inf where the shape does not fit), computed once over all hosts and
    then kept up to date lazily: every change to a host (a guest placed or
    released, the host going down, an image pull registered) is noted in a
    change log, and the next placement of a shape re-scores only the hosts
    changed since that shape last looked, and keeps track of the best host as
    it goes; a numpy arg-min over the scores is needed only when the best host
    got worse. A thousand hosts cost a few Python steps per host that changed,
    not a loop over every host.

    The free capacities are kept as Python lists (one element at a time is
    what placement reads and writes); ``mem_free``, ``vcpu_free``,
    ``disk_free``, ``count``, ``platform_count`` and ``platform_mask`` are
    read-only numpy views of them, rebuilt when read after a change.
    """

    # The change log is dropped when it grows this much longer than the host
    # count; shapes that had not caught up are then recomputed in full.
    _LOG_SLACK = 4096
    # A shape re-scores the hosts changed since it last looked one by one, up
    # to this many (or a quarter of the hosts); beyond, all at once with numpy.
    _DIRTY_MAX = 256

    def __init__(self, hosts: list[Host], policy: str) -> None:
        self.hosts = hosts
        self.policy = policy
        self._mem = [h.memory_capacity_mib - h.footprint_mib for h in hosts]
        self._vcpu = [float(h.vcpu_capacity) for h in hosts]
        self._disk = [h.disk_capacity_mb - h.cache_mb for h in hosts]
        self._count = [0.0] * len(hosts)
        self.max_guests = np.array([h.max_guests for h in hosts], dtype=float)
        self._max_guests = self.max_guests.tolist()
        names = sorted({p for h in hosts for p in h.platforms})
        self._pmask = {p: [p in h.platforms for h in hosts] for p in names}
        self._pcount = {p: [0.0] * len(hosts) for p in names}
        self.platform_limit = {
            p: np.array([h.platforms[p].limit if p in h.platforms else 0 for h in hosts], dtype=float)
            for p in names
        }
        self._plimit = {p: lim.tolist() for p, lim in self.platform_limit.items()}
        self._image_items: dict[str, tuple] = {}
        self._changed: list[int] = []  # hosts changed, in order (see touch)
        self._log_start = 0  # position of _changed[0] in the whole history of changes
        self._shapes: dict[tuple, _Shape] = {}
        self._views: dict | None = None  # numpy views of the lists, until the next change
        self._score_of: Callable[[int], float]
        if policy == "best-fit":  # the fullest host that fits
            self._score_of = self._mem.__getitem__
        elif policy == "worst-fit":  # the emptiest
            self._score_of = lambda i: -self._mem[i]
        elif policy == "spread":  # the one with the fewest guests
            self._score_of = self._count.__getitem__
        else:  # first-fit: the first host that fits
            self._score_of = lambda i: 0.0

    # -- numpy views ---------------------------------------------------------------
    def _view(self, name: str):
        v = self._views
        if v is None:
            v = self._views = {
                "mem_free": np.array(self._mem), "vcpu_free": np.array(self._vcpu),
                "disk_free": np.array(self._disk), "count": np.array(self._count),
                "platform_count": {p: np.array(c) for p, c in self._pcount.items()},
                "platform_mask": {p: np.array(m, dtype=bool) for p, m in self._pmask.items()},
            }
        return v[name]

    mem_free = property(lambda self: self._view("mem_free"), doc="Free memory (MiB) per host, overcommit included.")
    vcpu_free = property(lambda self: self._view("vcpu_free"), doc="Free vCPUs per host, overcommit included.")
    disk_free = property(lambda self: self._view("disk_free"), doc="Free disk (MB) per host.")
    count = property(lambda self: self._view("count"), doc="Guests placed per host now.")
    platform_count = property(lambda self: self._view("platform_count"), doc="Guests per platform per host.")
    platform_mask = property(lambda self: self._view("platform_mask"),
                             doc="Per platform: which hosts run it and take new guests now.")

    # -- changes --------------------------------------------------------------------
    def _change(self, i: int, p: str, mem: float, vcpus: float, disk: float, n: int) -> None:
        """Take ``mem``, ``vcpus``, ``disk`` and ``n`` guest slots on host ``i``
        (negative: give them back), and note the change."""
        self._mem[i] -= mem
        self._vcpu[i] -= vcpus
        self._disk[i] -= disk
        self._count[i] += n
        self._pcount[p][i] += n
        self.touch(i)

    def touch(self, i: int) -> None:
        """Note that host ``i``'s free capacity, availability or image cache changed."""
        self._views = None
        log = self._changed
        log.append(i)
        if len(log) > self._LOG_SLACK + 16 * len(self.hosts):
            self._log_start += len(log)
            log.clear()

    def mem_free_on(self, i: int) -> float:
        """Free memory (MiB) on host ``i`` now, overcommit included."""
        return self._mem[i]

    def extra_disk_mb(self, guest: Guest, i: int) -> float:
        """Disk host ``i`` would need for the image data it lacks (cache misses).

        An image or layer already cached, or being pulled by another guest,
        costs nothing more. O(layers): asked only of the hosts that matter.
        """
        im = guest.image
        if im is None:
            return 0.0
        h = self.hosts[i]
        c, p = h.cache, h.pulling
        items = self._items(im)[1]
        if items is None:
            return 0.0 if (im.name in c or im.name in p) else im.disk_mb
        extra = 0.0
        for key, mb in items:
            if key not in c and key not in p:
                extra += mb
        return extra

    def _items(self, im: Image) -> tuple[float, tuple[tuple[str, float], ...] | None]:
        """An image's whole size on disk and its layers ``(id, disk_mb)``, worked out once."""
        got = self._image_items.get(im.name)
        if got is None or got[0] is not im:
            layers = None if im.kind == "vm-disk" else tuple((lay.id, lay.disk_mb) for lay in im.layers)
            got = self._image_items[im.name] = (im, im.disk_mb, layers)
        return got[1], got[2]

    def _disk_fits(self, guest: Guest, own_disk_mb: float, among: np.ndarray) -> np.ndarray:
        """Which hosts have the disk space the guest needs (exact), over all hosts.

        The image's cache misses cost between 0 and its whole size, so a host
        with room for ``own + whole image`` surely fits and one without room for
        ``own`` surely does not: both are decided in one vectorised comparison.
        Only hosts in between (and in ``among``) are asked about their cache,
        one by one; on a datacenter with room to spare there are none.
        """
        free = self.disk_free
        im = guest.image
        whole = self._items(im)[0] if im is not None else 0.0
        fits = free >= own_disk_mb + whole - EPS  # the sure case of disk_fits, for every host
        unsure = np.greater(among, fits)  # a candidate that may or may not fit
        if np.count_nonzero(unsure):
            for i in np.flatnonzero(unsure).tolist():
                fits[i] = disk_fits(free[i], own_disk_mb, whole, lambda i=i: self.extra_disk_mb(guest, i))
        return fits

    def _fits_all(self, guest: Guest, own_disk_mb: float) -> np.ndarray:
        """Which hosts can take the guest now, over all hosts at once."""
        ok = np.logical_and.reduce([c for _, c in self._conditions_all(guest)])
        ok &= self._disk_fits(guest, own_disk_mb, ok)
        return ok

    def _conditions_all(self, guest: Guest):
        """The rule's conditions (:func:`conditions`) for every host, as arrays."""
        p = guest.platform
        return conditions(self.platform_mask[p], self.platform_count[p], self.platform_limit[p], self.count,
                          self.max_guests, self.mem_free, self.vcpu_free, guest.memory_mib, guest.vcpus)

    def _score_all(self, guest: Guest, own_disk_mb: float) -> np.ndarray:
        key = {"best-fit": self.mem_free, "worst-fit": -self.mem_free, "spread": self.count}.get(self.policy)
        if key is None:
            key = np.zeros(len(self.hosts))
        return np.where(self._fits_all(guest, own_disk_mb), key, np.inf)

    def _shape(self, guest: Guest, own_disk_mb: float) -> _Shape:
        """The up-to-date placement state of the guest's shape (see the class docstring)."""
        im = guest.image
        key = (guest.platform, guest.memory_mib, guest.vcpus, own_disk_mb, None if im is None else im.name)
        sh = self._shapes.get(key)
        if sh is None:
            sh = self._shapes[key] = _Shape(self, guest, own_disk_mb)
        log = self._changed
        k = sh.seen - self._log_start  # where in the log its unseen changes begin; < 0: new, or the log was dropped
        if k < 0 or len(log) - k > max(self._DIRTY_MAX, len(self.hosts) >> 2):
            sh.score = self._score_all(guest, own_disk_mb)
            sh.best_i = -1
        elif k < len(log):
            sh.rescore(set(log[k:]))
        sh.seen = self._log_start + len(log)
        return sh

    def place(self, guest: Guest, own_disk_mb: float) -> tuple[int, float] | tuple[None, Refusal]:
        """Place ``guest`` on the policy's best host that can take it: the
        host's index and the disk reserved there (its own plus the image data
        the host lacks), or ``None`` and the :class:`Refusal`."""
        p = guest.platform
        if p not in self._pmask:
            return None, Refusal("platform", f"platform: no host runs {p}")
        sh = self._shape(guest, own_disk_mb)
        if sh.best_i < 0:
            score = sh.score
            sh.best_i = i = int(score.argmin())
            sh.best = float(score[i])
        i = sh.best_i
        if sh.best == math.inf:  # no host fits: say why
            return None, self._why(guest, own_disk_mb)
        disk = own_disk_mb + self.extra_disk_mb(guest, i)
        self._change(i, p, guest.memory_mib, guest.vcpus, disk, 1)
        return i, disk

    def release(self, i: int, guest: Guest, own_disk_mb: float) -> None:
        self._change(i, guest.platform, -guest.memory_mib, -guest.vcpus, -own_disk_mb, -1)

    def set_available(self, i: int, available: bool) -> None:
        """Let host ``i`` take new guests or not (it is down, off or draining)."""
        for p, mask in self._pmask.items():
            mask[i] = available and p in self.hosts[i].platforms
        self.touch(i)

    def reserve_on(self, i: int, guest, disk_mb: float) -> Refusal | None:
        """Reserve ``guest``'s memory, vCPUs and ``disk_mb`` on host ``i`` (a
        migration target), under the placement rule. ``guest`` needs
        ``memory_mib``, ``vcpus`` and ``platform`` (the target's shape).
        Returns None if done, else the :class:`Refusal`."""
        p = guest.platform
        name = self.hosts[i].name
        mask = self._pmask.get(p)
        if mask is None:
            return Refusal("platform", f"{name} does not take {p} guests now (not installed, or the host is not on)")
        need = {"memory": guest.memory_mib, "vcpus": guest.vcpus}
        free = {"memory": self._mem[i], "vcpus": self._vcpu[i]}
        for what, ok in conditions(mask[i], self._pcount[p][i], self._plimit[p][i], self._count[i],
                                   self._max_guests[i], free["memory"], free["vcpus"], need["memory"], need["vcpus"]):
            if ok:
                continue
            if what == "platform":
                return Refusal(what, f"{name} does not take {p} guests now (not installed, or the host is not on)")
            if what == "guest limit":
                return Refusal(what, f"guest limit: {name} is full")
            return Refusal(what, f"{what}: {name} has {free[what]:.0f} free, needs {need[what]:.0f}")
        if not disk_fits(self._disk[i], disk_mb, 0.0, lambda: 0.0):
            return Refusal("disk", f"disk: {name} has {self._disk[i]:.0f} free, needs {disk_mb:.0f}")
        self._change(i, p, guest.memory_mib, guest.vcpus, disk_mb, 1)
        return None

    def _why(self, guest: Guest, own_disk_mb: float) -> Refusal:
        """Why no host can take the guest: the first condition of the rule
        that no available host running its platform meets on its own."""
        p = guest.platform
        mask = self.platform_mask[p]
        if not np.count_nonzero(mask):  # installed, but every such host is unavailable (set_available)
            return Refusal("hosts", f"hosts: every host running {p} is down, off or draining")
        checks = [*self._conditions_all(guest)[1:], ("disk", self._disk_fits(guest, own_disk_mb, mask))]
        failing = [name for name, c in checks if not (mask & c).any()]
        where = f"on any host running {p}"
        if "guest limit" in failing:
            # The binding limit of each host: its platform's or its own max_guests (either may be inf).
            lim = np.minimum(self.platform_limit[p][mask], self.max_guests[mask]).max()
            return Refusal("guest limit",
                           f"guest limit: every host running {p} already holds its maximum of {lim:.0f} guests")
        if "memory" in failing:
            return Refusal("memory", f"memory: needs {guest.memory_mib:.0f} MiB (overhead included), not free {where}")
        if "vcpus" in failing:
            return Refusal("vcpus", f"vcpus: needs {guest.vcpus:g} vCPUs, not free {where} "
                                    "(raise overcommit.cpu to allow more)")
        if "disk" in failing:
            return Refusal("disk", f"disk: needs more disk space than is free {where}")
        return Refusal("other", "no single host has room for its memory, vCPUs and disk at once")
