"""Scenarios: what to simulate, as validated data.

A scenario file is plain YAML that says which hosts exist, which platforms
(hypervisors, container engines) run on them, which images and registries there
are, and which guests (VMs, containers, microVMs) arrive when. It is read with
``yaml.safe_load`` (no Python objects can hide in it), checked field by field by
pydantic models, and turned into an immutable :class:`Scenario`. Every problem is
reported on its own line, starting with the path of the field::

    hosts[0].memory_gib: must be greater than 0
    workloads[1].platfrom: unknown field; did you mean 'platform'?

Units are part of every field name: ``memory_gib``, ``read_mb_s``,
``network_gbit_s``, ``duration_s``. MB are 10^6 bytes, MiB and GiB are 2^20 and
2^30 bytes; network bandwidths are in Gbit/s, disk bandwidths in MB/s.

The simulation model (:mod:`vsim.model.world`) never reads YAML: it only sees a
``Scenario``.
"""

from __future__ import annotations

import difflib
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from vsim.spec.errors import ScenarioError
from vsim.spec.fields import Name, NonNegative, Positive, StrictModel
from vsim.spec.operations import (
    Consolidation,
    HAPolicy,
    Migration,
    MigrationLimits,
    Power,
    ScheduledFailure,
)
from vsim.spec.profile import Profile, derive_profile, load_profile, profile_names
from vsim.spec.services import (
    DiskIO,
    Limits,
    MemoryUse,
    RatePoint,
    Service,
    ServicePoisson,
    ServiceTrace,
    Stress,
    Writes,
)

__all__ = [
    "Scenario",
    "HostGroup",
    "Disk",
    "Overcommit",
    "Registry",
    "Image",
    "Layer",
    "Workload",
    "load_scenario",
    "parse_scenario",
    "read_yaml",
    "scenario_schema",
    "apply_overrides",
    "format_validation_error",
]

# Upper bounds that keep a typo (an extra three zeros) from hanging a laptop.
MAX_GUESTS = 10_000_000
MAX_HOSTS = 1_000_000


_Model = StrictModel


# -- hosts ----------------------------------------------------------------------

class Disk(_Model):
    """A host's local disk: capacity and what it can do per second."""

    capacity_gib: Positive = 1000.0
    read_mb_s: Positive = 800.0
    write_mb_s: Positive = 750.0
    random_read_iops: Positive = 84_000.0
    random_write_iops: Positive = 112_000.0


class Overcommit(_Model):
    """How far reservations may exceed physical capacity (1.0 = not at all).

    ``cpu`` counts vCPUs per physical core; ``memory`` and ``disk`` multiply
    the capacity that reservations may take.
    """

    cpu: Annotated[float, Field(ge=1, le=1000)] = 1.0
    memory: Annotated[float, Field(ge=1, le=100)] = 1.0
    disk: Annotated[float, Field(ge=1, le=100)] = 1.0


class HostGroup(_Model):
    """``count`` identical physical hosts, named ``NAME-0``, ``NAME-1``, ..."""

    name: Name = "host"
    count: Annotated[int, Field(ge=1, le=MAX_HOSTS)] = 1
    cores: Annotated[int, Field(ge=1, le=100_000)] = 16
    core_speed: Annotated[float, Field(gt=0, le=100)] = 1.0
    memory_gib: Positive = 64.0
    disk: Disk = Disk()
    network_gbit_s: Positive = 10.0
    platforms: list[Name] = Field(min_length=1)
    overcommit: Overcommit = Overcommit()
    cached_images: list[Name] = Field(default_factory=list, description="images already on each host's disk (a warm cache)")
    max_guests: Annotated[int, Field(ge=1, le=MAX_GUESTS)] | None = None
    os: Literal["linux", "windows"] = Field(default="linux", description="the host kernel; containers must match it")
    network_rtt_us: Positive = Field(
        default=37.6, description="native network round trip (source: Felter et al. 2014, netperf TCP_RR 37.6 us)"
    )
    # Operating the fleet (vsim.mechanisms.energy, vsim.mechanisms.faults; fields in vsim.spec.operations).
    power: Power = Power()
    mtbf_s: Positive | None = Field(default=None, description="mean time between failures of each host (exponential); none by default")
    repair_s: NonNegative = Field(default=3600.0, description="mean repair time after a random failure (exponential)")


