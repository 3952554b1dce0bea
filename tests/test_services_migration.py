"""A live-migrated guest takes its service, stress threads and writes with it.

Exact timelines: fixed arrivals (one request a second) and fixed CPU demand, so
every request needs exactly ``cpu_s / e`` seconds of one core when nothing
competes (``e``: the share of the vCPU's time the platform's exits leave). The guest has 256 MiB, dirties
nothing and is migrated over a 128 MiB/s stream on idle 10 Gbit/s NICs, so
pre-copy is one round of 256 / 128 = 2 s with no downtime: it switches hosts at
exactly ``at_s + 2``. Host ``b`` runs no docker, so the CPU hog (a container)
can only land on ``a``.
"""

import pytest

import vsim
from tests.helpers import host, scenario, workload

MIGRATE_AT_S = 60.0
SWITCH_S = MIGRATE_AT_S + 256 / 128  # one pre-copy round of 256 MiB at 128 MiB/s, nothing dirtied
HOG_AT_S = 80.0
CPU_S = 0.2
TOL = 1e-9


def _scenario(migrate=True, service=True, stress=None, writes=None):
    kw = {}
    if service:
        kw["service"] = {"arrivals": {"type": "fixed", "rate_per_s": 1.0}, "workers": 1,
                         "cpu_s": CPU_S, "cpu_distribution": "fixed"}
    if stress:
        kw["stress"] = stress
    if writes:
        kw["writes"] = writes
    extra = {}
    if migrate:
        extra["migrations"] = [{"workload": "svc", "at_s": MIGRATE_AT_S, "to": "b",
                                "limits": {"bandwidth_mib_s": 128}}]
    return scenario(
        [workload(name="svc", platform="kvm", memory_mib=256, vcpus=1, image="vm", clone="linked",
                  dirty_mb_s=0, **kw),
         # a hog given 16 times the default CPU weight (docker run --cpu-shares 16384): by default
         # each container and VM has its own cgroup of weight 100 and the VM would keep its core
         workload(name="hog", platform="docker", at_s=HOG_AT_S, image="app", stress={"cpu_threads": 16},
                  limits={"cpu_weight": 1600})],
        hosts=[host(name="a", cores=2, platforms=["kvm", "docker"], cached_images=["vm", "app"]),
               host(name="b", cores=2, platforms=["kvm"], cached_images=["vm"])],
        duration_s=120.0, **extra)


def _util(res, name, lo, hi, col="cpu_util"):
    """Utilisation of host ``name`` over the whole sampling intervals ending in [lo, hi]."""
    u = res.tables["utilisation"]
    sel = u[(u["host"] == name) & (u["time_s"] >= lo) & (u["time_s"] <= hi)]
    assert len(sel) >= 3, "not enough sampling intervals in the window"
    return sel[col].to_numpy()


@pytest.fixture(scope="module")
def runs():
    sc = _scenario()
    return sc, vsim.simulate(sc), vsim.simulate(_scenario(migrate=False))


def test_switch_happens_at_the_closed_form_time(runs):
    _, res, _ = runs
    m = res.migrations.iloc[0]
    assert m["outcome"] == "done" and m["rounds"] == 1
    assert m["end_s"] == pytest.approx(SWITCH_S, abs=TOL)
    inst = res.instances.set_index("workload")
    assert inst.loc["svc", "host"] == "b" and inst.loc["hog", "host"] == "a"


def test_requests_after_the_switch_run_on_the_new_host(runs):
    sc, res, _ = runs
    e = 1.0 - sc.profile("kvm").overhead.exit_cpu_share.value
    ready = res.instances.set_index("workload").loc["svc", "ready_s"]
    q = res.requests
    assert len(q) > 100
    # Fixed arrivals: one a second after the guest is ready, never drifting.
    k = (q["arrival_s"] - ready).round().astype(int)
    assert (k >= 1).all() and ((q["arrival_s"] - ready - k).abs() < TOL).all()
    before, after = q[q["start_s"] < SWITCH_S], q[q["start_s"] >= SWITCH_S]
    assert len(before) > 40 and len(after) > 40
    assert set(before["host"]) == {"a"} and set(after["host"]) == {"b"}
    # Alone on either host, every request takes exactly its CPU demand at full speed.
    assert ((q["response_s"] - CPU_S / e).abs() < TOL).all()
    assert (q["wait_s"].abs() < TOL).all()


