"""A guest's life, as one SimPy process.

::

    requested -> placed (or rejected) -> provisioning -> booting -> running -> stopping -> stopped
                                         (or failed, at any point after placement)

:meth:`Lifecycle.lifecycle` is the whole story in one screen: the mechanisms
may refuse the guest (``request``), placement finds it a host (or a mechanism
finds room: ``no_room``), then its clone, start and stop sequences run on the
host's shared resources (:mod:`vsim.model.phases`), with its lifetime in
between. Mechanisms hear of it becoming ready and stopping; a failure (an
interrupt) ends it ``failed`` with the reason. A cold migration runs inside
the guest's own life (a :class:`Relocation`) and uses the same sequences.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import simpy
from simpy.events import NORMAL, EventPriority

from vsim.engine.fairshare import _Timer
from vsim.model.guest import Guest
from vsim.model.host import Host
from vsim.model.phases import Phases
from vsim.model.placement import Refusal
from vsim.model.units import MB_PER_MIB, MIB_PER_GIB

__all__ = ["Lifecycle", "Relocation"]


class Relocation:
    """Interrupt cause: a running guest should run ``steps(g)`` and carry on."""

    def __init__(self, steps) -> None:
        self.steps = steps

    def __str__(self) -> str:
        return "relocation"


class Lifecycle(Phases):
    """The life of every guest (mixed into :class:`~vsim.model.world.World`)."""

    hosts: list[Host]
    on_request: list[Any]
    on_no_room: list[Any]
    on_ready: list[Any]
    on_stop: list[Any]

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

    # Complexity 16 (ruff's limit is 15): the clone, start and stop sequences
    # are written out on purpose (see the docstring), one branch each.
    def lifecycle(self, g: Guest):  # noqa: C901
        """requested -> placed -> provisioning -> booting -> running -> stopping -> stopped.

        A guest can be interrupted at any point after placement (its host fails,
        it is killed for exceeding its memory limit): it then ends ``failed``
        with the reason, and its reservations are returned.

        Each sequence (clone, start, stop) runs as one solo run while nothing
        can slow it down, else step by step: ``_solo_wait`` decides (see
        vsim.model.phases; ``World.solo_runs = False`` shows every step).
        ``run_sequence`` says the same in one call; its four lines are written
        out here on purpose: a sub-generator per sequence costs ~2% of a
        datacenter day.
        """
        env = self.env
        own = self.own_disk_mb(g)
        why = self.refusal(g)
        if why is None:
            i, got = self.placer.place(g, own)
            if isinstance(got, Refusal) and self.on_no_room:
                i, got = yield from self._wait_for_room(g, own, got)
            if isinstance(got, Refusal):
                why = got
        if why is not None:
            g.state = "rejected"
            g.reason = why.message
            g.refused_by = why.resource
            return
        assert i is not None and not isinstance(got, Refusal)  # placed: (host index, disk reserved)
        host = self._take(g, i, got, own)
        try:
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
            resident(g, host)
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
                    yield env.event() if end == math.inf else wake_after(env, end - env._now)
                    break
                except simpy.Interrupt as intr:
                    if not isinstance(intr.cause, Relocation):
                        raise
                    t0 = env._now
                    yield from intr.cause.steps(g)
                    end += env._now - t0
            assert g.host is not None
            host = g.host  # a migration may have moved it
            g.stop_s = env.now
            g.state = "stopping"
            gone(g)
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
            gone(g)
            if g.job is not None:
                g.job[0].cancel(g.job[1])
            for hook in self.on_stop:
                hook(g)
        finally:
            g.job = None
        self._give_back(g)

    # -- the steps the lifecycle takes, each in one place -------------------------------
    def refusal(self, g: Guest) -> Refusal | None:
        """Why a mechanism refuses ``g`` before placement (None if none does)."""
        for check in self.on_request:
            why = check(g)
            if why is not None:
                return why
        return None

    def _wait_for_room(self, g: Guest, own: float, why: Refusal):
        """No host has room: wait for what a mechanism offers (a host powering
        on) and try again, while one offers something. Returns what the last
        placement returned."""
        while True:
            wait = next((ev for ev in (hook(g) for hook in self.on_no_room) if ev is not None), None)
            if wait is None:
                return None, why
            yield wait
            i, got = self.placer.place(g, own)
            if not isinstance(got, Refusal):
                return i, got
            why = got

    def _take(self, g: Guest, i: int, got: float, own: float) -> Host:
        """Placed on host ``i``: note it on the guest and the host (``got``: the
        disk reserved, ``own`` plus the image data the host lacked)."""
        host = self.hosts[i]
        g.host = host
        g.disk_mb = own
        g.placed_s = self.env.now
        host.guests_placed += 1
        host.guests_now += 1
        if host.guests_now > host.peak_guests:
            host.peak_guests = host.guests_now
        used = host.memory_capacity_mib - self.placer.mem_free_on(i)
        if used > host.peak_memory_mib:
            host.peak_memory_mib = used
        host.cache_mb += got - own
        return host

    def _give_back(self, g: Guest) -> None:
        """Its life is over: give its reservations back."""
        g.stopped_s = self.env.now
        host = g.host
        assert host is not None  # only a placed guest has a life to end
        self.placer.release(host.index, g, g.disk_mb)
        host.guests_now -= 1
        g.process = None  # let the process and its frames go

    def notify_ready(self, g: Guest) -> None:
        """Tell the mechanisms ``g`` runs (it finished booting)."""
        for hook in self.on_ready:
            hook(g)

    def notify_stop(self, g: Guest) -> None:
        """Tell the mechanisms ``g`` starts stopping (or failed)."""
        for hook in self.on_stop:
            hook(g)


#: Arrivals happen after everything else of their instant: after every normal
#: event and after a control-plane server's same-instant admissions (priority
#: LATE, vsim.engine.server). So a guest that arrives at the very instant another
#: one's stop ends finds its room free, whichever way the stop ran (one solo
#: event scheduled at its start, or step by step): the order of simultaneous
#: events does not depend on when they were scheduled.
ARRIVAL = EventPriority(NORMAL + 2)


def wake_after(env: simpy.Environment, delay: float, priority: int = NORMAL) -> _Timer:
    """What ``env.timeout(delay)`` does for a process that only waits (no
    value, never shared): a bare entry in SimPy's event queue at ``now +
    delay`` (normal priority unless given), without building a Timeout. Every
    guest waits twice (its arrival, at :data:`ARRIVAL` priority, and its
    lifetime); like vsim.engine.fairshare, this relies on SimPy 4's queue
    (``simpy>=4.1,<5`` is pinned)."""
    w = _Timer()
    w.callbacks = []
    queue: list[tuple[float, int, int, Any]] = env._queue  # type: ignore[assignment]  # a Timer in SimPy's queue of Events
    heapq.heappush(queue, (env._now + delay, priority, next(env._eid), w))
    return w


def resident(g: Guest, host: Host) -> None:
    """``g`` runs on ``host`` now: count it among its platform's resident guests
    there (what a control-plane cost per running guest counts)."""
    pl = host.platforms[g.platform]
    pl.running += 1
    g.resident_on = pl
    if pl.idle_cores:
        host.idle_change(pl.idle_cores)


def gone(g: Guest) -> None:
    """``g`` stopped running (it stops, fails or is shut down to move)."""
    pl = g.resident_on
    if pl is not None:
        pl.running -= 1
        g.resident_on = None
        if pl.idle_cores and pl.host is not None:
            pl.host.idle_change(-pl.idle_cores)
