"""Migration: moving a guest from one host to another, and what it costs.

**Live migration (pre-copy).** A VM keeps running while its memory is copied
to the target host. Round 0 sends all of its memory, ``V`` MB, at the stream's
bandwidth ``R``; meanwhile the guest writes to memory at its *dirty rate* ``D``,
so round 1 must resend what was dirtied during round 0, ``D * V / R``; round
``k`` sends ``V (D/R)^k``. When what is left could be sent within the *downtime
limit* (QEMU: 300 ms), the guest is paused, the rest is sent (that pause is the
downtime the users see) and it resumes on the target. With ``D < R`` the rounds
shrink geometrically; with ``D >= R`` they never do, and only the round limit
ends the migration, with a long downtime, unless *auto-converge* throttles the
guest's CPU (QEMU: 20 % after two rounds that dirtied more than half of what
they sent, then +10 % per such round, at most 99 %), which lowers ``D``.

The stream is capped at the migration bandwidth (QEMU's default 128 MiB/s) and
it crosses the network interface of **both** hosts: it is sent in one-second
chunks, each of which is a job on the source NIC and on the target NIC and
lasts at least ``chunk / cap``. So a chunk takes as long as the slower of the
cap and the two NICs' fair shares: a busy NIC (other migrations, image pulls,
services) stretches the rounds, the guest dirties more meanwhile, and the
migration needs more rounds. The guest's disk is assumed to be on shared
storage (the usual set-up for live migration): only memory moves; its disk
space reservation follows it.

**Cold migration.** The guest is shut down, its disk (the image plus its own
volume) is copied over both NICs and disks, and it boots on the target. If the
target platform stores disks in another format (qcow2 for KVM, vmdk for ESXi,
vdi for VirtualBox, vhdx for Hyper-V) the disk must first be converted
(``qemu-img convert``): CPU and disk work in proportion to the image size, on
the target host. Moving between platforms of the same format skips it: the
course's "不同的虚拟机技术，镜像格式不同" is exactly this extra step.

**Containers** do not migrate: one is stopped, its image layers are pulled on
the target if they are missing there, and it starts again. What it wrote to its
writable layer is lost; data on a volume is copied.

Every migration is one row of the ``migrations`` table (see
:data:`vsim.results.COLUMNS`).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import simpy

from vsim.mechanisms.cgroups import use_all
from vsim.model.lifecycle import gone, resident
from vsim.model.mechanism import Mechanism

__all__ = ["COLUMNS", "Migrations", "live_migrate", "reserve", "release", "cold_migrate", "schedule_migration",
           "CONVERT_CPU_S_PER_MB", "STREAM_CHUNK_S", "writable_layer_mb", "written_since_start"]

#: The tables this module records: table -> column -> (type and unit, meaning).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "migrations": {
        "id": ("int", "guest id (joins instances.id); -1 if the guest did not exist yet"),
        "name": ("str", "guest name"),
        "workload": ("str", "workload of the guest"),
        "cause": ("str", "scenario (migrations:) or consolidation"),
        "mode": ("str", "live (pre-copy of memory while it runs) or cold (stop, copy/convert or pull, boot)"),
        "source": ("str", "host it left"),
        "target": ("str", "host it went to (or was meant to)"),
        "from_platform": ("str", "platform on the source"),
        "to_platform": ("str", "platform on the target (differs after a cold migration across families)"),
        "start_s": ("float, s", "time the migration started"),
        "end_s": ("float, s", "time it ended (done, aborted or refused)"),
        "total_s": ("float, s", "end_s - start_s"),
        "rounds": ("int", "pre-copy rounds sent while the guest ran (live); 0 for cold"),
        "downtime_s": ("float, s", "time the guest did not run: the stop-and-copy (live) or stop to ready again (cold); NaN if not done"),
        "mb_moved": ("float, MB", "memory (live, every round) or disk (cold) sent over the network"),
        "converged": ("bool", "live: the last remainder fitted the downtime limit (False: ended by max_rounds)"),
        "throttle_max": ("float, 0-1", "highest auto-converge CPU throttle applied to the guest"),
        "conversion_s": ("float, s", "time spent converting the disk image to the target's format (0: same format)"),
        "data_lost_mb": ("float, MB", "data in a container's writable layer, lost by the move"),
        "outcome": ("str", "done; or refused / skipped / aborted with the reason"),
    },
}

MB_PER_MIB = 1.048576
MIB_PER_GIB = 1024.0

# assumption: qemu-img convert between uncompressed formats runs at roughly
# 250 MB/s of image per core (its CPU work is mostly checksumming and copying
# clusters), i.e. 0.004 core-seconds per MB; it also reads and writes every byte.
CONVERT_CPU_S_PER_MB = 0.004
# The migration stream and disk copies are sent in chunks of about this many
# seconds, so that other traffic arriving meanwhile shares the NICs with them.
STREAM_CHUNK_S = 1.0
# QEMU auto-converge (source: QEMU migration/options.c, defaults in percent).
THROTTLE_TRIGGER = 0.50
THROTTLE_INITIAL = 0.20
THROTTLE_INCREMENT = 0.10
THROTTLE_MAX = 0.99


class Migrations(Mechanism):
    """Runs the scenario's scheduled ``migrations:`` and keeps track of the
    live migrations under way (any caller's: the consolidator's too)."""

    tables = ("migrations",)

    def __init__(self, scheduled=()) -> None:
        self.scheduled = list(scheduled)
        self.in_flight: set[int] = set()  # ids of guests being live-migrated now

    def attach(self, world) -> None:
        self.world = world
        for m in self.scheduled:
            world.env.process(_scheduled(world, m))

    def migrating(self, g) -> bool:
        """Whether a live migration of ``g`` is under way."""
        return g.id in self.in_flight


def _in_flight(world) -> set[int]:
    m = world.mechanism(Migrations)
    if m is None:
        raise RuntimeError("live migration needs the Migrations mechanism attached to the world")
    return m.in_flight


def _scheduled(world, m):
    env = world.env
    if m.at_s > env.now:
        yield env.timeout(m.at_s - env.now)
    n = -1
    g = None
    for cand in world.guests:
        if cand.workload.name == m.workload:
            n += 1
            if n == m.guest:
                g = cand
                break
    if g is None:
        _record(world, None, m.mode, "scenario", None, None, env.now, outcome=(
            f"skipped: guest {m.guest} of workload {m.workload!r} had not been requested by {env.now:g} s"),
            workload=m.workload)
        return
    dirty = g.workload.dirty_mb_s if m.dirty_mb_s is None else m.dirty_mb_s
    yield from schedule_migration(world, g, m.to, m.mode, m.limits, dirty, m.platform, "scenario")


def schedule_migration(world, g, to: str, mode: str, limits, dirty_mb_s: float,
                       platform: str | None = None, cause: str = "scenario"):
    """Pick a host of ``to`` (host or group name) with room and migrate ``g`` there."""
    env = world.env
    if g.state != "running":
        _record(world, g, mode, cause, g.host, None, env.now,
                outcome=f"skipped: the guest was {g.state}, not running")
        return
    prof = world.scenario.profile(platform) if platform else None
    reasons = []
    for h in world.hosts:
        if to not in (h.name, h.group) or h is g.host:
            continue
        p = prof
        if p is None:
            p = g.profile if g.platform in h.platforms else _same_kind(world, h, g)
        if p is None:
            reasons.append(f"{h.name} runs no {g.kind} platform")
            continue
        if mode == "live" and p.name != g.platform:
            reasons.append(f"{h.name} does not run {g.platform} (a live migration keeps the platform)")
            continue
        why = reserve(world, g, h, p, mode)
        if why:
            reasons.append(why)
            continue
        if mode == "live":
            yield from live_migrate(world, g, h, limits, dirty_mb_s, cause, reserved=True)
        else:
            yield from cold_migrate(world, g, h, p, cause, reserved=True)
        return
    why = "; ".join(reasons) or f"the guest is already on {to}"
    _record(world, g, mode, cause, g.host, None, env.now, outcome=f"refused: {why}")


def _same_kind(world, host, g):
    for name in host.platforms:
        p = world.scenario.profile(name)
        if p.guest_kind == g.kind:
            return p
    return None


def _shape(g, profile):
    """The guest's reservation under ``profile`` (memory overhead differs per platform)."""
    mem = g.workload.memory_mib * (1.0 - profile.page_sharing.value) + profile.guest_memory_overhead_mib.value
    return SimpleNamespace(memory_mib=mem, vcpus=g.vcpus, platform=profile.name, image=g.image)


