"""Capacity planning: how many hosts does this demand need, on each architecture?

A *plan* file states

* the **demand**: services (``replicas`` of a given vCPU, memory and disk
  size, all started together and kept running) and/or an **arrival process**
  of instance requests (Poisson, with exponential lifetimes: a cloud region's
  on-demand instances);
* candidate **architectures**: a platform (``kvm`` VMs, ``docker`` containers,
  ``firecracker`` microVMs, ...) plus what each guest needs on top of the
  service itself (a VM carries its own guest OS: memory and disk);
* **host types**: the server shape, its price per hour and its power draw;
* a **policy**: overcommit ratios, a headroom kept free on every host, and
  how many host failures the cluster must survive;
* **targets**: blocking (the fraction of requests rejected because no host has
  room) at most 1%, startup p95 at most X seconds, peak utilisation at most 80%.

For every architecture, host type and demand level, :func:`plan` finds the
smallest number of hosts that meets every target. A quick *analytic* bound
(total reservations / what one host can hold) says where to start looking; the
answer itself always comes from *running the simulation* at candidate host
counts (a doubling search, then bisection, assuming more hosts never hurt). The
*binding resource* is what made one host fewer fail: the resource named in the
rejections (memory, vcpus, disk, guest limit), or the target missed.

Surviving ``k`` host failures: with identical hosts, the cluster must still meet
every target after losing any ``k`` of them, so it needs the answer for the
demand plus ``k`` spare hosts; the achieved figures reported are those of the
cluster with ``k`` hosts lost (the worst case the policy allows).

Headroom ``h`` keeps a fraction ``h`` of every host's memory and disk out of
reach of placement (spikes, the host's page cache). vCPU headroom is set by the
CPU overcommit ratio instead. Utilisation is the peak, over the run, of what is
reserved (platform footprints included) divided by what the cluster may
reserve (physical capacity times the overcommit ratio), for memory, vCPUs and
disk; the target applies to the largest of the three.

**Containers in VMs** (an architecture with ``inside: kvm`` and a ``node:``
shape: a container engine inside each "node" VM, as a Kubernetes cluster on
cloud VMs) is answered in two levels, each by the same simulated search:

1. *Containers into node VMs.* A node VM is, for its containers, a host: its
   vCPUs are the cores, and its memory and disk minus the node's own guest OS
   (``node.guest_os_memory_mib``, ``node.guest_os_disk_gib``) are what the
   container engine (its daemon footprint included) and the containers may
   use. The container demand is simulated on clusters of such virtual hosts to
   find the fewest node VMs meeting every target (blocking, startup p95,
   utilisation). The nodes are up before the containers are requested, so the
   startup p95 counts only the container start, not the node VM's boot.
2. *Node VMs onto physical hosts.* That many node VMs (each a guest of the
   ``inside`` platform with the node's vCPUs, memory and disk) are simulated
   on the host type to find the fewest hosts where every node is placed
   (no blocking allowed: a node left out loses its containers) and the
   utilisation target holds; node boot time is not a target (nodes are
   provisioned ahead of the demand).

The policy (overcommit, headroom) applies at both levels, as a cluster
operator would apply it to the nodes and to the hosts; CPU overcommit
therefore compounds (containers' vCPUs per node vCPU times node vCPUs per
core). The row reports the node count and what bound it (``nodes``,
``node_binding``), the hosts and what bound them (``binding``), the
containers' blocking and startup (level 1) and the hosts' utilisation
(level 2). Simplifications: a node's virtual disk runs at the host disk's
speed, unshared with the other nodes, and the container engine's efficiency
inside a VM is not needed here (services in nested containers are modelled
by ``Workload.inside``, see :mod:`vsim.mechanisms.services`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from vsim.experiments.sweep import replication_seed
from vsim.results.tables import Results
from vsim.spec.errors import ScenarioError
from vsim.spec.fields import StrictModel as _Model
from vsim.spec.messages import format_validation_error
from vsim.spec.profile import profile_names
from vsim.spec.scenario import (
    Disk,
    Image,
    Name,
    NonNegative,
    Overcommit,
    Placement,
    Positive,
    Registry,
    parse_scenario,
)
from vsim.spec.yamlio import read_yaml

__all__ = ["Plan", "load_plan", "parse_plan", "plan", "plan_table", "COLUMNS"]

#: The columns of the plan table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "plan": {
        "architecture": ("str", "plan architectures[].name"),
        "platform": ("str", "platform profile of the architecture; containers in VMs: 'docker in kvm' (container platform in VM platform)"),
        "host_type": ("str", "plan host_types[].name"),
        "demand_scale": ("float", "demand multiplier (demand.scale): replicas and arrival rate times this"),
        "guests_requested": ("int", "guests requested in one run at this demand"),
        "hosts": ("int", "minimum hosts meeting every target, spare hosts for failures included (NaN if none up to max_hosts)"),
        "spare_hosts": ("int", "hosts added to survive policy.tolerate_host_failures"),
        "nodes": ("int", "containers in VMs: fewest node VMs holding the containers within every target (simulated); NaN for other architectures"),
        "node_binding": ("str", "containers in VMs: resource that made one node VM fewer fail (binding at the node level); empty otherwise"),
        "cost_per_hour": ("float, currency/h", "hosts x price_per_hour"),
        "power_w": ("float, W", "hosts x power_w"),
        "binding": ("str", "resource that made one host fewer fail (memory, vcpus, disk, guest limit, boot contention); containers in VMs: at the host level"),
        "limit": ("str", "the targets missed with one host fewer, and the resource behind each; containers in VMs: 'hosts: ...; node VMs (N): ...', one per level"),
        "blocking": ("float, 0-1", "simulated fraction of requests rejected (mean over replications), k hosts lost; containers in VMs: of containers in the node VMs"),
        "startup_p95_s": ("float, s", "simulated startup p95 (mean over replications), k hosts lost; containers in VMs: the container start only (nodes are up first)"),
        "memory_util": ("float, 0-1", "peak reserved memory (footprints included) / memory the cluster may reserve; containers in VMs: of the hosts (node VMs as guests), likewise vcpu_util and disk_util"),
        "vcpu_util": ("float, 0-1", "peak reserved vCPUs / (cores x CPU overcommit)"),
        "disk_util": ("float, 0-1", "peak reserved disk (image cache included) / disk the cluster may reserve"),
        "feasible": ("bool", "False if no host count up to max_hosts meets the targets"),
        "simulated_sizes": ("int", "how many host counts the search simulated"),
        "cheapest": ("bool", "the cheapest host type for this architecture and demand"),
    },
}

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class ServiceDemand(_Model):
    """``replicas`` copies of one service, all requested at time 0, kept running."""

    name: Name
    replicas: Annotated[int, Field(ge=1, le=1_000_000)]
    vcpus: Annotated[float, Field(gt=0, le=10_000)] = 1.0
    memory_mib: Positive = 1024.0
    disk_gib: NonNegative = 0.0


class ArrivalDemand(_Model):
    """Instance requests arriving as a Poisson process, each living an exponential time."""

    name: Name = "requests"
    rate_per_s: Positive
    mean_lifetime_s: Positive
    count: Annotated[int, Field(ge=1, le=10_000_000)] = 2000
    vcpus: Annotated[float, Field(gt=0, le=10_000)] = 1.0
    memory_mib: Positive = 1024.0
    disk_gib: NonNegative = 0.0


class Demand(_Model):
    services: list[ServiceDemand] = Field(default_factory=list)
    arrivals: ArrivalDemand | None = None
    scale: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [1.0], min_length=1,
        description="demand levels to plan for: replicas and arrival rate times each factor",
    )

    @model_validator(mode="after")
    def _something(self) -> Demand:
        if not self.services and self.arrivals is None:
            raise ValueError("give services (replicas of a size) or arrivals (a request process), or both")
        return self


class NodeShape(_Model):
    """One node VM of a "containers in VMs" architecture: its size and its own OS."""

    vcpus: Annotated[int, Field(ge=1, le=100_000)]
    memory_gib: Positive
    disk_gib: Positive = 20.0
    guest_os_memory_mib: NonNegative = Field(default=0.0, description="memory the node's guest OS keeps (out of memory_gib)")
    guest_os_disk_gib: NonNegative = Field(default=0.0, description="disk the node's guest OS keeps (out of disk_gib)")
    image: Name | None = None
    clone: Literal["full", "linked", "layers"] | None = None

    @model_validator(mode="after")
    def _room(self) -> NodeShape:
        if self.guest_os_memory_mib >= self.memory_gib * 1024.0:
            raise ValueError(f"guest_os_memory_mib ({self.guest_os_memory_mib:g}) leaves no memory for containers "
                             f"in a node of {self.memory_gib:g} GiB; give the node more memory_gib")
        if self.guest_os_disk_gib >= self.disk_gib:
            raise ValueError(f"guest_os_disk_gib ({self.guest_os_disk_gib:g}) leaves no disk for containers "
                             f"in a node of {self.disk_gib:g} GiB; give the node more disk_gib")
        return self


class Architecture(_Model):
    """One way to run the demand: a platform, and what each guest adds to a service."""

    name: Name
    platform: Name
    guest_os_memory_mib: NonNegative = Field(
        default=0.0, description="memory each guest needs for its own OS, on top of the service (VMs: a guest kernel and init)"
    )
    guest_os_disk_gib: NonNegative = Field(default=0.0, description="disk each guest needs for its own OS")
    image: Name | None = None
    clone: Literal["full", "linked", "layers"] | None = None
    inside: Name | None = Field(
        default=None, description="containers in VMs: the VM platform of the node VMs the containers run in (needs node:)"
    )
    node: NodeShape | None = Field(default=None, description="containers in VMs: the shape of one node VM (needs inside:)")

    @model_validator(mode="after")
    def _nested(self) -> Architecture:
        if (self.inside is None) != (self.node is None):
            raise ValueError("containers in VMs need both inside: (the VM platform, e.g. kvm) and node: "
                             "(the node VM's vcpus, memory_gib, disk_gib); give both or neither")
        return self


class HostType(_Model):
    """A server model one can buy or rent."""

    name: Name
    cores: Annotated[int, Field(ge=1, le=100_000)]
    core_speed: Annotated[float, Field(gt=0, le=100)] = 1.0
    memory_gib: Positive
    disk: Disk = Disk()
    network_gbit_s: Positive = 10.0
    price_per_hour: NonNegative = Field(description="cost of one host for one hour (any currency)")
    power_w: NonNegative = Field(description="average electrical power of one host, W")


class Policy(_Model):
    overcommit: Overcommit = Overcommit()
    headroom: Annotated[float, Field(ge=0, lt=1)] = 0.0
    tolerate_host_failures: Annotated[int, Field(ge=0, le=1000)] = 0
    placement: Placement = "spread"


class Targets(_Model):
    blocking_max: Fraction = 0.01
    startup_p95_max_s: Positive | None = None
    utilisation_max: Annotated[float, Field(gt=0, le=1)] | None = None


class Plan(_Model):
    """A capacity-planning question (see the module docstring)."""

    name: Name = "plan"
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    replications: Annotated[int, Field(ge=1, le=1000)] = 1
    max_hosts: Annotated[int, Field(ge=1, le=100_000)] = 1000
    demand: Demand
    architectures: list[Architecture] = Field(min_length=1)
    host_types: list[HostType] = Field(min_length=1)
    policy: Policy = Policy()
    targets: Targets = Targets()
    registries: list[Registry] = Field(default_factory=lambda: [Registry(name="hub")])
    images: list[Image] = Field(default_factory=list)
    profiles: list[dict[str, Any]] = Field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------

def parse_plan(data: Any, where: str = "plan") -> Plan:
    """Validate plan data; every problem names its field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a plan is a mapping (demand:, architectures:, host_types:, ...), "
                            f"not {type(data).__name__ if data is not None else 'an empty file'}")
    try:
        p = Plan.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc), source=where) from None
    problems = []
    custom = {str(pr.get("name")) for pr in p.profiles if isinstance(pr, dict)}
    known = set(profile_names()) | custom
    images = {im.name for im in p.images}
    for i, a in enumerate(p.architectures):
        if a.platform not in known:
            problems.append(f"architectures[{i}].platform: unknown platform {a.platform!r}; "
                            f"choose one of {', '.join(sorted(known))}")
        if a.image is not None and a.image not in images:
            problems.append(f"architectures[{i}].image: no image named {a.image!r} in images")
        if a.inside is not None and a.inside not in known:
            problems.append(f"architectures[{i}].inside: unknown platform {a.inside!r}; "
                            f"choose one of {', '.join(sorted(known))}")
        if a.node is not None and a.node.image is not None and a.node.image not in images:
            problems.append(f"architectures[{i}].node.image: no image named {a.node.image!r} in images")
    for what, items in (("architectures", p.architectures), ("host_types", p.host_types),
                        ("demand.services", p.demand.services)):
        seen: set[str] = set()
        for i, it in enumerate(items):
            if it.name in seen:
                problems.append(f"{what}[{i}].name: duplicate name {it.name!r}")
            seen.add(it.name)
    if problems:
        raise ScenarioError(problems, source=where)
    # Every architecture on every host type must make a valid scenario.
    for i, a in enumerate(p.architectures):
        for j, h in enumerate(p.host_types):
            try:
                for lp, la, lh in _levels(p, a, h, 1):
                    parse_scenario(_scenario_data(lp, la, lh, 1, 1.0), where="")
            except ScenarioError as exc:
                raise ScenarioError([f"architectures[{i}] on host_types[{j}]: {q}" for q in exc.problems],
                                    source=where) from None
    return p


