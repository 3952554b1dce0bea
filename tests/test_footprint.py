"""Density from one application: what each platform adds to it, and the walls it hits.

The rules (vsim.model.footprint) are stated here from the profile's numbers and
checked against the model: the RAM flavor a VM is given, what it reserves and
what it touches, a container's shim and kernel objects. Then the density
experiment's counts are checked against the arithmetic of those needs (a
brute-force reference: the largest n whose n guests fit), under the host's
policies and with them lifted.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsim
from vsim.experiments.compare import compare
from vsim.experiments.density import density
from vsim.experiments.testbed import APPLICATION, DEFAULT_HOST
from vsim.model.footprint import FLAVOR_GROWTH, flavor_mib, guest_needs
from vsim.spec.application import Application, parse_application

APP = parse_application(APPLICATION)
KVM, DOCKER = vsim.load_profile("kvm"), vsim.load_profile("docker")
HOST_MIB = DEFAULT_HOST["memory_gib"] * 1024


def most_that_fit(free: float, each: float) -> int:
    """The largest n with n guests of ``each`` within ``free`` (counted, not divided)."""
    n = 0
    while (n + 1) * each <= free + 1e-6:
        n += 1
    return n


# -- what one guest needs --------------------------------------------------------------

@pytest.mark.parametrize("peak, ram", [
    (128, 512),            # 108.7 + 128 = 236.7: the smallest flavor
    (403.3, 512),          # exactly 512: still the smallest
    (403.4, 1024),         # just over: the next flavor, twice the size
    (2000, 4096),          # 2108.7 -> 4096 (m1.medium)
])
def test_a_vm_is_given_the_smallest_flavor_holding_its_os_and_the_peak(peak, ram):
    app = Application(working_set_mib=80, peak_mib=peak, cpu_cores=0.01)
    assert guest_needs(KVM, app).ram_mib == ram


@settings(max_examples=200, deadline=None)
@given(smallest=st.sampled_from([64.0, 128.0, 512.0, 1000.0]), need=st.floats(1e-3, 1e7))
def test_flavors_double_from_the_smallest(smallest, need):
    p = KVM.model_copy(update={"guest_os": KVM.guest_os.model_copy(update={
        "min_memory_mib": KVM.guest_os.min_memory_mib.model_copy(update={"value": smallest})})})
    f = flavor_mib(p, need)
    assert f >= need                                          # it holds what is needed
    assert f == smallest or f / FLAVOR_GROWTH < need          # and no smaller flavor would
    k = math.log2(f / smallest)
    assert k == pytest.approx(round(k)) and k >= 0            # a doubling of the smallest


def test_a_vm_reserves_its_ram_and_touches_its_os_and_working_set():
    n = guest_needs(KVM, APP)
    qemu = KVM.guest_memory_overhead_mib.value                # 142 MiB, outside the guest's RAM
    assert n.ram_mib == 512 and n.vcpus == 1
    assert n.reserved_mib == pytest.approx(512 + qemu)
    assert n.resident_mib == pytest.approx(108.7 + 80.7 + qemu)
    assert n.resident_mib < n.reserved_mib
    assert n.cpu_cores == pytest.approx(0.01 + 0.016)        # the service, and an idle Debian guest's ticks
    assert sum(n.parts.values()) == pytest.approx(n.resident_mib)


def test_a_container_reserves_nothing_but_what_it_touches():
    n = guest_needs(DOCKER, APP)
    assert n.ram_mib == 0
    assert n.reserved_mib == n.resident_mib == pytest.approx(80.7 + 7.5 + 1.0)  # shim and kernel objects
    assert n.vcpus == pytest.approx(0.01)                     # its own CPU, no whole vCPU
    assert n.parts["guest_os"] == 0                            # the host's kernel


@pytest.mark.parametrize("peak_cores, vcpus", [(0.3, 1), (1.0, 1), (1.01, 2), (2.5, 3)])
def test_a_vm_gets_whole_vcpus_for_the_peak(peak_cores, vcpus):
    app = Application(working_set_mib=80, cpu_cores=0.2, peak_cores=peak_cores)
    assert guest_needs(KVM, app).vcpus == vcpus
    assert guest_needs(DOCKER, app).vcpus == pytest.approx(0.2)


def test_page_sharing_merges_what_is_inside_the_guest():
    ksm = vsim.experiments.testbed.resolve_platform(
        {"name": "kvm-ksm", "base": "kvm", "page_sharing": {"value": 0.3, "assumption": "test"}})
    n = guest_needs(ksm, APP)
    assert n.resident_mib == pytest.approx((108.7 + 80.7) * 0.7 + 142)   # not the monitor's own memory
    assert n.reserved_mib == pytest.approx(512 * 0.7 + 142)
    assert sum(n.parts.values()) == pytest.approx(n.resident_mib)


# -- the walls -------------------------------------------------------------------------

def test_density_counts_are_the_arithmetic_of_the_needs():
    d = density(["docker", "kvm"]).set_index("platform")
    # Docker: the bridge has 1,023 ports for containers (policy); physically the memory they touch
    free = HOST_MIB - DOCKER.host_memory_mib.value
    assert d.loc["docker", "guests"] == 1023 and d.loc["docker", "binding"] == "guest limit"
    assert d.loc["docker", "physical_guests"] == most_that_fit(free, 80.7 + 7.5 + 1.0)
    assert d.loc["docker", "physical_binding"] == "memory"
    # KVM: one whole vCPU each, 4 per core on 32 cores (policy) before the reserved memory (400)
    free = HOST_MIB - KVM.host_memory_mib.value
    assert most_that_fit(free, 512 + 142) > 128
    assert d.loc["kvm", "guests"] == 128 and d.loc["kvm", "binding"] == "vcpus"
    # physically: what each touches, or the CPU in use (32 cores / 0.026), whichever is less
    assert d.loc["kvm", "physical_guests"] == min(most_that_fit(free, 108.7 + 80.7 + 142),
                                                  most_that_fit(32, 0.026))
    assert d.loc["kvm", "physical_binding"] == "memory"
    assert (d["application"] == "web-service").all()


def test_memory_overcommit_moves_the_policy_wall_not_the_physical_one():
    host = {"cores": 64, "memory_gib": 64, "overcommit": {"cpu": 4, "memory": 1.0}}
    a = density("kvm", host=host).iloc[0]
    b = density("kvm", host=dict(host, overcommit={"cpu": 4, "memory": 1.5})).iloc[0]
    assert a["binding"] == b["binding"] == "memory"
    free = 64 * 1024 - 512
    assert a["guests"] == most_that_fit(free, 654)
    assert b["guests"] == most_that_fit(64 * 1024 * 1.5 - 512, 654)
    assert a["physical_guests"] == b["physical_guests"] == most_that_fit(free, 331.4)


def test_a_host_guest_limit_is_a_policy_lifted_for_the_physical_wall():
    d = density("docker", host=dict(DEFAULT_HOST, max_guests=10)).iloc[0]
    assert d["guests"] == 10 and d["binding"] == "guest limit"
    assert d["physical_guests"] > 2000 and d["physical_binding"] == "memory"


def test_a_busy_application_is_held_by_the_cpu_on_every_platform():
    busy = {"name": "busy", "working_set_mib": 80.7, "cpu_cores": 0.5}
    d = density(["docker", "kvm"], application=busy).set_index("platform")
    assert d.loc["docker", "physical_binding"] == d.loc["kvm", "physical_binding"] == "vcpus"
    assert d.loc["docker", "physical_guests"] == most_that_fit(32, 0.5 + 0.000128)   # 63
    assert d.loc["kvm", "physical_guests"] == most_that_fit(32, 0.5 + 0.016)         # 62
    # policy: half-core requests 4 per core for the containers; one vCPU each for the VMs
    assert d.loc["docker", "guests"] == 256 and d.loc["kvm", "guests"] == 128


def test_the_old_fixed_shapes_stay_a_scenario():
    res = vsim.simulate(vsim.load_scenario("scenarios/density-shapes.yaml"))
    inst = res.instances
    placed = inst[inst["state"] != "rejected"].groupby("workload").size()
    assert placed["containers"] == 1023 and placed["vms"] == 61
    reasons = inst[inst["state"] == "rejected"].groupby("workload")["reason"].first()
    assert reasons["containers"].startswith("guest limit") and reasons["vms"].startswith("memory")


def test_an_assumed_guest_os_marks_a_memory_bound_physical_wall():
    # A host with disk to spare: ESXi's full clones no longer bind; its guest OS's memory is assumed
    host = dict(DEFAULT_HOST, disk=dict(DEFAULT_HOST["disk"], capacity_gib=100_000))
    t = compare(["kvm", "esxi"], host=host)
    cell = t.loc["density per host (limited by); physical wall"]
    raw = t.attrs["raw"]
    assert raw["esxi"]["density_physical_binding"] == raw["kvm"]["density_physical_binding"] == "memory"
    assert cell["esxi"].endswith("*") and "*" not in cell["kvm"]


@pytest.mark.parametrize("kwargs, field", [
    ({"application": {"working_set_mib": -1, "cpu_cores": 0.1}}, "application.working_set_mib"),
    ({"application": {"working_set_mib": 80, "cpu_cores": 0.1, "peak_mib": 10}}, "application.peak_mib"),
    ({"application": {"working_set_mib": 80}}, "application.cpu_cores"),
    ({"application": {"working_set_mb": 80, "cpu_cores": 0.1}}, "application.working_set_mb"),
    ({"application": "web"}, "application"),
    ({"application": {"working_set_mib": 1e9, "cpu_cores": 0.1}}, "application.working_set_mib"),
    ({"application": {"working_set_mib": float("nan"), "cpu_cores": 0.1}}, "application.working_set_mib"),
    ({"application": {"working_set_mib": 80, "cpu_cores": 0.1}, "shape": {}}, "shape"),
])
def test_bad_application_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(vsim.ScenarioError, match=field.replace(".", r"\.")):
        density("docker", **kwargs)


def test_the_star_follows_the_numbers_of_the_wall_that_binds():
    # A VM whose RAM flavor is assumed but whose guest OS is measured: its reserved memory rests
    # on the assumption, what it touches (the physical wall here) does not.
    kvm = {"name": "kvm-flavor", "base": "kvm",
           "guest_os": {"min_memory_mib": {"value": 512, "assumption": "test: a guessed flavor"}}}
    host = {"cores": 64, "memory_gib": 64, "overcommit": {"cpu": 16}}
    t = compare([kvm], host=host)
    raw = t.attrs["raw"]["kvm-flavor"]
    assert raw["density_binding"] == raw["density_physical_binding"] == "memory"
    policy, physical = t.loc["density per host (limited by); physical wall", "kvm-flavor"].split("; ")
    assert policy.endswith("*") and not physical.endswith("*")


# -- idle footprint: 1,000 idle guests (Manco et al. 2017) --------------------------------

def test_idle_guests_cost_memory_by_parts_and_cpu_on_the_simulated_host():
    from vsim.experiments.density import IDLE_HOST, idle_footprint

    t = idle_footprint(["docker", "kvm", "firecracker", "containerd"], n=1000).set_index("platform")
    assert (t["guests"] == 1000).all()
    for name, parts in (("docker", 1 + 7.5 + 1.0), ("kvm", 108.7 + 1 + 142), ("firecracker", 25.7 + 1 + 4.2)):
        p = vsim.load_profile(name)
        assert t.loc[name, "resident_per_guest_mib"] == pytest.approx(parts)
        assert t.loc[name, "memory_gb"] == pytest.approx((1000 * parts + p.host_memory_mib.value) * 1.048576 / 1000)
        # every booted guest takes its idle CPU from the host: n x idle_cpu_cores of 64 cores
        assert t.loc[name, "cpu_pct"] == pytest.approx(100 * 1000 * p.idle_cpu_cores.value / IDLE_HOST["cores"])
    # 1,000 idle Debian-like VMs keep a quarter of the host busy; containers a fifth of a percent
    assert t.loc["kvm", "cpu_pct"] > 100 * t.loc["docker", "cpu_pct"]
    assert t.loc["kvm", "memory_gb"] > 20 * t.loc["docker", "memory_gb"]
    # the published figures sit beside them, and say which were used to calibrate
    assert t.loc["docker", "published_memory_gb"] == 5.0 and t.loc["docker", "published_cpu_pct"] == 0.2
    assert t.loc["docker", "calibrated_on_it"] == "cpu"            # its memory is a prediction
    assert t.loc["kvm", "calibrated_on_it"] == "memory, cpu"
    assert t.loc["containerd", "published"] == "" and t.loc["containerd", "calibrated_on_it"] == ""
    half = idle_footprint(["kvm"], n=500).iloc[0]
    assert half["cpu_pct"] == pytest.approx(t.loc["kvm", "cpu_pct"] / 2)


def test_idle_vms_take_their_cpu_from_what_a_service_can_use():
    from vsim.experiments.density import IDLE_APPLICATION, IDLE_HOST
    from vsim.experiments.run import build_world
    from vsim.experiments.testbed import build_scenario, resolve_host, shape_for

    kvm = KVM.model_copy(update={"max_guests_per_host": KVM.max_guests_per_host})
    needs = guest_needs(kvm, parse_application(IDLE_APPLICATION))
    sh = shape_for(kvm, {"vcpus": needs.vcpus, "memory_mib": needs.workload_memory_mib})
    world = build_world(build_scenario(kvm, resolve_host(IDLE_HOST), sh, 1000, seed=0))
    h = world.hosts[0]
    before = h.cpu.capacity
    world.run()
    assert before == pytest.approx(64 - KVM.host_cpu_cores.value)
    assert h.cpu.capacity == pytest.approx(64 - KVM.host_cpu_cores.value - 1000 * 0.016)


@pytest.mark.parametrize("n", [0, -1, 10_001, 2.5, True])
def test_idle_footprint_refuses_a_bad_count(n):
    from vsim.experiments.density import idle_footprint

    with pytest.raises(vsim.ScenarioError, match="n:"):
        idle_footprint(["docker"], n=n)
