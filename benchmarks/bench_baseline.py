"""The baseline: a plain SimPy script with the same events as a vsim scenario.

What a hand-written SimPy model of the same day would do, and nothing more:
one arrival process per workload with the same seeded Poisson gaps (or batch
times) and the same lifetimes, and one process per guest that waits out each
step of its life with a plain ``env.timeout``: the clone, every CPU, disk,
network and latency step of every start phase (durations as on an idle host),
the lifetime, then the stop phases. No hosts, no placement, no sharing, no
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


def _steps(scenario, w, group) -> tuple[list[float], list[float]]:
    """Idle-host durations of a workload's start steps and stop steps."""
    prof = scenario.profile(w.platform)
    cpu_rate = group.core_speed
    net = group.network_gbit_s * 125.0
    rd, wr = group.disk.read_mb_s, group.disk.write_mb_s

    def phase_steps(ph):
        out = []
        if ph.cpu_s:
            out.append(ph.cpu_s / cpu_rate)
        if ph.disk_read_mb or ph.disk_write_mb:
            out.append(ph.disk_read_mb / rd + ph.disk_write_mb / wr)
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
    for ph in prof.start_phases:
        start += phase_steps(ph)
    stop: list[float] = []
    for ph in prof.stop_phases:
        stop += phase_steps(ph)
    return start, stop


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

    def guest(gid, start, stop, life):
        t0 = env.now
        for d in start:
            yield env.timeout(d)
        ready = env.now
        if math.isinf(life):
            yield env.event()
        yield env.timeout(life)
        for d in stop:
            yield env.timeout(d)
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
        for k, (t, life) in enumerate(zip(times.tolist(), lives.tolist(), strict=True)):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(guest(first_id + k, start, stop, life))

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
