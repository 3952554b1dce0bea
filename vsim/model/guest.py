"""A guest (VM, container or microVM) and its life so far.

A :class:`Guest` lives through ``requested -> placed (or rejected) ->
provisioning -> booting -> running -> stopping -> stopped`` (or ``failed``):
:mod:`vsim.model.lifecycle` moves it along; the times it reached each state
are kept on it as plain numbers, and become one row of the instances table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from vsim.model.footprint import guest_memory_mib
from vsim.spec.profile import Profile
from vsim.spec.scenario import Image, Workload

if TYPE_CHECKING:
    from vsim.engine.server import Request, Server
    from vsim.model.host import Host, PlatformOnHost


class Cancellable(Protocol):
    """Work that can be withdrawn: a fair-share resource (given its job) or a solo run."""

    def cancel(self, job: Any) -> None: ...


class Guest:
    """One VM, container or microVM and its life so far (times in seconds)."""

    __slots__ = (
        "id", "workload", "profile", "kind", "platform", "host", "image", "clone",
        "requested_s", "placed_s", "provisioned_s", "ready_s", "stop_s", "stopped_s",
        "state", "reason", "memory_mib", "vcpus", "disk_mb", "pulled_mb", "lifetime_s",
        "process", "job", "held", "resident_on", "scale", "scale_level", "restarted_s", "moves", "refused_by",
        "cache_hits", "cache_misses",
    )

    def __init__(self, gid: int, workload: Workload, profile: Profile, image: Image | None,
                 requested_s: float, lifetime_s: float) -> None:
        self.id = gid
        self.workload = workload
        self.profile = profile
        self.kind = profile.guest_kind
        self.platform = profile.name
        self.host: Host | None = None
        self.image = image
        self.clone = workload.clone or profile.default_clone
        self.requested_s = requested_s
        self.placed_s = math.nan
        self.provisioned_s = math.nan
        self.ready_s = math.nan
        self.stop_s = math.nan
        self.stopped_s = math.nan
        self.state = "requested"
        self.reason = ""
        self.refused_by = ""  # if rejected: the binding resource (vsim.model.placement.Refusal)
        self.vcpus = workload.vcpus
        self.memory_mib = guest_memory_mib(profile, workload.memory_mib)
        self.disk_mb = 0.0
        self.pulled_mb = 0.0
        self.lifetime_s = lifetime_s
        self.process: simpy.Process | None = None
        # Shared-resource work in progress: (a fair-share resource and its job,
        # or a solo run and None), withdrawn with ``job[0].cancel(job[1])``.
        self.job: tuple[Cancellable, simpy.Event | None] | None = None
        # The control-plane worker it holds or queues for: (server, request) (vsim.model.phases).
        self.held: tuple[Server, Request] | None = None
        self.resident_on: PlatformOnHost | None = None  # where it counts as running (vsim.model.lifecycle)
        # Its start phases need scale x their calibrated work (vsim.model.variability);
        # scale_level is which of the equally likely levels it drew (-1: none, scale 1).
        self.scale = 1.0
        self.scale_level = -1
        self.restarted_s = math.nan  # when it last ran again after a cold migration (see running_since_s)
        # Hosts it moved between: (time, from host index, to host index), or None if it never moved.
        self.moves: list[tuple[float, int, int]] | None = None
        # Which start phases' shared reads the host's page cache held when its
        # boot began (bit k: phase k), and which it must read (vsim.model.phases).
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def name(self) -> str:
        """``WORKLOAD-ID``, e.g. ``web-12`` (made when asked: most guests are never named)."""
        return f"{self.workload.name}-{self.id}"

    @property
    def running_since_s(self) -> float:
        """When it last started running: its ready time, or when a cold
        migration's boot on its new host finished (NaN if it never ran)."""
        return self.ready_s if self.restarted_s != self.restarted_s else self.restarted_s

    @property
    def startup_s(self) -> float:
        return self.ready_s - self.requested_s