# -- images -------------------------------------------------------------------

class Registry(_Model):
    """Where images come from: a link shared by every pull from it."""

    name: Name
    bandwidth_gbit_s: Positive = 1.0
    latency_s: NonNegative = 0.0


class Layer(_Model):
    """One layer of a container image: compressed (pulled) and unpacked sizes."""

    id: Name
    size_mb: NonNegative
    unpacked_mb: NonNegative | None = None

    @property
    def disk_mb(self) -> float:
        return self.unpacked_mb if self.unpacked_mb is not None else self.size_mb


class Image(_Model):
    """A VM disk image (``kind: vm-disk``) or a layered container image."""

    name: Name
    kind: Literal["vm-disk", "container"]
    format: Literal["qcow2", "vmdk", "vdi", "vhdx", "raw", "oci"] | None = None
    size_mb: NonNegative | None = None
    layers: list[Layer] = Field(default_factory=list)
    registry: Name | None = None
    os: Literal["linux", "windows"] = "linux"

    @model_validator(mode="after")
    def _shape(self) -> Image:
        if self.kind == "vm-disk":
            if self.size_mb is None:
                raise ValueError("size_mb: a vm-disk image needs its size in MB")
            if self.layers:
                raise ValueError("layers: only container images have layers; use size_mb")
            if self.format == "oci":
                raise ValueError("format: 'oci' is a container format; a vm-disk is qcow2, vmdk, vdi, vhdx or raw")
        else:
            if not self.layers:
                raise ValueError("layers: a container image needs at least one layer")
            if self.size_mb is not None:
                raise ValueError("size_mb: a container image's size is the sum of its layers; remove size_mb")
        return self

    @property
    def transfer_mb(self) -> float:
        return self.size_mb if self.kind == "vm-disk" else sum(lay.size_mb for lay in self.layers)

    @property
    def disk_mb(self) -> float:
        return self.size_mb if self.kind == "vm-disk" else sum(lay.disk_mb for lay in self.layers)


# -- workloads ----------------------------------------------------------------

class BatchArrivals(_Model):
    """``count`` guests requested together at ``at_s``."""

    type: Literal["batch"]
    count: Annotated[int, Field(ge=1, le=MAX_GUESTS)]
    at_s: NonNegative = 0.0


class PoissonArrivals(_Model):
    """``count`` guests requested one by one, exponential gaps of mean 1/rate."""

    type: Literal["poisson"]
    rate_per_s: Positive
    count: Annotated[int, Field(ge=1, le=MAX_GUESTS)]
    start_s: NonNegative = 0.0


class TimedArrivals(_Model):
    """Guests requested at the listed times."""

    type: Literal["times"]
    times_s: list[NonNegative] = Field(min_length=1, max_length=MAX_GUESTS)


Arrivals = Annotated[BatchArrivals | PoissonArrivals | TimedArrivals, Field(discriminator="type")]


class FixedLifetime(_Model):
    type: Literal["fixed"]
    duration_s: NonNegative


class ExponentialLifetime(_Model):
    type: Literal["exponential"]
    mean_s: Positive


class ForeverLifetime(_Model):
    type: Literal["forever"]


Lifetime = Annotated[FixedLifetime | ExponentialLifetime | ForeverLifetime, Field(discriminator="type")]


