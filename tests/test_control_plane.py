"""Control planes: phases that pass through a FIFO server with workers.

A profile's ``control_plane`` lists its servers (a daemon, a kernel lock, a
toolstack); a phase naming one waits for a worker, first come first served,
and holds it to the phase's end (through consecutive phases naming the same
server). These are exact timelines: one guest alone is not slowed, n at once
come out one after another, a failed guest gives its place back, and a cost
per running guest grows with the guests already running.
"""

import math

import pytest
from helpers import host, scenario, workload

import vsim
from vsim.spec.errors import ScenarioError

SRC = {"assumption": "test"}


def engine(workers=1, per_running=None, phases=None, stop=None):
    """A container engine whose 'create' phase (1 s, no CPU) goes through a daemon."""
    server = {"name": "daemon", "workers": {"value": workers, **SRC}}
    if per_running is not None:
        server["per_running_s"] = {"value": per_running, **SRC}
    return {
        "name": "eng", "base": "docker", "control_plane": [server],
        "start_phases": phases or [{"name": "create", "latency_s": 1.0, "server": "daemon", **SRC},
                                   {"name": "run", "latency_s": 0.5, **SRC}],
        "stop_phases": stop or [{"name": "destroy", "latency_s": 0.1, **SRC}],
    }


def run(n, profile=None, at=0.0, **kw):
    sc = scenario([workload(name="c", platform="eng", count=n, at_s=at, memory_mib=64, vcpus=0.1)],
                  hosts=[host(platforms=["eng"])], images=[], profiles=[profile or engine()], **kw)
    return vsim.simulate(sc)


def test_one_guest_alone_is_not_slowed_by_its_daemon():
    res = run(1)
    assert res.instances["startup_s"].tolist() == [1.5]
    assert not res.phases["phase"].str.startswith("queue:").any()


def test_guests_started_together_come_out_of_a_one_worker_daemon_one_after_another():
    res = run(4)
    assert sorted(res.instances["startup_s"]) == [1.5, 2.5, 3.5, 4.5]
    q = res.phases[res.phases["phase"] == "queue:daemon"].sort_values("duration_s")
    assert q["duration_s"].tolist() == [1.0, 2.0, 3.0]  # the queue is named in the phases table
    t = res.summary_table().iloc[0]
    assert t["startup_p50_s"] < t["startup_p95_s"] < t["startup_max_s"] + 1e-12


def test_two_workers_serve_two_at_a_time():
    res = run(5, engine(workers=2))
    assert sorted(res.instances["startup_s"]) == [1.5, 1.5, 2.5, 2.5, 3.5]


def test_consecutive_phases_through_one_server_hold_it_throughout():
    # create (1 s) and configure (1 s) both go through the daemon: the second
    # guest waits for both, not just the first (FIFO for the whole creation).
    phases = [{"name": "create", "latency_s": 1.0, "server": "daemon", **SRC},
              {"name": "configure", "latency_s": 1.0, "server": "daemon", **SRC},
              {"name": "run", "latency_s": 0.5, **SRC}]
    res = run(2, engine(phases=phases))
    assert sorted(res.instances["startup_s"]) == [2.5, 4.5]


def test_a_cost_per_running_guest_grows_with_the_guests_already_running():
    # 0.25 s per guest running on the host, counted when the worker is taken:
    # three guests arriving one every 10 s find 0, 1, 2 guests running.
    sc = scenario([workload(name="c", platform="eng", count=3, memory_mib=64, vcpus=0.1,
                            arrivals={"type": "times", "times_s": [0.0, 10.0, 20.0]})],
                  hosts=[host(platforms=["eng"])], images=[], profiles=[engine(per_running=0.25)])
    res = vsim.simulate(sc)
    assert res.instances["startup_s"].tolist() == pytest.approx([1.5, 1.75, 2.0])
    cost = res.phases[res.phases["phase"] == "running-cost:daemon"]
    assert cost["id"].tolist() == [1, 2] and cost["duration_s"].tolist() == pytest.approx([0.25, 0.5])


def test_a_guest_that_fails_while_queued_gives_its_place_to_the_next():
    # Four guests queue at t = 0; the host fails at t = 1.5 (guest 0 is done
    # creating, guest 1 holds the daemon): everyone fails, and the daemon's
    # queue is empty afterwards (the failed ones withdrew).
    sc = scenario([workload(name="c", platform="eng", count=4, memory_mib=64, vcpus=0.1)],
                  hosts=[host(name="h", platforms=["eng"])], images=[], profiles=[engine()],
                  failures=[{"host": "h", "at_s": 1.25, "repair_s": 100}])
    from vsim.experiments.run import build_world

    world = build_world(sc)
    world.run()
    daemon = world.hosts[0].servers["daemon"]
    assert daemon.busy == 0 and daemon.queue_length == 0
    states = [g.state for g in world.guests]
    assert states == ["failed"] * 4


def test_servers_of_the_same_name_are_one_per_host_shared_by_platforms():
    other = {**engine(), "name": "eng2"}
    sc = scenario([workload(name="a", platform="eng", count=1, memory_mib=64, vcpus=0.1),
                   workload(name="b", platform="eng2", count=1, memory_mib=64, vcpus=0.1)],
                  hosts=[host(platforms=["eng", "eng2"])], images=[], profiles=[engine(), other])
    res = vsim.simulate(sc)
    assert sorted(res.instances["startup_s"]) == [1.5, 2.5]


