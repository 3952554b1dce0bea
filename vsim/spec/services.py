"""Scenario fields for running workloads: services, stress, cgroup limits, writes.

These are the typed, validated pieces of a workload that say what a guest
*does* once it is running (the model that runs them is :mod:`vsim.mechanisms.services`
and :mod:`vsim.mechanisms.cgroups`). They live in their own module so that
:mod:`vsim.spec.scenario` only has to hang them on :class:`~vsim.spec.scenario.Workload`.

A workload can have

* ``service``: requests arrive (Poisson at a fixed rate, one every ``1/rate``
  seconds, or a Poisson rate that changes over time) and each one is served by
  a worker: CPU seconds (exponential or fixed), disk I/O (random 4 KB reads or
  a sequential read), network round trips and bytes; every part runs on the
  host's shared CPU, disk and NIC;
* ``stress``: busy threads that saturate CPU, disk or network (a noisy
  neighbour, like ``stress-ng``);
* ``limits``: the container's cgroup: CPU quota (cores per CFS period),
  CPU weight (its share under contention), memory limit, pids limit;
* ``memory_use``: how much memory the application really touches (resident
  size, a leak per second, memory per request in flight), which a memory limit
  is checked against;
* ``writes``: data (logs) written while running, to the container's writable
  layer or to a volume;
* ``inside``: the VM platform a container runs in (containers in VMs).

Units are in the field names, as everywhere in vsim.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vsim.spec.errors import brief
from vsim.spec.fields import NonNegative, Positive, StrictModel

__all__ = [
    "ServicePoisson",
    "ServiceFixed",
    "ServiceTrace",
    "RatePoint",
    "DiskIO",
    "Service",
    "Stress",
    "Limits",
    "MemoryUse",
    "Writes",
]


class ServicePoisson(StrictModel):
    """Requests arrive one by one with exponential gaps of mean ``1/rate_per_s``."""

    type: Literal["poisson"]
    rate_per_s: Positive


class ServiceFixed(StrictModel):
    """Deterministic arrivals: one request every ``1/rate_per_s`` seconds, the
    first one ``1/rate_per_s`` after the guest is ready (a D/D/1 or D/M/1 queue;
    handy for exact timelines)."""

    type: Literal["fixed"]
    rate_per_s: Positive


class RatePoint(StrictModel):
    """From ``at_s`` (seconds after the guest is ready) on, requests arrive at ``rate_per_s``."""

    at_s: NonNegative
    rate_per_s: NonNegative


class ServiceTrace(StrictModel):
    """A Poisson arrival rate that changes over time (piecewise constant).

    Give the points inline (``rates: [{at_s: 0, rate_per_s: 10}, ...]``) or as a
    CSV file with the columns ``at_s,rate_per_s`` (``path:``, relative to the
    scenario file's folder, else to the current folder). The last rate holds until the guest stops.
    """

    type: Literal["trace"]
    rates: list[RatePoint] = Field(default_factory=list)
    path: str | None = None

    @model_validator(mode="after")
    def _points(self) -> ServiceTrace:
        if bool(self.rates) == bool(self.path):
            raise ValueError("give either 'rates' (a list of {at_s, rate_per_s}) or 'path' (a CSV file), not both or neither")
        if self.path:
            object.__setattr__(self, "rates", _read_trace(self.path))
        times = [p.at_s for p in self.rates]
        if times != sorted(times):
            raise ValueError("rates: at_s must increase from one point to the next")
        return self


def _read_trace(path: str) -> list[RatePoint]:
    from vsim.spec.errors import ScenarioError
    from vsim.spec.yamlio import read_text_file

    try:
        text = read_text_file(path, "a CSV file with columns at_s,rate_per_s")
    except ScenarioError as exc:
        raise ValueError(f"path: {exc}") from None
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        pts = [RatePoint(at_s=float(r["at_s"]), rate_per_s=float(r["rate_per_s"])) for r in rows]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"path: {brief(path)} is not a CSV with numeric columns at_s,rate_per_s ({exc})") from None
    if not pts:
        raise ValueError(f"path: {brief(path)} has no rows")
    return pts


ServiceArrivals = Annotated[ServicePoisson | ServiceFixed | ServiceTrace, Field(discriminator="type")]


class DiskIO(StrictModel):
    """The disk part of one request.

    ``random``: ``ops`` random 4 KB reads, costing ``ops / random_read_iops`` of
    the host disk's time; ``sequential``: ``read_mb`` read at ``read_mb_s``.
    """

    pattern: Literal["random", "sequential"]
    ops: NonNegative = 0.0
    read_mb: NonNegative = 0.0

    @model_validator(mode="after")
    def _shape(self) -> DiskIO:
        if self.pattern == "random" and self.read_mb:
            raise ValueError("read_mb: random I/O is counted in ops (4 KB reads); use ops")
        if self.pattern == "sequential" and self.ops:
            raise ValueError("ops: sequential I/O is counted in read_mb; use read_mb")
        return self


class Service(StrictModel):
    """A service that serves requests, one worker thread per request in service.

    ``workers``: how many requests are served at once; the others wait in a
    first-come-first-served queue (a thread pool). ``null`` starts a thread for
    every request (no queue: the CPU is processor-shared between them).
    """

    arrivals: ServiceArrivals
    workers: Annotated[int, Field(ge=1, le=100_000)] | None = 1
    cpu_s: NonNegative = 0.0
    cpu_distribution: Literal["exponential", "fixed"] = "exponential"
    disk: DiskIO | None = None
    round_trips: Annotated[int, Field(ge=0, le=10_000)] = 0
    net_mb: NonNegative = 0.0
    warmup_s: NonNegative = Field(default=0.0, description="requests arriving earlier than this after ready are not recorded")

    @model_validator(mode="after")
    def _work(self) -> Service:
        if not (self.cpu_s or self.disk or self.round_trips or self.net_mb):
            raise ValueError("a service needs some work per request: cpu_s, disk, round_trips or net_mb")
        return self


class Stress(StrictModel):
    """Busy threads that saturate a resource (a noisy neighbour)."""

    cpu_threads: Annotated[int, Field(ge=0, le=100_000)] = 0
    disk_threads: Annotated[int, Field(ge=0, le=100_000)] = 0
    net_threads: Annotated[int, Field(ge=0, le=100_000)] = 0
    forks: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        default=0, description="processes a fork bomb creates and keeps (they hold pids, not CPU): a container's "
                               "count against the host's pid_max unless pids.max stops them; a VM's stay in its kernel")


class Limits(StrictModel):
    """A container's (or native process's) cgroup.

    ``cpu_cores``: CFS bandwidth quota, in cores (``cpu.max`` = cores x period
    per period); ``cpu_weight``: ``cpu.weight`` (cgroup v2, 1..10000, default
    100; v1's ``cpu.shares`` = weight x 1024 / 100): under contention the
    container's threads together get CPU in proportion to it
    (:mod:`vsim.engine.weighted`); ``memory_mib``: ``memory.max``, beyond which the kernel's OOM
    killer ends the container; ``pids``: ``pids.max``, the most tasks
    (processes and threads) it may have.
    """

    cpu_cores: Annotated[float, Field(gt=0, le=100_000)] | None = None
    cpu_period_s: Annotated[float, Field(gt=0, le=1.0)] = 0.1
    cpu_weight: Annotated[int, Field(ge=1, le=10_000)] | None = None
    memory_mib: Positive | None = None
    pids: Annotated[int, Field(ge=1, le=4_194_304)] | None = None


class MemoryUse(StrictModel):
    """Memory the application really uses (checked against its memory limit)."""

    resident_mib: NonNegative = 0.0
    growth_mib_s: NonNegative = Field(default=0.0, description="a leak: MiB more every second")
    per_request_mib: NonNegative = Field(default=0.0, description="held by each request in flight")


class Writes(StrictModel):
    """Data (logs, uploads) written while the guest runs."""

    mb_s: Positive
    to: Literal["writable-layer", "volume"] = "writable-layer"