def load_plan(path: str | os.PathLike) -> Plan:
    """Read and validate a plan YAML file."""
    return parse_plan(read_yaml(path), where=str(path))


# -- building scenarios ----------------------------------------------------------------------

def _scenario_data(p: Plan, a: Architecture, h: HostType, hosts: int, scale: float) -> dict:
    keep = 1.0 - p.policy.headroom
    disk = h.disk.model_dump()
    disk["capacity_gib"] = disk["capacity_gib"] * keep
    workloads = []
    for s in p.demand.services:
        w = {
            "name": s.name, "platform": a.platform, "vcpus": s.vcpus,
            "memory_mib": s.memory_mib + a.guest_os_memory_mib,
            "disk_gib": s.disk_gib + a.guest_os_disk_gib,
            "arrivals": {"type": "batch", "count": max(1, math.ceil(s.replicas * scale)), "at_s": 0.0},
            "lifetime": {"type": "forever"},
        }
        workloads.append(w)
    if p.demand.arrivals is not None:
        r = p.demand.arrivals
        workloads.append({
            "name": r.name, "platform": a.platform, "vcpus": r.vcpus,
            "memory_mib": r.memory_mib + a.guest_os_memory_mib,
            "disk_gib": r.disk_gib + a.guest_os_disk_gib,
            "arrivals": {"type": "poisson", "rate_per_s": r.rate_per_s * scale,
                         "count": max(1, math.ceil(r.count * scale))},
            "lifetime": {"type": "exponential", "mean_s": r.mean_lifetime_s},
        })
    for w in workloads:
        if a.image is not None:
            w["image"] = a.image
        if a.clone is not None:
            w["clone"] = a.clone
    return {
        "name": f"{p.name}-{a.name}-{h.name}-{hosts}",
        "seed": p.seed,
        "placement": p.policy.placement,
        "hosts": [{
            "name": h.name, "count": hosts, "cores": h.cores, "core_speed": h.core_speed,
            "memory_gib": h.memory_gib * keep, "disk": disk, "network_gbit_s": h.network_gbit_s,
            "platforms": [a.platform], "overcommit": p.policy.overcommit.model_dump(),
            "cached_images": [a.image] if a.image is not None else [],
        }],
        "registries": [r.model_dump() for r in p.registries],
        "images": [im.model_dump(mode="json", exclude_none=True) for im in p.images if im.name == a.image],
        "workloads": workloads,
        "profiles": list(p.profiles),
    }


