"""Virtualization overhead as a cost per operation, and workloads as operation mixes.

"VMs are slower than containers" is not one percentage. A guest pays for the
*operations* it does: every disk request crosses the virtual disk's path (a
doorbell exit, the device model, a completion interrupt), every packet the
virtual NIC's path (virtio-net and vhost, a NAT rule, a bridge), every TLB miss
a two-dimensional page walk, every busy vCPU second a few percent of exits. A
workload is a *mix* of operations, and its slowdown follows from the mix:

* large, few operations (a 1 MiB sequential read, a 64 KiB TCP segment, a
  floating-point kernel) pay the per-operation cost rarely next to their
  native cost, so they run **near native** (接近原生);
* small, many operations (4 KiB random reads, 100-byte round trips, random
  memory updates) pay it on every one, so they run **weaker** (弱于原生).

The costs are the platform's :class:`~vsim.spec.profile.Overhead` (profile
data, each with its source or assumption). :func:`run_mix` runs an
:class:`OperationMix` as SimPy processes on a host's fair-share resources, so
contention (other guests on the disk, the NIC, the memory bus) acts on it
like on everything else:

``cpu``
    ``cpu_s`` native core-seconds per thread, as one job per thread on the CPU
    fair share; the share ``vector_share`` in SIMD code needs ``1 /
    vector_width`` times the instructions; all of it runs at ``1 -
    exit_cpu_share`` of native speed.
``memory``
    ``memory_gb`` streamed per thread through the memory-bandwidth fair share
    (each thread at most :data:`CORE_MEMORY_GB_S`), with a stall of
    ``tlb_miss_ns`` per 4 KiB page and the exits' share between chunks: stalls
    are hidden as long as the other threads keep the memory bus busy.
    ``random_updates`` per thread each cost ``update_ns`` natively plus a TLB
    miss (no other thread can hide a dependent miss).
``disk``
    ``io_requests`` of ``io_kib`` in ``queue_depth`` streams. Natively each
    request takes its share of the device (``Host.disk_seconds``). In a guest
    with a virtual disk path, a request first spends ``io_page_us`` per page
    and ``syscall_us`` per call in its stream (off the path, overlapped with
    other streams), then holds the path for ``io_request_us`` plus its
    ``io_copy_us_per_mb`` and through the device's service: the path serves one
    request at a time, so it adds to every request's time.
``network``
    ``round_trips`` request/response exchanges of ``message_kib`` over the
    host's native round trip: each message holds the network path for
    ``packet_us``. ``bulk_mb`` in segments of ``segment_kib``, ``window``
    segments in flight: each holds the path for ``packet_us`` plus its
    ``net_copy_us_per_mb`` and then crosses the NIC; the path and the wire
    overlap, so a bulk transfer is slowed only if the path is slower than
    the wire.

Why the disk path holds the request through the device and the network path
does not: fitted that way, one ``io_request_us`` gives Felter et al.'s three
random-I/O rows (read, write, 70:30) within 7.5%; overlapped with the device
it would miss the write row by 22%. The network path overlapped with the wire
gives Felter's bulk throughput (0.6% below native) with the same per-packet
cost that doubles a round trip. ``tests/test_overhead.py`` checks exact
timelines of each part;
:func:`vsim.experiments.microbench.felter_table` holds the model against the
published tables.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from vsim.engine.fairshare import FairShare
from vsim.spec.profile import Overhead

__all__ = ["OperationMix", "MixResources", "run_mix", "costs", "add_costs", "request_s", "packet_hold_s",
           "CORE_MEMORY_GB_S", "PAGE_KIB", "MB_PER_KIB", "SEGMENT_KIB", "MESSAGE_KIB", "NO_OVERHEAD"]

#: assumption: one core streams at most ~8 GB/s (its line-fill buffers bound the
#: misses it keeps in flight); a many-core STREAM run is bound by the memory
#: bus, not by this.
CORE_MEMORY_GB_S = 8.0
#: The page size of TLB reach and of a request's scatter-gather list.
PAGE_KIB = 4.0
#: Memory is streamed in this many chunks per thread (the stalls come between).
MEMORY_CHUNKS = 32
#: The MB in a KiB (requests are sized in KiB, disks and NICs in MB/s).
MB_PER_KIB = 1024 / 1e6
#: A TCP segment of a bulk transfer (TSO/GSO hand the NIC 64 KiB at a time).
SEGMENT_KIB = 64.0
#: A request/response message of one byte: ~100 bytes with TCP/IP and Ethernet headers.
MESSAGE_KIB = 0.1

#: Costs of the bare host: every field 0 and vector width 1.
NO_OVERHEAD: dict[str, float] = {
    "exit_cpu_share": 0.0, "vector_width": 1.0, "tlb_miss_ns": 0.0, "io_request_us": 0.0,
    "io_copy_us_per_mb": 0.0, "io_page_us": 0.0, "packet_us": 0.0, "net_copy_us_per_mb": 0.0,
    "syscall_us": 0.0,
}


@dataclass(frozen=True)
class OperationMix:
    """What a workload does, in operations; every field defaults to none of it."""

    name: str
    description: str = ""
    threads: int = 1
    cpu_s: float = 0.0
    vector_share: float = 0.0
    memory_gb: float = 0.0
    random_updates: float = 0.0
    update_ns: float = 0.0
    io_requests: int = 0
    io_kib: float = 4.0
    io_pattern: Literal["random", "sequential"] = "random"
    write_share: float = 0.0
    queue_depth: int = 1
    syscalls_per_io: float = 1.0
    round_trips: int = 0
    message_kib: float = MESSAGE_KIB
    bulk_mb: float = 0.0
    segment_kib: float = SEGMENT_KIB
    window: int = 16
    syscalls_per_message: float = 1.0

    def __post_init__(self) -> None:
        for f in ("threads", "queue_depth", "window"):
            v = getattr(self, f)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{f}: must be a whole number >= 1, got {v!r}")
        for f in ("cpu_s", "memory_gb", "random_updates", "update_ns", "io_kib", "message_kib",
                  "bulk_mb", "segment_kib", "syscalls_per_io", "syscalls_per_message"):
            v = getattr(self, f)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{f}: must be a finite number >= 0, got {v!r}")
        for f in ("io_kib", "message_kib", "segment_kib"):
            if not getattr(self, f) > 0:
                raise ValueError(f"{f}: a size must be > 0 KiB, got {getattr(self, f)!r}")
        for f in ("vector_share", "write_share"):
            v = getattr(self, f)
            if not 0 <= v <= 1:
                raise ValueError(f"{f}: must be a share from 0 to 1, got {v!r}")
        if self.io_requests < 0 or self.round_trips < 0:
            raise ValueError("io_requests, round_trips: must be >= 0")


def costs(overhead: Overhead | None) -> dict[str, float]:
    """The overhead fields as plain numbers (``None``: the bare host)."""
    if overhead is None:
        return dict(NO_OVERHEAD)
    return {k: float(getattr(overhead, k).value) for k in NO_OVERHEAD}


def add_costs(inner: dict[str, float], outer: dict[str, float]) -> dict[str, float]:
    """Costs of a stack (a container inside a VM): each layer's cost is paid.

    Per-operation times add; the compute speeds multiply (exits of both layers
    take their share); the narrower vector width wins.
    """
    out = {k: inner[k] + outer[k] for k in NO_OVERHEAD}
    out["exit_cpu_share"] = 1 - (1 - inner["exit_cpu_share"]) * (1 - outer["exit_cpu_share"])
    out["vector_width"] = min(inner["vector_width"], outer["vector_width"])
    return out


@dataclass
class MixResources:
    """The host's shared resources a mix runs on, and the guest's own paths.

    ``disk_s(read_mb, write_mb, io_kib)`` is the device time of a request
    (``Host.disk_seconds``). ``disk_path`` / ``net_path`` are the guest's
    virtual device paths (one request or packet at a time); ``None`` for a
    guest without one (a container, the bare host).
    """

    env: simpy.Environment
    cpu: FairShare
    memory: FairShare
    disk: FairShare
    nic: FairShare
    disk_s: Any
    rtt_s: float
    disk_path: simpy.Resource | None = None
    net_path: simpy.Resource | None = None
    times: dict[str, float] = field(default_factory=dict)


def request_s(c: dict[str, float], io_kib: float, syscalls: float = 1.0) -> tuple[float, float]:
    """One disk request's time in a guest beyond the device, in seconds:
    ``(driver, hold)``. The driver's part (its pages' ``io_page_us`` and the
    system calls) runs in the request's own stream; the hold (``io_request_us``
    and the copy) on the virtual disk's path, one request at a time."""
    driver = (io_kib / PAGE_KIB * c["io_page_us"] + syscalls * c["syscall_us"]) * 1e-6
    hold = (c["io_request_us"] + io_kib * MB_PER_KIB * c["io_copy_us_per_mb"]) * 1e-6
    return driver, hold


