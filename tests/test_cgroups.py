"""cgroups, isolation and container semantics: exact timelines and recorded causes."""

import pytest
import simpy

import vsim
from tests.conftest import SCENARIOS
from vsim.engine.fairshare import FairShare
from vsim.mechanisms.cgroups import CpuGroup, MemoryWatch


def test_cfs_quota_throttles_exactly():
    # 0.5 cores = 50 ms per 100 ms period; 200 ms of CPU: run 50, wait 50, ... done at 350 ms.
    env = simpy.Environment()
    cpu = FairShare(env, 4.0, job_cap=1.0)
    log = []
    grp = CpuGroup(env, cpu, 1.0, quota_cores=0.5, period_s=0.1, on_throttle=lambda t, d: log.append((t, d)))

    def thread():
        yield from grp.run(0.2)
        done.append(env.now)

    done = []
    env.process(thread())
    env.run()
    assert [t for t, _ in log] == pytest.approx([0.05, 0.15, 0.25])
    assert [d for _, d in log] == pytest.approx([0.05, 0.05, 0.05])
    assert done == pytest.approx([0.35])
    assert grp.throttled_periods == 3 and grp.throttled_s == pytest.approx(0.15)


def test_vcpu_gate_limits_a_vm_to_its_vcpus():
    # 8 busy threads in a 2-vCPU VM on a 4-core host: 2 run at a time, 1 s each -> 4 s.
    env = simpy.Environment()
    cpu = FairShare(env, 4.0, job_cap=1.0)
    vm = CpuGroup(env, cpu, 1.0, threads=2)
    ends = []

    def thread():
        yield from vm.run(1.0)
        ends.append(env.now)

    for _ in range(8):
        env.process(thread())
    env.run()
    assert ends == pytest.approx([1, 1, 2, 2, 3, 3, 4, 4])


def test_memory_leak_is_killed_when_it_reaches_the_limit():
    env = simpy.Environment()
    kills = []
    MemoryWatch(env, 150.0, 100.0, 10.0, 0.0, on_oom=lambda u: kills.append((env.now, u)))
    env.run()
    assert len(kills) == 1 and kills[0] == pytest.approx((5.0, 150.0))


@pytest.fixture(scope="module")
def cg():
    return vsim.simulate(vsim.load_scenario(SCENARIOS / "cgroup-limits.yaml"))


def test_oom_kill_is_recorded_with_its_cause(cg):
    inst = cg.instances.set_index("workload")
    leaky = inst.loc["leaky"]
    assert leaky["state"] == "failed" and "memory.max 256 MiB" in leaky["reason"]
    ev = cg.cgroup_events
    oom = ev[ev["event"] == "oom-kill"]
    assert list(oom["workload"]) == ["leaky"]
    # 100 MiB + 10 MiB/s reaches 256 MiB 15.6 s after the container is ready.
    assert float(oom["time_s"].iloc[0]) == pytest.approx(leaky["ready_s"] + 15.6)
    assert leaky["stopped_s"] == pytest.approx(leaky["ready_s"] + 15.6)


def test_throttling_is_recorded_and_slows_requests(cg):
    ev = cg.cgroup_events
    thr = ev[(ev["event"] == "cpu-throttled") & (ev["workload"] == "throttled")]
    assert len(thr) > 10 and thr["cause"].str.contains("0.5 cores").all()
    q = cg.requests[cg.requests["workload"] == "throttled"]
    # 200 ms of CPU at 50 ms per 100 ms period: four 50 ms slices with at least
    # three throttled gaps between them -> 0.30 s (entering late in a period) to
    # 0.45 s (arriving when the period's budget is already spent); 0.2 s unthrottled.
    assert q["cpu_s"].between(0.30 - 1e-9, 0.45 + 1e-9).all()
    assert len(q) > 20


def test_pids_limit_refuses_forks(cg):
    ev = cg.cgroup_events
    p = ev[ev["event"] == "pids-limit"]
    assert list(p["workload"]) == ["forky"] and float(p["amount"].iloc[0]) == 9  # 1 + 16 > 8


def test_writable_layer_is_lost_volume_and_vm_disk_are_kept(cg):
    st = cg.storage.set_index("workload")
    assert st.loc["logger", "lost_mb"] == pytest.approx(15.0)  # 0.5 MB/s for 30 s, removed (--rm)
    assert "writable layer" in st.loc["logger", "cause"] and "--rm" in st.loc["logger", "cause"]
    # Docker's default: docker stop keeps the stopped container and its writable layer
    assert st.loc["logger-stopped", "lost_mb"] == 0 and st.loc["logger-stopped", "kept_mb"] == pytest.approx(15.0)
    assert "docker rm" in st.loc["logger-stopped", "cause"]
    assert st.loc["logger-volume", "lost_mb"] == 0 and st.loc["logger-volume", "kept_mb"] == pytest.approx(15.0)
    assert st.loc["vm-logger", "target"] == "vm-disk" and st.loc["vm-logger", "lost_mb"] == 0


