"""Migration: pre-copy against its closed form, cold migration timelines, containers."""

import math
from pathlib import Path

import pytest

import vsim
from tests.helpers import host, scenario, workload
from vsim.mechanisms.migration import CONVERT_CPU_S_PER_MB
from vsim.spec.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
MB_PER_MIB = 1.048576


def precopy_closed_form(V, R, D, downtime_s, max_rounds):
    """Pre-copy from first principles.

    Round 0 sends all memory V (MB) at bandwidth R (MB/s), taking V/R. While a
    round of length t runs, the guest dirties D*t MB (never more than V), so
    round k sends V_k = V * q**k with q = min(1, D/R). After round n-1 the
    remainder V_n is sent with the guest paused if V_n <= R * downtime_s, or
    once max_rounds rounds have been sent. Rounds:
    n = smallest n >= 1 with V q**n <= R*downtime_s, at most max_rounds;
    the rounds take (V/R) (1 - q**n) / (1 - q) (or n V/R when q = 1), and
    the downtime is V q**n / R.
    """
    q = min(1.0, D / R)
    threshold = R * downtime_s
    if D == 0:
        n = 1
    elif q < 1:
        n = max(1, math.ceil(math.log(threshold / V) / math.log(q)))
        n = min(n, max_rounds)
    else:
        n = max_rounds
    precopy_s = (V / R) * (1 - q**n) / (1 - q) if q < 1 else n * V / R
    downtime = V * q**n / R
    return n, precopy_s + downtime, downtime


def run_live(memory_mib, dirty_mb_s, cap_mib_s=128.0, nic_gbit_s=10.0, downtime_ms=300.0, max_rounds=30,
             auto_converge=False):
    sc = scenario(
        [workload(memory_mib=memory_mib, image="vm", clone="linked", dirty_mb_s=dirty_mb_s)],
        hosts=[host(name="a", network_gbit_s=nic_gbit_s, cached_images=["vm"]),
               host(name="b", network_gbit_s=nic_gbit_s, cached_images=["vm"])],
        migrations=[{"workload": "w", "at_s": 60, "to": "b",
                     "limits": {"bandwidth_mib_s": cap_mib_s, "downtime_ms": downtime_ms,
                                "max_rounds": max_rounds, "auto_converge": auto_converge}}],
    )
    res = vsim.simulate(sc)
    m = res.migrations
    assert len(m) == 1 and m["outcome"][0] == "done", m["outcome"][0]
    return res, m.iloc[0]


# (memory MiB, stream cap MiB/s, NIC Gbit/s, dirty MB/s): the bandwidth R is the
# cap or the NIC, whichever is lower (1 Gbit/s = 125 MB/s < 128 MiB/s).
TRIPLES = [
    (2048, 128, 10, 50),
    (4096, 256, 10, 120),
    (1024, 128, 1, 30),
    (8192, 512, 10, 400),
    (2048, 128, 10, 100),
    (2048, 128, 10, 0),
    (2048, 128, 10, 200),  # dirty rate above the bandwidth: ended by the round limit
]


@pytest.mark.parametrize("memory_mib,cap,nic,dirty", TRIPLES)
def test_precopy_matches_geometric_closed_form(memory_mib, cap, nic, dirty):
    _, m = run_live(memory_mib, dirty, cap_mib_s=cap, nic_gbit_s=nic)
    V = memory_mib * MB_PER_MIB
    R = min(cap * MB_PER_MIB, nic * 125.0)
    n, total, downtime = precopy_closed_form(V, R, dirty, 0.3, 30)
    assert m["rounds"] == n
    assert m["total_s"] == pytest.approx(total, rel=0.01)
    assert m["downtime_s"] == pytest.approx(downtime, rel=0.01, abs=1e-9)
    assert m["converged"] == (downtime <= 0.3 + 1e-9)


