"""Weighted fair share: how ``cpu.weight`` divides a host's CPU between cgroups.

:class:`~vsim.engine.fairshare.FairShare` gives every running thread the same slice
of the CPU. Linux's CFS scheduler does that too, but *per scheduling entity*,
and a cgroup is one entity: its threads first win a share for the group, then
split that share among themselves. The size of a group's share is set by its
``cpu.weight`` (cgroup v2, 1..10000, default 100; cgroup v1 called it
``cpu.shares``, default 1024). Two busy containers with weights 100 and 200 on
one core get 1/3 and 2/3 of it. Weights are *relative* and only matter under
contention: with a core free for every thread, everyone runs at full speed.

The model (an idealised, fluid CFS, as the scheduler behaves averaged over a
few scheduling periods):

* **Entities at the top level.** A workload with ``limits.cpu_weight`` is one
  cgroup entity of that weight. Every other CPU job (start phases, a VM's vCPU
  threads, threads of containers without a weight) is a task of the root
  cgroup, and CFS schedules each such thread as an entity of weight 100 (a
  nice-0 task weighs the same as a default cgroup). They are kept together in
  one *root pool* whose weight is 100 x its thread count, so a thousand start
  phases cost no more than one group.
* **Water-filling.** Competing entities get CPU in proportion to their weight,
  ``share_g = lambda x weight_g``, but never more than their threads can use
  (one core per thread): ``share_g <= threads_g x job_cap``. What a capped
  group cannot use flows to the others, in proportion to their weights, until
  the CPU is full or every group is capped. Solving for ``lambda`` sorts the
  active groups by the point where they saturate: O(G log G) for G groups.
* **Inside a group** its threads share equally (``share_g / threads_g`` each),
  so each group keeps its own *virtual time* and heap of finish marks, exactly
  as :class:`~vsim.engine.fairshare.FairShare` does for the whole resource. An
  arrival or departure costs O(log n) in its group plus the O(G log G)
  re-solve; the next completion is the earliest over the G group heads.

Assumptions (labelled): one level of groups below the root (no nested cgroups,
no ``cpu.weight`` inside a VM's guest kernel); a VM's vCPU threads and
containers without a weight are root tasks (libvirt's ``machine.slice`` and
Docker's default per-container cgroups, both of weight 100, are not modelled:
that keeps every scenario without weights identical to plain fair share);
the fluid model ignores CFS's time slices and per-core load balancing.

Example: two groups, one thread each, one core; weights 100 and 200, 1 s of
work each. Until the heavy one finishes it runs at 2/3, so it is done at
1.5 s; the light one has received 0.5 s by then and finishes alone at 2.0 s.

>>> import simpy
>>> env = simpy.Environment()
>>> cpu = WeightedFairShare(env, capacity=1.0, name="cpu")
>>> light, heavy = cpu.group("light", 100), cpu.group("heavy", 200)
>>> ends = {}
>>> for g in (light, heavy):
...     cpu.use(1.0, group=g).callbacks.append(lambda ev, n=g.name: ends.__setitem__(n, env.now))
>>> env.run()
>>> {k: round(v, 9) for k, v in ends.items()}
{'heavy': 1.5, 'light': 2.0}
"""

from __future__ import annotations

import heapq
import math
from itertools import count

import simpy
from simpy.events import Event

from vsim.engine.fairshare import SharedRate

__all__ = ["WeightedFairShare", "ShareGroup", "DEFAULT_WEIGHT", "MIN_WEIGHT", "MAX_WEIGHT"]

#: cgroup v2 ``cpu.weight``: default, smallest and largest value the kernel accepts.
DEFAULT_WEIGHT = 100
MIN_WEIGHT = 1
MAX_WEIGHT = 10_000

_EPS = 1e-12


