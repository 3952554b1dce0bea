"""Host memory pressure: the host's OOM killer picks by size, not by blame.

Containers without a memory limit (Docker's default) draw on the host's memory;
when it runs out the host kernel ends the largest process on the whole host.
Exact timelines from the arithmetic below (usage grows linearly), then the
same leak in a VM (its own RAM, its own kernel) and under memory.max.
"""

import pytest
import simpy

import vsim
from tests.helpers import host, scenario, workload
from vsim.mechanisms.cgroups import HostMemory, MemoryWatch

HOST_MIB = 32 * 1024
DOCKER = vsim.load_profile("docker")
SHIM = DOCKER.guest_memory_overhead_mib.value + DOCKER.guest_os.kernel_objects_mib.value  # 8.5 MiB each


def test_the_pool_kills_the_largest_at_the_exact_moment_the_host_is_full():
    env = simpy.Environment()
    big = MemoryWatch(env, float("inf"), 600.0, 0.0, 0.0, on_oom=None)
    leak = MemoryWatch(env, float("inf"), 100.0, 10.0, 0.0, on_oom=None)
    kills = []

    def kill(key, badness, held):
        kills.append((env.now, key, badness, held))
        pool.watches.pop(key).stop()

    pool = HostMemory(env, 1000.0, lambda: 50.0, lambda: [(w.usage(), k) for k, w in pool.watches.items()], kill)
    pool.watches.update({1: big, 2: leak})
    pool.check()
    env.run(until=200)
    # full when 50 + 600 + 100 + 10 t = 1000: t = 25, the leak then holds 350 < 600: the big one goes
    assert kills[0] == pytest.approx((25.0, 1, 600.0, 1000.0))
    # then alone: 50 + 100 + 10 t = 1000 at t = 85, and it is the largest (the only one)
    assert kills[1] == pytest.approx((85.0, 2, 950.0, 1000.0))
    assert len(kills) == 2


def test_two_leaks_fill_the_host_together():
    env = simpy.Environment()
    a = MemoryWatch(env, float("inf"), 100.0, 10.0, 0.0, on_oom=None)
    b = MemoryWatch(env, float("inf"), 200.0, 5.0, 0.0, on_oom=None)
    kills = []

    def kill(key, badness, held):
        kills.append((env.now, key))
        pool.watches.pop(key).stop()

    pool = HostMemory(env, 1000.0, lambda: 0.0, lambda: [(w.usage(), k) for k, w in pool.watches.items()], kill)
    pool.watches.update({1: a, 2: b})
    pool.check()
    env.run(until=1000)
    # 300 + 15 t = 1000 at t = 46.67: a holds 566.7, b 433.3: a goes; then b alone: 200 + 5 t = 1000 at 160
    assert kills == [(pytest.approx(700 / 15), 1), (pytest.approx(160.0), 2)]


def test_no_kill_while_the_host_has_room():
    env = simpy.Environment()
    w = MemoryWatch(env, float("inf"), 100.0, 0.0, 0.0, on_oom=None)
    kills = []
    pool = HostMemory(env, 1000.0, lambda: 0.0, lambda: [(w.usage(), 1)], lambda *a: kills.append(a))
    pool.watches[1] = w
    pool.check()
    env.run(until=1e6)
    assert kills == []


def _pair(platform, victim_mib, hog, hog_ram=4096, victim_ram=None):
    victim = workload("victim", platform=platform, memory_mib=victim_ram or 512,
                      memory_use={"resident_mib": victim_mib})
    noisy = workload("hog", platform=platform, memory_mib=hog_ram, **hog)
    return scenario([victim, noisy], hosts=[host(memory_gib=32, cores=4, platforms=[platform])],
                    duration_s=200)


def test_a_leaking_container_gets_its_larger_neighbour_killed_then_itself():
    sc = _pair("docker", 20480, {"memory_use": {"resident_mib": 100, "growth_mib_s": 500}})
    res = vsim.simulate(sc)
    inst = res.instances.set_index("workload")
    ready = inst.loc["hog", "ready_s"]
    fixed = DOCKER.host_memory_mib.value + 2 * SHIM
    t1 = ready + (HOST_MIB - fixed - 20480 - 100) / 500                 # the host is full
    assert inst.loc["victim", "state"] == "failed"
    assert inst.loc["victim", "stopped_s"] == pytest.approx(t1, abs=1e-6)
    assert "host out of memory" in inst.loc["victim", "reason"]
    assert "growing fastest: hog-1" in inst.loc["victim", "reason"]
    # alone, the leak fills the host and is the largest process left
    t2 = ready + (HOST_MIB - DOCKER.host_memory_mib.value - SHIM - 100) / 500
    assert inst.loc["hog", "state"] == "failed" and inst.loc["hog", "stopped_s"] == pytest.approx(t2, abs=1e-6)
    ev = res.tables["cgroup_events"]
    assert list(ev["event"]) == ["host-oom-kill", "host-oom-kill"]
    assert ev["amount"].iloc[0] == pytest.approx(20480 + SHIM)           # the victim's badness


