"""The world: a scenario made runnable.

:class:`World` turns a validated :class:`~vsim.spec.scenario.Scenario` into a
running discrete-event model, and is where the model's parts meet:

* the hosts (:mod:`vsim.model.host`: shared CPU, disk and network;
  reservations; an image cache) and the registries images are pulled from;
* the arrivals of each workload's guests (:mod:`vsim.model.guest`), each living
  through its lifecycle (:mod:`vsim.model.lifecycle`), whose clone, start and
  stop phases run on its host's shared resources (:mod:`vsim.model.phases`);
* placement (:mod:`vsim.model.placement`);
* the mechanisms it is given (:mod:`vsim.model.mechanism`), called at the
  moments they watch, and the operations they call back (:meth:`World.spawn_guest`,
  :meth:`World.relocate`, :meth:`World.move_guest`, :meth:`World.set_host_state`,
  :meth:`World.fail_guest`).

Everything that happens is kept on the guests and hosts as plain numbers,
phases in the world's phase log (:mod:`vsim.engine.phaselog`), the
mechanisms' rows in ``world.records``; :mod:`vsim.results` turns them into
tables once, at the end.
"""

from __future__ import annotations

import gc
import math
import re
import time
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import simpy

from vsim.engine.fairshare import FairShare
from vsim.engine.phaselog import PhaseLog
from vsim.engine.solo import SoloSpec
from vsim.model import variability
from vsim.model.guest import Guest
from vsim.model.host import Host
from vsim.model.lifecycle import ARRIVAL, Lifecycle, Relocation, gone, resident, wake_after
from vsim.model.mechanism import Mechanism, dispatch
from vsim.model.placement import Placer
from vsim.model.units import EXTRACT_CPU_S_PER_MB, GBIT_TO_MB_S
from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Profile
from vsim.spec.scenario import (
    BatchArrivals,
    EveryArrivals,
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

def _seeds(seed: int, n: int) -> list[np.random.Generator]:
    """One generator per workload, all derived from the run's seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(max(n, 1))]


class World(Lifecycle):
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
        from vsim.spec.scenario import Scenario as _Scenario

        if not isinstance(scenario, _Scenario):
            raise ScenarioError(f"World: expected a Scenario (from vsim.load_scenario), got {type(scenario).__name__}")
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self._solo_specs: dict[tuple, SoloSpec] = {}  # (host group, what, profile, ...) -> steps (vsim.engine.solo)
        self._shared_reads: dict[str, tuple[tuple[int, str, float], ...]] = {}  # profile -> its start phases that read (vsim.model.phases)
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
        # Each workload's draws of start multipliers (vsim.model.variability), apart
        # from its arrival and lifetime draws so that variability: false changes nothing else.
        self._var_rngs = {w.name: variability.generator(self.seed, k) for k, w in enumerate(scenario.workloads)}
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
        elif isinstance(a, EveryArrivals):
            times = a.start_s + a.interval_s * np.arange(n, dtype=float)
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
        scales = self._scales(profile)
        picks = (variability.draw(self._var_rngs[w.name], n).tolist() if scales is not None else [-1] * n)
        for t, life, level in zip(times.tolist(), lifetimes.tolist(), picks, strict=True):
            if t > env.now:
                yield wake_after(env, t - env._now, ARRIVAL)  # after the instant's other events
            g = Guest(len(self.guests), w, profile, image, env.now, life)
            if scales is not None:
                g.scale_level, g.scale = level, scales[level]
            self.guests.append(g)
            g.process = env.process(self.lifecycle(g))

    def _scales(self, profile: Profile) -> tuple[float, ...] | None:
        """The start multipliers of ``profile``'s guests, or None if they all take 1."""
        cv = profile.startup_cv
        if not self.scenario.variability or cv is None or cv.value <= 0:
            return None
        return variability.levels(cv.value)

    # -- a guest's life --------------------------------------------------------    # -- operations on running guests (vsim.mechanisms.migration, vsim.mechanisms.faults, vsim.mechanisms.energy) --
    def spawn_guest(self, w: Workload, lifetime_s: float) -> Guest:
        """Request one more guest of workload ``w`` now (an HA restart)."""
        profile = self.scenario.profile(w.platform)
        image = self.scenario.image_map.get(w.image) if w.image else None
        g = Guest(len(self.guests), w, profile, image, self.env.now, lifetime_s)
        scales = self._scales(profile)
        if scales is not None:
            g.scale_level = int(variability.draw(self._var_rngs[w.name], 1)[0])
            g.scale = scales[g.scale_level]
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
        assert src is not None  # only a placed guest moves
        self.placer.release(src.index, g, g.disk_mb)
        src.guests_now -= 1
        if profile is not None and profile.name != g.platform:
            sharing = profile.page_sharing.value
            g.profile = profile
            g.platform = profile.name
            g.memory_mib = g.workload.memory_mib * (1.0 - sharing) + profile.guest_memory_overhead_mib.value
        running_here = g.resident_on is not None
        gone(g)
        g.host = target
        if running_here:
            resident(g, target)
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
    def _add_to_cache(self, host: Host, im: Image) -> None:
        """Mark an image as already on the host's disk (it takes disk space)."""
        items = [(im.name, im.disk_mb)] if im.kind == "vm-disk" else [(lay.id, lay.disk_mb) for lay in im.layers]
        for key, mb in items:
            if key not in host.cache:
                host.cache.add(key)
                host.cache_mb += mb

    # -- running ------------------------------------------------------------------
    def run(self, until: float | None = None, bar: Any = None):
        """Run the model until ``until`` (default: the scenario's ``duration_s``,
        or until nothing is left to happen). The tables are made from the
        world afterwards: ``vsim.results.Results.from_world(world)``.

        ``bar`` (a tqdm-like object with ``update`` and ``n``) is moved to the
        simulated time every 16,384 events: the events are the same, one by
        one, as without it (SimPy's own loop is ``step`` until ``until``)."""
        until = self.scenario.duration_s if until is None else until
        t0 = time.perf_counter()
        with fewer_collections():
            if bar is not None:
                _run_with_bar(self.env, until, bar)
            elif until is None:
                self.env.run()
            else:
                self.env.run(until=until)
            self.wall_s = time.perf_counter() - t0
            self.events = _events_scheduled(self.env)
            for hook in self.on_end:
                hook()


@contextmanager
def fewer_collections():
    """Let Python's cyclic garbage collector run less often during a run.

    A run keeps every guest and its records until the end, so the heap only
    grows, and CPython's collector, which scans the whole heap each time it
    has grown by a quarter, spent about a fifth of a 100,000-guest run
    looking for cycles it rarely found (about a thousand objects). The
    thresholds are raised for the run and restored after it: young cyclic
    garbage is still collected (in larger batches), memory is freed by
    reference counting as before, and results do not depend on the collector.
    Whoever builds the tables afterwards (vsim.experiments.run.simulate) does
    it inside this too: the heap is at its largest then.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 400_000), max(old[1], 20), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)

def _expand(groups: list[HostGroup]):
    for g in groups:
        for _ in range(g.count):
            yield g


def _run_with_bar(env: simpy.Environment, until: float | None, bar: Any) -> None:
    """``env.run(until)``, stepping by hand to move ``bar`` along the simulated time."""
    end = math.inf if until is None else until
    step, peek = env.step, env.peek
    n = 0
    while peek() < end:
        step()
        n += 1
        if not n & 0x3FFF:
            bar.update(env.now - bar.n)
    if until is not None:
        env.run(until=until)  # the stop event at ``until``, exactly as a plain run schedules it
    bar.update(env.now - bar.n)


def _events_scheduled(env: simpy.Environment) -> int:
    """How many events SimPy scheduled (read from its event-id counter)."""
    m = re.search(r"\d+", repr(getattr(env, "_eid", "")))
    return int(m.group()) if m else 0
