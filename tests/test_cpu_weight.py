"""CPU shares (cgroup cpu.weight): weighted fair share, exact timelines and invariants."""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import vsim
from tests.conftest import SCENARIOS
from tests.helpers import host, scenario, workload
from vsim.engine.fairshare import FairShare
from vsim.engine.weighted import WeightedFairShare
from vsim.experiments.run import build_world
from vsim.mechanisms.cgroups import CpuGroup


def _run(cpu, jobs):
    """jobs: (label, start_s, work, group or None); returns {label: finish time}."""
    env = cpu.env
    ends = {}

    def job(label, start, work, group):
        yield env.timeout(start)
        yield cpu.use(work, group=group)
        ends[label] = env.now

    for j in jobs:
        env.process(job(*j))
    env.run()
    return ends


def test_weights_100_and_200_share_one_core_1_to_2():
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 1.0, job_cap=1.0)
    light, heavy = cpu.group("light", 100), cpu.group("heavy", 200)
    ends = _run(cpu, [("light", 0, 1.0, light), ("heavy", 0, 1.0, heavy)])
    # heavy at 2/3 needs 1.5 s; light has 0.5 by then and runs alone for 0.5 s.
    assert ends == pytest.approx({"heavy": 1.5, "light": 2.0})
    assert cpu.work_done == pytest.approx(2.0) and cpu.utilisation() == pytest.approx(1.0)


def test_weights_do_not_matter_without_contention():
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 2.0, job_cap=1.0)
    a, b = cpu.group("a", 1), cpu.group("b", 10_000)
    assert _run(cpu, [("a", 0, 1.0, a), ("b", 0, 1.0, b)]) == pytest.approx({"a": 1.0, "b": 1.0})


def test_a_heavy_group_is_capped_at_its_threads_and_the_rest_flows_on():
    # 3 cores. A: 1 thread, weight 10000 -> capped at one core. The other 2 cores
    # go to B (2 threads, weight 100) and C (2 threads, weight 300) 1:3:
    # B 0.25/thread, C 0.75/thread. At 1.0 A is done (B has 0.25, C 0.75); now
    # C is capped at 2 cores, B gets the third (0.5/thread): C done at 1.25 with
    # B at 0.375; B alone then runs at 1/thread: done at 1.875.
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 3.0, job_cap=1.0)
    a, b, c = cpu.group("a", 10_000), cpu.group("b", 100), cpu.group("c", 300)
    ends = _run(cpu, [("a", 0, 1.0, a), ("b1", 0, 1.0, b), ("b2", 0, 1.0, b),
                      ("c1", 0, 1.0, c), ("c2", 0, 1.0, c)])
    assert ends == pytest.approx({"a": 1.0, "c1": 1.25, "c2": 1.25, "b1": 1.875, "b2": 1.875})


def test_root_tasks_each_weigh_as_much_as_a_default_group():
    # One core: a group of weight 100 with 3 threads against one root task. The
    # task gets 1/2, each group thread 1/6. Task done at 2.0 (group threads have
    # 1/3 each), then the 3 threads share the core: 2/3 left each -> 4.0.
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 1.0, job_cap=1.0)
    g = cpu.group("g", 100)
    ends = _run(cpu, [("task", 0, 1.0, None)] + [(f"t{i}", 0, 1.0, g) for i in range(3)])
    assert ends == pytest.approx({"task": 2.0, "t0": 4.0, "t1": 4.0, "t2": 4.0})


def test_cancel_withdraws_a_job_and_its_share_flows_back():
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 1.0, job_cap=1.0)
    light, heavy = cpu.group("light", 100), cpu.group("heavy", 300)
    fired = []
    ev_heavy = cpu.use(1.0, group=heavy)
    ev_heavy.callbacks.append(lambda ev: fired.append("heavy"))
    ev_light = cpu.use(1.0, group=light)
    ev_light.callbacks.append(lambda ev: fired.append(("light", env.now)))

    def killer():
        yield env.timeout(0.4)
        cpu.cancel(ev_heavy)
        cpu.cancel(ev_heavy)  # twice is harmless

    env.process(killer())
    env.run()
    # light got 0.25 x 0.4 = 0.1 by then, then the whole core: 0.9 s more.
    assert len(fired) == 1 and fired[0][0] == "light" and fired[0][1] == pytest.approx(1.3)
    assert cpu.work_done == pytest.approx(0.3 + 1.0) and cpu.active == 0


