"""The world: hosts, platforms and guests as a SimPy model.

This module turns a validated :class:`~vsim.scenario.Scenario` into a running
discrete-event model.

* A :class:`Host` is a physical server. Its CPU, disk and network interface are
  :class:`~vsim.fairshare.FairShare` resources: whatever runs at the same time
  shares them, so a boot storm really is slower than one boot. Its memory, vCPUs
  and disk space are *reservations*: a guest takes its share when it is placed
  and gives it back when it stops, and the total may exceed the physical amount
  only by the scenario's overcommit ratio.
* Every platform installed on a host (a hypervisor, a container engine) takes
  its *host footprint* first: memory, and CPU cores it keeps busy. A hosted
  (Type 2) hypervisor's footprint includes the general-purpose OS it runs on.
* A :class:`Guest` (VM, container or microVM) lives through
  ``requested -> placed (or rejected) -> provisioning -> booting -> running ->
  stopping -> stopped``. Provisioning gets its disk: a VM's image is cloned
  (a *full* clone copies every byte, a *linked* clone writes a small
  copy-on-write overlay); a container pulls only the image layers the host lacks
  from the registry, then unpacks them. Booting runs the platform's start phases
  (CPU work, disk reads and writes, network transfer, fixed latency) on the
  host's shared resources.
* Placement keeps, for each shape of guest, the policy's score of every host
  and its best host, and re-scores only the hosts that changed since it last
  looked; a numpy arg-min only when the best host got worse, so a thousand
  hosts cost no Python loop over every host per guest.
* While every step is sure to get its full rate (a free core slot, no
  overlapping use of the disk or link), a guest's clone, start or stop phases
  run as one event (:mod:`vsim.solo`), handed over to ordinary fair-share jobs
  the moment anything could slow them down: same results, far fewer events.

Everything that happens is kept on the guests and hosts as plain numbers, and
phases in the world's phase log (:mod:`vsim.phaselog`), and turned into tables
once, at the end, by :mod:`vsim.results`.
"""

from __future__ import annotations

import gc
import heapq
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import NORMAL

from vsim.fairshare import FairShare, _Timer
from vsim.phaselog import PhaseLog
from vsim.profile import Phase, Profile
from vsim.scenario import (
    BatchArrivals,
    ExponentialLifetime,
    FixedLifetime,
    HostGroup,
    Image,
    PoissonArrivals,
    Scenario,
    Workload,
)
from vsim.solo import SoloRun, SoloSpec
from vsim.weighted import WeightedFairShare

__all__ = ["World", "Host", "Guest", "simulate", "EXTRACT_CPU_S_PER_MB", "GBIT_TO_MB_S"]

GBIT_TO_MB_S = 125.0  # 1 Gbit/s = 125 MB/s
MIB_PER_GIB = 1024.0
MB_PER_MIB = 1.048576

# Unpacking a compressed layer (gzip) costs CPU. assumption: single-threaded
# gunzip runs at about 100 MB/s of output on a server core, i.e. 0.01 s/MB.
EXTRACT_CPU_S_PER_MB = 0.01


@dataclass
class PlatformOnHost:
    profile: Profile
    guests: int = 0
    limit: float = math.inf


