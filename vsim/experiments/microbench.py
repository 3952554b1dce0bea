"""Micro-benchmarks inside the model: how close to native does a guest run?

Felter et al. (IBM RC25482, 2014) compared Docker and KVM with native Linux by
running the same benchmarks three times: Linpack (CPU), STREAM (memory
bandwidth), RandomAccess (random memory updates), fio (sequential and random
disk I/O) and netperf / nuttcp (round trips, bulk throughput). vsim repeats
that experiment in the model, with each benchmark written as an *operation
mix* (:class:`~vsim.model.overhead.OperationMix`: compute, memory streamed,
random updates, disk requests of a size at a queue depth, messages, segments):

1. **native**: the mix runs as a plain process on the bare host (the
   ``native`` profile: no overhead, no footprint);
2. **guest**: a host runs the platform (which keeps its *host footprint* of
   cores busy), one guest is given the whole machine and runs the same mix;
   every operation pays the platform's per-operation cost
   (:class:`~vsim.spec.profile.Overhead`) on the host's shared resources
   (:func:`~vsim.model.overhead.run_mix`).

The score is native time over guest time. It is *not* a number from the
profile: the same platform gives 0.99 for 1 MiB sequential reads and 0.55
for 4 KiB random ones, because the per-request cost is the same and the
native cost of the request is not (``tests/test_overhead.py``).

:data:`FELTER_HOST` is Felter et al.'s server and :data:`M5D_HOST` Agache et
al.'s (NSDI 2020) for their QD1 read; :func:`felter_table` reproduces
Felter's table from one parameter set per platform (tests/test_overhead.py
states the tolerances). :func:`io_efficiency` gives efficiency against request
size and queue depth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import simpy

from vsim.engine.fairshare import FairShare
from vsim.experiments.testbed import build_scenario, resolve_host, shape_for
from vsim.mechanisms import for_scenario
from vsim.model.mechanism import Mechanism
from vsim.model.overhead import CORE_MEMORY_GB_S, MixResources, OperationMix, costs, run_mix
from vsim.model.world import World
from vsim.spec.profile import Profile, load_profile

__all__ = ["COLUMNS", "run_benchmarks", "native_times", "BENCHMARKS", "SUITE", "mixes_for", "FELTER_HOST", "M5D_HOST",
           "felter_table", "io_efficiency", "DEPENDS", "MEMORY_BANDWIDTH_GB_S", "UPDATE_NS"]

#: The tables made here: column -> (type and unit, meaning).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "felter_table": {
        "row": ("str", "the published measurement"),
        "platform": ("str", "profile (kvm-baseline-cpu: KVM with QEMU's baseline CPU model, vector width 0.5)"),
        "host": ("str", "testbed it ran on: FELTER_HOST or M5D_HOST"),
        "published": ("float, 0-1", "published guest result / native result"),
        "vsim": ("float, 0-1", "simulated: native time / guest time of the operation mix"),
        "error_pct": ("float, %", "vsim / published - 1, in percent"),
        "error_points": ("float, percentage points", "vsim - published, in percentage points"),
        "source": ("str", "where the published figures come from"),
    },
    "io_efficiency": {
        "platform": ("str", "profile"),
        "io_kib": ("float, KiB", "request size"),
        "queue_depth": ("int", "requests in flight"),
        "native_iops": ("float, 1/s", "simulated requests per second on the bare host"),
        "guest_iops": ("float, 1/s", "simulated requests per second in the guest"),
        "efficiency": ("float, 0-1", "native time / guest time"),
    },
}

#: source: Felter et al. 2014, STREAM triad on two sockets, 45.60 GB/s native.
MEMORY_BANDWIDTH_GB_S = 45.6
#: source: Felter et al. 2014, RandomAccess on one socket (8 threads), 0.0458 GUPS
#: natively: 8 / 0.0458e9 s = 174.7 ns per update per thread (a DRAM miss each).
UPDATE_NS = 8 / 0.0458e9 * 1e9

#: Felter et al. 2014's server (IBM x3650 M4): 2 x 8 cores at 3.1 GHz; fio
#: 806.9 / 751.0 MB/s sequential read / write, 84,044 / 112,034 random 4 KB
#: read / write IOPS (raw data github thewmf/kvm-docker-comparison
#: fio/results/linux.log); 10 GbE; netperf TCP_RR 37.6 us.
FELTER_HOST: dict[str, Any] = {
    "name": "felter-x3650",
    "cores": 16,
    "core_speed": 1.0,
    "memory_gib": 256,
    "disk": {"capacity_gib": 1000, "read_mb_s": 806.9, "write_mb_s": 751.0,
             "random_read_iops": 84_044, "random_write_iops": 112_034},
    "network_gbit_s": 10,
    "network_rtt_us": 37.6,
}

#: Agache et al. NSDI 2020's m5d.metal (nsdi2020-data): fio 4 KiB random read at
#: queue depth 1 on the bare NVMe, 16,473 IOPS; 48 logical CPUs; iperf3 one
#: stream 44.1 Gbps on the host. vsim's disk serves one request alone in
#: 1 / IOPS, so the QD1 figure is the disk's random IOPS here.
M5D_HOST: dict[str, Any] = {
    "name": "m5d-metal",
    "cores": 48,
    "core_speed": 1.0,
    "memory_gib": 384,
    "disk": {"capacity_gib": 900, "read_mb_s": 1_400, "write_mb_s": 1_000,
             "random_read_iops": 16_473, "random_write_iops": 16_473},
    "network_gbit_s": 44.1,
    "network_rtt_us": 37.6,
}


def mixes_for(cores: int) -> dict[str, OperationMix]:
    """Felter et al.'s benchmarks (and Agache et al.'s QD1 read) as operation mixes on a host of ``cores``.

    Sizes are small (the ratio, not the absolute time, is the result); the
    shapes follow the benchmarks' configurations in the raw-data repository
    (fio/short.fio, fio/quick.fio, fio/mixed.fio).
    """
    return {
        "linpack": OperationMix(
            "linpack", "Linpack: one floating-point thread per core, its time in vector (SIMD) kernels "
            "(assumption: all of it, HPL's DGEMM)", threads=cores, cpu_s=10.0, vector_share=1.0),
        "stream": OperationMix(
            "stream", "STREAM triad: one thread per core streaming memory", threads=cores, memory_gb=2.0),
        "randomaccess": OperationMix(
            "randomaccess", "RandomAccess (GUPS): one socket's threads, each update a DRAM and a TLB miss",
            threads=max(1, cores // 2), random_updates=2e6, update_ns=UPDATE_NS),
        "fio_seq_read": OperationMix(
            "fio_seq_read", "fio sequential read, 1 MiB requests, 2 in flight (seq-read-2)",
            io_requests=512, io_kib=1024, io_pattern="sequential", queue_depth=2),
        "fio_seq_write": OperationMix(
            "fio_seq_write", "fio sequential write, 1 MiB requests, 16 in flight (sequential-fill)",
            io_requests=512, io_kib=1024, io_pattern="sequential", write_share=1.0, queue_depth=16),
        "fio_rand_read": OperationMix(
            "fio_rand_read", "fio random read, 4 KiB, 8 jobs x 16 in flight (random-read-16x8)",
            io_requests=40_000, io_kib=4, queue_depth=128),
        "fio_rand_write": OperationMix(
            "fio_rand_write", "fio random write, 4 KiB, 8 jobs x 16 in flight (random-write-16x8)",
            io_requests=40_000, io_kib=4, write_share=1.0, queue_depth=128),
        "fio_rand_mixed": OperationMix(
            "fio_rand_mixed", "fio random 70% read / 30% write, 4 KiB, 8 jobs x 32 in flight (mixed-random-rw-32x8)",
            io_requests=40_000, io_kib=4, write_share=0.3, queue_depth=256),
        "fio_qd1_read": OperationMix(
            "fio_qd1_read", "fio random read, 4 KiB, one request in flight (Agache et al.'s test)",
            io_requests=4_000, io_kib=4, queue_depth=1),
        "netperf_rr": OperationMix(
            "netperf_rr", "netperf TCP_RR: 1-byte request and response, one at a time (~100 B with headers)",
            round_trips=1_000, message_kib=0.1),
        "nuttcp_bulk": OperationMix(
            "nuttcp_bulk", "nuttcp bulk TCP, 64 KiB segments (TSO), 16 in flight",
            bulk_mb=500.0, segment_kib=64, window=16),
    }


#: The suite in every comparison; each mix's name.
SUITE = tuple(mixes_for(1))

#: The rows of ``vsim compare``: key -> (mix, what it stands for).
BENCHMARKS: dict[str, tuple[str, str]] = {
    "cpu": ("linpack", "Linpack-like: vector floating point, one thread per core"),
    "memory_bandwidth": ("stream", "STREAM-like: one streaming thread per core"),
    "memory_random": ("randomaccess", "RandomAccess-like: random updates, a TLB miss each"),
    "disk_sequential": ("fio_seq_read", "fio-like: 1 MiB sequential reads, 2 in flight"),
    "disk_random": ("fio_rand_read", "fio-like: 4 KiB random reads, 128 in flight"),
    "network_latency": ("netperf_rr", "netperf TCP_RR-like: 1-byte request/response round trips"),
    "network_bandwidth": ("nuttcp_bulk", "nuttcp-like: bulk TCP in 64 KiB segments"),
}

#: The overhead fields each mix's result depends on (for the assumption marker).
DEPENDS: dict[str, tuple[str, ...]] = {
    "linpack": ("exit_cpu_share", "vector_width"),
    "stream": ("exit_cpu_share", "tlb_miss_ns"),
    "randomaccess": ("exit_cpu_share", "tlb_miss_ns"),
    **{k: ("io_request_us", "io_copy_us_per_mb", "io_page_us", "syscall_us")
       for k in ("fio_seq_read", "fio_seq_write", "fio_rand_read", "fio_rand_write", "fio_rand_mixed",
                 "fio_qd1_read")},
    "netperf_rr": ("packet_us", "net_copy_us_per_mb", "syscall_us"),
    "nuttcp_bulk": ("packet_us", "net_copy_us_per_mb", "syscall_us"),
}


def _has_disk_path(profile: Profile, c: dict[str, float]) -> bool:
    # A VM or microVM reaches the disk through a virtual device; a container or
    # process through the host kernel (a path only if it costs something: gVisor's Gofer).
    return profile.guest_kind in ("vm", "microvm") or c["io_request_us"] + c["io_copy_us_per_mb"] > 0


def _has_net_path(profile: Profile, c: dict[str, float]) -> bool:
    return profile.guest_kind in ("vm", "microvm") or c["packet_us"] + c["net_copy_us_per_mb"] > 0


def _run(profile: Profile, host: dict[str, Any], mixes: dict[str, OperationMix], seed: int,
         overhead: dict[str, float] | None = None) -> dict[str, float]:
    """Durations (s) of each mix run one after another in one guest given the whole machine."""
    cores = int(host["cores"])
    shape = shape_for(profile, {"vcpus": cores})
    sc = build_scenario(profile, host, shape, 1, name=f"bench-{profile.name}", seed=seed)
    c = overhead if overhead is not None else costs(profile.overhead)
    out: dict[str, float] = {}

    class Suite(Mechanism):
        """Runs the mixes inside the guest once it is ready."""

        def ready(self, g):
            h = g.host
            env = self.world.env
            membw = FairShare(env, MEMORY_BANDWIDTH_GB_S, job_cap=CORE_MEMORY_GB_S, name=f"{h.name}.membw")
            r = MixResources(
                env=env, cpu=h.cpu, memory=membw, disk=h.disk, nic=h.nic, disk_s=h.disk_seconds,
                rtt_s=float(sc.hosts[0].network_rtt_us) * 1e-6,
                disk_path=simpy.Resource(env, 1) if _has_disk_path(profile, c) else None,
                net_path=simpy.Resource(env, 1) if _has_net_path(profile, c) else None)

            def suite():
                for key, mix in mixes.items():
                    r.times = {}
                    t0 = env.now
                    yield from run_mix(r, mix, c)
                    out[key] = env.now - t0

            env.process(suite())

    World(sc, mechanisms=[*for_scenario(sc), Suite()]).run()
    return out


def native_times(host: Any = None, mixes: dict[str, OperationMix] | None = None) -> dict[str, float]:
    """Durations (s) of the mixes on the bare host (the ``native`` profile)."""
    h = resolve_host(host)
    return _run(load_profile("native"), h, mixes or mixes_for(int(h["cores"])), seed=0)


def run_benchmarks(profile: Profile, host: Any = None, seed: int = 0,
                   native: dict[str, float] | None = None,
                   mixes: dict[str, OperationMix] | None = None,
                   overhead: dict[str, float] | None = None) -> dict[str, float]:
    """Score of each mix, native time / guest time (1.0 = native speed).

    ``native`` may pass the native times already measured on the same host;
    ``overhead`` replaces the profile's per-operation costs (a what-if).
    NaN if the guest could not be placed (the host is too small for it).
    """
    h = resolve_host(host)
    mixes = mixes or mixes_for(int(h["cores"]))
    nat = native if native is not None else native_times(h, mixes)
    got = _run(profile, h, mixes, seed, overhead)
    return {k: (nat[k] / got[k]) if k in got and got[k] > 0 else math.nan for k in mixes}


#: Felter et al.'s table (and Agache et al.'s QD1 read): row -> (mix, platform, host, published score, source).
PUBLISHED: tuple[tuple[str, str, str, float, str], ...] = (
    ("Linpack (tuned)", "linpack", "kvm", 284.2 / 290.8, "Felter et al. 2014: 284.2 vs 290.8 GFLOPS"),
    ("Linpack (untuned: no AVX)", "linpack", "kvm-baseline-cpu", 130.3 / 290.8,
     "Felter et al. 2014: 130.3 vs 290.8 GFLOPS"),
    ("STREAM triad", "stream", "kvm", 45.02 / 45.60, "Felter et al. 2014: 45.02 vs 45.60 GB/s"),
    ("RandomAccess", "randomaccess", "kvm", 0.0394 / 0.0458, "Felter et al. 2014: 0.0394 vs 0.0458 GUPS"),
    ("fio sequential read", "fio_seq_read", "kvm", 801.9 / 806.9, "Felter et al. 2014: 801.9 vs 806.9 MB/s"),
    ("fio sequential write", "fio_seq_write", "kvm", 740.2 / 751.0, "Felter et al. 2014: 740.2 vs 751.0 MB/s"),
    ("fio random read", "fio_rand_read", "kvm", 46_173 / 84_044, "Felter et al. 2014: 46,173 vs 84,044 IOPS"),
    ("fio random write", "fio_rand_write", "kvm", 59_321 / 112_034, "Felter et al. 2014: 59,321 vs 112,034 IOPS"),
    ("fio random 70:30", "fio_rand_mixed", "kvm", 50_737 / 104_553, "Felter et al. 2014: 50,737 vs 104,553 IOPS"),
    ("netperf TCP_RR", "netperf_rr", "kvm", 37.6 / 67.9, "Felter et al. 2014: 67.9 vs 37.6 us"),
    ("nuttcp bulk", "nuttcp_bulk", "kvm", 9.29 / 9.35, "Felter et al. 2014: 9.29 vs 9.35 Gbps"),
    ("Linpack", "linpack", "docker", 290.9 / 290.8, "Felter et al. 2014: 290.9 vs 290.8 GFLOPS"),
    ("STREAM triad", "stream", "docker", 45.63 / 45.60, "Felter et al. 2014: 45.63 vs 45.60 GB/s"),
    ("RandomAccess", "randomaccess", "docker", 0.0457 / 0.0458, "Felter et al. 2014: 0.0457 vs 0.0458 GUPS"),
    ("fio sequential read", "fio_seq_read", "docker", 806.7 / 806.9, "Felter et al. 2014: 806.7 vs 806.9 MB/s"),
    ("fio sequential write", "fio_seq_write", "docker", 752.3 / 751.0, "Felter et al. 2014: 752.3 vs 751.0 MB/s"),
    ("nuttcp bulk (NAT)", "nuttcp_bulk", "docker", 9.33 / 9.35, "Felter et al. 2014: 9.33 vs 9.35 Gbps"),
    ("fio random read, QD1", "fio_qd1_read", "firecracker", 8_444 / 16_473,
     "Agache et al. NSDI 2020 raw data: 8,444 vs 16,473 IOPS (m5d.metal)"),
)


def _platform(name: str) -> tuple[Profile, dict[str, float]]:
    """A platform of the published table and its costs; ``kvm-baseline-cpu`` is
    KVM with QEMU's baseline CPU model (vector width halved: no AVX)."""
    if name == "kvm-baseline-cpu":
        p = load_profile("kvm")
        c = costs(p.overhead)
        c["vector_width"] = 0.5
        return p, c
    p = load_profile(name)
    return p, costs(p.overhead)