def test_bad_arguments_are_refused():
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 1.0)
    other = WeightedFairShare(env, 1.0, name="other")
    with pytest.raises(ValueError, match="cpu.weight"):
        cpu.group("g", 0)
    with pytest.raises(ValueError, match="another resource"):
        cpu.use(1.0, group=other.group("x", 100))
    with pytest.raises(ValueError, match="work"):
        cpu.use(-1.0)
    assert cpu.use(0.0).triggered


def test_cpu_group_weight_uses_the_weighted_cpu_and_its_quota():
    # Two containers on one core, weights 100 and 300, one 1 s thread each; the
    # heavy one also has a quota of 0.5 cores, so it is capped below its 3/4.
    env = simpy.Environment()
    cpu = WeightedFairShare(env, 1.0, job_cap=1.0)
    light = CpuGroup(env, cpu, 1.0, weight=100, name="light")
    heavy = CpuGroup(env, cpu, 1.0, weight=300, name="heavy", quota_cores=0.5, period_s=0.1)
    ends = {}

    def thread(name, grp):
        yield from grp.run(1.0)
        ends[name] = env.now

    env.process(thread("light", light))
    env.process(thread("heavy", heavy))
    env.run()
    # Each 100 ms period: heavy runs at 3/4 until its 50 ms budget is spent
    # (66.7 ms), light at 1/4 then alone: light gets 16.7 + 33.3 = 50 ms/period.
    # Both get 0.5 core on average: each needs 20 periods of 50 ms; heavy's last
    # slice ends 66.7 ms into the 20th, light's at its end.
    assert ends["heavy"] == pytest.approx(1.9 + 0.05 / 0.75)
    assert ends["light"] == pytest.approx(2.0)
    assert heavy.throttled_periods == 19
    # On a plain FairShare the weight has nothing to act on: threads run as plain jobs.
    plain = CpuGroup(env, FairShare(env, 1.0), 1.0, weight=300)
    assert plain.share is None


jobs_st = st.lists(
    st.tuples(st.integers(0, 3), st.floats(0, 5), st.floats(0.01, 3)), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(jobs=jobs_st, weights=st.lists(st.integers(1, 10_000), min_size=4, max_size=4),
       cores=st.integers(1, 4), cancel_at=st.none() | st.floats(0.1, 4))
def test_work_is_conserved_and_no_job_is_faster_than_alone(jobs, weights, cores, cancel_at):
    env = simpy.Environment()
    cpu = WeightedFairShare(env, float(cores), job_cap=1.0)
    groups = [None] + [cpu.group(f"g{i}", w) for i, w in enumerate(weights[:3])]
    done, evs, peak = {}, [], []

    def check_rates():
        used = sum(g.rate * g.n for g in cpu._active)
        assert used <= cpu.capacity * (1 + 1e-9)
        assert all(g.rate <= cpu.job_cap * (1 + 1e-12) for g in cpu._active)
        if cpu.active >= cores:  # work-conserving: a full CPU when there are enough threads
            assert used == pytest.approx(cpu.capacity)
        peak.append(used)

    def job(i, gi, start, work):
        yield env.timeout(start)
        ev = cpu.use(work, group=groups[gi])
        evs.append((i, ev, work))
        check_rates()
        yield ev
        check_rates()
        done[i] = (start, env.now, work)

    for i, (gi, start, work) in enumerate(jobs):
        env.process(job(i, gi, start, work))
    cancelled = []
    if cancel_at is not None:
        def killer():
            yield env.timeout(cancel_at)
            for i, ev, _ in evs[:2]:
                if not ev.triggered:
                    cpu.cancel(ev)
                    cancelled.append(i)
        env.process(killer())
    env.run()
    assert set(done) | set(cancelled) == set(range(len(jobs))) and not set(done) & set(cancelled)
    for start, end, work in done.values():
        assert end - start >= work / cpu.job_cap * (1 - 1e-9)
    served = sum(w for _, _, w in done.values())
    if not cancelled:
        assert cpu.work_done == pytest.approx(served, rel=1e-9)
    else:
        # (the lower bound up to rounding: the work done is a sum of rate x time steps)
        # (rounding: 1e-12 relative, and 1e-12 absolute for sums near zero)
        assert served * (1 - 1e-12) - 1e-12 <= cpu.work_done <= served + sum(jobs[i][2] for i in cancelled) + 1e-9
    assert 0 <= cpu.utilisation() <= 1 + 1e-9 and cpu.active == 0


@settings(max_examples=40, deadline=None)
@given(jobs=st.lists(st.tuples(st.floats(0, 5), st.floats(0.01, 3)), min_size=1, max_size=20),
       cores=st.integers(1, 4))
def test_without_groups_it_is_plain_fair_share(jobs, cores):
    ends = []
    for cls in (FairShare, WeightedFairShare):
        env = simpy.Environment()
        cpu = cls(env, float(cores), job_cap=1.0)
        ends.append(_run(cpu, [(i, s, w, None) for i, (s, w) in enumerate(jobs)]
                         ) if cls is WeightedFairShare else _run_plain(cpu, jobs))
    assert ends[1] == pytest.approx(ends[0], rel=1e-9, abs=1e-9)


def _run_plain(cpu, jobs):
    env, ends = cpu.env, {}

    def job(i, start, work):
        yield env.timeout(start)
        yield cpu.use(work)
        ends[i] = env.now

    for i, (s, w) in enumerate(jobs):
        env.process(job(i, s, w))
    env.run()
    return ends


# -- scenarios --------------------------------------------------------------------

def test_the_cpu_weight_scenario_serves_1_to_3():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "cpu-weight.yaml"))
    q = res.requests[res.requests["end_s"] >= 5.0]  # both long since saturated
    n = q.groupby("workload").size()
    # Both want 4 cores of 1.95 free ones: light gets 1/4, heavy 3/4 of them.
    assert n["heavy"] / n["light"] == pytest.approx(3.0, rel=0.03)
    cap = 2 - 0.05  # docker's host footprint is 0.05 cores
    assert n["heavy"] == pytest.approx(25 * 0.75 * cap / 0.05, rel=0.02)


