"""Host failures, repairs and high availability (HA).

Hardware fails. A classic model of one server is an *alternating renewal
process*: it runs for a random time with mean ``MTBF`` (mean time between
failures; exponential, i.e. failures come without warning and without memory),
then it is down for a repair time with mean ``MTTR``; over a long run it is up
a fraction ``MTBF / (MTBF + MTTR)`` of the time. A scenario gives each host
group ``mtbf_s`` and ``repair_s`` for random failures, or lists failures at
fixed times (``failures:``) for a what-if.

When a host fails, every guest on it fails at once: its memory (and a
container's writable layer) is gone, and whatever it was doing is lost. The
``recoveries`` table says, for each such guest, how long it had been running
(work lost) and how much written data went with it. With an HA policy
(``ha: {restart: true}``) each one is *restarted elsewhere*: a new guest of the
same workload is placed on a host that is up and boots again (from a fresh
clone of its image: a VM's disk was cloned onto the failed host's local disk,
so what it wrote there is lost, unless the workload says ``vm_disk: shared``;
a container pulls its image if the new host lacks it). The time to recover is from the failure to the moment
the replacement is ready. If no host has room, HA retries every ``retry_s``
(a repair or a power-on may free room) and gives up after ``give_up_s``: the
guest is then recorded as lost, with the reason. No guest vanishes: every guest
that a host failure killed has exactly one row, ``restarted``, ``lost`` (with a
reason) or, if the run ended first, ``restarting``.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from vsim.mechanisms.migration import writable_layer_mb, written_since_start
from vsim.model.guest import Guest
from vsim.model.mechanism import Mechanism

__all__ = ["COLUMNS", "Faults", "FAULT_STREAM"]

#: The tables this module records: table -> column -> (type and unit, meaning).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "failures": {
        "host": ("str", "host that failed"),
        "group": ("str", "its host group"),
        "failed_s": ("float, s", "time of the failure"),
        "repaired_s": ("float, s", "time it is (or would be) back"),
        "guests_failed": ("int", "guests on it that failed"),
    },
    "recoveries": {
        "id": ("int", "id of the guest the failure killed (joins instances.id)"),
        "name": ("str", "its name"),
        "workload": ("str", "its workload"),
        "host": ("str", "the host that failed under it"),
        "failed_s": ("float, s", "time of the failure"),
        "outcome": ("str", "restarted (its replacement became ready), lost (see reason) or restarting (the run ended first)"),
        "new_id": ("int", "id of the replacement guest; -1 if none was started"),
        "recovered_s": ("float, s", "time the replacement was ready (NaN if not)"),
        "recover_s": ("float, s", "recovered_s - failed_s: time to recover"),
        "run_lost_s": ("float, s", "how long it had been running since its last start: in-memory work lost"),
        "data_lost_mb": ("float, MB", "data written since the guest started that was on the failed host: a container's "
                                      "writable layer, a VM's local disk (vm_disk: local)"),
        "reason": ("str", "why it was not restarted (empty if restarted)"),
    },
}

# The failure generators are derived from the run's seed with this spawn key
# (plus the host index), so they never share a stream with the workloads.
FAULT_STREAM = 0x6661756C74  # "fault"

ALIVE = ("provisioning", "booting", "running", "paused", "migrating", "stopping")


class Faults(Mechanism):
    """The failure and recovery processes of one run: random (MTBF) and
    scheduled host failures, and HA restarts if the scenario has ``ha:``."""

    tables = ("failures", "recoveries")

    @staticmethod
    def wanted(sc) -> bool:
        """Whether scenario ``sc`` has any host failure to simulate."""
        return bool(sc.failures) or any(g.mtbf_s for g in sc.hosts)

    def attach(self, world) -> None:
        self.world = world
        sc = world.scenario
        groups = {g.name: g for g in sc.hosts}
        self.ha = sc.ha
        self.pending: dict[int, tuple] = {}  # failed guest id -> (guest, failed_s, lost, replacement or None)
        self.ha_ready: dict[int, simpy.Event] = {}  # replacement guest id -> fires when it is ready
        # Restarts look for room one at a time, so two never count on the same room.
        self.turn = simpy.Resource(world.env, capacity=1)
        by_name = {h.name: h for h in world.hosts}
        env = world.env
        for h in world.hosts:
            g = groups[h.group]
            if not g.mtbf_s:
                continue
            rng = np.random.default_rng(np.random.SeedSequence(world.seed, spawn_key=(FAULT_STREAM, h.index)))
            env.process(self.random_failures(h, g.mtbf_s, g.repair_s, rng))
        for f in sc.failures:
            env.process(self.scheduled(by_name[f.host], f.at_s, f.repair_s))

    # -- failures ------------------------------------------------------------------
    def random_failures(self, host, mtbf_s: float, repair_s: float, rng: np.random.Generator):
        """Up for Exp(mtbf_s), down for Exp(repair_s), again and again."""
        env = self.world.env
        while True:
            yield env.timeout(rng.exponential(mtbf_s))
            yield from self.fail_host(host, rng.exponential(repair_s))

    def scheduled(self, host, at_s: float, repair_s: float):
        env = self.world.env
        if at_s > env.now:
            yield env.timeout(at_s - env.now)
        yield from self.fail_host(host, repair_s)

    def fail_host(self, host, repair_s: float):
        """Take ``host`` down now, fail its guests, bring it back after ``repair_s``."""
        world = self.world
        env = world.env
        if host.state == "failed":
            return  # already down (two scheduled failures overlap)
        before = host.state
        world.set_host_state(host, "failed")
        now = env.now
        victims = [g for g in world.guests if g.host is host and g.state in ALIVE
                   and g.process is not None and g.process.is_alive]
        reason = f"host failure: {host.name} failed at {now:.1f} s"
        for g in victims:
            since = g.running_since_s
            run_lost = now - since if not math.isnan(since) else 0.0
            lost_mb = writable_layer_mb(g, now)
            if g.kind in ("vm", "microvm") and g.workload.vm_disk == "local":
                lost_mb = written_since_start(g, now)  # on the failed host's disk, where it was cloned
            was = g.state
            world.fail_guest(g, reason)
            env.process(self.recover(g, now, run_lost, lost_mb, was))
        world.records["failures"].append((host.name, host.group, now, now + repair_s, len(victims)))
        yield env.timeout(repair_s)
        world.set_host_state(host, "off" if before == "off" else "on")

    # -- recovery -----------------------------------------------------------------
    def recover(self, g, failed_s: float, run_lost: float, lost_mb: float, was: str):
        """Restart ``g`` elsewhere under the HA policy, or record it as lost."""
        world = self.world
        env = world.env
        ha = self.ha
        if ha is None or not ha.restart:
            return self._row(g, failed_s, "lost", None, run_lost, lost_mb,
                             "no HA policy (set ha: {restart: true} to restart guests elsewhere)")
        if was == "stopping":
            return self._row(g, failed_s, "lost", None, run_lost, lost_mb,
                             "it was already stopping: its lifetime was over, nothing to restart")
        remaining = g.lifetime_s - (failed_s - g.ready_s if not math.isnan(g.ready_s) else 0.0)
        if remaining <= 0:
            remaining = 0.0
        self.pending[g.id] = (g, failed_s, run_lost, lost_mb, None)
        deadline = failed_s + ha.give_up_s
        why = ""
        while True:
            with self.turn.request() as turn:
                yield turn
                fits, why = self._fits(g.workload, remaining)
                if fits or (world.on_no_room and any(h.state in ("off", "booting") for h in world.hosts)):
                    # (if a host may be powered on, the new guest's lifecycle waits for it)
                    new = world.spawn_guest(g.workload, remaining)
                    self.ha_ready[new.id] = env.event()
                    yield env.timeout(0)  # its lifecycle takes its place before the next restart looks
                    break
            if env.now >= deadline:
                del self.pending[g.id]
                return self._row(g, failed_s, "lost", None, run_lost, lost_mb,
                                 f"no room on any host within {ha.give_up_s:g} s ({why})")
            yield env.timeout(min(ha.retry_s, deadline - env.now))
        self.pending[g.id] = (g, failed_s, run_lost, lost_mb, new)
        assert new.process is not None  # spawn_guest started its lifecycle
        yield env.any_of([self.ha_ready[new.id], new.process])
        del self.ha_ready[new.id]
        del self.pending[g.id]
        if not math.isnan(new.ready_s):
            self._row(g, failed_s, "restarted", new, run_lost, lost_mb, "")
        else:
            self._row(g, failed_s, "lost", new, run_lost, lost_mb,
                      f"its replacement {new.name} ended {new.state}: {new.reason}")

    def _fits(self, w, lifetime_s: float) -> tuple[bool, str]:
        """Would a new guest of ``w`` find room now? (reserve, then give back)"""
        world = self.world
        profile = world.scenario.profile(w.platform)
        image = world.scenario.image_map.get(w.image) if w.image else None
        probe = Guest(-1, w, profile, image, world.env.now, lifetime_s)
        placed = world.placer.place(probe, world.own_disk_mb(probe))
        if placed[0] is None:  # narrows placed to (None, Refusal); unpacking first would not
            return False, placed[1].message
        i, got = placed
        world.placer.release(i, probe, got)
        return True, ""

    def ready(self, g) -> None:
        ev = self.ha_ready.get(g.id)
        if ev is not None and not ev.triggered:
            ev.succeed()

    def _row(self, g, failed_s, outcome, new, run_lost, lost_mb, reason) -> None:
        ready = new.ready_s if new is not None else math.nan
        self.world.records["recoveries"].append((
            g.id, g.name, g.workload.name, g.host.name if g.host is not None else "", failed_s, outcome,
            new.id if new is not None else -1, ready, ready - failed_s, run_lost, lost_mb, reason,
        ))

    def end(self) -> None:
        """The run ended: guests still waiting for a restart get a row too."""
        for g, failed_s, run_lost, lost_mb, new in list(self.pending.values()):
            why = ("the run ended while waiting for room" if new is None
                   else f"the run ended while its replacement {new.name} was {new.state}")
            self._row(g, failed_s, "restarting", new, run_lost, lost_mb, why)
        self.pending.clear()
