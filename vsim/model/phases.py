"""How a sequence of phases runs: as one solo run, or step by step.

A guest's clone, start and stop are *sequences of phases*; each phase is CPU
work, disk time, network transfer and a fixed latency, run one after another
on its host's fair-share resources (:func:`phase_steps`). While every step is
sure to get its full rate (a free core slot, no overlapping use of the disk or
link), the whole sequence has a known timeline and runs as *one* SimPy event
(:mod:`vsim.engine.solo`); the moment anything could slow it down it is handed
over to ordinary fair-share jobs, and the results are the same either way (up
to rounding in the last digits). Whether a sequence runs solo or step by step
is decided in one place, :meth:`Phases._solo_wait`; :meth:`Phases.run_sequence`
is the one call for it. ``World.solo_runs = False`` (or
``vsim.simulate(scenario, solo_runs=False)``) runs every step as its own job:
the plain model, slower, with every step visible.

Provisioning gets a guest its disk: a VM's image is cloned (a *full* clone
copies every byte, a *linked* clone writes a small copy-on-write overlay); a
container pulls only the image layers the host lacks from the registry, then
unpacks them (:meth:`Phases.provision`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import simpy

from vsim.engine.fairshare import FairShare
from vsim.engine.phaselog import PhaseLog
from vsim.engine.server import Server
from vsim.engine.solo import SoloRun, SoloSpec
from vsim.model.guest import Guest
from vsim.model.host import Host, Rate
from vsim.model.units import EXTRACT_CPU_S_PER_MB
from vsim.spec.profile import Phase, Profile

if TYPE_CHECKING:
    from vsim.model.placement import Placer

__all__ = ["Phases", "phase_steps", "clone_step"]


class Phases:
    """The phases of a guest's clone, start and stop, on its host (mixed
    into :class:`~vsim.model.world.World`)."""

    env: simpy.Environment
    placer: Placer
    phase_log: PhaseLog
    registries: dict[str, tuple[FairShare, float]]
    default_registry: str | None
    solo_runs: bool
    _solo_specs: dict[tuple, SoloSpec]
    _shared_reads: dict[str, tuple[tuple[int, str, float], ...]]
    _resume_solo: Callable[[Guest, SoloSpec, int], SoloRun | None]

    def _solo_wait(self, g: Guest, host: Host, what: str) -> simpy.Event | None:
        """Start the guest's ``what`` phases ("clone", "start" or "stop") as one
        solo run, and return the event to wait for; None if they must begin
        step by step (then :meth:`_phases`). A plain call, not a generator: the
        common case costs the lifecycle one ``yield``."""
        if what == "start":
            self._plan_reads(g, host)
        run = self._solo(g, host, what) if self.solo_runs else None
        if run is None:
            return None
        g.job = (run, None)
        return run.done

    def _plan_reads(self, g: Guest, host: Host) -> None:
        """Look up, as the guest's boot begins, which of its start phases'
        reads the host's page cache holds (those go at memory speed) and which
        it must read (from disk, or by waiting for another guest's read of the
        same data in flight: :meth:`_read_through`). Only shared data is cached:
        the base image under a linked clone, a container image's layers; a
        full clone reads its own copy. Deciding once, at the boot's start, lets
        a boot whose reads all hit run solo."""
        g.cache_hits = g.cache_misses = 0
        pc = host.page_cache
        im = g.image
        if pc is None or im is None or g.clone == "full":
            return
        profile = g.profile
        reads = self._shared_reads.get(profile.name)
        if reads is None:
            reads = self._shared_reads[profile.name] = tuple(
                (k, ph.name, ph.disk_read_mb) for k, ph in enumerate(profile.start_phases) if ph.disk_read_mb)
        for k, name, mb in reads:
            if pc.lookup((im.name, name), mb):
                g.cache_hits |= 1 << k
            else:
                g.cache_misses |= 1 << k

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

    def _phases(self, g: Guest, host: Host, what: str):
        """Run the guest's ``what`` phases step by step ("clone": its disk, see
        provision; "start" or "stop"), going solo from the first later phase
        its host has room for (the first phase was just refused by _solo_wait).

        Phases through a control-plane server go as a segment: the guest
        queues for a worker, then the server's consecutive phases run (solo if
        nothing can slow them down: holding a worker does not change a rate),
        and the worker is given back when the segment ends."""
        if what == "clone":
            yield from self.provision(g, host)
            return
        phases = g.profile.start_phases if what == "start" else g.profile.stop_phases
        scale = g.scale if what == "start" else 1.0
        n = len(phases)
        k = 0
        try:
            while k < n:
                ph = phases[k]
                if ph.server is not None:
                    end = k + 1
                    while end < n and phases[end].server == ph.server:
                        end += 1
                    held = g.held
                    if held is None or held[0] is not host.servers[ph.server]:
                        let_go(g)
                        yield from self._take_server(g, host, ph.server)
                    solo = self._solo(g, host, what, k, end) if self.solo_runs else None
                    if solo is not None:
                        g.job = (solo, None)
                        yield solo.done
                        g.job = None
                    else:
                        for q in range(k, end):
                            yield from self.run_phase(g, host, phases[q], scale, q if what == "start" else -1)
                    let_go(g)
                    k = end
                    continue
                solo = self._solo(g, host, what, k) if k and self.solo_runs else None
                if solo is not None:
                    let_go(g)
                    g.job = (solo, None)
                    yield solo.done
                    g.job = None
                    return
                yield from self.run_phase(g, host, ph, scale, k if what == "start" else -1)
                k += 1
        finally:
            let_go(g)  # if the guest failed: the worker it held or queued for

    def _solo(self, g: Guest, host: Host, what: str, first: int = 0, last: int | None = None) -> SoloRun | None:
        """Start ``what`` ("clone", "start" or "stop" phases, from ``first``,
        up to ``last`` if given: a segment through one server) of ``g`` as a
        solo run, or return None if it must run step by step (some step might
        not get its full rate, the CPU is shared by weight, a phase queues at
        a server, or a clone's image is not on the host yet)."""
        profile = g.profile
        if what == "clone":
            im = g.image
            if im is None or im.kind != "vm-disk" or im.name not in host.cache:
                return None  # nothing to clone, layers to pull, or an image to fetch first
            key: tuple = (host.group, what, profile.name, first, im.name, g.clone)
        elif what == "start":
            hits = g.cache_hits
            if hits or g.cache_misses:  # (most boots read nothing shared: no page cache to ask)
                span = ((1 << len(profile.start_phases)) - 1 if last is None else (1 << last) - 1) >> first << first
                if g.cache_misses & span:
                    return None  # a read to make from disk (or to share): step by step
                hits &= span
            key = (host.group, what, profile.name, first, last, g.scale_level, hits)
        else:
            key = (host.group, what, profile.name, first, last, -1, 0)
        spec = self._solo_specs.get(key)
        if spec is None:
            spec = self._solo_specs[key] = self._solo_spec(host, profile, what, g, first, last)
        if not spec.eligible:
            return None
        # an eligible spec names only plain FairShare resources (SoloSpec.eligible)
        run = SoloRun.begin(self.env, spec, cast("tuple[FairShare, ...]", host.rates), self.phase_log, g.id)
        if run is not None and what != "clone" and last is None and len(spec.spans) > 1:
            # (a segment handed over to ordinary jobs finishes step by step)
            run.resume = self._resume_solo
            run.guest = g
        return run

    def _solo_from(self, g: Guest, spec: SoloSpec, k: int) -> SoloRun | None:
        """A solo run of ``spec``'s sequence from its phase ``k`` (for a run that
        was handed over to ordinary jobs and reached a phase boundary)."""
        assert g.host is not None  # a run in progress is on a host
        return self._solo(g, g.host, spec.what, spec.first + k)

    def _solo_spec(self, host: Host, profile: Profile, what: str, g: Guest, first: int = 0,
                   last: int | None = None) -> SoloSpec:
        """The steps of ``what`` (phases ``first`` to ``last``) on a host like ``host``,
        as run_phase and provision take them (resources by index into
        ``host.rates``: 0 CPU, 1 disk, 2 network)."""
        through_server = False
        if what == "clone":
            name, disk_s = clone_step(g, host)
            phases: list[tuple[str, list[tuple[int | None, float]]]] = [(name, [(1, disk_s)])]
        else:
            todo = (profile.start_phases if what == "start" else profile.stop_phases)[first:last]
            scale = g.scale if what == "start" else 1.0  # every guest of one level has the same
            hits = g.cache_hits >> first if what == "start" else 0
            phases = [(ph.name, phase_steps(host, ph, scale, bool(hits >> q & 1))) for q, ph in enumerate(todo)]
            # a segment through one server runs once the worker is held; any
            # other span that reaches a server phase would have to queue there
            through_server = last is None and any(ph.server is not None for ph in todo)
        spec = SoloSpec(phases, host.rates, what, first)
        if through_server:
            # A control-plane server's queue is not a fair share: its wait is
            # not known in advance, so a span that queues runs step by step.
            spec.eligible = False
        return spec

    def _wait(self, g: Guest, resource: Rate, work: float):
        """Run ``work`` on a shared resource on the guest's behalf."""
        ev = resource.use(work)
        g.job = (resource, ev)
        yield ev
        g.job = None

    def run_phase(self, g: Guest, host: Host, ph: Phase, scale: float = 1.0, k: int = -1):
        """One start/stop phase, step by step (see phase_steps); ``scale`` is
        the guest's multiple of the calibrated work (vsim.model.variability);
        ``k`` is its index among the start phases (-1: not a start phase),
        which says whether the page cache holds its reads (:meth:`_plan_reads`).
        A phase through a control-plane server runs inside its segment, which
        :meth:`_phases` opens (queue, take a worker) and closes (give it back)."""
        env = self.env
        t0 = env.now
        miss = k >= 0 and g.cache_misses >> k & 1
        for r, work in phase_steps(host, ph, scale, k >= 0 and bool(g.cache_hits >> k & 1)):
            if r is None:
                yield env.timeout(work)
            elif r == 1 and miss:
                yield from self._read_through(g, host, ph, scale)
            else:
                yield from self._wait(g, host.rates[r], work)
        self.phase_log.add(g.id, ph.name, t0, env.now)

    def _read_through(self, g: Guest, host: Host, ph: Phase, scale: float):
        """A phase's disk step whose shared reads were not in the page cache
        when the boot began: if another guest is reading the same data, wait
        for that read (concurrent readers share it); if it has been read
        meanwhile, take it from memory; else read it from disk and keep it in
        the cache for those who come next; then the phase's own writes. The
        read is the data's, the same for whoever makes it (not scaled by the
        guest's draw), so guests that share it come out the same whichever of
        them read it. A reader that fails hands the read to the next in line."""
        env = self.env
        pc = host.page_cache
        assert pc is not None and g.image is not None  # (a planned miss)
        key = (g.image.name, ph.name)
        mb = ph.disk_read_mb
        writes = host.disk_seconds(0.0, ph.disk_write_mb, ph.io_kib) * scale
        while True:
            ev = pc.reading.get(key)
            if ev is None:
                if pc.lookup(key, mb):
                    break  # read by someone meanwhile: from memory
                mine = pc.reading[key] = env.event()
                pc.read(key, mb)
                done = False
                try:
                    yield from self._wait(g, host.disk, host.disk_seconds(mb, 0.0, ph.io_kib))
                    done = True
                finally:
                    del pc.reading[key]
                    if done:
                        pc.insert(key, mb)
                    mine.succeed(done)
                break
            if (yield ev):
                pc.share(mb)
                break
        if writes:
            yield from self._wait(g, host.disk, writes)

    def _take_server(self, g: Guest, host: Host, name: str):
        """Queue for a worker of the host's server ``name`` and hold it; then
        hold it for the server's cost per running guest, if it has one."""
        env = self.env
        server = host.servers[name]
        t0 = env.now
        req = server.acquire(key=g.id)  # same-instant arrivals by guest id (see Server.acquire)
        g.held = (server, req)
        yield req
        if env.now > t0:
            self.phase_log.add(g.id, f"queue:{name}", t0, env.now)
        per_running = g.profile.server_cost(name)
        if per_running:
            running = sum(host.platforms[p].running for p in host.server_platforms[name])
            if running:
                t1 = env.now
                yield env.timeout(per_running * running)
                self.phase_log.add(g.id, f"running-cost:{name}", t1, env.now)

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
            name, disk_s = clone_step(g, host)
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
        disk space twice) and downloaded by a process of its own; if the guest
        fails, the pull still completes for the others waiting on it. The
        guest then waits for every item.

        The bytes cross the registry's link *and* the host's network
        interface (both fair-shared) while they are written to the host's
        disk. If the guest's platform has a control-plane server named
        ``downloads`` (dockerd's ``--max-concurrent-downloads``, 3 by
        default), each item's download holds one of its workers, so a host
        downloads that many layers at once, and layers are unpacked one after
        another in image order as they arrive; without one, items are
        downloaded one after another.
        """
        env = self.env
        mine = [it for it in items if it[0] not in host.cache and it[0] not in host.pulling]
        if mine:
            for key, transfer_mb, _ in mine:
                host.pulling[key] = env.event()
                g.pulled_mb += transfer_mb
            self.placer.touch(host.index)  # its disk need for these items is now zero
            server = host.servers["downloads"] if g.profile.has_server("downloads") else None
            env.process(self._download(host, mine, registry, extract, server))
        waits = [host.pulling[key] for key, _, _ in items if key in host.pulling]
        if waits:
            yield env.all_of(waits)

    def _download(self, host: Host, items: list[tuple[str, float, float]], registry: str | None,
                  extract: bool, server: Server | None):
        name = registry or self.default_registry
        assert name is not None  # the scenario's check: an image that is pulled names a registry
        link, latency = self.registries[name]
        env = self.env
        fetched = ([env.process(self._transfer(host, link, latency, it, server)) for it in items]
                   if server is not None else None)
        for k, (key, _, disk_mb) in enumerate(items):
            if fetched is None:
                yield from self._transfer(host, link, latency, items[k], None)
            else:
                yield fetched[k]  # unpacked in image order, each once it is here
            if extract:
                yield host.cpu.use(EXTRACT_CPU_S_PER_MB * disk_mb)
            host.cache.add(key)
            host.pulling.pop(key).succeed()

    def _transfer(self, host: Host, link: FairShare, latency: float, item: tuple[str, float, float],
                  server: Server | None):
        """One item over the registry link and the host NIC, streamed to disk
        (holding a worker of ``server``, if given, meanwhile)."""
        env = self.env
        _, transfer_mb, disk_mb = item
        req = None
        if server is not None:
            req = server.acquire()
            yield req
        if latency:
            yield env.timeout(latency)
        yield env.all_of([link.use(transfer_mb), host.nic.use(transfer_mb),
                          host.disk.use(host.disk_seconds(write_mb=disk_mb))])
        if server is not None and req is not None:
            server.release(req)


def phase_steps(host: Host, ph: Phase, scale: float = 1.0, cached: bool = False) -> list[tuple[int | None, float]]:
    """A start/stop phase as the steps it runs, in order: CPU work, then disk
    time, then network transfer (each as ``(index into host.rates, work)``),
    then fixed latency ``(None, seconds)``; steps of zero are left out.
    ``scale`` multiplies every step (a guest's draw, vsim.model.variability);
    ``cached``: its reads come from the page cache (only its writes use the disk)."""
    if scale != 1.0:
        return [(k, w * scale) for k, w in phase_steps(host, ph, 1.0, cached)]
    steps: list[tuple[int | None, float]] = []
    if ph.cpu_s:
        steps.append((0, ph.cpu_s))
    reads = 0.0 if cached else ph.disk_read_mb
    if reads or ph.disk_write_mb:
        steps.append((1, host.disk_seconds(reads, ph.disk_write_mb, ph.io_kib)))
    if ph.net_mb:
        steps.append((2, ph.net_mb))
    if ph.latency_s:
        steps.append((None, ph.latency_s))
    return steps


def clone_step(g: Guest, host: Host) -> tuple[str, float]:
    """A VM's clone of its (cached) image on ``host``: the phase name and its
    disk time (a full copy reads and writes the image; a linked clone writes
    only its overlay)."""
    im = g.image
    assert im is not None  # only guests with an image are cloned
    if g.clone == "full":
        return "clone-full", host.disk_seconds(read_mb=im.disk_mb, write_mb=im.disk_mb)
    return "clone-linked", host.disk_seconds(write_mb=g.profile.linked_clone_overlay_mb.value)


def let_go(g: Guest) -> None:
    """Give back the control-plane worker ``g`` holds or queues for, if any."""
    held = g.held
    if held is not None:
        g.held = None
        held[0].release(held[1])
