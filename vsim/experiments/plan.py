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
speed, unshared with the other nodes, and the container engine's per-operation
costs inside a VM are not needed here (services in nested containers are modelled
by ``Workload.inside``, see :mod:`vsim.mechanisms.services`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsim.results.tables import Results
from vsim.spec.errors import ScenarioError
from vsim.spec.plan import (
    Architecture,
    HostType,
    Plan,
    Policy,
    host_level,
    load_plan,
    node_level,
    parse_plan,
    scenario_data,
)
from vsim.spec.scenario import parse_scenario
from vsim.spec.sweep import replication_seed

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

    sc = parse_scenario(scenario_data(p, a, h, hosts, scale), where=f"{a.name} on {hosts} x {h.name}")
    from vsim.spec.cost import check_budget

    check_budget(sc, runs=p.replications)  # a size the plan cannot afford to simulate is refused, not run
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

    sc = _ps(scenario_data(p, a, h, 1, scale), where="bound")
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
        stalled = None
        while True:  # double until a size works
            prev = ev(hi)
            hi = min(hi * 2, p.max_hosts)
            if ev(hi)["ok"]:
                break
            fail = hi
            if hi == p.max_hosts:
                hi = None
                break
            if _only_startup_missed(ev(hi)) and ev(hi)["startup_p95_s"] >= 0.99 * prev["startup_p95_s"]:
                # twice the hosts, no faster: startup is at what one guest takes alone, and no size will do
                stalled = (prev["hosts"], hi, ev(hi)["startup_p95_s"])
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
    if best is None and stalled is not None:
        n0, n1, p95 = stalled
        missed = ev(n1)["missed"]
        binding = missed[0][1]
        why = (f"startup_p95 {p95:.3g} s is what a guest takes without contention: {n0} and {n1} host(s) start "
               f"guests equally fast, so no number of hosts meets targets.startup_p95_max_s")
    elif best is None:
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
    last = stalled[1] if best is None and stalled is not None else p.max_hosts
    out = dict(ev(best)) if best is not None else dict(ev(last))
    out["feasible"] = best is not None
    out["binding"] = binding
    out["why"] = why
    out["simulated_sizes"] = len(cache)
    return out


def _only_startup_missed(fig: dict) -> bool:
    return bool(fig["missed"]) and all(t.startswith("startup") for t, _ in fig["missed"])


def _as_nodes(why: str) -> str:
    """A level-1 explanation, where the "hosts" were node VMs."""
    return why.replace("host(s)", "node VM(s)").replace("one host ", "one node VM ").replace("max_hosts=", "max_hosts (node VMs)=")


def _plan_one(args: tuple) -> dict[str, Any]:
    from vsim.spec.plan import _plan_path

    p, ai, hi, scale = args
    try:
        return _plan_case(p, ai, hi, scale)
    except ScenarioError as exc:  # a scenario built for this case is invalid: say it in the plan's words
        raise ScenarioError([_plan_path(q, ai, hi) + f" (at demand.scale {scale:g})" for q in exc.problems]) from None


def _plan_case(p: Plan, ai: int, hi: int, scale: float) -> dict[str, Any]:
    a, h = p.architectures[ai], p.host_types[hi]
    k = p.policy.tolerate_host_failures
    if a.node is None:
        res = _search(p, a, h, scale)
        guests, platform, nodes, node_binding, why = res["requested"], a.platform, math.nan, "", res["why"]
        achieved, sizes = res, res["simulated_sizes"]
    else:  # containers in VMs: containers into node VMs, then node VMs onto hosts
        lvl1 = _search(*node_level(p, a, h), scale)
        guests, platform, node_binding = lvl1["requested"], f"{a.platform} in {a.inside}", lvl1["binding"]
        nodes = lvl1["hosts"] if lvl1["feasible"] else math.nan
        if lvl1["feasible"]:
            res = _search(*host_level(p, a, h, lvl1["hosts"]), 1.0)
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


def plan(plan_spec: Plan | str | os.PathLike, jobs: int = 1, progress: bool | None = False) -> pd.DataFrame:
    """Minimum hosts per architecture, host type and demand level (see COLUMNS['plan']).

    ``jobs > 1`` searches several (architecture, host type, demand) cases at
    once in local processes; the answers do not depend on it. ``progress=None``
    shows a bar on a terminal's stderr once the search takes over a second.
    """
    from vsim.results.render import progress_bar

    if isinstance(plan_spec, str | os.PathLike):
        plan_spec = load_plan(Path(plan_spec))
    if not isinstance(plan_spec, Plan):
        raise ScenarioError(f"plan: expected a Plan or a plan file, got {type(plan_spec).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ScenarioError(f"--jobs: must be a whole number >= 1, got {jobs!r}")
    p = plan_spec
    cases = [(p, ai, hi, s) for ai in range(len(p.architectures)) for hi in range(len(p.host_types))
             for s in p.demand.scale]
    bar = progress_bar(len(cases), "plan", "case", enabled=progress)
    rows = []
    try:
        if jobs == 1 or len(cases) == 1:
            for c in cases:
                rows.append(_plan_one(c))
                if bar is not None:
                    bar.update(1)
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=min(jobs, len(cases), 4 * (os.cpu_count() or 1))) as pool:
                for row in pool.map(_plan_one, cases):  # in order: the table does not depend on jobs
                    rows.append(row)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    df = pd.DataFrame(rows)
    # The cheapest host type for each architecture and demand level.
    df["cheapest"] = False
    ok = df[df["feasible"]]
    if len(ok):
        idx = ok.groupby(["architecture", "demand_scale"])["cost_per_hour"].idxmin()
        df.loc[idx.to_numpy(), "cheapest"] = True
    return df


def plan_table(df: pd.DataFrame, scale: float | str | None = None) -> pd.DataFrame:
    """The answer for printing, one row per architecture and host type: at one
    demand level (default: 1, else the first), or at every level (``"all"``,
    with a ``demand_scale`` column). ``cheapest`` is ``*`` on the cheapest
    feasible host type of each architecture and level."""
    scales = list(dict.fromkeys(df["demand_scale"]))
    if scale is None:
        scale = 1.0 if 1.0 in scales else scales[0]
    cols = ["architecture", "host_type", "hosts", "cost_per_hour", "binding", "guests_requested", "nodes",
            "power_w", "blocking", "startup_p95_s", "memory_util", "vcpu_util", "disk_util"]
    if scale == "all":
        rows = df.sort_values(["demand_scale"], kind="stable")
        cols = [*cols[:2], "demand_scale", *cols[2:]]
    else:
        rows = df[df["demand_scale"] == scale]
    out = rows[cols].reset_index(drop=True)
    out.insert(out.columns.get_loc("cost_per_hour") + 1, "cheapest",
               ["*" if c else "" for c in rows["cheapest"].to_numpy()])
    out.attrs["scale"] = scale
    return out
