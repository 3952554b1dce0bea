"""The profile library at a glance: what each platform costs, and why.

Every platform vsim knows (KVM, Xen, Docker, Firecracker, ...) is described by
a *profile*: the memory it takes on the host, the memory each guest costs on
top of its own RAM, how close to native speed a guest runs, and the phases a
guest goes through to start. Each of those numbers says where it comes from,
a published measurement (``source:``) or a reasoned guess (``assumption:``).

:func:`profile_table` lists the built-in profiles side by side. Its startup
column is not the sum of the numbers typed into the profile: it is measured by
*running the simulator*, one guest on an otherwise idle host of the default
shape (see :class:`vsim.spec.scenario.HostGroup`), so the disk reads and writes of
each phase take the time that host's disk needs for them. Change a number in a
profile and the table changes with it.

:func:`profile_detail` shows one profile with every number and its
provenance, and the simulated timeline of its idle start, phase by phase.
"""

from __future__ import annotations

import math

import pandas as pd

from vsim.experiments.run import simulate
from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Overhead, Profile, builtin_profiles, load_profile, profile_names
from vsim.spec.scenario import Scenario, parse_scenario

__all__ = ["idle_scenario", "idle_start", "profile_table", "profile_detail", "COLUMNS"]

#: The columns of profile_table (`vsim profiles`), with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "profiles": {
        "name": ("str", "built-in profile name"),
        "kind": ("str", "hypervisor, container-engine, microvm or native"),
        "hypervisor_type": ("float", "1 (bare-metal) or 2 (hosted); NaN if not a hypervisor"),
        "family": ("str", "image-format / management family"),
        "guest_kind": ("str", "vm, container, microvm or process"),
        "shares_host_kernel": ("bool", "whether guests run on the host's kernel"),
        "idle_startup_s": ("float, s", "simulated startup of one guest on an idle default host (no image to clone or pull)"),
        "guest_memory_overhead_mib": ("float, MiB", "memory per guest outside its own RAM (profile value)"),
        "host_memory_mib": ("float, MiB", "host footprint of the platform before any guest (profile value)"),
        "max_guests_per_host": ("float", "the platform's per-host guest limit; NaN if none"),
        "exit_cpu_share": ("float, 0-1", "share of a busy vCPU's time spent in VM exits (profile value)"),
        "vector_width": ("float, 0-1", "share of the host's SIMD width the guest's CPU model exposes"),
        "tlb_miss_ns": ("float, ns", "extra time per TLB miss (nested paging)"),
        "io_request_us": ("float, us", "time per disk request on the guest's I/O path"),
        "io_copy_us_per_mb": ("float, us/MB", "time per MB copied on the guest's I/O path"),
        "io_page_us": ("float, us", "time per 4 KiB page of a request in the guest's driver"),
        "packet_us": ("float, us", "time per packet on the guest's network path"),
        "net_copy_us_per_mb": ("float, us/MB", "time per MB copied on the guest's network path"),
        "syscall_us": ("float, us", "extra time per system call"),
    },
}

#: Guest memory of the single guest in an idle-startup run (MiB). It does not
#: change the startup time; it only has to fit on the default host.
IDLE_GUEST_MEMORY_MIB = 1024.0


def idle_scenario(profile: str | Profile, host: dict | None = None) -> Scenario:
    """A scenario with one guest of ``profile`` on one otherwise idle host.

    ``profile`` is a built-in name or a :class:`~vsim.spec.profile.Profile` (which
    is put into the scenario's ``profiles`` list). ``host`` may override fields
    of the default host group (``{"cores": 4}``). The guest has no image to
    clone or pull: the published start times (``virsh start``, ``docker run``)
    were measured with the image already in place. Variability is off: the
    guest starts exactly as calibrated (the profile's ``startup_cv`` is its spread).
    """
    if isinstance(profile, Profile):
        name = profile.name
        profiles = [profile.model_dump(mode="json")]
    elif isinstance(profile, str):
        name = profile
        profiles = []
    else:
        raise ScenarioError(f"profile: expected a profile name or a Profile, got {type(profile).__name__}")
    data = {
        "name": f"idle-{name}",
        "variability": False,  # the calibrated start itself (its spread is the profile's startup_cv)
        "hosts": [{"name": "host", "platforms": [name], **(host or {})}],
        "profiles": profiles,
        "workloads": [{
            "name": "one",
            "platform": name,
            "memory_mib": IDLE_GUEST_MEMORY_MIB,
            "arrivals": {"type": "batch", "count": 1, "at_s": 0.0},
            "lifetime": {"type": "fixed", "duration_s": 1.0},
        }],
    }
    return parse_scenario(data, where=f"idle scenario for {name}")


