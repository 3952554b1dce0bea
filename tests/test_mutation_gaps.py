"""Behaviours tools/mutate.py found untested (each test names the bug it catches).

Exact values worked out by hand from the inputs: counters that start at zero,
accounting over a capacity change, limits checked at their edges.
"""

import pytest
import simpy

import vsim
from tests.helpers import host, scenario, workload
from vsim.engine.fairshare import FairShare
from vsim.engine.pagecache import PageCache
from vsim.engine.weighted import WeightedFairShare
from vsim.experiments.run import build_world
from vsim.model.overhead import OperationMix


def test_offered_capacity_integrates_over_a_capacity_change():
    # capacity 2 for 3 s, then 1 for 2 s: 8 units offered; one job of 1 served
    env = simpy.Environment()
    fs = FairShare(env, 2.0)

    def run():
        yield fs.use(1.0)
        yield env.timeout(2.5)
        fs.set_capacity(1.0)
        yield env.timeout(2.0)

    env.process(run())
    env.run()
    assert env.now == pytest.approx(5.0)
    assert fs.served() == pytest.approx((1.0, 2 * 3 + 1 * 2))   # (work served, capacity offered)


def test_weighted_work_done_counts_from_zero():
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 2.0, job_cap=1.0)
    for w in (0.5, 1.5, 1.0):
        cpu.use(w)
    env.run()
    assert cpu.work_done == pytest.approx(3.0)


def test_page_cache_peak_is_the_most_ever_held():
    pc = PageCache(lambda: 100.0)
    for key, mb in (("a", 30.0), ("b", 50.0), ("c", 40.0)):   # c evicts a: 90 held, peak 90
        pc.insert(key, mb)
    assert pc.used_mb == pytest.approx(90.0) and pc.peak_mb == pytest.approx(90.0)
    pc.insert("d", 10.0)                                       # exactly full: 100, nothing evicted
    assert pc.used_mb == pytest.approx(100.0) and pc.evicted_mb == pytest.approx(30.0)
    assert pc.peak_mb == pytest.approx(100.0)


def test_idle_cpu_of_guests_still_running_at_the_end_is_counted_to_the_end():
    eng = {"name": "eng", "base": "docker",
           "idle_cpu_cores": {"value": 0.25, "assumption": "test: an idle cost that is easy to add up"}}
    sc = scenario([workload("c", platform="eng", image="app", memory_mib=64, vcpus=0.1, count=2)],
                  hosts=[host(cores=4, platforms=["eng"], cached_images=["app"])], profiles=[eng], duration_s=50)
    res = vsim.simulate(sc)
    ready = res.instances["ready_s"].to_numpy()
    assert res.hosts.iloc[0]["idle_cpu_core_s"] == pytest.approx(0.25 * sum(50 - r for r in ready))


def test_cpu_capacity_is_cores_less_footprint_times_the_core_speed():
    sc = scenario([workload("v", platform="kvm", image="vm", count=1)],
                  hosts=[host(cores=8, core_speed=2.0, platforms=["kvm"], cached_images=["vm"])], duration_s=1)
    world = build_world(sc)
    kvm = vsim.load_profile("kvm")
    assert world.hosts[0].cpu.capacity == pytest.approx((8 - kvm.host_cpu_cores.value) * 2.0)


