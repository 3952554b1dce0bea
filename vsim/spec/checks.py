"""Cross-checks: the rules that need the whole scenario at once.

Each section of a scenario is checked on its own by its pydantic model: a
host's memory must be a positive number, a workload must name a platform.
Some rules cannot be seen from one section, because they connect two:

* a name must refer to something that exists (a workload's ``platform`` must
  be installed on some host, its ``image`` must be listed under ``images``,
  a migration must name a real workload, guest and host);
* two sections must agree (a Docker workload needs a container image, a
  live migration moves a VM, a platform's own memory must fit on its host);
* every point of a ``sweep:`` must itself be a valid scenario.

These checks run once the sections are valid (from ``Scenario``'s
``model_post_init``), collect *every* problem rather than stop at the first,
and raise one :class:`~vsim.spec.errors.ScenarioError` with one line per
problem, each starting with the path of the field to fix.

This module receives the scenario as an argument and imports the scenario
module only for type checking: :mod:`vsim.spec.scenario` imports this one to
run the checks, so a real import back would be a cycle.
"""

from __future__ import annotations

import copy
import math
import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vsim.spec.errors import ScenarioError, brief
from vsim.spec.messages import format_validation_error, suggest
from vsim.spec.overrides import set_path, split_path

if TYPE_CHECKING:
    from vsim.spec.profile import Profile
    from vsim.spec.scenario import HostGroup, Scenario, Workload

__all__ = ["MAX_SWEEP_POINTS", "check_scenario"]

MAX_SWEEP_POINTS = 100_000  # a sweep is every combination of its values: 10 fields of 4 values is 10^6

_MISSING = object()  # a swept path that leads nowhere


def check_scenario(sc: Scenario) -> None:
    """Run every cross-check; raise one ``ScenarioError`` listing the problems
    of the references first (the sweep is only checked when they are fine)."""
    _check_references(sc)
    _check_sweep(sc)


def _check_references(sc: Scenario) -> None:
    """Checks that span several sections (names that must refer to something)."""
    problems: list[str] = []
    for what, names in (("hosts", [h.name for h in sc.hosts]), ("registries", [r.name for r in sc.registries]),
                        ("images", [im.name for im in sc.images]), ("workloads", [w.name for w in sc.workloads])):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append(f"{what}[{i}].name: duplicate name {brief(name)}; names must be unique")
            seen.add(name)
    # the hosts' own names, as the model makes them: NAME, or NAME-0 ... NAME-(count-1) for a
    # group; a single host named like a member of a group would be two hosts of one name
    groups = {h.name: (i, h.count) for i, h in enumerate(sc.hosts) if h.count > 1}
    for i, h in enumerate(sc.hosts):
        m = re.fullmatch(r"(.+)-(0|[1-9][0-9]*)", h.name) if h.count == 1 else None
        if m and m.group(1) in groups and int(m.group(2)) < groups[m.group(1)][1]:
            problems.append(f"hosts[{i}].name: {brief(h.name)} is also the name of a host of hosts[{groups[m.group(1)][0]}] "
                            f"(a group of {groups[m.group(1)][1]} is {m.group(1)}-0 ... {m.group(1)}-"
                            f"{groups[m.group(1)][1] - 1}); every host needs its own name")
    known_platforms = sc.known_platforms()
    for i, h in enumerate(sc.hosts):
        problems.extend(_check_host(sc, i, h, known_platforms))
    regs = {r.name for r in sc.registries}
    for i, im in enumerate(sc.images):
        if im.registry is not None and im.registry not in regs:
            problems.append(f"images[{i}].registry: no registry named {brief(im.registry)}{suggest(im.registry, regs)}")
    for i, w in enumerate(sc.workloads):
        problems.extend(_check_workload(sc, f"workloads[{i}]", w, known_platforms))
    _check_operations(sc, problems)
    if problems:
        raise ScenarioError(problems)