def test_old_host_idle_and_new_host_busy_after_the_switch(runs):
    _, res, _ = runs
    # Before the migration (the first request arrives about 1 s after ready):
    # a does the work, b is idle.
    ready = res.instances.set_index("workload").loc["svc", "ready_s"]
    lo = float(int(ready)) + 3
    a_before = _util(res, "a", lo, MIGRATE_AT_S)
    assert (_util(res, "b", lo, MIGRATE_AT_S) == 0).all()
    assert (a_before > 0).all()
    # After the switch, until the hog starts: a is idle, b does the same work (from the
    # second whole interval: the first may hold the end of a request begun before the switch).
    hi = HOG_AT_S
    assert (abs(_util(res, "a", SWITCH_S + 2, hi)) < TOL).all()
    b_after = _util(res, "b", SWITCH_S + 2, hi)
    assert (b_after > 0).all()
    # One request of the same size per 1 s interval: the same busy fraction in each.
    assert b_after.max() - b_after.min() < 1e-9
    assert a_before.max() - a_before.min() < 1e-9


def test_hog_on_old_host_no_longer_slows_the_service(runs):
    sc, res, stay = runs
    e = 1.0 - sc.profile("kvm").overhead.exit_cpu_share.value
    hog_ready = res.instances.set_index("workload").loc["hog", "ready_s"]
    # The hog really saturates a's CPU.
    assert (abs(_util(res, "a", hog_ready + 1, 119) - 1.0) < TOL).all()
    q = res.requests
    late = q[q["arrival_s"] > hog_ready]
    assert len(late) > 20 and set(late["host"]) == {"b"}
    assert ((late["response_s"] - CPU_S / e).abs() < TOL).all()
    # Control: without the migration the same hog slows the same service a lot
    # (weight 1600 against the VM's 100 on 2 cores).
    s = stay.requests
    late_stay = s[s["arrival_s"] > hog_ready]
    assert set(late_stay["host"]) == {"a"}
    assert late_stay["cpu_s"].min() > 5 * CPU_S / e


def test_stress_and_writes_follow_the_guest():
    res = vsim.simulate(_scenario(service=False, stress={"cpu_threads": 1}, writes={"mb_s": 10}))
    assert res.migrations.iloc[0]["outcome"] == "done"
    ready = res.instances.set_index("workload").loc["svc", "ready_s"]
    lo = float(int(ready)) + 3
    for col in ("cpu_util", "disk_util"):
        assert (_util(res, "a", lo, MIGRATE_AT_S, col) > 0).all(), col
        assert (abs(_util(res, "b", lo, MIGRATE_AT_S, col)) < TOL).all(), col
        # The stress chunk and write flush in flight at the switch finish on a
        # within the next interval; from then on, a is idle and b busy.
        assert (abs(_util(res, "a", SWITCH_S + 2, HOG_AT_S, col)) < TOL).all(), col
        assert (_util(res, "b", SWITCH_S + 2, HOG_AT_S, col) > 0).all(), col


def test_fixed_arrivals_validate_and_reject_a_zero_rate():
    from vsim.spec.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"service\.arrivals\.rate_per_s"):
        scenario([workload(service={"arrivals": {"type": "fixed", "rate_per_s": 0}, "cpu_s": 0.1})])


def test_after_a_cold_move_a_container_loses_only_what_it_wrote_since_it_restarted():
    # A container writing 0.5 MB/s to its writable layer is cold-migrated at
    # t = 100 s (what it wrote before is lost then), then its new host fails at
    # t = 400 s: the failure loses what it wrote since it ran again on the new
    # host, not since it first became ready.
    ct = {"name": "app", "kind": "container", "layers": [{"id": "base", "size_mb": 30, "unpacked_mb": 80}]}
    sc = scenario(
        [workload(name="web", platform="docker", image="app", memory_mib=256, vcpus=0.5,
                  writes={"mb_s": 0.5, "to": "writable-layer"})],
        hosts=[host(name="a", platforms=["docker"]), host(name="b", platforms=["docker"])],
        images=[ct], migrations=[{"workload": "web", "at_s": 100, "to": "b", "mode": "cold"}],
        failures=[{"host": "b", "at_s": 400, "repair_s": 10}], duration_s=500)
    res = vsim.simulate(sc)
    mig = res.migrations.iloc[0]
    assert mig["outcome"] == "done"
    back = mig["end_s"]  # running again on b
    ready = res.instances.iloc[0]["ready_s"]
    assert mig["data_lost_mb"] == pytest.approx(0.5 * (100 - ready))
    lost = res.recoveries.iloc[0]["data_lost_mb"]
    assert lost == pytest.approx(0.5 * (400 - back))
    assert lost < 0.5 * (400 - ready) - 1  # not counted from its first start