class Host:
    """One physical server and what it has promised to its guests."""

    def __init__(self, world: World, index: int, group: HostGroup, ordinal: int) -> None:
        env = world.env
        self.world = world
        self.index = index
        self.group = group.name
        self.name = group.name if group.count == 1 else f"{group.name}-{ordinal}"
        self.cores = group.cores
        self.core_speed = group.core_speed
        self.memory_mib = group.memory_gib * MIB_PER_GIB
        self.disk_mb = group.disk.capacity_gib * MIB_PER_GIB * MB_PER_MIB
        self.read_mb_s = group.disk.read_mb_s
        self.write_mb_s = group.disk.write_mb_s
        self.read_iops = group.disk.random_read_iops
        self.write_iops = group.disk.random_write_iops
        self.net_mb_s = group.network_gbit_s * GBIT_TO_MB_S
        self.platforms = {p: PlatformOnHost(world.scenario.profile(p)) for p in group.platforms}
        # Footprints of the installed platforms.
        self.footprint_mib = sum(pl.profile.host_memory_mib.value for pl in self.platforms.values())
        self.footprint_cores = sum(pl.profile.host_cpu_cores.value for pl in self.platforms.values())
        for pl in self.platforms.values():
            lim = pl.profile.max_guests_per_host.value
            pl.limit = math.inf if lim is None else lim
        cpu_capacity = max(self.cores - self.footprint_cores, 0.05 * self.cores) * self.core_speed
        # Shared rates. CPU work is in reference core-seconds; one job is one thread.
        # A host that may run a workload with a cgroup cpu_weight shares its CPU by
        # weight (vsim.weighted); every other host keeps plain fair share.
        weighted = any(w.limits is not None and w.limits.cpu_weight is not None and w.platform in group.platforms
                       for w in world.scenario.workloads)
        self.cpu = (WeightedFairShare if weighted else FairShare)(
            env, cpu_capacity, job_cap=self.core_speed, name=f"{self.name}.cpu")
        # The disk is shared in disk-seconds: reading X MB costs X / read_mb_s of it.
        self.disk = FairShare(env, 1.0, name=f"{self.name}.disk")
        self.nic = FairShare(env, self.net_mb_s, name=f"{self.name}.nic")
        self.rates = (self.cpu, self.disk, self.nic)  # as vsim.solo names them: 0, 1, 2
        # Reservations.
        self.memory_capacity_mib = self.memory_mib * group.overcommit.memory
        self.vcpu_capacity = self.cores * group.overcommit.cpu
        self.disk_capacity_mb = self.disk_mb * group.overcommit.disk
        self.max_guests = group.max_guests if group.max_guests is not None else math.inf
        self.cache: set[str] = set()  # image names and layer ids on local disk
        self.pulling: dict[str, simpy.Event] = {}
        self.guests_placed = 0
        self.guests_now = 0
        self.peak_guests = 0
        self.peak_memory_mib = 0.0
        self.cache_mb = 0.0
        # on | booting (powering on) | draining | off | failed; only an "on" host
        # takes new guests (see World.set_host_state, vsim.energy, vsim.faults).
        self.state = "on"

    def disk_seconds(self, read_mb: float = 0.0, write_mb: float = 0.0) -> float:
        """Disk time needed to read and write the given amounts sequentially."""
        return read_mb / self.read_mb_s + write_mb / self.write_mb_s

    def __repr__(self) -> str:
        return f"Host({self.name!r}, guests={self.guests_now})"


class Guest:
    """One VM, container or microVM and its life so far (times in seconds)."""

    __slots__ = (
        "id", "workload", "profile", "kind", "platform", "host", "image", "clone",
        "requested_s", "placed_s", "provisioned_s", "ready_s", "stop_s", "stopped_s",
        "state", "reason", "memory_mib", "vcpus", "disk_mb", "pulled_mb", "lifetime_s",
        "process", "job", "_extra",
    )

    def __init__(self, gid: int, workload: Workload, profile: Profile, image: Image | None,
                 requested_s: float, lifetime_s: float) -> None:
        self.id = gid
        self.workload = workload
        self.profile = profile
        self.kind = profile.guest_kind
        self.platform = profile.name
        self.host: Host | None = None
        self.image = image
        self.clone = workload.clone or profile.default_clone
        self.requested_s = requested_s
        self.placed_s = math.nan
        self.provisioned_s = math.nan
        self.ready_s = math.nan
        self.stop_s = math.nan
        self.stopped_s = math.nan
        self.state = "requested"
        self.reason = ""
        self.vcpus = workload.vcpus
        sharing = profile.page_sharing.value
        self.memory_mib = workload.memory_mib * (1.0 - sharing) + profile.guest_memory_overhead_mib.value
        self.disk_mb = 0.0
        self.pulled_mb = 0.0
        self.lifetime_s = lifetime_s
        self.process: simpy.Process | None = None
        self.job: tuple[FairShare, simpy.Event] | None = None  # shared-resource work in progress
        self._extra: dict | None = None  # see extra

    @property
    def name(self) -> str:
        """``WORKLOAD-ID``, e.g. ``web-12`` (made when asked: most guests are never named)."""
        return f"{self.workload.name}-{self.id}"

    @property
    def extra(self) -> dict:
        """Per-guest data of optional mechanisms (services, cgroups, migration...),
        made on first use (most guests never need one)."""
        d = self._extra
        if d is None:
            d = self._extra = {}
        return d

    @property
    def startup_s(self) -> float:
        return self.ready_s - self.requested_s