def felter_table(seed: int = 0) -> pd.DataFrame:
    """Published scores beside the model's, one row per published figure.

    Columns: ``row``, ``platform``, ``host``, ``published``, ``vsim``,
    ``error_pct`` (relative), ``error_points`` (percentage points), ``source``.
    Felter's rows run on :data:`FELTER_HOST`, the QD1 read on :data:`M5D_HOST`.
    """
    rows = []
    natives: dict[str, dict[str, float]] = {}
    runs: dict[tuple[str, str], dict[str, float]] = {}
    for label, mix, plat, pub, src in PUBLISHED:
        host = M5D_HOST if mix == "fio_qd1_read" else FELTER_HOST
        hn = host["name"]
        mixes = mixes_for(int(host["cores"]))
        if hn not in natives:
            natives[hn] = native_times(host, mixes)
        if (plat, hn) not in runs:
            prof, c = _platform(plat)
            runs[(plat, hn)] = run_benchmarks(prof, host, seed=seed, native=natives[hn], mixes=mixes, overhead=c)
        got = runs[(plat, hn)][mix]
        rows.append({"row": label, "platform": plat, "host": hn, "published": pub, "vsim": got,
                     "error_pct": 100 * (got / pub - 1), "error_points": 100 * (got - pub), "source": src})
    return pd.DataFrame(rows)