def test_disk_overcommit_multiplies_the_disk_that_may_be_reserved():
    base = {"cores": 64, "memory_gib": 512, "overcommit": {"cpu": 16}, "disk": {"capacity_gib": 50}}
    one = vsim.density("kvm", host=base, shape={"vcpus": 1, "memory_mib": 512, "clone": "full"}).iloc[0]
    two = vsim.density("kvm", host=dict(base, overcommit={"cpu": 16, "disk": 2.0}),
                       shape={"vcpus": 1, "memory_mib": 512, "clone": "full"}).iloc[0]
    assert one["binding"] == two["binding"] == "disk"
    # 50 GiB = 53,687 MB, less the cached 2,256 MB image; each full clone 2,256 + 1 MB
    per = 2256 + 1
    assert one["guests"] == int((50 * 1073.741824 - 2256) // per)
    assert two["guests"] == int((2 * 50 * 1073.741824 - 2256) // per)


@pytest.mark.parametrize("bad", [0, -3, True, 2.5])
def test_density_refuses_a_bad_search_limit(bad):
    with pytest.raises(vsim.ScenarioError, match="max_guests"):
        vsim.density("docker", max_guests=bad)


@pytest.mark.parametrize("field", ["vector_share", "write_share"])
@pytest.mark.parametrize("value", [1.5, -0.1])
def test_an_operation_mix_share_outside_0_1_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        OperationMix(name="m", **{field: value})


def test_the_idle_footprint_sets_manco_s_debian_figures_beside_vms():
    from vsim.experiments.density import idle_footprint

    t = idle_footprint(["kvm"], n=10).iloc[0]
    assert t["published"].startswith("1,000 idle Debian VMs") and t["published_memory_gb"] == 114.0
    assert t["published_cpu_pct"] == 25.0
    assert t["guests"] == 10 and t["cpu_pct"] == pytest.approx(100 * 10 * 0.016 / 64)


def test_a_slow_leak_fills_the_host_at_the_exact_moment():
    from vsim.mechanisms.cgroups import HostMemory, MemoryWatch

    env = simpy.Environment()
    w = MemoryWatch(env, float("inf"), 900.0, 0.25, 0.0, on_oom=None)   # a quarter MiB per second
    kills = []

    def kill(key, badness, held):
        kills.append(env.now)
        pool.watches.pop(key).stop()

    pool = HostMemory(env, 1000.0, lambda: 0.0, lambda: [(w.usage(), 1)], kill)
    pool.watches[1] = w
    pool.check()
    env.run(until=1000)
    assert kills == [pytest.approx(400.0)]


def test_a_host_without_the_image_reserves_room_for_it_too():
    # A full clone on a host that must first fetch its 2,256 MB image: placement
    # reserves the guest's own disk (its copy, 2,256 MB, and 1 MB of libvirt's
    # files) and the image data the host lacks (2,256 MB more).
    from tests.helpers import VM_IMAGE

    sc = scenario([workload("v", platform="kvm", image="vm", clone="full", count=1)],
                  hosts=[host(platforms=["kvm"], disk={"capacity_gib": 100})], duration_s=1,
                  images=[{**VM_IMAGE, "registry": "hub"}])
    world = build_world(sc)
    world.run(until=1e-9)
    h = world.hosts[0]
    assert world.placer.disk_free[0] == pytest.approx(h.disk_capacity_mb - (2256 + 1) - 2256)


def test_a_fork_bomb_gets_what_the_host_kernel_has_left():
    # pid_max 32,768 (Linux's default for 16 cores), less the host's own ~300 tasks
    # (systemd, daemons, kernel threads: vsim.model.host.HOST_TASKS): of the bomb's
    # 40,000 processes and its main one, 40,001 - 32,468 are refused.
    from vsim.model.host import HOST_TASKS

    assert HOST_TASKS == 300
    sc = scenario([workload("bomb", "docker", image="app", memory_mib=256, stress={"forks": 40000},
                            lifetime={"type": "fixed", "duration_s": 5})],
                  hosts=[host(platforms=["docker"], cached_images=["app"])], duration_s=10)
    ev = vsim.simulate(sc).cgroup_events
    assert ev["amount"].tolist() == [40_001 - (32_768 - 300)]


def test_a_guest_that_dies_during_its_live_migration_ends_it_aborted():
    sc = scenario([workload("w", memory_mib=2048, image="vm", clone="linked", dirty_mb_s=0,
                            lifetime={"type": "fixed", "duration_s": 5})],
                  hosts=[host(name="a", network_gbit_s=1, cached_images=["vm"]),
                         host(name="b", network_gbit_s=1, cached_images=["vm"])],
                  migrations=[{"workload": "w", "at_s": 10, "to": "b", "limits": {"bandwidth_mib_s": 2000}}])
    res = vsim.simulate(sc)
    m = res.migrations.iloc[0]
    inst = res.instances.iloc[0]
    # ready at ~8.5 s, stops at ~13.5 s: the 17 s stream (2 GiB at 125 MB/s) cannot finish
    assert inst["host"] == "a" and m["outcome"].startswith("aborted")


def test_weighted_share_on_fast_cores_caps_each_thread_at_its_core():
    # Capacity 4 (two cores of speed 2), three threads: 6 wanted > 4, so each gets 4/3;
    # work 2 each finishes at 1.5 s (not at 1 s, as if each had a whole fast core).
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 4.0, job_cap=2.0)
    done = []
    for _ in range(3):
        cpu.use(2.0).callbacks.append(lambda ev: done.append(env.now))
    env.run()
    assert done == pytest.approx([1.5, 1.5, 1.5])


def test_a_cold_migrated_full_clone_copies_its_own_disk_only():
    sc = scenario([workload(memory_mib=2048, image="vm", clone="full")],
                  hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]), host(name="b", platforms=["kvm"])],
                  migrations=[{"workload": "w", "at_s": 60, "to": "b", "mode": "cold"}])
    m = vsim.simulate(sc).migrations.iloc[0]
    assert m["mb_moved"] == pytest.approx(2256 + vsim.load_profile("kvm").guest_disk_overhead_mb.value)