class _Shape:
    """What the placer keeps for one shape of guest: the policy's score of
    every host (inf where the shape does not fit) and how much of the change
    log it has seen. ``rescore`` applies the placement rule host by host, the
    same rule :meth:`_Placer._fits_all` applies to all hosts at once."""

    __slots__ = ("placer", "guest", "own", "mask", "pcount", "plimit", "mem_lo", "vcpu_lo", "own_lo", "sure_lo",
                 "has_image", "score", "seen", "best", "best_i")

    def __init__(self, placer: _Placer, guest: Guest, own_disk_mb: float) -> None:
        p = guest.platform
        self.placer = placer
        self.guest = guest  # any guest of this shape: the disk rule asks it for its image
        self.own = own_disk_mb
        self.mask, self.pcount, self.plimit = placer._pmask[p], placer._pcount[p], placer._plimit[p]
        self.mem_lo = guest.memory_mib - 1e-9
        self.vcpu_lo = guest.vcpus - 1e-9
        self.own_lo = own_disk_mb - 1e-9
        im = guest.image
        self.has_image = im is not None
        self.sure_lo = (own_disk_mb + placer._items(im)[0]) - 1e-9 if im is not None else self.own_lo
        self.score: np.ndarray = np.zeros(0)
        self.seen = -1
        # The lowest score and its host (the lowest index among equal scores),
        # as score.argmin() gives them; best_i < 0: not known, ask argmin.
        self.best = math.inf
        self.best_i = -1

    def rescore(self, hosts) -> None:
        """Bring the scores of ``hosts`` (indices) up to date: the placement
        rule for one host at a time, the same as :meth:`_Placer._fits_all`
        applies to all of them (one loop, everything it reads held in locals:
        this runs for every host changed since the shape last looked)."""
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
                if free >= sure_lo or (self.has_image and free >= own_lo
                                       and free >= (self.own + pl.extra_disk_mb(self.guest, i)) - 1e-9):
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


class _Placer:
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
        if im is None:
            return free >= own_disk_mb - 1e-9
        fits = free >= (own_disk_mb + self._items(im)[0]) - 1e-9
        unsure = np.greater(among, fits)  # a candidate that may or may not fit
        if np.count_nonzero(unsure):
            unsure &= free >= own_disk_mb - 1e-9
            for i in np.flatnonzero(unsure).tolist():
                fits[i] = free[i] >= (own_disk_mb + self.extra_disk_mb(guest, i)) - 1e-9
        return fits

    def _fits_all(self, guest: Guest, own_disk_mb: float) -> np.ndarray:
        """Which hosts can take the guest now, over all hosts at once."""
        p = guest.platform
        ok = self.platform_mask[p] & (self.platform_count[p] < self.platform_limit[p]) & (self.count < self.max_guests)
        ok &= self.mem_free >= guest.memory_mib - 1e-9
        ok &= self.vcpu_free >= guest.vcpus - 1e-9
        ok &= self._disk_fits(guest, own_disk_mb, ok)
        return ok

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

    def place(self, guest: Guest, own_disk_mb: float) -> tuple[int, float] | tuple[None, str]:
        p = guest.platform
        if p not in self._pmask:
            return None, f"platform: no host runs {p}"
        sh = self._shape(guest, own_disk_mb)
        if sh.best_i < 0:
            score = sh.score
            sh.best_i = i = int(score.argmin())
            sh.best = float(score[i])
        i = sh.best_i
        if sh.best == math.inf:  # no host fits: say why
            mask = self.platform_mask[p]
            if not np.count_nonzero(mask):  # installed, but every such host is unavailable (set_available)
                return None, f"hosts: every host running {p} is down, off or draining"
            checks = [
                ("guest limit", (self.platform_count[p] < self.platform_limit[p]) & (self.count < self.max_guests)),
                ("memory", self.mem_free >= guest.memory_mib - 1e-9),
                ("vcpus", self.vcpu_free >= guest.vcpus - 1e-9),
                ("disk", self._disk_fits(guest, own_disk_mb, mask)),
            ]
            return None, self._why(guest, mask, checks, None)
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

    def reserve_on(self, i: int, guest, disk_mb: float) -> str:
        """Reserve ``guest``'s memory, vCPUs and ``disk_mb`` on host ``i`` (a
        migration target). ``guest`` needs ``memory_mib``, ``vcpus`` and
        ``platform`` (the target's shape). Returns "" if done, else why not.
        """
        p = guest.platform
        mask = self._pmask.get(p)
        if mask is None or not mask[i]:
            return f"{self.hosts[i].name} does not take {p} guests now (not installed, or the host is not on)"
        if not (self._pcount[p][i] < self._plimit[p][i] and self._count[i] < self._max_guests[i]):
            return f"guest limit: {self.hosts[i].name} is full"
        for what, free, need in (("memory", self._mem, guest.memory_mib), ("vcpus", self._vcpu, guest.vcpus),
                                 ("disk", self._disk, disk_mb)):
            if free[i] < need - 1e-9:
                return f"{what}: {self.hosts[i].name} has {free[i]:.0f} free, needs {need:.0f}"
        self._change(i, p, guest.memory_mib, guest.vcpus, disk_mb, 1)
        return ""

    def _why(self, guest: Guest, mask: np.ndarray, checks, need_disk) -> str:
        """The reason no host could take the guest, in words."""
        failing = [name for name, c in checks if not (mask & c).any()]
        where = f"on any host running {guest.platform}"
        if "guest limit" in failing:
            # The binding limit of each host: its platform's or its own max_guests (either may be inf).
            lim = np.minimum(self.platform_limit[guest.platform][mask], self.max_guests[mask]).max()
            return f"guest limit: every host running {guest.platform} already holds its maximum of {lim:.0f} guests"
        if "memory" in failing:
            return f"memory: needs {guest.memory_mib:.0f} MiB (overhead included), not free {where}"
        if "vcpus" in failing:
            return f"vcpus: needs {guest.vcpus:g} vCPUs, not free {where} (raise overcommit.cpu to allow more)"
        if "disk" in failing:
            return f"disk: needs more disk space than is free {where}"
        return "no single host has room for its memory, vCPUs and disk at once"


