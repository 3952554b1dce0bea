"""Capacity plans: what to plan for, read from YAML and checked before anything runs.

A plan file (``vsim plan FILE``) states the demand, candidate architectures,
host types, a policy and targets (see :mod:`vsim.experiments.plan` for how the
answer is found). This module holds its typed models, :func:`parse_plan` and
:func:`load_plan` (every problem names its field), and turns one
architecture on one host type at one size into scenario data
(:func:`scenario_data`); an architecture of containers in VMs is planned in
two levels (:func:`levels`: containers into node VMs, node VMs onto hosts).
"""

from __future__ import annotations

import math
import os
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from vsim.spec.errors import ScenarioError, brief
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
from vsim.spec.yamlio import read_yaml, refuse_other_kind

__all__ = ["Plan", "Architecture", "HostType", "load_plan", "parse_plan", "scenario_data", "levels",
           "node_level", "host_level"]


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
        default_factory=lambda: [1.0], min_length=1, max_length=20,
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
    architectures: list[Architecture] = Field(min_length=1, max_length=50)
    host_types: list[HostType] = Field(min_length=1, max_length=50)
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
    problems = _check_references(p)
    if problems:
        raise ScenarioError(problems, source=where)
    # Every architecture on every host type must make a valid scenario.
    for i, a in enumerate(p.architectures):
        for j, h in enumerate(p.host_types):
            try:
                for lp, la, lh in levels(p, a, h, 1):
                    parse_scenario(scenario_data(lp, la, lh, 1, 1.0), where="")
            except ScenarioError as exc:
                raise ScenarioError([_plan_path(q, i, j) for q in exc.problems], source=where) from None
    cases = len(p.architectures) * len(p.host_types) * len(p.demand.scale)
    if cases > MAX_PLAN_CASES:
        raise ScenarioError(f"architectures x host_types x demand.scale: {cases:,} searches; a plan makes at most "
                            f"{MAX_PLAN_CASES:,} (fewer host types or demand levels)", source=where)
    return p


#: The most (architecture, host type, demand level) searches one plan may ask for.
MAX_PLAN_CASES = 500


def _plan_path(problem: str, i: int, j: int) -> str:
    """A problem of the scenario built for architectures[i] on host_types[j], in the plan's own words."""
    q = problem
    for generated, own in (("hosts[0].", f"host_types[{j}]."), ("workloads[", "demand (workloads["),
                           ("images[", "images[")):
        if q.startswith(generated):
            q = own + q[len(generated):]
            if own.startswith("demand"):
                q = q.replace("]", "] of the generated scenario)", 1)
            break
    if q.startswith(f"host_types[{j}].") and ("capacity_gib" in q or "memory_gib" in q):
        q += " (after policy.headroom is taken off)"
    return f"architectures[{i}] on host_types[{j}]: {q}"


def _check_references(p: Plan) -> list[str]:
    """Names that must refer to something (platforms, images) or be unique."""
    problems = []
    custom = {str(pr.get("name")) for pr in p.profiles if isinstance(pr, dict)}
    known = set(profile_names()) | custom
    images = {im.name for im in p.images}
    for i, a in enumerate(p.architectures):
        if a.platform not in known:
            problems.append(f"architectures[{i}].platform: unknown platform {brief(a.platform)}; "
                            f"choose one of {', '.join(sorted(known))}")
        if a.image is not None and a.image not in images:
            problems.append(f"architectures[{i}].image: no image named {brief(a.image)} in images")
        if a.inside is not None and a.inside not in known:
            problems.append(f"architectures[{i}].inside: unknown platform {brief(a.inside)}; "
                            f"choose one of {', '.join(sorted(known))}")
        if a.node is not None and a.node.image is not None and a.node.image not in images:
            problems.append(f"architectures[{i}].node.image: no image named {brief(a.node.image)} in images")
    names = (("architectures", [a.name for a in p.architectures]), ("host_types", [h.name for h in p.host_types]),
             ("demand.services", [s.name for s in p.demand.services]))
    for what, items in names:
        seen: set[str] = set()
        for i, name in enumerate(items):
            if name in seen:
                problems.append(f"{what}[{i}].name: duplicate name {brief(name)}")
            seen.add(name)
    return problems


def load_plan(path: str | os.PathLike) -> Plan:
    """Read and validate a plan YAML file."""
    data = read_yaml(os.fspath(path))
    refuse_other_kind(data, "capacity plan", str(path))
    return parse_plan(data, where=str(path))


# -- building scenarios ----------------------------------------------------------------------

def scenario_data(p: Plan, a: Architecture, h: HostType, hosts: int, scale: float) -> dict:
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


def node_level(p: Plan, a: Architecture, h: HostType) -> tuple[Plan, Architecture, HostType]:
    """Level 1 of containers in VMs: the container demand on "virtual hosts" of the node's shape.

    A node VM's vCPUs are its cores; its memory and disk, less its guest OS,
    are what the container engine and the containers may use. Its disk runs at
    the host disk's speed (a simplification: nodes do not share it here).
    """
    n = a.node
    assert n is not None  # only an architecture of containers in VMs has two levels
    vhost = HostType(
        name=f"{a.name}-node", cores=n.vcpus, core_speed=h.core_speed,
        memory_gib=(n.memory_gib * 1024.0 - n.guest_os_memory_mib) / 1024.0,
        disk=h.disk.model_copy(update={"capacity_gib": n.disk_gib - n.guest_os_disk_gib}),
        network_gbit_s=h.network_gbit_s, price_per_hour=0.0, power_w=0.0,
    )
    return p, a.model_copy(update={"inside": None, "node": None}), vhost


def host_level(p: Plan, a: Architecture, h: HostType, nodes: int) -> tuple[Plan, Architecture, HostType]:
    """Level 2 of containers in VMs: ``nodes`` node VMs, guests of ``a.inside``, on host type ``h``.

    Every node must be placed (blocking 0: a node left out loses its
    containers); node boot time is no target (nodes are up before the demand).
    """
    n = a.node
    assert n is not None  # only an architecture of containers in VMs has two levels
    demand = Demand(services=[ServiceDemand(name="node", replicas=nodes, vcpus=n.vcpus,
                                            memory_mib=n.memory_gib * 1024.0, disk_gib=n.disk_gib)])
    targets = Targets(blocking_max=0.0, startup_p95_max_s=None, utilisation_max=p.targets.utilisation_max)
    p2 = p.model_copy(update={"demand": demand, "targets": targets})
    return p2, Architecture(name=a.name, platform=a.inside, image=n.image, clone=n.clone), h


def levels(p: Plan, a: Architecture, h: HostType, nodes: int) -> list[tuple[Plan, Architecture, HostType]]:
    """The (plan, architecture, host type) simulated for ``a``: one level, or two if nested."""
    if a.node is None:
        return [(p, a, h)]
    return [node_level(p, a, h), host_level(p, a, h, nodes)]


# -- judging one cluster size -----------------------------------------------------------------