def _node_level(p: Plan, a: Architecture, h: HostType) -> tuple[Plan, Architecture, HostType]:
    """Level 1 of containers in VMs: the container demand on "virtual hosts" of the node's shape.

    A node VM's vCPUs are its cores; its memory and disk, less its guest OS,
    are what the container engine and the containers may use. Its disk runs at
    the host disk's speed (a simplification: nodes do not share it here).
    """
    n = a.node
    vhost = HostType(
        name=f"{a.name}-node", cores=n.vcpus, core_speed=h.core_speed,
        memory_gib=(n.memory_gib * 1024.0 - n.guest_os_memory_mib) / 1024.0,
        disk=h.disk.model_copy(update={"capacity_gib": n.disk_gib - n.guest_os_disk_gib}),
        network_gbit_s=h.network_gbit_s, price_per_hour=0.0, power_w=0.0,
    )
    return p, a.model_copy(update={"inside": None, "node": None}), vhost


def _host_level(p: Plan, a: Architecture, h: HostType, nodes: int) -> tuple[Plan, Architecture, HostType]:
    """Level 2 of containers in VMs: ``nodes`` node VMs, guests of ``a.inside``, on host type ``h``.

    Every node must be placed (blocking 0: a node left out loses its
    containers); node boot time is no target (nodes are up before the demand).
    """
    n = a.node
    demand = Demand(services=[ServiceDemand(name="node", replicas=nodes, vcpus=n.vcpus,
                                            memory_mib=n.memory_gib * 1024.0, disk_gib=n.disk_gib)])
    targets = Targets(blocking_max=0.0, startup_p95_max_s=None, utilisation_max=p.targets.utilisation_max)
    p2 = p.model_copy(update={"demand": demand, "targets": targets})
    return p2, Architecture(name=a.name, platform=a.inside, image=n.image, clone=n.clone), h