class Relocation:
    """Interrupt cause: a running guest should run ``steps(g)`` and carry on."""

    def __init__(self, steps) -> None:
        self.steps = steps

    def __str__(self) -> str:
        return "relocation"


def _seeds(seed: int, n: int) -> list[np.random.Generator]:
    """One generator per workload, all derived from the run's seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(max(n, 1))]


class World:
    """A scenario made runnable: ``World(scenario, seed).run()`` returns Results."""

    # Run a guest's clone, start or stop phases in one event while nothing can
    # slow them down (vsim.solo). False: every step is a separate fair-share
    # job. Results are the same either way, up to rounding in the last digits.
    solo_runs = True

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self._solo_specs: dict[tuple, SoloSpec] = {}  # (host group, what, profile, ...) -> steps (vsim.solo)
        self._resume_solo = self._solo_from  # one bound method for every solo run
        self.hosts: list[Host] = []
        for group in scenario.hosts:
            for k in range(group.count):
                self.hosts.append(Host(self, len(self.hosts), group, k))
        for h, group in zip(self.hosts, _expand(scenario.hosts), strict=True):
            for im_name in group.cached_images:
                self._add_to_cache(h, scenario.image_map[im_name])
        self.registries = {
            r.name: (FairShare(self.env, r.bandwidth_gbit_s * GBIT_TO_MB_S, name=f"registry.{r.name}"), r.latency_s)
            for r in scenario.registries
        }
        self.default_registry = scenario.registries[0].name if scenario.registries else None
        self.placer = _Placer(self.hosts, scenario.placement)
        self.guests: list[Guest] = []  # guest id = index here
        self.phase_log = PhaseLog()  # every guest's phases (the phases table)
        # Hooks for optional mechanisms: called with the guest when it becomes
        # ready, and when it starts stopping or fails.
        self.on_ready: list = []
        self.on_stop: list = []
        # Flat records of optional mechanisms: table name -> list of tuples, in
        # the column order documented in vsim.results.COLUMNS[name].
        self.records: dict[str, list[tuple]] = {}
        self.wall_s = 0.0
        self.events = 0
        self._rngs = _seeds(self.seed, len(scenario.workloads))
        for w, rng in zip(scenario.workloads, self._rngs, strict=False):
            self.env.process(self.arrivals(w, rng))
        # Called with each guest before placement; a non-empty string rejects it
        # with that reason (e.g. a Windows container on a Linux kernel).
        self.on_request: list = []
        # Called as hook(g, old_host, new_host) when a running guest moves (migration).
        self.on_move: list = []
        from vsim.services import install as _install_services

        _install_services(self)  # services, stress, cgroups, writes (no-op if unused)
        # Called as hook(g) when a guest finds no room; may return an event to
        # wait for (a host powering on) before placement is tried again.
        self.on_no_room: list = []
        # Called as hook(host, old_state, new_state) when a host's state changes.
        self.on_host_state: list = []
        # Called with no argument when the run ends, before the tables are built.
        self.on_end: list = []
        from vsim import energy, faults, migration

        for mechanism in (migration, faults, energy):
            mechanism.install(self)  # no-op unless the scenario uses it (energy: always)

    # -- arrivals ------------------------------------------------------------
    def arrivals(self, w: Workload, rng: np.random.Generator):
        """Request the workload's guests at their arrival times."""
        a = w.arrivals
        n = w.count()
        if isinstance(a, BatchArrivals):
            times = np.full(n, a.at_s)
        elif isinstance(a, PoissonArrivals):
            times = a.start_s + np.cumsum(rng.exponential(1.0 / a.rate_per_s, size=n))
        else:
            times = np.sort(np.asarray(a.times_s, dtype=float))
        lt = w.lifetime
        if isinstance(lt, FixedLifetime):
            lifetimes = np.full(n, lt.duration_s)
        elif isinstance(lt, ExponentialLifetime):
            lifetimes = rng.exponential(lt.mean_s, size=n)
        else:
            lifetimes = np.full(n, math.inf)
        profile = self.scenario.profile(w.platform)
        image = self.scenario.image_map.get(w.image) if w.image else None
        env = self.env
        for t, life in zip(times.tolist(), lifetimes.tolist(), strict=True):
            if t > env.now:
                yield _wake_after(env, t - env._now)
            g = Guest(len(self.guests), w, profile, image, env.now, life)
            self.guests.append(g)
            g.process = env.process(self.lifecycle(g))

    # -- a guest's life --------------------------------------------------------
    def own_disk_mb(self, g: Guest) -> float:
        """Disk the guest itself takes (not shared cache): clone, overlay, volume."""
        p = g.profile
        mb = p.guest_disk_overhead_mb.value + g.workload.disk_gib * MIB_PER_GIB * MB_PER_MIB
        if g.image is not None and g.image.kind == "vm-disk":
            if g.clone == "full":
                mb += g.image.disk_mb
            else:
                mb += p.linked_clone_overlay_mb.value
        return mb

    def lifecycle(self, g: Guest):
        """requested -> placed -> provisioning -> booting -> running -> stopping -> stopped.

        A guest can be interrupted at any point after placement (its host fails,
        it is killed for exceeding its memory limit): it then ends ``failed``
        with the reason, and its reservations are returned.
        """
        env = self.env
        own = self.own_disk_mb(g)
        for check in self.on_request:
            why = check(g)
            if why:
                g.state = "rejected"
                g.reason = why
                return
        i, got = self.placer.place(g, own)
        while i is None:
            wait = next((ev for ev in (hook(g) for hook in self.on_no_room) if ev is not None), None)
            if wait is None:
                g.state = "rejected"
                g.reason = got
                return
            yield wait  # e.g. a host powering on; then try again
            i, got = self.placer.place(g, own)
        host = self.hosts[i]
        g.host = host
        g.disk_mb = own
        g.placed_s = env.now
        host.guests_placed += 1
        host.guests_now += 1
        if host.guests_now > host.peak_guests:
            host.peak_guests = host.guests_now
        used = host.memory_capacity_mib - self.placer._mem[i]
        if used > host.peak_memory_mib:
            host.peak_memory_mib = used
        host.cache_mb += got - own
        try:
            # Each sequence (clone, start, stop) is started by a plain call and
            # waited for with one yield when it runs solo, the common case;
            # the same four lines are written out three times on purpose: a
            # shared sub-generator cost about 2% of a datacenter day.
            g.state = "provisioning"
            ev = self._solo_wait(g, host, "clone")
            if ev is None:
                yield from self._phases(g, host, "clone")
            else:
                yield ev
                g.job = None
            g.provisioned_s = env.now
            g.state = "booting"
            ev = self._solo_wait(g, host, "start")
            if ev is None:
                yield from self._phases(g, host, "start")
            else:
                yield ev
                g.job = None
            g.ready_s = env.now
            g.state = "running"
            for hook in self.on_ready:
                hook(g)
            # Run for the lifetime (for ever if infinite). An interrupt whose
            # cause is a Relocation (a cold migration) runs the relocation's
            # steps inside the guest's own life and then goes on running; time
            # spent away does not count against the lifetime. Any other
            # interrupt (a failure) ends the guest (the outer except).
            end = env._now + g.lifetime_s
            while True:
                try:
                    yield env.event() if end == math.inf else _wake_after(env, end - env._now)
                    break
                except simpy.Interrupt as intr:
                    if not isinstance(intr.cause, Relocation):
                        raise
                    t0 = env._now
                    yield from intr.cause.steps(g)
                    end += env._now - t0
            host = g.host  # a migration may have moved it
            g.stop_s = env.now
            g.state = "stopping"
            for hook in self.on_stop:
                hook(g)
            ev = self._solo_wait(g, host, "stop")
            if ev is None:
                yield from self._phases(g, host, "stop")
            else:
                yield ev
                g.job = None
            g.state = "stopped"
        except simpy.Interrupt as intr:
            g.state = "failed"
            g.reason = str(intr.cause)
            if g.job is not None:
                g.job[0].cancel(g.job[1])
            for hook in self.on_stop:
                hook(g)
        finally:
            g.job = None
        g.stopped_s = env.now
        host = g.host
        self.placer.release(host.index, g, g.disk_mb)
        host.guests_now -= 1
        g.process = None  # its life is over: let the process and its frames go

    # -- operations on running guests (vsim.migration, vsim.faults, vsim.energy) --
    def spawn_guest(self, w: Workload, lifetime_s: float) -> Guest:
        """Request one more guest of workload ``w`` now (an HA restart)."""
        profile = self.scenario.profile(w.platform)
        image = self.scenario.image_map.get(w.image) if w.image else None
        g = Guest(len(self.guests), w, profile, image, self.env.now, lifetime_s)
        self.guests.append(g)
        g.process = self.env.process(self.lifecycle(g))
        return g

    def relocate(self, g: Guest, steps) -> bool:
        """Ask a running guest's lifecycle to run ``steps(g)`` (a generator: stop,
        copy, boot elsewhere) and then carry on. False if it is not running."""
        if g.state != "running" or g.process is None or not g.process.is_alive:
            return False
        g.process.interrupt(Relocation(steps))
        return True

    def move_guest(self, g: Guest, target: Host, profile: Profile | None = None) -> None:
        """Switch guest ``g`` to ``target`` (optionally under another platform).

        Its reservation on ``target`` must already be taken with
        ``placer.reserve_on`` (in the target's shape); the one on its current
        host is given back here. Calls the ``on_move`` hooks.
        """
        src = g.host
        self.placer.release(src.index, g, g.disk_mb)
        src.guests_now -= 1
        if profile is not None and profile.name != g.platform:
            sharing = profile.page_sharing.value
            g.profile = profile
            g.platform = profile.name
            g.memory_mib = g.workload.memory_mib * (1.0 - sharing) + profile.guest_memory_overhead_mib.value
        g.host = target
        target.guests_placed += 1
        target.guests_now += 1
        target.peak_guests = max(target.peak_guests, target.guests_now)
        used = target.memory_capacity_mib - self.placer.mem_free[target.index]
        target.peak_memory_mib = max(target.peak_memory_mib, used)
        g.extra.setdefault("moves", []).append((self.env.now, src.index, target.index))
        for hook in self.on_move:
            hook(g, src, target)

    def set_host_state(self, host: Host, state: str) -> None:
        """Change a host's state; only an ``on`` host takes new guests."""
        old = host.state
        if old == state:
            return
        host.state = state
        self.placer.set_available(host.index, state == "on")
        for hook in self.on_host_state:
            hook(host, old, state)

    def fail_guest(self, g: Guest, reason: str) -> bool:
        """End a placed guest now, as ``failed`` with ``reason``.

        Returns False if the guest is not alive (never placed, or already ended).
        """
        if g.process is None or not g.process.is_alive or g.host is None:
            return False
        g.process.interrupt(reason)
        return True

    # -- solo runs (vsim.solo): a sequence of phases in one event while nothing slows it --
    def _solo_wait(self, g: Guest, host: Host, what: str) -> simpy.Event | None:
        """Start the guest's ``what`` phases ("clone", "start" or "stop") as one
        solo run, and return the event to wait for; None if they must begin
        step by step (then :meth:`_phases`). A plain call, not a generator: the
        common case costs the lifecycle one ``yield``."""
        run = self._solo(g, host, what) if self.solo_runs else None
        if run is None:
            return None
        g.job = (run, None)
        return run.done

    def _phases(self, g: Guest, host: Host, what: str):
        """Run the guest's ``what`` phases step by step ("clone": its disk, see
        provision; "start" or "stop"), going solo from the first later phase
        its host has room for (the first phase was just refused by _solo_wait)."""
        if what == "clone":
            yield from self.provision(g, host)
            return
        phases = g.profile.start_phases if what == "start" else g.profile.stop_phases
        for k, ph in enumerate(phases):
            solo = self._solo(g, host, what, k) if k and self.solo_runs else None
            if solo is not None:
                g.job = (solo, None)
                yield solo.done
                g.job = None
                return
            yield from self.run_phase(g, host, ph)

    def _solo(self, g: Guest, host: Host, what: str, first: int = 0) -> SoloRun | None:
        """Start ``what`` ("clone", "start" or "stop" phases) of ``g`` as a solo
        run, or return None if it must run step by step (some step might not get
        its full rate, the CPU is shared by weight, or a clone's image is not on
        the host yet)."""
        profile = g.profile
        if what == "clone":
            im = g.image
            if im is None or im.kind != "vm-disk" or im.name not in host.cache:
                return None  # nothing to clone, layers to pull, or an image to fetch first
            key = (host.group, what, profile.name, first, im.name, g.clone)
        else:
            key = (host.group, what, profile.name, first)
        spec = self._solo_specs.get(key)
        if spec is None:
            spec = self._solo_specs[key] = self._solo_spec(host, profile, what, g, first)
        if not spec.eligible:
            return None
        run = SoloRun.begin(self.env, spec, host.rates, self.phase_log, g.id)
        if run is not None and what != "clone" and len(spec.spans) > 1:
            run.resume = self._resume_solo
            run.guest = g
        return run

    def _solo_from(self, g: Guest, spec: SoloSpec, k: int) -> SoloRun | None:
        """A solo run of ``spec``'s sequence from its phase ``k`` (for a run that
        was handed over to ordinary jobs and reached a phase boundary)."""
        return self._solo(g, g.host, spec.what, spec.first + k)

    def _solo_spec(self, host: Host, profile: Profile, what: str, g: Guest, first: int = 0) -> SoloSpec:
        """The steps of ``what`` (from phase ``first``) on a host like ``host``,
        as run_phase and provision take them (resources by index into
        ``host.rates``: 0 CPU, 1 disk, 2 network)."""
        if what == "clone":
            name, disk_s = _clone_step(g, host)
            phases = [(name, [(1, disk_s)])]
        else:
            phases = [(ph.name, _phase_steps(host, ph))
                      for ph in (profile.start_phases if what == "start" else profile.stop_phases)[first:]]
        return SoloSpec(phases, host.rates, what, first)

    def _wait(self, g: Guest, resource: FairShare, work: float):
        """Run ``work`` on a shared resource on the guest's behalf."""
        ev = resource.use(work)
        g.job = (resource, ev)
        yield ev
        g.job = None

    def run_phase(self, g: Guest, host: Host, ph: Phase):
        """One start/stop phase, step by step (see _phase_steps)."""
        env = self.env
        t0 = env.now
        for k, work in _phase_steps(host, ph):
            if k is None:
                yield env.timeout(work)
            else:
                yield from self._wait(g, host.rates[k], work)
        self.phase_log.add(g.id, ph.name, t0, env.now)

    def provision(self, g: Guest, host: Host):
        """Give the guest its disk: clone a VM image, or pull and unpack layers."""
        env = self.env
        im = g.image
        if im is None:
            return
        t0 = env.now
        if im.kind == "vm-disk":
            if im.name not in host.cache:
                yield from self._fetch(host, [(im.name, im.transfer_mb, im.disk_mb)], im.registry, g)
                self.phase_log.add(g.id, "pull", t0, env.now)
            t1 = env.now
            name, disk_s = _clone_step(g, host)
            yield from self._wait(g, host.disk, disk_s)
            self.phase_log.add(g.id, name, t1, env.now)
        else:
            todo = [lay for lay in im.layers if lay.id not in host.cache]
            if todo:
                yield from self._fetch(host, [(lay.id, lay.size_mb, lay.disk_mb) for lay in todo],
                                       im.registry, g, extract=True)
                self.phase_log.add(g.id, "pull+extract", t0, env.now)

    def _fetch(self, host: Host, items: list[tuple[str, float, float]], registry: str | None,
               g: Guest, extract: bool = False):
        """Bring images or layers ``(key, transfer_mb, disk_mb)`` into the host's cache.

        What no other guest is already pulling is registered at once (so a
        guest placed a moment later neither pulls it again nor reserves its
        disk space twice) and downloaded by a process of its own, one item
        after another; if the guest fails, the pull still completes for the
        others waiting on it. The guest then waits for every item.
        """
        env = self.env
        mine = [it for it in items if it[0] not in host.cache and it[0] not in host.pulling]
        if mine:
            for key, transfer_mb, _ in mine:
                host.pulling[key] = env.event()
                g.pulled_mb += transfer_mb
            self.placer.touch(host.index)  # its disk need for these items is now zero
            env.process(self._download(host, mine, registry, extract))
        waits = [host.pulling[key] for key, _, _ in items if key in host.pulling]
        if waits:
            yield env.all_of(waits)

    def _download(self, host: Host, items: list[tuple[str, float, float]], registry: str | None,
                  extract: bool):
        link, latency = self.registries[registry or self.default_registry]
        for key, transfer_mb, disk_mb in items:
            if latency:
                yield self.env.timeout(latency)
            # Download and write to disk overlap (the bytes are streamed to disk).
            yield self.env.all_of([link.use(transfer_mb), host.disk.use(host.disk_seconds(write_mb=disk_mb))])
            if extract:
                yield host.cpu.use(EXTRACT_CPU_S_PER_MB * disk_mb)
            host.cache.add(key)
            host.pulling.pop(key).succeed()

    def _add_to_cache(self, host: Host, im: Image) -> None:
        """Mark an image as already on the host's disk (it takes disk space)."""
        items = [(im.name, im.disk_mb)] if im.kind == "vm-disk" else [(lay.id, lay.disk_mb) for lay in im.layers]
        for key, mb in items:
            if key not in host.cache:
                host.cache.add(key)
                host.cache_mb += mb

    # -- running ------------------------------------------------------------------
    def run(self, until: float | None = None):
        """Run the model and return :class:`~vsim.results.Results`."""
        from vsim.results import Results

        until = self.scenario.duration_s if until is None else until
        t0 = time.perf_counter()
        with _fewer_collections():
            if until is None:
                self.env.run()
            else:
                self.env.run(until=until)
            self.wall_s = time.perf_counter() - t0
            self.events = _events_scheduled(self.env)
            for hook in self.on_end:
                hook()
            return Results.from_world(self)