def _check_host(sc: Scenario, i: int, h: HostGroup, known_platforms: set[str]) -> list[str]:
    """A host group's platforms and cached images exist, and its platforms fit in its memory."""
    problems = []
    for j, p in enumerate(h.platforms):
        if p not in known_platforms:
            problems.append(f"hosts[{i}].platforms[{j}]: unknown platform {brief(p)}{suggest(p, known_platforms)}")
    for j, cached in enumerate(h.cached_images):
        if cached not in sc.image_map:
            problems.append(f"hosts[{i}].cached_images[{j}]: no image named {brief(cached)} in images")
    if all(p in known_platforms for p in h.platforms):
        workers: dict[str, tuple[str, float]] = {}
        for p in dict.fromkeys(h.platforms):
            for s in sc.profile(p).control_plane:
                first = workers.setdefault(s.name, (p, s.workers.value))
                if first[1] != s.workers.value:
                    problems.append(
                        f"hosts[{i}].platforms: {first[0]} and {p} both have a control-plane server "
                        f"{brief(s.name)} (one per host, shared) but with {first[1]:g} and {s.workers.value:g} "
                        "workers; give them the same number")
        footprint = sum(_host_memory_mib(sc.profile(p)) for p in dict.fromkeys(h.platforms))
        if footprint >= h.memory_gib * 1024 * h.overcommit.memory:
            problems.append(
                f"hosts[{i}].memory_gib: the platforms alone take {footprint:.0f} MiB, more than the "
                f"host's {h.memory_gib * 1024:.0f} MiB; give the host more memory or fewer platforms"
            )
        cores = sum(sc.profile(p).host_cpu_cores.value for p in dict.fromkeys(h.platforms))
        if cores >= h.cores:
            problems.append(
                f"hosts[{i}].cores: the platforms alone keep {cores:g} cores busy (host_cpu_cores), all of the "
                f"host's {h.cores:g}; give the host more cores or use a profile with a smaller footprint")
    return problems


def _check_workload(sc: Scenario, where: str, w: Workload, known_platforms: set[str]) -> list[str]:
    """A workload's platform is known and installed, and its kind, image and clone suit it."""
    if w.platform not in known_platforms:
        return [f"{where}.platform: unknown platform {brief(w.platform)}{suggest(w.platform, known_platforms)}"]
    problems = []
    prof = sc.profile(w.platform)
    if w.kind is not None and w.kind != prof.guest_kind:
        problems.append(f"{where}.kind: platform {brief(w.platform)} runs {prof.guest_kind}s, not {w.kind}s")
    if not any(w.platform in h.platforms for h in sc.hosts):
        problems.append(f"{where}.platform: no host runs {brief(w.platform)}; add it to a host's platforms")
    problems.extend(_check_running(sc, w, prof, where, known_platforms))
    if w.image is not None and prof.guest_kind == "process":
        problems.append(f"{where}.image: a native process runs from the host's own file system; remove image")
    elif w.image is not None:
        image = sc.image_map.get(w.image)
        if image is None:
            problems.append(f"{where}.image: no image named {brief(w.image)}{suggest(w.image, sc.image_map)}")
        else:
            want = "container" if prof.guest_kind == "container" else "vm-disk"
            if image.kind != want:
                problems.append(f"{where}.image: {w.platform} needs a {want} image, {brief(w.image)} is a {image.kind} image")
    if w.clone is not None:
        if prof.guest_kind == "container" and w.clone != "layers":
            problems.append(f"{where}.clone: containers use 'layers'; full and linked clones are for VM disks")
        if prof.guest_kind != "container" and w.clone == "layers":
            problems.append(f"{where}.clone: VM disks are cloned 'full' or 'linked'")
    return problems


