"""Power, energy and consolidation.

A server's power draw grows roughly linearly with how busy it is, from an
*idle* power that is already a large part of the total (about a third to a
half) to its *full-load* power::

    P(t) = idle_w + (max_w - idle_w) * u(t)        while the host is on
    P(t) = off_w                                   while it is off (standby)
    P(t) = 0                                       while it has failed (unplugged for repair)

and the energy of a run is the integral of ``P`` over time, in joules
(1 kWh = 3.6 MJ). Here the **utilisation** ``u(t)`` of a host is the share of
its physical cores that its guests hold::

    u(t) = min(1, vCPUs of the guests placed on the host at t / physical cores)

i.e. a placed guest is assumed to keep its vCPUs busy (an allocation-based
model, as consolidation planners size hosts by reservations). Boot, stop and
conversion work on the host's shared CPU is not added on top. A host that is
powering on draws its idle power.

Because idle power is so large, an idle host wastes energy: **consolidation**
moves the guests of lightly used hosts onto the others (live migration, which
costs network traffic and a short downtime per guest) and powers the emptied
hosts off. When guests later find no room, a host is powered on again, and
they wait for it (``power.power_on_s``): that wait shows up in their startup
time. The ``energy`` table has one row per host; the ``migrations`` table shows
what consolidation cost (``cause == "consolidation"``); ``host_states`` lists
every power-state change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vsim.mechanisms.migration import Migrations, live_migrate, release, reserve
from vsim.model.mechanism import Mechanism

if TYPE_CHECKING:
    from vsim.model.guest import Guest
    from vsim.model.host import Host

__all__ = ["COLUMNS", "Energy", "Consolidator", "J_PER_KWH"]

#: The tables this module records: table -> column -> (type and unit, meaning).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "energy": {
        "host": ("str", "host name"),
        "group": ("str", "host group"),
        "idle_w": ("float, W", "power when on and idle (hosts[].power.idle_w)"),
        "max_w": ("float, W", "power at full utilisation"),
        "on_s": ("float, s", "time powered (on, powering on or draining)"),
        "off_s": ("float, s", "time powered off (drawing power.off_w)"),
        "down_s": ("float, s", "time failed, awaiting repair (drawing nothing)"),
        "power_ons": ("int", "times it was powered on"),
        "mean_util": ("float, 0-1", "mean utilisation over the run: min(1, vCPUs of guests placed on it / cores)"),
        "energy_j": ("float, J", "idle_w x on_s + (max_w - idle_w) x integral of utilisation + off_w x off_s"),
        "energy_kwh": ("float, kWh", "energy_j / 3.6e6"),
        "mean_power_w": ("float, W", "energy_j / length of the run"),
    },
    "host_states": {
        "host": ("str", "host name"),
        "time_s": ("float, s", "time of the change"),
        "old": ("str", "state before: on, booting, draining, off, failed"),
        "new": ("str", "state after"),
    },
}

J_PER_KWH = 3.6e6
POWERED = ("on", "booting", "draining")
TERMINAL = ("stopped", "rejected", "failed")


class Energy(Mechanism):
    """Logs each host's power state and integrates its power at the end of the run."""

    tables = ("host_states", "energy")

    def attach(self, world) -> None:
        self.world = world
        groups = {g.name: g for g in world.scenario.hosts}
        self.power = [groups[h.group].power for h in world.hosts]
        self.log: list[list[tuple[float, str]]] = [[(0.0, h.state)] for h in world.hosts]

    def host_state(self, host, old: str, new: str) -> None:
        now = self.world.env.now
        self.log[host.index].append((now, new))
        self.world.records["host_states"].append((host.name, now, old, new))

    def utilisation_integrals(self, now: float) -> list[float]:
        """Per host, the integral of u(t) dt from 0 to ``now`` (seconds).

        Every placed guest adds its vCPUs to its host's load while it is there
        (from placement, or a move, to its stop, a move, or ``now``). The load
        changes are sorted per host (time, then releases before takes) and
        u = min(1, load / cores) is integrated between them, for all hosts at
        once with numpy.
        """
        world = self.world
        placed = [g for g in world.guests if g.host is not None and g.placed_s == g.placed_s]  # not NaN
        # One stay per guest that never moved: (host, from, to, vCPUs) ...
        # (ignore: every guest in ``placed`` has a host; mypy does not carry that filter here)
        stays = [(g.host.index, g.placed_s, now if g.stopped_s != g.stopped_s else g.stopped_s, g.vcpus)  # type: ignore[union-attr]
                 for g in placed if not g.moves]
        for g in placed:  # ... and one per host a moved guest was on
            moves = g.moves
            if not moves:
                continue
            cur, since = moves[0][1], g.placed_s
            for tm, _src, dst in moves:
                stays.append((cur, since, tm, g.vcpus))
                cur, since = dst, tm
            stays.append((cur, since, now if g.stopped_s != g.stopped_s else g.stopped_s, g.vcpus))
        n = len(world.hosts)
        if not stays:
            return [0.0] * n
        sh, s0, s1, sv = (np.array(c) for c in zip(*stays, strict=True))
        # Each stay adds its vCPUs to its host's load at its start and takes them off at its end.
        h = np.repeat(sh.astype(np.int64), 2)
        t = np.column_stack((s0, s1)).astype(float).ravel()
        dv = np.column_stack((sv, -sv)).astype(float).ravel()
        order = np.lexsort((dv, t, h))
        h, t, dv = h[order], t[order], dv[order]
        load = np.cumsum(dv)  # running load over all hosts, one after another
        first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])  # each host's first event
        load -= np.repeat(np.r_[0.0, load[first[1:] - 1]], np.diff(np.r_[first, len(h)]))
        cores = np.array([hst.cores for hst in world.hosts], dtype=float)
        u = np.minimum(1.0, np.maximum(load[:-1], 0.0) / cores[h[:-1]])
        same = h[1:] == h[:-1]  # the interval up to the next change of the same host
        total = np.bincount(h[:-1][same], weights=(u * (t[1:] - t[:-1]))[same], minlength=n)
        return total.tolist()

    def end(self) -> None:
        world = self.world
        now = world.env.now
        busy = self.utilisation_integrals(now)
        rows = world.records["energy"]
        for h, log, pw, u_int in zip(world.hosts, self.log, self.power, busy, strict=True):
            span = {"powered": 0.0, "off": 0.0, "failed": 0.0}
            power_ons = 0
            for (t0, st), (t1, _) in zip(log, [*log[1:], (now, "")], strict=True):
                kind = "powered" if st in POWERED else st
                span[kind] = span.get(kind, 0.0) + (t1 - t0)
                power_ons += st == "booting"
            energy_j = pw.idle_w * span["powered"] + (pw.max_w - pw.idle_w) * u_int + pw.off_w * span["off"]
            rows.append((
                h.name, h.group, pw.idle_w, pw.max_w, span["powered"], span["off"], span["failed"], power_ons,
                u_int / now if now > 0 else 0.0, energy_j, energy_j / J_PER_KWH,
                energy_j / now if now > 0 else 0.0,
            ))


