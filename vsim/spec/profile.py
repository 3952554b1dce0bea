"""Platform profiles: the calibrated numbers behind each hypervisor and engine.

A *platform* is the software that runs guests on a host: a bare-metal (Type 1)
hypervisor such as KVM, a hosted (Type 2) hypervisor such as VirtualBox, a
container engine such as Docker, or a microVM monitor such as Firecracker.
A *profile* is the data that describes one platform to the simulator. It is
never code: it lives in a YAML file (the built-in ones in ``vsim/profiles/``)
and every number in it says where it comes from, either

* ``source:`` a publication, specification or raw data set, or
* ``assumption:`` the reasoning behind a number nobody has measured.

A profile holds

* the **host footprint**: memory and CPU the platform takes on every host where
  it is installed (a Type 2 hypervisor pays for a whole desktop OS here);
* the **per-guest overhead**: memory outside the guest's own RAM (QEMU's device
  model, a container shim), and disk written per guest;
* **overhead per operation** (:class:`Overhead`): what a VM exit, a disk
  request, a packet, a TLB miss or a system call costs in the guest beyond
  its native cost; a workload's slowdown follows from its mix of operations;
* **start and stop phases**: CPU seconds, disk MB read and written, network MB
  and a fixed latency. With nothing else running they add up to the measured
  startup time; on a busy host the CPU, disk and network parts are stretched by
  contention (see :mod:`vsim.engine.fairshare`).

A scenario can use a built-in profile by name, define its own, or derive one
(``base: kvm`` plus the fields to change).
"""

from __future__ import annotations

import copy
import math
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from vsim.spec.errors import ScenarioError, brief
from vsim.spec.fields import MAX_SIZE, Name, NonNegative, StrictModel
from vsim.spec.messages import format_validation_error, register_root
from vsim.spec.yamlio import parse_yaml_text, read_yaml

__all__ = [
    "Quantity",
    "Limit",
    "Phase",
    "ControlServer",
    "Overhead",
    "GuestOS",
    "Profile",
    "builtin_profiles",
    "load_profile",
    "profile_names",
    "derive_profile",
]


class _Strict(StrictModel):
    """No unknown keys, immutable, and no yes/no where a number belongs (StrictModel)."""


class _Provenanced(_Strict):
    """A number with its provenance: exactly one of ``source`` or ``assumption``."""

    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_bare(cls, data: Any) -> Any:
        if data is None or isinstance(data, bool | int | float | str):
            raise ValueError(
                f"a bare value ({brief(data)}) has no provenance; write it as "
                f"{{value: {brief(data)}, source: \"where it was measured\"}} or "
                f"{{value: {brief(data)}, assumption: \"why this number\"}}"
            )
        return data

    @model_validator(mode="after")
    def _provenance(self) -> Self:
        if bool(self.source) == bool(self.assumption):
            raise ValueError("give exactly one of 'source' (where the number comes from) "
                             "or 'assumption' (why it was chosen)")
        return self

    @property
    def provenance(self) -> str:
        return f"source: {self.source}" if self.source else f"assumption: {self.assumption}"


#: A profile number: finite, not negative, at most MAX_SIZE (beyond is a typo, and makes runs never end).
ProfileNumber = Annotated[float, Field(ge=0, le=MAX_SIZE, allow_inf_nan=False)]


class Quantity(_Provenanced):
    """A number with its provenance: exactly one of ``source`` or ``assumption``."""

    value: ProfileNumber


class Limit(_Provenanced):
    """A limit with its provenance; ``value: null`` means no limit; ``what``
    names it in a few words (``Linux bridge ports``), for tables that say
    which wall a density hit."""

    value: ProfileNumber | None
    what: str = Field(default="", max_length=80)


