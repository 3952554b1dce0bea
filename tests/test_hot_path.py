"""The fast hot path changes speed, not results.

* The fair-share resource arms one timer lazily instead of one per change; a
  naive reference (one SimPy timer per arrival, departure or cancellation,
  stale ones ignored) must give bit-for-bit the same finish times, the same
  final clock and the same count of SimPy event ids, for any job stream.
* Placement decides disk room without asking every host about its image cache;
  every decision must equal the plain rule applied to every host in turn.
* ``vsim run --profile`` prints where the time went.

No timings here: speed is measured in benchmarks/.
"""

import heapq
import math
import re
from itertools import count

import numpy as np
import simpy
from conftest import SCENARIOS
from helpers import host, scenario, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from vsim.cli import main
from vsim.engine.fairshare import FairShare
from vsim.experiments.run import build_world
from vsim.results import Results


class NaiveFairShare:
    """Processor sharing with one timer per change (the textbook way)."""

    def __init__(self, env, capacity, job_cap=None):
        self.env, self.capacity = env, float(capacity)
        self.job_cap = float(min(job_cap or capacity, capacity))
        self.heap, self.seq, self.n, self.cancelled = [], count(), 0, set()
        self.v, self.t, self.gen = 0.0, env.now, 0

    def _rate(self):
        return min(self.job_cap, self.capacity / self.n) if self.n else 0.0

    def _advance(self):
        dt = self.env.now - self.t
        if dt > 0:
            if self.n:
                self.v += dt * self._rate()
            self.t = self.env.now

    def use(self, work):
        done = self.env.event()
        self._advance()
        seq = next(self.seq)
        done.job = seq
        heapq.heappush(self.heap, (self.v + work, seq, done))
        self.n += 1
        self._reschedule()
        return done

    def cancel(self, job):
        if job.triggered or job.job in self.cancelled:
            return
        self._advance()
        self.cancelled.add(job.job)
        self.n -= 1
        self._reschedule()

    def _reschedule(self):
        self.gen += 1
        while self.heap and self.heap[0][1] in self.cancelled:
            self.cancelled.discard(heapq.heappop(self.heap)[1])
        if not self.heap:
            self.v = 0.0  # idle: virtual time starts again (as FairShare does)
            return
        delay = max(0.0, (self.heap[0][0] - self.v) / self._rate())
        gen = self.gen
        self.env.timeout(delay).callbacks.append(lambda _e: self._fire(gen))

    def _fire(self, gen):
        if gen != self.gen:
            return
        self._advance()
        limit = self.v + 1e-12 * max(1.0, abs(self.v))
        finished = []
        while self.heap and self.heap[0][0] <= limit:
            _, seq, ev = heapq.heappop(self.heap)
            if seq in self.cancelled:
                self.cancelled.discard(seq)
                continue
            self.n -= 1
            finished.append(ev)
        self._reschedule()
        for ev in finished:  # processed at once, as the timer's own outcome (one event per job)
            ev._ok, ev._value = True, self.env.now
            callbacks, ev.callbacks = ev.callbacks, None
            for cb in callbacks:
                cb(ev)


def _replay(cls, jobs, capacity, job_cap):
    """jobs: (arrival_s, work, cancel_after_s or None). Returns what a user can see."""
    env = simpy.Environment()
    res = cls(env, capacity, job_cap)
    log = []

    def job(i, at, work, cancel_after):
        yield env.timeout(at)
        ev = res.use(work)
        if cancel_after is None:
            yield ev
            log.append((i, "done", env.now))
        else:
            got = yield ev | env.timeout(cancel_after)
            if ev in got:
                log.append((i, "done", env.now))
            else:
                res.cancel(ev)
                log.append((i, "cancelled", env.now))

    for i, (at, work, cancel_after) in enumerate(jobs):
        env.process(job(i, at, work, cancel_after))
    env.run()
    eids = int(re.search(r"\d+", repr(env._eid)).group())
    return log, env.now, eids