def _levels(p: Plan, a: Architecture, h: HostType, nodes: int) -> list[tuple[Plan, Architecture, HostType]]:
    """The (plan, architecture, host type) simulated for ``a``: one level, or two if nested."""
    if a.node is None:
        return [(p, a, h)]
    return [_node_level(p, a, h), _host_level(p, a, h, nodes)]


# -- judging one cluster size -----------------------------------------------------------------

def _peak(start: np.ndarray, end: np.ndarray, amount: np.ndarray) -> float:
    """Largest total of ``amount`` held at once over intervals [start, end)."""
    if start.size == 0:
        return 0.0
    t = np.concatenate([start, end])
    d = np.concatenate([amount, -amount])
    order = np.lexsort((d, t))  # at equal times, releases (negative) first
    return float(max(np.cumsum(d[order]).max(), 0.0))


def _utilisation(res, host: HostType, policy: Policy, hosts: int) -> dict[str, float]:
    inst = res.instances
    placed = inst[inst["placed_s"].notna()]
    start = placed["placed_s"].to_numpy(dtype=float)
    end = placed["stopped_s"].fillna(math.inf).to_numpy(dtype=float)
    oc = policy.overcommit
    footprint = float(res.hosts["footprint_mib"].sum())
    cache = float(res.hosts["cache_mb"].sum())
    mem_cap = hosts * host.memory_gib * 1024.0 * oc.memory
    vcpu_cap = hosts * host.cores * oc.cpu
    disk_cap = hosts * host.disk.capacity_gib * 1024.0 * 1.048576 * oc.disk
    return {
        "memory": (footprint + _peak(start, end, placed["memory_mib"].to_numpy(dtype=float))) / mem_cap,
        "vcpus": _peak(start, end, placed["vcpus"].to_numpy(dtype=float)) / vcpu_cap,
        "disk": (cache + _peak(start, end, placed["disk_mb"].to_numpy(dtype=float))) / disk_cap,
    }


