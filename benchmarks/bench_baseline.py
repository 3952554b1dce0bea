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

Two more baselines say how strong or weak that one is (``--mode``):

* ``lean``: what a competent script with the same timeline needs: *one*
  timeout per uncontended sequence (the start phases outside a server, a run
  of phases through a server while holding its worker, the lifetime, the stop
  phases), and the same per-guest record. Faster than ``steps``: vsim's ratio
  against it is the price of everything vsim models beyond the timeline.
* ``contended``: hosts and contention the plain-SimPy way: every guest is
  placed on the host with the most free memory (a heap), and every CPU, disk
  and network step of its phases waits for that host's ``simpy.Resource``
  (CPU: one slot per core; disk and NIC: one slot each, FIFO), its control
  planes per host. Slower than vsim: FIFO resources cost an event per step,
  where vsim's fair share runs a sure-to-be-uncontended sequence as one.

    python benchmarks/bench_baseline.py [--guests 100000] [--mode steps|lean|contended]
"""

from __future__ import annotations

import argparse
import math

import _common  # noqa: F401  (puts the checkout on sys.path)
import numpy as np
import simpy

MIB_PER_GIB = 1024.0
MB_PER_MIB = 1.048576


def _steps(scenario, w, group, typed: bool = False) -> tuple[list, list]:
    """Idle-host durations of a workload's start steps and stop steps; a step
    through a control-plane server is ``(server name, [durations])``. With
    ``typed`` each duration is ``(kind, seconds)``, kind one of cpu, disk, net,
    wait (a fixed latency), clone (disk)."""
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

    def mark(kind, d):
        return (kind, d) if typed else d

    def phase_steps(ph):
        out = []
        if ph.cpu_s:
            out.append(mark("cpu", ph.cpu_s / cpu_rate))
        reads = 0.0 if shared else ph.disk_read_mb
        if reads or ph.disk_write_mb:
            d = reads / rd + ph.disk_write_mb / wr
            if ph.io_kib:
                d += (reads * acc_r + ph.disk_write_mb * acc_w) * 1e6 / (ph.io_kib * 1024)
            out.append(mark("disk", d))
        if ph.net_mb:
            out.append(mark("net", ph.net_mb / net))
        if ph.latency_s:
            out.append(mark("wait", ph.latency_s))
        return out

    start: list[float] = []
    im = scenario.image_map.get(w.image) if w.image else None
    if im is not None and im.kind == "vm-disk":
        clone = w.clone or prof.default_clone
        if clone == "full":
            start.append(mark("disk", im.disk_mb / rd + im.disk_mb / wr))
        else:
            start.append(mark("disk", prof.linked_clone_overlay_mb.value / wr))
    def add(out, phases):
        for ph in phases:
            if ph.server is None:
                out += phase_steps(ph)
            elif out and isinstance(out[-1], tuple) and isinstance(out[-1][1], list) and out[-1][0] == ph.server:
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


def _lean(seq):
    """The same sequence with one timeout per uncontended run of steps."""
    out, run = [], 0.0
    for d in seq:
        if isinstance(d, tuple):
            if run:
                out.append(run)
                run = 0.0
            out.append((d[0], [sum(d[1])]))
        else:
            run += d
    if run:
        out.append(run)
    return out


class _Hosts:
    """The contended baseline's hosts: per-host Resources, placement by most free memory."""

    def __init__(self, env, scenario):
        import heapq

        self.heapq = heapq
        self.hosts = []
        for g in scenario.hosts:
            for _ in range(g.count):
                servers = {}
                for p in g.platforms:
                    for srv in scenario.profile(p).control_plane:
                        servers.setdefault(srv.name, simpy.Resource(env, capacity=int(srv.workers.value)))
                self.hosts.append({"cpu": simpy.Resource(env, capacity=max(1, int(g.cores))),
                                   "disk": simpy.Resource(env, capacity=1), "net": simpy.Resource(env, capacity=1),
                                   "servers": servers, "free": g.memory_gib * MIB_PER_GIB * g.overcommit.memory,
                                   "index": len(self.hosts)})
        self.heap = [(-h["free"], i) for i, h in enumerate(self.hosts)]
        heapq.heapify(self.heap)

    def place(self, mib):
        """The host with the most free memory, if the guest fits there (lazy heap)."""
        heap, hq = self.heap, self.heapq
        while heap:
            neg, i = heap[0]
            h = self.hosts[i]
            if -neg != h["free"]:
                hq.heapreplace(heap, (-h["free"], i))
                continue
            if h["free"] < mib:
                return None
            h["free"] -= mib
            hq.heapreplace(heap, (-h["free"], i))
            return h
        return None



