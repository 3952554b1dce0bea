"""What a run will cost, worked out before it starts.

A scenario can be perfectly valid and still never finish: a cgroup CPU period
of a nanosecond over ten minutes is 6e11 throttling checks; a service asked
for a billion requests a second, a consolidation pass every microsecond, a
host failing every microsecond. Each field is fine on its own; together they
are more events than any machine will process. :func:`estimate` counts, from
the validated scenario alone, the guests, hosts, requests and periodic events
(cgroup periods, consolidation checks, failure and retry timers) over the
simulated time, and the memory their records take; :func:`check_budget`
refuses a run whose estimate exceeds the budget (:data:`MAX_EVENTS`,
:data:`MAX_MEMORY_MB`) with one message naming the fields that make it
large, before anything is built. ``vsim run --allow-large`` (the API's
``allow_large=True``) lifts the budget deliberately.

The numbers are estimates from the model's own structure (every guest
passes its start phases, a service's requests arrive at their rate for as
long as the guest lives, a quota is enforced once per period, a migration
streams in 1 s chunks), calibrated on the benchmarks: about 30 SimPy events
and 3 KB per guest lifecycle, 12 KB and the time of 100 events per host, 8 events and 300 bytes per
request (``benchmarks/bench_scaling.py`` measured 1,000,000 lifecycles in
130 s and 1.98 GB). They are meant to catch orders of magnitude, not to
predict: on every shipped scenario the estimate is within 10x of the events
the run takes (``tests/test_cost.py``), while the runs it refuses are 1,000x
and more over the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vsim.spec.errors import ScenarioError

__all__ = ["Estimate", "estimate", "check_budget", "refuse_if_over", "MAX_EVENTS", "MAX_MEMORY_MB", "EVENTS_PER_S"]

#: The most SimPy events a run may be expected to take without --allow-large (a few minutes).
MAX_EVENTS = 1e8
#: The most memory (MB) a run's records may be expected to take without --allow-large.
MAX_MEMORY_MB = 4096.0
#: Events per second of wall time, for the time estimate (lifecycles run at 1-2 M/s, services at 0.2 M/s).
EVENTS_PER_S = 5e5

_EVENTS_PER_GUEST = 30.0
#: Building a run's world and tables, whatever its size: ~50 ms, the time of ~25,000 events.
RUN_OVERHEAD_WORK = 25_000.0
_WORK_PER_HOST = 100.0  # building and accounting a host costs the time of ~100 events (100,000 hosts: 19.5 s)
_MB_PER_GUEST = 3e-3
_MB_PER_HOST = 12e-3  # measured: 100,000 hosts take 1.2 GB and 19.5 s
_EVENTS_PER_REQUEST = 8.0
_MB_PER_REQUEST = 3e-4
_MB_PER_THREAD = 5e-4


@dataclass
class Estimate:
    """Upper estimates for one run: counts, SimPy ``events``, ``memory_mb``, and
    ``drivers`` (field path, events it causes, how) sorted largest first."""

    guests: int = 0
    hosts: int = 0
    horizon_s: float = 0.0
    requests: float = 0.0
    threads: float = 0.0
    events: float = 0.0
    memory_mb: float = 0.0
    work: float = 0.0
    drivers: list[tuple[str, float, str]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Wall time the run would take, at :data:`EVENTS_PER_S` (``work``: the
        events, plus building and accounting each host, worth ~100 events)."""
        return self.work / EVENTS_PER_S

    def describe(self) -> str:
        return (f"about {self.work:.2g} events' work (~{_duration(self.seconds)}) and {self.memory_mb:,.0f} MB for "
                f"{self.guests:,} guests on {self.hosts:,} hosts"
                + (f" over {_duration(self.horizon_s)} simulated" if math.isfinite(self.horizon_s) else ""))


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "for ever"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if s >= 2 * size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def _arrival_end(w: Any) -> float:
    a = w.arrivals
    kind = a.type
    if kind == "batch":
        return a.at_s
    if kind == "poisson":
        return a.start_s + 2.0 * a.count / a.rate_per_s  # well past the mean time of the last arrival
    if kind == "every":
        return a.start_s + a.count * a.interval_s
    return max(a.times_s)


def _life(w: Any, horizon: float) -> float:
    """How long one guest of ``w`` lives, at most (within ``horizon``)."""
    lt = w.lifetime
    if lt.type == "fixed":
        return min(lt.duration_s, horizon)
    if lt.type == "exponential":
        return min(lt.mean_s * (math.log(max(w.count(), 1)) + 5.0), horizon)  # the longest of count exponentials
    return horizon


def _horizon(sc: Any, until: float | None) -> float:
    if until is not None:
        return float(until)
    if sc.duration_s is not None:
        return float(sc.duration_s)
    ends = [_arrival_end(w) + _life(w, math.inf) for w in sc.workloads] or [0.0]
    return max(ends)


