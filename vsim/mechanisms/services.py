"""Running workloads: services, noisy neighbours, and what a container loses.

Once a guest is *running* it does work, and that work shares the host with
everything else. This module runs it (hooked into :class:`~vsim.model.world.World`
through the mechanism hooks ``request``, ``ready``, ``stop`` and ``move``; nothing happens unless a
workload asks for it).

**A service** receives requests: Poisson arrivals at ``rate_per_s`` (or a rate
that changes over time, from a trace), *per guest*. A request waits for one of
the service's ``workers`` (a thread pool with a first-come-first-served queue),
then, holding the worker, runs its parts one after another:

1. CPU: ``cpu_s`` reference core-seconds (exponential or fixed) as one thread
   on the host's CPU fair share (so at most one core), at ``1 -
   exit_cpu_share`` of native speed (the platform's VM exits,
   :class:`~vsim.spec.profile.Overhead`). A VM's threads pass through its
   vCPUs, a container's through its cgroup quota (:mod:`vsim.mechanisms.cgroups`).
2. Disk: random 4 KiB reads (``ops / random_read_iops`` of the disk's time) or a
   sequential read (``read_mb / read_mb_s``, in 128 KiB requests) on the host's
   disk fair share; then each request pays the platform's per-request costs
   (``io_request_us``, ``io_copy_us_per_mb``, ``io_page_us`` per page,
   ``syscall_us``), one request after another (a request's reads are one
   stream). The extra time is spent in the guest's I/O path (QEMU, virtio),
   not on the shared disk, so a VM's slower I/O does not slow its neighbours.
3. Network: ``round_trips`` x (the host's native round trip, 37.6 us by default
   (Felter et al.), plus two packets' ``packet_us`` and system calls), then
   ``net_mb`` on the host's NIC fair share in 64 KiB segments; the guest's
   network path overlaps the wire, so it adds only what it takes beyond it.

Nested stacks (``inside: kvm`` on a container workload: containers in a VM)
pay both layers' per-operation costs (:func:`vsim.model.overhead.add_costs`),
and the VM's vCPUs fence the CPU.

*Why this is testable.* With ``workers: c`` the service is an FCFS queue with
``c`` servers. As long as the host has more free cores than ``c``, every
request's CPU job runs at full speed, so with Poisson arrivals and exponential
CPU demand it is exactly M/M/c: mean response ``1/mu + C(c, a)/(c mu - lambda)``
(Erlang C), and ``1/(mu - lambda)`` for ``c = 1``. With ``workers: null`` each
request is its own thread on a processor-shared CPU: on one core that is
M/M/1-PS, whose mean response is also ``1/(mu - lambda)``. A platform whose
exits take the share ``x`` of a vCPU serves at ``(1 - x) mu``. ``tests/test_services.py`` checks all
of this over ten seeds.

**Stress** threads are busy loops (CPU chunks of 0.1 s, disk chunks of 10 ms of
random reads, network chunks of 1 MB): a noisy neighbour. How much it hurts the
guests next to it is the isolation model of :mod:`vsim.mechanisms.cgroups`: a VM takes at
most its vCPUs, a container without a quota takes a share per thread.

**Writes** (logs) go to the container's writable layer or to a volume, in 1 s
chunks on the host disk. As Docker behaves: ``docker stop`` keeps the stopped
container and its writable layer (kept until ``docker rm``); a container
removed on stop (``remove_on_stop: true``: ``docker run --rm``, or an
orchestrator replacing it) loses it, and so does one whose host fails (a
replacement starts from the image). The bytes are recorded as kept or lost,
with the cause. Data on a volume or a native process's files is kept; a VM's
disk is kept unless it was on the local disk of a host that failed
(``vm_disk: local``, the default: it was cloned there).

**A live-migrated guest takes its work with it.** When a VM is live-migrated
(:mod:`vsim.mechanisms.migration`), everything it starts from the switch-over on runs on
the new host: the next CPU job of a request or a stress thread goes to the new
host's CPU (through the same vCPU gate), the next disk or network part of a
request, stress chunk or write flush to the new host's disk and NIC. A job
already handed to the old host's fair share when the guest switches finishes
there: a request whose CPU part was running completes that part on the old host
(at most one CPU job, 0.1 s of stress or one 1 s write flush per thread), which
is simpler than moving a half-done job and errs by milliseconds. (assumption:
the guest's threads keep running during the short stop-and-copy pause; the
migration's downtime is reported in the ``migrations`` table, not added to the
requests.) A cold migration is a stop and a start: the work stops on the old
host and starts again on the new one.

(That a container shares its host's kernel is :mod:`vsim.mechanisms.kernel`.)

Tables (documented in :data:`COLUMNS` below): ``requests`` (one row per
request served), ``cgroup_events`` (throttling, OOM kills, refused forks),
``storage`` (bytes written, kept and lost per guest), ``utilisation`` (each
host's CPU, disk and NIC use per sampling interval). :func:`vsim.experiments.load.service_summary`
sums up the requests table.

This module is longer than most (about 580 lines, a third of them this
docstring and the documented columns): services, stress, cgroup limits,
memory use and writes act on one per-guest runtime (``_Guest``: its
processes, its CPU fence, its task budget), and splitting them would spread
one running guest over several files.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from vsim.engine.weighted import DEFAULT_WEIGHT
from vsim.mechanisms.cgroups import CpuGroup, HostMemory, MemoryWatch, use, use_all
from vsim.model.footprint import guest_memory_mib
from vsim.model.mechanism import Mechanism
from vsim.model.overhead import (
    MB_PER_KIB,
    MESSAGE_KIB,
    SEGMENT_KIB,
    add_costs,
    costs,
    packet_hold_s,
    request_s,
)
from vsim.spec.services import ServiceFixed, ServicePoisson

if TYPE_CHECKING:
    from vsim.model.guest import Guest

__all__ = ["COLUMNS", "Services", "wanted", "SAMPLE_INTERVAL_S"]

#: The tables this module records: table -> column -> (type and unit, meaning).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "requests": {
        "id": ("int", "guest that served the request (joins instances.id)"),
        "workload": ("str", "service workload"),
        "platform": ("str", "platform of the guest (native, docker, kvm, ...)"),
        "host": ("str", "host the guest was on when a worker took the request (a live migration moves later ones)"),
        "arrival_s": ("float, s", "time the request arrived"),
        "start_s": ("float, s", "time a worker took it"),
        "end_s": ("float, s", "time its response was sent"),
        "response_s": ("float, s", "end_s - arrival_s: the latency a client sees"),
        "wait_s": ("float, s", "start_s - arrival_s: time queued for a worker"),
        "cpu_s": ("float, s", "time spent on its CPU part (contention, vCPU gate and cgroup throttling included)"),
        "disk_s": ("float, s", "time spent on its disk part (shared disk plus virtualization path latency)"),
        "net_s": ("float, s", "time spent on its network part (round trips and transfer)"),
    },
    "cgroup_events": {
        "time_s": ("float, s", "when it happened"),
        "id": ("int", "guest id (joins instances.id)"),
        "workload": ("str", "workload of the guest"),
        "platform": ("str", "platform of the guest"),
        "event": ("str", "cpu-throttled, oom-kill (its own cgroup or guest RAM), host-oom-kill (the host ran out "
                         "and its OOM killer chose this guest) or pids-limit"),
        "amount": ("float, see unit", "throttled time until the period ends / memory in use at the kill / tasks refused"),
        "unit": ("str", "unit of amount: s, MiB or tasks"),
        "cause": ("str", "the limit that caused it, in words"),
    },
    "storage": {
        "time_s": ("float, s", "when the guest stopped or failed"),
        "id": ("int", "guest id (joins instances.id)"),
        "workload": ("str", "workload of the guest"),
        "platform": ("str", "platform of the guest"),
        "kind": ("str", "vm, container, microvm or process"),
        "target": ("str", "where the data was written: writable-layer, volume, vm-disk or host-fs"),
        "written_mb": ("float, MB", "data written while the guest ran"),
        "kept_mb": ("float, MB", "data that survives the stop"),
        "lost_mb": ("float, MB", "data lost with the guest (a container's writable layer)"),
        "cause": ("str", "why it was kept or lost"),
    },
    "utilisation": {
        "time_s": ("float, s", "end of the sampling interval (1 s, or duration_s / 1000 if longer: vsim.mechanisms.services)"),
        "host": ("str", "host name"),
        "cpu_util": ("float, 0-1", "fraction of the host's CPU capacity used during the interval (of the cores "
                                   "left after the platforms' footprint and idle guests' housekeeping)"),
        "disk_util": ("float, 0-1", "fraction of the disk's time used during the interval"),
        "nic_util": ("float, 0-1", "fraction of the NIC's bandwidth used during the interval"),
    },
}

#: Sampling interval of the ``utilisation`` table. assumption: 1 s resolves
#: the bursts of a noisy neighbour; long runs use duration_s / MAX_SAMPLES so the
#: table keeps at most MAX_SAMPLES rows per host.
SAMPLE_INTERVAL_S = 1.0
MAX_SAMPLES = 1000
STRESS_CPU_CHUNK_S = 0.1  # CPU work per stress-loop iteration (core-seconds)
STRESS_DISK_CHUNK_S = 0.01  # disk time per stress-loop iteration (disk-seconds)
STRESS_NET_CHUNK_MB = 1.0
#: assumption: sequential reads of a request go in 128 KiB requests (the
#: kernel's default readahead window, VM_READAHEAD_PAGES).
SEQUENTIAL_KIB = 128.0
WRITE_FLUSH_S = 1.0  # log writes reach the disk once a second (page-cache writeback)
_SEED_KEY = 0x5E41CE  # spawn-key branch for the per-guest service generators

KILL_CAUSE_VM = "out of memory inside the VM: the guest kernel's OOM killer ended the application"


def wanted(w) -> bool:
    """Whether workload ``w`` runs anything once ready (a service, stress,
    limits, memory use, writes or nesting)."""
    return bool(w.service or w.stress or w.limits or w.memory_use or w.writes or w.inside)


class _Guest:
    """What one running guest is doing (its processes and its fences)."""

    __slots__ = ("g", "rng", "cpu", "queue", "idle", "mem", "procs", "alive", "eff", "tasks_left",
                 "ready_s", "flushed_mb", "pool", "host_tasks")

    # Set by Services.ready right after construction:
    g: Guest
    rng: np.random.Generator
    cpu: CpuGroup
    eff: dict[str, float]  # the per-operation costs (nested layers added: vsim.model.overhead.add_costs)
    ready_s: float
    # Set in __init__:
    queue: deque[tuple[float, float]]  # requests waiting for a worker: (arrival_s, cpu demand)
    idle: list[simpy.Event]  # workers waiting for a request
    mem: MemoryWatch | None
    procs: set[simpy.Process]
    alive: bool
    tasks_left: float  # pids.max budget left (a VM's: its own kernel's pid_max); inf without a limit
    pool: Any  # the host whose pid_max its tasks count against (containers, processes), or None (VMs)
    host_tasks: int  # tasks it holds from that host's pool
    flushed_mb: float

    def __init__(self) -> None:
        self.procs = set()
        self.alive = True
        self.mem = None
        self.queue = deque()
        self.idle = []
        self.tasks_left = math.inf
        self.flushed_mb = 0.0
        self.pool = None
        self.host_tasks = 0


class Services(Mechanism):
    """Runs what running guests do: services, stress, cgroup limits, memory
    use and writes; samples host utilisation while services or stress run."""

    def __init__(self, active) -> None:
        self.running: dict[int, _Guest] = {}
        tables = []
        if any(w.service for w in active):
            tables.append("requests")
        if any(w.limits or w.memory_use or w.service or w.stress for w in active):
            tables.append("cgroup_events")  # (a service or stress can run into pids limits)
        if any(w.writes for w in active):
            tables.append("storage")
        self.sampling = any(w.service or w.stress for w in active)
        # Host memory pressure (vsim.mechanisms.cgroups.HostMemory): the running guests of
        # each host, and a pool per host where a container's memory use is watched.
        self.pressure = any(w.memory_use for w in active)
        self.on_host: dict[int, dict[int, Any]] = {}
        self.pools: dict[int, HostMemory] = {}
        if self.sampling:
            tables.append("utilisation")
        self.tables = tuple(tables)

    def attach(self, world) -> None:
        self.world = world
        self.env = world.env
        if self.sampling:
            world.env.process(self.sample())

    # -- helpers --------------------------------------------------------------
    def _costs(self, g) -> dict[str, float]:
        """The guest's per-operation costs: its platform's, and the VM's it runs inside."""
        c = costs(g.profile.overhead)
        inside = g.workload.inside
        if inside:
            c = add_costs(c, costs(self.world.scenario.profile(inside).overhead))
        return c

    def _event(self, g, event: str, amount: float, unit: str, cause: str) -> None:
        self.world.records["cgroup_events"].append(
            (self.env.now, g.id, g.workload.name, g.platform, event, float(amount), unit, cause))

    def _spawn(self, st: _Guest, gen) -> simpy.Process:
        p = self.env.process(gen)
        st.procs.add(p)
        p.callbacks.append(lambda _ev: st.procs.discard(p))
        return p

    # -- lifecycle hooks ------------------------------------------------------
    def ready(self, g) -> None:
        w = g.workload
        if self.pressure:
            self._arrived(g)
        if not wanted(w):
            return
        env = self.env
        host = g.host
        st = _Guest()
        st.g = g
        st.ready_s = env.now
        st.rng = np.random.default_rng(np.random.SeedSequence(self.world.seed, spawn_key=(_SEED_KEY, g.id)))
        st.eff = self._costs(g)
        lim = w.limits
        threads = math.ceil(g.vcpus - 1e-9) if (g.kind in ("vm", "microvm") or w.inside) else None
        quota = lim.cpu_cores if lim is not None else None
        st.cpu = CpuGroup(
            env, host.cpu, host.core_speed, threads=threads, quota_cores=quota,
            period_s=lim.cpu_period_s if lim else 0.1, start_s=env.now,
            on_throttle=(lambda t, d, g=g, lim=lim: self._event(
                g, "cpu-throttled", d, "s",
                f"cpu quota used up: {lim.cpu_cores:g} cores = {lim.cpu_cores * lim.cpu_period_s * 1000:g} ms "
                f"per {lim.cpu_period_s * 1000:g} ms period; threads wait for the next period")),
            weight=_cpu_weight(g, lim), name=g.name,
        )
        self.running[g.id] = st
        # Tasks (processes and threads): the main process, then workers, then stress
        # threads, then a fork bomb's processes. A container's or native process's
        # count against its cgroup's pids.max (if set) and against the host's pid_max,
        # which every container shares; a VM's against its own kernel's pid_max.
        svc, stress = w.service, w.stress
        want_workers = svc.workers if (svc and svc.workers) else 0
        want_stress = (stress.cpu_threads + stress.disk_threads + stress.net_threads) if stress else 0
        forks = stress.forks if stress else 0
        if g.kind in ("container", "process"):
            st.pool = host
            if lim is not None and lim.pids is not None:
                st.tasks_left = lim.pids
        else:
            st.tasks_left = GUEST_PID_MAX
        got = self._take_tasks(st, 1 + want_workers + want_stress + forks, "threads and processes") - 1
        want_workers = min(want_workers, max(got, 0))
        got -= want_workers
        if self.pressure:
            self._watch_memory(st, g)
            if not st.alive:
                return
        if svc is not None:
            for _ in range(want_workers if svc.workers is not None else 0):
                self._spawn(st, self.worker(st))
            self._spawn(st, self.arrivals(st))
        if stress is not None:
            kinds = ([self.stress_cpu] * stress.cpu_threads + [self.stress_disk] * stress.disk_threads
                     + [self.stress_net] * stress.net_threads)
            for fn in kinds[:max(got, 0)]:
                self._spawn(st, fn(st))
            # the fork bomb's processes (whatever was granted after the threads) only hold their tasks
        if w.writes is not None:
            self._spawn(st, self.flush(st))

    def _arrived(self, g) -> None:
        """``g`` runs on its host now and holds memory there (host memory pressure)."""
        self.on_host.setdefault(g.host.index, {})[g.id] = g
        pool = self.pools.get(g.host.index)
        if pool is not None and not wanted(g.workload):
            pool.check()  # a VM's RAM (or another guest's) now takes host memory too

    def _watch_memory(self, st: _Guest, g) -> None:
        """Watch the guest's memory use against its limit: the cgroup's
        memory.max (containers, processes) or the guest's RAM (VMs). A
        container's or process's use is also host memory, shared with every
        other guest of its host (its pool, :class:`~vsim.mechanisms.cgroups.HostMemory`);
        without memory.max (Docker's default) only the host bounds it. Then
        check the host's memory, which this guest now holds a share of."""
        w, lim, mu = g.workload, g.workload.limits, g.workload.memory_use
        if mu is None:
            pool = self.pools.get(g.host.index)
            if pool is not None:
                pool.check()
            return
        if lim is not None and lim.memory_mib is not None:
            limit = lim.memory_mib
            cause = f"out of memory: cgroup memory.max {limit:g} MiB exceeded; the kernel's OOM killer ended the container"
        elif g.kind in ("vm", "microvm"):
            limit = w.memory_mib
            cause = f"{KILL_CAUSE_VM} (guest RAM {limit:g} MiB)"
        else:
            limit, cause = math.inf, ""
        st.mem = MemoryWatch(self.env, limit, mu.resident_mib, mu.growth_mib_s, mu.per_request_mib,
                             on_oom=lambda u, g=g, c=cause: self._oom(g, u, c))
        if g.kind in ("container", "process"):
            pool = self._pool(g.host)
            pool.watches[g.id] = st.mem
        else:
            pool = self.pools.get(g.host.index)
        if pool is not None:
            pool.check()

    def _pool(self, host) -> HostMemory:
        """The memory pool of ``host``, made when a container there is first watched."""
        i = host.index
        got = self.pools.get(i)
        if got is not None:
            return got
        guests = self.on_host.setdefault(i, {})
        pool = self.pools[i] = HostMemory(self.env, host.memory_capacity_mib, lambda: 0.0, list,
                                          on_kill=lambda gid, b, held: self._host_oom(host, gid, b, held))
        watches = pool.watches

        def own(g) -> float:  # what a guest holds besides a watched usage: its monitor or shim
            return guest_memory_mib(g.profile, 0.0)

        def fixed() -> float:
            return host.footprint_mib + sum(own(g) if g.id in watches else g.memory_mib for g in guests.values())

        def candidates() -> list[tuple[float, int]]:
            return [(watches[g.id].usage() + own(g) if g.id in watches else g.memory_mib, g.id)
                    for g in guests.values()]

        pool.fixed_mib, pool.candidates = fixed, candidates
        return pool

    def _host_oom(self, host, gid: int, badness: float, held: float) -> None:
        """The host ran out of memory; its OOM killer chose guest ``gid`` (the largest)."""
        pool = self.pools[host.index]
        guests = self.on_host.get(host.index, {})
        growing = max(((w.growth, -k) for k, w in pool.watches.items()), default=(0.0, 1))
        grower = guests.get(-growing[1])
        g = guests.pop(gid)
        watch = pool.watches.pop(gid, None)
        if watch is not None:
            watch.stop()
        st = self.running.get(gid)
        if st is not None:
            st.alive = False
        who = ("" if growing[0] <= 0 or grower is None else
               f"; growing fastest: {grower.name} ({growing[0]:g} MiB/s{', itself' if grower is g else ''})")
        cause = (f"host out of memory: {host.name}'s guests held {held:.0f} of its {pool.capacity:.0f} MiB and the "
                 f"host kernel's OOM killer ended the largest, this guest ({badness:.0f} MiB){who}; no memory "
                 "limit fenced the containers (Docker sets none unless docker run --memory)")
        self._event(g, "host-oom-kill", badness, "MiB", cause)
        self.world.fail_guest(g, cause)

    def _mem_change(self, st: _Guest, d: int) -> None:
        """``d`` more (or fewer) requests in flight hold their buffers: its cgroup
        (or guest RAM) and its host's memory see them."""
        assert st.mem is not None
        st.mem.change(d)
        h = st.g.host
        if d > 0 and st.alive and self.pressure and h is not None:
            pool = self.pools.get(h.index)
            if pool is not None and st.g.id in pool.watches:
                pool.check()

    def _oom(self, g, usage_mib: float, cause: str) -> None:
        st = self.running.get(g.id)
        if st is not None:
            st.alive = False
        self._event(g, "oom-kill", usage_mib, "MiB", cause)
        self.world.fail_guest(g, cause)

    def stop(self, g) -> None:
        if self.pressure and g.host is not None:
            i = g.host.index
            self.on_host.get(i, {}).pop(g.id, None)
            pool = self.pools.get(i)
            if pool is not None:
                w = pool.watches.pop(g.id, None)
                if w is not None:
                    w.stop()
                pool.check()  # what it held is free again (reschedule the next crossing)
        st = self.running.pop(g.id, None)
        if st is None:
            return
        st.alive = False
        if st.pool is not None:  # its processes end: their pids go back to the host
            st.pool.pids_free += st.host_tasks
            st.host_tasks = 0
        if st.mem is not None:
            st.mem.stop()
        for p in list(st.procs):
            if p.is_alive and p is not self.env.active_process:
                p.interrupt("guest stopped")
        w = g.workload
        if w.writes is not None:
            written = w.writes.mb_s * (self.env.now - st.ready_s)
            how = "stopped" if g.state == "stopping" else f"failed ({g.reason})"
            with_host = g.state != "stopping" and g.reason.startswith("host failure")
            if g.kind == "container" and w.writes.to == "writable-layer" and (w.remove_on_stop or with_host):
                target, kept, lost = "writable-layer", 0.0, written
                why = ("its writable layer stays on the failed host; a replacement starts from the image" if with_host
                       else "removed with its writable layer (docker run --rm, or an orchestrator replacing it)")
                cause = f"container {how}: {why}; write to a volume to keep the data"
            elif g.kind == "container" and w.writes.to == "writable-layer":
                target, kept, lost = "writable-layer", written, 0.0
                cause = (f"kept: container {how}, and docker stop keeps the stopped container with its writable "
                         "layer (overlay2 upper dir) until docker rm deletes both (remove_on_stop: true for --rm)")
            elif g.kind == "container":
                target, kept, lost = "volume", written, 0.0
                cause = "kept: the volume outlives the container"
            elif g.kind == "process":
                target, kept, lost = "host-fs", written, 0.0
                cause = "kept: a native process writes to the host's file system"
            elif with_host and w.vm_disk == "local":
                target, kept, lost = "vm-disk", 0.0, written
                cause = f"{g.kind} {how}: its virtual disk was on the failed host's local disk (vm_disk: shared keeps it)"
            else:
                target, kept, lost = "vm-disk", written, 0.0
                cause = f"kept: a {g.kind}'s virtual disk persists when it stops"
            self.world.records["storage"].append(
                (self.env.now, g.id, w.name, g.platform, g.kind, target, written, kept, lost, cause))

    def move(self, g, old_host, new_host) -> None:
        """A running guest switched hosts (live migration): its next jobs go to ``new_host``.

        Everything else reads ``g.host`` when it starts a job, so only the CPU
        path, which holds the host's CPU, needs rebinding. A cold migration
        stops the guest before it moves (it is not in ``running`` then).
        """
        st = self.running.get(g.id)
        if st is not None:
            st.cpu.move_to(new_host.cpu, new_host.core_speed)
        if self.pressure:
            self.on_host.get(old_host.index, {}).pop(g.id, None)
            self.on_host.setdefault(new_host.index, {})[g.id] = g

    # -- what a running guest does ------------------------------------------------
    def arrivals(self, st: _Guest):
        """Generate the service's requests until the guest stops."""
        env, svc, rng = self.env, st.g.workload.service, st.rng
        assert svc is not None  # started only for a workload with a service
        a = svc.arrivals
        t0 = env.now
        try:
            if isinstance(a, ServicePoisson):
                gap = 1.0 / a.rate_per_s
                while True:
                    yield env.timeout(rng.exponential(gap))
                    self._arrive(st)
            elif isinstance(a, ServiceFixed):
                gap = 1.0 / a.rate_per_s
                k = 0
                while True:
                    k += 1
                    yield env.timeout(max(t0 + k * gap - env.now, 0.0))  # no drift from summed gaps
                    self._arrive(st)
            else:
                times = [p.at_s for p in a.rates]
                rates = [p.rate_per_s for p in a.rates]
                tau: float | None  # None: no arrival to come
                tau = 0.0
                while True:
                    tau = _next_arrival(times, rates, tau, rng.exponential(1.0))
                    if tau is None:
                        return  # the rate is 0 from here on
                    yield env.timeout(max(t0 + tau - env.now, 0.0))
                    self._arrive(st)
        except simpy.Interrupt:
            return

    def _arrive(self, st: _Guest) -> None:
        svc = st.g.workload.service
        assert svc is not None  # requests arrive only at a service
        demand = svc.cpu_s * (st.rng.exponential(1.0) if svc.cpu_distribution == "exponential" else 1.0)
        if st.mem is not None:
            self._mem_change(st, +1)  # the request's buffers are allocated on arrival
            if not st.alive:
                return
        if svc.workers is not None:  # a thread pool: FCFS queue in front of the workers
            st.queue.append((self.env.now, demand))
            if st.idle:
                st.idle.pop().succeed()
            return
        if self._take_tasks(st, 1, None) == 0:  # a thread per request
            if st.mem is not None:
                self._mem_change(st, -1)
            return
        self._spawn(st, self.thread(st, demand))

    def worker(self, st: _Guest):
        """One worker of the pool: take the oldest waiting request, serve it, repeat."""
        env = self.env
        try:
            while True:
                if not st.queue:
                    wake = env.event()
                    st.idle.append(wake)
                    yield wake
                    continue
                t_arr, demand = st.queue.popleft()
                parts = yield from self._serve(st, demand)
                self._done(st, t_arr, parts)
        except simpy.Interrupt:
            return

    def thread(self, st: _Guest, demand: float):
        """A thread started for one request (``workers: null``)."""
        t_arr = self.env.now
        try:
            parts = yield from self._serve(st, demand)
        except simpy.Interrupt:
            return
        finally:
            self._give_tasks(st, 1)
        self._done(st, t_arr, parts)

    def _take_tasks(self, st: _Guest, n: int, what: str | None) -> int:
        """Up to ``n`` new tasks for the guest, as many as its pids.max (or a VM's
        own pid_max) and, for a container or process, its host's free pids allow;
        a refusal is a pids-limit event that names the limit that was hit."""
        own = st.tasks_left
        pool = st.pool
        free = pool.pids_free if pool is not None else math.inf
        got = n if n <= own and n <= free else max(int(min(own, free)), 0)
        if got < n:
            g = st.g
            lim = g.workload.limits
            if free < own:
                why = (f"the host's pid_max {pool.pid_max} is used up (tasks of every container on it count; "
                       "a VM's count in its own kernel)")
            elif g.kind in ("container", "process"):
                assert lim is not None and lim.pids is not None  # own < inf only under pids.max
                why = f"pids.max {lim.pids} reached"
            else:
                why = f"the guest kernel's pid_max {GUEST_PID_MAX} reached"
            done = f"{n - got} of {n} {what} not started" if what else "the request's thread was not started: refused"
            self._event(g, "pids-limit", n - got, "tasks", f"fork failed (EAGAIN): {why}; {done}")
        if own < math.inf:
            st.tasks_left = own - got
        if pool is not None:
            pool.pids_free -= got
            st.host_tasks += got
        return got

    def _give_tasks(self, st: _Guest, n: int) -> None:
        if st.tasks_left < math.inf:
            st.tasks_left += n
        if st.pool is not None and n:
            st.pool.pids_free += n
            st.host_tasks -= n

    def _done(self, st: _Guest, t_arr: float, parts) -> None:
        g, now = st.g, self.env.now
        if st.mem is not None and st.alive:
            self._mem_change(st, -1)
        assert g.workload.service is not None  # only a service's requests are done
        if t_arr - st.ready_s >= g.workload.service.warmup_s:
            t_start, host_name, cpu_t, disk_t, net_t = parts
            self.world.records["requests"].append((
                g.id, g.workload.name, g.platform, host_name, t_arr, t_start, now,
                now - t_arr, t_start - t_arr, cpu_t, disk_t, net_t))

    def _serve(self, st: _Guest, demand: float):
        """The parts of one request, in order: CPU, disk, network.

        Each part runs on the host the guest is on when the part starts (a live
        migration may switch it between parts). Returns ``(start_s, host name
        when a worker took it, cpu_s, disk_s, net_s)``.
        """
        env, e = self.env, st.eff
        svc = st.g.workload.service
        assert svc is not None and st.g.host is not None  # a service's request, on a running guest
        t_start = env.now
        host_name = st.g.host.name
        if demand > 0:
            yield from st.cpu.run(demand / (1.0 - e["exit_cpu_share"]))
        t1 = env.now
        d = svc.disk
        host = st.g.host
        if d is not None:
            if d.pattern == "random":
                native, extra = d.ops / host.read_iops, disk_path_s(e, d.ops, 4.0)
            else:
                requests = d.read_mb / (SEQUENTIAL_KIB * MB_PER_KIB)
                native, extra = d.read_mb / host.read_mb_s, disk_path_s(e, requests, SEQUENTIAL_KIB)
            yield from use(host.disk, native)
            if extra > 0:
                yield env.timeout(extra)
        t2 = env.now
        host = st.g.host
        if svc.round_trips:
            per = host_rtt_s(host) + 2 * (packet_hold_s(e, MESSAGE_KIB) + e["syscall_us"] * 1e-6)
            yield env.timeout(svc.round_trips * per)
        if svc.net_mb:
            yield from self._send(host, e, svc.net_mb)
            extra = net_path_s(e, svc.net_mb, host.net_mb_s)
            if extra > 0:
                yield env.timeout(extra)
        return t_start, host_name, t1 - t_start, t2 - t1, env.now - t2

    def _send(self, host, c: dict[str, float], mb: float):
        """Send ``mb`` on the host's NIC while the host kernel does each segment's
        packet work (``softirq_cpu_s``) on the host's CPU, at the same time. That
        CPU is the host's own (a root task), outside the guest's cgroup, its quota
        and its weight, and outside a VM's vCPUs: Linux runs packet processing in
        softirq context (or vhost-net's kernel thread) and does not charge it to the
        container whose packets they are."""
        kernel = softirq_cpu_s(c, mb)
        if kernel <= 0:
            yield from use(host.nic, mb)
            return
        yield from use_all(self.env, [(host.nic, host.nic.use(mb)), (host.cpu, host.cpu.use(kernel))])

    def stress_cpu(self, st: _Guest):
        try:
            while True:
                yield from st.cpu.run(STRESS_CPU_CHUNK_S)
        except simpy.Interrupt:
            return

    def stress_disk(self, st: _Guest):
        assert st.g.host is not None  # a running guest is on a host (whichever it moves to)
        try:
            while True:
                host = st.g.host
                yield from use(host.disk, STRESS_DISK_CHUNK_S)
                extra = disk_path_s(st.eff, STRESS_DISK_CHUNK_S * host.read_iops, 4.0)
                if extra > 0:
                    yield self.env.timeout(extra)
        except simpy.Interrupt:
            return

    def stress_net(self, st: _Guest):
        assert st.g.host is not None  # a running guest is on a host (whichever it moves to)
        try:
            while True:
                host = st.g.host  # the host it is on now (a live migration moves it)
                yield from self._send(host, st.eff, STRESS_NET_CHUNK_MB)
                extra = net_path_s(st.eff, STRESS_NET_CHUNK_MB, host.net_mb_s)
                if extra > 0:
                    yield self.env.timeout(extra)
        except simpy.Interrupt:
            return

    def flush(self, st: _Guest):
        """Write-back of the guest's writes to the host disk, once a second."""
        assert st.g.workload.writes is not None and st.g.host is not None  # started only for writes, on a running guest
        mb_s = st.g.workload.writes.mb_s
        try:
            while True:
                yield self.env.timeout(WRITE_FLUSH_S)
                host = st.g.host  # the host it is on now (a live migration moves it)
                yield from use(host.disk, host.disk_seconds(write_mb=mb_s * WRITE_FLUSH_S))
                st.flushed_mb += mb_s * WRITE_FLUSH_S
        except simpy.Interrupt:
            return

    def sample(self):
        """Every sampling interval: each host's CPU, disk and NIC use over the interval."""
        env, world = self.env, self.world
        rows = world.records["utilisation"]
        total = world.scenario.guest_count()
        hosts = world.hosts
        last = [((0.0, 0.0),) * 3] * len(hosts)
        dur = world.scenario.duration_s
        step = max(SAMPLE_INTERVAL_S, dur / MAX_SAMPLES) if dur else SAMPLE_INTERVAL_S
        while True:
            yield env.timeout(step)
            t = env.now
            for k, h in enumerate(hosts):
                now = (h.cpu.served(), h.disk.served(), h.nic.served())
                # work served over capacity offered in the interval (the CPU's capacity
                # shrinks while idle guests keep part of it busy)
                rows.append((t, h.name, *((w1 - w0) / (c1 - c0) if c1 > c0 else 0.0
                                          for (w0, c0), (w1, c1) in zip(last[k], now, strict=True))))
                last[k] = now
            if len(world.guests) >= total and all(
                    g.state in ("stopped", "rejected", "failed") for g in world.guests):
                return


