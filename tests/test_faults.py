"""Host failures and HA: timelines, invariants (Hypothesis) and the up-time fraction."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsim
from tests.helpers import host, scenario, workload
from vsim.experiments.run import build_world
from vsim.results import Results
from vsim.spec.errors import ScenarioError

HOSTS = [host(name=f"h{i}", cores=8, memory_gib=16, platforms=["kvm", "docker"], cached_images=["vm"])
         for i in range(3)]


def fleet(failures, ha=True, **kw):
    return scenario(
        [workload(name="vm", count=6, memory_mib=3072, image="vm", clone="linked"),
         workload(name="ct", platform="docker", image="app", count=3, memory_mib=256,
                  lifetime={"type": "fixed", "duration_s": 900})],
        hosts=HOSTS, placement="spread", failures=failures,
        ha={"restart": True, "retry_s": 20, "give_up_s": 300} if ha else None, **kw)


def test_failure_timeline_and_restart():
    sc = fleet([{"host": "h0", "at_s": 100, "repair_s": 50}])
    res = vsim.simulate(sc)
    f = res.failures.iloc[0]
    assert (f["host"], f["failed_s"], f["repaired_s"]) == ("h0", 100, 150)
    rec = res.recoveries
    inst = res.instances.set_index("id")
    victims = inst[inst["reason"].str.startswith("host failure: h0")]
    assert f["guests_failed"] == len(victims) == len(rec) > 0
    assert (inst.loc[victims.index, "stopped_s"] == 100).all()
    assert (rec["outcome"] == "restarted").all()
    for r in rec.itertuples():
        new = inst.loc[r.new_id]
        assert new["requested_s"] == 100 and new["host"] != "h0"
        # Uncontended restart of a cached image: the time to recover is the startup.
        assert r.recover_s == pytest.approx(new["startup_s"])
        assert r.run_lost_s == pytest.approx(100 - inst.loc[r.id, "ready_s"])
    states = res.host_states
    assert list(states.loc[states["host"] == "h0", "new"]) == ["failed", "on"]
    assert res.energy.set_index("host").loc["h0", "down_s"] == pytest.approx(50)


def test_without_ha_every_victim_is_lost_with_a_reason():
    res = vsim.simulate(fleet([{"host": "h1", "at_s": 100}], ha=False))
    rec = res.recoveries
    assert len(rec) > 0 and (rec["outcome"] == "lost").all()
    assert rec["reason"].str.contains("no HA policy").all()
    assert len(res.instances) == 9  # nothing was restarted


def test_no_room_means_lost_after_give_up():
    # Two of three hosts down for longer than HA waits: not all fit on one host.
    sc = fleet([{"host": "h0", "at_s": 100, "repair_s": 5000}, {"host": "h1", "at_s": 100, "repair_s": 5000}])
    res = vsim.simulate(sc)
    lost = res.recoveries[res.recoveries["outcome"] == "lost"]
    no_room = lost["reason"].str.startswith("no room on any host within 300 s")
    assert no_room.any()
    # The others were restarted on h1 just as it failed too: their replacements failed.
    assert lost.loc[~no_room, "reason"].str.contains("ended failed: host failure: h1").all()


def _check_invariants(world, res):
    inst = res.instances
    rec = res.recoveries if "recoveries" in res.tables else None
    victims = inst[inst["reason"].str.startswith("host failure")]
    if rec is None:
        assert victims.empty
        return
    # Every guest killed by a host failure has exactly one row; no row without a victim.
    assert sorted(rec["id"]) == sorted(victims["id"])
    assert set(rec["outcome"]) <= {"restarted", "lost", "restarting"}
    by_id = inst.set_index("id")
    for r in rec.itertuples():
        if r.outcome == "restarted":
            assert not math.isnan(by_id.loc[r.new_id, "ready_s"])
            assert r.recover_s >= 0
        else:
            assert r.reason
    # Replacements are the only guests beyond the scenario's own.
    assert len(inst) == world.scenario.guest_count() + int((rec["new_id"] >= 0).sum())
    assert set(inst["state"]) <= {"running", "stopped", "failed", "rejected", "stopping", "booting",
                                  "provisioning", "requested"}
    # No reservation leaks: what each host holds is exactly its live guests.
    live = {}
    for g in world.guests:
        if g.host is not None and g.state not in ("stopped", "failed", "rejected"):
            live[g.host.index] = live.get(g.host.index, 0) + 1
    for h in world.hosts:
        assert world.placer.count[h.index] == live.get(h.index, 0)
        assert h.guests_now == live.get(h.index, 0)


failure = st.tuples(st.integers(0, 2), st.floats(0, 1500), st.floats(0, 600))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(failure, min_size=1, max_size=4), st.booleans())
def test_no_guest_vanishes_under_random_failures(fails, ha):
    sc = fleet([{"host": f"h{i}", "at_s": at, "repair_s": rep} for i, at, rep in fails], ha=ha, duration_s=2000)
    world = build_world(sc)
    world.run()
    res = Results.from_world(world)
    _check_invariants(world, res)


def test_random_failures_are_reproducible_and_need_a_duration():
    sc = scenario([workload(count=4, image="vm", clone="linked", memory_mib=1024)],
                  hosts=[host(name="r", count=3, cached_images=["vm"], mtbf_s=2000, repair_s=300)],
                  ha={"restart": True}, duration_s=20000)
    a, b = vsim.simulate(sc, seed=5), vsim.simulate(sc, seed=5)
    assert a.failures.equals(b.failures) and a.recoveries.equals(b.recoveries)
    assert not a.failures.equals(vsim.simulate(sc, seed=6).failures)
    with pytest.raises(ScenarioError, match="duration_s: required"):
        scenario([workload()], hosts=[host(mtbf_s=100)])


def test_up_time_fraction_matches_alternating_renewal_theory():
    """Exp(MTBF) up, Exp(MTTR) down: the long-run down fraction is MTTR / (MTBF + MTTR).

    40 independent hosts over 200 MTBF each (mean of 8000 cycles): the
    standard error of the down fraction is about 1 %; tolerance 5 % relative.
    """
    mtbf, mttr = 1000.0, 250.0
    sc = scenario([], hosts=[host(name="r", count=40, mtbf_s=mtbf, repair_s=mttr)], duration_s=200 * mtbf,
                  images=[])
    for seed in (1, 2):
        e = vsim.simulate(sc, seed=seed).energy
        down = e["down_s"].sum() / (len(e) * 200 * mtbf)
        assert down == pytest.approx(mttr / (mtbf + mttr), rel=0.05)
    assert np.isfinite(e["energy_j"]).all()


@pytest.mark.parametrize("vm_disk, lost", [("local", True), ("shared", False)])
def test_a_vm_writing_to_its_local_disk_loses_it_with_the_host(vm_disk, lost):
    # A KVM VM writes 1 MB/s; its host fails at 100 s. On a local disk (cloned there at
    # placement) what it wrote since it was ready is gone with the host; on shared
    # storage it is not. HA restarts it on the other host either way.
    sc = scenario([workload(name="db", platform="kvm", image="vm", clone="linked", memory_mib=1024,
                            writes={"mb_s": 1.0}, vm_disk=vm_disk)],
                  hosts=[host(name="a", platforms=["kvm"], cached_images=["vm"]),
                         host(name="b", platforms=["kvm"], cached_images=["vm"])],
                  failures=[{"host": "a", "at_s": 100.0, "repair_s": 50.0}], ha={"restart": True},
                  duration_s=300.0)
    res = vsim.simulate(sc)
    first = res.instances.sort_values("id").iloc[0]
    written = 100.0 - first["ready_s"]
    rec = res.recoveries.iloc[0]
    st = res.storage.set_index("id").loc[first["id"]]
    assert rec["outcome"] == "restarted"
    if lost:
        assert rec["data_lost_mb"] == pytest.approx(written) and st["lost_mb"] == pytest.approx(written)
        assert "local disk" in st["cause"]
    else:
        assert rec["data_lost_mb"] == 0 and st["kept_mb"] == pytest.approx(written)


def test_a_container_on_a_failed_host_loses_its_writable_layer_even_without_rm():
    sc = scenario([workload(name="c", platform="docker", image="app", memory_mib=256, writes={"mb_s": 1.0})],
                  hosts=[host(name="a", platforms=["docker"])],
                  failures=[{"host": "a", "at_s": 50.0, "repair_s": 10.0}], duration_s=100.0)
    st = vsim.simulate(sc).storage.iloc[0]
    assert st["kept_mb"] == 0 and st["lost_mb"] > 0 and "failed host" in st["cause"]
