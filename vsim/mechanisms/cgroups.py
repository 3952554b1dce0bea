"""cgroups and vCPUs: how the host keeps one guest's work from swamping another's.

A container is a group of ordinary host processes. Left alone, its threads are
scheduled by the host kernel like any other: a container running 32 busy
threads on a 16-core host takes 32 shares of the CPU against its neighbour's
one. A *control group* (cgroup) is how the kernel puts a fence around it:

* **CPU quota** (``cpu.max``, CFS bandwidth control): in every period
  (default 100 ms) the group may run for at most ``quota`` CPU-seconds, that is
  ``cpu_cores x period``. When its threads have used that up, all of them are
  *throttled* (not run) until the next period starts. A single thread with a
  quota of 0.5 cores runs 50 ms, waits 50 ms, runs 50 ms... so a request that
  needs 200 ms of CPU takes 350 ms. Every throttled period is recorded.
* **memory limit** (``memory.max``): when the group's memory would exceed it,
  the kernel's out-of-memory (OOM) killer ends the container; vsim records the
  kill with its cause and ends the guest as ``failed``.
* **CPU weight** (``cpu.weight``, cgroup v2; ``cpu.shares`` in v1): under
  contention the group's threads *together* get CPU in proportion to its
  weight, not one share per thread; the host's CPU is then a
  :class:`~vsim.engine.weighted.WeightedFairShare` (see :mod:`vsim.engine.weighted`).
* **pids limit** (``pids.max``): ``fork()``/``clone()`` fail once the group has
  that many tasks; the worker threads that could not start are recorded.

A **virtual machine** is fenced differently: whatever its guest OS runs, the
host only sees its vCPU threads. A VM with 2 vCPUs running 32 busy threads is
2 runnable threads on the host, so it can never take more than 2 cores from
its neighbours. vsim models this with a gate of ``ceil(vcpus)`` slots that
every CPU job of the guest passes through (:class:`CpuGroup`); containers and
native processes have no gate.

Assumptions (labelled, see the README's isolation section): the quota is spent
in slices of at most what one core could do before the period ends, so a slice
started under heavy contention may spill a little into the next period; disk and
network are *not* fenced for any platform (no ``io.max``/``iotune`` limits are
modelled), so a noisy neighbour on the disk slows VMs and containers alike.

What leaks past these fences (each modelled where it happens): the **host's
memory** when a container has no ``memory.max`` (:class:`HostMemory`: the host's
OOM killer ends the largest process on the host); the host kernel's **pids**
(``pid_max``, shared by every container without ``pids.max``); and the kernel's
**packet work** (NAT, bridge, veth; vhost-net for a VM), which Linux does in
softirq context and does not charge to the container's cgroup: a container's
CPU quota does not bound it, and a VM's vCPUs do not either
(``vsim.mechanisms.services.softirq_cpu_s``).
"""

from __future__ import annotations

import math

import simpy

from vsim.engine.fairshare import FairShare

__all__ = ["CpuGroup", "MemoryWatch", "HostMemory", "use", "use_all"]

_EPS = 1e-12


def use(resource: FairShare, work: float, group=None):
    """Run ``work`` on a fair-share resource; withdraw it if interrupted.

    ``group``: the cgroup's :class:`~vsim.engine.weighted.ShareGroup` on a weighted
    CPU (:mod:`vsim.engine.weighted`), ``None`` for a plain job.
    """
    if work <= 0:
        return
    # A group exists only on a WeightedFairShare CPU (CpuGroup._share_on), whose
    # use() takes it; ``resource`` is typed FairShare, as CpuGroup.cpu is.
    ev = resource.use(work) if group is None else resource.use(work, group=group)  # type: ignore[call-arg]
    try:
        yield ev
    except simpy.Interrupt:
        resource.cancel(ev)
        raise


def use_all(env: simpy.Environment, jobs):
    """Wait for several fair-share jobs at once, ``jobs`` = ``[(resource, event), ...]``
    (events from ``resource.use``); withdraw every one of them if interrupted."""
    try:
        yield env.all_of([ev for _, ev in jobs])
    except simpy.Interrupt:
        for resource, ev in jobs:
            resource.cancel(ev)
        raise