def test_windows_container_on_linux_host_is_rejected(cg):
    w = cg.instances.set_index("workload").loc["windows-app"]
    assert w["state"] == "rejected"
    assert w["reason"].startswith("kernel: a windows container shares its host's kernel")


def test_windows_vm_on_linux_host_is_fine():
    sc = vsim.parse_scenario({
        "hosts": [{"platforms": ["kvm"]}],
        "images": [{"name": "win", "kind": "vm-disk", "size_mb": 6120, "os": "windows"}],
        "workloads": [{"name": "w", "platform": "kvm", "image": "win", "clone": "linked",
                       "arrivals": {"type": "batch", "count": 1}, "lifetime": {"type": "fixed", "duration_s": 1}}]})
    assert vsim.simulate(sc).instances["state"].tolist() == ["stopped"]


def test_noisy_neighbour_isolation():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "noisy-neighbour.yaml"))
    from vsim.experiments.load import service_summary

    s = service_summary(res.requests).set_index("workload")["cpu_mean_s"]
    quiet = s["victim-quiet"]
    # Docker's default: each container its own cgroup (cpu.weight 100): the 16 threads
    # share the CPU with the victim as one group, so it is fenced like behind a VM
    assert s["victim-container"] < 1.3 * quiet
    assert s["victim-container"] > quiet          # but not for free: bursts do meet the hog
    assert s["victim-capped"] < 1.3 * quiet       # quota of 2 cores on a 4-core host
    assert s["victim-vm"] < 1.3 * quiet           # the noisy VM only has 2 vCPUs
    d = service_summary(res.requests).set_index("workload")["disk_mean_s"]
    assert d["victim-vm-disk"] > 3 * d["victim-vm"]  # the disk is not fenced
    # A fork bomb in a container (no pids limit, Docker's default) uses up the one host
    # kernel's pid_max: the container next to it cannot start a thread per request.
    # The same bomb in a VM fills its own kernel's table: the victim VM serves as usual.
    ev = res.cgroup_events
    served = res.requests["workload"].value_counts()
    refused = ev[(ev["workload"] == "victim-forking") & (ev["event"] == "pids-limit")]
    assert served.get("victim-forking", 0) == 0 and len(refused) > 500
    assert refused["cause"].str.contains("host's pid_max 32768").all()
    assert served["victim-vm-forking"] > 0.8 * served["victim-vm"]
    assert not ((ev["workload"] == "victim-vm-forking") & (ev["event"] == "pids-limit")).any()
    bomb = ev[ev["workload"] == "vm-fork-bomb"].iloc[0]
    assert "guest kernel's pid_max" in bomb["cause"] and bomb["amount"] == 40_001 - 32_768
    # No io.max by default: a container's disk hog slows the container next to it as a VM's does
    assert d["victim-container-disk"] > 3 * d["victim-container"]
    # No memory limit by default: the leak fills the host and its OOM killer ends the largest
    # process, the victim's (20 GiB), not the leak's; the same leak in a VM ends only that VM
    inst = res.instances.set_index("workload")
    assert inst.loc["victim-memory", "state"] == "failed" and "host out of memory" in inst.loc["victim-memory", "reason"]
    assert inst.loc["memory-hog", "state"] == "running"
    assert inst.loc["vm-memory-hog", "state"] == "failed" and "inside the VM" in inst.loc["vm-memory-hog", "reason"]
    assert inst.loc["victim-vm-memory", "state"] == "running"
    assert served["victim-vm-memory"] > 0.8 * served["victim-vm"]
    u = res.utilisation
    assert set(u.columns) == {"time_s", "host", "cpu_util", "disk_util", "nic_util"}
    assert u["cpu_util"].between(0, 1 + 1e-9).all()


def test_limits_on_a_vm_are_refused():
    with pytest.raises(vsim.ScenarioError, match=r"workloads\[0\]\.limits: cgroup limits are for containers"):
        vsim.parse_scenario({"duration_s": 1, "hosts": [{"platforms": ["kvm"]}], "workloads": [
            {"name": "v", "platform": "kvm", "arrivals": {"type": "batch", "count": 1}, "limits": {"pids": 4}}]})