def test_a_server_has_done_nothing_before_any_time_passed():
    from vsim.engine.server import Server

    env = simpy.Environment()
    assert Server(env, 2).utilisation() == 0.0


def test_a_mix_with_disk_requests_reads_unless_it_says_it_writes():
    # Reads take 20 us and writes 50 us on this device: 10 requests one at a time.
    from vsim.model.overhead import NO_OVERHEAD, MixResources, run_mix

    def run(**kw):
        env = simpy.Environment()
        r = MixResources(env=env, cpu=FairShare(env, 4.0, job_cap=1.0), memory=FairShare(env, 10.0, job_cap=4.0),
                         disk=FairShare(env, 1.0), nic=FairShare(env, 1.0),
                         disk_s=lambda rd, wr, k: 20e-6 if rd else 50e-6, rtt_s=0.0, disk_path=None, net_path=None)
        env.process(run_mix(r, OperationMix(name="m", io_requests=10, io_kib=4, **kw), dict(NO_OVERHEAD)))
        env.run()
        return env.now

    assert run() == pytest.approx(10 * 20e-6) == run(write_share=0.0)
    assert run(write_share=1.0) == pytest.approx(10 * 50e-6)


def test_the_idle_footprint_counts_manco_s_thousand_by_default():
    from vsim.experiments.density import idle_footprint

    assert idle_footprint(["firecracker"]).iloc[0]["guests"] == 1000


def test_the_provenance_says_when_a_physical_wall_rests_on_an_assumption():
    import json

    from vsim.experiments.compare import compare, render

    prov = json.loads(render(compare(["firecracker"]), "json"))["provenance"]["firecracker"]
    cell = prov["density per host (limited by); physical wall"]
    assert "the physical memory wall rests on an assumed profile number" in cell


def test_a_bulk_send_smaller_than_a_segment_is_one_segment():
    # 10 KB in 64 KiB segments on a 1 MB/s NIC behind a 10 us packet path: one
    # segment (0.065536 MB) through the path, then the wire.
    import simpy as _simpy

    from vsim.model.overhead import MB_PER_KIB, NO_OVERHEAD, MixResources, run_mix

    env = _simpy.Environment()
    r = MixResources(env=env, cpu=FairShare(env, 4.0, job_cap=1.0), memory=FairShare(env, 10.0, job_cap=4.0),
                     disk=FairShare(env, 1.0), nic=FairShare(env, 1.0), disk_s=lambda rd, wr, k: 0.0, rtt_s=0.0,
                     disk_path=None, net_path=_simpy.Resource(env, 1))
    c = dict(NO_OVERHEAD, packet_us=10.0)
    env.process(run_mix(r, OperationMix(name="m", bulk_mb=0.01, segment_kib=64), c))
    env.run()
    assert r.times["network"] == pytest.approx(10e-6 + 64 * MB_PER_KIB / 1.0, rel=1e-9)