class CpuGroup:
    """The path from one guest's threads to the host CPU.

    Parameters
    ----------
    cpu:
        The host's CPU :class:`~vsim.engine.fairshare.FairShare` (one job is one thread).
    core_speed:
        Work one thread can do per second (the host's core speed).
    threads:
        For a VM: its vCPU count (at most this many of its jobs run at once);
        ``None`` for containers and processes (no gate).
    quota_cores, period_s, start_s:
        CFS bandwidth control: ``quota_cores x period_s`` CPU-seconds per
        period, periods counted from ``start_s``; ``None`` for no quota.
    on_throttle:
        Called ``(time_s, throttled_s)`` once per throttled period.
    weight:
        ``cpu.weight`` (1..10000): the group's threads share one
        :class:`~vsim.engine.weighted.ShareGroup` of the host's
        :class:`~vsim.engine.weighted.WeightedFairShare` CPU; ``None``: they are
        scheduled one by one, like root tasks.
    name:
        The group's label on the CPU.
    """

    def __init__(self, env: simpy.Environment, cpu: FairShare, core_speed: float,
                 threads: int | None = None, quota_cores: float | None = None,
                 period_s: float = 0.1, start_s: float = 0.0, on_throttle=None,
                 weight: int | None = None, name: str = "cgroup") -> None:
        self.env = env
        self.cpu = cpu
        self.weight = weight
        self.name = name
        self.share = self._share_on(cpu)
        self.core_speed = core_speed
        self.gate = simpy.Resource(env, threads) if threads else None
        self.quota = None if quota_cores is None else quota_cores * period_s
        self.period_s = period_s
        self.start_s = start_s
        self.on_throttle = on_throttle
        self._period = -1
        self._budget = 0.0
        self._throttled_period = -1
        self.throttled_periods = 0
        self.throttled_s = 0.0

    def move_to(self, cpu: FairShare, core_speed: float) -> None:
        """The guest now runs on another host (a live migration): its next CPU
        jobs go to ``cpu``. The vCPU gate and the quota's period and budget are
        the guest's own and carry over; a job already running stays where it is."""
        self.cpu = cpu
        self.core_speed = core_speed
        self.share = self._share_on(cpu)

    def _share_on(self, cpu):
        """This group's entity on ``cpu`` (a weight on a CPU that has no
        weighted scheduling runs its threads as plain jobs)."""
        if self.weight is None or not hasattr(cpu, "group"):
            return None
        return cpu.group(self.name, self.weight)

    def run(self, work: float):
        """A SimPy generator: do ``work`` reference core-seconds on one thread."""
        if work <= 0:
            return
        if self.gate is None:
            yield from self._quota(work)
            return
        with self.gate.request() as slot:
            yield slot
            yield from self._quota(work)

    def _quota(self, work: float):
        if self.quota is None:
            yield from use(self.cpu, work, self.share)
            return
        env = self.env
        p = self.period_s
        while work > _EPS:
            now = env.now
            k = math.floor((now - self.start_s) / p + 1e-9)
            if k != self._period:
                self._period = k
                self._budget = self.quota
            end = self.start_s + (k + 1) * p
            piece = min(work, self._budget, (end - now) * self.core_speed)
            if piece <= _EPS:
                if self._budget <= _EPS and self._throttled_period != k:
                    self._throttled_period = k
                    self.throttled_periods += 1
                    self.throttled_s += end - now
                    if self.on_throttle is not None:
                        self.on_throttle(now, end - now)
                yield env.timeout(max(end - now, 0.0))
                continue
            self._budget -= piece
            yield from use(self.cpu, piece, self.share)
            work -= piece


