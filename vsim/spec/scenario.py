"""Scenarios: what to simulate, as validated data.

A scenario file is plain YAML that says which hosts exist, which platforms
(hypervisors, container engines) run on them, which images and registries there
are, and which guests (VMs, containers, microVMs) arrive when. Loading one
takes four steps, each in its own module:

1. read the YAML as plain data, refusing Python objects and duplicate keys
   (:mod:`vsim.spec.yamlio`);
2. apply ``--set dotted.path=value`` overrides to that data
   (:mod:`vsim.spec.overrides`);
3. check every section field by field with the pydantic models here, then the
   rules that connect sections (:mod:`vsim.spec.checks`);
4. return an immutable :class:`Scenario`.

Every problem is reported on its own line, starting with the path of the
field (:mod:`vsim.spec.messages`)::

    hosts[0].memory_gib: must be greater than 0
    workloads[1].platfrom: unknown field; did you mean 'platform'?

Units are part of every field name: ``memory_gib``, ``read_mb_s``,
``network_gbit_s``, ``duration_s``. MB are 10^6 bytes, MiB and GiB are 2^20 and
2^30 bytes; network bandwidths are in Gbit/s, disk bandwidths in MB/s.

The simulation model (:mod:`vsim.model.world`) never reads YAML: it only sees a
``Scenario``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from vsim.spec.checks import check_scenario
from vsim.spec.errors import ScenarioError, brief
from vsim.spec.fields import Name, NonNegative, Positive, StrictModel
from vsim.spec.messages import format_validation_error, register_root
from vsim.spec.operations import (
    Consolidation,
    HAPolicy,
    Migration,
    MigrationLimits,
    Power,
    ScheduledFailure,
)
from vsim.spec.overrides import apply_overrides, set_path, split_path
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
from vsim.spec.yamlio import parse_yaml_text, read_yaml, refuse_other_kind

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
    "scenario_schema",
    # moved, and still importable from here:
    "read_yaml",
    "parse_yaml_text",
    "format_validation_error",
    "apply_overrides",
    "split_path",
    "set_path",
]

# Upper bounds that keep a typo (an extra three zeros) from hanging a laptop.
MAX_GUESTS = 10_000_000
MAX_HOSTS = 1_000_000


# -- hosts ----------------------------------------------------------------------

class Disk(StrictModel):
    """A host's local disk: capacity and what it can do per second."""

    capacity_gib: Positive = 1000.0
    read_mb_s: Positive = 800.0
    write_mb_s: Positive = 750.0
    random_read_iops: Positive = 84_000.0
    random_write_iops: Positive = 112_000.0


class Overcommit(StrictModel):
    """How far reservations may exceed physical capacity (1.0 = not at all).

    ``cpu`` counts vCPUs per physical core; ``memory`` and ``disk`` multiply
    the capacity that reservations may take.
    """

    cpu: Annotated[float, Field(ge=1, le=1000)] = 1.0
    memory: Annotated[float, Field(ge=1, le=100)] = 1.0
    disk: Annotated[float, Field(ge=1, le=100)] = 1.0


class HostGroup(StrictModel):
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
    page_cache: bool = Field(
        default=True,
        description="keep shared read-only data (base images under linked clones, container layers) in the memory "
                    "guests have not reserved, so later boots read it from memory (vsim.engine.pagecache); "
                    "false: every boot reads from disk",
    )
    max_guests: Annotated[int, Field(ge=1, le=MAX_GUESTS)] | None = None
    pid_max: Annotated[int, Field(ge=301, le=4_194_304)] | None = Field(
        default=None, description="the host kernel's kernel.pid_max, shared by the tasks of every container and "
                                  "process on the host; default the kernel's: max(32768, 1024 x cores) (kernel/pid.c)")
    os: Literal["linux", "windows"] = Field(default="linux", description="the host kernel; containers must match it")
    network_rtt_us: Positive = Field(
        default=37.6, description="native network round trip (source: Felter et al. 2014, netperf TCP_RR 37.6 us)"
    )
    # Operating the fleet (vsim.mechanisms.energy, vsim.mechanisms.faults; fields in vsim.spec.operations).
    power: Power = Power()
    mtbf_s: Positive | None = Field(default=None, description="mean time between failures of each host (exponential); none by default")
    repair_s: NonNegative = Field(default=3600.0, description="mean repair time after a random failure (exponential)")


# -- images -------------------------------------------------------------------

class Registry(StrictModel):
    """Where images come from: a link shared by every pull from it."""

    name: Name
    bandwidth_gbit_s: Positive = 1.0
    latency_s: NonNegative = 0.0


class Layer(StrictModel):
    """One layer of a container image: compressed (pulled) and unpacked sizes."""

    id: Name
    size_mb: NonNegative
    unpacked_mb: NonNegative | None = None

    @property
    def disk_mb(self) -> float:
        return self.unpacked_mb if self.unpacked_mb is not None else self.size_mb


class Image(StrictModel):
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

    # _shape gives size_mb to every vm-disk image and to no container image.
    @property
    def transfer_mb(self) -> float:
        """MB pulled from the registry: the disk image, or every layer (compressed)."""
        if self.size_mb is not None:  # a vm-disk image
            return self.size_mb
        return sum(lay.size_mb for lay in self.layers)

    @property
    def disk_mb(self) -> float:
        """MB it takes on a host's disk: the disk image, or every layer unpacked."""
        if self.size_mb is not None:  # a vm-disk image
            return self.size_mb
        return sum(lay.disk_mb for lay in self.layers)


# -- workloads ----------------------------------------------------------------