class Workload(_Model):
    """A group of identical guests: what they are, their shape, when they come."""

    name: Name
    platform: Name
    kind: Literal["vm", "container", "microvm", "process"] | None = None
    vcpus: Annotated[float, Field(gt=0, le=10_000)] = 1.0
    memory_mib: Positive = 1024.0
    disk_gib: NonNegative = 0.0
    image: Name | None = None
    clone: Literal["full", "linked", "layers"] | None = None
    arrivals: Arrivals
    lifetime: Lifetime = ForeverLifetime(type="forever")
    # What a running guest does (vsim.mechanisms.services, vsim.mechanisms.cgroups; fields in vsim.spec.services).
    service: Service | None = None
    stress: Stress | None = None
    limits: Limits | None = None
    memory_use: MemoryUse | None = None
    writes: Writes | None = None
    inside: Name | None = Field(default=None, description="VM platform the containers run inside (nesting)")
    dirty_mb_s: NonNegative = Field(
        default=0.0, description="memory a running guest dirties per second (MB/s); sets live-migration rounds (vsim.mechanisms.migration)"
    )

    @field_validator("lifetime", mode="before")
    @classmethod
    def _lifetime_shorthand(cls, v: Any) -> Any:
        if v == "forever":
            return {"type": "forever"}
        return v

    def count(self) -> int:
        a = self.arrivals
        return len(a.times_s) if isinstance(a, TimedArrivals) else a.count


Placement = Literal["first-fit", "best-fit", "worst-fit", "spread"]


class Scenario(_Model):
    """A whole experiment: hosts, registries, images, workloads and settings."""

    name: Name = "scenario"
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    duration_s: Positive | None = Field(
        default=None, description="stop the clock here; by default run until every guest has stopped"
    )
    placement: Placement = "first-fit"
    hosts: list[HostGroup] = Field(min_length=1)
    registries: list[Registry] = Field(default_factory=lambda: [Registry(name="hub")])
    images: list[Image] = Field(default_factory=list)
    workloads: list[Workload] = Field(default_factory=list)
    profiles: list[dict[str, Any]] = Field(
        default_factory=list,
        description="custom platform profiles: full definitions, {path: FILE}, or {name: N, base: kvm, ...overrides}",
    )
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="vsim sweep only: dotted path -> list of values; every combination is a point (the world ignores it)",
    )
    replications: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=1, description="vsim sweep only: runs per point, each with its own seed (the world ignores it)"
    )
    # Operating the fleet (vsim.mechanisms.migration, vsim.mechanisms.faults, vsim.mechanisms.energy; fields in vsim.spec.operations).
    migrations: list[Migration] = Field(default_factory=list, description="guests to move, when and where")
    failures: list[ScheduledFailure] = Field(default_factory=list, description="host failures at given times")
    ha: HAPolicy | None = Field(default=None, description="restart guests of failed hosts elsewhere")
    consolidation: Consolidation | None = Field(default=None, description="pack guests and power idle hosts off")
    _resolved: dict[str, Profile] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        self._resolved = _resolve_profiles(self)
        _cross_check(self)
        _check_sweep(self)

    # -- convenience ---------------------------------------------------------
    def profile(self, name: str) -> Profile:
        """The profile of platform ``name`` (custom profiles first, then built-ins)."""
        if name in self._resolved:
            return self._resolved[name]
        return load_profile(name)

    @cached_property
    def image_map(self) -> dict[str, Image]:
        return {im.name: im for im in self.images}

    def guest_count(self) -> int:
        return sum(w.count() for w in self.workloads)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


def _resolve_profiles(sc: Scenario) -> dict[str, Profile]:
    resolved: dict[str, Profile] = {}
    for i, raw in enumerate(sc.profiles):
        where = f"profiles[{i}]"
        if set(raw) == {"path"}:
            try:
                prof = load_profile(str(raw["path"]))
            except ScenarioError as exc:
                raise ScenarioError([f"{where}.path: {p}" for p in exc.problems]) from None
        else:
            prof = derive_profile(raw, where=where, known=resolved)
        if prof.name in resolved:
            raise ScenarioError(f"{where}.name: duplicate profile name {prof.name!r}")
        resolved[prof.name] = prof
    return resolved


