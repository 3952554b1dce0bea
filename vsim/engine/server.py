"""A first-come, first-served server: where control-plane requests queue.

Disks and CPUs are shared (:mod:`vsim.engine.fairshare`): ten readers all make
progress at once, each more slowly. A control plane is different: it takes
requests *one at a time per worker*, in the order they came, and the others
wait their turn. Real examples:

* the container daemon (``dockerd``) handling ``docker run`` for a boot storm;
* the kernel's network-namespace lock (``rtnl``): every veth pair or namespace
  created on a host takes it, one after the other;
* a hypervisor toolstack: libvirtd's pool of worker threads (``max_workers``,
  20 by default), or Xen's ``xl`` talking to XenStore.

Queueing theory calls this a FIFO multi-server queue: ``c`` identical
*workers*; a request waits until a worker is free, then holds it for its
*service time*; requests are served in arrival order (first come, first
served). With Poisson arrivals of rate ``lambda`` and exponential service of
rate ``mu`` it is the M/M/c queue: the utilisation is
``rho = lambda / (c mu)`` (it must be below 1, or the queue grows forever) and
the mean wait before service is Erlang's C formula,
``Wq = C(c, lambda/mu) / (c mu - lambda)``. The wait grows like
``1 / (1 - rho)``: a daemon at 90 % load makes requests wait about ten times
longer than one at 50 %, which is why a boot storm of containers is slow even
when each ``docker run`` takes a fraction of a second.
``tests/test_server.py`` checks this server against Erlang C, and against
Pollaczek-Khinchine for constant service times (M/D/1).

Two ways to use a worker:

* ``server.serve(seconds)``: a request that needs ``seconds`` of a worker's
  time. Its event fires when the request is done; its value is the time it
  waited in the queue.
* ``server.acquire()``: hold a worker for as long as the caller likes, because
  a boot phase may hold the daemon while it also uses CPU and disk. The event
  fires when a worker is granted (its value: the wait); ``server.release(req)``
  gives the worker back. It is a context manager, like SimPy's own requests::

      with server.acquire() as req:
          yield req                      # a worker is ours
          yield cpu.use(0.5)             # ... while we do other work
      # leaving the block released it (or withdrew it, if we never got it)

``release`` is also how a request is withdrawn (its guest failed), whatever
state it is in: a waiting request leaves the queue and its event never fires;
a held worker, or a worker serving a ``serve`` request, is free at once and the
next request in the queue starts at that same instant. The others keep their
places: withdrawing never reorders the queue.

How it is built. The queue is a :class:`collections.deque` of requests in
arrival order. Withdrawing a waiting request only marks it; it is skipped when
it reaches the head (so withdrawing is O(1), not a search of the queue), and a
count of live waiting requests keeps ``queue_length`` exact. Handing a freed
worker to the next request is a ``popleft``: every operation costs O(1)
amortised, however long the queue. A ``serve`` request costs two SimPy events
(its service timer, then its completion), an ``acquire`` one (the grant);
nothing else is scheduled. (``simpy.Resource`` is also FIFO with
``capacity = workers``: it grants only the head of its queue. But its queue is
a list, so a withdrawal is a ``list.remove``, a scan of every waiting request;
a release is one more event, and the freed slot is handed over only when that
event is processed; and ``serve`` would need a process per request. Writing
the queue here is shorter than working around all three.) A withdrawn
request's timer, already in SimPy's queue, still goes off at its time and does
nothing, so ``env.run()`` may end a little later than the last real event.

Example: one worker, three requests of 2 s each arriving together at t = 0.
They are done at 2, 4 and 6 s, having waited 0, 2 and 4 s.

>>> import simpy
>>> env = simpy.Environment()
>>> daemon = Server(env, workers=1, name="dockerd")
>>> reqs = [daemon.serve(2.0) for _ in range(3)]
>>> env.run()
>>> [r.finished for r in reqs], [r.value for r in reqs]
([2.0, 4.0, 6.0], [0.0, 2.0, 4.0])
>>> daemon.served, daemon.total_wait, daemon.utilisation()
(3, 6.0, 1.0)
"""

from __future__ import annotations

