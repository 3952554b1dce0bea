"""The test bed of the experiments: a default host, guest shapes and images.

To compare platforms fairly you run each of them on *the same hardware* with
*the same service* inside. This module holds those shared choices, each with
its source or its reasoning, and builds the scenarios the experiments run:

* :data:`DEFAULT_HOST`: a two-socket server like the one Felter et al. (IBM
  RC25482, 2014) used to compare Docker with KVM: 256 GiB of memory, an SSD
  reading 800 MB/s and writing 750 MB/s, 10 Gbit Ethernet; 32 cores.
* :data:`SHAPES`: what one guest reserves, per kind of guest. A container gets
  a slice of a core and the memory its service needs; a VM must be given whole
  vCPUs and enough memory for a whole guest OS; a microVM runs a minimal kernel.
* :func:`image_for`: the image a guest starts from: a whole VM disk (GB) in the
  platform's format, a microVM root file system, or a layered container image
  (MB) whose layers are shared by every container on the host.

Each experiment places every platform *alone* on a copy of the host (only that
platform installed, so only its footprint is paid), with the image already in
the host's cache: startup then means clone-or-unpack plus boot, not download.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Profile, derive_profile, load_profile, profile_names
from vsim.spec.scenario import HostGroup, Scenario, load_scenario, parse_scenario

__all__ = [
    "DEFAULT_HOST",
    "SHAPES",
    "APPLICATION",
    "IMAGES",
    "resolve_host",
    "resolve_platform",
    "resolve_platforms",
    "shape_for",
    "image_for",
    "build_scenario",
    "DEFAULT_REGISTRY",
    "describe_host",
]

#: The default host. Cores, memory, disk and network follow Felter et al. 2014's
#: test server (IBM x3650 M4: 2 sockets, 256 GB; SSD fio 806.9 MB/s read,
#: 751.0 MB/s write, 84,044 / 112,034 random 4 KB IOPS; 10 GbE). That server had
#: 2 x 8 cores; assumption: 2 x 16 cores, a current two-socket server of the same
#: class, so that the vCPU limit is not what every VM count runs into.
#: Overcommit: assumption: 4 vCPUs per physical core, the OpenStack Nova default
#: cpu_allocation_ratio of recent releases; memory and disk are not overcommitted.
#: Disk capacity: assumption: a 1 TB SSD (1000 GiB).
DEFAULT_HOST: dict[str, Any] = {
    "name": "server",
    "cores": 32,
    "core_speed": 1.0,
    "memory_gib": 256,
    "disk": {
        "capacity_gib": 1000,
        "read_mb_s": 800,
        "write_mb_s": 750,
        "random_read_iops": 84_000,
        "random_write_iops": 112_000,
    },
    "network_gbit_s": 10,
    "overcommit": {"cpu": 4.0, "memory": 1.0, "disk": 1.0},
}

#: Where images come from when a host does not have them yet (the 'image not on
#: the host' experiments): assumption: an image service (a registry, OpenStack
#: Glance) reached over a 1 Gbit/s link shared by every pull, 10 ms away; a
#: campus or enterprise mirror. Public clouds have measured slower: Mao &
#: Humphrey, IEEE CLOUD 2012, image-store transfer 1.1-22.5 MB/s.
DEFAULT_REGISTRY: dict[str, Any] = {"name": "image-service", "bandwidth_gbit_s": 1.0, "latency_s": 0.01}

#: What one guest reserves, by guest kind (vcpus, memory_mib), with the reasoning.
SHAPES: dict[str, dict[str, Any]] = {
    "container": {
        "vcpus": 0.1,
        "memory_mib": 128,
        "why": "assumption: a small web service; nginx used 84.6 MB in Docker (Plauth et al. 2017 raw data), "
               "rounded up to a 128 MiB limit and a tenth of a core (Kubernetes' usual 100m CPU request)",
    },
    "vm": {
        "vcpus": 2,
        "memory_mib": 4096,
        "why": "assumption: the common 'medium' cloud VM (AWS t3.medium, GCP e2-medium: 2 vCPUs, 4 GiB); "
               "a VM needs whole vCPUs and room for a full guest OS besides the service",
    },
    "microvm": {
        "vcpus": 1,
        "memory_mib": 256,
        "why": "assumption: a serverless-style microVM; Firecracker's own tests use 1 vCPU and 128 MiB, "
               "doubled to hold the service",
    },
}

#: The application every platform runs in the density experiment (and the
#: compare table's density row): one service, so that what differs is only what
#: each platform adds to it (vsim.model.footprint). Fields as in
#: vsim.spec.application.Application.
APPLICATION: dict[str, Any] = {
    "name": "web-service",
    "working_set_mib": 80.7,
    "peak_mib": 128,
    "cpu_cores": 0.01,
    "peak_cores": 1,
    "disk_mb": 0,
    "why": "source: nginx used 84.6 MB = 80.7 MiB in Docker (Plauth et al. 2017 raw data); assumption: bursts to "
           "128 MiB, 1% of a core on average (a lightly used service), one core at its busiest, nothing "
           "written to its own disk",
}

#: Images, by the kind of disk a platform needs. Sizes carry their sources.
IMAGES: dict[str, dict[str, Any]] = {
    # source: Plauth et al. ESOCC 2017 raw data, Ubuntu VM image 2,256 MB.
    "vm": {"name": "ubuntu-server", "kind": "vm-disk", "size_mb": 2256},
    # assumption: a minimal root file system for a microVM (Ubuntu base 78 MB unpacked,
    # plus init and the service): a few hundred MB; raw ext4, copied per guest.
    "microvm": {"name": "rootfs", "kind": "vm-disk", "size_mb": 300},
    # Layers of a small service image; the whole is 355 MB unpacked, like Plauth et
    # al.'s Docker application image (355 MB). Base layer: docker-library/repo-info
    # ubuntu:22.04 (30.4 MB compressed, 78.1 MB on disk); the runtime and code layer
    # sizes are assumptions.
    "container": {"name": "service", "kind": "container", "layers": [
        {"id": "ubuntu-22.04", "size_mb": 30.4, "unpacked_mb": 78.1},
        {"id": "runtime", "size_mb": 90, "unpacked_mb": 250},
        {"id": "service-code", "size_mb": 5, "unpacked_mb": 27},
    ]},
}

_VM_FORMATS = {"qcow2", "vmdk", "vdi", "vhdx", "raw"}
_SHAPE_FIELDS = ("vcpus", "memory_mib", "disk_gib", "clone", "image")


# -- resolving arguments ----------------------------------------------------------

def resolve_host(host: Any = None) -> dict[str, Any]:
    """A host description as a plain dict of :class:`~vsim.spec.scenario.HostGroup` fields.

    ``host`` may be ``None`` (the :data:`DEFAULT_HOST`), a scenario file (its first
    host group is used), a ``HostGroup``, or a mapping of HostGroup fields
    (``platforms`` may be left out: each experiment installs its own).
    """
    if host is None:
        return copy.deepcopy(DEFAULT_HOST)
    if isinstance(host, HostGroup):
        data = host.model_dump(mode="json")
    elif isinstance(host, Scenario):
        data = host.hosts[0].model_dump(mode="json")
    elif isinstance(host, (str, Path)):
        data = load_scenario(host).hosts[0].model_dump(mode="json")
    elif isinstance(host, dict):
        data = dict(host)
        data.setdefault("platforms", ["kvm"])
        from pydantic import ValidationError

        from vsim.spec.messages import format_validation_error

        try:
            data = HostGroup.model_validate(data).model_dump(mode="json")
        except ValidationError as exc:
            raise ScenarioError(format_validation_error(exc, "host")) from None
    else:
        raise ScenarioError(
            f"host: expected a scenario file, a HostGroup or a mapping of host fields, got {type(host).__name__}"
        )
    for k in ("platforms", "cached_images", "count"):
        data.pop(k, None)
    return data


def resolve_platform(p: Any) -> Profile:
    """A platform given as a name, a :class:`~vsim.spec.profile.Profile`, or a profile
    mapping (``{"name": "kvm-ksm", "base": "kvm", "page_sharing": {...}}``)."""
    if isinstance(p, Profile):
        return p
    if isinstance(p, dict):
        return derive_profile(p, where="platforms")
    if isinstance(p, str):
        name = p.strip()
        if not name:
            raise ScenarioError("platforms: an empty name in the list; separate names with commas, e.g. docker,kvm")
        if name in profile_names():
            return load_profile(name)
        if name.endswith((".yaml", ".yml")) and Path(name).exists():
            return load_profile(name)
        import difflib

        close = difflib.get_close_matches(name, profile_names(), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(
            f"platforms: unknown platform {name!r}.{hint} Choose from: {', '.join(profile_names())} "
            "(`vsim profiles` describes them)"
        )
    raise ScenarioError(f"platforms: expected a profile name, Profile or mapping, got {type(p).__name__}")


def resolve_platforms(platforms: Any) -> list[Profile]:
    if isinstance(platforms, (str, Profile, dict)):
        platforms = [platforms]
    try:
        items = list(platforms)
    except TypeError:
        raise ScenarioError(f"platforms: expected a list of platform names, got {platforms!r}") from None
    if not items:
        raise ScenarioError("platforms: the list is empty; name at least one platform, e.g. docker")
    profiles = [resolve_platform(p) for p in items]
    names = [p.name for p in profiles]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(f"platforms: {dup[0]!r} is listed twice; each platform is one column")
    return profiles


def image_for(profile: Profile) -> dict[str, Any] | None:
    """The default image for a platform: a VM disk in its format, a microVM root
    file system, or the layered container image (None for a kind without images,
    such as a native process)."""
    if profile.guest_kind not in IMAGES:
        return None
    im = copy.deepcopy(IMAGES[profile.guest_kind])
    if im["kind"] == "vm-disk":
        fmt = profile.image_format if profile.image_format in _VM_FORMATS else "raw"
        im["format"] = fmt
        im["name"] = f"{im['name']}-{fmt}"
    return im


def shape_for(profile: Profile, shape: dict | None = None) -> dict[str, Any]:
    """Workload fields of one guest: the kind's default shape, updated by ``shape``.

    ``shape`` may set ``vcpus``, ``memory_mib``, ``disk_gib``, ``clone`` (``full``
    or ``linked``: used by guests with a VM disk, ignored by containers, which
    always share layers) and ``image`` (an image mapping as in a scenario).
    """
    if shape is not None and not isinstance(shape, dict):
        raise ScenarioError(f"shape: expected a mapping such as {{'vcpus': 1, 'memory_mib': 512}}, got {shape!r}")
    # A kind without a shape of its own (a native process) is sized like a container.
    base = SHAPES.get(profile.guest_kind, SHAPES["container"])
    out: dict[str, Any] = {"vcpus": base["vcpus"], "memory_mib": base["memory_mib"], "disk_gib": 0.0,
                           "clone": None, "image": image_for(profile)}
    for k, v in (shape or {}).items():
        if k not in _SHAPE_FIELDS:
            raise ScenarioError(f"shape.{k}: unknown field; a shape has {', '.join(_SHAPE_FIELDS)}")
        out[k] = v
    # 'clone' chooses how a VM disk is copied (full or linked); guests without a
    # VM disk (containers share layers) keep their own way, so that one shape
    # can be used across a list of platforms.
    im = out["image"]
    if out["clone"] in ("full", "linked") and not (isinstance(im, dict) and im.get("kind") == "vm-disk"):
        out["clone"] = None
    return out


# -- scenarios ------------------------------------------------------------------------

def build_scenario(profile: Profile, host: dict[str, Any], shape: dict[str, Any], count: int,
                   name: str = "experiment", seed: int = 0, cached: bool = True) -> Scenario:
    """One host running only ``profile``, its image cached (or, with ``cached``
    false, fetched from :data:`DEFAULT_REGISTRY` when first needed), ``count``
    identical guests requested together at time 0, running until the end."""
    image = shape["image"]
    if image is not None and (not isinstance(image, dict) or "name" not in image):
        raise ScenarioError("shape.image: expected an image mapping with a name (see vsim.experiments.testbed.IMAGES)")
    h = dict(host)
    h.update({"name": "host", "count": 1, "platforms": [profile.name],
              "cached_images": [image["name"]] if image and cached else []})
    if image and not cached:
        image = {**image, "registry": DEFAULT_REGISTRY["name"]}
    workload = {
        "name": profile.name,
        "platform": profile.name,
        "vcpus": shape["vcpus"],
        "memory_mib": shape["memory_mib"],
        "disk_gib": shape["disk_gib"],
        "image": image["name"] if image else None,
        "arrivals": {"type": "batch", "count": int(count), "at_s": 0.0},
        "lifetime": {"type": "forever"},
    }
    if shape.get("clone") is not None:
        workload["clone"] = shape["clone"]
    data = {
        "name": name,
        "seed": seed,
        "hosts": [h],
        "images": [image] if image else [],
        "workloads": [workload],
        "profiles": [profile.model_dump(mode="json")],
    }
    if image and not cached:
        data["registries"] = [dict(DEFAULT_REGISTRY)]
    try:
        return parse_scenario(data, where=name)
    except ScenarioError as exc:
        fixed = [p.replace("workloads[0].", "shape.").replace("hosts[0].", "host.").replace("images[0].", "shape.image.")
                 for p in exc.problems]
        raise ScenarioError(fixed) from None


def describe_host(host: dict[str, Any], lang: str = "en") -> str:
    """One line a student can read: cores, memory, disk, network, overcommit."""
    d = host.get("disk", {})
    oc = host.get("overcommit", {})
    if lang == "zh":
        return (f"{host.get('cores')} 核（cores），内存 {host.get('memory_gib'):g} GiB，硬盘 "
                f"{d.get('capacity_gib', 0):g} GiB（读/写 {d.get('read_mb_s', 0):g}/{d.get('write_mb_s', 0):g} MB/s），"
                f"网络 {host.get('network_gbit_s'):g} Gbit/s，每核最多 {oc.get('cpu', 1):g} 个虚拟CPU")
    return (f"{host.get('cores')} cores, {host.get('memory_gib'):g} GiB memory, "
            f"disk {d.get('capacity_gib', 0):g} GiB at {d.get('read_mb_s', 0):g}/{d.get('write_mb_s', 0):g} MB/s "
            f"read/write, {host.get('network_gbit_s'):g} Gbit/s network, "
            f"up to {oc.get('cpu', 1):g} vCPUs per core")
