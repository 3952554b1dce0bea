"""The world: exact timelines of guest lifecycles, caches, placement, seeds."""

import pandas as pd
import pytest
from helpers import CT_IMAGE, VM_IMAGE, disk_s, host, scenario, workload
from hypothesis import given, settings
from hypothesis import strategies as st

import vsim
from vsim.experiments.run import build_world
from vsim.model.units import EXTRACT_CPU_S_PER_MB, GBIT_TO_MB_S
from vsim.results import Results


def uncontended_phase_s(profile, read_mb_s=800.0, write_mb_s=750.0, speed=1.0, net_mb_s=1250.0):
    total = 0.0
    for ph in profile.start_phases:
        total += ph.cpu_s / speed + disk_s(ph.disk_read_mb, ph.disk_write_mb, ph.io_kib, read_mb_s, write_mb_s)
        total += ph.net_mb / net_mb_s + ph.latency_s
    return total


def test_one_vm_on_idle_host_is_ready_at_sum_of_phases():
    sc = scenario([workload(platform="kvm", image="vm", clone="linked")],
                  hosts=[host(cached_images=["vm"])])
    res = vsim.simulate(sc)
    row = res.instances.iloc[0]
    kvm = vsim.load_profile("kvm")
    clone = kvm.linked_clone_overlay_mb.value / 750.0
    assert row["ready_s"] == pytest.approx(clone + uncontended_phase_s(kvm), rel=1e-12)
    # and the phases are recorded back to back, in profile order
    ph = res.phases[res.phases["id"] == 0]
    assert list(ph["phase"]) == ["clone-linked"] + [p.name for p in kvm.start_phases]
    assert (ph["start_s"].to_numpy()[1:] == pytest.approx(ph["end_s"].to_numpy()[:-1]))


def test_full_clone_copies_the_image():
    sc = scenario([workload(platform="kvm", image="vm", clone="full")],
                  hosts=[host(cached_images=["vm"])])
    row = vsim.simulate(sc).instances.iloc[0]
    assert row["provision_s"] == pytest.approx(2256 / 800 + 2256 / 750, rel=1e-12)
    assert row["disk_mb"] == pytest.approx(2256 + 1)


def test_vm_timeline_on_faster_core_and_disk():
    sc = scenario([workload(platform="kvm")],
                  hosts=[host(core_speed=2.0, disk={"read_mb_s": 1600, "write_mb_s": 1500})])
    row = vsim.simulate(sc).instances.iloc[0]
    kvm = vsim.load_profile("kvm")
    assert row["startup_s"] == pytest.approx(uncontended_phase_s(kvm, 1600, 1500, 2.0), rel=1e-12)


@pytest.mark.parametrize("n", [1, 10, 100])
def test_boot_storm_disk_reads_are_processor_shared(n):
    # A profile whose only phase reads 800 MB: alone 1 s on an 800 MB/s disk.
    prof = {"name": "reader", "base": "kvm",
            "start_phases": [{"name": "read", "disk_read_mb": 800, "assumption": "test"}]}
    sc = scenario([workload(platform="reader", count=n, memory_mib=64, vcpus=0.1)],
                  hosts=[host(platforms=["reader"], memory_gib=1024)], profiles=[prof])
    res = vsim.simulate(sc)
    assert res.instances["startup_s"].tolist() == pytest.approx([float(n)] * n, rel=1e-12)


def test_container_cold_cache_pulls_layers_then_warm_cache_skips():
    # Two containers of the same image, one after the other: the first pulls,
    # the second finds every layer cached.
    sc = scenario([workload(platform="docker", image="app", memory_mib=128,
                            arrivals={"type": "times", "times_s": [0, 100]})])
    res = vsim.simulate(sc)
    first, second = res.instances.iloc[0], res.instances.iloc[1]
    total_mb = sum(lay["size_mb"] for lay in CT_IMAGE["layers"])
    assert first["pulled_mb"] == pytest.approx(total_mb)
    assert second["pulled_mb"] == 0
    assert second["provision_s"] == 0
    # Cold pull: Docker downloads three layers at once (dockerd's default), so
    # the three share the 1 Gbit/s link, and their unpacked bytes share the
    # disk, by processor sharing; each layer is here when both are done, and
    # the layers are unpacked on one core in image order as they arrive.
    layers = CT_IMAGE["layers"]
    link = _ps_done([lay["size_mb"] for lay in layers], 1 * GBIT_TO_MB_S)
    disk = _ps_done([lay["unpacked_mb"] / 750 for lay in layers], 1.0)
    t = 0.0
    for lay, a, b in zip(layers, link, disk, strict=True):
        t = max(t, a, b) + EXTRACT_CPU_S_PER_MB * lay["unpacked_mb"]
    assert first["provision_s"] == pytest.approx(t, rel=1e-12)


