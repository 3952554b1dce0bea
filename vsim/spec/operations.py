"""Scenario fields for operating a fleet: migration, host failures, consolidation, power.

These typed, validated pieces say what an operator (or the hardware) does to
running guests; the model that acts on them is :mod:`vsim.mechanisms.migration`,
:mod:`vsim.mechanisms.faults` and :mod:`vsim.mechanisms.energy`. They live in their own module so that
:mod:`vsim.spec.scenario` only has to hang them on its models:

* ``hosts[].power``: the host's power model (idle and full-load watts, how long
  a power-on takes);
* ``hosts[].mtbf_s`` / ``hosts[].repair_s``: random host failures;
* ``workloads[].dirty_mb_s``: how fast a running guest dirties its memory, which
  decides how many pre-copy rounds a live migration needs;
* ``migrations:``: move a guest at a given time, live (pre-copy) or cold (stop,
  copy, convert the disk if the image formats differ, boot on the target);
* ``failures:``: host failures at given times (with their repair time);
* ``ha:``: restart the guests of a failed host elsewhere;
* ``consolidation:``: pack guests onto fewer hosts and power the empty ones off.

Units are in the field names, as everywhere in vsim.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from vsim.spec.fields import Name, NonNegative, Positive, StrictModel

__all__ = [
    "Power",
    "MigrationLimits",
    "Migration",
    "ScheduledFailure",
    "HAPolicy",
    "Consolidation",
]


class Power(StrictModel):
    """A host's power model: ``P = idle_w + (max_w - idle_w) * utilisation`` while on.

    Defaults (assumption): a two-socket rack server draws roughly a third of its
    full-load power when idle; published SPECpower_ssj2008 results for such
    servers lie around 50-150 W idle and 250-500 W at full load, so 100 W and
    300 W are round numbers in that range. A power-on (POST, firmware, the host
    OS and the hypervisor starting) takes minutes on a server; 120 s is an
    assumption. A host that is off draws ``off_w`` (the BMC on standby power).
    """

    idle_w: NonNegative = 100.0
    max_w: Positive = 300.0
    off_w: NonNegative = Field(default=5.0, description="standby power of a host that is off (assumption: a BMC draws a few watts)")
    power_on_s: NonNegative = 120.0

    @model_validator(mode="after")
    def _order(self) -> Power:
        if self.max_w < self.idle_w:
            raise ValueError(f"max_w: must be >= idle_w ({self.idle_w:g} W), got {self.max_w:g} W")
        return self


class MigrationLimits(StrictModel):
    """How a live (pre-copy) migration is run; the defaults are QEMU's.

    source: QEMU migration/options.c: ``DEFAULT_MIGRATE_SET_DOWNTIME 300`` (ms),
    ``MAX_THROTTLE (128 << 20)`` (bytes/s, the default bandwidth cap), and the
    auto-converge defaults ``THROTTLE_TRIGGER_THRESHOLD 50``,
    ``CPU_THROTTLE_INITIAL 20``, ``CPU_THROTTLE_INCREMENT 10``,
    ``MAX_CPU_THROTTLE 99`` (percent).

    ``max_rounds`` is an assumption: QEMU itself keeps iterating until the
    operator steps in; Xen's classic save loop gave up after about 30
    iterations, so 30 rounds end a migration that does not converge.
    """

    downtime_ms: Positive = 300.0
    bandwidth_mib_s: Positive = 128.0
    max_rounds: Annotated[int, Field(ge=1, le=10_000)] = 30
    auto_converge: bool = False


class Migration(StrictModel):
    """Move one running guest to another host at ``at_s``.

    The guest is the ``guest``-th guest (0 = the first requested) of
    ``workload``. ``to`` names a host (``NAME`` or ``NAME-k``) or a host group
    (the first host of the group that is up and has room). ``mode: live``
    copies memory while the guest runs (VMs only); ``mode: cold`` stops the
    guest, copies its disk (converting the image when the target platform uses
    another format) and boots it on the target; a container is stopped, its
    image pulled on the target, and started: its writable layer is lost.
    """

    workload: Name
    guest: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    at_s: NonNegative
    to: Name
    mode: Literal["live", "cold"] = "live"
    platform: Name | None = Field(
        default=None, description="platform on the target (cold migration); default: the guest's own if the target runs it"
    )
    dirty_mb_s: NonNegative | None = Field(default=None, description="override the workload's dirty_mb_s for this migration")
    limits: MigrationLimits = MigrationLimits()


class ScheduledFailure(StrictModel):
    """Host ``host`` fails at ``at_s`` and is repaired ``repair_s`` later."""

    host: Name
    at_s: NonNegative
    repair_s: NonNegative = 3600.0


class HAPolicy(StrictModel):
    """High availability: restart the guests of a failed host on other hosts.

    A guest that finds no room is retried every ``retry_s`` (a repaired or
    powered-on host may free room) until ``give_up_s`` after the failure; then
    it is recorded as lost.
    """

    restart: bool = True
    retry_s: Positive = 30.0
    give_up_s: NonNegative = 3600.0


class Consolidation(StrictModel):
    """Pack guests onto fewer hosts and power the empty ones off.

    Every ``interval_s`` the policy powers off hosts that hold no guest (keeping
    at least ``min_hosts_on``), then looks for the least used host whose
    utilisation (the larger of its reserved vCPU and memory fractions) is at
    most ``low_util``; if every one of its guests is a running VM that fits on
    the other hosts without taking any above ``high_util``, it live-migrates
    them there and powers the host off. When a guest later finds no room, a
    host that is off is powered on (``hosts[].power.power_on_s``) and the guest
    waits for it.
    """

    interval_s: Positive = 600.0
    low_util: Annotated[float, Field(ge=0, le=1)] = 0.4
    high_util: Annotated[float, Field(gt=0, le=1)] = 0.9
    min_hosts_on: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    power_off: bool = True
    limits: MigrationLimits = MigrationLimits()
