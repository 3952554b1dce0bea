"""Solo runs (vsim.engine.solo) change the event count, not the results.

A guest's clone, start or stop phases run as one event while its host's
resources are otherwise idle, and are handed over to ordinary fair-share jobs
the moment anything else touches them. Every check here runs the same model
twice, with ``World.solo_runs`` on and off, and compares what a user sees:
finish times, phase records, utilisation, every table.
"""

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from conftest import SCENARIOS
from helpers import host, scenario, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from vsim.engine.fairshare import FairShare
from vsim.engine.phaselog import PhaseLog
from vsim.engine.solo import SoloRun, SoloSpec
from vsim.experiments.run import build_world
from vsim.results import Results
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import load_scenario

# The two ways add the same durations in a different order, and a busy host's
# fair share divides them differently: times agree to far below a microsecond.
RTOL, ATOL = 1e-9, 1e-6


def _run(sc, solo: bool, seed=None):
    w = build_world(sc, seed)
    w.solo_runs = solo
    w.run()
    return Results.from_world(w), w


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order: rows written at the same instant (guests that finish
    together) may come in another order, which is not a different result."""
    key = pd.DataFrame({c: (df[c].round(6) if df[c].dtype.kind in "fc" else df[c].astype(str))
                        for c in df.columns})
    order = key.sort_values(list(key.columns), kind="stable").index
    return df.loc[order].reset_index(drop=True)


def _same_table(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    assert len(a) == len(b), what
    a, b = _canonical(a), _canonical(b)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if a[col].dtype.kind in "fc":
            assert np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True), f"{what}.{col}"
        else:
            assert (x == y).all(), f"{what}.{col}"


def _same_results(r1, r2) -> None:
    _same_table(r1.instances, r2.instances, "instances")
    _same_table(r1.phases, r2.phases, "phases")
    _same_table(r1.hosts, r2.hosts, "hosts")
    assert set(r1.tables) == set(r2.tables)
    for name in r1.tables:
        _same_table(r1.tables[name], r2.tables[name], name)


def test_one_vm_on_an_idle_host_is_one_event_per_sequence_with_the_same_timeline():
    # (a full clone: its boot reads its own copy, no page-cache miss to run step by step)
    sc = scenario([workload(count=1, image="vm", clone="full", lifetime={"type": "fixed", "duration_s": 60})],
                  hosts=[host(cached_images=["vm"])])
    solo, w_solo = _run(sc, True)
    steps, w_steps = _run(sc, False)
    _same_results(solo, steps)
    # clone (1 disk step), 6 start phases (12 steps), 1 stop phase (3 steps) -> 3 events
    assert w_solo.events < w_steps.events
    ph = solo.phases
    assert list(ph["phase"]) == ["clone-full", "qemu-start", "firmware", "bootloader", "kernel", "initrd",
                                 "userspace", "shutdown"]
    # Phases tile the guest's life: each starts where the previous one ended.
    start, end = ph["start_s"].to_numpy(), ph["end_s"].to_numpy()
    assert np.array_equal(start[1:7], end[0:6])


def test_a_second_guest_mid_boot_hands_the_first_over_at_that_instant():
    # The second VM arrives while the first is in the middle of its boot: from
    # then on both share the host's CPU and disk, exactly as step by step.
    for at in (0.0, 0.3, 3.0, 6.0, 7.7, 9.0, 12.5):
        sc = scenario([workload(name="a", count=1, clone="linked", image="vm",
                                lifetime={"type": "fixed", "duration_s": 30}),
                       workload(name="b", count=1, at_s=at, clone="linked", image="vm",
                                lifetime={"type": "fixed", "duration_s": 30})],
                      hosts=[host(cached_images=["vm"])])
        _same_results(_run(sc, True)[0], _run(sc, False)[0])


def test_host_failure_during_a_solo_boot_keeps_the_work_done_and_the_finished_phases():
    for at in (0.5, 2.0, 7.0, 10.0):
        sc = scenario([workload(count=3, image="vm", lifetime={"type": "fixed", "duration_s": 100})],
                      hosts=[host(count=2, cached_images=["vm"])], placement="spread",
                      failures=[{"host": "h-0", "at_s": at}])
        solo, steps = _run(sc, True)[0], _run(sc, False)[0]
        _same_results(solo, steps)
        assert (solo.instances["state"] == "failed").any()


def test_utilisation_asked_mid_boot_is_exact():
    env = simpy.Environment()
    cpu = FairShare(env, 4.0, job_cap=1.0, name="cpu")
    disk = FairShare(env, 1.0, name="disk")
    spec = SoloSpec([("a", [(0, 2.0), (1, 1.0)]), ("b", [(None, 0.5), (0, 1.0)])], (cpu, disk))
    log = PhaseLog()
    run = SoloRun(env, spec, (cpu, disk), log, gid=3)
    assert run.start() is run
    assert len(env._queue) == 1  # one event for four steps
    env.run(until=2.5)  # half-way through the disk step
    assert cpu.utilisation() == pytest.approx(2.0 / 4.0 / 2.5)  # 2 core-s of 4 cores over 2.5 s
    assert disk.utilisation() == pytest.approx(0.5 / 2.5)
    env.run()
    assert run.done.processed and run.done.value == pytest.approx(4.5)
    # asked mid-run, so handed over: the phases are recorded one by one
    assert log.rows(3) == [("a", 0.0, pytest.approx(3.0)), ("b", pytest.approx(3.0), pytest.approx(4.5))]
    assert len(log) == 2
    # undisturbed, the same run leaves one packed entry with the same phases
    env2 = simpy.Environment()
    rates2 = (FairShare(env2, 4.0, job_cap=1.0, name="cpu"), FairShare(env2, 1.0, name="disk"))
    log2 = PhaseLog()
    SoloRun(env2, spec, rates2, log2, gid=3).start()
    env2.run()
    assert (log2.gid, log2.what, log2.start) == ([3], [spec], [0.0]) and len(env2._queue) == 0
    assert log2.rows(3) == [("a", 0.0, 3.0), ("b", 3.0, 4.5)]
    assert spec.records == (("a", 0.0, 3.0), ("b", 3.0, 4.5))
    assert cpu.work_done == pytest.approx(3.0) and disk.work_done == pytest.approx(1.0)
    assert cpu.jobs_completed == 2 and disk.jobs_completed == 1


def test_a_busy_resource_refuses_a_solo_run_and_nothing_is_taken():
    env = simpy.Environment()
    cpu, disk = FairShare(env, 1.0, name="cpu"), FairShare(env, 1.0, name="disk")
    cpu.use(5.0)
    run = SoloRun(env, SoloSpec([("a", [(1, 1.0), (0, 1.0)])], (cpu, disk)), (cpu, disk), PhaseLog())
    assert run.start() is None
    assert disk._holders == [] and cpu._holders == [] and len(env._queue) == 1


@settings(max_examples=40, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.sampled_from(["kvm", "docker"]), st.floats(0, 40), st.integers(1, 4),
                                st.floats(1, 60)), min_size=1, max_size=6),
    hosts=st.integers(1, 3),
    policy=st.sampled_from(["first-fit", "best-fit", "spread"]),
    fail_at=st.none() | st.floats(0, 60),
)
def test_any_small_scenario_gives_the_same_results_both_ways(arrivals, hosts, policy, fail_at):
    wls = [workload(name=f"w{k}", platform=p, count=n, at_s=at, image="vm" if p == "kvm" else "app",
                    lifetime={"type": "fixed", "duration_s": life})
           for k, (p, at, n, life) in enumerate(arrivals)]
    extra = {"failures": [{"host": "h-0" if hosts > 1 else "h", "at_s": fail_at}]} if fail_at is not None else {}
    sc = scenario(wls, hosts=[host(count=hosts, cached_images=["vm"])], placement=policy, **extra)
    _same_results(_run(sc, True)[0], _run(sc, False)[0])


def _scenario_files():
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        try:
            load_scenario(path)
        except ScenarioError:  # a plan file, not a scenario
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", _scenario_files(), ids=lambda p: p.stem)
def test_every_scenario_file_gives_the_same_results_both_ways(path):
    sc = load_scenario(path)
    r1, _ = _run(sc, True)
    r2, _ = _run(sc, False)
    _same_results(r1, r2)
    assert math.isclose(r1.meta["sim_end_s"], r2.meta["sim_end_s"])


def test_slots_are_the_most_jobs_that_each_still_get_their_full_rate():
    env = simpy.Environment()
    assert FairShare(env, 31.85, job_cap=1.0).slots == 31
    assert FairShare(env, 4.0, job_cap=1.0).slots == 4
    assert FairShare(env, 0.9999, job_cap=1.0).slots == 1  # job_cap is cut to the capacity
    assert FairShare(env, 800.0).slots == 1  # one job may take the whole link


@settings(max_examples=200, deadline=None)
@given(capacity=st.floats(0.01, 1e4), job_cap=st.floats(0.001, 1e4))
def test_every_job_gets_its_full_rate_while_at_most_slots_share(capacity, job_cap):
    r = FairShare(simpy.Environment(), capacity, job_cap=job_cap)
    assert r.rate_per_job(r.slots) == r.job_cap
    assert r.slots == 1 or r.rate_per_job(r.slots + 1) < r.job_cap


def test_solo_runs_share_a_many_core_cpu_until_its_slots_are_taken():
    env = simpy.Environment()
    cpu = FairShare(env, 4.0, job_cap=1.0, name="cpu")  # 4 slots
    spec = SoloSpec([("boot", [(0, 10.0)])], (cpu,))
    runs = [SoloRun.begin(env, spec, (cpu,), PhaseLog()) for _ in range(3)]
    assert all(r is not None for r in runs) and len(cpu._holders) == 3
    job = cpu.use(5.0)  # 3 runs + 1 job: each still gets one core, nobody is handed over
    assert all(r.live for r in runs)
    assert SoloRun.begin(env, spec, (cpu,), PhaseLog()) is None  # no slot left for a fourth run
    cpu.use(5.0)  # 5 would share 4 cores: every run is handed over, now
    assert cpu._holders == [] and not any(r.live for r in runs)
    env.run()
    # 5 jobs at 0.8 core each until the two short ones finish at 6.25 s, then 3 at 1 core
    assert job.value == pytest.approx(6.25)
    assert [r.done.value for r in runs] == [pytest.approx(6.25 + 5.0)] * 3
    assert cpu.work_done == pytest.approx(40.0)


def test_solo_runs_share_a_disk_while_their_spans_of_use_do_not_overlap():
    env = simpy.Environment()
    cpu, disk = FairShare(env, 8.0, job_cap=1.0, name="cpu"), FairShare(env, 1.0, name="disk")
    # disk 0-1 s, CPU 1-4 s, disk 4-5 s
    spec = SoloSpec([("a", [(1, 1.0), (0, 3.0), (1, 1.0)])], (cpu, disk))
    first = SoloRun.begin(env, spec, (cpu, disk), PhaseLog())
    env.run(until=1.0)
    second = SoloRun.begin(env, spec, (cpu, disk), PhaseLog())  # disk 1-2 and 5-6: no overlap
    assert second is not None and first.live
    env.run(until=1.5)
    assert SoloRun.begin(env, spec, (cpu, disk), PhaseLog()) is None  # disk 1.5-2.5 would overlap the second's
    env.run(until=2.0)
    late = disk.use(0.5)  # an ordinary job on the disk: runs whose disk use is not over are handed over
    assert not first.live and not second.live and disk._holders == []
    env.run()
    assert late.value == pytest.approx(2.5)
    assert first.done.value == pytest.approx(5.0) and second.done.value == pytest.approx(6.0)


def test_two_vms_booting_a_few_seconds_apart_on_a_big_host_both_run_solo():
    def events(*ats):
        wls = [workload(name=f"w{k}", count=1, at_s=at, clone="linked", image="vm",
                        lifetime={"type": "fixed", "duration_s": 30}) for k, at in enumerate(ats)]
        sc = scenario(wls, hosts=[host(cached_images=["vm"], page_cache=False)])
        solo, w = _run(sc, True)
        _same_results(solo, _run(sc, False)[0])
        return w.events

    # Their CPU steps overlap (16 cores: both at full speed) and their disk
    # steps do not: nothing is handed over, so no event is added. (Page cache
    # off: with it, the first boot's reads are misses, which run step by step.)
    assert events(0.0, 1.0) == events(0.0) + events(1.0)


@settings(max_examples=40, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.sampled_from(["kvm", "docker"]), st.floats(0, 20),
                                st.sampled_from(["full", "linked"])), min_size=2, max_size=10),
    cores=st.sampled_from([2, 3, 5, 9]),
    hosts=st.integers(1, 2),
    fail_at=st.none() | st.floats(0, 30),
)
def test_crowded_small_hosts_give_the_same_results_both_ways(arrivals, cores, hosts, fail_at):
    # Few cores (1 to 8 slots) and boots close together: solo runs share CPUs
    # and disks, are handed over, and go solo again at phase boundaries.
    wls = [workload(name=f"w{k}", platform=p, count=1, at_s=at, image="vm" if p == "kvm" else "app",
                    lifetime={"type": "fixed", "duration_s": 15}, **({"clone": c} if p == "kvm" else {}))
           for k, (p, at, c) in enumerate(arrivals)]
    extra = {"failures": [{"host": "h-0" if hosts > 1 else "h", "at_s": fail_at}]} if fail_at is not None else {}
    sc = scenario(wls, hosts=[host(count=hosts, cores=cores, cached_images=["vm"], overcommit={"cpu": 8.0})],
                  placement="best-fit", **extra)
    _same_results(_run(sc, True)[0], _run(sc, False)[0])


GRID_PROFILE = {"name": "grid", "base": "docker", "control_plane": [],
                "start_phases": [{"name": "create", "cpu_s": 0.25, "latency_s": 0.125, "assumption": "test"},
                                 {"name": "run", "cpu_s": 0.125, "disk_write_mb": 0.5, "assumption": "test"}],
                "stop_phases": [{"name": "destroy", "cpu_s": 0.125, "latency_s": 0.25, "assumption": "test"}]}


@settings(max_examples=200, deadline=None)
@given(
    life=st.integers(0, 16),
    first=st.integers(-4, 8),
    second=st.integers(-2, 2),
    others=st.lists(st.integers(0, 64), max_size=4),
    cores=st.sampled_from([1, 2, 4]),
    limit=st.integers(1, 2),
)
def test_simultaneous_events_on_a_grid_give_the_same_results_both_ways(life, first, second, others, cores, limit):
    # Every time a multiple of 1/16 s, exact in binary, and arrivals aimed at the
    # instants where order matters: guest a's stop begins at 0.5625 + life and ends
    # 0.375 s later; b's guests arrive near both (its second wake-up is scheduled at
    # its first arrival, between a's events), others at random. Solo runs must order
    # such ties as step by step does: the same guest placed, the same one rejected.
    stop_start = 0.5625 + life / 8
    b = sorted(max(t, 0.0) for t in (stop_start + first / 16, stop_start + 0.375 + second / 16))
    one = {"type": "fixed", "duration_s": 1.0}
    wls = [workload(name="a", platform="grid", image=None, memory_mib=64, vcpus=0.1,
                    arrivals={"type": "times", "times_s": [0.0]}, lifetime={"type": "fixed", "duration_s": life / 8}),
           workload(name="b", platform="grid", image=None, memory_mib=64, vcpus=0.1,
                    arrivals={"type": "times", "times_s": b}, lifetime=one)]
    if others:
        wls.append(workload(name="c", platform="grid", image=None, memory_mib=64, vcpus=0.1,
                            arrivals={"type": "times", "times_s": sorted(t / 16 for t in others)}, lifetime=one))
    sc = scenario(wls, hosts=[host(cores=cores, platforms=["grid"], max_guests=limit,
                                   disk={"capacity_gib": 10, "read_mb_s": 8, "write_mb_s": 8})],
                  images=[], profiles=[GRID_PROFILE])
    _same_results(_run(sc, True)[0], _run(sc, False)[0])


def test_a_guest_arriving_as_another_stops_finds_its_room_either_way():
    # a (alone allowed: max_guests 1) boots 0.5625 s, lives 1 s, stops 0.375 s: gone at
    # 1.9375. b's first guest, at 1.625, is refused (a is there); its second arrives at
    # 1.9375 exactly. Its wake-up was scheduled at 1.625: after a's stop began (one solo
    # event) but before a's last stop step began (step by step). Arrivals come after the
    # instant's other events, so both ways it finds a gone and is placed.
    one = {"type": "fixed", "duration_s": 1.0}
    wls = [workload(name="a", platform="grid", image=None, memory_mib=64, vcpus=0.1,
                    arrivals={"type": "times", "times_s": [0.0]}, lifetime=one),
           workload(name="b", platform="grid", image=None, memory_mib=64, vcpus=0.1,
                    arrivals={"type": "times", "times_s": [1.625, 1.9375]}, lifetime=one)]
    sc = scenario(wls, hosts=[host(cores=4, platforms=["grid"], max_guests=1,
                                   disk={"capacity_gib": 10, "read_mb_s": 8, "write_mb_s": 8})],
                  images=[], profiles=[GRID_PROFILE])
    for solo in (True, False):
        inst = _run(sc, solo)[0].instances.sort_values("id")
        assert inst["state"].tolist() == ["stopped", "rejected", "stopped"], solo
        assert inst["stopped_s"].tolist()[0] == 1.9375 and inst["placed_s"].tolist()[2] == 1.9375


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.sampled_from(["kvm", "docker"]), st.lists(st.integers(0, 160), min_size=1, max_size=3),
                                st.sampled_from(["full", "linked"]), st.integers(0, 120)), min_size=2, max_size=6),
    cores=st.sampled_from([2, 3, 5]),
    hosts=st.integers(1, 2),
    limit=st.integers(1, 3),
)
def test_real_profiles_on_a_one_eighth_second_grid_give_the_same_results_both_ways(arrivals, cores, hosts, limit):
    # Arrivals and lifetimes on multiples of 1/8 s, full hosts (a guest limit), KVM
    # (libvirtd, page cache) and Docker (dockerd, pulls): the ties the issue found.
    wls = [workload(name=f"w{k}", platform=p, image="vm" if p == "kvm" else "app",
                    arrivals={"type": "times", "times_s": sorted(t / 8 for t in ats)},
                    lifetime={"type": "fixed", "duration_s": life / 8}, **({"clone": c} if p == "kvm" else {}))
           for k, (p, ats, c, life) in enumerate(arrivals)]
    sc = scenario(wls, hosts=[host(count=hosts, cores=cores, cached_images=["vm"], max_guests=limit,
                                   overcommit={"cpu": 8.0})], placement="best-fit")
    _same_results(_run(sc, True)[0], _run(sc, False)[0])
