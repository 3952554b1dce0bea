"""What a guest takes from its host to run one application, by platform.

The course says one host holds thousands of containers but tens of VMs
(单机支持上千个容器 / 一般几十个). Run *the same application* everywhere and
the difference is what each platform adds to it (:class:`~vsim.spec.profile.GuestOS`
and the per-guest overhead of :class:`~vsim.spec.profile.Profile`):

* a **VM** runs a whole guest kernel and OS, and is given a fixed RAM size
  when it starts: the smallest *flavor* that holds its OS and the application
  at its peak. Flavors start at the platform's ``min_memory_mib`` and double
  (OpenStack's m1.tiny 512 MB, m1.small 2048, m1.medium 4096: :data:`FLAVOR_GROWTH`).
  The host *reserves* that RAM, plus the monitor's own memory (QEMU's
  ~142 MiB); the guest *touches* only its OS and the application's working set
  at first (its *resident* memory), and its page cache grows into the rest as
  it runs. It needs whole vCPUs: at least one, as many as the application's
  peak cores.
* a **container** shares the host kernel. Docker reserves nothing (no memory
  limit unless ``--memory``): the host holds what its processes touch, plus
  the shim (~7.5 MiB) and a few kernel objects (network namespace, veth,
  cgroup, mounts). Its CPU is the application's own.
* a **microVM** is a VM with a minimal guest kernel, a small default RAM
  (Firecracker: 128 MiB) and a small monitor (~4.2 MiB).

Page sharing (KSM) merges identical pages of what is inside the guest; it
acts on resident memory (and, as placement counts it, on the reservation).

:func:`guest_needs` works this out for one profile; the density experiment
(:func:`vsim.experiments.density.density`) then *places* guests of these
needs on a host until it refuses one, once under the host's policies
(reservations, vCPU overcommit, guest limits) and once against its physical
walls (resident memory, CPU in use). The formulas are here, in one place;
the walls come from running the placer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from vsim.spec.application import Application
from vsim.spec.profile import Profile

__all__ = ["Needs", "guest_needs", "guest_memory_mib", "flavor_mib", "FLAVOR_GROWTH"]

#: VM RAM sizes grow by this factor from the platform's smallest flavor.
#: Source: OpenStack's classic default flavors double (m1.small 2048, m1.medium
#: 4096, m1.large 8192, m1.xlarge 16384 MB), as do most clouds' sizes.
FLAVOR_GROWTH = 2.0


def guest_memory_mib(profile: Profile, inside_mib: float) -> float:
    """Host memory a guest takes for ``inside_mib`` of its own memory (its RAM,
    or what a container's processes touch): that less page sharing, plus the
    platform's per-guest overhead (monitor or shim) and kernel objects."""
    return (inside_mib * (1.0 - profile.page_sharing.value) + profile.guest_memory_overhead_mib.value
            + profile.guest_os.kernel_objects_mib.value)


def flavor_mib(profile: Profile, need_mib: float) -> float:
    """The RAM a VM is given for ``need_mib``: the smallest flavor (from the
    profile's ``guest_os.min_memory_mib``, growing by :data:`FLAVOR_GROWTH`)
    that holds it; ``need_mib`` itself where the platform has no minimum."""
    size = profile.guest_os.min_memory_mib.value
    if size <= 0:
        return need_mib
    # Doubling from the smallest size; a loop of at most ~40 steps (need <= 1e13 MiB).
    while size < need_mib:
        size *= FLAVOR_GROWTH
    return size


class Needs(NamedTuple):
    """What one guest of ``platform`` takes from its host to run the application."""

    platform: str
    kind: str
    #: RAM the guest is given (VM, microVM); 0 for a container (no RAM of its own).
    ram_mib: float
    #: vCPUs placement counts: whole vCPUs for a VM, the application's average for a container.
    vcpus: float
    #: Memory placement sets aside: a VM's RAM, a container's resident memory, each with overhead.
    reserved_mib: float
    #: Memory it touches: guest OS and working set (less page sharing), plus monitor or shim and kernel objects.
    resident_mib: float
    #: CPU it keeps busy on average: the application's, plus its kernel's and monitor's idle cost.
    cpu_cores: float
    #: What to ask for in a workload's ``memory_mib`` to reserve ``reserved_mib``.
    workload_memory_mib: float
    #: The same for ``resident_mib`` (the physical wall is placed with this).
    resident_workload_mib: float
    #: Where ``resident_mib`` comes from, MiB: application, guest OS, page sharing (negative), monitor or shim, kernel objects.
    parts: dict[str, float]


def guest_needs(profile: Profile, app: Application) -> Needs:
    """What one guest of ``profile`` takes from its host to run ``app`` (see the module docstring)."""
    os_mib = profile.guest_os.memory_mib.value
    inside = os_mib + app.working_set_mib  # what is touched inside the guest
    has_ram = profile.guest_kind in ("vm", "microvm")
    if has_ram:
        ram = flavor_mib(profile, os_mib + app.peak)
        vcpus = float(max(1, math.ceil(app.peak_cores - 1e-9)))
        asked = ram
    else:
        ram = 0.0
        vcpus = app.cpu_cores
        asked = inside
    idle = profile.idle_cpu_cores.value if profile.idle_cpu_cores is not None else 0.0
    sharing = profile.page_sharing.value
    parts = {
        "application": app.working_set_mib,
        "guest_os": os_mib,
        "page_sharing": -inside * sharing,
        "monitor_or_shim": profile.guest_memory_overhead_mib.value,
        "kernel_objects": profile.guest_os.kernel_objects_mib.value,
    }
    return Needs(
        platform=profile.name, kind=profile.guest_kind, ram_mib=ram, vcpus=vcpus,
        reserved_mib=guest_memory_mib(profile, asked), resident_mib=guest_memory_mib(profile, inside),
        cpu_cores=app.cpu_cores + idle, workload_memory_mib=asked, resident_workload_mib=inside, parts=parts,
    )