class MemoryWatch:
    """Memory in use by a guest's application, checked against its limit.

    ``usage(t) = resident + growth x (t - start) + per_request x in_flight``.
    The watch fires ``on_oom(usage_mib)`` at the exact moment usage reaches the
    limit (a leak), or when a new request would push it over (a burst). With
    ``limit_mib`` infinite (a container without ``memory.max``, Docker's
    default) it never fires: only the host's memory bounds it (:class:`HostMemory`).
    """

    def __init__(self, env: simpy.Environment, limit_mib: float, resident_mib: float,
                 growth_mib_s: float, per_request_mib: float, on_oom) -> None:
        self.env = env
        self.limit = limit_mib
        self.resident = resident_mib
        self.growth = growth_mib_s
        self.per_request = per_request_mib
        self.on_oom = on_oom
        self.start_s = env.now
        self.in_flight = 0
        self.killed = False
        self._gen = 0
        # Checked at once, but from an event of its own: a guest whose memory is over
        # its limit from the start is OOM-killed at time now, after the process that
        # started it (and made this watch) has yielded; it cannot interrupt itself.
        env.timeout(0).callbacks.append(lambda _ev: self._check())

    def usage(self) -> float:
        return self.resident + self.growth * (self.env.now - self.start_s) + self.per_request * self.in_flight

    def change(self, d_requests: int) -> None:
        """``d_requests`` more (or fewer) requests in flight."""
        self.in_flight += d_requests
        self._check()

    def _check(self) -> None:
        if self.killed:
            return
        u = self.usage()
        tol = 1e-9 * max(1.0, self.limit)
        if u > self.limit + tol or (self.growth > 0 and u >= self.limit - tol):
            self.killed = True
            self.on_oom(u)
            return
        if self.growth > 0 and self.limit < math.inf:
            self._gen += 1
            gen = self._gen
            t = self.env.timeout((self.limit - u) / self.growth)
            # ``and`` as a conditional call (the callback's value is unused): mypy
            # objects to using the value of a function that returns None.
            t.callbacks.append(lambda _ev, gen=gen: gen == self._gen and self._check())  # type: ignore[func-returns-value, misc]

    def stop(self) -> None:
        self.killed = True
        self._gen += 1


class HostMemory:
    """One host's physical memory, which every container on it draws from.

    A container without a memory limit (Docker's default: no ``--memory``)
    takes host memory as its processes touch it. Nothing fences one container
    from another here: when what the guests hold reaches the host's memory, the
    host kernel's OOM killer ends the process with the highest *badness*,
    which is about its resident memory (Linux's ``oom_badness``: resident
    pages, swap and page tables), over the whole host. That is the biggest
    process, not the one that grew: a small container leaking memory can get a
    large, well-behaved neighbour killed. A VM holds its RAM on the host (a
    leak inside it fills only its own RAM, where its own kernel's OOM killer
    acts); a container with ``memory.max`` is stopped by its own cgroup first.

    ``watches`` are the containers' :class:`MemoryWatch` objects (their usage
    over time), ``fixed_mib()`` what the rest of the host holds now (its
    footprint, the VMs' RAM, every guest's monitor or shim), and
    ``candidates()`` every guest with its badness (MiB). :meth:`check` finds
    the moment the host runs out (usage grows linearly between changes, so the
    moment is exact), and calls ``on_kill(key, badness_mib, held_mib)`` for
    the OOM killer's choice; the caller ends that guest and removes it.
    Call :meth:`check` again whenever a guest starts, stops or changes its
    requests in flight.
    """

    def __init__(self, env: simpy.Environment, capacity_mib: float, fixed_mib, candidates, on_kill) -> None:
        self.env = env
        self.capacity = capacity_mib
        self.fixed_mib = fixed_mib
        self.candidates = candidates
        self.on_kill = on_kill
        self.watches: dict[int, MemoryWatch] = {}
        self._gen = 0

    def held(self) -> float:
        """MiB held on the host now: the fixed part and every watched container's usage."""
        return self.fixed_mib() + sum(w.usage() for w in self.watches.values())

    def check(self) -> None:
        tol = 1e-9 * max(1.0, self.capacity)
        for _ in range(len(self.watches) + 64):  # each kill frees memory; a bounded loop
            held = self.held()
            if held < self.capacity - tol:
                break
            cands = self.candidates()
            if not cands:
                break
            badness, key = max(cands, key=lambda c: (c[0], -c[1]))  # the largest; the oldest among equals
            self.on_kill(key, badness, held)
        growth = sum(w.growth for w in self.watches.values() if not w.killed)
        self._gen += 1
        room = self.capacity - self.held()
        if growth > 0 and room > tol:  # (full with nothing left to kill: nothing to wait for)
            gen = self._gen
            t = self.env.timeout(room / growth)
            t.callbacks.append(lambda _ev, gen=gen: gen == self._gen and self.check())  # type: ignore[func-returns-value, misc]