def _target_disk_mb(world, g, host, mode: str) -> float:
    """Disk the guest takes on the target: same as now (live), its flattened disk
    (cold VM), or its own disk plus the layers the target lacks (container)."""
    if mode == "live":
        return g.disk_mb
    if g.kind == "container":
        return g.disk_mb + world.placer.extra_disk_mb(g, host.index)
    return _disk_copy_mb(g)


def _disk_copy_mb(g) -> float:
    """What a cold VM migration copies: the guest's disk, flattened (a linked
    clone's backing image goes with it)."""
    mb = g.disk_mb
    if g.image is not None and g.image.kind == "vm-disk" and g.clone != "full":
        mb += g.image.disk_mb
    return mb


def reserve(world, g, host, profile, mode: str) -> str:
    """Reserve room for ``g`` on ``host`` under ``profile`` for a ``mode``
    ("live" or "cold") migration; "" if done, else why not."""
    if host.state != "on":
        return f"{host.name} is {host.state}"
    refusal = world.placer.reserve_on(host.index, _shape(g, profile), _target_disk_mb(world, g, host, mode))
    return "" if refusal is None else refusal.message


def release(world, g, host, profile, disk_mb: float) -> None:
    """Give back a reservation taken with :func:`reserve`."""
    world.placer.release(host.index, _shape(g, profile), disk_mb)