def _ps_done(sizes, capacity):
    """When each of ``sizes`` (work) finishes, all started together on a
    processor-sharing resource of ``capacity`` (the smallest first)."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    done, t, served = [0.0] * len(sizes), 0.0, 0.0
    for k, i in enumerate(order):
        t += (sizes[i] - served) * (len(sizes) - k) / capacity
        served = sizes[i]
        done[i] = t
    return done


def test_partial_cache_pulls_only_missing_layers():
    other = {"name": "other", "kind": "container", "layers": [
        {"id": "base", "size_mb": 30, "unpacked_mb": 80},
        {"id": "extra", "size_mb": 12, "unpacked_mb": 40},
    ]}
    sc = scenario([workload(name="a", platform="docker", image="app", memory_mib=64),
                   workload(name="b", platform="docker", image="other", memory_mib=64, at_s=100)],
                  images=[VM_IMAGE, CT_IMAGE, other])
    inst = vsim.simulate(sc).instances.set_index("workload")
    assert inst.loc["b", "pulled_mb"] == pytest.approx(12)  # 'base' was already there


def test_concurrent_pulls_of_one_layer_download_it_once():
    sc = scenario([workload(platform="docker", image="app", memory_mib=64, count=5)])
    res = vsim.simulate(sc)
    total_mb = sum(lay["size_mb"] for lay in CT_IMAGE["layers"])
    assert res.instances["pulled_mb"].sum() == pytest.approx(total_mb)
    assert res.hosts.loc[0, "cache_mb"] == pytest.approx(80 + 250 + 25)


def test_guest_that_fits_nowhere_is_rejected_with_reason():
    sc = scenario([workload(platform="kvm", memory_mib=128 * 1024)])
    res = vsim.simulate(sc)
    row = res.instances.iloc[0]
    assert row["state"] == "rejected"
    assert row["reason"].startswith("memory:")
    assert row["host"] == ""
    assert res.summary["rejections"] == {row["reason"]: 1}


def test_vcpu_overcommit_and_guest_limit_reasons():
    sc = scenario([workload(platform="kvm", vcpus=4, memory_mib=256, count=5)],
                  hosts=[host(cores=8)])
    inst = vsim.simulate(sc).instances
    assert (inst["state"] == "rejected").sum() == 3  # 8 cores / 4 vCPUs = 2 fit
    assert inst.loc[inst["state"] == "rejected", "reason"].str.startswith("vcpus:").all()
    sc = scenario([workload(platform="kvm", vcpus=4, memory_mib=256, count=5)],
                  hosts=[host(cores=8, overcommit={"cpu": 2.5})])
    assert (vsim.simulate(sc).instances["state"] != "rejected").sum() == 5
    sc = scenario([workload(platform="docker", vcpus=0.01, memory_mib=1, count=1030)],
                  hosts=[host(memory_gib=512)])
    inst = vsim.simulate(sc).instances
    assert (inst["state"] != "rejected").sum() == 1023  # Linux bridge ports
    assert inst.loc[inst["state"] == "rejected", "reason"].str.startswith("guest limit:").all()


def test_stopped_guest_returns_its_reservation():
    sc = scenario([workload(platform="kvm", memory_mib=40 * 1024,
                            arrivals={"type": "times", "times_s": [0, 5, 100]},
                            lifetime={"type": "fixed", "duration_s": 50})])
    inst = vsim.simulate(sc).instances
    assert inst["state"].tolist() == ["stopped", "rejected", "stopped"]


@pytest.mark.parametrize("policy,expect", [
    ("first-fit", ["h-0", "h-0", "h-0"]),
    ("spread", ["h-0", "h-1", "h-2"]),
])
def test_placement_policies(policy, expect):
    sc = scenario([workload(platform="kvm", memory_mib=1024, count=3)],
                  hosts=[host(count=3)], placement=policy)
    assert vsim.simulate(sc).instances["host"].tolist() == expect


def test_best_fit_and_worst_fit_choose_by_free_memory():
    hosts = [host(name="small", memory_gib=8), host(name="big", memory_gib=64)]
    for policy, expect in (("best-fit", "small"), ("worst-fit", "big")):
        sc = scenario([workload(platform="kvm", memory_mib=1024)], hosts=hosts, placement=policy)
        assert vsim.simulate(sc).instances["host"].tolist() == [expect]


def poisson_scenario(seed):
    return scenario([workload(platform="docker", image="app", memory_mib=64,
                              arrivals={"type": "poisson", "rate_per_s": 2.0, "count": 50},
                              lifetime={"type": "exponential", "mean_s": 10})], seed=seed)


def test_same_seed_identical_instances_csv(tmp_path):
    a = vsim.simulate(poisson_scenario(3)).save(tmp_path / "a")
    b = vsim.simulate(poisson_scenario(3)).save(tmp_path / "b")
    assert (a / "instances.csv").read_bytes() == (b / "instances.csv").read_bytes()
    c = vsim.simulate(poisson_scenario(4)).save(tmp_path / "c")
    assert (a / "instances.csv").read_bytes() != (c / "instances.csv").read_bytes()
    ra = pd.read_csv(a / "instances.csv")
    rc = pd.read_csv(c / "instances.csv")
    assert not ra["requested_s"].equals(rc["requested_s"])


def test_seed_argument_overrides_scenario_seed():
    sc = poisson_scenario(3)
    assert vsim.simulate(sc, seed=4).instances.equals(vsim.simulate(poisson_scenario(4)).instances)


def test_save_and_load_round_trip(tmp_path):
    res = vsim.simulate(poisson_scenario(1))
    back = vsim.load_results(res.save(tmp_path / "run"))
    pd.testing.assert_frame_equal(back.instances, res.instances, check_dtype=False)
    assert back.summary["states"] == res.summary["states"]


@settings(max_examples=40, deadline=None)
@given(
    mem=st.lists(st.integers(64, 20000), min_size=1, max_size=25),
    vcpus=st.lists(st.sampled_from([0.5, 1, 2, 4]), min_size=1, max_size=25),
    overcommit=st.sampled_from([1.0, 1.5, 2.0]),
    policy=st.sampled_from(["first-fit", "best-fit", "worst-fit", "spread"]),
)
def test_reservations_never_exceed_capacity_and_no_guest_is_dropped(mem, vcpus, overcommit, policy):
    wls = [workload(name=f"w{i}", platform="kvm", memory_mib=m, vcpus=vcpus[i % len(vcpus)],
                    at_s=float(i % 3), lifetime={"type": "fixed", "duration_s": 5.0 * (i % 4)})
           for i, m in enumerate(mem)]
    sc = scenario(wls, hosts=[host(count=2, cores=4, memory_gib=16,
                                   overcommit={"memory": overcommit, "cpu": overcommit})],
                  placement=policy)
    world = build_world(sc)
    placer = world.placer
    orig = placer.place

    def checked(guest, own):
        out = orig(guest, own)
        assert (placer.mem_free >= -1e-6).all()
        assert (placer.vcpu_free >= -1e-6).all()
        assert (placer.disk_free >= -1e-6).all()
        return out

    placer.place = checked
    world.run()
    res = Results.from_world(world)
    inst = res.instances
    assert len(inst) == len(mem)  # every requested guest has a row
    assert set(inst["state"]) <= {"stopped", "rejected"}
    assert (inst.loc[inst.state == "rejected", "reason"] != "").all()
    cap = 16 * 1024 * overcommit
    assert (res.hosts["peak_memory_mib"] <= cap + 1e-6).all()