def io_efficiency(profile: Profile | str, io_kib: tuple[float, ...] = (4, 16, 64, 256, 1024),
                  queue_depth: tuple[int, ...] = (1, 4, 32), host: Any = None,
                  pattern: str = "random", requests: Callable[[float], int] | None = None) -> pd.DataFrame:
    """Random (or sequential) reads of each size at each queue depth: guest IOPS
    over native IOPS. One row per (``io_kib``, ``queue_depth``) with
    ``native_iops``, ``guest_iops`` and ``efficiency``."""
    prof = load_profile(profile) if isinstance(profile, str) else profile
    h = resolve_host(host if host is not None else FELTER_HOST)
    rows = []
    mixes = {}
    for kib in io_kib:
        for qd in queue_depth:
            n = requests(kib) if requests else max(64, int(20_000 * 4 / kib))
            mixes[f"{kib}-{qd}"] = OperationMix(f"read {kib} KiB QD{qd}", io_requests=n, io_kib=float(kib),
                                                io_pattern=pattern, queue_depth=qd)  # type: ignore[arg-type]
    nat = native_times(h, mixes)
    got = _run(prof, h, mixes, seed=0)
    for key, mix in mixes.items():
        rows.append({"platform": prof.name, "io_kib": mix.io_kib, "queue_depth": mix.queue_depth,
                     "native_iops": mix.io_requests / nat[key], "guest_iops": mix.io_requests / got[key],
                     "efficiency": nat[key] / got[key]})
    return pd.DataFrame(rows)