#: source: Linux include/linux/threads.h, PID_MAX_DEFAULT 0x8000: a guest kernel's
#: pid_max on a VM of up to 32 vCPUs (the kernel raises it to 1,024 per CPU beyond).
GUEST_PID_MAX = 32_768


def _cpu_weight(g, lim) -> int | None:
    """The guest's cgroup cpu.weight: the limit's if given; else the default 100
    of the cgroup every container gets from Docker (source: Docker run reference,
    measurements.md section 8: its own cgroup, cpu.weight 100 / 1024 shares unless
    --cpu-shares) and every VM from libvirt (assumption: its machine scope, systemd's
    default weight 100); None for a native process (scheduled thread by thread)."""
    if lim is not None and lim.cpu_weight is not None:
        return lim.cpu_weight
    return None if g.kind == "process" else DEFAULT_WEIGHT


def _next_arrival(times: list[float], rates: list[float], tau: float, need: float) -> float | None:
    """Next arrival of a Poisson process with a piecewise-constant rate.

    ``need`` is an Exp(1) draw: the arrival comes when the integral of the rate
    from ``tau`` reaches it (exact, no thinning). ``None`` if it never does.
    """
    while True:
        i = bisect.bisect_right(times, tau) - 1
        rate = rates[i] if i >= 0 else 0.0
        seg_end = times[i + 1] if i + 1 < len(times) else math.inf
        if rate > 0 and need / rate <= seg_end - tau:
            return tau + need / rate
        if math.isinf(seg_end):
            return None
        need -= rate * (seg_end - tau)
        tau = seg_end