@contextmanager
def _fewer_collections():
    """Let Python's cyclic garbage collector run less often during a run.

    A run keeps every guest and its records until the end, so the heap only
    grows, and CPython's collector, which scans the whole heap each time it
    has grown by a quarter, spent about a fifth of a 100,000-guest run
    looking for cycles it rarely found (about a thousand objects). The
    thresholds are raised for the run and restored after it: young cyclic
    garbage is still collected (in larger batches), memory is freed by
    reference counting as before, and results do not depend on the collector.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 400_000), max(old[1], 20), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _phase_steps(host: Host, ph: Phase) -> list[tuple[int | None, float]]:
    """A start/stop phase as the steps it runs, in order: CPU work, then disk
    time, then network transfer (each as ``(index into host.rates, work)``),
    then fixed latency ``(None, seconds)``; steps of zero are left out."""
    steps: list[tuple[int | None, float]] = []
    if ph.cpu_s:
        steps.append((0, ph.cpu_s))
    if ph.disk_read_mb or ph.disk_write_mb:
        steps.append((1, host.disk_seconds(ph.disk_read_mb, ph.disk_write_mb)))
    if ph.net_mb:
        steps.append((2, ph.net_mb))
    if ph.latency_s:
        steps.append((None, ph.latency_s))
    return steps


def _clone_step(g: Guest, host: Host) -> tuple[str, float]:
    """A VM's clone of its (cached) image on ``host``: the phase name and its
    disk time (a full copy reads and writes the image; a linked clone writes
    only its overlay)."""
    im = g.image
    if g.clone == "full":
        return "clone-full", host.disk_seconds(read_mb=im.disk_mb, write_mb=im.disk_mb)
    return "clone-linked", host.disk_seconds(write_mb=g.profile.linked_clone_overlay_mb.value)


def _wake_after(env: simpy.Environment, delay: float) -> _Timer:
    """What ``env.timeout(delay)`` does for a process that only waits (no
    value, never shared): a bare entry in SimPy's event queue at ``now +
    delay``, normal priority, without building a Timeout. Every guest waits twice
    (its arrival and its lifetime); like vsim.fairshare, this relies on
    SimPy 4's queue (``simpy>=4.1,<5`` is pinned)."""
    w = _Timer()
    w.callbacks = []
    heapq.heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), w))
    return w


def _expand(groups: list[HostGroup]):
    for g in groups:
        for _ in range(g.count):
            yield g


def _events_scheduled(env: simpy.Environment) -> int:
    """How many events SimPy scheduled (read from its event-id counter)."""
    m = re.search(r"\d+", repr(getattr(env, "_eid", "")))
    return int(m.group()) if m else 0


def simulate(scenario: Scenario, seed: int | None = None, until: float | None = None):
    """Run ``scenario`` once (with ``seed``, or the scenario's own) and return Results."""
    from vsim.errors import ScenarioError

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"simulate: expected a Scenario (from vsim.load_scenario), got {type(scenario).__name__}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or not 0 <= seed <= 2**63 - 1):
        raise ScenarioError(f"seed: must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    if until is not None and (isinstance(until, bool) or not isinstance(until, int | float | np.number)
                              or not (math.isfinite(until) and until > 0)):
        raise ScenarioError(f"until: must be a time in seconds > 0 (or None to run to the end), got {until!r}")
    return World(scenario, seed).run(until=until)