import math
from collections import deque
from types import TracebackType

import simpy
from simpy.events import NORMAL, Event, EventPriority

__all__ = ["Request", "Server"]

WAITING, HOLDING, DONE, WITHDRAWN = "waiting", "holding", "done", "withdrawn"
LATE = EventPriority(NORMAL + 1)  # after every normal event of an instant (SimPy orders by time, then priority)


class Request(Event):
    """One request to a :class:`Server`: it waits, holds a worker, then is done.

    For ``serve`` the event fires when the service is over; for ``acquire``
    when the worker is granted. Either way its value is the time it waited.
    A withdrawn request's event never fires.

    ``state`` is one of ``"waiting"``, ``"holding"`` (a worker is its own),
    ``"done"`` or ``"withdrawn"``; ``arrived``, ``started`` and ``finished``
    are simulation times (``None`` until they happen; a withdrawn request has
    no ``finished``).
    """

    def __init__(self, server: Server, service: float | None) -> None:
        super().__init__(server.env)
        self.server = server
        self.service = service  # seconds of work (serve), or None: held until released
        self.state = WAITING
        self.queued = False  # in the server's queue (a keyed request waits for its instant's turn first)
        self.arrived = float(server.env.now)
        self.started: float | None = None
        self.finished: float | None = None

    @property
    def wait(self) -> float | None:
        """Seconds spent waiting for a worker (``None`` while still waiting)."""
        return None if self.started is None else self.started - self.arrived

    def _service_over(self, _timer: Event) -> None:
        self.server._finish(self)

    def __enter__(self) -> Request:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.release(self)

    def __repr__(self) -> str:
        return f"<Request {self.state} at {self.server.name!r}, arrived {self.arrived:g}>"