class BatchArrivals(StrictModel):
    """``count`` guests requested together at ``at_s``."""

    type: Literal["batch"]
    count: Annotated[int, Field(ge=1, le=MAX_GUESTS)]
    at_s: NonNegative = 0.0


class PoissonArrivals(StrictModel):
    """``count`` guests requested one by one, exponential gaps of mean 1/rate."""

    type: Literal["poisson"]
    rate_per_s: Positive
    count: Annotated[int, Field(ge=1, le=MAX_GUESTS)]
    start_s: NonNegative = 0.0


class EveryArrivals(StrictModel):
    """``count`` guests requested one at a time, one every ``interval_s`` from ``start_s``
    (sequential boots, as in a benchmark that starts guests one after another)."""

    type: Literal["every"]
    interval_s: Positive
    count: Annotated[int, Field(ge=1, le=MAX_GUESTS)]
    start_s: NonNegative = 0.0


class TimedArrivals(StrictModel):
    """Guests requested at the listed times."""

    type: Literal["times"]
    times_s: list[NonNegative] = Field(min_length=1, max_length=MAX_GUESTS)


Arrivals = Annotated[BatchArrivals | PoissonArrivals | EveryArrivals | TimedArrivals, Field(discriminator="type")]


class FixedLifetime(StrictModel):
    type: Literal["fixed"]
    duration_s: NonNegative


class ExponentialLifetime(StrictModel):
    type: Literal["exponential"]
    mean_s: Positive


class ForeverLifetime(StrictModel):
    type: Literal["forever"]


Lifetime = Annotated[FixedLifetime | ExponentialLifetime | ForeverLifetime, Field(discriminator="type")]


class Workload(StrictModel):
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
    remove_on_stop: bool = Field(
        default=False,
        description="a container is removed when it stops (docker run --rm, or an orchestrator replacing it), "
                    "and its writable layer with it; false: Docker's default, docker stop keeps the stopped "
                    "container and its writable layer until docker rm",
    )
    vm_disk: Literal["local", "shared"] = Field(
        default="local",
        description="where a VM's disk lives: local (cloned onto its host at placement, lost with the host) "
                    "or shared (network storage that outlives the host; its I/O is not yet costed on the network)",
    )
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


class Scenario(StrictModel):
    """A whole experiment: hosts, registries, images, workloads and settings."""

    name: Name = "scenario"
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    duration_s: Positive | None = Field(
        default=None, description="stop the clock here; by default run until every guest has stopped"
    )
    placement: Placement = "first-fit"
    variability: bool = Field(
        default=True,
        description="each guest's start takes a random multiple of its platform's start phases (the "
                    "profile's startup_cv); false: every guest exactly as calibrated (exact timelines)")
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
        check_scenario(self)

    # -- convenience ---------------------------------------------------------
    def profile(self, name: str) -> Profile:
        """The profile of platform ``name`` (custom profiles first, then built-ins)."""
        if name in self._resolved:
            return self._resolved[name]
        return load_profile(name)

    def known_platforms(self) -> set[str]:
        """Names of every platform this scenario can use: built-in and custom."""
        return set(profile_names()) | set(self._resolved)

    @cached_property
    def image_map(self) -> dict[str, Image]:
        return {im.name: im for im in self.images}

    def guest_count(self) -> int:
        return sum(w.count() for w in self.workloads)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


# A Scenario's validation errors point into its fields (vsim.spec.messages); an
# unknown field whose place is not known is compared with every field a
# scenario file can hold.
register_root(Scenario, vocabulary=(
    Scenario, HostGroup, Disk, Overcommit, Registry, Image, Layer, Workload,
    BatchArrivals, PoissonArrivals, EveryArrivals, TimedArrivals, FixedLifetime, ExponentialLifetime, Profile,
    Service, ServicePoisson, ServiceTrace, RatePoint, DiskIO, Stress, Limits, MemoryUse, Writes,
    Power, MigrationLimits, Migration, ScheduledFailure, HAPolicy, Consolidation,
))


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
            raise ScenarioError(f"{where}.name: duplicate profile name {brief(prof.name)}")
        resolved[prof.name] = prof
    return resolved


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
        raise ScenarioError(f"{where}: field names must be text, got {brief(bad_keys[0])}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc), source=where) from None
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, source=where) from None
    except RecursionError:
        raise ScenarioError(f"{where}: nested too deeply to be a scenario") from None


def load_scenario(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file.

    >>> sc = load_scenario("scenarios/docker-vs-kvm.yaml")   # doctest: +SKIP
    """
    data = read_yaml(path)
    refuse_other_kind(data, "scenario", str(path))
    if isinstance(data, dict):
        data = apply_overrides(data, overrides)
        _resolve_relative_paths(data, Path(path).resolve().parent)
    sc = parse_scenario(data, where=str(path))
    _reserve_builtin_names(sc, str(path))
    return sc


def _reserve_builtin_names(sc: Scenario, where: str) -> None:
    """A scenario *file* may not give its own profile a built-in's name (anyone
    reading ``platform: firecracker`` would take it for the built-in), unless
    it is an identical copy. The Python API may, to ask "what if KVM's
    overhead were ..." of a built-in by name (as ``vsim.density`` does)."""
    for i, prof in enumerate(sc._resolved.values()):
        if prof.name in profile_names() and prof != load_profile(prof.name):
            raise ScenarioError(f"profiles[{i}].name: {brief(prof.name)} is a built-in profile; give yours a name "
                                f"of its own (e.g. {prof.name}-custom), so that no one reads it as the built-in",
                                source=where)


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



