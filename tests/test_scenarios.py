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


def test_boot_storm_100_vms_take_many_times_longer():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "boot-storm.yaml"))
    t = res.summary_table().set_index("workload")
    assert t.loc["storm-100", "startup_p50_s"] > 5 * t.loc["single", "startup_p50_s"]
    assert t.loc["storm-10", "startup_p50_s"] > t.loc["single", "startup_p50_s"]


def test_type2_fits_fewer_vms_and_boots_slower():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "type1-vs-type2.yaml"))
    t = res.summary_table().set_index("platform")
    assert t.loc["virtualbox", "ready"] < t.loc["kvm", "ready"]
    assert t.loc["virtualbox", "startup_p50_s"] > t.loc["kvm", "startup_p50_s"]