class Server:
    """``workers`` identical workers serving requests first come, first served.

    Counters: ``queue_length`` (requests waiting), ``busy`` (workers in use),
    ``arrived``, ``started``, ``served`` (finished their service, or released
    by their holder), ``withdrawn``, ``total_wait`` (seconds waited by the
    requests that started) and :meth:`utilisation`.
    """

    __slots__ = ("env", "name", "workers", "busy", "queue_length", "arrived", "started", "served",
                 "withdrawn", "total_wait", "_queue", "_t0", "_t_last", "_busy_integral", "_pending")

    def __init__(self, env: simpy.Environment, workers: int, name: str = "") -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"{name or 'server'}: workers must be an integer >= 1, got {workers!r}")
        self.env = env
        self.name = name
        self.workers = workers
        self.busy = 0
        self.queue_length = 0  # live (not withdrawn) requests in _queue
        self.arrived = 0
        self.started = 0
        self.served = 0
        self.withdrawn = 0
        self.total_wait = 0.0
        self._queue: deque[Request] = deque()  # arrival order; withdrawn ones skipped at the head
        self._t0 = env.now
        self._t_last = env.now
        self._busy_integral = 0.0  # worker-seconds of service up to _t_last
        self._pending: list[tuple[object, int, Request]] | None = None  # keyed arrivals of this instant

    # -- what a model calls --------------------------------------------------------
    def serve(self, seconds: float, key: object = None) -> Request:
        """A request needing ``seconds`` of one worker; fires when it is done.
        ``key``: see :meth:`acquire`."""
        if not 0.0 <= seconds < math.inf:
            raise ValueError(f"{self.name or 'server'}: service time must be a finite number >= 0, "
                             f"got {seconds!r}")
        return self._enter(Request(self, float(seconds)), key)

    def acquire(self, key: object = None) -> Request:
        """Claim a worker, to hold until :meth:`release`; fires when it is granted.

        Requests arriving at the same instant are served in the order they
        were made, unless they give a ``key``: keyed requests of one instant
        join the queue in the order of their keys, after every other event of
        that instant has happened (one event per instant, at a priority after
        SimPy's normal one). A model whose same-instant events may come in
        different orders (vsim's solo runs and step-by-step jobs) keys its
        requests (by guest id), so the queue does not depend on that order.
        The grant happens at the same simulated time either way.
        """
        return self._enter(Request(self, None), key)

    def _enter(self, req: Request, key: object) -> Request:
        self.arrived += 1
        if key is None:
            return self._arrive(req)
        pending = self._pending
        if pending is None:
            pending = self._pending = []
            tick = Event(self.env)
            tick._ok = True
            tick._value = None
            tick.callbacks.append(self._admit_pending)
            self.env.schedule(tick, priority=LATE)
        pending.append((key, len(pending), req))
        return req

    def _admit_pending(self, _tick: Event) -> None:
        """The instant's keyed arrivals join the queue in key order."""
        pending, self._pending = self._pending or [], None
        pending.sort(key=lambda p: (p[0], p[1]))
        for _, _, req in pending:
            if req.state == WAITING:
                self._arrive(req)

    def release(self, req: Request) -> None:
        """Give the request up: free its worker, or take it out of the queue.

        A held worker (``acquire``) released by its holder counts as served. A
        ``serve`` request still in service, or any request still waiting, is
        withdrawn: it never fires. Releasing a finished or withdrawn request
        does nothing.
        """
        if req.server is not self:
            raise ValueError(f"{req!r} belongs to another server")
        if req.state == WAITING:
            req.state = WITHDRAWN
            self.withdrawn += 1
            if req.queued:
                self.queue_length -= 1  # its entry stays in _queue, skipped when it surfaces
        elif req.state == HOLDING:
            if req.service is None:
                req.state = DONE
                req.finished = float(self.env.now)
                self.served += 1
            else:
                req.state = WITHDRAWN  # its timer goes off later and finds it withdrawn
                self.withdrawn += 1
            self._free_worker()

    def busy_seconds(self, now: float | None = None) -> float:
        """Worker-seconds of service given since the server was made, up to ``now``."""
        now = self.env.now if now is None else now
        return self._busy_integral + self.busy * (now - self._t_last)

    def utilisation(self, now: float | None = None) -> float:
        """Busy worker-seconds / (workers x elapsed time), from creation to ``now``."""
        now = self.env.now if now is None else now
        elapsed = now - self._t0
        return self.busy_seconds(now) / (self.workers * elapsed) if elapsed > 0 else 0.0

    @property
    def mean_wait(self) -> float:
        """Mean wait of the requests that have started (0 if none has)."""
        return self.total_wait / self.started if self.started else 0.0

    # -- mechanics ---------------------------------------------------------------
    def _account(self) -> None:
        """Bring the busy integral up to now (before ``busy`` changes)."""
        now = self.env.now
        self._busy_integral += self.busy * (now - self._t_last)
        self._t_last = now

    def _arrive(self, req: Request) -> Request:
        if self.busy < self.workers and not self.queue_length:
            self._queue.clear()  # only withdrawn entries can be left: drop them
            self._start(req)
        else:
            self._queue.append(req)
            req.queued = True
            self.queue_length += 1
        return req

    def _start(self, req: Request) -> None:
        """Give a worker to ``req`` now."""
        self._account()
        self.busy += 1
        now = float(self.env.now)
        req.state = HOLDING
        req.started = now
        wait = now - req.arrived
        self.started += 1
        self.total_wait += wait
        if req.service is None:
            req.succeed(wait)
        else:
            self.env.timeout(req.service).callbacks.append(req._service_over)

    def _finish(self, req: Request) -> None:
        """A ``serve`` request's service time is over."""
        if req.state != HOLDING:  # withdrawn while in service: its worker is long free
            return
        req.state = DONE
        req.finished = float(self.env.now)
        self.served += 1
        req.succeed(req.started - req.arrived)  # type: ignore[operator]  # started is set when HOLDING
        self._free_worker()

    def _free_worker(self) -> None:
        """A worker is free: hand it to the first live request in the queue."""
        self._account()
        self.busy -= 1
        if self.queue_length:
            queue = self._queue
            req = queue.popleft()
            while req.state != WAITING:  # withdrawn: skip (a live one is further on)
                req = queue.popleft()
            self.queue_length -= 1
            self._start(req)

    def __repr__(self) -> str:
        return (f"Server({self.name!r}, workers={self.workers}, busy={self.busy}, "
                f"queue_length={self.queue_length})")
