"""Micro-benchmarks inside the model: how close to native does a guest run?

Felter et al. (IBM RC25482, 2014) compared Docker and KVM with native Linux by
running the same benchmarks three times: Linpack (CPU), STREAM (memory
bandwidth), fio 4 KB random reads (disk I/O) and netperf TCP_RR (network round
trips). vsim repeats that experiment in the model:

1. **native**: the benchmarks run on the bare host, nothing installed: every
   core, the whole disk and NIC;
2. **guest**: a host runs the platform (which keeps its *host footprint* of
   cores busy: a Type 2 hypervisor's desktop OS, a container daemon); one guest
   is given the whole machine, boots, and runs the same benchmarks. Each unit of
   work costs ``1 / efficiency`` as much as natively, with the platform's
   efficiency for that resource class from its profile.

Both runs use the host's fair-share resources (:class:`~vsim.engine.fairshare.FairShare`),
and the score is native time over guest time. With an idle host the score is
close to the profile's efficiency; it drops further where the platform's
footprint takes cores from a whole-machine job (a Type 2 hypervisor's host OS).

The benchmark sizes below are small: the ratio, not the absolute time, is the
result.
"""

from __future__ import annotations

import math
from typing import Any

import simpy

from vsim.engine.fairshare import FairShare
from vsim.experiments.testbed import build_scenario, shape_for
from vsim.mechanisms import for_scenario
from vsim.model.mechanism import Mechanism
from vsim.model.units import GBIT_TO_MB_S
from vsim.model.world import World
from vsim.spec.profile import Profile

__all__ = ["run_benchmarks", "BENCHMARKS"]

#: source: Felter et al. 2014, STREAM triad on two sockets, 45.60 GB/s native.
MEMORY_BANDWIDTH_GB_S = 45.6
#: source: Felter et al. 2014, netperf TCP_RR native round trip 37.6 us.
NATIVE_RTT_S = 37.6e-6
#: assumption: netperf's default request and response of 1 byte plus TCP/IP and
#: Ethernet headers: about 100 bytes each way.
RR_MESSAGE_MB = 100e-6
CPU_WORK_S = 10.0          # reference core-seconds per thread (one thread per core, like Linpack)
STREAM_GB_PER_THREAD = 2.0  # GB moved per thread
DISK_REQUESTS = 2000        # 4 KB random reads
DISK_QUEUE_DEPTH = 32       # requests in flight (fio iodepth)
ROUND_TRIPS = 200

#: The benchmarks: key -> (efficiency field, what it stands for).
BENCHMARKS = {
    "cpu": ("cpu", "Linpack-like: one compute thread per core"),
    "memory_bandwidth": ("memory_bandwidth", "STREAM-like: one copy thread per core"),
    "disk_random": ("disk_random", f"fio-like: {DISK_REQUESTS} random 4 KB reads, {DISK_QUEUE_DEPTH} in flight"),
    "network_latency": ("network_latency", f"netperf TCP_RR-like: {ROUND_TRIPS} request/response round trips"),
}


def _suite(env: simpy.Environment, cpu: FairShare, disk: FairShare, nic: FairShare, membw: FairShare,
           threads: int, read_iops: float, eff: dict[str, float], out: dict[str, float]):
    """Run the four benchmarks one after another; record each one's duration."""
    # CPU: every thread needs CPU_WORK_S of native work.
    t0 = env.now
    yield env.all_of([cpu.use(CPU_WORK_S / eff["cpu"]) for _ in range(threads)])
    out["cpu"] = env.now - t0
    # Memory bandwidth: every thread streams its share through the memory system.
    t0 = env.now
    yield env.all_of([membw.use(STREAM_GB_PER_THREAD / eff["memory_bandwidth"]) for _ in range(threads)])
    out["memory_bandwidth"] = env.now - t0
    # Random disk reads: DISK_QUEUE_DEPTH workers issue requests back to back;
    # one read costs 1 / read_iops disk-seconds natively.
    t0 = env.now
    per_req = (1.0 / read_iops) / eff["disk_random"]

    def worker(k: int):
        for _ in range(k):
            yield disk.use(per_req)

    base, extra = divmod(DISK_REQUESTS, DISK_QUEUE_DEPTH)
    yield env.all_of([env.process(worker(base + (1 if i < extra else 0))) for i in range(DISK_QUEUE_DEPTH)])
    out["disk_random"] = env.now - t0
    # Network round trips: send the request, wait for the peer, receive the answer.
    t0 = env.now
    for _ in range(ROUND_TRIPS):
        yield nic.use(RR_MESSAGE_MB)
        yield env.timeout(NATIVE_RTT_S / eff["network_latency"])
        yield nic.use(RR_MESSAGE_MB)
    out["network_latency"] = env.now - t0


def _native(host: dict[str, Any]) -> dict[str, float]:
    env = simpy.Environment()
    speed = float(host.get("core_speed", 1.0))
    cores = int(host["cores"])
    cpu = FairShare(env, cores * speed, job_cap=speed, name="native.cpu")
    disk = FairShare(env, 1.0, name="native.disk")
    nic = FairShare(env, host["network_gbit_s"] * GBIT_TO_MB_S, name="native.nic")
    membw = FairShare(env, MEMORY_BANDWIDTH_GB_S, name="native.membw")
    out: dict[str, float] = {}
    ones = {k: 1.0 for k in BENCHMARKS}
    env.process(_suite(env, cpu, disk, nic, membw, cores, host["disk"]["random_read_iops"], ones, out))
    env.run()
    return out


def _in_guest(profile: Profile, host: dict[str, Any], seed: int) -> dict[str, float]:
    cores = int(host["cores"])
    # The guest is given the whole machine, as in Felter et al.'s runs.
    shape = shape_for(profile, {"vcpus": cores})
    sc = build_scenario(profile, host, shape, 1, name=f"bench-{profile.name}", seed=seed)
    out: dict[str, float] = {}
    eff = {k: getattr(profile.efficiency, f).value for k, (f, _) in BENCHMARKS.items()}

    class Suite(Mechanism):
        """Runs the benchmark suite inside the guest once it is ready."""

        def ready(self, g):
            h = g.host
            env = self.world.env
            membw = FairShare(env, MEMORY_BANDWIDTH_GB_S, name=f"{h.name}.membw")
            env.process(_suite(env, h.cpu, h.disk, h.nic, membw, cores, h.read_iops, eff, out))

    World(sc, mechanisms=[*for_scenario(sc), Suite()]).run()
    return out


def run_benchmarks(profile: Profile, host: dict[str, Any], seed: int = 0,
                   native: dict[str, float] | None = None) -> dict[str, float]:
    """Score of each benchmark, native time / guest time (1.0 = native speed).

    ``native`` may pass the native times already measured on the same host.
    NaN if the guest could not be placed (the host is too small for it).
    """
    nat = native if native is not None else _native(host)
    got = _in_guest(profile, host, seed)
    return {k: (nat[k] / got[k]) if k in got and got[k] > 0 else math.nan for k in BENCHMARKS}


def native_times(host: dict[str, Any]) -> dict[str, float]:
    """Benchmark durations (s) on the bare host."""
    return _native(host)
