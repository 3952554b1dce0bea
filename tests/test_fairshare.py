"""Processor sharing: exact timelines of the fair-share resource."""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from vsim.engine.fairshare import FairShare


def run_jobs(jobs, capacity=1.0, job_cap=None):
    """jobs: list of (arrival_s, work). Returns finish times in input order."""
    env = simpy.Environment()
    fs = FairShare(env, capacity, job_cap=job_cap)
    finish = [None] * len(jobs)

    def job(i, at, work):
        yield env.timeout(at)
        yield fs.use(work)
        finish[i] = env.now

    for i, (at, work) in enumerate(jobs):
        env.process(job(i, at, work))
    env.run()
    return finish, fs


@pytest.mark.parametrize("n", [1, 10, 100])
def test_n_equal_reads_finish_at_n_times_single(n):
    # 800 MB from an 800 MB/s disk: 1 s alone, n s with n readers at once.
    finish, _ = run_jobs([(0.0, 1.0)] * n)
    assert finish == pytest.approx([float(n)] * n, rel=1e-12)


def test_staggered_timeline_exact():
    # Job a (work 2) alone for 1 s, then shares with b (work 1): both at rate 1/2.
    # a has 1 left at t=1, b has 1: both finish at t=3.
    finish, _ = run_jobs([(0.0, 2.0), (1.0, 1.0)])
    assert finish == pytest.approx([3.0, 3.0])


@pytest.mark.parametrize("gap", [1e-9, 1e-7])
def test_jobs_a_hair_apart_finish_apart(gap):
    # Two jobs of work 1 and 1 + gap share capacity 1: the first is done at 2,
    # the second gap later (it runs alone at rate 1 for its last gap). A finishing
    # tolerance looser than the clock's resolution would end both at 2.
    finish, _ = run_jobs([(0.0, 1.0), (0.0, 1.0 + gap)])
    assert finish[0] == pytest.approx(2.0, abs=1e-15)
    assert finish[1] - finish[0] == pytest.approx(gap, rel=1e-4)


def test_short_job_leaves_early():
    # a: 3, b: 1 both at 0 -> b done at 2 (rate 1/2), a has 2 left at rate 1 -> 4.
    finish, _ = run_jobs([(0.0, 3.0), (0.0, 1.0)])
    assert finish == pytest.approx([4.0, 2.0])


def test_job_cap_limits_single_thread():
    # 4 cores, one thread: work of 2 core-seconds takes 2 s, not 0.5 s.
    finish, _ = run_jobs([(0.0, 2.0)], capacity=4.0, job_cap=1.0)
    assert finish == pytest.approx([2.0])
    # 8 threads on 4 cores: each gets half a core.
    finish, _ = run_jobs([(0.0, 2.0)] * 8, capacity=4.0, job_cap=1.0)
    assert finish == pytest.approx([4.0] * 8)


def test_cancel_releases_share():
    env = simpy.Environment()
    fs = FairShare(env, 1.0)
    a = fs.use(2.0)
    b = fs.use(2.0)
    log = []
    a.callbacks.append(lambda e: log.append(("a", env.now)))
    b.callbacks.append(lambda e: log.append(("b", env.now)))

    def killer():
        yield env.timeout(1.0)  # each has received 0.5
        fs.cancel(b)

    env.process(killer())
    env.run()
    # a had 1.5 left at t=1 and now runs alone at rate 1: done at 2.5; b never fires.
    assert log == [("a", pytest.approx(2.5))]
    assert fs.active == 0


def test_zero_work_completes_immediately():
    env = simpy.Environment()
    fs = FairShare(env, 1.0)
    ev = fs.use(0.0)
    assert ev.triggered


def test_bad_arguments():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="capacity"):
        FairShare(env, 0.0)
    fs = FairShare(env, 1.0)
    with pytest.raises(ValueError, match="work"):
        fs.use(-1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0.01, 5)), min_size=1, max_size=30),
       st.floats(0.5, 8), st.floats(0.1, 2))
def test_work_conserving_and_rate_bounded(jobs, capacity, job_cap):
    """Invariants: rate never exceeds capacity; no job finishes faster than alone;
    total work served equals total work asked."""
    finish, fs = run_jobs(jobs, capacity=capacity, job_cap=job_cap)
    cap = min(job_cap, capacity)
    for (at, work), f in zip(jobs, finish, strict=True):
        assert f >= at + work / cap - 1e-9
    assert fs.work_done == pytest.approx(sum(w for _, w in jobs), rel=1e-9)
    # The resource cannot have served more than capacity * busy span.
    span = max(finish) - min(at for at, _ in jobs)
    assert fs.work_done <= capacity * span + 1e-6


# -- a capacity that changes (idle guests keeping part of a CPU busy) ----------------

def test_a_lower_capacity_slows_the_jobs_in_progress_from_that_moment():
    env = simpy.Environment()
    cpu = FairShare(env, capacity=2.0, job_cap=1.0, name="cpu")
    done = [cpu.use(2.0), cpu.use(2.0)]  # 1 core each: due at 2.0

    def later():
        yield env.timeout(1.0)
        cpu.set_capacity(1.0)  # from 1 s: half a core each, 1 unit left each: 2 s more

    env.process(later())
    env.run()
    assert [d.value for d in done] == [3.0, 3.0]
    assert cpu.work_done == pytest.approx(4.0)


def test_a_higher_capacity_is_capped_per_job_and_restores_the_slots():
    env = simpy.Environment()
    cpu = FairShare(env, capacity=1.0, job_cap=1.0, name="cpu")
    assert cpu.slots == 1
    a = cpu.use(3.0)

    def later():
        yield env.timeout(1.0)
        cpu.set_capacity(4.0)  # one job still gets one core: no faster

    env.process(later())
    env.run()
    assert a.value == 3.0 and cpu.slots == 4 and cpu.job_cap == 1.0


def test_weighted_shares_follow_a_capacity_change():
    from vsim.engine.weighted import WeightedFairShare

    env = simpy.Environment()
    cpu = WeightedFairShare(env, capacity=2.0, job_cap=2.0, name="cpu")
    big, small = cpu.group("big", 300), cpu.group("small", 100)
    a, b = cpu.use(3.0, big), cpu.use(3.0, small)  # 1.5 and 0.5 per second

    def later():
        yield env.timeout(1.0)
        cpu.set_capacity(1.0)  # 0.75 and 0.25 from 1 s: a has 1.5 left -> 2 s

    env.process(later())
    env.run(until=a)
    assert env.now == pytest.approx(3.0)
    env.run()
    # b: 0.5 by 1 s, 0.5 by 3 s, then alone at 1.0: 2 left -> 5 s
    assert b.value == pytest.approx(5.0)


def test_capacity_must_stay_positive():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="capacity"):
        FairShare(env, 1.0).set_capacity(0.0)
