"""Every scenario file validates and runs, and the shipped ones show their point."""

import pytest
from conftest import SCENARIOS

import vsim

# plan-*.yaml files are capacity plans (vsim plan), run by tests/test_sweep_plan.py.
FILES = sorted(p for p in SCENARIOS.glob("*.yaml") if not p.name.startswith("plan-"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_scenario_validates_and_runs(path):
    sc = vsim.load_scenario(path)
    res = vsim.simulate(sc)
    # Every requested guest has a row; an HA restart (vsim.mechanisms.faults) adds one for the replacement.
    rec = res.tables.get("recoveries")
    replacements = int((rec["new_id"] >= 0).sum()) if rec is not None else 0
    assert len(res.instances) == sc.guest_count() + replacements
    assert len(res.hosts) == sum(h.count for h in sc.hosts)


def test_docker_vs_kvm_startup_ranges():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml"))
    t = res.summary_table().set_index("platform")
    assert t.loc["docker", "startup_p95_s"] < 1.0
    # Idle-host KVM boot: the calibrated 8.5 s plus copying the image (full clone).
    assert 5.0 <= t.loc["kvm", "startup_p50_s"] <= 20.0


def test_boot_storm_of_linked_clones_reads_the_base_image_once_and_waits_for_cpu():
    sc = vsim.load_scenario(SCENARIOS / "boot-storm.yaml")
    res = vsim.simulate(sc)
    t = res.summary_table().set_index("workload")
    single = t.loc["single", "startup_p50_s"]
    storm = t.loc["storm-100", "startup_p50_s"]
    # 100 boots of 3.95 core-s each on 32 cores (less libvirtd's 0.1) cannot be quicker
    # than their CPU work, however the reads go: 12.4 s, plus the fixed latencies.
    kvm = vsim.load_profile("kvm")
    cpu = sum(p.cpu_s for p in kvm.start_phases)
    assert storm > 100 * cpu / 31.9
    assert storm < 2.5 * single  # but nowhere near 100 x one boot's reads
    h = res.hosts.iloc[0]
    assert h.page_cache_misses == 3 and h.page_cache_hit_ratio > 0.98  # kernel, initrd, userspace read once
    # Without the page cache each of the 100 reads its 330 MB: the disk binds.
    off = vsim.simulate(vsim.load_scenario(SCENARIOS / "boot-storm.yaml", overrides=["hosts.0.page_cache=false"]))
    t_off = off.summary_table().set_index("workload")
    assert t_off.loc["storm-100", "startup_p50_s"] > 2.5 * storm
    disk_s = 100 * sum(p.disk_read_mb for p in kvm.start_phases) / 800
    assert t_off.loc["storm-100", "startup_p50_s"] > disk_s
    assert t.loc["storm-10", "startup_p50_s"] > 0.9 * single


def test_type2_fits_fewer_vms_and_boots_slower():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "type1-vs-type2.yaml"))
    t = res.summary_table().set_index("platform")
    assert t.loc["virtualbox", "ready"] < t.loc["kvm", "ready"]
    assert t.loc["virtualbox", "startup_p50_s"] > t.loc["kvm", "startup_p50_s"]