def _cross_check(sc: Scenario) -> None:
    """Checks that span several sections (names that must refer to something)."""
    problems: list[str] = []

    def dupes(items, what):
        seen = set()
        for i, it in enumerate(items):
            if it.name in seen:
                problems.append(f"{what}[{i}].name: duplicate name {it.name!r}; names must be unique")
            seen.add(it.name)

    dupes(sc.hosts, "hosts")
    dupes(sc.registries, "registries")
    dupes(sc.images, "images")
    dupes(sc.workloads, "workloads")

    known_platforms = set(profile_names()) | set(sc._resolved)
    for i, h in enumerate(sc.hosts):
        for j, p in enumerate(h.platforms):
            if p not in known_platforms:
                problems.append(f"hosts[{i}].platforms[{j}]: unknown platform {p!r}{_suggest(p, known_platforms)}")
        for j, im in enumerate(h.cached_images):
            if im not in sc.image_map:
                problems.append(f"hosts[{i}].cached_images[{j}]: no image named {im!r} in images")
        if all(p in known_platforms for p in h.platforms):
            footprint = sum(sc.profile(p).host_memory_mib.value for p in dict.fromkeys(h.platforms))
            if footprint >= h.memory_gib * 1024 * h.overcommit.memory:
                problems.append(
                    f"hosts[{i}].memory_gib: the platforms alone take {footprint:.0f} MiB, more than the "
                    f"host's {h.memory_gib * 1024:.0f} MiB; give the host more memory or fewer platforms"
                )
    regs = {r.name for r in sc.registries}
    for i, im in enumerate(sc.images):
        if im.registry is not None and im.registry not in regs:
            problems.append(f"images[{i}].registry: no registry named {im.registry!r}{_suggest(im.registry, regs)}")
    for i, w in enumerate(sc.workloads):
        where = f"workloads[{i}]"
        if w.platform not in known_platforms:
            problems.append(f"{where}.platform: unknown platform {w.platform!r}{_suggest(w.platform, known_platforms)}")
            continue
        prof = sc.profile(w.platform)
        if w.kind is not None and w.kind != prof.guest_kind:
            problems.append(f"{where}.kind: platform {w.platform!r} runs {prof.guest_kind}s, not {w.kind}s")
        if not any(w.platform in h.platforms for h in sc.hosts):
            problems.append(f"{where}.platform: no host runs {w.platform!r}; add it to a host's platforms")
        problems.extend(_check_running(sc, w, prof, where, known_platforms))
        if w.image is not None and prof.guest_kind == "process":
            problems.append(f"{where}.image: a native process runs from the host's own file system; remove image")
        elif w.image is not None:
            im = sc.image_map.get(w.image)
            if im is None:
                problems.append(f"{where}.image: no image named {w.image!r}{_suggest(w.image, sc.image_map)}")
            else:
                want = "container" if prof.guest_kind == "container" else "vm-disk"
                if im.kind != want:
                    problems.append(f"{where}.image: {w.platform} needs a {want} image, {w.image!r} is a {im.kind} image")
        if w.clone is not None:
            if prof.guest_kind == "container" and w.clone != "layers":
                problems.append(f"{where}.clone: containers use 'layers'; full and linked clones are for VM disks")
            if prof.guest_kind != "container" and w.clone == "layers":
                problems.append(f"{where}.clone: VM disks are cloned 'full' or 'linked'")
    _check_operations(sc, problems)
    if problems:
        raise ScenarioError(problems)


def _host_names(sc: Scenario) -> tuple[set[str], set[str]]:
    """Group names, and host names of groups small enough to list (``NAME-k``)."""
    groups = {h.name for h in sc.hosts}
    hosts = set()
    for h in sc.hosts:
        if h.count == 1:
            hosts.add(h.name)
        elif h.count <= 10_000:
            hosts.update(f"{h.name}-{k}" for k in range(h.count))
    return groups, hosts


