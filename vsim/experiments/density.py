"""Density: how many guests of one application fit on one host, and what stops there.

The course says one host holds *thousands* of containers but *tens* of VMs
(单机支持上千个容器 / 一般几十个). Why? Run the same application on every
platform (:data:`~vsim.experiments.testbed.APPLICATION`, a small web service)
and each platform adds what it needs to run it (:mod:`vsim.model.footprint`):
a VM a guest kernel and OS, a fixed RAM size (the smallest flavor that holds
them and the service at its peak), whole vCPUs and its monitor's memory; a
container only a shim and a few kernel objects, on the host's own kernel.

Each guest reserves resources when it is placed, and the first to run out
decides. There are two kinds of wall, and :func:`density` reports both:

* **policy** walls, what the host's configuration allows: the memory a guest
  *reserves* (a VM's whole RAM, overcommit ratio included), ``vcpus`` up to
  the vCPU overcommit ratio times the cores, and per-host **guest limits**
  (the 1,024 ports of the Linux bridge that Docker's default network uses,
  Kubernetes' 110 pods);
* **physical** walls, what the hardware can hold: the memory guests *touch*
  (resident: guest OS, working set, monitor or shim, kernel objects), the
  CPU they keep busy on average (the service's and their kernels' idle cost),
  and the disk.

:func:`density` does not work this out with a formula: it builds a scenario in
which ever more identical guests ask for the host at once, runs the model's
placement, counts the guests placed and reads the binding constraint from the
first rejection's reason: once as configured (``guests``, ``binding``), once
with the policies lifted and each guest taking only what it touches and uses
(``physical_guests``, ``physical_binding``). Give ``shape=`` instead of an
application to place guests of a fixed shape (the older comparison: containers
of 0.1 vCPU and 128 MiB against VMs of 2 vCPUs and 4 GiB; also
``scenarios/density-shapes.yaml``). With ``start=True`` it then boots all of
them at once and reports the startup times at that density.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vsim.experiments.run import build_world, simulate
from vsim.experiments.testbed import (
    APPLICATION,
    build_scenario,
    resolve_host,
    resolve_platforms,
    shape_for,
)
from vsim.model.footprint import Needs, guest_needs
from vsim.model.world import World
from vsim.results.tables import Results
from vsim.spec.application import Application, parse_application
from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Limit, Profile

__all__ = ["density", "idle_footprint", "binding_of", "COLUMNS", "IDLE_APPLICATION", "IDLE_HOST", "IDLE_PUBLISHED"]

#: The resources a placement refusal (vsim.model.placement.Refusal) can name
#: that are capacity walls of the host; any other refusal is reported as "other".
WALLS = ("memory", "vcpus", "disk", "guest limit")

#: The columns of the density table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "density": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "application": ("str", "the application every guest runs (empty when a fixed shape was placed)"),
        "vcpus": ("float, vCPU", "vCPUs each guest reserves (a VM: whole vCPUs; a container: the application's average CPU)"),
        "memory_mib": ("float, MiB", "memory each guest asks for before overhead and page sharing (a VM: its RAM "
                                     "flavor; a container: what its processes touch, with no limit set)"),
        "clone": ("str", "how each guest gets its disk: full, linked or layers"),
        "requested": ("int", "guests requested at once in the last placement run"),
        "guests": ("int", "guests placed under the host's policies: how many fit"),
        "binding": ("str", "what turned the next guest away: memory, vcpus, disk, guest limit; none if all fitted"),
        "reason": ("str", "the placer's rejection message for that guest"),
        "physical_guests": ("int", "guests placed with the policies lifted (no guest limit, no vCPU or memory "
                                   "overcommit ratio), each taking only the memory it touches and the CPU it uses; "
                                   "-1 when a fixed shape was placed"),
        "physical_binding": ("str", "the physical wall that turned the next guest away then: memory, vcpus (CPU "
                                    "in use), disk; empty when a fixed shape was placed"),
        "memory_per_guest_mib": ("float, MiB", "memory one guest reserves: its RAM (or touched memory) less page "
                                               "sharing, plus per-guest overhead and kernel objects"),
        "resident_per_guest_mib": ("float, MiB", "memory one idle guest touches: guest OS and working set less page "
                                                 "sharing, plus monitor or shim and kernel objects; NaN for a fixed shape"),
        "cpu_per_guest_cores": ("float, cores", "CPU one guest keeps busy on average: the application's and its "
                                                "kernel's and monitor's idle cost; NaN for a fixed shape"),
        "disk_per_guest_mb": ("float, MB", "disk one guest takes itself (clone, overlay or writable layer)"),
        "image_cache_mb": ("float, MB", "image data in the host's cache, shared by all guests"),
        "footprint_mib": ("float, MiB", "memory the platform takes on the host before any guest"),
        "memory_reserved_mib": ("float, MiB", "memory reserved at that density, footprint included"),
        "memory_capacity_mib": ("float, MiB", "memory that may be reserved (physical times overcommit)"),
        "vcpus_reserved": ("float, vCPU", "vCPUs reserved at that density"),
        "vcpu_capacity": ("float, vCPU", "vCPUs that may be reserved (cores times overcommit)"),
        "startup_p50_s": ("float, s", "with start=True: median startup when all of them start at once; NaN otherwise"),
        "startup_p95_s": ("float, s", "with start=True: 95th percentile of the same"),
        "startup_max_s": ("float, s", "with start=True: the last guest's startup"),
    },
    "idle_footprint": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "guests": ("int", "idle guests running on the host (all booted)"),
        "memory_gb": ("float, GB", "memory they touch, the platform's host footprint included (formula: "
                                   "guests x resident_per_guest_mib + footprint)"),
        "resident_per_guest_mib": ("float, MiB", "memory one idle guest touches: guest OS, an idle process, monitor "
                                                 "or shim, kernel objects (vsim.model.footprint)"),
        "cpu_pct": ("float, %", "share of the host's cores the idle guests keep busy, read from the simulated host "
                                "once every guest has booted (each running guest takes its profile's "
                                "idle_cpu_cores from the CPU)"),
        "published": ("str", "what the published figure beside it measured (measurements.md section 8); empty "
                             "if none"),
        "published_memory_gb": ("float, GB", "published memory of as many idle guests; NaN if none"),
        "published_cpu_pct": ("float, %", "published share of the host's CPU; NaN if none"),
        "calibrated_on_it": ("str", "which of this platform's per-guest numbers were taken from that same "
                                    "publication (memory, cpu): there the match is by construction, not a check"),
    },
}

#: The host of the idle-footprint table: Manco et al. (SOSP 2017) ran their idle
#: guests on a 64-core host, and report CPU as a share of it. Memory and disk:
#: assumption, enough for 1,000 guests of every platform's reservations and
#: full clones (the figures compared are what the guests touch, which the host's
#: size does not change).
IDLE_HOST: dict[str, Any] = {"name": "manco-host", "cores": 64, "memory_gib": 1024,
                             "disk": {"capacity_gib": 10_000}, "overcommit": {"cpu": 16.0}}
#: What an idle guest runs: assumption, nothing but one sleeping process (about
#: 1 MiB touched, no CPU to speak of); a VM's guest OS comes on top (guest_os).
IDLE_APPLICATION: dict[str, Any] = {
    "name": "idle", "working_set_mib": 1.0, "cpu_cores": 1e-6,
    "why": "assumption: one sleeping process (sleep, a shell): about 1 MiB touched, no CPU",
}
#: Manco et al. 2017 (measurements.md section 8): 1,000 idle instances, memory
#: (GB) and host CPU (%), by what was measured; and which guest kinds or profiles
#: each is set beside.
IDLE_PUBLISHED: dict[str, tuple[str, float, float]] = {
    "vm": ("1,000 idle Debian VMs on Xen (Manco et al. 2017)", 114.0, 25.0),
    "microvm": ("1,000 idle Tinyx VMs on Xen (Manco et al. 2017)", 27.0, 1.0),
    "docker": ("1,000 idle Docker containers (Manco et al. 2017)", 5.0, 0.2),
}


def binding_of(refused_by: str) -> str:
    """The capacity wall a refusal's resource names (``'memory'``, ...):
    ``'other'`` for a refusal that is not a wall, ``'none'`` for no refusal."""
    if refused_by in WALLS:
        return refused_by
    return "other" if refused_by else "none"


def _place_only(sc) -> tuple[World, pd.DataFrame]:
    """Run the model just past time 0: every guest has been placed or rejected."""
    world = build_world(sc)
    world.run(until=1e-9)
    return world, Results.from_world(world).instances


def density(platform: Any, host: Any = None, shape: dict | None = None, start: bool = False,
            seed: int = 0, max_guests: int = 100_000, first_batch: int = 16,
            application: Any = None) -> pd.DataFrame:
    """How many guests running one application fit on one ``host`` running ``platform``.

    ``platform`` is a name, a Profile, a profile mapping (``base: kvm`` plus
    overrides), or a list of those (one row each). ``host`` is ``None`` (the
    default server of :mod:`vsim.experiments.testbed`), a scenario file, a
    HostGroup or a mapping. ``application`` is a mapping of
    :class:`~vsim.spec.application.Application` fields (by default
    :data:`~vsim.experiments.testbed.APPLICATION`); each platform's guest is
    sized for it (:func:`vsim.model.footprint.guest_needs`). ``shape`` instead
    places guests of a fixed shape (``{"vcpus": 1, "memory_mib": 512, "clone":
    "linked"}``; the kind's defaults for what it leaves out), with no physical
    wall worked out.

    The request doubles (16, 32, 64, ...) until the host turns a guest away, up to
    ``max_guests``; ``binding`` is then ``'none'``. Returns one row per platform;
    columns are documented in :data:`COLUMNS` (and ``vsim.COLUMNS['density']``).
    """
    if not isinstance(max_guests, int) or isinstance(max_guests, bool) or max_guests < 1:
        raise ScenarioError(f"max_guests: must be a whole number >= 1, got {max_guests!r}")
    if not isinstance(start, bool):
        raise ScenarioError(f"start: must be True or False, got {start!r}")
    if isinstance(first_batch, bool) or not isinstance(first_batch, int) or first_batch < 1:
        raise ScenarioError(f"first_batch: must be a whole number >= 1, got {first_batch!r}")
    if shape is not None and application is not None:
        raise ScenarioError("shape: give an application (each platform sizes its guest for it) or a fixed shape, "
                            "not both")
    app = None if shape is not None else parse_application(APPLICATION if application is None else application)
    profiles = resolve_platforms(platform)
    h = resolve_host(host)
    rows = [_one(p, h, shape, app, start, seed, max_guests, first_batch) for p in profiles]
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["density"]))


def _fill(profile: Profile, host: dict, sh: dict, seed: int, max_guests: int, first_batch: int):
    """Request ever more guests of shape ``sh`` at once until the host refuses one."""
    n = max(1, min(first_batch, max_guests))
    while True:
        sc = build_scenario(profile, host, sh, n, name=f"density-{profile.name}", seed=seed)
        world, inst = _place_only(sc)
        rejected = inst[inst["state"] == "rejected"]
        if len(rejected) or n >= max_guests:
            return world, inst, rejected
        n = min(2 * n, max_guests)


def _refused(world: World, rejected: pd.DataFrame) -> str:
    return world.guests[int(rejected["id"].iloc[0])].refused_by if len(rejected) else ""


def _physical(profile: Profile, host: dict, sh: dict, needs: Needs, seed: int, max_guests: int,
              first_batch: int) -> tuple[int, str]:
    """Placement with the policies lifted: no guest limit on the platform or the
    host, no overcommit ratio, each guest reserving only the memory it touches
    and, as vCPUs, the cores it keeps busy on average."""
    free = profile.model_copy(update={"max_guests_per_host": Limit(
        value=None, assumption="lifted: the physical wall is sought")})
    hw = dict(host)
    hw["overcommit"] = {**host.get("overcommit", {}), "cpu": 1.0, "memory": 1.0}
    hw["max_guests"] = None
    phys = {**sh, "vcpus": needs.cpu_cores, "memory_mib": needs.resident_workload_mib}
    world, inst, rejected = _fill(free, hw, phys, seed, max_guests, first_batch)
    return int((inst["state"] != "rejected").sum()), binding_of(_refused(world, rejected)) if len(rejected) else "none"


def _one(profile, host, shape, app: Application | None, start, seed, max_guests, first_batch) -> tuple:
    needs = guest_needs(profile, app) if app is not None else None
    if needs is not None:
        assert app is not None
        sh = shape_for(profile, {"vcpus": needs.vcpus, "memory_mib": needs.workload_memory_mib,
                                 "disk_gib": app.disk_mb / 1073.741824})
    else:
        sh = shape_for(profile, shape)
    world, inst, rejected = _fill(profile, host, sh, seed, max_guests, first_batch)
    placed = inst[inst["state"] != "rejected"]
    reason = str(rejected["reason"].iloc[0]) if len(rejected) else ""
    refused_by = _refused(world, rejected)
    hst = world.hosts[0]
    placer = world.placer
    mem_cap = hst.memory_capacity_mib
    clone = world.guests[0].clone
    p50 = p95 = pmax = math.nan
    if start and len(placed):
        # Boot every guest that fits, all at once (plus one more, turned away).
        full = build_scenario(profile, host, sh, len(placed) + (1 if len(rejected) else 0),
                              name=f"density-start-{profile.name}", seed=seed)
        st = simulate(full).instances["startup_s"].dropna()
        if len(st):
            p50, p95, pmax = float(st.quantile(0.5)), float(st.quantile(0.95)), float(st.max())
    if needs is not None:
        phys_n, phys_b = _physical(profile, host, sh, needs, seed, max_guests, first_batch)
        resident, cpu = needs.resident_mib, needs.cpu_cores
    else:
        phys_n, phys_b, resident, cpu = -1, "", math.nan, math.nan
    g0 = world.guests[0]  # every guest is identical: what one needs, placed or not
    return (
        profile.name, profile.guest_kind, app.name if app is not None else "",
        float(sh["vcpus"]), float(sh["memory_mib"]), clone,
        int(len(inst)), int(len(placed)), binding_of(refused_by), reason, phys_n, phys_b,
        float(g0.memory_mib), float(resident), float(cpu), float(world.own_disk_mb(g0)),
        float(hst.cache_mb), float(hst.footprint_mib),
        float(mem_cap - placer.mem_free[0]), float(mem_cap),
        float(hst.vcpu_capacity - placer.vcpu_free[0]), float(hst.vcpu_capacity),
        p50, p95, pmax,
    )


def idle_footprint(platforms: Any = ("docker", "kvm", "xen", "firecracker"), n: int = 1000,
                   host: Any = None, seed: int = 0) -> pd.DataFrame:
    """What ``n`` idle guests of each platform cost their host: memory and CPU.

    Each platform runs alone on :data:`IDLE_HOST` (Manco et al.'s 64 cores, or
    ``host``), with ``n`` guests of :data:`IDLE_APPLICATION` started at once
    and run until all have booted. The CPU share is read from the simulated
    host then (each running guest takes its profile's ``idle_cpu_cores``); the
    memory is what the guests touch (:func:`vsim.model.footprint.guest_needs`)
    times ``n``, plus the platform's footprint. Beside each, Manco et al.'s
    figure for the nearest thing they measured (:data:`IDLE_PUBLISHED`), and
    ``calibrated_on_it`` says which of the profile's numbers came from that
    figure (a match there is by construction). Per-host guest limits are
    lifted (Manco et al. ran 1,000 of each). Columns: ``vsim.COLUMNS['idle_footprint']``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10_000:
        raise ScenarioError(f"n: must be a whole number of guests from 1 to 10000, got {n!r}")
    profiles = resolve_platforms(list(platforms) if isinstance(platforms, tuple) else platforms)
    h = resolve_host(IDLE_HOST if host is None else host)
    app = parse_application(IDLE_APPLICATION)
    rows = []
    for prof in profiles:
        needs = guest_needs(prof, app)
        sh = shape_for(prof, {"vcpus": needs.vcpus, "memory_mib": needs.workload_memory_mib})
        # Manco et al. ran 1,000 of each: per-host guest limits (kubelet's 110 pods, a
        # vendor's supported maximum) are lifted, as for the physical wall.
        free = prof.model_copy(update={"max_guests_per_host": Limit(
            value=None, assumption="lifted: as many idle guests as were measured")})
        sc = build_scenario(free, h, sh, n, name=f"idle-{prof.name}", seed=seed)
        world = build_world(sc)
        world.run()  # until every guest has booted (they run forever: nothing more happens)
        hst = world.hosts[0]
        running = sum(g.state == "running" for g in world.guests)
        key = prof.name if prof.name in IDLE_PUBLISHED else prof.guest_kind
        what, pub_mem, pub_cpu = IDLE_PUBLISHED.get(key, ("", math.nan, math.nan))
        calibrated = []
        if what and "Manco" in prof.guest_os.memory_mib.provenance:
            calibrated.append("memory")
        if what and prof.idle_cpu_cores is not None and "Manco" in prof.idle_cpu_cores.provenance:
            calibrated.append("cpu")
        rows.append((
            prof.name, prof.guest_kind, int(running),
            (running * needs.resident_mib + hst.footprint_mib) * 1.048576 / 1000,
            float(needs.resident_mib), 100.0 * hst.idle_cores / hst.cores,
            what, pub_mem, pub_cpu, ", ".join(calibrated),
        ))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["idle_footprint"]))