def _evaluate(p: Plan, a: Architecture, h: HostType, hosts: int, scale: float) -> dict[str, Any]:
    """Run the cluster ``replications`` times; mean figures and whether targets hold."""
    from vsim.experiments.run import build_world

    sc = parse_scenario(_scenario_data(p, a, h, hosts, scale), where=f"{a.name} on {hosts} x {h.name}")
    blocking, p95, utils, reasons = [], [], [], {}
    requested = 0
    for r in range(p.replications):
        world = build_world(sc, seed=replication_seed(p.seed, r))
        world.run()
        res = Results.from_world(world)
        inst = res.instances
        requested = len(inst)
        rej = [g.refused_by for g in world.guests if g.state == "rejected"]  # the binding resources
        blocking.append(len(rej) / len(inst) if len(inst) else 0.0)
        for key in rej:
            reasons[key] = reasons.get(key, 0) + 1
        st = inst["startup_s"].dropna().to_numpy(dtype=float)
        p95.append(float(np.percentile(st, 95)) if st.size else math.nan)
        utils.append(_utilisation(res, h, p.policy, hosts))
    util = {k: float(np.mean([u[k] for u in utils])) for k in ("memory", "vcpus", "disk")}
    fig = {
        "hosts": hosts, "requested": requested,
        "blocking": float(np.mean(blocking)),
        "startup_p95_s": float(np.nanmean(p95)) if not all(math.isnan(x) for x in p95) else math.nan,
        "memory_util": util["memory"], "vcpu_util": util["vcpus"], "disk_util": util["disk"],
    }
    t = p.targets
    missed = []
    if fig["blocking"] > t.blocking_max:
        top = max(reasons, key=reasons.get) if reasons else "capacity"
        missed.append(("blocking", top))
    if t.utilisation_max is not None and max(util.values()) > t.utilisation_max:
        missed.append(("utilisation", max(util, key=util.get)))
    if t.startup_p95_max_s is not None and not (fig["startup_p95_s"] <= t.startup_p95_max_s):
        missed.append(("startup p95", "boot contention (disk, CPU)"))
    fig["ok"] = not missed
    fig["missed"] = missed
    return fig