class Phase(_Strict):
    """One step of starting or stopping a guest.

    The parts run one after another: CPU work (reference core-seconds, one
    thread), disk reads and writes (MB), network transfer (MB), then a fixed
    latency (s) that no contention stretches (firmware timers, waiting for
    DHCP). ``source`` or ``assumption`` covers all numbers of the phase.

    ``io_kib`` is the size of the phase's disk requests: each request costs
    the disk's positioning time besides its transfer (``Host.disk_seconds``),
    so on a disk with few random IOPS (a hard disk, a busy SAN) small reads
    cost far more than their bandwidth says. Left out, the phase's I/O is
    costed as large sequential transfers (bandwidth alone).

    ``server`` names one of the platform's control-plane servers
    (:class:`ControlServer`) that the phase passes through: it waits for one
    of the server's workers (first come, first served) and holds it from the
    phase's start to its end, so phases of many guests through one server run
    one after another.
    """

    name: str = Field(min_length=1)
    server: str | None = Field(default=None, min_length=1)
    cpu_s: NonNegative = 0.0
    disk_read_mb: NonNegative = 0.0
    disk_write_mb: NonNegative = 0.0
    net_mb: NonNegative = 0.0
    latency_s: NonNegative = 0.0
    io_kib: float | None = Field(default=None, gt=0, le=1_048_576)
    description: str | None = None
    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _provenance(self) -> Phase:
        if bool(self.source) == bool(self.assumption):
            raise ValueError("give exactly one of 'source' or 'assumption'")
        return self


class ControlServer(_Strict):
    """A part of the platform's control plane that serialises its requests.

    Real tools work through requests in order with a few workers: a container
    daemon, the kernel's network-namespace lock, a hypervisor toolstack
    (libvirtd's worker pool, Xen's xl and XenStore). One server of a given
    ``name`` exists per host, shared by every installed platform that names it
    (the kernel's lock is one, whichever engine creates the namespace).
    ``per_running_s`` is extra time a request holds its worker per guest
    already running on the host (booted, not stopping) under the platforms
    using the server: the cost that grows with the guests running (XenStore,
    a daemon's bookkeeping).
    """

    name: str = Field(min_length=1)
    description: str = ""
    workers: Quantity
    per_running_s: Quantity | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        w = self.workers.value
        if not (1 <= w <= 100_000 and w == int(w)):
            raise ValueError("workers: must be a whole number from 1 to 100000")
        if self.per_running_s is not None and not (0 <= self.per_running_s.value <= 3600):
            raise ValueError("per_running_s: must be a time in seconds from 0 to 3600")
        return self


class Overhead(_Strict):
    """What running in this platform costs, per operation (0 = as on bare metal).

    Virtualization overhead is not one percentage: it is a cost that each
    operation of a workload pays (see :mod:`vsim.model.overhead`, which runs an
    operation mix through these costs), so a workload of large, few operations
    runs near native and one of small, many operations does not.

    * ``exit_cpu_share``: fraction of a busy vCPU's time spent outside the guest
      in VM exits (timer ticks, inter-processor interrupts, privileged
      instructions); compute runs at ``1 - exit_cpu_share`` of native speed.
    * ``vector_width``: the share of the host's SIMD width the guest's virtual
      CPU model exposes (1: the host CPU model is passed through; 0.5: a
      baseline model without AVX on an AVX host, so vector code needs twice the
      instructions).
    * ``tlb_miss_ns``: extra time per TLB miss under nested paging (EPT/NPT's
      two-dimensional page walk); paid by random memory access, hidden when
      memory bandwidth is the bottleneck.
    * ``io_request_us``: time per disk request on the guest's virtual disk path
      (the doorbell exit, the device model, the completion interrupt). The path
      serves one request at a time and holds it through the host device's
      service, so small requests pay it in throughput and latency.
    * ``io_copy_us_per_mb``: time per MB on that path (a copy through a host
      file system or a user-space file server); 0 where the device DMAs the
      guest's pages.
    * ``io_page_us``: time per 4 KiB page of a request spent by the guest's
      driver mapping and completing it, off the serial path: it adds latency
      at queue depth 1 and is hidden by deeper queues.
    * ``packet_us``: time per packet on the guest's network path (virtio-net and
      vhost, a NAT rule, a bridge or a user-space network stack), one packet at
      a time; a round trip pays it twice, a bulk transfer of large segments
      hides it behind the wire.
    * ``net_copy_us_per_mb``: time per MB on that path (a copy in a user-space
      network stack).
    * ``syscall_us``: extra time per system call (a user-space kernel that
      intercepts every call, such as gVisor's Sentry).
    """

    exit_cpu_share: Quantity
    vector_width: Quantity
    tlb_miss_ns: Quantity
    io_request_us: Quantity
    io_copy_us_per_mb: Quantity
    io_page_us: Quantity
    packet_us: Quantity
    net_copy_us_per_mb: Quantity
    syscall_us: Quantity

    @model_validator(mode="after")
    def _range(self) -> Overhead:
        for name in type(self).model_fields:
            v = getattr(self, name).value
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {v}")
        if not self.exit_cpu_share.value < 1:
            raise ValueError(f"exit_cpu_share: must be below 1 (a share of the vCPU's time), "
                             f"got {self.exit_cpu_share.value}")
        if not 0 < self.vector_width.value <= 1:
            raise ValueError(f"vector_width: must be in (0, 1] (a share of the host's SIMD width), "
                             f"got {self.vector_width.value}")
        for name in ("tlb_miss_ns", "io_request_us", "io_page_us", "packet_us", "syscall_us"):
            if getattr(self, name).value > 1e6:
                raise ValueError(f"{name}: at most 1e6 (a second per operation), got {getattr(self, name).value}")
        for name in ("io_copy_us_per_mb", "net_copy_us_per_mb"):
            if getattr(self, name).value > 1e8:
                raise ValueError(f"{name}: at most 1e8 (100 s per MB), got {getattr(self, name).value}")
        return self


