"""Where VMs' "minutes" come from: one scenario file per cause.

On its own host with its image cached, a VM boots in seconds (KVM: 8.5 s).
The course's 分钟级 appears when something else is in the way, and each
scenario file shows one such cause: the phases table of the run names it
(the phase that takes most of the median guest's startup), and the same file
with that cause taken away (the fix given in its "Try:" line) starts in
seconds or at least several times faster. `vsim compare` lists these files in
its notes (vsim.experiments.compare.MINUTES_FILES).
"""

from pathlib import Path

import pytest

import vsim
from vsim.experiments.bootstorm import longest_phase
from vsim.experiments.compare import MINUTES_FILES

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

#: per file: overrides that remove the cause
FIX = {
    "minutes-image-fetch.yaml": ["registries.0.bandwidth_gbit_s=100"],
    "minutes-cloud-init.yaml": ["profiles.0.extra_start_phases.1.cpu_s=0",
                                "profiles.0.extra_start_phases.1.latency_s=0"],
    "minutes-hdd-storm.yaml": ["hosts.0.disk.random_read_iops=84000", "hosts.0.disk.random_write_iops=112000"],
    "minutes-full-clones.yaml": ["workloads.0.clone=linked"],
}


def test_every_file_in_the_compare_note_is_tested():
    assert {f for f, _, _ in MINUTES_FILES} == set(FIX)
    assert {p.name for p in SCENARIOS.glob("minutes-*.yaml")} == set(FIX)


@pytest.mark.parametrize("name, workload, cause", MINUTES_FILES)
def test_each_cause_takes_minutes_and_is_named_by_the_phases_table(name, workload, cause):
    fix = FIX[name]
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / name))
    t = res.summary_table().set_index("workload")
    slow = t.loc[workload, "startup_p50_s"]
    assert slow >= 60.0, name  # 分钟级
    assert t.loc[workload, "ready"] == res.instances["workload"].eq(workload).sum()  # every guest started
    phase, share = longest_phase(res, workload)
    assert phase == cause and share > 0.5, (name, phase, share)
    fixed = vsim.simulate(vsim.load_scenario(SCENARIOS / name, overrides=fix)).summary_table().set_index("workload")
    assert fixed.loc[workload, "startup_p50_s"] < slow / 4, name


def test_a_vm_with_its_image_on_the_host_boots_in_seconds():
    raw = vsim.compare(["kvm"], raw=True)["kvm"]
    assert raw["clone"] == "linked"  # OpenStack's default image path (use_cow_images)
    assert 5 < raw["startup_idle_s"] < 20  # Plauth et al. 2017: 8.47 s
    assert raw["startup_fetch_s"] > raw["startup_idle_s"] + 0.9 * raw["fetch_s"]
    # 2,256 MB over the 1 Gbit/s image service: at least 18 s
    assert raw["fetch_s"] >= 2256 / 125


def test_the_second_wave_finds_the_image_cached_on_every_host():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "minutes-image-fetch.yaml"))
    t = res.summary_table().set_index("workload")
    assert t.loc["second-wave", "startup_p95_s"] < 20
    pulls = res.phases[res.phases["phase"] == "pull"]
    assert len(pulls) == 10 and pulls["host"].nunique() == 10  # one download per host
    # ten downloads share one 1 Gbit/s link: none finishes before 10 x 2,256 MB / 125 MB/s
    assert pulls["duration_s"].min() >= 10 * 2256 / 125 - 1e-6