def test_guest_lands_on_target_and_keeps_running():
    res, m = run_live(2048, 50)
    inst = res.instances.iloc[0]
    assert inst["host"] == "b" and inst["state"] == "running"
    assert m["mb_moved"] > 2048 * MB_PER_MIB


def test_competing_traffic_stretches_precopy():
    """A second stream on the same NICs halves the bandwidth: more rounds, longer."""
    alone = run_live(2048, 50, cap_mib_s=2000, nic_gbit_s=1)[1]
    sc = scenario(
        [workload(name="w", memory_mib=2048, image="vm", clone="linked", dirty_mb_s=50),
         workload(name="x", memory_mib=2048, image="vm", clone="linked", dirty_mb_s=0)],
        hosts=[host(name="a", network_gbit_s=1, cached_images=["vm"]),
               host(name="b", network_gbit_s=1, cached_images=["vm"])],
        migrations=[{"workload": "w", "at_s": 60, "to": "b", "limits": {"bandwidth_mib_s": 2000}},
                    {"workload": "x", "at_s": 60, "to": "b", "limits": {"bandwidth_mib_s": 2000}}],
    )
    both = vsim.simulate(sc).migrations.set_index("workload").loc["w"]
    assert both["total_s"] > 1.5 * alone["total_s"]
    assert both["rounds"] > alone["rounds"]


def test_auto_converge_throttles_a_non_converging_guest():
    plain = run_live(2048, 200)[1]
    auto = run_live(2048, 200, auto_converge=True)[1]
    assert not plain["converged"] and auto["converged"]
    assert auto["throttle_max"] >= 0.2
    assert auto["downtime_s"] < plain["downtime_s"] / 10


def test_dirty_rate_sweep_downtime_grows_tenfold():
    res = vsim.simulate(vsim.load_scenario(ROOT / "scenarios" / "live-migration.yaml"))
    m = res.migrations
    sc = res.meta["scenario_data"]
    rate = {w["name"]: w.get("dirty_mb_s", 0.0) for w in sc["workloads"]}
    plain = m[~m["workload"].str.contains("autoconverge")].copy()
    plain["dirty"] = plain["workload"].map(rate)
    plain = plain.sort_values("dirty")
    assert len(plain) >= 4 and (plain["outcome"] == "done").all()
    assert plain["downtime_s"].iloc[-1] > 10 * plain["downtime_s"].iloc[0]
    assert plain["rounds"].is_monotonic_increasing
    # Converged migrations keep within the limit; the others exceed it.
    assert (plain.loc[plain["converged"], "downtime_s"] <= 0.3 + 1e-9).all()
    assert (plain.loc[~plain["converged"], "downtime_s"] > 0.3).all()


# -- cold migration ----------------------------------------------------------

VMDK = {"name": "kvm-vmdk", "base": "kvm", "family": "esxi-like", "image_format": "vmdk",
        "title": "KVM's timings with vmdk disks (isolates the conversion)"}


def run_cold(target_platform):
    sc = scenario(
        [workload(memory_mib=2048, image="vm", clone="full")],
        hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]),
               host(name="b", platforms=[target_platform])],
        profiles=[VMDK],
        migrations=[{"workload": "w", "at_s": 60, "to": "b", "mode": "cold", "platform": target_platform}],
    )
    res = vsim.simulate(sc)
    return res, res.migrations.iloc[0]


def test_cross_family_costs_exactly_the_conversion_time():
    res_same, same = run_cold("kvm")
    res_cross, cross = run_cold("kvm-vmdk")
    assert same["outcome"] == cross["outcome"] == "done"
    assert same["conversion_s"] == 0.0
    mb = cross["mb_moved"]
    assert mb == same["mb_moved"] > 2256
    # qemu-img convert: CPU and disk work overlap; uncontended on a 1.0-speed core.
    h = host()
    expected = max(CONVERT_CPU_S_PER_MB * mb, mb / h["disk"]["read_mb_s"] + mb / h["disk"]["write_mb_s"])
    assert cross["conversion_s"] == pytest.approx(expected, rel=1e-9)
    assert cross["total_s"] - same["total_s"] == pytest.approx(expected, rel=1e-9)
    phases = res_cross.phases.set_index("phase")
    assert phases.loc["convert", "duration_s"] == pytest.approx(expected, rel=1e-9)
    assert "convert" not in set(res_same.phases["phase"])
    assert res_cross.instances["platform"][0] == "kvm-vmdk"