def test_solo_runs_off_gives_the_same_timeline():
    sc = scenario([workload(name="c", platform="eng", count=6, memory_mib=64, vcpus=0.1)],
                  hosts=[host(platforms=["eng"])], images=[], profiles=[engine(workers=2)])
    a = vsim.simulate(sc).instances["startup_s"].tolist()
    b = vsim.simulate(sc, solo_runs=False).instances["startup_s"].tolist()
    assert a == pytest.approx(b, abs=1e-9)


@pytest.mark.parametrize("change, fragment", [
    ({"control_plane": [{"name": "d", "workers": {"value": 0, **SRC}}]}, "workers: must be a whole number"),
    ({"control_plane": [{"name": "d", "workers": {"value": 1.5, **SRC}}]}, "workers: must be a whole number"),
    ({"control_plane": [{"name": "d", "workers": {"value": math.inf, **SRC}}]}, "workers"),
    ({"start_phases": [{"name": "x", "latency_s": 1, "server": "nope", **SRC}]}, "names server 'nope'"),
])
def test_bad_control_plane_data_names_the_field(change, fragment):
    prof = {**engine(), **change}
    with pytest.raises(ScenarioError, match=fragment):
        scenario([workload(name="c", platform="eng")], hosts=[host(platforms=["eng"])], images=[],
                 profiles=[prof])


def test_guests_that_stopped_or_failed_no_longer_count_as_resident():
    # Guest 0 runs 0 to ~6.5 s and stops; guest 1 arrives at 10 s and finds
    # nobody running (1.5 s); guest 2 at 20 s finds guest 1 (1.75 s).
    sc = scenario([workload(name="a", platform="eng", count=1, memory_mib=64, vcpus=0.1,
                            lifetime={"type": "fixed", "duration_s": 5}),
                   workload(name="b", platform="eng", count=2, memory_mib=64, vcpus=0.1,
                            arrivals={"type": "times", "times_s": [10.0, 20.0]})],
                  hosts=[host(platforms=["eng"])], images=[], profiles=[engine(per_running=0.25)])
    res = vsim.simulate(sc)
    assert res.instances["startup_s"].tolist() == pytest.approx([1.5, 1.5, 1.75])


# -- image pulls: the registry link, the host's NIC, and the daemon's download slots -----------

def _pull(platform, layers, nic_gbit_s=10, registry_gbit_s=1, **kw):
    fast = {"capacity_gib": 100, "read_mb_s": 1e5, "write_mb_s": 1e5}  # the disk never binds here
    sc = scenario([workload(name="c", platform=platform, image="big", memory_mib=64, vcpus=0.1)],
                  hosts=[host(platforms=[platform], network_gbit_s=nic_gbit_s, disk=fast)],
                  images=[{"name": "big", "kind": "container", "layers": layers}],
                  registries=[{"name": "hub", "bandwidth_gbit_s": registry_gbit_s, "latency_s": 0}])
    ph = vsim.simulate(sc, **kw).phases
    return float(ph.loc[ph["phase"] == "pull+extract", "duration_s"].iloc[0])


FOUR = [{"id": f"l{k}", "size_mb": 100, "unpacked_mb": 100} for k in range(4)]


def test_docker_downloads_three_layers_at_once_and_unpacks_them_in_order():
    # 1 Gbit/s = 125 MB/s shared by 3 downloads: layers 0-2 arrive at 2.4 s,
    # layer 3 alone at 3.2 s; unpacking (0.01 CPU-s per MB, 1 s a layer) runs
    # in order from 2.4 s: done at 3.4, 4.4, 5.4 and 6.4 s.
    assert _pull("docker", FOUR) == pytest.approx(6.4)
    assert _pull("docker", FOUR, solo_runs=False) == pytest.approx(6.4)


def test_without_a_downloads_server_layers_come_one_after_another():
    # podman has no download slots in vsim's profile: download 0.8 s, unpack 1 s, four times.
    assert _pull("podman", FOUR) == pytest.approx(4 * (0.8 + 1.0))


def test_a_pull_crosses_the_hosts_network_interface_too():
    # A 10 Gbit/s registry, but a 1 Gbit/s host NIC: 1,250 MB take 10 s, not 1 s (+ 0.5 s unpacking).
    one = [{"id": "x", "size_mb": 1250, "unpacked_mb": 50}]
    assert _pull("docker", one, nic_gbit_s=1, registry_gbit_s=10) == pytest.approx(10.0 + 0.5)
    assert _pull("docker", one, nic_gbit_s=10, registry_gbit_s=1) == pytest.approx(10.0 + 0.5)
    assert _pull("docker", one, nic_gbit_s=10, registry_gbit_s=10) == pytest.approx(1.0 + 0.5)


def test_two_platforms_sharing_a_server_must_agree_on_its_workers():
    other = {**engine(workers=2), "name": "eng2"}
    with pytest.raises(ScenarioError, match=r"hosts\[0\]\.platforms: eng and eng2 .* 'daemon'.* 1 and 2 workers"):
        scenario([workload(name="a", platform="eng")], hosts=[host(platforms=["eng", "eng2"])], images=[],
                 profiles=[engine(), other])