def _lower_bound(p: Plan, a: Architecture, h: HostType, scale: float) -> int:
    """Hosts needed just to hold the reservations (a bound: the simulation decides)."""
    from vsim.spec.scenario import parse_scenario as _ps

    sc = _ps(_scenario_data(p, a, h, 1, scale), where="bound")
    prof = sc.profile(a.platform)
    keep = 1.0 - p.policy.headroom
    oc = p.policy.overcommit
    mem_host = h.memory_gib * keep * 1024.0 * oc.memory - prof.host_memory_mib.value
    vcpu_host = h.cores * oc.cpu
    limit = prof.max_guests_per_host.value
    mem = vcpu = count = 0.0
    for w in sc.workloads:
        n = w.count()
        if w.arrivals.type == "poisson":  # carried load: at most (1 - blocking) of A = rate * lifetime
            n = w.arrivals.rate_per_s * w.lifetime.mean_s * (1.0 - p.targets.blocking_max)
        mem += n * (w.memory_mib * (1.0 - prof.page_sharing.value) + prof.guest_memory_overhead_mib.value)
        vcpu += n * w.vcpus
        count += n
    bounds = [mem / mem_host if mem_host > 0 else math.inf, vcpu / vcpu_host]
    if limit is not None:
        bounds.append(count / limit)
    u = p.targets.utilisation_max
    if u is not None:  # reserved / (hosts x capacity) <= u, footprints included
        mem_cap = h.memory_gib * 1024.0 * oc.memory
        per_host = u * mem_cap - prof.host_memory_mib.value
        bounds += [mem / per_host if per_host > 0 else math.inf, vcpu / (u * vcpu_host)]
    return max(1, math.floor(max(bounds) - 1e-9))


def _search(p: Plan, a: Architecture, h: HostType, scale: float) -> dict[str, Any]:
    """Smallest host count meeting every target (simulated), and why one fewer fails."""
    cache: dict[int, dict] = {}

    def ev(n: int) -> dict:
        if n not in cache:
            cache[n] = _evaluate(p, a, h, n, scale)
        return cache[n]

    lo = min(_lower_bound(p, a, h, scale), p.max_hosts)
    fail = None
    if ev(lo)["ok"]:
        best = lo
        while best > 1 and ev(best - 1)["ok"]:  # the bound was loose: walk down
            best -= 1
        fail = best - 1 if best > 1 else None
    else:
        fail, hi = lo, lo
        while True:  # double until a size works
            hi = min(hi * 2, p.max_hosts)
            if ev(hi)["ok"]:
                break
            fail = hi
            if hi == p.max_hosts:
                hi = None
                break
        if hi is None:
            best = None
        else:
            while hi - fail > 1:  # bisect between a failing and a working size
                mid = (hi + fail) // 2
                if ev(mid)["ok"]:
                    hi = mid
                else:
                    fail = mid
            best = hi
    if best is None:
        missed = ev(p.max_hosts)["missed"]
        binding = missed[0][1]
        why = "; ".join(f"{t} ({r})" for t, r in missed) + f" still missed at max_hosts={p.max_hosts}"
    elif fail is not None and fail == best - 1:
        missed = ev(fail)["missed"]
        binding = missed[0][1]
        why = "; ".join(f"{t} ({r})" for t, r in missed) + f" missed with {fail} host(s)"
    else:
        fig = ev(best)
        util = {"memory": fig["memory_util"], "vcpus": fig["vcpu_util"], "disk": fig["disk_util"]}
        binding = max(util, key=util.get)
        why = "one host meets every target; binding = the most used resource"
    out = dict(ev(best)) if best is not None else dict(ev(p.max_hosts))
    out["feasible"] = best is not None
    out["binding"] = binding
    out["why"] = why
    out["simulated_sizes"] = len(cache)
    return out


def _as_nodes(why: str) -> str:
    """A level-1 explanation, where the "hosts" were node VMs."""
    return why.replace("host(s)", "node VM(s)").replace("one host ", "one node VM ").replace("max_hosts=", "max_hosts (node VMs)=")