def test_only_hosts_that_may_run_many_threads_of_a_guest_get_the_weighted_cpu():
    # A cgroup weight, a service (workers) or stress threads: the CPU is shared by
    # cgroup (each container and VM its own, weight 100 by default). Boots alone run
    # one thread per guest: plain fair share, the same there.
    for w in (workload("w", "docker", image="app", limits={"cpu_weight": 50}),
              workload("w", "docker", image="app", stress={"cpu_threads": 4}),
              workload("w", "docker", image="app", service={"arrivals": {"type": "poisson", "rate_per_s": 1},
                                                             "cpu_s": 0.01})):
        world = build_world(scenario([w], hosts=[host(name="a", platforms=["docker"]),
                                                 host(name="b", platforms=["kvm"])], duration_s=10.0))
        assert [type(h.cpu) for h in world.hosts] == [WeightedFairShare, FairShare]
    plain = build_world(vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml"))
    assert all(type(h.cpu) is FairShare for h in plain.hosts)


def test_docker_gives_each_container_a_cgroup_of_its_own_by_default():
    # Two containers on one core: one runs 16 busy threads, the other a service whose
    # requests need 10 ms of CPU. Linux shares the CPU between their cgroups (weight 100
    # each), not between their 17 threads: the service gets half the core, so a request
    # takes 10 ms / 0.5 (not 10 ms x 17), scaled by Docker's exits' share, none (and the
    # core is what dockerd and idle housekeeping leave).
    svc = {"arrivals": {"type": "fixed", "rate_per_s": 2.0}, "workers": 1, "cpu_s": 0.01, "cpu_distribution": "fixed"}
    sc = scenario([workload("hog", "docker", image="app", vcpus=0.5, stress={"cpu_threads": 16}),
                   workload("svc", "docker", image="app", vcpus=0.5, at_s=1.0, service=svc)],
                  hosts=[host(cores=1, platforms=["docker"])], duration_s=30.0)
    res = vsim.simulate(sc)
    d = vsim.load_profile("docker")
    e = 1.0 - d.overhead.exit_cpu_share.value
    # the core less dockerd's footprint and the two idle containers' housekeeping
    core = 1.0 - d.host_cpu_cores.value - 2 * d.idle_cpu_cores.value
    q = res.requests[res.requests["arrival_s"] > 5]
    assert len(q) > 10
    assert q["cpu_s"].to_numpy() == pytest.approx(0.01 / e / (core / 2), rel=1e-6)


@pytest.mark.parametrize("limits, match", [
    ({"cpu_weight": 0}, r"workloads\[0\]\.limits\.cpu_weight"),
    ({"cpu_weight": 10_001}, r"workloads\[0\]\.limits\.cpu_weight"),
    ({"cpu_shares": 1024}, r"workloads\[0\]\.limits\.cpu_shares"),
])
def test_bad_cpu_weight_is_refused(limits, match):
    with pytest.raises(vsim.ScenarioError, match=match):
        scenario([workload("w", "docker", image="app", limits=limits)])


def test_cpu_weight_inside_a_vm_is_refused():
    with pytest.raises(vsim.ScenarioError, match=r"workloads\[0\]\.limits\.cpu_weight: a container inside a VM"):
        scenario([workload("w", "docker", image="app", inside="kvm", limits={"cpu_weight": 200})])
