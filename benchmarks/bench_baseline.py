"""The baseline: a plain SimPy script with the same events as a vsim scenario.

What a hand-written SimPy model of the same day would do, and nothing more:
one arrival process per workload with the same seeded Poisson gaps (or batch
times) and the same lifetimes, and one process per guest that waits out each
step of its life with a plain ``env.timeout``: the clone, every CPU, disk,
network and latency step of every start phase (durations as on an idle host),
the lifetime, then the stop phases. A run of phases through a control-plane
server (a daemon, a toolstack) waits for a ``simpy.Resource`` with the server's
workers times the host count, held to the end of those phases: the same
queueing events, pooled over the hosts. No hosts, no placement, no sharing, no
image cache; one tuple recorded per guest. vsim's wall time divided by this
one's, measured in the same invocation, is the ``ratio`` column of every
benchmark table.

    python benchmarks/bench_baseline.py [--guests 100000]
"""

from __future__ import annotations

import argparse
import math

import _common  # noqa: F401  (puts the checkout on sys.path)
import numpy as np
import simpy

MIB_PER_GIB = 1024.0
MB_PER_MIB = 1.048576


def _steps(scenario, w, group) -> tuple[list, list]:
    """Idle-host durations of a workload's start steps and stop steps; a step
    through a control-plane server is ``(server name, [durations])``."""
    prof = scenario.profile(w.platform)
    cpu_rate = group.core_speed
    net = group.network_gbit_s * 125.0
    rd, wr = group.disk.read_mb_s, group.disk.write_mb_s
    # per-request positioning time, from the disk's 4 KiB random IOPS (as vsim.model.host.access_time)
    acc_r = max(1 / group.disk.random_read_iops - 4096e-6 / rd, 0.0)
    acc_w = max(1 / group.disk.random_write_iops - 4096e-6 / wr, 0.0)
    # Shared reads (a base image under linked clones, container layers) come from the
    # host's page cache once the first boot of the image on the host has read them: the
    # steady state of a long day, taken for every boot here.
    im0 = scenario.image_map.get(w.image) if w.image else None
    shared = group.page_cache and im0 is not None and (w.clone or prof.default_clone) != "full"

    def phase_steps(ph):
        out = []
        if ph.cpu_s:
            out.append(ph.cpu_s / cpu_rate)
        reads = 0.0 if shared else ph.disk_read_mb
        if reads or ph.disk_write_mb:
            d = reads / rd + ph.disk_write_mb / wr
            if ph.io_kib:
                d += (reads * acc_r + ph.disk_write_mb * acc_w) * 1e6 / (ph.io_kib * 1024)
            out.append(d)
        if ph.net_mb:
            out.append(ph.net_mb / net)
        if ph.latency_s:
            out.append(ph.latency_s)
        return out

    start: list[float] = []
    im = scenario.image_map.get(w.image) if w.image else None
    if im is not None and im.kind == "vm-disk":
        clone = w.clone or prof.default_clone
        if clone == "full":
            start.append(im.disk_mb / rd + im.disk_mb / wr)
        else:
            start.append(prof.linked_clone_overlay_mb.value / wr)
    def add(out, phases):
        for ph in phases:
            if ph.server is None:
                out += phase_steps(ph)
            elif out and isinstance(out[-1], tuple) and out[-1][0] == ph.server:
                out[-1][1].extend(phase_steps(ph))  # consecutive phases hold the server throughout
            else:
                out.append((ph.server, phase_steps(ph)))

    add(start, prof.start_phases)
    stop: list = []
    add(stop, prof.stop_phases)
    return start, stop


def _servers(env, scenario) -> dict[str, simpy.Resource]:
    """One pooled Resource per control-plane server: its workers times the hosts."""
    hosts = sum(h.count for h in scenario.hosts)
    servers: dict[str, simpy.Resource] = {}
    for p in {w.platform for w in scenario.workloads}:
        for s in scenario.profile(p).control_plane:
            servers.setdefault(s.name, simpy.Resource(env, capacity=int(s.workers.value) * hosts))
    return servers