def _plan_one(args: tuple) -> dict[str, Any]:
    p, ai, hi, scale = args
    a, h = p.architectures[ai], p.host_types[hi]
    k = p.policy.tolerate_host_failures
    if a.node is None:
        res = _search(p, a, h, scale)
        guests, platform, nodes, node_binding, why = res["requested"], a.platform, math.nan, "", res["why"]
        achieved, sizes = res, res["simulated_sizes"]
    else:  # containers in VMs: containers into node VMs, then node VMs onto hosts
        lvl1 = _search(*_node_level(p, a, h), scale)
        guests, platform, node_binding = lvl1["requested"], f"{a.platform} in {a.inside}", lvl1["binding"]
        nodes = lvl1["hosts"] if lvl1["feasible"] else math.nan
        if lvl1["feasible"]:
            res = _search(*_host_level(p, a, h, lvl1["hosts"]), 1.0)
            why = f"hosts: {res['why']}; node VMs ({lvl1['hosts']}): {_as_nodes(lvl1['why'])}"
            sizes = lvl1["simulated_sizes"] + res["simulated_sizes"]
        else:  # no node count works: the hosts cannot be planned
            res = dict(lvl1, binding=f"{lvl1['binding']} (in the node VMs)")
            why = f"node VMs: {_as_nodes(lvl1['why'])}"
            sizes = lvl1["simulated_sizes"]
        # the containers' figures come from level 1, the hosts' utilisation from level 2
        achieved = dict(res, blocking=lvl1["blocking"], startup_p95_s=lvl1["startup_p95_s"])
    hosts = res["hosts"] + k if res["feasible"] else math.nan
    return {
        "architecture": a.name, "platform": platform, "host_type": h.name,
        "demand_scale": scale, "guests_requested": guests,
        "hosts": hosts, "spare_hosts": k, "nodes": nodes, "node_binding": node_binding,
        "cost_per_hour": hosts * h.price_per_hour, "power_w": hosts * h.power_w,
        "binding": res["binding"], "limit": why,
        "blocking": achieved["blocking"], "startup_p95_s": achieved["startup_p95_s"],
        "memory_util": achieved["memory_util"], "vcpu_util": achieved["vcpu_util"], "disk_util": achieved["disk_util"],
        "feasible": res["feasible"], "simulated_sizes": sizes,
    }


def plan(plan_spec: Plan | str | os.PathLike, jobs: int = 1) -> pd.DataFrame:
    """Minimum hosts per architecture, host type and demand level (see COLUMNS['plan']).

    ``jobs > 1`` searches several (architecture, host type, demand) cases at
    once in local processes; the answers do not depend on it.
    """
    if isinstance(plan_spec, str | os.PathLike):
        plan_spec = load_plan(Path(plan_spec))
    if not isinstance(plan_spec, Plan):
        raise ScenarioError(f"plan: expected a Plan or a plan file, got {type(plan_spec).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ScenarioError(f"--jobs: must be a whole number >= 1, got {jobs!r}")
    p = plan_spec
    cases = [(p, ai, hi, s) for ai in range(len(p.architectures)) for hi in range(len(p.host_types))
             for s in p.demand.scale]
    if jobs == 1 or len(cases) == 1:
        rows = [_plan_one(c) for c in cases]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(cases))) as pool:
            rows = list(pool.map(_plan_one, cases))
    df = pd.DataFrame(rows)
    # The cheapest host type for each architecture and demand level.
    df["cheapest"] = False
    ok = df[df["feasible"]]
    if len(ok):
        idx = ok.groupby(["architecture", "demand_scale"])["cost_per_hour"].idxmin()
        df.loc[idx.to_numpy(), "cheapest"] = True
    return df


def plan_table(df: pd.DataFrame, scale: float | None = None) -> pd.DataFrame:
    """The answer at one demand level (default: 1, else the first), one row per
    architecture and host type, for printing."""
    scales = list(dict.fromkeys(df["demand_scale"]))
    if scale is None:
        scale = 1.0 if 1.0 in scales else scales[0]
    cols = ["architecture", "host_type", "guests_requested", "hosts", "nodes", "cost_per_hour", "power_w",
            "binding", "blocking", "startup_p95_s", "memory_util", "vcpu_util", "disk_util"]
    out = df[df["demand_scale"] == scale][cols].reset_index(drop=True)
    out.attrs["scale"] = scale
    return out
