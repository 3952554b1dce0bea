"""Solo runs: a guest's boot in one event while nothing slows it down.

A boot is a sequence of steps on the host's shared resources: CPU work, disk
reads and writes, network transfers, fixed latencies, one after another. When
nothing else uses those resources, processor sharing gives the lone job its
full rate (``min(capacity, job_cap)``), so every step takes ``work / rate`` and
the whole timeline is known the moment the boot starts. In a large
datacenter that is the common case: a host sees a new guest every few minutes
and a boot takes seconds. Simulating each step as a separate fair-share job
then costs a dozen events for a result that was known in advance.

A :class:`SoloRun` *holds* the resources its steps use and schedules one
event, at the end. It may start only if every step is sure to get its full
rate, as far as anyone can know at that moment:

* on a resource with room for several jobs at full rate (a 32-core CPU gives
  each boot thread its one core until 31 share it: its ``slots``), there must
  be a slot free for the whole run, counting every job and solo run on it;
* on a one-slot resource (a disk, a network link) there must be no job, and
  the run's spans of use must not overlap those of the solo runs holding it
  (two boots a second apart can share a disk they use for a fraction of a
  second each).

The moment anything could change that (a job that would take the last slot,
a job on a one-slot resource that a holder still has to use, a query of its
utilisation or of its active jobs), the runs concerned are *materialised*
at that instant:

* the work of the steps already finished, and the part of the current step
  already done, is credited to the resources (their utilisation and work
  served stay exact);
* the current step is handed to its resource as an ordinary job with the
  work that remains (a latency step simply waits out what remains of it);
* the remaining steps run one by one as ordinary jobs, as they would have
  from the start; at each phase boundary the run goes solo again if its
  host has room for it.

Under processor sharing a job's future depends only on the work it still
needs, so the materialised timeline is the one the step-by-step model gives:
the same finish times up to rounding in the last digits (checked by
``tests/test_solo.py``, which runs scenarios both ways). The phases table,
utilisation and every other result are the same; only the event count falls
(a boot storm, where every boot overlaps others, materialises at once and
runs as before).

Only plain :class:`~vsim.engine.fairshare.FairShare` resources take part: a host
whose CPU is shared by cgroup weight (:mod:`vsim.engine.weighted`) runs every step
as a job. ``World.solo_runs = False`` switches the fast path off. A spec
(:class:`SoloSpec`) is worked out once per host group and sequence and shared
by all hosts of the group; a run that ends undisturbed records its phases as
one packed entry, expanded when the result tables are built.

Example: 2 core-seconds of CPU, then 1 s of disk, then 0.5 s of latency and 1
more core-second, on an idle host: one event, at 4.5 s.

>>> import simpy
>>> env = simpy.Environment()
>>> cpu, disk = FairShare(env, 4.0, job_cap=1.0, name="cpu"), FairShare(env, 1.0, name="disk")
>>> spec = SoloSpec([("a", [(0, 2.0), (1, 1.0)]), ("b", [(None, 0.5), (0, 1.0)])], (cpu, disk))
>>> log = PhaseLog()
>>> run = SoloRun(env, spec, (cpu, disk), log, gid=0).start()
>>> len(env._queue), spec.records
(1, (('a', 0.0, 3.0), ('b', 3.0, 4.5)))
>>> env.run(); env.now
4.5
>>> len(log), log.rows(0)
(1, [('a', 0.0, 3.0), ('b', 3.0, 4.5)])
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import simpy
from simpy.events import NORMAL, Event

from vsim.engine.fairshare import FairShare, SharedRate
from vsim.engine.phaselog import PhaseLog

__all__ = ["SoloRun", "SoloSpec"]


class SoloSpec:
    """The steps of a sequence of phases, worked out once for every host of a kind.

    ``resources`` are the host's shared resources that steps may name, by
    index (the world passes ``(cpu, disk, nic)`` of one host; every host of
    the same group has the same rates, so one spec serves them all and stays
    in the processor's cache). ``phases`` are ``(name, [(index or None, work),
    ...])``; a latency step has no resource and its work is its duration.

    ``steps`` are ``(index or None, work, seconds alone)``; ``spans`` are
    ``(phase name, index one past its last step)``; ``kinds`` the indices used;
    ``totals`` ``(index, work, jobs)`` summed over the steps, credited in one
    go when a run ends undisturbed.
    """

    __slots__ = ("steps", "spans", "kinds", "totals", "offsets", "total", "records", "eligible", "uses", "what",
                 "first")

    def __init__(self, phases: Sequence[tuple[str, Sequence[tuple[int | None, float]]]],
                 resources: Sequence[SharedRate], what: str = "", first: int = 0) -> None:
        self.what = what  # which sequence (the world's "clone", "start" or "stop") ...
        self.first = first  # ... from which of its phases
        steps: list[tuple[int | None, float, float]] = []
        spans: list[tuple[str, int]] = []
        totals: dict[int, list] = {}
        for name, parts in phases:
            for k, work in parts:
                if k is None:
                    steps.append((None, work, work))
                else:
                    steps.append((k, work, work / resources[k].job_cap))  # alone: min(capacity, job_cap)
                    tot = totals.setdefault(k, [k, 0.0, 0])
                    tot[1] += work
                    tot[2] += 1
            spans.append((name, len(steps)))
        self.steps = tuple(steps)
        self.spans = tuple(spans)
        self.kinds = tuple(totals)
        self.totals = tuple(tuple(t) for t in totals.values())
        # Only plain fair-share resources can be held by a solo run.
        self.eligible = all(type(resources[k]) is FairShare for k in self.kinds)
        # When each step ends, counted from the start; a run started at t0 has
        # its steps end at t0 + offsets[k] and its phases span t0 + a .. t0 + b.
        offsets, t = [], 0.0
        for step in steps:
            t += step[2]
            offsets.append(t)
        self.offsets = tuple(offsets)
        self.total = t
        records, a = [], 0.0
        for name, stop in spans:
            b = offsets[stop - 1] if stop else 0.0
            records.append((name, a, b))
            a = b
        self.records = tuple(records)
        # Per resource used: (index, spans of use relative to the start, first
        # use, end of the last use, the full rate the timeline assumes); adjacent
        # steps on one resource make one span.
        uses = []
        for k in self.kinds:
            spans_k: list[list[float]] = []
            a = 0.0
            for step, b in zip(steps, offsets, strict=True):
                if step[0] == k:
                    if spans_k and spans_k[-1][1] == a:
                        spans_k[-1][1] = b
                    else:
                        spans_k.append([a, b])
                a = b
            spans_t = tuple((x, y) for x, y in spans_k)
            uses.append((k, spans_t, spans_t[0][0], spans_t[-1][1], resources[k].job_cap))
        self.uses = tuple(uses)

    def admits(self, resources: tuple[FairShare, ...], t0: float) -> bool:
        """Can a run started at ``t0`` have every step at full rate, as far as
        anyone can know now?

        On a resource with spare slots (a many-core CPU: every job gets its
        ``job_cap`` while at most ``slots`` share it) there must be a free slot
        for the whole run, counting every job and every solo run that holds it.
        On a one-slot resource (a disk, a link) there must be no job, and the
        run's spans of use must not overlap those of the solo runs holding it.
        A resource whose full rate per job is no longer the one the timeline
        was made with (a CPU whose capacity fell below one core) admits none.
        """
        for k, spans, a, b, cap in self.uses:
            r = resources[k]
            if r.job_cap != cap:
                return False  # the resource's full rate changed since the timeline was made
            hs = r._holders
            if r.slots > 1:
                if r._n + len(hs) >= r.slots:
                    return False
                continue
            if r._n:
                return False
            if hs:
                lo, hi = t0 + a, t0 + b
                for _, h_lo, h_hi, h_t0, h_spans in hs:
                    if hi <= h_lo or h_hi <= lo:
                        continue  # this holder uses the resource wholly before or after
                    for x, y in spans:
                        x += t0
                        y += t0
                        for u, v in h_spans:
                            if x < h_t0 + v and h_t0 + u < y:
                                return False
        return True


def _release(holders: list[tuple], run: SoloRun) -> None:
    """Take ``run``'s entry out of a resource's list of solo runs holding it."""
    for j, h in enumerate(holders):
        if h[0] is run:
            del holders[j]
            return


class SoloRun:
    """One run of a :class:`SoloSpec` on one host's ``resources``, for one guest, started now.

    ``done`` is the event the guest waits for; its value is the finish time.
    The phases are recorded in ``log`` (a :class:`~vsim.engine.phaselog.PhaseLog`)
    under guest id ``gid`` as the step-by-step model records them; a run that
    ends undisturbed records one packed entry (the spec, started at t0) for
    all of them instead, which the phases table expands.
    """

    __slots__ = ("env", "spec", "res", "log", "gid", "done", "t0", "live", "callbacks", "cur", "dead", "resume",
                 "guest", "child")
    # The run is its own entry in SimPy's event queue, at its end (see _take):
    # what Environment.step reads of an event, besides its callbacks.
    _ok = True
    _value = None

    def __init__(self, env: simpy.Environment, spec: SoloSpec, resources: tuple[FairShare, ...],
                 log: PhaseLog, gid: int = 0) -> None:
        self.env = env
        self.spec = spec
        self.res = resources
        self.log = log
        self.gid = gid
        self.done = Event(env)
        self.t0 = env._now
        self.live = False  # scheduled, undisturbed so far
        self.callbacks: list | None = None
        self.cur: tuple | None = None  # the ordinary job in progress, once materialised
        self.dead = False
        # resume(guest, spec, k): a new solo run of the spec's phases from its
        # k-th, or None; a materialised run asks at each phase boundary (the
        # world sets it, and the guest it passes back).
        self.resume: Callable[[Any, SoloSpec, int], SoloRun | None] | None = None
        self.guest: Any = None  # whatever the owner passes back to resume (the world's Guest)
        self.child: SoloRun | None = None

    @classmethod
    def begin(cls, env: simpy.Environment, spec: SoloSpec, resources: tuple[FairShare, ...],
              log: PhaseLog, gid: int = 0) -> SoloRun | None:
        """A run started now, or None (and nothing made) if some step might not
        get its full rate (see :meth:`SoloSpec.admits`)."""
        return cls(env, spec, resources, log, gid)._take() if spec.admits(resources, env._now) else None

    def start(self) -> SoloRun | None:
        """Take the resources and schedule the end; None (and nothing taken) if
        some step might not get its full rate (see :meth:`SoloSpec.admits`)."""
        return self._take() if self.spec.admits(self.res, self.t0) else None

    def _take(self) -> SoloRun:
        spec, res, t0 = self.spec, self.res, self.t0
        for k, spans, a, b, _ in spec.uses:
            r = res[k]
            hs = r._holders
            hs.append((self, t0 + a, t0 + b, t0, spans))
            n = r._n + len(hs)
            if r.peak_jobs < n:
                r.peak_jobs = n
        env = self.env
        self.live = True
        self.callbacks = [_FINISH]
        heapq.heappush(env._queue, (t0 + spec.total, NORMAL, next(env._eid), self))  # type: ignore[misc]  # the run stands in for an Event
        return self

    # -- the undisturbed end ------------------------------------------------------
    def _finish(self, _event=None) -> None:
        res = self.res
        for k, work, jobs in self.spec.totals:
            r = res[k]
            hs = r._holders
            if hs[0][0] is self:  # the usual case: the oldest holder ends first
                del hs[0]
            else:
                _release(hs, self)
            r._credit(work, jobs)
        self.log.add(self.gid, self.spec, self.t0, self.t0)  # packed: one entry for all its phases
        self.live = False
        done = self.done
        done._ok = True
        done._value = self.env._now
        callbacks, done.callbacks = done.callbacks, None  # type: ignore[assignment]  # processed, as SimPy marks it
        for callback in callbacks:
            callback(done)

    # -- disturbed: hand over to ordinary jobs --------------------------------------
    def _settle(self) -> tuple[int, float]:
        """Release the resources and credit the work done up to now.

        Returns the current step and the work (or, for a latency step, the
        time) it still needs. Records the phases already finished.
        """
        # The scheduled end will not be used: inert in the queue. (Live: SimPy has
        # not processed the entry yet, so its callbacks are still a list.)
        self.callbacks.clear()  # type: ignore[union-attr]
        self.live = False
        spec, res = self.spec, self.res
        for k in spec.kinds:
            _release(res[k]._holders, self)
        now = self.env._now
        t0 = self.t0
        ends = [t0 + off for off in spec.offsets]
        k = 0
        n = len(ends)
        while k < n and not ends[k] > now:
            k += 1
        steps = spec.steps
        for j in range(k):
            kind, work, _ = steps[j]
            if kind is not None:
                res[kind]._credit(work, 1)
        left = 0.0
        if k < n:
            kind, work, _ = steps[k]
            if kind is None:
                left = ends[k] - now
            else:
                r = res[kind]
                began = ends[k - 1] if k else self.t0
                got = (now - began) * r.job_cap
                if got > work:
                    got = work
                r._credit(got, 0)
                left = work - got
        for (name, a, b), (_, stop) in zip(spec.records, spec.spans, strict=True):
            if stop > k:
                break
            self.log.add(self.gid, name, t0 + a, t0 + b)
        return k, left

    def materialise(self) -> None:
        """Someone else needs one of the resources: go on as ordinary jobs from now."""
        if not self.live:
            return
        k, left = self._settle()
        env = self.env
        if k == len(self.spec.steps):  # finished at this very instant
            self.done.succeed(env._now)
            return
        kind = self.spec.steps[k][0]
        r = None if kind is None else self.res[kind]
        ev = env.timeout(left) if r is None else r.use(left)
        self.cur = (r, ev)
        env.process(self._rest(k, ev))

    def _rest(self, k: int, ev):
        spec, env = self.spec, self.env
        steps, spans = spec.steps, spec.spans
        # The phase in progress began at the end of the last finished one.
        span = 0
        while spans[span][1] <= k:
            span += 1
        start = self.t0 + spec.records[span - 1][2] if span else self.t0
        j = k
        while True:
            yield ev
            self.cur = None
            if self.dead:
                return
            j += 1
            while span < len(spans) and spans[span][1] <= j:  # phases that end here (some may be empty)
                self.log.add(self.gid, spans[span][0], start, env._now)
                start = env._now
                span += 1
            if j == len(steps):
                break
            if self.resume is not None and spans[span - 1][1] == j:  # between two phases: solo again?
                child = self.child = self.resume(self.guest, spec, span)
                if child is not None:
                    yield child.done
                    if self.dead:
                        return
                    break
            kind, work, _ = steps[j]
            r = None if kind is None else self.res[kind]
            ev = env.timeout(work) if r is None else r.use(work)
            self.cur = (r, ev)
        self.done.succeed(env._now)

    def cancel(self, _job=None) -> None:
        """The guest failed: stop here, keeping the work done and the phases finished."""
        if self.dead or self.done.triggered:
            return
        self.dead = True
        if self.live:
            self._settle()
        elif self.child is not None:
            self.child.cancel()
        elif self.cur is not None and self.cur[0] is not None:
            self.cur[0].cancel(self.cur[1])


_FINISH = SoloRun._finish  # the one callback of every run's queue entry (a plain function: no bound method per run)
