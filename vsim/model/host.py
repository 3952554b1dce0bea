"""A physical server: shared rates, reservations and an image cache.

A :class:`Host`'s CPU, disk and network interface are
:class:`~vsim.engine.fairshare.FairShare` resources: whatever runs at the same
time shares them, so a boot storm really is slower than one boot. Its memory,
vCPUs and disk space are *reservations*: a guest takes its share when it is
placed and gives it back when it stops, and the total may exceed the physical
amount only by the scenario's overcommit ratio.

Every platform installed on a host (a hypervisor, a container engine) takes its
*host footprint* first: memory, and CPU cores it keeps busy. A hosted (Type 2)
hypervisor's footprint includes the general-purpose OS it runs on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import simpy

from vsim.engine.fairshare import FairShare
from vsim.engine.pagecache import PageCache
from vsim.engine.server import Server
from vsim.engine.weighted import WeightedFairShare
from vsim.model.units import FOUR_KIB_MB, GBIT_TO_MB_S, KIB_PER_MB, MB_PER_MIB, MIB_PER_GIB
from vsim.spec.profile import Profile
from vsim.spec.scenario import HostGroup

if TYPE_CHECKING:
    from vsim.model.world import World

#: Tasks a host's own OS holds (assumption: a minimal server OS with its daemons, a few hundred).
HOST_TASKS = 300

#: A host's shared rate: plain fair share, or weighted by cgroup cpu.weight.
Rate: TypeAlias = "FairShare | WeightedFairShare"


@dataclass
class PlatformOnHost:
    """A platform installed on a host: its profile, its guest limit, and how
    many of its guests run there now (booted, not yet stopping)."""

    profile: Profile
    running: int = 0
    limit: float = math.inf
    host: Host | None = None
    #: CPU cores each running guest keeps busy while it idles (the profile's idle_cpu_cores)
    idle_cores: float = 0.0


def access_time(iops_4kib: float, mb_s: float) -> float:
    """A disk's positioning time per request (s): the time of one 4 KiB
    random request (1 / IOPS) less that request's transfer at the disk's
    bandwidth. A hard disk's seek and rotation (a few ms) or an SSD's
    command latency (microseconds). A request of s KiB then costs
    ``access_time + s / bandwidth``, which is 1 / IOPS at 4 KiB and tends to
    the bandwidth for large requests."""
    return max(1.0 / iops_4kib - FOUR_KIB_MB / mb_s, 0.0)


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
        self.read_access_s = access_time(self.read_iops, self.read_mb_s)
        self.write_access_s = access_time(self.write_iops, self.write_mb_s)
        self.net_mb_s = group.network_gbit_s * GBIT_TO_MB_S
        self.platforms = {p: PlatformOnHost(world.scenario.profile(p), host=self) for p in group.platforms}
        # Footprints of the installed platforms.
        self.footprint_mib = sum(pl.profile.host_memory_mib.value for pl in self.platforms.values())
        self.footprint_cores = sum(pl.profile.host_cpu_cores.value for pl in self.platforms.values())
        for pl in self.platforms.values():
            lim = pl.profile.max_guests_per_host.value
            pl.limit = math.inf if lim is None else lim
            idle = pl.profile.idle_cpu_cores
            pl.idle_cores = idle.value if idle is not None and idle.value else 0.0
        # Cores the running guests keep busy while they idle (see idle_change).
        self.idle_cores = 0.0
        self.idle_core_s = 0.0  # integral of idle_cores dt up to _idle_t
        self._idle_t = 0.0
        cpu_capacity = self._cpu_capacity()
        # Shared rates. CPU work is in reference core-seconds; one job is one thread.
        # A host that may run many threads of one guest (a service's workers, stress
        # threads) or a cgroup cpu_weight shares its CPU by cgroup (vsim.engine.weighted):
        # Docker puts every container in a cgroup of its own (cpu.weight 100 unless
        # --cpu-shares says otherwise), libvirt every VM, so Linux shares the CPU
        # between the groups, not between their threads. Every other host runs one
        # thread per guest at a time (boot phases), where that is the same as plain
        # fair share between threads: it keeps plain fair share (and solo runs).
        weighted = any(w.platform in group.platforms and (
            (w.limits is not None and w.limits.cpu_weight is not None) or w.service is not None or w.stress is not None)
            for w in world.scenario.workloads)
        self.cpu = (WeightedFairShare if weighted else FairShare)(
            env, cpu_capacity, job_cap=self.core_speed, name=f"{self.name}.cpu")
        # The disk is shared in disk-seconds: reading X MB costs X / read_mb_s of it.
        self.disk = FairShare(env, 1.0, name=f"{self.name}.disk")
        self.nic = FairShare(env, self.net_mb_s, name=f"{self.name}.nic")
        self.rates = (self.cpu, self.disk, self.nic)  # as vsim.engine.solo names them: 0, 1, 2
        # Control-plane servers (vsim.engine.server): one per name, shared by the
        # installed platforms that name it (the kernel's netns lock is one).
        self.servers: dict[str, Server] = {}
        self.server_platforms: dict[str, list[str]] = {}  # server -> platforms passing through it
        for pl in self.platforms.values():
            for s in pl.profile.control_plane:
                if s.name not in self.servers:
                    self.servers[s.name] = Server(env, int(s.workers.value), name=f"{self.name}.{s.name}")
                self.server_platforms.setdefault(s.name, []).append(pl.profile.name)
        # Reservations.
        self.memory_capacity_mib = self.memory_mib * group.overcommit.memory
        self.vcpu_capacity = self.cores * group.overcommit.cpu
        self.disk_capacity_mb = self.disk_mb * group.overcommit.disk
        self.max_guests = group.max_guests if group.max_guests is not None else math.inf
        # Tasks (pids) the host kernel can still create: source: Linux kernel/pid.c, pid_max =
        # max(PID_MAX_DEFAULT 32768, 1024 per CPU); assumption: a server OS and its daemons
        # hold about 300 before any guest (vsim.mechanisms.services counts containers' tasks).
        self.pid_max = group.pid_max if group.pid_max is not None else max(32_768, 1_024 * group.cores)
        self.pids_free = self.pid_max - HOST_TASKS
        self.cache: set[str] = set()  # image names and layer ids on local disk
        # Shared read-only data in the memory guests have not reserved (vsim.engine.pagecache):
        # physical memory less the footprint and what guests reserve (overcommit eats into it).
        self.page_cache = PageCache(self._page_cache_room) if group.page_cache else None
        self.pulling: dict[str, simpy.Event] = {}
        self.guests_placed = 0
        self.guests_now = 0
        self.peak_guests = 0
        self.peak_memory_mib = self.footprint_mib  # an idle host still holds its platforms' memory
        self.cache_mb = 0.0
        # on | booting (powering on) | draining | off | failed; only an "on" host
        # takes new guests (see World.set_host_state, vsim.mechanisms.energy, vsim.mechanisms.faults).
        self.state = "on"

    def _cpu_capacity(self) -> float:
        """Core-seconds per second left for the guests' work: the cores less
        the platforms' footprint and what idle running guests keep busy (at
        least 5% of the cores: the host still gets some work done)."""
        return max(self.cores - self.footprint_cores - self.idle_cores, 0.05 * self.cores) * self.core_speed

    def idle_change(self, cores: float) -> None:
        """A running guest came (``cores`` > 0) or went: its idle housekeeping
        (timer ticks, its kernel's and VMM's threads) takes that much of the CPU
        from everything else that runs here."""
        now = self.cpu.env._now
        self.idle_core_s += self.idle_cores * (now - self._idle_t)
        self._idle_t = now
        idle = self.idle_cores + cores
        if idle < 1e-12:
            idle = 0.0
        self.idle_cores = idle
        self.cpu.set_capacity(self._cpu_capacity())

    def idle_core_seconds(self, until: float) -> float:
        """CPU core-seconds that idle running guests kept busy up to ``until``
        (an integral: it does not depend on the order of same-instant events)."""
        return self.idle_core_s + self.idle_cores * (until - self._idle_t)

    def _page_cache_room(self) -> float:
        """MB of memory neither the platforms nor the guests have reserved."""
        free = self.memory_mib - self.memory_capacity_mib + self.world.placer.mem_free_on(self.index)
        return max(free, 0.0) * MB_PER_MIB

    def disk_seconds(self, read_mb: float = 0.0, write_mb: float = 0.0, io_kib: float | None = None) -> float:
        """Disk time needed to read and write the given amounts: their
        transfer at the disk's bandwidth and, when they go in requests of
        ``io_kib`` KiB, each request's positioning time besides
        (:func:`access_time`: what the disk's 4 KiB random IOPS leave over
        after the transfer). Without ``io_kib``, large sequential requests
        whose positioning is negligible."""
        t = read_mb / self.read_mb_s + write_mb / self.write_mb_s
        if io_kib is not None:
            per_mb = KIB_PER_MB / io_kib  # requests per MB
            t += (read_mb * self.read_access_s + write_mb * self.write_access_s) * per_mb
        return t

    def __repr__(self) -> str:
        return f"Host({self.name!r}, guests={self.guests_now})"