def _check_operations(sc: Scenario, problems: list[str]) -> None:
    """Migrations, failures and consolidation must name things that exist."""
    if not (sc.migrations or sc.failures or sc.consolidation or any(h.mtbf_s for h in sc.hosts)):
        return
    groups, hosts = _host_names(sc)
    wl = {w.name: w for w in sc.workloads}
    for i, m in enumerate(sc.migrations):
        where = f"migrations[{i}]"
        w = wl.get(m.workload)
        if w is None:
            problems.append(f"{where}.workload: no workload named {m.workload!r}{_suggest(m.workload, wl)}")
            continue
        if m.guest >= w.count():
            problems.append(f"{where}.guest: workload {w.name!r} has {w.count()} guests (0..{w.count() - 1}), not {m.guest}")
        if m.to not in groups and m.to not in hosts:
            problems.append(f"{where}.to: no host or host group named {m.to!r}{_suggest(m.to, groups | hosts)}")
        if w.platform not in set(profile_names()) | set(sc._resolved):
            continue
        prof = sc.profile(w.platform)
        if m.mode == "live" and prof.guest_kind != "vm":
            problems.append(f"{where}.mode: live migration moves a running VM's memory; a {prof.guest_kind} "
                            f"({w.platform}) can only move cold (mode: cold)")
        if m.platform is not None:
            if m.mode == "live" and m.platform != w.platform:
                problems.append(f"{where}.platform: a live migration keeps the platform ({w.platform}); "
                                f"changing to {m.platform!r} needs mode: cold")
            elif m.platform not in set(profile_names()) | set(sc._resolved):
                problems.append(f"{where}.platform: unknown platform {m.platform!r}")
            elif sc.profile(m.platform).guest_kind != prof.guest_kind:
                problems.append(f"{where}.platform: {m.platform} runs {sc.profile(m.platform).guest_kind}s, "
                                f"the guest is a {prof.guest_kind}")
    for i, f in enumerate(sc.failures):
        if f.host not in hosts:
            problems.append(f"failures[{i}].host: no host named {f.host!r}{_suggest(f.host, hosts)}")
    endless = [f"hosts[{i}].mtbf_s" for i, h in enumerate(sc.hosts) if h.mtbf_s] + (
        ["consolidation"] if sc.consolidation else [])
    if endless and sc.duration_s is None:
        problems.append(f"duration_s: required with {endless[0]} (failures and consolidation go on for ever); "
                        "set how long to simulate, e.g. duration_s: 86400")


MAX_SWEEP_POINTS = 100_000


def _check_sweep(sc: Scenario) -> None:
    """Every swept path must exist in the scenario, and every value must be valid there."""
    if not sc.sweep:
        return
    import copy

    problems: list[str] = []
    base = sc.model_dump(mode="json", exclude={"sweep", "replications"})
    points = 1
    for key, values in sc.sweep.items():
        where = f"sweep.{key}"
        parts = split_path(key)
        if not values:
            problems.append(f"{where}: give at least one value (a list such as [1, 2, 4])")
            continue
        points *= len(values)
        if parts and parts[0] in ("seed", "sweep", "replications"):
            problems.append(f"{where}: cannot be swept; replications get their own seeds from 'seed'")
            continue
        node: Any = base
        for part in parts:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                node = _MISSING
                break
        if node is _MISSING or not parts:
            problems.append(f"{where}: no such field in the scenario; check the path (e.g. hosts.0.memory_gib)")
            continue
        raw = sc.model_dump(mode="json", exclude_none=True, exclude={"sweep", "replications"})
        for j, val in enumerate(values):
            data = copy.deepcopy(raw)
            try:
                set_path(data, key, val, what=where)
                Scenario.model_validate(data)
            except ValidationError as exc:
                problems.extend(f"{where}[{j}] = {val!r}: {p}" for p in format_validation_error(exc))
            except ScenarioError as exc:
                problems.extend(f"{where}[{j}] = {val!r}: {p}" for p in exc.problems)
    if points > MAX_SWEEP_POINTS:
        problems.append(f"sweep: {points} combinations; at most {MAX_SWEEP_POINTS} points per sweep")
    if problems:
        raise ScenarioError(problems)


_MISSING = object()