def _stream(world, src, dst, mb: float, cap_mb_s: float, alive):
    """Send ``mb`` from ``src`` to ``dst`` at most at ``cap_mb_s``, in chunks that
    share both NICs. Returns False (early) if ``alive()`` turns false."""
    env = world.env
    remaining = mb
    chunk = cap_mb_s * STREAM_CHUNK_S
    while remaining > 0.0:
        c = remaining if remaining <= 1.001 * chunk else chunk  # no sliver of a chunk at the end
        yield env.all_of([env.timeout(c / cap_mb_s), src.nic.use(c), dst.nic.use(c)])
        remaining -= c
        if not alive():
            return False
    return True


def _copy_disk(world, src, dst, mb: float):
    """Copy ``mb`` of disk from ``src`` to ``dst``: read, send, receive, write."""
    rate = min(src.net_mb_s, dst.net_mb_s, src.read_mb_s, dst.write_mb_s)
    remaining = mb
    chunk = rate * STREAM_CHUNK_S
    while remaining > 0.0:
        c = remaining if remaining <= 1.001 * chunk else chunk
        yield from use_all(world.env, [(src.nic, src.nic.use(c)), (dst.nic, dst.nic.use(c)),
                                 (src.disk, src.disk.use(src.disk_seconds(read_mb=c))),
                                 (dst.disk, dst.disk.use(dst.disk_seconds(write_mb=c)))])
        remaining -= c


def conversion_work(host, mb: float) -> tuple[float, float]:
    """(CPU reference core-seconds, disk-seconds) to convert an ``mb`` image on ``host``."""
    return CONVERT_CPU_S_PER_MB * mb, host.disk_seconds(read_mb=mb, write_mb=mb)


def writable_layer_mb(g, now: float) -> float:
    """Data a container has written to its writable layer since it last started.

    From the workload's ``writes:`` (vsim.spec.services) when it writes to the
    writable layer; 0 for VMs (their disk goes with them) and for volumes.
    """
    w = getattr(g.workload, "writes", None)
    if g.kind != "container" or w is None or getattr(w, "to", None) != "writable-layer":
        return 0.0
    return written_since_start(g, now)