def _walk(env, servers, seq):
    """Wait out each step; a (server, steps) item holds a worker of the server meanwhile."""
    for d in seq:
        if isinstance(d, tuple):
            res = servers[d[0]]
            req = res.request()
            yield req
            for dd in d[1]:
                yield env.timeout(dd)
            res.release(req)
        else:
            yield env.timeout(d)


def _scaled(scenario, w, start):
    """With variability: the start steps at each level, and each guest's level,
    drawn from the same generator as vsim's world (vsim.model.variability)."""
    from vsim.model import variability

    cv = scenario.profile(w.platform).startup_cv
    if not scenario.variability or cv is None or cv.value <= 0:
        return None
    k = [x.name for x in scenario.workloads].index(w.name)
    picks = variability.draw(variability.generator(scenario.seed, k), w.count()).tolist()
    clone = _has_clone(scenario, w)  # the clone step (first) is not scaled, as in vsim

    def scale(seq, m):
        return [(d[0], [x * m for x in d[1]]) if isinstance(d, tuple) else d * m for d in seq]

    levels = [start[:clone] + scale(start[clone:], m) for m in variability.levels(cv.value)]
    return levels, picks


def _has_clone(scenario, w) -> int:
    im = scenario.image_map.get(w.image) if w.image else None
    return 1 if im is not None and im.kind == "vm-disk" else 0


def run_baseline(scenario) -> dict:
    """Run the plain-SimPy equivalent of ``scenario``; return counts."""
    from vsim.spec.scenario import (
        BatchArrivals,
        ExponentialLifetime,
        FixedLifetime,
        PoissonArrivals,
    )

    env = simpy.Environment()
    records: list[tuple] = []
    group = scenario.hosts[0]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(scenario.seed).spawn(len(scenario.workloads))]

    servers = _servers(env, scenario)

    def guest(gid, start, stop, life):
        t0 = env.now
        yield from _walk(env, servers, start)
        ready = env.now
        if math.isinf(life):
            yield env.event()
        yield env.timeout(life)
        yield from _walk(env, servers, stop)
        records.append((gid, t0, ready, env.now))

    def arrivals(w, rng, first_id):
        a, n = w.arrivals, w.count()
        if isinstance(a, BatchArrivals):
            times = np.full(n, a.at_s)
        elif isinstance(a, PoissonArrivals):
            times = a.start_s + np.cumsum(rng.exponential(1.0 / a.rate_per_s, size=n))
        else:
            times = np.sort(np.asarray(a.times_s, dtype=float))
        lt = w.lifetime
        if isinstance(lt, FixedLifetime):
            lives = np.full(n, lt.duration_s)
        elif isinstance(lt, ExponentialLifetime):
            lives = rng.exponential(lt.mean_s, size=n)
        else:
            lives = np.full(n, math.inf)
        start, stop = _steps(scenario, w, group)
        variants = _scaled(scenario, w, start)  # the same drawn start multipliers as vsim's
        picks = variants[1] if variants is not None else None
        for k, (t, life) in enumerate(zip(times.tolist(), lives.tolist(), strict=True)):
            if t > env.now:
                yield env.timeout(t - env.now)
            mine = start if variants is None else variants[0][picks[k]]
            env.process(guest(first_id + k, mine, stop, life))

    first = 0
    for w, rng in zip(scenario.workloads, rngs, strict=True):
        env.process(arrivals(w, rng, first))
        first += w.count()
    env.run(until=scenario.duration_s)
    return {"lifecycles": first, "events": _common_events(env), "guests_done": len(records)}


def _common_events(env) -> int:
    from vsim.model.world import _events_scheduled

    return _events_scheduled(env)


def baseline(builder: str, **kwargs) -> dict:
    """Entry point for the benchmark runner: build the scenario, run the baseline."""
    sc = getattr(_common, builder)(**kwargs)
    return run_baseline(sc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guests", type=int, default=100_000)
    args = ap.parse_args()
    row = _common.run_case("bench_baseline", "baseline", "baseline", builder="datacenter_day", guests=args.guests)
    print(_common.format_table([row]))


if __name__ == "__main__":
    main()