def test_cold_migration_keeps_remaining_lifetime():
    sc = scenario(
        [workload(memory_mib=2048, image="vm", clone="full", lifetime={"type": "fixed", "duration_s": 100})],
        hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]), host(name="b", platforms=["kvm"])],
        migrations=[{"workload": "w", "at_s": 60, "to": "b", "mode": "cold"}],
    )
    res = vsim.simulate(sc)
    inst, m = res.instances.iloc[0], res.migrations.iloc[0]
    stop_s = res.phases.set_index("phase").loc["shutdown"]
    # Ran 100 s in total: before the migration and after it, on b.
    last_stop = stop_s["start_s"].max() if hasattr(stop_s["start_s"], "max") else stop_s["start_s"]
    assert last_stop - m["end_s"] == pytest.approx(100 - (60 - inst["ready_s"]), rel=1e-9)
    assert inst["host"] == "b" and inst["state"] == "stopped"


def test_container_migration_pulls_image_and_loses_writable_layer():
    sc = scenario(
        [workload(platform="docker", image="app", memory_mib=256, writes={"mb_s": 2.0, "to": "writable-layer"})],
        hosts=[host(name="a", platforms=["docker"]), host(name="b", platforms=["docker"])],
        migrations=[{"workload": "w", "at_s": 30, "to": "b", "mode": "cold"}],
        duration_s=120,
    )
    res = vsim.simulate(sc)
    inst, m = res.instances.iloc[0], res.migrations.iloc[0]
    assert m["outcome"] == "done" and inst["host"] == "b" and inst["state"] == "running"
    assert m["data_lost_mb"] == pytest.approx(2.0 * (30 - inst["ready_s"]), rel=1e-9)
    assert inst["pulled_mb"] == pytest.approx(2 * (30 + 90 + 5))  # pulled on a, then again on b
    assert (res.phases["phase"] == "pull+extract").sum() == 2


def test_container_volume_is_kept():
    sc = scenario(
        [workload(platform="docker", image="app", memory_mib=256, disk_gib=1,
                  writes={"mb_s": 2.0, "to": "volume"})],
        hosts=[host(name="a", platforms=["docker"]), host(name="b", platforms=["docker"])],
        migrations=[{"workload": "w", "at_s": 30, "to": "b", "mode": "cold"}],
        duration_s=120,
    )
    m = vsim.simulate(sc).migrations.iloc[0]
    assert m["data_lost_mb"] == 0.0 and m["mb_moved"] == pytest.approx(1024 * MB_PER_MIB)


def test_refused_when_target_has_no_room():
    sc = scenario(
        [workload(memory_mib=2048, image="vm", clone="linked")],
        hosts=[host(name="a", cached_images=["vm"]), host(name="b", memory_gib=1)],
        migrations=[{"workload": "w", "at_s": 60, "to": "b"}],
    )
    res = vsim.simulate(sc)
    m = res.migrations.iloc[0]
    assert m["outcome"].startswith("refused: memory")
    assert res.instances["host"][0] == "a" and res.instances["state"][0] == "running"