def test_a_memory_limit_fences_the_leak():
    sc = _pair("docker", 20480, {"memory_use": {"resident_mib": 100, "growth_mib_s": 500},
                                 "limits": {"memory_mib": 2048}})
    inst = vsim.simulate(sc).instances.set_index("workload")
    assert inst.loc["victim", "state"] == "running"
    assert inst.loc["hog", "state"] == "failed" and "memory.max" in inst.loc["hog", "reason"]
    assert inst.loc["hog", "stopped_s"] - inst.loc["hog", "ready_s"] == pytest.approx((2048 - 100) / 500)


def test_the_same_leak_in_a_vm_stays_in_its_own_ram():
    sc = _pair("kvm", 1024, {"memory_use": {"resident_mib": 100, "growth_mib_s": 500}},
               hog_ram=4096, victim_ram=20480)
    res = vsim.simulate(sc)
    inst = res.instances.set_index("workload")
    assert inst.loc["victim", "state"] == "running"
    assert inst.loc["hog", "state"] == "failed" and "inside the VM" in inst.loc["hog", "reason"]
    assert inst.loc["hog", "stopped_s"] - inst.loc["hog", "ready_s"] == pytest.approx((4096 - 100) / 500)
    assert "host-oom-kill" not in set(res.tables["cgroup_events"]["event"])


@pytest.mark.parametrize("vm_runs", [{}, {"service": {"arrivals": {"type": "poisson", "rate_per_s": 1}, "cpu_s": 0.001}}])
def test_a_vm_on_the_host_is_a_candidate_too(vm_runs):
    # A leaking container next to a big VM (idle, or serving): the host's OOM killer ends the largest
    # process by size: QEMU, holding the VM's RAM (unless an operator lowered its oom_score_adj).
    vm = workload("vm", platform="kvm", memory_mib=20480, **vm_runs)
    leak = workload("hog", platform="docker", memory_mib=256,
                    memory_use={"resident_mib": 100, "growth_mib_s": 500})
    sc = scenario([vm, leak], hosts=[host(memory_gib=32, cores=4, platforms=["kvm", "docker"])], duration_s=200,
                  seed=1)
    inst = vsim.simulate(sc).instances.set_index("workload")
    assert inst.loc["vm", "state"] == "failed" and "host out of memory" in inst.loc["vm", "reason"]
    # the VM booted after the leak began (8.5 s against 0.24 s): its RAM counts from then on
    kvm = vsim.load_profile("kvm")
    fixed = DOCKER.host_memory_mib.value + kvm.host_memory_mib.value + SHIM + 20480 + kvm.guest_memory_overhead_mib.value
    assert inst.loc["vm", "ready_s"] > inst.loc["hog", "ready_s"]
    t = inst.loc["hog", "ready_s"] + (HOST_MIB - fixed - 100) / 500
    assert inst.loc["vm", "stopped_s"] == pytest.approx(t, abs=1e-6)


@pytest.mark.parametrize("per_request_mib, victim_fails", [(0.0, False), (2000.0, True)])
def test_a_burst_of_request_buffers_fills_the_host(per_request_mib, victim_fails):
    victim = workload("victim", platform="docker", memory_mib=512, memory_use={"resident_mib": 31000})
    svc = workload("svc", platform="docker", memory_mib=512,
                   memory_use={"resident_mib": 100, "per_request_mib": per_request_mib},
                   service={"arrivals": {"type": "fixed", "rate_per_s": 1}, "cpu_s": 0.01})
    sc = scenario([victim, svc], hosts=[host(memory_gib=32, cores=4, platforms=["docker"])], duration_s=30)
    inst = vsim.simulate(sc).instances.set_index("workload")
    assert (inst.loc["victim", "state"] == "failed") == victim_fails
    if victim_fails:  # at the first request: one second after the service is ready
        assert inst.loc["victim", "stopped_s"] == pytest.approx(inst.loc["svc", "ready_s"] + 1.0)