def _check_running(sc: Scenario, w: Workload, prof: Profile, where: str, known: set[str]) -> list[str]:
    """Checks of what a running guest does (services, limits, nesting)."""
    out: list[str] = []
    busy = w.service is not None or (w.stress is not None and any(w.stress.model_dump().values()))
    if busy and sc.duration_s is None and not isinstance(w.lifetime, FixedLifetime | ExponentialLifetime):
        out.append(f"{where}.lifetime: a service or stress runs until its guest stops; "
                   "give the guests a lifetime or the scenario a duration_s")
    if w.limits is not None and prof.guest_kind not in ("container", "process"):
        out.append(f"{where}.limits: cgroup limits are for containers and native processes; "
                   f"a {prof.guest_kind}'s limits are its vcpus and memory_mib")
    if w.inside is not None:
        if w.inside not in known:
            out.append(f"{where}.inside: unknown platform {w.inside!r}{_suggest(w.inside, known)}")
        elif sc.profile(w.inside).guest_kind not in ("vm", "microvm"):
            out.append(f"{where}.inside: {w.inside!r} runs {sc.profile(w.inside).guest_kind}s; "
                       "containers can be nested inside a vm or microvm platform")
        if prof.guest_kind != "container":
            out.append(f"{where}.inside: only containers run inside VMs here; {w.platform!r} runs {prof.guest_kind}s")
        if w.limits is not None and w.limits.cpu_weight is not None:
            out.append(f"{where}.limits.cpu_weight: a container inside a VM is weighed by the VM's own kernel, "
                       "which vsim does not model; remove cpu_weight or run the container on the host")
    return out


# -- error messages ----------------------------------------------------------------

def _vocabulary() -> set[str]:
    words: set[str] = set()
    for m in (Scenario, HostGroup, Disk, Overcommit, Registry, Image, Layer, Workload,
              BatchArrivals, PoissonArrivals, TimedArrivals, FixedLifetime, ExponentialLifetime, Profile,
              Service, ServicePoisson, ServiceTrace, RatePoint, DiskIO, Stress, Limits, MemoryUse, Writes,
              Power, MigrationLimits, Migration, ScheduledFailure, HAPolicy, Consolidation):
        words.update(m.model_fields)
    return words


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a type (``list[HostGroup]``, ``A | B | None``...)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _models_at(root: type[BaseModel] | None, loc: tuple) -> list[type[BaseModel]]:
    """The models that describe the value at ``loc`` (empty if unknown)."""
    models = [root] if root is not None else []
    for el in loc:
        if isinstance(el, int) or not models:
            continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            if el in m.model_fields:
                nxt.extend(_models_in(m.model_fields[el].annotation))
            elif "type" in m.model_fields and el in _literal_values(m.model_fields["type"].annotation):
                nxt.append(m)  # the tag pydantic adds for a discriminated union
        models = nxt
    return models


def _literal_values(annotation: Any) -> tuple:
    import typing

    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()


def _unknown_field_hint(name: str, here: list[type[BaseModel]]) -> str:
    """'did you mean' from the fields valid at that place, else where the field belongs."""
    if not here:
        return _suggest(name, _vocabulary()) or "; remove it or check the spelling"
    fields = [f for m in here for f in m.model_fields]
    starts = [f for f in fields if f.startswith(name) or name.startswith(f)]
    if len(starts) == 1:
        return f"; did you mean {starts[0]!r}?"
    hint = _suggest(name, fields)
    if hint:
        return hint
    for m in here:
        for f, info in m.model_fields.items():
            if any(name in sub.model_fields for sub in _models_in(info.annotation)):
                return f"; it belongs inside {f!r} ({f}: {{{name}: ...}})"
    shown = ", ".join(dict.fromkeys(fields))
    return f"; remove it or check the spelling (fields here: {shown})"


_TAGS = {"batch", "poisson", "times", "fixed", "exponential", "forever", "trace"}


def _loc_to_path(loc: tuple, prefix: str = "") -> str:
    parts: list[str] = [prefix] if prefix else []
    prev = None
    for el in loc:
        if isinstance(el, int):
            if parts:
                parts[-1] += f"[{el}]"
            else:
                parts.append(f"[{el}]")
        elif el in _TAGS and prev in ("arrivals", "lifetime"):
            pass  # the tag of a discriminated union: not a field the user wrote
        elif isinstance(el, str) and (el.startswith("function-") or el in ("list[...]",)):
            pass
        else:
            parts.append(str(el))
        prev = el
    return ".".join(parts) if parts else "(top level)"