def packet_hold_s(c: dict[str, float], kib: float) -> float:
    """One packet's (or segment's) time on the guest's network path, in seconds."""
    return (c["packet_us"] + kib * MB_PER_KIB * c["net_copy_us_per_mb"]) * 1e-6


def _compute(r: MixResources, mix: OperationMix, c: dict[str, float]) -> Generator:
    env = r.env
    speed = 1.0 - c["exit_cpu_share"]
    work = mix.cpu_s * ((1 - mix.vector_share) + mix.vector_share / c["vector_width"])
    work += mix.random_updates * (mix.update_ns + c["tlb_miss_ns"]) * 1e-9
    if work > 0:
        yield env.all_of([r.cpu.use(work / speed) for _ in range(mix.threads)])


def _stream(r: MixResources, mix: OperationMix, c: dict[str, float]) -> Generator:
    env = r.env
    chunk = mix.memory_gb / MEMORY_CHUNKS
    pages = chunk * 1e9 / 1024 / PAGE_KIB  # 4 KiB pages in a chunk
    exit_stall = chunk / CORE_MEMORY_GB_S * c["exit_cpu_share"] / (1.0 - c["exit_cpu_share"])
    stall = pages * c["tlb_miss_ns"] * 1e-9 + exit_stall
    n = mix.threads

    def thread(i: int) -> Generator:
        # Threads stall at different moments (a real run's misses are not in
        # lockstep): thread i takes the share i / n of its first stall up front
        # and the rest at its end, so the others stream while it stalls.
        lead = stall * i / n
        if lead > 0:
            yield env.timeout(lead)
        for k in range(MEMORY_CHUNKS):
            yield r.memory.use(chunk)
            rest = stall - lead if k == MEMORY_CHUNKS - 1 else stall
            if rest > 0:
                yield env.timeout(rest)

    if mix.memory_gb > 0:
        yield env.all_of([env.process(thread(i)) for i in range(n)])