class GuestOS(_Strict):
    """What a guest needs besides its application: the memory side of density.

    A VM runs a whole guest kernel and OS of its own, is given a fixed amount
    of RAM when it starts (the smallest flavor that holds the guest OS and the
    application at its peak; see :mod:`vsim.model.footprint`) and reserves all
    of it; it *touches* only what its kernel, OS and application use (its
    resident memory), and its page cache grows into the rest as it runs. A
    container shares the host kernel: it has no RAM of its own to reserve,
    only what its processes touch plus a few kernel objects on the host.

    * ``memory_mib``: what the guest's own kernel and OS keep resident when
      idle (0 for a container: it shares the host kernel).
    * ``min_memory_mib``: the smallest RAM a guest is given (a VM flavor's
      smallest size, a microVM monitor's default); 0 where there is no RAM of
      its own.
    * ``kernel_objects_mib``: host kernel memory each guest adds outside its
      process or monitor (a container's network namespace, veth pair, cgroup
      and mounts).
    """

    memory_mib: Quantity
    min_memory_mib: Quantity
    kernel_objects_mib: Quantity

    @model_validator(mode="after")
    def _range(self) -> GuestOS:
        for name in type(self).model_fields:
            v = getattr(self, name).value
            if not math.isfinite(v) or not 0 <= v <= 1e7:
                raise ValueError(f"{name}: must be a finite number of MiB from 0 to 1e7, got {v}")
        return self


# "native" is no platform at all: the application runs as a plain process of
# the host OS (the bare-metal baseline every efficiency is measured against).
PlatformKind = Literal["hypervisor", "container-engine", "microvm", "native"]
GuestKind = Literal["vm", "container", "microvm", "process"]