def format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    """One line per pydantic error: ``field.path: what is expected``."""
    lines: list[str] = []
    root = {"Scenario": Scenario, "Profile": Profile}.get(exc.title)
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        typ = err.get("type", "")
        msg = err.get("msg", "invalid")
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ScenarioError):  # raised by a cross-field check: already has paths
            lines.extend(f"{prefix}.{p}" if prefix else p for p in inner.problems)
            continue
        if typ == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            msg = "unknown field" + _unknown_field_hint(name, _models_at(root, loc[:-1]))
        elif typ == "missing":
            msg = "required field is missing"
        elif typ == "union_tag_invalid" or typ == "union_tag_not_found":
            tags = [t for m in _models_at(root, loc) for t in _literal_values(m.model_fields["type"].annotation)]
            choice = ", ".join(repr(t) for t in tags) or (err.get("ctx") or {}).get("expected_tags", "")
            got = (err.get("ctx") or {}).get("tag")
            msg = f"'type' must be one of {choice}" + (f" (got {got!r})" if got is not None else " (it is missing)")
        elif typ == "invalid_key":
            msg = f"field names must be text, got {err.get('input')!r}"
        else:
            msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
            if "validation error for" in msg:  # a nested pydantic error: keep its words, one line
                msg = re.sub(r"\s*For further information visit [^\s)]+", "", msg)
                msg = re.sub(r"\s*\[type=[^\]]*\]", "", msg)
                msg = re.sub(r"\d+ validation errors? for \w+\s*", "", msg).replace("Input should be", "must be")
                msg = " ".join(msg.split())
            msg = re.sub(r"must be a valid dictionary( or (instance of \w+|object to extract fields from))?",
                         "must be a mapping of fields (key: value)", msg)
            if typ in ("int_parsing", "float_parsing", "int_type", "float_type", "bool_parsing", "string_type"):
                msg += f" (got {err.get('input')!r})"
            m = re.match(r"^([a-z_][a-z0-9_]*): (.+)$", msg, re.S) if typ == "value_error" else None
            if m and any(m.group(1) in mod.model_fields for mod in _models_at(root, loc)):
                loc, msg = (*loc, m.group(1)), m.group(2)  # a check on one field of the model
        lines.append(f"{_loc_to_path(loc, prefix)}: {msg}")
    return lines


# -- reading ------------------------------------------------------------------