class ShareGroup:
    """One cgroup's CPU: its weight, its runnable threads and their virtual time.

    Get one with :meth:`WeightedFairShare.group`; pass it to
    :meth:`WeightedFairShare.use`.
    """

    __slots__ = ("owner", "name", "weight", "per_thread", "heap", "cancelled", "n", "vtime", "rate")

    def __init__(self, owner: WeightedFairShare, name: str, weight: float, per_thread: bool = False) -> None:
        self.owner = owner
        self.name = name
        self.weight = float(weight)
        self.per_thread = per_thread  # the root pool: every thread is its own entity
        self.heap: list[tuple[float, int, Event]] = []
        self.cancelled: set[int] = set()
        self.n = 0  # runnable threads (jobs being served)
        self.vtime = 0.0  # work each of its threads has received while active
        self.rate = 0.0  # what each of its threads receives per second now

    @property
    def entity_weight(self) -> float:
        return self.weight * self.n if self.per_thread else self.weight

    def __repr__(self) -> str:
        return f"ShareGroup({self.name!r}, weight={self.weight:g}, threads={self.n})"


class WeightedFairShare(SharedRate):
    """Hierarchical weighted processor sharing with a per-thread rate cap.

    The same interface as :class:`~vsim.engine.fairshare.FairShare` (``use``,
    ``cancel``, ``utilisation``, ``active``, ``work_done``...), plus
    :meth:`group` and the ``group=`` argument of :meth:`use`. Jobs without a
    group are root tasks of weight 100 each.
    """

    _timer_at: float  # when _timer fires; set together with it

    def __init__(self, env: simpy.Environment, capacity: float, job_cap: float | None = None,
                 name: str = "resource") -> None:
        super().__init__(env, capacity, job_cap, name)
        self.root = ShareGroup(self, "root", DEFAULT_WEIGHT, per_thread=True)
        self._active: dict[ShareGroup, None] = {}  # groups with runnable threads, in order of arrival
        self._seq = count()
        self._timer: Event | None = None
        self._due = math.inf
        self._due_group: ShareGroup | None = None

    # -- groups and state ------------------------------------------------------
    def group(self, name: str, weight: float = DEFAULT_WEIGHT) -> ShareGroup:
        """A new cgroup of ``cpu.weight`` ``weight`` (1..10000) on this CPU."""
        if not (isinstance(weight, int | float) and MIN_WEIGHT <= weight <= MAX_WEIGHT):
            raise ValueError(f"{self.name}: cpu.weight of {name!r} must be {MIN_WEIGHT}..{MAX_WEIGHT}, got {weight!r}")
        return ShareGroup(self, name, weight)

    # -- mechanics -------------------------------------------------------------
    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._t_last
        if dt > 0:
            used = 0.0
            for g in self._active:
                g.vtime += dt * g.rate
                used += g.rate * g.n
            self._work_done += dt * used
            self._t_last = now

    def _rebalance(self) -> None:
        """Water-fill the capacity over the active groups (see the module docstring)."""
        groups = list(self._active)
        cap = self.job_cap
        if sum(g.n for g in groups) * cap <= self.capacity:
            for g in groups:
                g.rate = cap
            return
        # Saturation point of each group: lambda at which lambda x weight = its threads x cap.
        order = sorted(groups, key=lambda g: g.n * cap / g.entity_weight)
        c_left = self.capacity
        w_left = sum(g.entity_weight for g in groups)
        i = 0
        while i < len(order):
            g = order[i]
            if g.n * cap * w_left <= c_left * g.entity_weight:  # capped at lambda = c_left / w_left
                g.rate = cap
                c_left -= g.n * cap
                w_left -= g.entity_weight
                i += 1
            else:
                break
        lam = max(c_left, 0.0) / w_left if w_left > 0 else 0.0
        for g in order[i:]:
            g.rate = min(cap, lam * g.entity_weight / g.n)

    def use(self, work: float, group: ShareGroup | None = None) -> simpy.Event:
        """Start a job (one thread) needing ``work`` units in ``group`` (default:
        a root task); return an event that fires when it is done."""
        if not 0.0 <= work < math.inf:
            raise ValueError(f"{self.name}: work must be a finite number >= 0, got {work!r}")
        g = self.root if group is None else group
        if g.owner is not self:
            raise ValueError(f"{self.name}: group {g.name!r} belongs to another resource ({g.owner.name})")
        done = Event(self.env)
        if work == 0:
            done.succeed(0.0)
            return done
        self._advance()
        seq = next(self._seq)
        done._vsim_job = (g, seq)  # type: ignore[attr-defined]  # a tag on SimPy's Event: lets cancel() find the job
        heapq.heappush(g.heap, (g.vtime + work, seq, done))
        g.n += 1
        self._active[g] = None
        self._n += 1
        if self._n > self.peak_jobs:
            self.peak_jobs = self._n
        self._rebalance()
        self._reschedule()
        return done

    def cancel(self, job: simpy.Event) -> None:
        """Withdraw an unfinished job: it stops receiving service, its event never fires."""
        ref = getattr(job, "_vsim_job", None)
        if ref is None or job.triggered:
            return
        g, seq = ref
        if g.owner is not self or seq in g.cancelled:
            return
        self._advance()
        job._vsim_job = None  # type: ignore[attr-defined]  # cancelling twice is harmless
        g.cancelled.add(seq)
        self._drop(g)
        self._rebalance()
        self._reschedule()

    def _drop(self, g: ShareGroup) -> None:
        """Forget cancelled heads; count the cancelled job out of its group."""
        g.n -= 1
        self._n -= 1
        heap = g.heap
        while heap and heap[0][1] in g.cancelled:
            g.cancelled.discard(heapq.heappop(heap)[1])
        if g.n == 0:
            del self._active[g]
            g.rate = 0.0
            g.heap.clear()
            g.cancelled.clear()

    def _on_capacity(self, before: float) -> None:
        self._rebalance()
        self._reschedule()

    def _reschedule(self) -> None:
        """Arm the one timer for the earliest completion over all group heads."""
        best, best_g = math.inf, None
        for g in self._active:
            d = (g.heap[0][0] - g.vtime) / g.rate if g.rate > 0 else math.inf
            if d < best:
                best, best_g = d, g
        if best_g is None:
            if self._timer is not None:
                self._timer.callbacks.clear()
                self._timer = None
            self._due, self._due_group = math.inf, None
            return
        now = self.env.now
        due = now + max(best, 0.0)
        self._due, self._due_group = due, best_g
        if self._timer is not None:
            if self._timer_at <= due:
                return  # it fires first and re-arms
            self._timer.callbacks.clear()
        t = self._timer = self.env.timeout(due - now)
        self._timer_at = due
        t.callbacks.append(self._on_timer)

    def _on_timer(self, ev: Event) -> None:
        self._timer = None
        now = self.env.now
        if now < self._due:  # the finish moved later since this timer was armed: re-arm
            t = self._timer = self.env.timeout(self._due - now)
            self._timer_at = self._due
            t.callbacks.append(self._on_timer)
            return
        self._advance()
        finished = []
        for g in list(self._active):
            heap = g.heap
            limit = g.vtime + _EPS * max(1.0, abs(g.vtime))
            while heap:
                mark, seq, job = heap[0]
                if seq in g.cancelled:
                    heapq.heappop(heap)
                    g.cancelled.discard(seq)
                    continue
                # Done: reached its mark, or it is the head this timer was for, or what
                # is left would take less than the clock can resolve.
                if not (mark <= limit or g is self._due_group or (g.rate > 0 and now + (mark - g.vtime) / g.rate == now)):
                    break
                heapq.heappop(heap)
                if g is self._due_group:
                    self._due_group = None  # force only the one head the timer was armed for
                g.n -= 1
                self._n -= 1
                finished.append(job)
            if g.n == 0:
                del self._active[g]
                g.rate = 0.0
                heap.clear()
                g.cancelled.clear()
        self._rebalance()
        for job in finished:
            self.jobs_completed += 1
            job.succeed(now)
        self._reschedule()

    def __repr__(self) -> str:
        return (f"WeightedFairShare({self.name!r}, capacity={self.capacity:g}, job_cap={self.job_cap:g}, "
                f"active={self.active}, groups={len(self._active)})")