def test_service_without_an_end_is_refused():
    with pytest.raises(vsim.ScenarioError, match=r"workloads\[0\]\.lifetime: a service or stress runs"):
        vsim.parse_scenario({"hosts": [{"platforms": ["docker"]}], "workloads": [
            {"name": "s", "platform": "docker", "arrivals": {"type": "batch", "count": 1},
             "service": {"arrivals": {"type": "poisson", "rate_per_s": 1}, "cpu_s": 0.1}}]})


def test_plots_and_latency_vs_load():
    import matplotlib.pyplot as plt

    from vsim.experiments.load import latency_vs_load
    from vsim.plots import latency_vs_load as plot_lvl
    from vsim.plots import utilisation_over_time

    sc = vsim.load_scenario(SCENARIOS / "overhead.yaml", overrides=["duration_s=30"])
    table = latency_vs_load(sc, [10, 40])
    assert set(table["platform"]) == {"native", "docker", "kvm", "virtualbox", "firecracker"}
    ax = plot_lvl(table)
    assert "ms" in ax.get_ylabel() and "requests/s" in ax.get_xlabel()
    res = vsim.simulate(sc)
    ax2 = utilisation_over_time(res.utilisation)
    assert "%" in ax2.get_ylabel()
    plt.close("all")


def test_a_fork_bombs_pids_come_back_when_it_stops_and_pids_max_contains_it():
    # A host with pid_max 400 (300 held by the host OS): a container forking 1,000
    # processes takes the other 100 while it runs (5 s); a thread-per-request service
    # in the container next to it is refused meanwhile and served once the bomb is gone.
    # With pids.max 50 on the bomb, the service is never refused.
    from helpers import host, scenario, workload

    svc = {"arrivals": {"type": "fixed", "rate_per_s": 10}, "workers": None, "cpu_s": 0.001,
           "cpu_distribution": "fixed"}

    def run(limits=None):
        bomb = workload("bomb", "docker", image="app", vcpus=0.5, memory_mib=64, stress={"forks": 1000},
                        lifetime={"type": "fixed", "duration_s": 5.0}, **({"limits": limits} if limits else {}))
        victim = workload("svc", "docker", image="app", vcpus=0.5, memory_mib=64, at_s=0.5, service=svc)
        return vsim.simulate(scenario([bomb, victim], hosts=[host(platforms=["docker"], pid_max=400)],
                                      duration_s=20.0))

    res = run()
    ev = res.cgroup_events
    refused = ev[(ev["workload"] == "svc") & (ev["event"] == "pids-limit")]
    bomb_end = res.instances.set_index("workload").loc["bomb", "ready_s"] + 5.0  # its lifetime over: it stops
    assert len(refused) > 20 and refused["time_s"].max() <= bomb_end + 1e-9
    assert (res.requests["arrival_s"] > bomb_end).sum() > 100  # served after the bomb
    capped = run(limits={"pids": 50})
    ev = capped.cgroup_events
    assert not ((ev["workload"] == "svc") & (ev["event"] == "pids-limit")).any()
    assert "pids.max 50" in ev[ev["workload"] == "bomb"]["cause"].iloc[0]


def test_packet_work_runs_in_the_host_kernel_outside_the_containers_quota():
    # One thread of bulk sends in a container capped at a quarter of a core: each
    # 1 MB chunk is 1 MB on the 10 Gbit/s NIC (0.8 ms) and, at the same time, its
    # 15.3 segments' NAT work (Docker's packet_us) on the host CPU; then the path's
    # one segment beyond the wire. That CPU is the kernel's (softirq), not the
    # container's: the quota does not stop it.
    from tests.helpers import host, scenario, workload
    from vsim.experiments.run import build_world

    docker = vsim.load_profile("docker")
    pkt = docker.overhead.packet_us.value * 1e-6
    sc = scenario([workload("net", "docker", image="app", memory_mib=256, vcpus=1,
                            stress={"net_threads": 1}, limits={"cpu_cores": 0.25},
                            lifetime={"type": "fixed", "duration_s": 20})],
                  hosts=[host(cores=4, platforms=["docker"], cached_images=["app"])], duration_s=40)
    world = build_world(sc)
    h = world.hosts[0]
    world.run(until=5.0)                                         # booted (0.23 s), sending
    before = h.cpu.work_done
    world.run(until=15.0)
    segments = 1.0 / (64 / 1024 * 1.048576)
    per_chunk = max(1.0 / 1250.0, segments * pkt) + pkt
    kernel_cores = segments * pkt / per_chunk
    assert kernel_cores > 0.25                                   # more than the container's quota
    assert (h.cpu.work_done - before) / 10 == pytest.approx(kernel_cores, rel=1e-6)