def written_since_start(g, now: float) -> float:
    """What the guest's ``writes:`` put on disk since it last started (MB)."""
    w = getattr(g.workload, "writes", None)
    if w is None:
        return 0.0
    since = g.running_since_s
    return 0.0 if math.isnan(since) else w.mb_s * max(0.0, now - since)


# -- live ------------------------------------------------------------------------

def live_migrate(world, g, target, limits, dirty_mb_s: float, cause: str = "scenario", reserved: bool = False):
    """Pre-copy ``g`` (a running VM) to ``target``; a SimPy process body."""
    env = world.env
    t0 = env.now
    src = g.host
    if not reserved:
        why = reserve(world, g, target, g.profile, "live")
        if why:
            _record(world, g, "live", cause, src, target, t0, outcome=f"refused: {why}")
            return
    disk = g.disk_mb
    cap = limits.bandwidth_mib_s * MB_PER_MIB
    mem = g.workload.memory_mib * MB_PER_MIB
    limit_s = limits.downtime_ms / 1000.0
    in_flight = _in_flight(world)
    in_flight.add(g.id)

    def alive():
        return g.state in ("running", "paused") and target.state in ("on", "draining")

    def abort(why):
        in_flight.discard(g.id)
        release(world, g, target, g.profile, disk)
        _record(world, g, "live", cause, src, target, t0, rounds=rounds, mb_moved=moved,
                throttle_max=throttle_max, outcome=f"aborted: {why}")

    to_send, rounds, moved, throttle, throttle_max, high = mem, 0, 0.0, 0.0, 0.0, 0
    while True:
        ts = env.now
        ok = yield from _stream(world, src, target, to_send, cap, alive)
        if not ok:
            abort(_why_dead(g, target))
            return
        dt = env.now - ts
        rounds += 1
        moved += to_send
        rate = to_send / dt if dt > 0 else cap
        dirtied = min(mem, dirty_mb_s * (1.0 - throttle) * dt)
        if dirtied <= rate * limit_s:
            converged = True
            break
        if rounds >= limits.max_rounds:
            converged = False
            break
        if limits.auto_converge:
            if dirtied > THROTTLE_TRIGGER * to_send:
                high += 1
                if high >= 2:
                    high = 0
                    throttle = THROTTLE_INITIAL if throttle == 0 else min(THROTTLE_MAX, throttle + THROTTLE_INCREMENT)
                    throttle_max = max(throttle_max, throttle)
        to_send = dirtied
    # Stop and copy: the guest is paused while the rest is sent.
    g.state = "paused"
    ts = env.now
    ok = yield from _stream(world, src, target, dirtied, cap, alive)
    downtime = env.now - ts
    if not ok or g.state != "paused":
        if g.state == "paused":
            g.state = "running"
        abort(_why_dead(g, target))
        return
    moved += dirtied
    in_flight.discard(g.id)
    world.move_guest(g, target)
    g.state = "running"
    world.phase_log.add(g.id, "migrate-live", t0, env.now)
    _record(world, g, "live", cause, src, target, t0, rounds=rounds, downtime_s=downtime, mb_moved=moved,
            converged=converged, throttle_max=throttle_max, outcome="done")


def _why_dead(g, target) -> str:
    if g.state not in ("running", "paused"):
        return f"the guest is {g.state}" + (f" ({g.reason})" if g.reason else "")
    return f"target {target.name} is {target.state}"


# -- cold ------------------------------------------------------------------------