times = st.sampled_from([0.0, 0.5, 1.0, 2.0]) | st.floats(0, 10, allow_nan=False)
works = st.sampled_from([0.25, 1.0, 3.0]) | st.floats(0.001, 10, allow_nan=False)
jobs_st = st.lists(st.tuples(times, works, st.none() | st.floats(0.01, 5)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(jobs=jobs_st, capacity=st.sampled_from([1.0, 4.0, 2.5]), job_cap=st.sampled_from([None, 1.0]))
def test_lazy_timer_is_bit_for_bit_the_naive_model(jobs, capacity, job_cap):
    assert _replay(FairShare, jobs, capacity, job_cap) == _replay(NaiveFairShare, jobs, capacity, job_cap)


def test_many_simultaneous_arrivals_do_not_leave_a_timer_each():
    env = simpy.Environment()
    fs = FairShare(env, 1.0)
    done = [fs.use(1.0 + k / 1000) for k in range(1000)]
    assert len(env._queue) == 1  # the naive model would hold 1,000 timers here
    env.run()
    assert all(ev.processed for ev in done)
    assert math.isclose(env.now, sum(1.0 + k / 1000 for k in range(1000)), rel_tol=1e-12)


def _plain_rule(placer, guest, own):
    """Placement as the definition says, host by host (no shortcuts)."""
    best = None
    im = guest.image
    for i, h in enumerate(placer.hosts):
        p = guest.platform
        if p not in placer.platform_mask or not placer.platform_mask[p][i]:
            continue
        if not (placer.platform_count[p][i] < placer.platform_limit[p][i] and placer.count[i] < placer.max_guests[i]):
            continue
        if placer.mem_free[i] < guest.memory_mib - 1e-9 or placer.vcpu_free[i] < guest.vcpus - 1e-9:
            continue
        have = h.cache | set(h.pulling)
        if im is None:
            extra = 0.0
        elif im.kind == "vm-disk":
            extra = 0.0 if im.name in have else im.disk_mb
        else:
            extra = sum(lay.disk_mb for lay in im.layers if lay.id not in have)
        if placer.disk_free[i] < own + extra - 1e-9:
            continue
        key = {"first-fit": 0, "best-fit": placer.mem_free[i], "worst-fit": -placer.mem_free[i],
               "spread": placer.count[i]}[placer.policy]
        if best is None or key < best[0]:
            best = (key, i, own + extra)
    return (None, None) if best is None else best[1:]


def test_placement_equals_the_host_by_host_rule():
    rng = np.random.default_rng(7)
    images = [
        {"name": "vm", "kind": "vm-disk", "size_mb": 2000},
        {"name": "a", "kind": "container", "layers": [{"id": "base", "size_mb": 30, "unpacked_mb": 900},
                                                      {"id": "x", "size_mb": 50, "unpacked_mb": 700}]},
        {"name": "b", "kind": "container", "layers": [{"id": "base", "size_mb": 30, "unpacked_mb": 900},
                                                      {"id": "y", "size_mb": 20, "unpacked_mb": 1500}]},
    ]
    checked = 0
    states = set()
    for policy in ("first-fit", "best-fit", "worst-fit", "spread"):
        wls = [workload(name=f"w{k}", platform=plat, image=im, count=int(rng.integers(20, 60)),
                        at_s=float(rng.integers(0, 20)), memory_mib=512, vcpus=0.5,
                        lifetime={"type": "fixed", "duration_s": float(rng.integers(5, 40))},
                        **({"clone": "full"} if plat == "kvm" else {}))  # full copies: disk pressure
               for k, (plat, im) in enumerate([("kvm", "vm"), ("docker", "a"), ("docker", "b"), ("docker", "a")])]
        # Small disks, so that many hosts sit between "surely fits" and "surely not".
        sc = scenario(wls, hosts=[host(count=8, disk={"capacity_gib": 5})], images=images, placement=policy,
                      seed=int(rng.integers(0, 1000)))
        world = build_world(sc)
        fast = world.placer.place

        def checking(guest, own, fast=fast, placer=world.placer):
            nonlocal checked
            want = _plain_rule(placer, guest, own)
            i, got = fast(guest, own)
            assert (i, got if i is not None else None) == want
            checked += 1
            return i, got

        world.placer.place = checking
        world.run()
        res = Results.from_world(world)
        states |= set(res.instances["state"])
    assert {"rejected", "stopped"} <= states
    assert checked > 100


def test_run_profile_prints_where_time_goes(capsys):
    assert main(["run", str(SCENARIOS / "docker-vs-kvm.yaml"), "--profile"]) == 0
    err = capsys.readouterr().err
    assert "cumulative" in err and "world.py" in err


def test_a_completion_below_the_clocks_resolution_still_happens():
    # Late in a run the clock's resolution (ulp of 1e6 s is ~1e-10 s) is coarser
    # than the fair-share tolerance; a job whose remainder rounds to "no time"
    # must complete instead of re-arming its timer at the same instant for ever.
    for work in (0.1, 0.3, 0.7, 1.1, 2.9, 0.01, 0.013):
        env = simpy.Environment(initial_time=1e6)
        fs = FairShare(env, 32.0, job_cap=1.0)
        done = fs.use(work)
        steps = 0
        while env.peek() < math.inf and steps < 1000:
            env.step()
            steps += 1
        assert done.processed, work
        assert math.isclose(env.now, 1e6 + work, rel_tol=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(st.tuples(st.sampled_from([0, 1, 2, 3, 3, 4]), st.integers(0, 999), st.booleans()),
                 min_size=1, max_size=150),
    policy=st.sampled_from(["first-fit", "best-fit", "worst-fit", "spread"]),
    dirty_max=st.sampled_from([256, 256, 0]),
    log_room=st.sampled_from([10_000, 10_000, 40, 3]),
)
def test_placement_kept_up_to_date_lazily_equals_the_rule_after_any_changes(ops, policy, dirty_max, log_room):
    """Places, releases and hosts going down or up in any order: every decision
    equals the host-by-host rule, whichever way the placer caught up (host by
    host from the change log, all at once, or after the log was dropped)."""
    from vsim.model.world import Guest

    wls = [workload(name="vm", platform="kvm", image="vm", memory_mib=3000, vcpus=2),
           workload(name="ct", platform="docker", image="app", memory_mib=700, vcpus=0.5),
           workload(name="plain", platform="docker", memory_mib=1500, vcpus=1)]
    sc = scenario(wls, hosts=[host(count=12, memory_gib=8, cores=4, disk={"capacity_gib": 4})], placement=policy)
    world = build_world(sc)
    placer = world.placer
    placer._DIRTY_MAX = dirty_max  # 0: re-score all at once as soon as more than a quarter of the hosts changed
    placer._LOG_SLACK = log_room - 16 * len(placer.hosts)  # drop the change log after log_room changes
    placed: list[tuple[int, Guest, float]] = []
    for k, (op, n, flag) in enumerate(ops):
        if op <= 2:
            w = sc.workloads[op]
            g = Guest(k, w, sc.profile(w.platform), sc.image_map.get(w.image) if w.image else None, 0.0, 1.0)
            own = world.own_disk_mb(g)
            want = _plain_rule(placer, g, own)
            i, got = placer.place(g, own)
            assert (i, got if i is not None else None) == want
            if i is not None:
                placed.append((i, g, own))
        elif op == 3 and placed:
            i, g, own = placed.pop(n % len(placed))
            placer.release(i, g, own)
        else:
            placer.set_available(n % len(placer.hosts), flag)


def test_room_given_back_or_a_host_coming_back_is_seen_at_the_next_placement():
    from vsim.model.world import Guest

    sc = scenario([workload(name="big", platform="docker", memory_mib=6000, vcpus=1)],
                  hosts=[host(count=2, memory_gib=8, cores=4)], placement="best-fit")
    world = build_world(sc)
    placer = world.placer
    w = sc.workloads[0]

    def guest(k):
        return Guest(k, w, sc.profile("docker"), None, 0.0, 1.0)

    a, b = guest(0), guest(1)
    assert placer.place(a, 0.0)[0] == 0 and placer.place(b, 0.0)[0] == 1  # one big guest fills a host
    assert placer.place(guest(2), 0.0)[0] is None
    placer.release(1, b, 0.0)
    assert placer.place(guest(3), 0.0)[0] == 1  # the room given back on host 1
    placer.release(0, a, 0.0)
    placer.set_available(0, False)
    assert placer.place(guest(4), 0.0)[0] is None  # host 0 has room but is down
    placer.set_available(0, True)
    assert placer.place(guest(5), 0.0)[0] == 0


def test_best_fit_takes_the_host_left_with_exactly_the_memory_needed():
    # A host with exactly the memory needed (or within the 1e-9 MiB
    # tolerance) fits and is the best fit; one with a little less does not.
    from vsim.model.world import Guest

    sc = scenario([workload(name="w", platform="docker", memory_mib=1000, vcpus=1)],
                  hosts=[host(count=4, memory_gib=8, cores=4)], placement="best-fit")
    for exact in (0.0, -0.5e-9):
        placer = build_world(sc).placer
        g = Guest(0, sc.workloads[0], sc.profile("docker"), None, 0.0, 1.0)
        need = g.memory_mib
        for i, free in ((0, need - 0.01), (1, need + 1.0), (2, need + exact), (3, need + 0.5)):
            placer._change(i, "docker", placer._mem[i] - free, 0.0, 0.0, 0)
        assert placer.place(g, 0.0)[0] == 2
