"""Idle guests cost CPU: each running guest keeps its profile's
``idle_cpu_cores`` busy (timer ticks, housekeeping), taken from the cores left
for starts, stops and services. Exact timelines, both ways (solo runs on/off).
"""

import pytest
from helpers import host, scenario, workload

import vsim

SRC = {"assumption": "test"}


def engine(idle=0.25):
    return {"name": "eng", "base": "docker", "control_plane": [],
            "host_cpu_cores": {"value": 0.0, **SRC}, "idle_cpu_cores": {"value": idle, **SRC},
            "start_phases": [{"name": "create", "cpu_s": 1.0, **SRC}],
            "stop_phases": [{"name": "destroy", "latency_s": 0.1, **SRC}]}


def run(times, idle=0.25, solo=True, life=100.0):
    wls = [workload(name=f"c{k}", platform="eng", image=None, memory_mib=64, vcpus=0.1,
                    arrivals={"type": "times", "times_s": [t]}, lifetime={"type": "fixed", "duration_s": life})
           for k, t in enumerate(times)]
    sc = scenario(wls, hosts=[host(cores=2, platforms=["eng"])], images=[], profiles=[engine(idle)])
    return vsim.simulate(sc, solo_runs=solo)


@pytest.mark.parametrize("solo", [True, False])
def test_a_running_idle_guest_slows_the_boots_that_share_its_host(solo):
    # a is ready at 1.0 and then keeps 0.25 of the 2 cores busy; b and c start together
    # at 10 s on the 1.75 cores left: 0.875 each, ready at 10 + 1 / 0.875.
    res = run([0.0, 10.0, 10.0], solo=solo)
    s = res.instances.sort_values("id")["startup_s"].tolist()
    assert s == pytest.approx([1.0, 1 / 0.875, 1 / 0.875], rel=1e-12)
    # a runs 100 s, b and c 100 s each (they stop at the end of their lifetimes): 0.25 x 300
    assert res.hosts.iloc[0]["idle_cpu_core_s"] == pytest.approx(0.25 * 300)


@pytest.mark.parametrize("solo", [True, False])
def test_without_idle_cost_the_two_boots_get_a_core_each(solo):
    res = run([0.0, 10.0, 10.0], idle=0.0, solo=solo)
    assert res.instances.sort_values("id")["startup_s"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert res.hosts.iloc[0]["idle_cpu_core_s"] == 0.0


def test_a_stopped_guest_gives_its_idle_cpu_back():
    # a lives 5 s (gone at 6.0, as its stop begins): b and c at 10 s get a core each.
    res = run([0.0, 10.0, 10.0], life=5.0)
    assert res.instances.sort_values("id")["startup_s"].tolist()[1:] == pytest.approx([1.0, 1.0])


def test_a_boot_in_progress_slows_down_when_a_guest_becomes_ready():
    # b starts at 0.5 while a boots (a core each). a is ready at 1.0 and then keeps 1.25
    # of the 2 cores busy: 0.75 are left, so b's last 0.5 core-s take 0.5 / 0.75 s.
    res = run([0.0, 0.5], idle=1.25)
    s = res.instances.sort_values("id")["startup_s"].tolist()
    assert s == pytest.approx([1.0, 0.5 + 0.5 / 0.75])


def test_the_published_idle_costs():
    # Manco et al. 2017: 1,000 idle Debian VMs kept 25% of a 64-core host busy, 1,000
    # Docker containers 0.2%: per guest, 0.016 and 0.000128 cores.
    assert vsim.load_profile("xen").idle_cpu_cores.value * 1000 == pytest.approx(0.25 * 64)
    assert vsim.load_profile("docker").idle_cpu_cores.value * 1000 == pytest.approx(0.002 * 64)


@pytest.mark.parametrize("solo", [True, False])
def test_a_boot_in_progress_speeds_up_when_an_idle_guest_goes(solo):
    # a keeps 1.25 of 2 cores busy from 1.0 until it goes at 2.0 (lifetime 1 s). b starts
    # at 1.5 on the 0.75 cores left (0.375 core-s by 2.0), then gets a whole core for its
    # last 0.625: ready at 2.625.
    res = run([0.0, 1.5], idle=1.25, life=1.0, solo=solo)
    assert res.instances.sort_values("id")["startup_s"].tolist() == pytest.approx([1.0, 1.125])