def _disk(r: MixResources, mix: OperationMix, c: dict[str, float]) -> Generator:
    env = r.env
    mb = mix.io_kib * MB_PER_KIB
    io_kib = mix.io_kib if mix.io_pattern == "random" else None
    d_read = r.disk_s(mb, 0.0, io_kib)
    d_write = r.disk_s(0.0, mb, io_kib)
    before, hold = request_s(c, mix.io_kib, mix.syscalls_per_io)
    path = r.disk_path
    # Reads and writes interleave in the mix's proportion (a stride pattern, not random draws).
    writes = [math.floor((i + 1) * mix.write_share) - math.floor(i * mix.write_share) == 1
              for i in range(mix.io_requests)]

    def stream(mine: list[bool]) -> Generator:
        for is_write in mine:
            if before > 0:
                yield env.timeout(before)
            d = d_write if is_write else d_read
            if path is None:
                yield r.disk.use(d)
                continue
            with path.request() as req:
                yield req
                if hold > 0:
                    yield env.timeout(hold)
                yield r.disk.use(d)

    if mix.io_requests:
        q = min(mix.queue_depth, mix.io_requests)
        yield env.all_of([env.process(stream(writes[i::q])) for i in range(q)])


def _through_path(r: MixResources, hold: float) -> Generator:
    if r.net_path is None or hold <= 0:
        return
    with r.net_path.request() as req:
        yield req
        yield r.env.timeout(hold)


def _network(r: MixResources, mix: OperationMix, c: dict[str, float]) -> Generator:
    env = r.env
    sys_s = mix.syscalls_per_message * c["syscall_us"] * 1e-6
    msg_mb = mix.message_kib * MB_PER_KIB
    msg_hold = packet_hold_s(c, mix.message_kib)
    for _ in range(mix.round_trips):
        if sys_s > 0:
            yield env.timeout(sys_s)
        yield from _through_path(r, msg_hold)
        yield r.nic.use(msg_mb)
        yield env.timeout(r.rtt_s)
        yield r.nic.use(msg_mb)
        yield from _through_path(r, msg_hold)
        if sys_s > 0:
            yield env.timeout(sys_s)
    if mix.bulk_mb > 0:
        seg_mb = mix.segment_kib * MB_PER_KIB
        n = max(1, round(mix.bulk_mb / seg_mb))
        seg_hold = packet_hold_s(c, mix.segment_kib)

        def sender(k: int) -> Generator:
            for _ in range(k):
                if sys_s > 0:
                    yield env.timeout(sys_s)
                yield from _through_path(r, seg_hold)
                yield r.nic.use(seg_mb)

        w = min(mix.window, n)
        base, extra = divmod(n, w)
        yield env.all_of([env.process(sender(base + (1 if i < extra else 0))) for i in range(w)])


PARTS = ("cpu", "memory", "disk", "network")


def run_mix(r: MixResources, mix: OperationMix, c: dict[str, float]) -> Generator:
    """Run ``mix`` with per-operation costs ``c`` (:func:`costs`); the parts one
    after another. Records each part's duration (s) in ``r.times``."""
    env = r.env
    for part, gen in zip(PARTS, (_compute, _stream, _disk, _network), strict=True):
        t0 = env.now
        yield from gen(r, mix, c)
        r.times[part] = r.times.get(part, 0.0) + env.now - t0