@pytest.mark.parametrize("mig,needle", [
    ({"workload": "nope", "at_s": 1, "to": "b"}, "migrations[0].workload"),
    ({"workload": "w", "at_s": 1, "to": "zz"}, "migrations[0].to"),
    ({"workload": "w", "guest": 5, "at_s": 1, "to": "b"}, "migrations[0].guest"),
    ({"workload": "w", "at_s": 1, "to": "b", "limits": {"downtime_ms": 0}}, "migrations[0].limits.downtime_ms"),
    ({"workload": "w", "at_s": 1, "to": "b", "platform": "docker"}, "migrations[0].platform"),
])
def test_bad_migrations_name_the_field(mig, needle):
    with pytest.raises(ScenarioError) as exc:
        scenario([workload()], hosts=[host(name="a"), host(name="b")], migrations=[mig])
    assert needle in str(exc.value)


def test_live_migration_of_a_container_is_refused_with_the_fix():
    with pytest.raises(ScenarioError) as exc:
        scenario([workload(platform="docker", image="app")], hosts=[host(name="a"), host(name="b")],
                 migrations=[{"workload": "w", "at_s": 1, "to": "b"}])
    assert "migrations[0].mode" in str(exc.value) and "mode: cold" in str(exc.value)


# -- behaviours a plausible bug would break (mutation-checked) ---------------------------

def test_precopy_convergence_is_judged_on_the_rate_achieved_not_the_cap():
    # 1 Gbit/s NIC (125 MB/s) under a 1,000 MiB/s cap: the remainder must fit
    # 0.3 s at 125 MB/s (37.5 MB), not at the cap (314 MB). 1 GiB dirtied at
    # 30 MB/s: rounds send 1073.7, 257.7, 61.8, 14.8 MB: three rounds, not two.
    _, m = run_live(1024, 30, cap_mib_s=1000, nic_gbit_s=1)
    n, total, downtime = precopy_closed_form(1024 * MB_PER_MIB, 125.0, 30, 0.3, 30)
    assert n == 3 and m["rounds"] == n
    assert m["downtime_s"] == pytest.approx(downtime, rel=1e-6)


def _auto_converge_reference(V, R, D, downtime_s, max_rounds):
    """QEMU's auto-converge from its documentation: after a round, if the guest
    dirtied more than half of what the round sent, count it; at the second such
    round the vCPUs are throttled (20% first, then 10% more each time, at most
    99%) and the count starts again. Returns (rounds, throttle_max)."""
    to_send, rounds, throttle, tmax, high = V, 0, 0.0, 0.0, 0
    while True:
        dt = to_send / R
        rounds += 1
        dirtied = min(V, D * (1 - throttle) * dt)
        if dirtied <= R * downtime_s or rounds >= max_rounds:
            return rounds, tmax
        if dirtied > 0.5 * to_send:
            high += 1
            if high >= 2:
                high = 0
                throttle = 0.2 if throttle == 0 else min(0.99, throttle + 0.1)
                tmax = max(tmax, throttle)
        to_send = dirtied


@pytest.mark.parametrize("dirty", [150, 200, 400])
def test_auto_converge_steps_the_throttle_as_qemu_documents(dirty):
    _, m = run_live(2048, dirty, auto_converge=True)
    rounds, tmax = _auto_converge_reference(2048 * MB_PER_MIB, 128 * MB_PER_MIB, dirty, 0.3, 30)
    assert m["rounds"] == rounds and m["throttle_max"] == pytest.approx(tmax)