def test_waiting_on_several_jobs_withdraws_them_all_when_interrupted():
    # Two jobs of 10 on two resources; interrupted at 1 s, both are withdrawn, so a
    # job of 1 started then on the first resource has it to itself: done at 2 s.
    from vsim.mechanisms.cgroups import use_all

    env = simpy.Environment()
    a, b = FairShare(env, 1.0), FairShare(env, 1.0)

    def both():
        try:
            yield from use_all(env, [(a, a.use(10.0)), (b, b.use(10.0))])
        except simpy.Interrupt:
            pass

    p = env.process(both())
    done = []

    def later():
        yield env.timeout(1.0)
        p.interrupt("host failed")
        yield a.use(1.0)
        done.append(env.now)

    env.process(later())
    env.run()
    assert done == [pytest.approx(2.0)] and a.work_done == pytest.approx(2.0) and b.work_done == pytest.approx(1.0)


# -- found by the second full run (2026-12-02) ----------------------------------------------------

def test_a_server_is_idle_before_any_time_has_passed():
    from vsim.engine.server import Server

    env = simpy.Environment()
    s = Server(env, workers=2, name="dockerd")
    assert s.utilisation() == 0.0          # nothing elapsed: not busy (and no division by zero)
    s.serve(1.0)
    env.run()
    assert s.utilisation() == pytest.approx(0.5)  # one of two workers busy for the whole second


def test_an_unused_page_cache_has_held_nothing():
    pc = PageCache(lambda: 1000.0)
    assert pc.peak_mb == 0.0 and pc.used_mb == 0.0
    pc.insert("a", 40)
    assert pc.peak_mb == 40.0


def test_a_one_mib_smallest_flavor_still_doubles():
    from vsim.model.footprint import flavor_mib
    from vsim.spec.profile import derive_profile

    tiny = derive_profile({"name": "tiny-vm", "base": "firecracker",
                           "guest_os": {"min_memory_mib": {"value": 1, "assumption": "test"}}})
    assert flavor_mib(tiny, 100) == 128     # 1, 2, 4, ..., 128: the first that holds 100
    assert flavor_mib(vsim.load_profile("docker"), 100) == 100  # no flavors: what it needs


def test_an_idle_host_reports_its_footprint_as_its_peak_memory():
    sc = scenario([workload(platform="docker", image="app", memory_mib=256, count=1)],
                  hosts=[host(name="a", platforms=["docker"], max_guests=1), host(name="b", platforms=["docker"])])
    h = vsim.simulate(sc).hosts.set_index("host")
    assert h.loc["b", "guests_placed"] == 0
    assert h.loc["b", "peak_memory_mib"] == vsim.load_profile("docker").host_memory_mib.value


def test_a_live_migration_whose_target_fails_mid_stream_is_aborted():
    # 2048 MiB at 128 MiB/s takes 16 s from t = 60; the target fails at t = 65
    sc = scenario([workload(memory_mib=2048, image="vm", clone="linked", dirty_mb_s=0)],
                  hosts=[host(name="a", cached_images=["vm"], max_guests=1), host(name="b", cached_images=["vm"])],
                  migrations=[{"workload": "w", "at_s": 60, "to": "b"}],
                  failures=[{"host": "b", "at_s": 65, "repair_s": 100}], duration_s=300)
    res = vsim.simulate(sc)
    m = res.migrations.iloc[0]
    assert m["outcome"].startswith("aborted") and "b" in m["outcome"]
    assert res.instances["host"][0] == "a" and res.instances["state"][0] == "running"  # never moved


def test_a_long_churn_past_the_placers_change_log_still_respects_the_limit():
    # Guests arrive every 10 s and live 15 s on a host that takes one: every second
    # one is refused, exactly. 5,000 requests make ~10,000 changes, more than the
    # placer's change log keeps (vsim.model.placement: _LOG_SLACK), so the cached
    # scores must be rebuilt after the log is dropped, not trusted.
    sc = scenario([workload(platform="docker", image="app", memory_mib=64,
                            arrivals={"type": "every", "interval_s": 10, "count": 5000},
                            lifetime={"type": "fixed", "duration_s": 15})],
                  hosts=[host(name="a", platforms=["docker"], max_guests=1, cached_images=["app"])],
                  duration_s=60000)
    res = vsim.simulate(sc)
    assert (res.instances["state"] == "rejected").sum() == 2500
    assert res.hosts["peak_guests"].tolist() == [1]