def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely; every failure becomes a ``ScenarioError``."""
    if not (isinstance(path, str) or hasattr(path, "__fspath__")):
        raise ScenarioError(f"path: expected a file name (str or pathlib.Path), got {type(path).__name__}")
    p = Path(path)
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, ...
        raise ScenarioError(f"{p}: not a usable file name ({exc}); check the path") from None
    if not exists:
        raise ScenarioError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise ScenarioError(f"{p}: is a folder; give a scenario .yaml file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not a text file (not valid UTF-8); a scenario is a YAML text file") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot be read ({exc.strerror})") from None
    return parse_yaml_text(text, str(p))


class _SafeUniqueLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that also refuses a key given twice in one mapping
    (plain PyYAML silently keeps the last one, so half the user's input is lost)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:
                continue
            if dup:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml_text(text: str, where: str = "scenario") -> Any:
    """Parse YAML text safely (plain data only); every failure is a ``ScenarioError``."""
    if "\x00" in text:
        raise ScenarioError(f"{where}: contains NUL bytes; a scenario is a YAML text file")
    try:
        return yaml.load(text, Loader=_SafeUniqueLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = str(exc.problem)
        if problem.startswith("duplicate key"):
            raise ScenarioError(f"{where}: {line}{problem} in one mapping; keep only one of them") from None
        if "constructor for the tag" not in problem:
            raise ScenarioError(f"{where}: {line}YAML error: {problem}") from None
        raise ScenarioError(
            f"{where}: {line}YAML tag refused ({problem}); scenario files hold plain data only"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(f"{where}: {line}YAML syntax error: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{where}: nested too deeply to be a scenario") from None


def parse_scenario(data: Any, where: str = "scenario") -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`Scenario`."""
    if data is None:
        raise ScenarioError(f"{where}: the file is empty; a scenario needs at least 'hosts:'")
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{where}: the top level must be a mapping (name:, hosts:, workloads:, ...), not "
            + {"str": "text", "int": "a number", "float": "a number", "bool": "a yes/no value"}.get(
                type(data).__name__, f"a {type(data).__name__}")
        )
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ScenarioError(f"{where}: field names must be text, got {bad_keys[0]!r}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc), source=where) from None
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, source=where) from None
    except RecursionError:
        raise ScenarioError(f"{where}: nested too deeply to be a scenario") from None


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any] | None) -> dict:
    """Apply ``dotted.path=value`` overrides (``hosts.0.memory_gib=32`` or
    ``hosts[0].memory_gib=32``) to raw scenario data; values are YAML scalars."""
    if not overrides:
        return data
    import copy

    data = copy.deepcopy(data)
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, dict):
        items = list(overrides.items())
        bad = [k for k, _ in items if not isinstance(k, str)]
        if bad:
            raise ScenarioError(f"overrides: keys must be dotted paths (text), got {bad[0]!r}")
    elif not isinstance(overrides, list | tuple):
        raise ScenarioError("overrides: expected a list of 'path=value' texts or a dict {path: value}, "
                            f"got {type(overrides).__name__}")
    else:
        for ov in overrides:
            if not isinstance(ov, str) or "=" not in ov:
                raise ScenarioError(f"--set {ov!r}: expected dotted.path=value, e.g. hosts.0.memory_gib=32")
            key, _, raw = ov.partition("=")
            try:
                val = yaml.safe_load(raw) if raw.strip() else ""
            except (yaml.YAMLError, RecursionError):
                val = raw
            items.append((key.strip(), val))
    for key, val in items:
        set_path(data, key, val, what="--set")
    return data


def split_path(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in key.replace("[", ".").replace("]", "").split("."):
        if chunk == "":
            continue
        parts.append(int(chunk) if chunk.isdigit() else chunk)
    return parts


def set_path(data: dict, key: str, val: Any, what: str = "path") -> None:
    """Set ``data[key] = val`` where key is a dotted path; the parent must exist."""
    parts = split_path(key)
    if not parts:
        raise ScenarioError(f"{what} {key!r}: empty path")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        here = ".".join(str(p) for p in parts[: i + 1])
        if isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                raise ScenarioError(f"{what} {key!r}: {here} is out of range (the list has {len(node)} items)")
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str):
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError(f"{what} {key!r}: {here} does not exist in the scenario")
    last = parts[-1]
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = val
    elif isinstance(node, dict) and isinstance(last, str):
        node[last] = val
    else:
        raise ScenarioError(f"{what} {key!r}: cannot set {last!r} there")


def load_scenario(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file.

    >>> sc = load_scenario("scenarios/docker-vs-kvm.yaml")   # doctest: +SKIP
    """
    data = read_yaml(path)
    if isinstance(data, dict):
        data = apply_overrides(data, overrides)
        _resolve_relative_paths(data, Path(path).resolve().parent)
    return parse_scenario(data, where=str(path))


def _resolve_relative_paths(data: dict, base: Path) -> None:
    """Files named in a scenario (profile files, request-rate traces) are found
    next to the scenario file first, so a scenario runs from any folder."""

    def fix(holder: Any, key: str) -> None:
        if isinstance(holder, dict) and isinstance(holder.get(key), str):
            rel = Path(holder[key])
            if not rel.is_absolute() and (base / rel).exists():
                holder[key] = str(base / rel)

    for prof in data.get("profiles") or []:
        fix(prof, "path")
    for w in data.get("workloads") or []:
        if isinstance(w, dict) and isinstance(w.get("service"), dict):
            fix(w["service"].get("arrivals"), "path")


def scenario_schema() -> dict:
    """JSON Schema of scenario files (for editors that complete YAML)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vsim scenario"
    return schema