def estimate(sc: Any, until: float | None = None) -> Estimate:
    """The cost of running ``sc`` once, until ``until`` or its ``duration_s``
    (see the module docstring)."""
    e = Estimate()
    e.guests = sum(w.count() for w in sc.workloads)
    e.hosts = sum(h.count for h in sc.hosts)
    T = e.horizon_s = _horizon(sc, until)
    drivers: list[tuple[str, float, str]] = []
    drivers.append(("workloads (guests)", e.guests * _EVENTS_PER_GUEST, f"{e.guests:,} guests"))
    drivers.append(("hosts (count)", e.hosts * 2.0, f"{e.hosts:,} hosts"))
    for i, w in enumerate(sc.workloads):
        n = w.count()
        life = _life(w, T)
        where = f"workloads[{i}]"
        if w.service is not None:
            rates = ([p.rate_per_s for p in w.service.arrivals.rates] if w.service.arrivals.type == "trace"
                     else [w.service.arrivals.rate_per_s])
            req = n * max(rates) * life
            e.requests += req
            drivers.append((f"{where}.service.arrivals.rate_per_s", req * _EVENTS_PER_REQUEST,
                            f"{max(rates):g} requests/s for {_duration(life)} on {n:,} guest(s): {req:.2g} requests"))
        if w.limits is not None and w.limits.cpu_cores is not None and (w.service is not None or w.stress is not None):
            periods = n * life / w.limits.cpu_period_s
            drivers.append((f"{where}.limits.cpu_period_s", 2.0 * periods,
                            f"cgroup period {w.limits.cpu_period_s:g} s over {_duration(life)} on {n:,} guest(s): "
                            f"{periods:.2g} periods"))
        if w.writes is not None:  # the written data is accounted every second the guest runs
            ticks = n * life
            drivers.append((f"{where}.writes", 2.0 * ticks, f"writes counted each second for {_duration(life)} "
                            f"on {n:,} guest(s)"))
        if w.stress is not None:
            threads = n * (w.stress.cpu_threads + w.stress.disk_threads + w.stress.net_threads)
            e.threads += threads
            drivers.append((f"{where}.stress", threads * 4.0, f"{threads:,.0f} stress threads"))
    wl = {w.name: w for w in sc.workloads}
    for i, m in enumerate(sc.migrations):
        w = wl.get(m.workload)
        mem = w.memory_mib if w is not None else 0.0
        rounds = m.limits.max_rounds if m.mode == "live" else 1
        chunks = rounds * mem / m.limits.bandwidth_mib_s + (w.disk_gib * 1024 / m.limits.bandwidth_mib_s if w else 0)
        drivers.append((f"migrations[{i}]", 6.0 * chunks + 50.0,
                        f"{mem:g} MiB in 1 s chunks at {m.limits.bandwidth_mib_s:g} MiB/s, up to {rounds} round(s)"))
    if sc.consolidation is not None:
        checks = T / sc.consolidation.interval_s
        drivers.append(("consolidation.interval_s", checks * (10.0 + e.hosts),
                        f"a consolidation pass every {sc.consolidation.interval_s:g} s over {_duration(T)}: "
                        f"{checks:.2g} passes over {e.hosts:,} hosts"))
    per_host = e.guests / max(e.hosts, 1)
    failures = 0.0
    for i, h in enumerate(sc.hosts):
        if h.mtbf_s:
            f = h.count * T / h.mtbf_s
            failures += f
            drivers.append((f"hosts[{i}].mtbf_s", f * (20.0 + 10.0 * per_host),
                            f"a failure every {h.mtbf_s:g} s per host over {_duration(T)}: {f:.2g} failures"))
    failures += len(sc.failures)
    if sc.ha is not None and sc.ha.restart and failures:
        retries = min(failures * per_host, e.guests * max(failures, 1)) * sc.ha.give_up_s / sc.ha.retry_s
        drivers.append(("ha.retry_s", retries * 5.0,
                        f"HA retries every {sc.ha.retry_s:g} s for up to {sc.ha.give_up_s:g} s per failed guest: "
                        f"{retries:.2g} retries"))
    e.drivers = sorted(drivers, key=lambda d: -d[1])
    e.events = sum(d[1] for d in drivers)
    e.work = e.events + _WORK_PER_HOST * e.hosts
    e.memory_mb = (e.guests * _MB_PER_GUEST + e.hosts * _MB_PER_HOST + e.requests * _MB_PER_REQUEST
                   + e.threads * _MB_PER_THREAD)
    return e


def check_budget(sc: Any, where: str = "scenario", runs: int = 1, max_events: float = MAX_EVENTS,
                 max_memory_mb: float = MAX_MEMORY_MB, until: float | None = None) -> Estimate:
    """Refuse ``sc`` (one ``ScenarioError`` naming the fields that make it large,
    with the estimate) if one run would exceed the budget; ``runs`` multiplies
    the time (a sweep's runs share the time, not the memory: they run one by
    one in each worker). Returns the estimate."""
    e = estimate(sc, until)
    refuse_if_over(e, where, runs, max_events, max_memory_mb)
    return e


def refuse_if_over(e: Estimate, where: str = "scenario", runs: int = 1, max_events: float = MAX_EVENTS,
                   max_memory_mb: float = MAX_MEMORY_MB) -> None:
    """The refusal of :func:`check_budget`, from an estimate already made."""
    over_events = not math.isfinite(e.work) or e.work * runs > max_events
    over_memory = not math.isfinite(e.memory_mb) or e.memory_mb > max_memory_mb
    if not (over_events or over_memory):
        return
    drivers = sorted([*e.drivers, ("hosts (count)", _WORK_PER_HOST * e.hosts, f"{e.hosts:,} hosts to build")]
                     if over_events else e.drivers, key=lambda d: -d[1])
    top = [d for d in drivers if d[1] > 0][:2]
    if not math.isfinite(e.events):
        raise ScenarioError(f"duration_s: {top[0][0]} keeps the run going for ever ({top[0][2]}); set duration_s "
                            "(how long to simulate) or give the guests a lifetime", source=where)
    why = "; ".join(f"{path}: {how}" for path, _, how in top)
    limit = (f"{max_events:.2g} events" + (f" in all ({runs:,} runs)" if runs > 1 else "")
             if over_events else f"{max_memory_mb:,.0f} MB")
    raise ScenarioError(f"{top[0][0]}: this run would take {e.describe()}" + (f" x {runs:,} runs" if runs > 1 else "")
                        + f", more than the {limit} vsim runs without --allow-large (allow_large=True in Python). "
                        f"What makes it large: {why}", source=where)
