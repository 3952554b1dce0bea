"""Invariants of the model, checked with Hypothesis over random valid scenarios.

Hypothesis builds small random scenarios (a few hosts, platforms, images and
workloads with random shapes, arrivals and finite lifetimes), runs each, and
checks what must hold whatever the numbers:

* every requested guest is in the results exactly once, in a terminal state
  (with finite lifetimes and no ``duration_s``: stopped or rejected), and a
  rejected guest has a reason;
* reservations on a host never exceed its capacity times the overcommit ratio
  (memory, vCPUs, guest counts from the records; disk from the placer's books
  at every placement);
* a fair-share resource never serves more than its capacity, nor a job more
  than its cap, between any two changes;
* a guest's times never go backwards (requested <= placed <= provisioned <=
  ready <= stopped) and its phases run one after another;
* no guest starts faster than the uncontended sum of its phases, computed here
  from the profile and the host's numbers, independently of the model.

Plus reproducibility: the same seed gives an identical ``instances.csv``, a
different seed changes Poisson arrival times.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from helpers import disk_of, disk_s
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsim
from vsim.engine.fairshare import FairShare
from vsim.experiments.run import build_world
from vsim.model.variability import levels
from vsim.results import Results

PLATFORMS = ["kvm", "docker", "firecracker", "virtualbox"]
MIB_PER_GIB = 1024.0
MB_PER_MIB = 1.048576
EPS = 1e-6

# -- random valid scenarios ---------------------------------------------------------------------

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def host_groups(draw, i):
    return {
        "name": f"g{i}",
        "count": draw(st.integers(1, 2)),
        "cores": draw(st.integers(1, 8)),
        "core_speed": draw(st.floats(0.5, 2.0, **finite)),
        "memory_gib": draw(st.floats(3, 16, **finite)),
        "disk": {
            "capacity_gib": draw(st.floats(0.5, 20, **finite)),
            "read_mb_s": draw(st.floats(50, 2000, **finite)),
            "write_mb_s": draw(st.floats(50, 2000, **finite)),
        },
        "network_gbit_s": draw(st.floats(0.5, 25, **finite)),
        "platforms": draw(st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=3, unique=True)),
        "overcommit": {
            "cpu": draw(st.floats(1, 4, **finite)),
            "memory": draw(st.floats(1, 2, **finite)),
        },
        "max_guests": draw(st.none() | st.integers(1, 6)),
    }


arrivals = st.one_of(
    st.builds(lambda n, t: {"type": "batch", "count": n, "at_s": t}, st.integers(1, 6), st.floats(0, 20, **finite)),
    st.builds(lambda r, n: {"type": "poisson", "rate_per_s": r, "count": n},
              st.floats(0.05, 20, **finite), st.integers(1, 6)),
    st.builds(lambda ts: {"type": "times", "times_s": ts}, st.lists(st.floats(0, 60, **finite), min_size=1, max_size=5)),
)
lifetimes = st.one_of(
    st.builds(lambda d: {"type": "fixed", "duration_s": d}, st.floats(0, 120, **finite)),
    st.builds(lambda m: {"type": "exponential", "mean_s": m}, st.floats(0.1, 120, **finite)),
)


@st.composite
def scenarios(draw):
    groups = [draw(host_groups(i)) for i in range(draw(st.integers(1, 3)))]
    installed = sorted({p for g in groups for p in g["platforms"]})
    images = [
        {"name": "disk", "kind": "vm-disk", "format": "qcow2", "size_mb": draw(st.floats(1, 3000, **finite))},
        {"name": "app", "kind": "container", "layers": [
            {"id": f"l{k}", "size_mb": draw(st.floats(0, 200, **finite))} for k in range(draw(st.integers(1, 3)))
        ]},
    ]
    workloads = []
    for k in range(draw(st.integers(1, 3))):
        platform = draw(st.sampled_from(installed))
        w = {
            "name": f"w{k}",
            "platform": platform,
            "vcpus": draw(st.sampled_from([0.25, 0.5, 1, 2, 4])),
            "memory_mib": draw(st.floats(16, 6000, **finite)),
            "disk_gib": draw(st.floats(0, 5, **finite)),
            "arrivals": draw(arrivals),
            "lifetime": draw(lifetimes),
        }
        if platform == "docker":
            if draw(st.booleans()):
                w["image"] = "app"
        elif draw(st.booleans()):
            w["image"] = "disk"
            w["clone"] = draw(st.sampled_from(["full", "linked"]))
        workloads.append(w)
    for g in groups:  # sometimes a warm cache
        if draw(st.booleans()):
            g["cached_images"] = draw(st.lists(st.sampled_from(["disk", "app"]), max_size=2, unique=True))
    return vsim.parse_scenario({
        "name": "random",
        "variability": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32)),
        "placement": draw(st.sampled_from(["first-fit", "best-fit", "worst-fit", "spread"])),
        "hosts": groups,
        "registries": [{"name": "hub", "bandwidth_gbit_s": draw(st.floats(0.1, 10, **finite))}],
        "images": images,
        "workloads": workloads,
    })


# -- instrumented run ------------------------------------------------------------------------------

def _watch_fair_share(fs: FairShare, log: list) -> None:
    """Check the service given between any two changes of ``fs`` (an instance-level wrapper)."""
    advance = fs._advance

    def checked():
        t0, v0, n = fs._t_last, fs._vtime, fs._n
        advance()
        dt, dv = fs._t_last - t0, fs._vtime - v0
        if dt > 0 and n:
            served = dv * n / dt  # work per second actually handed out
            # dv carries the rounding of the virtual time (a few ulps), which over a
            # tiny dt is a large relative error: allow it, no more.
            slack = 4 * math.ulp(max(abs(v0), abs(fs._vtime), 1e-300)) / dt
            if served > fs.capacity * (1 + 1e-9) + n * slack or dv / dt > fs.job_cap * (1 + 1e-9) + slack:
                log.append(f"{fs.name}: served {served} > capacity {fs.capacity} (n={n})")

    fs._advance = checked


def run_checked(sc: vsim.Scenario):
    """Run ``sc`` with the fair shares and the placer under watch; returns (world, results, violations)."""
    world = build_world(sc)
    violations: list[str] = []
    shares = [r for h in world.hosts for r in (h.cpu, h.disk, h.nic)] + [link for link, _ in world.registries.values()]
    for fs in shares:
        _watch_fair_share(fs, violations)
    placer = world.placer
    place = placer.place

    def checked_place(guest, own_disk_mb):
        out = place(guest, own_disk_mb)
        i = out[0]
        if i is not None:  # (a host whose platforms alone take more than its memory starts below 0)
            for what, free in (("memory", placer.mem_free), ("vcpus", placer.vcpu_free), ("disk", placer.disk_free)):
                if free[i] < -EPS:
                    violations.append(f"{what} over-reserved on host {i} by placing {guest.name}: free {free[i]}")
        return out

    placer.place = checked_place
    world.run()
    res = Results.from_world(world)
    for fs in shares:
        if fs.work_done > fs.capacity * world.env.now * (1 + 1e-9) + 1e-9:
            violations.append(f"{fs.name}: {fs.work_done} work done in {world.env.now} s")
    return world, res, violations


def uncontended_boot_s(sc: vsim.Scenario, platform: str, group, shared: bool = False) -> float:
    """Lower bound of the start phases on an idle host of ``group``: every part
    at the full rate one job can get, plus the fixed latencies; with ``shared``
    (reads of shared data on a host with a page cache) the reads may come from
    memory, so they are left out."""
    prof = sc.profile(platform)
    footprint_cores = sum(sc.profile(p).host_cpu_cores.value for p in group.platforms)
    cpu_rate = min(group.core_speed, max(group.cores - footprint_cores, 0.05 * group.cores) * group.core_speed)
    net_mb_s = group.network_gbit_s * 125.0
    total = 0.0
    for ph in prof.start_phases:
        total += ph.cpu_s / cpu_rate
        total += disk_s(0.0 if shared else ph.disk_read_mb, ph.disk_write_mb, ph.io_kib, **disk_of(group.disk))
        total += ph.net_mb / net_mb_s
        total += ph.latency_s
    return total


def clone_s(sc: vsim.Scenario, w, group) -> float:
    """Lower bound of the disk work of provisioning a VM image (cache hit, idle disk)."""
    if w.image is None:
        return 0.0
    im = sc.image_map[w.image]
    if im.kind != "vm-disk":
        return 0.0
    clone = w.clone or sc.profile(w.platform).default_clone
    if clone == "full":
        return im.disk_mb / group.disk.read_mb_s + im.disk_mb / group.disk.write_mb_s
    return sc.profile(w.platform).linked_clone_overlay_mb.value / group.disk.write_mb_s


# -- the properties --------------------------------------------------------------------------

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_invariants_hold_for_random_scenarios(sc):
    world, res, violations = run_checked(sc)
    assert violations == []
    inst = res.instances
    groups = {g.name: g for g in sc.hosts}

    # Every requested guest exactly once, in a terminal state; rejections say why.
    assert len(inst) == sc.guest_count()
    assert inst["id"].is_unique
    for wl in sc.workloads:
        assert (inst["workload"] == wl.name).sum() == wl.count()
    assert set(inst["state"]) <= {"stopped", "rejected"}
    rejected = inst["state"] == "rejected"
    assert (inst.loc[rejected, "reason"].str.len() > 0).all()
    assert inst.loc[rejected, "placed_s"].isna().all() and (inst.loc[rejected, "host"] == "").all()
    assert (inst.loc[~rejected, "reason"] == "").all()

    # Times never go backwards.
    ok = inst[~rejected]
    chain = ["requested_s", "placed_s", "provisioned_s", "ready_s", "stopped_s"]
    times = ok[chain].to_numpy()
    assert not np.isnan(times).any()
    assert (np.diff(times, axis=1) >= -EPS).all(), "a guest's times go backwards"
    ph = res.phases.sort_values(["id", "start_s", "end_s"], kind="stable")
    pid, start, end = ph["id"].to_numpy(), ph["start_s"].to_numpy(), ph["end_s"].to_numpy()
    assert (start <= end + EPS).all()
    same = pid[1:] == pid[:-1]
    assert (start[1:][same] >= end[:-1][same] - EPS).all(), "a guest's phases overlap"
    placed = dict(zip(ok["id"], ok["placed_s"], strict=True))
    stopped = dict(zip(ok["id"], ok["stopped_s"], strict=True))
    assert all(placed[i] - EPS <= a and b <= stopped[i] + EPS for i, a, b in zip(pid, start, end, strict=True))

    # Startup is never shorter than the uncontended sum of its phases.
    host_group = dict(zip(res.hosts["host"], res.hosts["group"], strict=True))
    wmap = {w.name: w for w in sc.workloads}
    for r in ok.itertuples(index=False):
        group = groups[host_group[r.host]]
        # with variability, a guest's start needs at least the lowest multiple of its work
        cv = sc.profile(r.platform).startup_cv
        low = min(levels(cv.value)) if sc.variability and cv is not None else 1.0
        w = wmap[r.workload]
        shared = group.page_cache and w.image is not None and (w.clone or sc.profile(r.platform).default_clone) != "full"
        boot = uncontended_boot_s(sc, r.platform, group, shared) * low
        assert r.ready_s - r.provisioned_s >= boot * (1 - 1e-9) - EPS
        assert r.startup_s >= (boot + clone_s(sc, wmap[r.workload], group)) * (1 - 1e-9) - EPS

    # Reservations never exceed capacity x overcommit (memory, vCPUs, guest counts),
    # recomputed from the records at every placement instant.
    footprint = dict(zip(res.hosts["host"], res.hosts["footprint_mib"], strict=True))
    for host, grp in ok.groupby("host"):
        group = groups[host_group[host]]
        mem_cap = group.memory_gib * MIB_PER_GIB * group.overcommit.memory - footprint[host]
        vcpu_cap = group.cores * group.overcommit.cpu
        p, q = grp["placed_s"].to_numpy(), grp["stopped_s"].to_numpy()
        here = (p[None, :] <= p[:, None]) & (q[None, :] > p[:, None])  # [placement, guest] on the host then
        assert (here @ grp["memory_mib"].to_numpy() <= mem_cap + EPS).all()
        assert (here @ grp["vcpus"].to_numpy() <= vcpu_cap + EPS).all()
        # Disk: the guests' own disk (clones, overlays, volumes; the shared cache comes on top).
        disk_cap = group.disk.capacity_gib * MIB_PER_GIB * MB_PER_MIB * group.overcommit.disk
        assert (here @ grp["disk_mb"].to_numpy() <= disk_cap + EPS).all()
        if group.max_guests is not None:
            assert here.sum(axis=1).max() <= group.max_guests
    cap = {h: groups[g].memory_gib * MIB_PER_GIB * groups[g].overcommit.memory for h, g in host_group.items()}
    assert all(res.hosts["peak_memory_mib"] <= res.hosts["host"].map(cap) + EPS)
    for col in ("cpu_util", "disk_util", "nic_util"):
        assert res.hosts[col].between(0, 1 + 1e-9).all()


# -- reproducibility ---------------------------------------------------------------------------

POISSON = {
    "name": "poisson",
    "hosts": [{"name": "h", "cores": 8, "memory_gib": 32, "platforms": ["docker"]}],
    "workloads": [{"name": "c", "platform": "docker", "memory_mib": 128,
                   "arrivals": {"type": "poisson", "rate_per_s": 2.0, "count": 30},
                   "lifetime": {"type": "exponential", "mean_s": 5.0}}],
}


def _csv(res, tmp_path, name) -> bytes:
    dest = res.save(tmp_path / name, figures=False)
    return (dest / "instances.csv").read_bytes()


def test_same_seed_same_instances_csv(tmp_path):
    sc = vsim.parse_scenario(POISSON)
    a = _csv(vsim.simulate(sc, seed=11), tmp_path, "a")
    b = _csv(vsim.simulate(sc, seed=11), tmp_path, "b")
    assert a == b


def test_different_seed_changes_poisson_arrivals():
    sc = vsim.parse_scenario(POISSON)
    t = {s: vsim.simulate(sc, seed=s).instances["requested_s"].to_numpy() for s in (1, 2, 3)}
    assert not np.array_equal(t[1], t[2]) and not np.array_equal(t[2], t[3])
    # ... but the same process: 30 arrivals at 2/s, so the last comes near 15 s.
    for times in t.values():
        assert np.all(np.diff(times) >= 0) and 5 < times[-1] < 40


@settings(SETTINGS, max_examples=10)
@given(scenarios(), st.integers(0, 2**32))
def test_same_seed_is_reproducible_for_random_scenarios(sc, seed):
    a = vsim.simulate(sc, seed=seed).instances
    b = vsim.simulate(sc, seed=seed).instances
    pd.testing.assert_frame_equal(a, b)


def test_uncontended_bound_is_tight_for_one_guest():
    """The bound used above is not vacuous: one guest alone starts exactly at it."""
    sc = vsim.parse_scenario({
        "variability": False,
        "hosts": [{"name": "h", "cores": 4, "memory_gib": 16, "platforms": ["kvm"]}],
        "workloads": [{"name": "v", "platform": "kvm", "arrivals": {"type": "batch", "count": 1},
                       "lifetime": {"type": "fixed", "duration_s": 1}}],
    })
    r = vsim.simulate(sc).instances.iloc[0]
    assert math.isclose(r.startup_s, uncontended_boot_s(sc, "kvm", sc.hosts[0]), rel_tol=1e-9)
