"""Placement admits exactly what fits, and every reservation comes back.

Lower bounds as well as upper ones: a placer that admits one guest fewer than
fits (or ignores overcommit) fails here, and so does one that never returns
what a guest reserved. Expected counts are worked out by hand from the host and
the profile numbers, not taken from the code.
"""

import pytest
from helpers import host, scenario, workload

import vsim
from vsim.experiments.run import build_world


@pytest.mark.parametrize("overcommit", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("slack", [0.0, 0.5])
def test_exactly_as_many_vms_as_the_memory_holds_with_overcommit(overcommit, slack):
    # 64 GiB host less KVM's 512 MiB footprint, times the overcommit; each VM reserves
    # its memory + QEMU's 142 MiB, sized so that 32 fit with `slack` of a VM to spare:
    # exactly 32 are placed (not 31 as a placer asking for a margin would, not 33).
    kvm = vsim.load_profile("kvm")
    overhead = kvm.guest_memory_overhead_mib.value
    room = 64 * 1024 * overcommit - kvm.host_memory_mib.value
    per_vm = room / (32 + slack)
    sc = scenario([workload(platform="kvm", count=37, memory_mib=per_vm - overhead, vcpus=1, image="vm",
                            clone="linked")],
                  hosts=[host(platforms=["kvm"], cores=256, memory_gib=64, cached_images=["vm"],
                              overcommit={"memory": overcommit})], duration_s=60.0)
    inst = vsim.simulate(sc).instances
    assert (inst["state"] != "rejected").sum() == 32
    assert inst.loc[inst["state"] == "rejected", "reason"].str.contains("memory").all()


def test_exactly_as_many_containers_as_the_vcpus_allow():
    # 8 cores, 4 vCPUs per core: 32 vCPUs; containers of 0.5 vCPU: 64 fit, whatever the memory.
    sc = scenario([workload(platform="docker", count=70, memory_mib=64, vcpus=0.5, image="app")],
                  hosts=[host(platforms=["docker"], cores=8, memory_gib=256, overcommit={"cpu": 4.0})],
                  duration_s=60.0)
    inst = vsim.simulate(sc).instances
    assert (inst["state"] == "rejected").sum() == 6
    assert inst.loc[inst["state"] == "rejected", "reason"].str.contains("vcpus").all()


def test_every_reservation_comes_back_when_the_guests_are_gone():
    sc = scenario([workload(name="v", platform="kvm", count=7, image="vm", clone="full", memory_mib=1024,
                            lifetime={"type": "fixed", "duration_s": 30.0}),
                   workload(name="c", platform="docker", count=9, image="app", memory_mib=256, vcpus=0.25,
                            lifetime={"type": "fixed", "duration_s": 20.0})],
                  hosts=[host(count=2, cached_images=["vm"])])
    world = build_world(sc)
    placer = world.placer
    before = [(placer.mem_free_on(i), float(placer.vcpu_free[i])) for i in range(len(world.hosts))]
    disk_before = [float(d) for d in placer.disk_free]
    cache_before = [h.cache_mb for h in world.hosts]
    world.run()
    assert all(g.state == "stopped" for g in world.guests)
    assert sum(g.host is not None for g in world.guests) == 16  # every one was placed, on one host or the other
    for i, h in enumerate(world.hosts):
        assert placer.mem_free_on(i) == pytest.approx(before[i][0]) and placer.vcpu_free[i] == pytest.approx(before[i][1])
        # disk: all back but the image layers the host pulled and keeps in its cache
        assert placer.disk_free[i] == pytest.approx(disk_before[i] - (h.cache_mb - cache_before[i]), abs=1e-6)