def idle_start(profile: str | Profile, host: dict | None = None, seed: int = 0):
    """Simulate one guest on an idle host; return ``(startup_s, phases)``.

    ``phases`` is the run's phase table restricted to the start (provisioning
    and start phases, not the stop phases).
    """
    res = simulate(idle_scenario(profile, host), seed=seed)
    inst = res.instances.iloc[0]
    if inst["state"] in ("rejected", "failed"):
        raise ScenarioError(f"{inst['platform']}: the idle guest could not start ({inst['reason']})")
    ph = res.phases
    start = ph[ph["end_s"] <= inst["ready_s"] + 1e-12].reset_index(drop=True)
    return float(inst["startup_s"]), start


def _overhead_columns() -> list[str]:
    return list(Overhead.model_fields)


def profile_table(seed: int = 0) -> pd.DataFrame:
    """One row per built-in profile (columns in :data:`COLUMNS`).

    ``idle_startup_s`` is simulated: one guest started on an idle default host.
    """
    rows = []
    for name, p in builtin_profiles().items():
        startup, _ = idle_start(name, seed=seed)
        ht = p.hypervisor_type
        mg = p.max_guests_per_host.value
        rows.append((
            name, p.kind, float(ht) if ht is not None else math.nan, p.family, p.guest_kind,
            p.shares_host_kernel, startup, p.guest_memory_overhead_mib.value, p.host_memory_mib.value,
            float(mg) if mg is not None else math.nan,
            *(getattr(p.overhead, f).value for f in Overhead.model_fields),
        ))
    cols = ["name", "kind", "hypervisor_type", "family", "guest_kind", "shares_host_kernel",
            "idle_startup_s", "guest_memory_overhead_mib", "host_memory_mib", "max_guests_per_host",
            *_overhead_columns()]
    return pd.DataFrame.from_records(rows, columns=cols)


def _wrap(text: str, width: int, indent: str) -> str:
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False, break_long_words=False)


def profile_detail(name: str, seed: int = 0) -> str:
    """One profile as text: what it is, every number with its provenance, and
    the simulated timeline of one guest started on an idle default host.

    ``name`` is a built-in profile name or a profile YAML file; anything else
    raises :class:`~vsim.spec.errors.ScenarioError` listing the built-in names.
    """
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"profile name: expected one of {', '.join(profile_names())}")
    p = load_profile(name)
    startup, phases = idle_start(p if name not in profile_names() else name, seed=seed)
    kind = p.kind + (f" (Type {p.hypervisor_type})" if p.hypervisor_type else "")
    lines = [
        f"{p.name}: {p.title}",
        f"  kind {kind}; family {p.family}; runs {p.guest_kind}s; "
        f"{'shares' if p.shares_host_kernel else 'does not share'} the host kernel",
        f"  images: {p.image_format}, default clone {p.default_clone}",
    ]
    if p.default_clone_provenance:
        lines.append(_wrap(f"(default clone {p.default_clone_provenance})", 88, "    "))
    if p.description:
        lines.append(_wrap(p.description.strip(), 88, "  "))
    lines += ["", "Numbers and where they come from:"]
    for field, value, prov in p.sources():
        shown = "none (no limit)" if value is None else (f"{value:g}" if isinstance(value, float | int) else value)
        lines.append(f"  {field} = {shown}")
        lines.append(_wrap(prov, 88, "      "))
    lines += ["", "Simulated idle start (one guest, idle default host; phases stretch under contention):"]
    for rec in phases.itertuples(index=False):
        lines.append(f"  {rec.phase:<24} {rec.start_s:9.4f} s -> {rec.end_s:9.4f} s  ({rec.duration_s:.4f} s)")
    lines.append(f"  idle_startup_s = {startup:.4f}")
    return "\n".join(lines)
