"""Density and boot storms: the experiments run the model's placement and boots.

The experiments never compute a count with a formula; these tests do, from the
profile's numbers, and check that the model lands where the arithmetic says.
"""

import math

import matplotlib.pyplot as plt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsim
from vsim.experiments.bootstorm import ALONE_REPEATS, boot_phases, boot_storm
from vsim.experiments.density import density
from vsim.plots import boot_gantt, density_bars, startup_vs_concurrency

MIB_PER_GIB = 1024


def test_docker_stops_at_the_bridge_port_limit():
    d = density("docker").iloc[0]
    limit = vsim.load_profile("docker").max_guests_per_host.value
    assert d["guests"] == limit
    assert d["binding"] == "guest limit"
    assert d["reason"].startswith("guest limit:")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memory_gib=st.integers(4, 64), guest_mib=st.integers(256, 4096), platform=st.sampled_from(["kvm", "virtualbox"]))
def test_memory_bound_count_matches_the_reservations(memory_gib, guest_mib, platform):
    # vCPUs and disk generous, so memory binds: n guests fit, n + 1 would not.
    host = {"cores": 64, "memory_gib": memory_gib, "overcommit": {"cpu": 100},
            "disk": {"capacity_gib": 100_000}}
    d = density(platform, host=host, shape={"vcpus": 1, "memory_mib": guest_mib, "clone": "linked"}).iloc[0]
    p = vsim.load_profile(platform)
    free = memory_gib * MIB_PER_GIB - p.host_memory_mib.value
    per_guest = guest_mib + p.guest_memory_overhead_mib.value
    n = d["guests"]
    assert d["memory_per_guest_mib"] == pytest.approx(per_guest)
    if free < per_guest:
        assert n == 0
    else:
        assert n * per_guest <= free + 1e-6 < (n + 1) * per_guest
        assert d["binding"] == "memory"


def test_full_clones_fill_the_disk_linked_clones_do_not():
    host = {"cores": 64, "memory_gib": 512, "overcommit": {"cpu": 16}, "disk": {"capacity_gib": 50}}
    shape = {"vcpus": 1, "memory_mib": 512}
    full = density("kvm", host=host, shape={**shape, "clone": "full"}).iloc[0]
    linked = density("kvm", host=host, shape={**shape, "clone": "linked"}).iloc[0]
    assert full["binding"] == "disk"
    assert linked["binding"] != "disk"
    assert linked["guests"] > 5 * full["guests"]
    assert full["disk_per_guest_mb"] > 1000 > linked["disk_per_guest_mb"]
    # the cached image is counted once, whatever the clone mode
    assert full["image_cache_mb"] == linked["image_cache_mb"] > 2000


def test_page_sharing_fits_more_vms():
    ksm = {"name": "kvm-ksm", "base": "kvm",
           "page_sharing": {"value": 0.3, "assumption": "test: identical guests (VMware: > 30% saved)"}}
    d = density(["kvm", ksm]).set_index("platform")
    assert d.loc["kvm-ksm", "memory_per_guest_mib"] < d.loc["kvm", "memory_per_guest_mib"]
    assert d.loc["kvm-ksm", "resident_per_guest_mib"] < d.loc["kvm", "resident_per_guest_mib"]
    assert d.loc["kvm-ksm", "physical_guests"] > d.loc["kvm", "physical_guests"]
    shaped = density(["kvm", ksm], shape={}).set_index("platform")  # 4 GiB VMs: memory binds
    assert shaped.loc["kvm-ksm", "guests"] > shaped.loc["kvm", "guests"]


def test_start_all_reports_startup_at_that_density():
    host = {"cores": 8, "memory_gib": 32, "overcommit": {"cpu": 4}}
    d = density("kvm", host=host, shape={"clone": "linked"}, start=True).iloc[0]
    one = boot_storm("kvm", counts=[1], host=host, shape={"clone": "linked"}).iloc[0]
    assert d["guests"] > 1
    assert d["startup_p50_s"] > one["startup_p50_s"]
    assert d["startup_max_s"] >= d["startup_p95_s"] >= d["startup_p50_s"]
    assert math.isnan(density("kvm", host=host).iloc[0]["startup_p50_s"])


def test_density_works_for_every_builtin_profile():
    d = density(vsim.profile_names(), host={"cores": 16, "memory_gib": 64, "overcommit": {"cpu": 4}})
    assert len(d) == len(vsim.profile_names())
    assert (d["guests"] >= 1).all()
    assert set(d["binding"]) <= {"memory", "vcpus", "disk", "guest limit", "none"}


def test_density_search_limit():
    d = density("docker", max_guests=100).iloc[0]
    assert d["guests"] == 100 and d["binding"] == "none"


def test_boot_storm_startup_grows_with_n_and_respects_the_disk_bound():
    counts = [1, 4, 16]
    df = boot_storm(["kvm", "docker"], counts=counts, shape={"clone": "linked"})
    for _, grp in df.groupby("platform"):
        p50 = grp.sort_values("n")["startup_p50_s"].to_numpy()
        assert (p50[1:] > p50[:-1]).all()
        # every guest started (n = 1 is one guest alone, started ALONE_REPEATS times one after another)
        assert (grp["rejected"] == 0).all()
        assert (grp["started"] == grp["n"].where(grp["n"] > 1, ALONE_REPEATS)).all()
    # Lower bound from the disk alone: n guests each needing D disk-seconds on
    # one disk cannot all be ready before n * D.
    kvm = vsim.load_profile("kvm")
    disk = vsim.spec.scenario.Disk()
    d_one = kvm.linked_clone_overlay_mb.value / disk.write_mb_s + sum(
        ph.disk_read_mb / disk.read_mb_s + ph.disk_write_mb / disk.write_mb_s for ph in kvm.start_phases)
    for r in df[df["platform"] == "kvm"].itertuples():
        assert r.startup_max_s >= r.n * d_one * (1 - 1e-9)


def test_boot_storm_reports_rejections_when_the_host_is_full():
    df = boot_storm("kvm", counts=[40], host={"cores": 8, "memory_gib": 64, "overcommit": {"cpu": 4}}).iloc[0]
    assert df["started"] + df["rejected"] == 40 and df["rejected"] > 0


@pytest.mark.parametrize("bad, field", [
    ({"counts": [0]}, "counts"),
    ({"counts": []}, "counts"),
    ({"shape": {"vcpu": 1}}, "shape.vcpu"),
    ({"shape": {"memory_mib": -5}}, "shape.memory_mib"),
])
def test_bad_arguments(bad, field):
    with pytest.raises(vsim.ScenarioError, match=field.replace(".", r"\.")):
        boot_storm("kvm", **{"counts": [1], **bad})


def test_plots_from_the_experiment_tables():
    storm = boot_storm(["docker", "firecracker"], counts=[1, 5])
    ax = startup_vs_concurrency(storm)
    assert "(s)" in ax.get_ylabel() and ax.get_xlabel()
    plt.close(ax.figure)
    dens = density(["docker", "kvm"])
    ax = density_bars(dens)
    assert len(ax.patches) == 2 and "count" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["limited by guest limit", "limited by vcpus", "physical wall (policies lifted)"]
    plt.close(ax.figure)
    ph = boot_phases(["docker", "kvm"])
    ax = boot_gantt(ph)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["docker", "kvm"]
    assert "(s)" in ax.get_xlabel()
    plt.close(ax.figure)