def _host_memory_mib(prof: Profile) -> float:
    """What the platform takes on every host (a number: Profile checks it is one)."""
    mib = prof.host_memory_mib.value
    assert mib is not None
    return mib


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
            problems.append(f"{where}.workload: no workload named {brief(m.workload)}{suggest(m.workload, wl)}")
            continue
        if m.guest >= w.count():
            problems.append(f"{where}.guest: workload {brief(w.name)} has {w.count()} guests (0..{w.count() - 1}), not {m.guest}")
        if m.to not in groups and m.to not in hosts:
            problems.append(f"{where}.to: no host or host group named {brief(m.to)}{suggest(m.to, groups | hosts)}")
        if w.platform not in sc.known_platforms():
            continue
        prof = sc.profile(w.platform)
        if m.mode == "live" and prof.guest_kind != "vm":
            problems.append(f"{where}.mode: live migration moves a running VM's memory; a {prof.guest_kind} "
                            f"({w.platform}) can only move cold (mode: cold)")
        if m.platform is not None:
            if m.mode == "live" and m.platform != w.platform:
                problems.append(f"{where}.platform: a live migration keeps the platform ({w.platform}); "
                                f"changing to {brief(m.platform)} needs mode: cold")
            elif m.platform not in sc.known_platforms():
                problems.append(f"{where}.platform: unknown platform {brief(m.platform)}")
            elif sc.profile(m.platform).guest_kind != prof.guest_kind:
                problems.append(f"{where}.platform: {m.platform} runs {sc.profile(m.platform).guest_kind}s, "
                                f"the guest is a {prof.guest_kind}")
    for i, f in enumerate(sc.failures):
        if f.host not in hosts:
            problems.append(f"failures[{i}].host: no host named {brief(f.host)}{suggest(f.host, hosts)}")
    endless = [f"hosts[{i}].mtbf_s" for i, h in enumerate(sc.hosts) if h.mtbf_s] + (
        ["consolidation"] if sc.consolidation else [])
    if endless and sc.duration_s is None:
        problems.append(f"duration_s: required with {endless[0]} (failures and consolidation go on for ever); "
                        "set how long to simulate, e.g. duration_s: 86400")



def _check_sweep(sc: Scenario) -> None:
    """Every swept path must exist in the scenario, and every value must be valid there."""
    if not sc.sweep:
        return
    problems: list[str] = []
    # the number of points first: a million values are refused before any is validated
    total = math.prod(len(v) for v in sc.sweep.values() if v)
    if total > MAX_SWEEP_POINTS:
        sizes = ", ".join(f"{k}: {len(v):,}" for k, v in sc.sweep.items())
        raise ScenarioError(f"sweep: {total:,} combinations ({sizes}); at most {MAX_SWEEP_POINTS:,} points per sweep")
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
                type(sc).model_validate(data)
            except ValidationError as exc:
                problems.extend(f"{where}[{j}] = {brief(val)}: {p}" for p in format_validation_error(exc))
            except ScenarioError as exc:
                problems.extend(f"{where}[{j}] = {brief(val)}: {p}" for p in exc.problems)
    if points > MAX_SWEEP_POINTS:
        problems.append(f"sweep: {points} combinations; at most {MAX_SWEEP_POINTS} points per sweep")
    if problems:
        raise ScenarioError(problems)



def _check_running(sc: Scenario, w: Workload, prof: Profile, where: str, known: set[str]) -> list[str]:
    """Checks of what a running guest does (services, limits, nesting)."""
    out: list[str] = []
    busy = w.service is not None or (w.stress is not None and any(w.stress.model_dump().values()))
    if busy and sc.duration_s is None and w.lifetime.type == "forever":
        out.append(f"{where}.lifetime: a service or stress runs until its guest stops; "
                   "give the guests a lifetime or the scenario a duration_s")
    if w.limits is not None and prof.guest_kind not in ("container", "process"):
        out.append(f"{where}.limits: cgroup limits are for containers and native processes; "
                   f"a {prof.guest_kind}'s limits are its vcpus and memory_mib")
    if w.inside is not None:
        if w.inside not in known:
            out.append(f"{where}.inside: unknown platform {brief(w.inside)}{suggest(w.inside, known)}")
        elif sc.profile(w.inside).guest_kind not in ("vm", "microvm"):
            out.append(f"{where}.inside: {brief(w.inside)} runs {sc.profile(w.inside).guest_kind}s; "
                       "containers can be nested inside a vm or microvm platform")
        if prof.guest_kind != "container":
            out.append(f"{where}.inside: only containers run inside VMs here; {brief(w.platform)} runs {prof.guest_kind}s")
        if w.limits is not None and w.limits.cpu_weight is not None:
            out.append(f"{where}.limits.cpu_weight: a container inside a VM is weighed by the VM's own kernel, "
                       "which vsim does not model; remove cpu_weight or run the container on the host")
    return out
