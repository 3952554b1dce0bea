"""The platform stack: which software layers sit between the hardware and an application.

The course draws virtualization as layers (分层). With a **bare-metal** (Type 1,
裸机虚拟化) hypervisor, the hypervisor runs directly on the hardware: KVM is a
part of the Linux kernel, ESXi and Xen boot on the server themselves. Each VM
then runs its own guest OS kernel, and the application runs on that. With a
**hosted** (Type 2, 宿主型虚拟化) hypervisor, a general-purpose host OS (a
desktop Windows or Linux) comes first, and the hypervisor is an application of
that OS, so there is one layer more, and the host pays for it in memory and CPU.
A **container** has no guest kernel at all: its processes run on the host's
kernel, fenced by namespaces and cgroups. A **microVM** is a VM with a minimal
monitor and a minimal guest kernel.

:func:`platform_stack` reads one platform profile and lists its layers from the
hardware up, with what each layer costs as the profile states it: memory and
CPU taken once per host (the *host footprint*) and memory taken once per guest
(the *per-guest overhead*, e.g. QEMU's ~142 MiB). The guest's own RAM is not in
the table: it is what the workload asks for (``memory_mib``), whatever the
platform. Nothing here is simulated; the numbers are the profile's, with their
provenance. :func:`vsim.plots.stack_diagram` draws the table.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vsim.experiments.testbed import resolve_platform

__all__ = ["platform_stack", "COLUMNS"]

#: The columns of the stack table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "stack": {
        "platform": ("str", "profile name"),
        "level": ("int", "position from the bottom: 0 = the hardware"),
        "layer": ("str", "the software layer (hypervisor, host OS, guest OS kernel, application, ...)"),
        "scope": ("str", "hardware, per host (paid once per host) or per guest (paid for every guest)"),
        "what": ("str", "what the layer is, in a few words"),
        "memory_mib": ("float, MiB", "memory the profile charges for the layer (host footprint or per-guest overhead); NaN if none or the guest's own RAM"),
        "cpu_cores": ("float, cores", "cores the layer keeps busy on every host (host footprint); NaN if none"),
        "provenance": ("str", "source or assumption of the layer's numbers"),
    },
}

_NAN = math.nan


def _host_layers(p) -> list[tuple[str, str]]:
    """(layer name, what it is) of the layers paid once per host, bottom up."""
    if p.kind == "hypervisor" and p.hypervisor_type == 2:
        return [("host OS (general-purpose)", f"a desktop OS; {p.title} runs as its application")]
    if p.kind == "hypervisor":
        return [(f"hypervisor: {p.name}", "runs directly on the hardware (bare-metal)")]
    if p.kind == "container-engine":
        return [(f"host OS kernel + {p.name} engine", "one kernel shared by every container")]
    if p.kind == "microvm":
        return [("host OS kernel (with KVM)", "a minimal monitor per microVM")]
    return [("host OS", "the application is a plain process")]


def _guest_layers(p) -> list[tuple[str, str, bool]]:
    """(layer, what it is, carries the per-guest overhead) per guest, bottom up."""
    rows: list[tuple[str, str, bool]] = []
    if p.kind == "hypervisor":
        monitor = "hypervisor process per VM" if p.hypervisor_type == 2 else "VM monitor (device model)"
        rows.append((monitor, "emulated devices, outside the guest's RAM", True))
    elif p.kind == "microvm":
        rows.append(("microVM monitor", "a minimal device model, outside the guest's RAM", True))
    elif p.kind == "container-engine":
        rows.append(("container runtime shim", "namespaces + cgroups + rootfs; no kernel of its own", True))
    if not p.shares_host_kernel and p.kind == "container-engine":
        rows.append(("sandbox kernel", "a kernel of its own per container (a small VM or a user-space kernel)",
                     False))
    elif not p.shares_host_kernel and p.kind != "native":
        rows.append(("guest OS kernel", "each guest boots its own kernel (in its own RAM)", False))
    rows.append(("application", "what the user wants to run (in the guest's RAM)", False))
    return rows


def platform_stack(platform: Any) -> pd.DataFrame:
    """The layers of one platform, hardware first, as a DataFrame.

    ``platform`` is a profile name (``"kvm"``), a :class:`~vsim.spec.profile.Profile`
    or a profile mapping (``{"name": ..., "base": "kvm", ...}``). Columns (see
    ``vsim.COLUMNS['stack']``): ``level`` (0 = hardware), ``layer``, ``scope``
    (``hardware``, ``per host`` or ``per guest``), ``what`` it is, ``memory_mib`` and
    ``cpu_cores`` that the profile charges for the layer (NaN where the layer's
    memory is the guest's own RAM or nothing is charged), and the
    ``provenance`` of those numbers. Concatenate several tables to draw them
    side by side with :func:`vsim.plots.stack_diagram`.
    """
    p = resolve_platform(platform)
    rows: list[tuple] = [(p.name, 0, "hardware", "hardware", "CPU cores, memory, disk, network",
                          _NAN, _NAN, "")]
    host = _host_layers(p)
    for i, (layer, what) in enumerate(host):
        last = i == len(host) - 1
        rows.append((p.name, len(rows), layer, "per host", what,
                     p.host_memory_mib.value if last else _NAN,
                     p.host_cpu_cores.value if last else _NAN,
                     p.host_memory_mib.provenance if last else ""))
    if p.kind == "hypervisor" and p.hypervisor_type == 2:
        # The hypervisor itself is an application of the host OS: the extra layer.
        rows.append((p.name, len(rows), f"hypervisor: {p.name}", "per host",
                     "an application of the host OS: the extra layer", _NAN, _NAN,
                     "an application of the host OS (its memory is counted in the host OS row)"))
    for layer, what, overhead in _guest_layers(p):
        q = p.guest_memory_overhead_mib
        rows.append((p.name, len(rows), layer, "per guest", what,
                     q.value if overhead else _NAN, _NAN, q.provenance if overhead else ""))
    return pd.DataFrame(rows, columns=list(COLUMNS["stack"]))