def disk_path_s(c: dict[str, float], requests: float, io_kib: float) -> float:
    """Time ``requests`` disk requests of ``io_kib`` spend in the guest's I/O path
    beyond the device, one after another: each request's ``io_request_us``, its
    copy, its pages' ``io_page_us`` and its system call."""
    return requests * sum(request_s(c, io_kib))


def net_path_s(c: dict[str, float], mb: float, nic_mb_s: float) -> float:
    """What ``mb`` sent in 64 KiB segments adds to the wire's time: the guest's
    network path overlaps the wire, so only the path's time beyond the wire,
    and one segment's passage to fill the pipeline."""
    n = max(1.0, mb / (SEGMENT_KIB * MB_PER_KIB))
    hold = packet_hold_s(c, SEGMENT_KIB) + c["syscall_us"] * 1e-6
    if hold <= 0:
        return 0.0
    return max(0.0, n * hold - mb / nic_mb_s) + hold


def softirq_cpu_s(c: dict[str, float], mb: float) -> float:
    """Host CPU (reference core-seconds) the kernel spends on ``mb`` sent in
    64 KiB segments: each segment's packet cost (``packet_us``: NAT, bridge and
    veth for a container, virtio-net and vhost for a VM), taken to be CPU work in
    softirq context (assumption: the path's time is the kernel's CPU time; no
    measurement separates the two)."""
    return max(1.0, mb / (SEGMENT_KIB * MB_PER_KIB)) * c["packet_us"] * 1e-6 if c["packet_us"] > 0 else 0.0


def host_rtt_s(host) -> float:
    """The native network round trip of a host, in seconds."""
    return host.world.scenario.hosts[_group_index(host)].network_rtt_us * 1e-6


def _group_index(host) -> int:
    for i, grp in enumerate(host.world.scenario.hosts):
        if grp.name == host.group:
            return i
    raise KeyError(host.group)  # pragma: no cover
