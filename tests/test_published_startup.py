"""Published start-up measurements reproduced by the scenario files that show them.

Each case says which number calibrates the model and which one it predicts
(measurements.md section 8, carried with the project's sources).
"""

import pytest
from conftest import SCENARIOS

import vsim


def test_netns_lock_calibrated_alone_predicts_a_hundred_at_once():
    # Mohan et al. HotCloud 2019: 0.28 s alone (the calibration); 14.41 s each,
    # on average, with 100 created at once (the prediction). One FIFO worker
    # gives 0.28 x 101 / 2 = 14.14 s: 1.9% below. Tolerance 5%: the paper gives
    # one mean without its spread, and the lock's hold time itself varies.
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "netns-lock.yaml"))
    by = res.instances.groupby("workload")["startup_s"]
    assert by.mean()["alone"] == pytest.approx(0.28, rel=1e-9)
    assert by.mean()["hundred-at-once"] == pytest.approx(14.41, rel=0.05)
    assert by.mean()["hundred-at-once"] == pytest.approx(0.28 * 101 / 2, rel=1e-9)  # the queue, exactly
    q = res.phases[res.phases["phase"] == "queue:netns"]
    assert len(q) == 99  # every one but the first waited for the lock


def test_xen_toolstack_slows_linearly_with_the_domains_already_running():
    # Manco et al. SOSP 2017: ~0.1 s for the 1st of 1,000 sequential boots and
    # ~1 s by the 1,000th; both numbers calibrate the profile (0.1 s creation,
    # 0.9 ms per running domain), so the check here is the mechanism: the k-th
    # boot costs 0.1 + 0.0009 (k - 1) s, because k - 1 domains run when it starts.
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "xen-toolstack.yaml"))
    s = res.instances.sort_values("id")["startup_s"].to_numpy()
    assert len(s) == 1000
    assert s[0] == pytest.approx(0.1, rel=0.05) and s[-1] == pytest.approx(1.0, rel=0.05)
    k = range(1000)
    assert s == pytest.approx([0.1 + 0.0009 * i for i in k], abs=1e-9)


@pytest.fixture(scope="module")
def docker_parallel():
    return vsim.simulate(vsim.load_scenario(SCENARIOS / "docker-parallel.yaml"))


def test_docker_on_a_host_with_1000_running_containers(docker_parallel):
    # Cadden et al. 2020 Table 3: 541 ms idle, 1.5 s with more than 1,000
    # containers present: 0.96 s more, which calibrates dockerd's cost per
    # running container (0.96 ms). The check: that growth, on top of the
    # idle-host start (Plauth et al.: 0.234 s), within 5%.
    inst = docker_parallel.instances.set_index("workload")
    idle = vsim.load_profile("docker").idle_startup_s
    assert inst.loc["one-more", "startup_s"] - idle == pytest.approx(1.5 - 0.541, rel=0.05)


def test_docker_creations_per_second_started_together(docker_parallel):
    # Cadden et al. 2020: about 5.3 container creations/s sustained. The model's
    # rate is the inverse of dockerd's serial part (the rootfs, namespaces,
    # cgroups and network phases, calibrated on Plauth et al.'s idle-host
    # breakdown: 0.153 s): 16 started together are ready within 16 x 0.16 s.
    # Predicted ~6.0/s: 14% high. Tolerance 20%: the two papers measured
    # different machines and Docker versions, and the phase split is an assumption.
    s = docker_parallel.instances.query("workload == 'sixteen'")["startup_s"]
    assert 16 / s.max() == pytest.approx(5.3, rel=0.20)
    assert s.quantile(0.5) < s.quantile(0.95) < s.max() + 1e-12  # they come out one after another


@pytest.mark.xfail(strict=True, reason=(
    "not reproduced: Cadden et al. 2020 report 8.5 s mean for 16 containers started in parallel, "
    "which needs ~1 s of serial work per container, while their 5.3 creations/s needs ~0.19 s; one "
    "FIFO daemon calibrated on the idle-host phases gives a 1.4 s mean. What else their parallel "
    "starts waited for (the function runtime starting in each container?) is not in the model."))
def test_docker_sixteen_in_parallel_mean(docker_parallel):
    s = docker_parallel.instances.query("workload == 'sixteen'")["startup_s"]
    assert s.mean() == pytest.approx(8.5, rel=0.25)