def cold_migrate(world, g, target, profile=None, cause: str = "scenario", reserved: bool = False):
    """Stop ``g``, move its disk (converting it if needed) or pull its image,
    and start it on ``target`` under ``profile``; a SimPy process body that
    waits until the guest runs again (or the migration is given up)."""
    env = world.env
    t0 = env.now
    src = g.host
    old = g.profile
    new = profile or old
    disk = _target_disk_mb(world, g, target, "cold")
    if not reserved:
        why = reserve(world, g, target, new, "cold")
        if why:
            _record(world, g, "cold", cause, src, target, t0, outcome=f"refused: {why}")
            return
    done = env.event()
    state = {"moved": False}

    def steps(g):
        conv = 0.0
        lost = 0.0
        moved_mb = 0.0
        try:
            lost = writable_layer_mb(g, env.now)
            g.state = "stopping"  # what the stop hooks see: a normal stop (vsim.mechanisms.services records lost writes)
            gone(g)
            world.notify_stop(g)
            g.state = "migrating"
            yield from world.run_sequence(g, src, "stop")
            t1 = env.now
            if g.kind == "container":
                moved_mb = g.workload.disk_gib * MIB_PER_GIB * MB_PER_MIB  # the volume, if any
            else:
                moved_mb = _disk_copy_mb(g)
            if moved_mb:
                yield from _copy_disk(world, src, target, moved_mb)
                world.phase_log.add(g.id, "migrate-copy", t1, env.now)
            if g.kind != "container" and old.image_format != new.image_format:
                t2 = env.now
                cpu_s, disk_s = conversion_work(target, moved_mb)
                yield from use_all(world.env, [(target.cpu, target.cpu.use(cpu_s)), (target.disk, target.disk.use(disk_s))])
                conv = env.now - t2
                world.phase_log.add(g.id, "convert", t2, env.now)
            if target.state in ("on", "draining"):
                extra = disk - g.disk_mb if g.kind == "container" else 0.0
                world.move_guest(g, target, new)
                state["moved"] = True
                g.disk_mb = disk - extra
                target.cache_mb += extra
                outcome = "done"
            else:
                release(world, g, target, new, disk)
                outcome = f"aborted: target {target.name} is {target.state}; restarted on {src.name}"
            here = g.host
            if g.kind == "container":
                yield from world.provision(g, here)  # pulls the layers the target lacks
            g.state = "booting"
            yield from world.run_sequence(g, here, "start")
            g.state = "running"
            resident(g, here)
            g.restarted_s = env.now
            world.notify_ready(g)
            _record(world, g, "cold", cause, src, target, t0, downtime_s=env.now - t0, mb_moved=moved_mb,
                    converged=True, conversion_s=conv, data_lost_mb=lost, outcome=outcome, from_platform=old.name)
        except simpy.Interrupt as intr:
            if not state["moved"]:
                release(world, g, target, new, disk)
            _record(world, g, "cold", cause, src, target, t0, mb_moved=moved_mb, conversion_s=conv,
                    data_lost_mb=lost, outcome=f"aborted: the guest failed ({intr.cause})", from_platform=old.name)
            done.succeed()
            raise
        done.succeed()

    if not world.relocate(g, steps):
        release(world, g, target, new, disk)
        _record(world, g, "cold", cause, src, target, t0, outcome=f"skipped: the guest was {g.state}, not running")
        return
    yield done


# -- records ---------------------------------------------------------------------

def _record(world, g, mode, cause, src, dst, t0, rounds=0, downtime_s=math.nan, mb_moved=0.0,
            converged=False, throttle_max=0.0, conversion_s=0.0, data_lost_mb=0.0, outcome="done",
            workload=None, from_platform=None) -> None:
    now = world.env.now
    world.records.setdefault("migrations", []).append((
        g.id if g is not None else -1,
        g.name if g is not None else "",
        g.workload.name if g is not None else (workload or ""),
        cause, mode,
        src.name if src is not None else "",
        dst.name if dst is not None else "",
        from_platform or (g.platform if g is not None else ""),
        g.platform if g is not None and outcome == "done" else (from_platform or (g.platform if g else "")),
        t0, now, now - t0, rounds, downtime_s, mb_moved, bool(converged), throttle_max,
        conversion_s, data_lost_mb, outcome,
    ))