class Profile(_Strict):
    """Everything the simulator knows about one platform."""

    name: Name
    title: str
    kind: PlatformKind
    hypervisor_type: Literal[1, 2] | None = None
    family: str = Field(min_length=1, description="image-format / management family")
    guest_kind: GuestKind
    shares_host_kernel: bool
    image_format: str = Field(description="qcow2, vmdk, vdi, vhdx, raw or oci")
    default_clone: Literal["full", "linked", "layers"]
    #: Where the default image path comes from: ``default_clone`` may be
    #: written ``{value: linked, source: ...}`` (or ``assumption:``).
    default_clone_provenance: str = ""
    description: str = ""
    host_memory_mib: Quantity
    host_cpu_cores: Quantity
    guest_memory_overhead_mib: Quantity
    guest_disk_overhead_mb: Quantity
    page_sharing: Quantity
    max_guests_per_host: Limit
    linked_clone_overlay_mb: Quantity
    overhead: Overhead
    guest_os: GuestOS
    start_phases: tuple[Phase, ...] = Field(min_length=1)
    stop_phases: tuple[Phase, ...] = ()
    control_plane: tuple[ControlServer, ...] = ()
    #: Spread of one start on an idle host: standard deviation / mean of its
    #: duration (each guest's start phases take a lognormal multiple of their
    #: work, mean 1; see vsim.model.variability). None: no spread known.
    startup_cv: Quantity | None = None
    #: CPU cores one resident guest keeps busy while it idles (its kernel's
    #: timer ticks and housekeeping, its VMM's or shim's threads): taken from
    #: the host's CPU while the guest runs. None: no such cost known.
    idle_cpu_cores: Quantity | None = None

    @model_validator(mode="before")
    @classmethod
    def _clone_provenance(cls, data: Any) -> Any:
        dc = data.get("default_clone") if isinstance(data, dict) else None
        if isinstance(dc, dict):
            data = dict(data)
            extra = set(dc) - {"value", "source", "assumption"}
            if "value" not in dc or extra or bool(dc.get("source")) == bool(dc.get("assumption")):
                raise ValueError("default_clone: give a clone mode (full, linked or layers), or "
                                 "{value: MODE, source: ...} / {value: MODE, assumption: ...}")
            data["default_clone"] = dc["value"]
            data["default_clone_provenance"] = (f"source: {dc['source']}" if dc.get("source")
                                                else f"assumption: {dc['assumption']}")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.kind == "hypervisor" and self.hypervisor_type is None:
            raise ValueError("hypervisor_type: a hypervisor profile needs 1 (bare-metal) or 2 (hosted)")
        if self.kind != "hypervisor" and self.hypervisor_type is not None:
            raise ValueError("hypervisor_type: only hypervisors have a type; remove it")
        for fld in ("host_memory_mib", "host_cpu_cores", "guest_memory_overhead_mib",
                    "guest_disk_overhead_mb", "linked_clone_overlay_mb"):
            v = getattr(self, fld).value
            if v is None or not 0 <= v < math.inf:
                raise ValueError(f"{fld}: must be a finite number >= 0")
        if self.idle_cpu_cores is not None:
            v = self.idle_cpu_cores.value
            if v is None or not 0 <= v <= 64:
                raise ValueError("idle_cpu_cores: the cores one idle guest keeps busy, a number from 0 to 64 "
                                 "(a full-distro VM: about 0.016)")
        ps = self.page_sharing.value
        if ps is None or not (0 <= ps < 1):
            raise ValueError("page_sharing: must be a fraction in [0, 1)")
        mg = self.max_guests_per_host.value
        if mg is not None and mg < 1:
            raise ValueError("max_guests_per_host: must be >= 1, or null for no limit")
        cv = self.startup_cv
        if cv is not None and not (0 <= cv.value <= 1):
            raise ValueError("startup_cv: must be a fraction from 0 to 1 (standard deviation / mean)")
        servers = [s.name for s in self.control_plane]
        if len(set(servers)) != len(servers):
            raise ValueError("control_plane: two servers have the same name")
        for group in ("start_phases", "stop_phases"):
            for ph in getattr(self, group):
                if ph.server is not None and ph.server not in servers:
                    raise ValueError(f"{group}: phase {brief(ph.name)} names server {brief(ph.server)}, which is not in "
                                     f"control_plane ({', '.join(servers) or 'none defined'})")
        return self

    # Convenience accessors used by the model (plain floats).
    def has_server(self, name: str) -> bool:
        """Whether the platform's control plane has a server called ``name``."""
        return any(s.name == name for s in self.control_plane)

    def server_cost(self, name: str) -> float:
        """Seconds per running guest a request to server ``name`` holds its worker (0 if none)."""
        for s in self.control_plane:
            if s.name == name:
                return s.per_running_s.value if s.per_running_s is not None else 0.0
        return 0.0

    @property
    def idle_startup_s(self) -> float:
        """Uncontended sum of the start phases on a reference host (1 core/s, no I/O wait)."""
        return sum(p.cpu_s + p.latency_s for p in self.start_phases)

    def sources(self) -> list[tuple[str, Any, str]]:
        """Every number with its provenance: rows of (field, value, provenance)."""
        rows: list[tuple[str, Any, str]] = []
        for fld in ("host_memory_mib", "host_cpu_cores", "guest_memory_overhead_mib",
                    "guest_disk_overhead_mb", "page_sharing", "max_guests_per_host",
                    "linked_clone_overlay_mb"):
            q = getattr(self, fld)
            rows.append((fld, q.value, q.provenance))
        for fld in Overhead.model_fields:
            q = getattr(self.overhead, fld)
            rows.append((f"overhead.{fld}", q.value, q.provenance))
        for fld in GuestOS.model_fields:
            q = getattr(self.guest_os, fld)
            rows.append((f"guest_os.{fld}", q.value, q.provenance))
        if self.idle_cpu_cores is not None:
            rows.append(("idle_cpu_cores", self.idle_cpu_cores.value, self.idle_cpu_cores.provenance))
        if self.startup_cv is not None:
            rows.append(("startup_cv", self.startup_cv.value, self.startup_cv.provenance))
        for s in self.control_plane:
            rows.append((f"control_plane.{s.name}.workers", s.workers.value, s.workers.provenance))
            if s.per_running_s is not None:
                rows.append((f"control_plane.{s.name}.per_running_s", s.per_running_s.value,
                             s.per_running_s.provenance))
        for group in ("start_phases", "stop_phases"):
            for ph in getattr(self, group):
                nums = ", ".join(
                    f"{k}={getattr(ph, k):g}"
                    for k in ("cpu_s", "disk_read_mb", "disk_write_mb", "net_mb", "latency_s")
                    if getattr(ph, k)
                ) or "nothing"
                prov = f"source: {ph.source}" if ph.source else f"assumption: {ph.assumption}"
                rows.append((f"{group}.{ph.name}", nums, prov))
        return rows