def test_traffic_on_the_target_host_alone_slows_the_stream():
    # A second migration *into* b from a third host c shares b's NIC only.
    def run(with_traffic):
        migs = [{"workload": "w", "at_s": 60, "to": "b", "limits": {"bandwidth_mib_s": 2000}}]
        wl = [workload(name="w", memory_mib=2048, image="vm", clone="linked", dirty_mb_s=0)]
        if with_traffic:
            wl.append(workload(name="x", memory_mib=2048, image="vm", clone="linked", dirty_mb_s=0, at_s=1))
            migs.append({"workload": "x", "at_s": 60, "to": "b", "limits": {"bandwidth_mib_s": 2000}})
        hosts = [host(name="a", network_gbit_s=1, cached_images=["vm"], max_guests=1),
                 host(name="c", network_gbit_s=1, cached_images=["vm"], max_guests=1),
                 host(name="b", network_gbit_s=1, cached_images=["vm"])]
        res = vsim.simulate(scenario(wl, hosts=hosts, migrations=migs))
        m = res.migrations.set_index("workload")
        assert (res.instances.set_index("workload").loc["w", "host"]) == "b"
        return m.loc["w", "total_s"]
    alone, shared = run(False), run(True)
    assert alone == pytest.approx(2048 * MB_PER_MIB / 125.0, rel=1e-6)   # the 1 Gbit/s NIC alone
    assert shared == pytest.approx(2 * alone, rel=1e-3)                   # b's NIC shared by two streams


def test_a_cold_migrated_linked_clone_takes_its_backing_image():
    sc = scenario(
        [workload(memory_mib=2048, image="vm", clone="linked")],
        hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]), host(name="b", platforms=["kvm"])],
        migrations=[{"workload": "w", "at_s": 60, "to": "b", "mode": "cold"}],
    )
    m = vsim.simulate(sc).migrations.iloc[0]
    kvm = vsim.load_profile("kvm")
    own = kvm.linked_clone_overlay_mb.value + kvm.guest_disk_overhead_mb.value  # the overlay and libvirt's files
    assert m["outcome"] == "done" and m["mb_moved"] == pytest.approx(2256 + own)  # flattened: base image and all


def test_a_last_remainder_under_one_megabyte_is_still_sent_with_the_guest_paused():
    # 2048 MiB at 128 MiB/s: one 16 s round dirties 0.01 MB/s x 16 s = 0.16 MB,
    # far below R x 300 ms, so the guest pauses for 0.16 MB / R, not for nothing.
    _, m = run_live(2048, 0.01)
    R = 128 * MB_PER_MIB
    assert m["rounds"] == 1
    assert m["downtime_s"] == pytest.approx(0.01 * (2048 * MB_PER_MIB / R) / R, rel=1e-6)
    assert m["downtime_s"] > 0


@pytest.mark.parametrize("mode,outcome,lands_on", [
    ("live", "done", "b"),                                    # only its 2 MB overlay moves: the base image is shared
    ("cold", "refused: disk: b has 1074 free, needs 2258", "a"),  # flattened: 2256 MB base + overlay
])
def test_the_target_reserves_the_disk_the_mode_moves(mode, outcome, lands_on):
    sc = scenario(
        [workload(memory_mib=2048, image="vm", clone="linked")],
        hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]),
               host(name="b", platforms=["kvm"], disk={"capacity_gib": 1, "read_mb_s": 800, "write_mb_s": 750})],
        migrations=[{"workload": "w", "at_s": 60, "to": "b", "mode": mode}],
    )
    res = vsim.simulate(sc)
    assert res.migrations["outcome"][0] == outcome
    assert res.instances["host"][0] == lands_on


def test_a_migrated_container_keeps_its_own_disk_and_the_target_caches_the_layers():
    sc = scenario(
        [workload(platform="docker", image="app", memory_mib=256)],
        hosts=[host(name="a", platforms=["docker"]), host(name="b", platforms=["docker"])],
        migrations=[{"workload": "w", "at_s": 30, "to": "b", "mode": "cold"}],
        duration_s=120,
    )
    res = vsim.simulate(sc)
    inst = res.instances.iloc[0]
    hosts = res.hosts.set_index("host")
    assert res.migrations["outcome"][0] == "done" and inst["host"] == "b"
    assert inst["disk_mb"] == vsim.load_profile("docker").guest_disk_overhead_mb.value  # its writable layer, as before
    assert hosts.loc["b", "cache_mb"] == hosts.loc["a", "cache_mb"] == 80 + 250 + 25    # the image, unpacked, once
