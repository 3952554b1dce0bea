"""Density: how many guests of one shape fit on one host, and what stops there.

The course says one host holds *thousands* of containers but *tens* of VMs
(单机支持上千个容器 / 一般几十个). Why? Each guest reserves resources when it
is placed, and the first resource to run out decides:

* **memory**: the guest's RAM plus the platform's per-guest overhead (QEMU's
  ~142 MiB device model, a container shim's ~8 MiB), minus what page sharing
  (KSM) merges, out of the host's memory minus the platform's *host footprint*
  (a Type 2 hypervisor also pays for its general-purpose host OS);
* **vcpus**: virtual CPUs, up to the overcommit ratio times the cores;
* **disk**: a full clone copies the whole VM image for every guest, a linked
  clone writes a small overlay, containers share image layers and write only a
  thin layer of their own;
* **guest limit**: a per-host software limit, such as the 1,024 ports of the
  Linux bridge that Docker's default network uses.

:func:`density` does not work this out with a formula: it builds a scenario in
which ever more identical guests ask for the host at once, runs the model's
placement, counts the guests placed and reads the binding constraint from the
first rejection's reason. With ``start=True`` it then boots all of them at
once and reports the startup times at that density.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vsim.experiments.run import build_world, simulate
from vsim.experiments.testbed import build_scenario, resolve_host, resolve_platforms, shape_for
from vsim.model.world import World
from vsim.results.tables import Results
from vsim.spec.errors import ScenarioError

__all__ = ["density", "binding_of", "COLUMNS"]

#: The resources a placement refusal (vsim.model.placement.Refusal) can name
#: that are capacity walls of the host; any other refusal is reported as "other".
WALLS = ("memory", "vcpus", "disk", "guest limit")

#: The columns of the density table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "density": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "vcpus": ("float, vCPU", "vCPUs each guest reserves"),
        "memory_mib": ("float, MiB", "memory each guest asks for (before overhead and page sharing)"),
        "clone": ("str", "how each guest gets its disk: full, linked or layers"),
        "requested": ("int", "guests requested at once in the last placement run"),
        "guests": ("int", "guests placed: how many fit on the host"),
        "binding": ("str", "what turned the next guest away: memory, vcpus, disk, guest limit; none if all fitted"),
        "reason": ("str", "the placer's rejection message for that guest"),
        "memory_per_guest_mib": ("float, MiB", "memory one guest reserves: RAM minus page sharing plus per-guest overhead"),
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
            seed: int = 0, max_guests: int = 100_000, first_batch: int = 16) -> pd.DataFrame:
    """How many guests of ``shape`` fit on one ``host`` running ``platform``.

    ``platform`` is a name, a Profile, a profile mapping (``base: kvm`` plus
    overrides), or a list of those (one row each). ``host`` is ``None`` (the
    default server of :mod:`vsim.experiments.testbed`), a scenario file, a
    HostGroup or a mapping. ``shape`` overrides the kind's default guest shape:
    ``{"vcpus": 1, "memory_mib": 512, "clone": "linked"}``.

    The request doubles (16, 32, 64, ...) until the host turns a guest away, up to
    ``max_guests``; ``binding`` is then ``'none'``. Returns one row per platform;
    columns are documented in :data:`COLUMNS` (and ``vsim.COLUMNS['density']``).
    """
    if not isinstance(max_guests, int) or max_guests < 1:
        raise ScenarioError(f"max_guests: must be a whole number >= 1, got {max_guests!r}")
    if not isinstance(start, bool):
        raise ScenarioError(f"start: must be True or False, got {start!r}")
    profiles = resolve_platforms(platform)
    h = resolve_host(host)
    rows = [_one(p, h, shape, start, seed, max_guests, first_batch) for p in profiles]
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["density"]))


def _one(profile, host, shape, start, seed, max_guests, first_batch) -> tuple:
    sh = shape_for(profile, shape)
    n = max(1, min(first_batch, max_guests))
    while True:
        sc = build_scenario(profile, host, sh, n, name=f"density-{profile.name}", seed=seed)
        world, inst = _place_only(sc)
        rejected = inst[inst["state"] == "rejected"]
        if len(rejected) or n >= max_guests:
            break
        n = min(2 * n, max_guests)
    placed = inst[inst["state"] != "rejected"]
    reason = str(rejected["reason"].iloc[0]) if len(rejected) else ""
    refused_by = world.guests[int(rejected["id"].iloc[0])].refused_by if len(rejected) else ""
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
    g0 = world.guests[0]  # every guest is identical: what one needs, placed or not
    return (
        profile.name, profile.guest_kind, float(sh["vcpus"]), float(sh["memory_mib"]), clone,
        int(len(inst)), int(len(placed)), binding_of(refused_by), reason,
        float(g0.memory_mib), float(world.own_disk_mb(g0)),
        float(hst.cache_mb), float(hst.footprint_mib),
        float(mem_cap - placer.mem_free[0]), float(mem_cap),
        float(hst.vcpu_capacity - placer.vcpu_free[0]), float(hst.vcpu_capacity),
        p50, p95, pmax,
    )