# -- the built-in library -----------------------------------------------------

# A Profile's validation errors point into its fields (vsim.spec.messages).
register_root(Profile, vocabulary=(Profile,))


def _builtin_dir():
    return resources.files("vsim") / "profiles"


@lru_cache(maxsize=1)
def _builtin_raw() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for entry in sorted(_builtin_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            data = parse_yaml_text(entry.read_text(encoding="utf-8"), f"built-in profile {entry.name}")
            out[data["name"]] = data
    return out


def profile_names() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(_builtin_raw())


@cache
def _builtin(name: str) -> Profile:
    raw = _builtin_raw()[name]
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:  # a broken built-in is a bug, but say where
        raise ScenarioError(format_validation_error(exc), source=f"built-in profile {name}") from None


def builtin_profiles() -> dict[str, Profile]:
    """All built-in profiles by name."""
    return {n: _builtin(n) for n in profile_names()}


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a profile YAML file by path."""
    s = str(name_or_path)
    if s in _builtin_raw():
        return _builtin(s)
    p = Path(s)
    if p.suffix in (".yaml", ".yml"):
        return derive_profile(read_yaml(p), where=str(p))
    known = ", ".join(profile_names())
    raise ScenarioError(f"unknown profile {brief(s)}; built-in profiles are: {known}")


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        # A quantity ({value: ..}) is replaced whole, so that a new number never
        # inherits the old number's source.
        if isinstance(v, dict) and "value" not in v and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def derive_profile(data: dict, where: str = "profile", known: dict[str, Profile] | None = None) -> Profile:
    """Build a profile from a mapping, honouring ``base: NAME`` (a built-in or a
    profile in ``known``) plus overriding fields; ``extra_start_phases`` adds
    phases after the base's start phases (a provisioning agent such as
    cloud-init after the boot). Quantities may be overridden
    with a bare number only together with an ``assumption``/``source``:
    ``guest_memory_overhead_mib: {value: 60, assumption: "tuned QEMU"}``.
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a profile must be a mapping of fields")
    data = dict(data)
    base = data.pop("base", None)
    extra = data.pop("extra_start_phases", None)
    if extra is not None and (base is None or not isinstance(extra, list) or "start_phases" in data):
        raise ScenarioError(f"{where}.extra_start_phases: a list of phases added after the start phases of "
                            "the profile named in 'base' (give base:, and not start_phases: as well)")
    if base is not None:
        if not isinstance(base, str):
            raise ScenarioError(f"{where}.base: must be the name of a profile (text), got {brief(base)}")
        known = known or {}
        if base in known:
            base_raw = known[base].model_dump()
        elif base in _builtin_raw():
            base_raw = _builtin(base).model_dump()
        else:
            raise ScenarioError(
                f"{where}.base: unknown profile {brief(base)}; choose one of {', '.join(profile_names())}"
            )
        data = _deep_merge(base_raw, data)
        if extra is not None:
            data["start_phases"] = [*data["start_phases"], *extra]
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, where)) from None