class Consolidator(Mechanism):
    """Evacuate lightly used hosts by live migration and power them off;
    power hosts on when guests find no room. Needs the
    :class:`~vsim.mechanisms.migration.Migrations` mechanism (which writes
    the migrations table) attached before it."""

    def __init__(self, spec) -> None:
        self.spec = spec

    def attach(self, world) -> None:
        self.world = world
        migrations = world.mechanism(Migrations)
        if migrations is None:
            raise RuntimeError("Consolidator: attach the Migrations mechanism before it")
        self.migrations = migrations
        groups = {g.name: g for g in world.scenario.hosts}
        self.power = [groups[h.group].power for h in world.hosts]
        self.booting: dict[int, list] = {}  # host index -> [event, free memory, free vCPUs] promised
        world.env.process(self.run())

    # -- measures -------------------------------------------------------------------
    def utilisation(self, i: int) -> float:
        """The larger of the reserved vCPU and memory fractions of host ``i``."""
        h, p = self.world.hosts[i], self.world.placer
        mem_cap = h.memory_capacity_mib - h.footprint_mib
        return max((h.vcpu_capacity - p.vcpu_free[i]) / h.vcpu_capacity,
                   (mem_cap - p.mem_free[i]) / mem_cap if mem_cap > 0 else 1.0)

    # -- the periodic policy -----------------------------------------------------
    def run(self):
        env = self.world.env
        while True:
            yield env.timeout(self.spec.interval_s)
            yield from self.step()

    def step(self):
        world, spec, placer = self.world, self.spec, self.world.placer
        on = [h for h in world.hosts if h.state == "on"]
        if spec.power_off:
            for h in sorted(on, key=lambda h: h.index, reverse=True):
                if len(on) > spec.min_hosts_on and placer.count[h.index] == 0:
                    world.set_host_state(h, "off")
                    on.remove(h)
        if len(on) <= spec.min_hosts_on:
            return
        candidates = sorted((h for h in on if 0 < self.utilisation(h.index) <= spec.low_util),
                            key=lambda h: (self.utilisation(h.index), h.index))
        for h in candidates:
            guests = [g for g in world.guests if g.host is h and g.state not in TERMINAL]
            if placer.count[h.index] != len(guests):
                continue  # a migration into it is under way
            if any(g.state != "running" or g.kind != "vm" or self.migrations.migrating(g) for g in guests):
                continue
            plan = self.plan(h, guests, [o for o in on if o is not h])
            if plan is None:
                continue
            world.set_host_state(h, "draining")
            env = world.env
            procs = [env.process(live_migrate(world, g, dst, spec.limits, g.workload.dirty_mb_s,
                                              cause="consolidation", reserved=True)) for g, dst in plan]
            yield env.all_of(procs)
            if h.state == "draining":
                world.set_host_state(h, "off" if spec.power_off and placer.count[h.index] == 0 else "on")
            return  # one host per round: the next round sees the new state

    def plan(self, host, guests, others):
        """Reserve a place for every guest on the other hosts (fullest first,
        none above ``high_util``); all or nothing."""
        world = self.world
        done: list[tuple[Guest, Host]] = []  # (guest, its reserved destination)
        for g in sorted(guests, key=lambda g: (-g.memory_mib, g.id)):
            dst = None
            for o in sorted(others, key=lambda o: (-self.utilisation(o.index), o.index)):
                if g.platform not in o.platforms or not self._stays_under(o, g):
                    continue
                if not reserve(world, g, o, g.profile, "live"):
                    dst = o
                    break
            if dst is None:
                for gg, oo in done:
                    release(world, gg, oo, gg.profile, gg.disk_mb)
                return None
            done.append((g, dst))
        return done

    def _stays_under(self, o, g) -> bool:
        h, p = o, self.world.placer
        mem_cap = h.memory_capacity_mib - h.footprint_mib
        vc = (h.vcpu_capacity - p.vcpu_free[o.index] + g.vcpus) / h.vcpu_capacity
        mem = (mem_cap - p.mem_free[o.index] + g.memory_mib) / mem_cap if mem_cap > 0 else 2.0
        return max(vc, mem) <= self.spec.high_util + 1e-9

    # -- power on when guests find no room ------------------------------------------
    def no_room(self, g):
        """An event to wait for (a host powering on that will have room), or None."""
        placer = self.world.placer
        for i, promise in self.booting.items():
            ev, mem, vcpus = promise
            if g.platform in self.world.hosts[i].platforms and mem >= g.memory_mib and vcpus >= g.vcpus:
                promise[1] -= g.memory_mib
                promise[2] -= g.vcpus
                return ev
        for h in self.world.hosts:
            i = h.index
            if (h.state == "off" and g.platform in h.platforms and placer.mem_free[i] >= g.memory_mib
                    and placer.vcpu_free[i] >= g.vcpus and placer.count[i] < placer.max_guests[i]):
                ev = self.power_on(h)
                self.booting[i] = [ev, placer.mem_free[i] - g.memory_mib, placer.vcpu_free[i] - g.vcpus]
                return ev
        return None

    def power_on(self, host):
        env = self.world.env
        done = env.event()
        self.world.set_host_state(host, "booting")

        def boot():
            yield env.timeout(self.power[host.index].power_on_s)
            self.booting.pop(host.index, None)
            if host.state == "booting":
                self.world.set_host_state(host, "on")
            done.succeed()

        env.process(boot())
        return done
