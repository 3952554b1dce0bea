"""Fair-share resources: how a host's CPU, disk and network are divided.

When ten guests boot at once on one host they do not queue politely for the
disk: the operating system gives each of them a slice, and all ten make
progress together, each ten times slower than alone. Queueing theory calls
this *processor sharing* (PS). vsim models every contended rate of a host
(CPU time, disk time, network bandwidth) and every registry link as a
:class:`FairShare` resource:

* the resource has a ``capacity`` (work units per second: core-seconds per
  second for a CPU, disk-seconds per second for a disk, MB/s for a link);
* every active job gets an equal share of it, ``capacity / n``, but never more
  than ``job_cap`` (one job is one thread: it cannot use two cores at once);
* a job that needs ``work`` units finishes when it has received them.

Because every active job runs at the same rate, a single number describes the
progress of all of them: the *virtual time* ``V``, the amount of work each
active job has received since the resource was created. A job that arrives when
the virtual time is ``V0`` and needs ``w`` finishes when ``V`` reaches
``V0 + w``. Jobs wait in a heap ordered by that finish mark, so an arrival or a
departure costs O(log n) however many jobs share the resource; nothing ever
loops over all active jobs. (This is the classic implementation of generalised
processor sharing used by fair-queueing network schedulers.)

One timer, armed lazily. Every arrival or departure moves the moment the
next job finishes, so a naive model schedules a new SimPy timer at each change
and ignores the stale ones when they fire: 100,000 jobs arriving together
leave 100,000 dead timers in SimPy's event queue. Here a change only notes the
new finish moment; the one live timer, if it would fire too early, re-arms
itself for that moment when it goes off. The re-armed timer takes the place
(time, priority and event id) that the naive model's timer would have had, so
simultaneous events are still processed in exactly the same order, and a run
gives bit-for-bit the same results either way, only faster. When the timer
finds jobs finished, it processes their events itself, there and then, as
SimPy's own step would (callbacks in order, after the resource's state is
complete), instead of scheduling each as another event at the same instant:
one event per job, not two. An idle resource restarts its virtual time from
zero, so finish marks stay small numbers and keep their digits. (All this
reaches into SimPy 4's event queue, ``env._queue`` and ``env._eid``, and its
events' ``callbacks``: vsim.engine.fairshare and vsim.engine.solo are the only places that
do; ``simpy>=4.1,<5`` is pinned for it.)

Example: one disk of 1 disk-second per second, n guests each reading 1 s worth
of data at time 0. Each gets 1/n of the disk, so all of them finish at n
seconds: a boot storm of n guests takes n times as long as one boot.

>>> import simpy
>>> env = simpy.Environment()
>>> disk = FairShare(env, capacity=1.0, name="disk")
>>> done = [disk.use(1.0) for _ in range(4)]
>>> env.run()
>>> env.now
4.0
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from itertools import count

import simpy
from simpy.events import NORMAL, Event

__all__ = ["FairShare", "SharedRate"]

# Relative tolerance used to decide that a job whose finish mark is within
# rounding error of the current virtual time is done.
_EPS = 1e-12


class _Timer:
    """A bare entry for SimPy's event queue: what ``Environment.step`` reads of
    an event (its callbacks and outcome), without the rest of an Event."""

    __slots__ = ("callbacks",)
    callbacks: list[Callable[[Event], None]]
    _ok = True
    _value = None


def _slots(capacity: float, job_cap: float) -> int:
    """How many jobs can run at once each at its full rate ``job_cap``: the
    largest n with capacity / n >= job_cap, so a CPU of 31.85 cores and one
    core per job has 31; a disk or link whose one job may take it all has 1."""
    slots = max(1, math.floor(capacity / job_cap))
    while capacity / (slots + 1) >= job_cap:  # the division rounded down
        slots += 1
    while slots > 1 and capacity / slots < job_cap:  # ... or up
        slots -= 1
    return slots


class SharedRate:
    """What every fair-share resource has: a capacity, a per-job cap, and the
    accounting of what it served. Subclasses keep ``_n`` (active jobs) and
    ``_work_done`` up to date in their ``_advance``; utilisation is the work
    served over the capacity offered (``_cap_time``: its integral over time)."""

    # Slots: a datacenter has thousands of these, and compact objects stay in
    # the processor's caches. (__dict__ too, made only if someone sets another
    # attribute, e.g. a test instrumenting an instance.)
    __slots__ = ("env", "name", "capacity", "job_cap", "_job_cap0", "_n", "_t_last", "_cap_time", "_t_cap", "_work_done",
                 "jobs_completed", "peak_jobs", "slots", "_holders", "__dict__")

    def __init__(self, env: simpy.Environment, capacity: float, job_cap: float | None, name: str) -> None:
        if not capacity > 0 or not math.isfinite(capacity):
            raise ValueError(f"{name}: capacity must be a positive finite number, got {capacity!r}")
        if job_cap is None:
            job_cap = capacity
        if not job_cap > 0:
            raise ValueError(f"{name}: job_cap must be positive, got {job_cap!r}")
        self.env = env
        self.name = name
        self.capacity = float(capacity)
        self._job_cap0 = float(job_cap)
        self.job_cap = float(min(job_cap, capacity))
        self._n = 0
        self._t_last = env.now
        self._cap_time = 0.0  # integral of capacity dt up to _t_cap (capacity may change)
        self._t_cap = env.now
        self._work_done = 0.0
        self.jobs_completed = 0
        self.peak_jobs = 0  # most jobs at once (a solo run holding it counts as one, for its whole run)
        self.slots = _slots(self.capacity, self.job_cap)
        # Solo runs (vsim.engine.solo) holding this resource: entries (run, first use,
        # end of last use, run start, the run's spans of use relative to its
        # start). Anything that needs the resource's true state, or a job that
        # could slow one of them down, hands them over first (_hand_over).
        self._holders: list[tuple] = []

    def _advance(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def _reschedule(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def set_capacity(self, capacity: float) -> None:
        """Change the service rate from now on (e.g. a host's CPU as idle guests
        come and go, each keeping a little of it busy). Work already served is
        kept; the jobs in progress go on at the new rate. Solo runs that could
        no longer all get their full rate are handed over to ordinary jobs first."""
        if not 0.0 < capacity < math.inf:
            raise ValueError(f"{self.name}: capacity must be a positive finite number, got {capacity!r}")
        if capacity == self.capacity:
            return
        job_cap = self._job_cap0
        if capacity < job_cap:
            job_cap = capacity
        slots = int(capacity / job_cap)
        if not (slots >= 1 and capacity / slots >= job_cap and capacity / (slots + 1) < job_cap):
            slots = _slots(capacity, job_cap)  # (the division's rounding: see _slots)
        hs = self._holders
        if hs and (job_cap != self.job_cap or self._n + len(hs) > slots):
            self._hand_over()
        self._advance()
        now = self.env._now
        self._cap_time += self.capacity * (now - self._t_cap)
        self._t_cap = now
        n = self._n
        before = min(self.job_cap, self.capacity / n) if n else 0.0
        self.capacity = capacity
        self.job_cap = job_cap
        self.slots = slots
        if n:
            self._on_capacity(before)

    def _on_capacity(self, before: float) -> None:
        """The capacity changed while jobs are active (each had rate ``before``):
        re-time the next completion, unless every job keeps its rate (all
        capped at one core, before and after)."""
        n = self._n
        if min(self.job_cap, self.capacity / n) != before:
            self._reschedule()

    def _hand_over(self) -> None:
        """Materialise every solo run holding this resource (vsim.engine.solo)."""
        for h in tuple(self._holders):
            h[0].materialise()

    def _make_room(self) -> None:
        """A job is about to start: hand over the solo runs it could slow down.

        With spare slots (a many-core CPU), nobody is slowed down while every
        job and solo run still gets its full rate. With one slot, the new job
        (of unknown length) would share the resource with any solo run that
        uses it now or later; runs whose last use is over are left alone.
        """
        hs = self._holders
        if self.slots > 1:
            if self._n + 1 + len(hs) > self.slots:
                self._hand_over()
            return
        now = self.env._now
        for h in tuple(hs):
            if h[2] > now:
                h[0].materialise()

    def _credit(self, work: float, jobs: int) -> None:
        """Account ``work`` served to a lone job at full rate (by a solo run)."""
        self._work_done += work
        self.jobs_completed += jobs

    @property
    def active(self) -> int:
        """Number of jobs currently being served."""
        if self._holders:
            self._hand_over()
        return self._n

    def utilisation(self, until: float | None = None) -> float:
        """Mean fraction of capacity used from creation to ``until`` (default
        now): work served over capacity offered."""
        work, offered = self.served(until)
        return work / offered if offered > 0 else 0.0

    def served(self, until: float | None = None) -> tuple[float, float]:
        """Work served and capacity offered (capacity x time, as the capacity
        changed) from creation to ``until`` (default now): their differences
        over an interval give the utilisation in that interval."""
        if self._holders:
            self._hand_over()
        self._advance()
        t = self.env.now if until is None else until
        return self._work_done, self._cap_time + self.capacity * (t - self._t_cap)

    @property
    def work_done(self) -> float:
        """Total work units served so far."""
        if self._holders:
            self._hand_over()
        self._advance()
        return self._work_done


class FairShare(SharedRate):
    """A processor-sharing resource with a per-job rate cap.

    Parameters
    ----------
    env:
        The SimPy environment.
    capacity:
        Total service rate, in work units per second (> 0).
    job_cap:
        The most one job can receive per second (defaults to ``capacity``:
        a single job may use the whole resource).
    name:
        Label used in records and error messages.
    """

    __slots__ = ("_heap", "_seq", "_cancelled", "_vtime", "_due", "_due_eid", "_due_timer", "_timer", "_timer_at",
                 "_queue", "_eids", "_fire")

    def __init__(
        self,
        env: simpy.Environment,
        capacity: float,
        job_cap: float | None = None,
        name: str = "resource",
    ) -> None:
        super().__init__(env, capacity, job_cap, name)
        self._heap: list[tuple[float, int, simpy.Event]] = []
        self._seq = count()
        self._cancelled: set[int] = set()
        self._vtime = 0.0  # work received by each active job so far
        # The next completion: its time, the event id reserved for its timer, and
        # that timer once it is in SimPy's queue (see the module docstring).
        self._due: float | None = None
        self._due_eid = 0
        self._due_timer: _Timer | None = None
        self._timer: _Timer | None = None  # the one live timer, due at _timer_at
        self._timer_at = math.inf
        self._queue = env._queue  # SimPy's event heap: (time, priority, event id, event)
        self._eids = env._eid
        self._fire = self._on_timer

    # -- state -----------------------------------------------------------------
    def rate_per_job(self, n: int | None = None) -> float:
        """The rate each of ``n`` active jobs receives (default: now)."""
        n = self.active if n is None else n
        if n == 0:
            return 0.0
        return min(self.job_cap, self.capacity / n)

    # -- mechanics -------------------------------------------------------------
    def _advance(self) -> None:
        """Bring the virtual time up to ``env.now``."""
        now = self.env._now
        dt = now - self._t_last
        if dt > 0:
            n = self._n
            if n:
                r = self.capacity / n
                if not r < self.job_cap:
                    r = self.job_cap
                self._vtime += dt * r
                used = r * n
                self._work_done += dt * used
            self._t_last = now

    def use(self, work: float) -> simpy.Event:
        """Start a job needing ``work`` units; return an event that fires when done.

        A job of zero work completes immediately (the event is already
        triggered). Negative or non-finite work is a programming error.
        """
        if not 0.0 <= work < math.inf:
            raise ValueError(f"{self.name}: work must be a finite number >= 0, got {work!r}")
        if self._holders:
            self._make_room()
        done = Event(self.env)
        if work == 0:
            done.succeed(0.0)
            return done
        if self.env._now != self._t_last:
            self._advance()
        seq = next(self._seq)
        done._vsim_job = seq  # type: ignore[attr-defined]  # a tag on SimPy's Event: lets cancel() find the job
        heapq.heappush(self._heap, (self._vtime + work, seq, done))
        n = self._n = self._n + 1
        if self._holders:
            n += len(self._holders)
        if n > self.peak_jobs:
            self.peak_jobs = n
        self._reschedule()
        return done

    def cancel(self, job: simpy.Event) -> None:
        """Withdraw an unfinished job (its guest failed or was killed).

        The job stops receiving service at once and its event never fires.
        Cost O(log n) amortised: the heap entry is skipped when it surfaces.
        """
        seq = getattr(job, "_vsim_job", None)
        if seq is None or job.triggered or seq in self._cancelled:
            return
        self._advance()
        self._cancelled.add(seq)
        self._n -= 1
        self._reschedule()

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(heap)[1])

    def _push(self, at: float, eid: int, live: bool) -> _Timer:
        """Put a timer into SimPy's queue at ``(at, NORMAL, eid)``."""
        t = _Timer()
        t.callbacks = [self._fire] if live else []
        heapq.heappush(self._queue, (at, NORMAL, eid, t))  # type: ignore[misc]  # a _Timer stands in for an Event
        return t

    def _reschedule(self) -> None:
        """After a change: note when the head job now finishes, arm a timer if needed.

        A timer that would fire at or before that moment is kept (it re-arms
        itself when it fires). A moment that was noted but never got a timer
        and is now superseded by an earlier one gets an inert timer, so that the
        clock still reaches it, as it would with one timer per change.
        """
        if self._cancelled:
            self._drop_cancelled()
        old_due = self._due
        timer = self._timer
        if not self._heap:
            # Idle: no finish mark refers to the virtual time any more, so it
            # starts again from zero (keeping it small keeps it precise: a mark
            # is a difference of virtual times, and a large one loses digits).
            self._vtime = 0.0
            if old_due is not None:
                if self._due_timer is None:
                    self._push(old_due, self._due_eid, live=False)
                self._due = self._due_timer = None
            if timer is not None:
                timer.callbacks.clear()  # nothing left to finish: it becomes inert
                self._timer = None
            return
        rate = self.capacity / self._n
        if not rate < self.job_cap:
            rate = self.job_cap
        delay = (self._heap[0][0] - self._vtime) / rate
        if not delay > 0.0:
            delay = 0.0
        due = self.env._now + delay
        eid = next(self._eids)
        if old_due is not None and old_due > due and self._due_timer is None:
            self._push(old_due, self._due_eid, live=False)
        self._due = due
        self._due_eid = eid
        if timer is not None:
            if self._timer_at <= due:
                self._due_timer = None  # the live timer fires first and re-arms
                return
            timer.callbacks.clear()  # too late now: inert
        self._timer = self._due_timer = self._push(due, eid, live=True)
        self._timer_at = due

    def _on_timer(self, ev: Event) -> None:
        self._timer = None
        if ev is not self._due_timer:  # fired early: re-arm for the completion
            # A live timer fires only while a completion is due: _due is a number here.
            self._timer = self._due_timer = self._push(self._due, self._due_eid, live=True)  # type: ignore[arg-type]
            self._timer_at = self._due  # type: ignore[assignment]  # as above: not None
            return
        self._due = self._due_timer = None
        self._advance()
        heap = self._heap
        limit = self._vtime + _EPS * max(1.0, abs(self._vtime))
        if self._cancelled:
            self._drop_cancelled()
        if heap and heap[0][0] > limit and self._n:
            # What is left of the head job would take less than the clock can
            # resolve at this time (now + delay == now): it is done, or the
            # clock would never move again.
            rate = self.capacity / self._n
            if not rate < self.job_cap:
                rate = self.job_cap
            if self.env._now + (heap[0][0] - self._vtime) / rate == self.env._now:
                limit = heap[0][0]
        finished = []
        while heap and heap[0][0] <= limit:
            _, seq, ev = heapq.heappop(heap)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
                continue
            self._n -= 1
            finished.append(ev)
        self.jobs_completed += len(finished)
        self._reschedule()
        # The finished jobs' events are processed here and now, as SimPy's own
        # step would process them, instead of being scheduled as new events at
        # this same instant: one event per job instead of two. Callbacks run
        # after the resource's state is complete, so a waiting process that
        # starts its next job on this resource sees a consistent one.
        now = self.env._now
        for ev in finished:
            ev._ok = True
            ev._value = now
            callbacks, ev.callbacks = ev.callbacks, None  # type: ignore[assignment]  # processed, as SimPy marks it
            for callback in callbacks:
                callback(ev)

    def __repr__(self) -> str:
        return (
            f"FairShare({self.name!r}, capacity={self.capacity:g}, job_cap={self.job_cap:g}, "
            f"active={self.active})"
        )
