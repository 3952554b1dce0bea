"""The world: hosts, platforms and guests as a SimPy model.

This module turns a validated :class:`~vsim.spec.scenario.Scenario` into a running
discrete-event model.

* A :class:`Host` is a physical server. Its CPU, disk and network interface are
  :class:`~vsim.engine.fairshare.FairShare` resources: whatever runs at the same time
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
  run as one event (:mod:`vsim.engine.solo`), handed over to ordinary fair-share jobs
  the moment anything could slow them down: same results, far fewer events.

Everything that happens is kept on the guests and hosts as plain numbers, and
phases in the world's phase log (:mod:`vsim.engine.phaselog`), and turned into tables
once, at the end, by :mod:`vsim.results.tables`.
"""

from __future__ import annotations

import gc
import heapq
import math
import re
import time
from collections.abc import Iterable
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import simpy
from simpy.events import NORMAL

from vsim.engine.fairshare import FairShare, _Timer
from vsim.engine.phaselog import PhaseLog
from vsim.engine.solo import SoloRun, SoloSpec
from vsim.model.guest import Guest
from vsim.model.host import Host
from vsim.model.mechanism import Mechanism, dispatch
from vsim.model.placement import Placer
from vsim.model.units import EXTRACT_CPU_S_PER_MB, GBIT_TO_MB_S, MB_PER_MIB, MIB_PER_GIB
from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Phase, Profile
from vsim.spec.scenario import (
    BatchArrivals,
    ExponentialLifetime,
    FixedLifetime,
    HostGroup,
    Image,
    PoissonArrivals,
    Scenario,
    Workload,
)

M = TypeVar("M", bound=Mechanism)

__all__ = ["World", "Host", "Guest", "EXTRACT_CPU_S_PER_MB", "GBIT_TO_MB_S"]


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
    """A scenario made runnable, with the mechanisms it is given.

    ``World(scenario, seed, mechanisms).run()`` runs it;
    :func:`vsim.simulate` builds one with the scenario's own mechanisms
    (:func:`vsim.mechanisms.for_scenario`), runs it and returns its Results.
    """

    # Run a guest's clone, start or stop phases in one event while nothing can
    # slow them down (vsim.engine.solo). False: every step is a separate fair-share
    # job. Results are the same either way, up to rounding in the last digits.
    solo_runs = True

    def __init__(self, scenario: Scenario, seed: int | None = None,
                 mechanisms: Iterable[Mechanism] = ()) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self._solo_specs: dict[tuple, SoloSpec] = {}  # (host group, what, profile, ...) -> steps (vsim.engine.solo)
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
        self.placer = Placer(self.hosts, scenario.placement)
        self.guests: list[Guest] = []  # guest id = index here
        self.phase_log = PhaseLog()  # every guest's phases (the phases table)
        # Flat records of the mechanisms: table name -> list of tuples, in the
        # column order documented in vsim.COLUMNS[name].
        self.records: dict[str, list[tuple]] = {}
        self.wall_s = 0.0
        self.events = 0
        self._rngs = _seeds(self.seed, len(scenario.workloads))
        for w, rng in zip(scenario.workloads, self._rngs, strict=False):
            self.env.process(self.arrivals(w, rng))
        # The mechanisms (vsim.model.mechanism), called in this order at each
        # moment they watch; the lists hold only the methods they override.
        self.mechanisms: list[Mechanism] = list(mechanisms)
        for m in self.mechanisms:
            if not isinstance(m, Mechanism):
                raise ScenarioError(f"mechanisms: expected Mechanism objects (vsim.model.mechanism), "
                                    f"got {type(m).__name__}")
        self.on_request = dispatch(self.mechanisms, "request")
        self.on_no_room = dispatch(self.mechanisms, "no_room")
        self.on_ready = dispatch(self.mechanisms, "ready")
        self.on_move = dispatch(self.mechanisms, "move")
        self.on_stop = dispatch(self.mechanisms, "stop")
        self.on_host_state = dispatch(self.mechanisms, "host_state")
        self.on_end = dispatch(self.mechanisms, "end")
        for m in self.mechanisms:
            if not isinstance(m, Mechanism):
                raise TypeError(f"mechanisms: expected Mechanism objects, got {type(m).__name__}")
            for name in m.tables:
                self.records.setdefault(name, [])
            m.attach(self)

    def mechanism(self, kind: type[M]) -> M | None:
        """The attached mechanism of type ``kind`` (or a subclass), if any."""
        for m in self.mechanisms:
            if isinstance(m, kind):
                return m
        return None

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

    # -- operations on running guests (vsim.mechanisms.migration, vsim.mechanisms.faults, vsim.mechanisms.energy) --
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
        if g.moves is None:
            g.moves = []
        g.moves.append((self.env.now, src.index, target.index))
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

    # -- solo runs (vsim.engine.solo): a sequence of phases in one event while nothing slows it --
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

    def run_sequence(self, g: Guest, host: Host, what: str):
        """Run the guest's ``what`` phases ("clone", "start" or "stop") on
        ``host``: as one solo run when nothing can slow them down, else step
        by step. The lifecycle writes these lines out (a sub-generator per
        sequence costs ~2% of a datacenter day); everything else calls this."""
        ev = self._solo_wait(g, host, what)
        if ev is None:
            yield from self._phases(g, host, what)
        else:
            yield ev
            g.job = None

    def notify_ready(self, g: Guest) -> None:
        """Tell the mechanisms ``g`` runs (it finished booting)."""
        for hook in self.on_ready:
            hook(g)

    def notify_stop(self, g: Guest) -> None:
        """Tell the mechanisms ``g`` starts stopping (or failed)."""
        for hook in self.on_stop:
            hook(g)

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
        """Run the model until ``until`` (default: the scenario's ``duration_s``,
        or until nothing is left to happen). The tables are made from the
        world afterwards: ``vsim.results.Results.from_world(world)``."""
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
    (its arrival and its lifetime); like vsim.engine.fairshare, this relies on
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