def _walk_on(env, host, seq):
    """Each typed step waits for its resource on ``host`` (latencies just wait)."""
    for item in seq:
        if isinstance(item[1], list):
            res = host["servers"][item[0]]
            req = res.request()
            yield req
            yield from _walk_on(env, host, item[1])
            res.release(req)
            continue
        kind, d = item
        if kind == "wait":
            yield env.timeout(d)
            continue
        res = host[kind]
        req = res.request()
        yield req
        yield env.timeout(d)
        res.release(req)


def _times_and_lives(w, rng):
    """A workload's arrival times and lifetimes, drawn as vsim's world draws them."""
    from vsim.spec.scenario import (
        BatchArrivals,
        ExponentialLifetime,
        FixedLifetime,
        PoissonArrivals,
    )

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
    return times, lives


def _sequences(scenario, w, group, mode):
    """The start and stop steps of a workload for ``mode``, and its start variants."""
    start, stop = _steps(scenario, w, group, typed=mode == "contended")
    variants = None if mode == "contended" else _scaled(scenario, w, start)  # vsim's start multipliers
    if mode == "lean":
        stop, start = _lean(stop), _lean(start)
        if variants is not None:
            variants = ([_lean(v) for v in variants[0]], variants[1])
    return start, stop, variants


def run_baseline(scenario, mode: str = "steps") -> dict:
    """Run the plain-SimPy equivalent of ``scenario`` (``mode``: steps, lean or
    contended; see the module docstring); return counts."""
    env = simpy.Environment()
    records: list[tuple] = []
    group = scenario.hosts[0]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(scenario.seed).spawn(len(scenario.workloads))]

    servers = _servers(env, scenario)
    hosts = _Hosts(env, scenario) if mode == "contended" else None

    def guest(gid, start, stop, life, mib=0.0):
        t0 = env.now
        if hosts is not None:
            h = hosts.place(mib)
            if h is None:
                records.append((gid, t0, math.nan, env.now))  # refused
                return
            yield from _walk_on(env, h, start)
        else:
            yield from _walk(env, servers, start)
        ready = env.now
        if math.isinf(life):
            yield env.event()
        yield env.timeout(life)
        if hosts is not None:
            yield from _walk_on(env, h, stop)
            h["free"] += mib
            hosts.heapq.heappush(hosts.heap, (-h["free"], h["index"]))
        else:
            yield from _walk(env, servers, stop)
        records.append((gid, t0, ready, env.now))

    def arrivals(w, rng, first_id):
        times, lives = _times_and_lives(w, rng)
        start, stop, variants = _sequences(scenario, w, group, mode)
        picks = variants[1] if variants is not None else None
        prof = scenario.profile(w.platform)
        mib = w.memory_mib * (1 - prof.page_sharing.value) + prof.guest_memory_overhead_mib.value
        for k, (t, life) in enumerate(zip(times.tolist(), lives.tolist(), strict=True)):
            if t > env.now:
                yield env.timeout(t - env.now)
            mine = start if variants is None else variants[0][picks[k]]
            env.process(guest(first_id + k, mine, stop, life, mib))

    first = 0
    for w, rng in zip(scenario.workloads, rngs, strict=True):
        env.process(arrivals(w, rng, first))
        first += w.count()
    env.run(until=scenario.duration_s)
    return {"lifecycles": first, "events": _common_events(env), "guests_done": len(records)}


def _common_events(env) -> int:
    from vsim.model.world import _events_scheduled

    return _events_scheduled(env)


def baseline(builder: str, mode: str = "steps", **kwargs) -> dict:
    """Entry point for the benchmark runner: build the scenario, run the baseline."""
    sc = getattr(_common, builder)(**kwargs)
    return run_baseline(sc, mode)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guests", type=int, default=100_000)
    ap.add_argument("--mode", choices=["steps", "lean", "contended"], default="steps")
    args = ap.parse_args()
    row = _common.run_case("bench_baseline", "baseline", f"baseline ({args.mode})", builder="datacenter_day",
                           guests=args.guests, mode=args.mode)
    print(_common.format_table([row]))


if __name__ == "__main__":
    main()
