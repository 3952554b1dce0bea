"""Boot storms: what happens to startup when many guests start at once.

One VM on an idle host boots in about 8.5 s. Start fifty at the same moment and
they share everything a boot uses: the cores that decompress kernels and run
init systems, the disk that every guest reads its kernel, initrd and services
from (and that a full clone copies a whole image onto), the network. The model
shares each of these fairly between whoever is using it (processor sharing, see
:mod:`vsim.engine.fairshare`). What a storm waits for depends on the image
path: fifty linked clones of one base image read it once (the host's page
cache, :mod:`vsim.engine.pagecache`) and then wait for the CPU, seconds more
than one boot; fifty full clones each copy 2.26 GB through one disk, minutes;
fifty VMs with their own disks on a hard disk wait for its few IOPS, minutes.
A container, which reads almost nothing and runs a fraction of a second of CPU
work, stays in seconds: what it waits for in a storm is its daemon, which
creates containers one at a time (a control-plane server,
:mod:`vsim.engine.server`), so they come out one after another and the
storm's p95 sits above its median.

:func:`boot_storm` starts ``n`` identical guests together on an otherwise idle
host, for each ``n`` and each platform, and reports startup percentiles;
:func:`storm_curve` adds p99 and names what the median guest waited for.
:func:`first_fetch` starts one guest on a host that does not have its image
yet (the image is fetched from the image service first: GBs for a VM, MBs for
a container). :func:`boot_phases` returns the phases of one guest started
alone, per platform, for a Gantt chart (:func:`vsim.plots.boot_gantt`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vsim.experiments.run import simulate
from vsim.experiments.testbed import build_scenario, resolve_host, resolve_platforms, shape_for
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import parse_scenario

if TYPE_CHECKING:
    from vsim.results.tables import Results
    from vsim.spec.profile import Profile

__all__ = ["boot_storm", "boot_phases", "storm_curve", "first_fetch", "longest_phase", "DEFAULT_COUNTS", "STORM_COUNTS", "STORM_PLATFORMS",
           "NONE_SHARE", "COLUMNS"]

DEFAULT_COUNTS = (1, 2, 5, 10, 20, 50, 100)

#: The concurrencies of :func:`storm_curve`: 1 to 1,000 guests started together.
STORM_COUNTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

#: The platforms of :func:`storm_curve` when none are given (those of ``vsim compare``).
STORM_PLATFORMS = ("docker", "kvm", "firecracker", "virtualbox")

#: A storm's cause is ``"none"`` when no phase of the median guest took longer
#: than alone by more than this share of the startup of a guest started alone.
NONE_SHARE = 0.01

#: The columns of the boot-storm table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "boot_storm": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "n": ("int", "guests requested at the same moment (n = 1: one guest alone, started ALONE_REPEATS = 31 times one after another)"),
        "started": ("int", "guests that were placed and became ready (n = 1: the lone starts, 31)"),
        "rejected": ("int", "guests the host had no room for"),
        "startup_p50_s": ("float, s", "median startup (request to ready) of the guests that started"),
        "startup_p95_s": ("float, s", "95th percentile of startup"),
        "startup_max_s": ("float, s", "startup of the last guest ready"),
        "provision_mean_s": ("float, s", "mean image clone / unpack time"),
        "boot_mean_s": ("float, s", "mean time of the boot phases"),
        "cpu_util": ("float, 0-1", "mean fraction of the host's CPU used over the run"),
        "disk_util": ("float, 0-1", "mean fraction of the disk's time used over the run"),
    },
    "first_fetch": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "startup_s": ("float, s", "startup (request to ready) of one guest on an idle host without its image"),
        "fetch_s": ("float, s", "of which fetching the image from the image service (and unpacking layers)"),
        "fetched_mb": ("float, MB", "data pulled from the image service"),
        "provision_s": ("float, s", "fetch plus clone (request to provisioned)"),
        "boot_s": ("float, s", "the boot phases"),
    },
    "storm_curve": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "n": ("int", "guests requested at the same moment on one idle host (n = 1: 31 lone starts one after another)"),
        "started": ("int", "guests that were placed and became ready (the percentiles are over these; n = 1: the 31 lone starts)"),
        "rejected": ("int", "guests the host had no room for (counted, left out of the percentiles)"),
        "startup_p50_s": ("float, s", "median startup (request to ready) of the guests that started"),
        "startup_p95_s": ("float, s", "95th percentile of startup of the guests that started"),
        "startup_p99_s": ("float, s", "99th percentile of startup of the guests that started"),
        "startup_max_s": ("float, s", "startup of the last guest ready"),
        "cause": ("str", "what the median guest waited for longest: of its phases, the one whose duration "
                         "exceeds the same phase's duration for a guest started alone (n = 1) the most, "
                         "named 'queue:SERVER' (a control-plane server's FIFO queue) or 'PHASE (RESOURCES)' "
                         "with the resources the phase uses (CPU, disk, network, fixed wait); 'none' when no "
                         "excess is above 1% of the startup alone; 'no guest started' when every guest was "
                         "rejected"),
        "cause_excess_s": ("float, s", "the cause's duration minus its duration alone (0 when the cause is none)"),
        "between_phases_s": ("float, s", "the median guest's startup not covered by any of its phases (e.g. a "
                                         "control-plane server's cost per running guest, held after its queue)"),
    },
}


def _counts(counts: Any) -> list[int]:
    if isinstance(counts, (int, np.integer)):
        counts = [counts]
    try:
        out = [c for c in counts]
    except TypeError:
        raise ScenarioError(f"counts: expected a list of whole numbers >= 1, got {counts!r}") from None
    if not out:
        raise ScenarioError("counts: the list is empty; give at least one number of guests, e.g. [1, 10, 100]")
    for c in out:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 or c > 100_000:
            raise ScenarioError(f"counts: {c!r} is not a whole number between 1 and 100000")
    return [int(c) for c in out]


def _pct(x: pd.Series, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else math.nan


#: n = 1 is one guest alone, started this many times one after another (each
#: alone on the host), so that its percentiles are those of one start's own
#: spread (vsim.model.variability), not one draw.
ALONE_REPEATS = 31
ALONE_GAP_S = 1000.0  # between the lone starts: each is over (booted, run 1 s, stopped) before the next


def _storm_run(prof: Profile, host: dict, shape: dict, n: int, seed: int) -> Results:
    """One boot storm: ``n`` guests of ``prof`` requested together on a fresh
    ``host``; for n = 1, ``ALONE_REPEATS`` lone starts one after another."""
    sc = build_scenario(prof, host, shape, n, name=f"storm-{prof.name}-{n}", seed=seed)
    if n == 1:
        data = sc.to_dict()
        data["workloads"][0]["arrivals"] = {"type": "every", "interval_s": ALONE_GAP_S, "count": ALONE_REPEATS}
        data["workloads"][0]["lifetime"] = {"type": "fixed", "duration_s": 1.0}
        sc = parse_scenario(data, where=sc.name)
    return simulate(sc)


def boot_storm(platforms: Any, counts: Iterable[int] = DEFAULT_COUNTS, host: Any = None,
               shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Startup percentiles when ``n`` guests start at once, per platform and ``n``.

    Each (platform, n) is its own run on a fresh copy of ``host`` (the image is
    already cached there). If the host cannot hold ``n`` guests, the rest are
    rejected and counted in ``rejected``; the percentiles are over the guests
    that started. Columns are documented in :data:`COLUMNS` (and ``vsim.COLUMNS['boot_storm']``).
    """
    profiles = resolve_platforms(platforms)
    ns = _counts(counts)
    h = resolve_host(host)
    rows = []
    for prof in profiles:
        sh = shape_for(prof, shape)
        for n in ns:
            res = _storm_run(prof, h, sh, n, seed)
            inst = res.instances
            st = inst["startup_s"].dropna()
            ok = inst.dropna(subset=["ready_s"])
            hrow = res.hosts.iloc[0]
            rows.append((
                prof.name, prof.guest_kind, n, int(len(st)), int((inst["state"] == "rejected").sum()),
                _pct(st, 50), _pct(st, 95), float(st.max()) if len(st) else math.nan,
                float(ok["provision_s"].fillna(0.0).mean()) if len(ok) else math.nan,
                float(ok["boot_s"].mean()) if len(ok) else math.nan,
                float(hrow["cpu_util"]), float(hrow["disk_util"]),
            ))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["boot_storm"]))


# -- the storm curve: percentiles and the cause at each concurrency --------------------------

#: What a provisioning phase uses; these phases are the model's (vsim.model.phases.provision), not the
#: profile's, so their resources are stated here: a clone reads and/or writes the host's disk, a pull
#: downloads over the network while writing to disk, an extract also runs on the CPU.
_PROVISION_RESOURCES = {"clone-full": "disk", "clone-linked": "disk", "pull": "network/disk",
                        "pull+extract": "network/disk/CPU"}


def phase_resources(prof: Profile) -> dict[str, str]:
    """Each start phase of ``prof`` -> the resources its fields say it uses."""
    out = dict(_PROVISION_RESOURCES)
    for ph in prof.start_phases:
        used = [label for label, amount in (("CPU", ph.cpu_s), ("disk", ph.disk_read_mb + ph.disk_write_mb),
                                            ("network", ph.net_mb)) if amount]
        out[ph.name] = "/".join(used) if used else ("fixed wait" if ph.latency_s else "nothing")
    return out


def _cause_name(phase: str, resources: dict[str, str]) -> str:
    if phase.startswith("queue:"):
        return phase
    return f"{phase} ({resources[phase]})" if phase in resources else phase


def _guest_phases(phases: pd.DataFrame, gid: int, ready_s: float) -> pd.Series:
    """Seconds per phase name of guest ``gid`` up to its ready time (a phase seen twice is summed)."""
    own = phases[(phases["id"] == gid) & (phases["end_s"] <= ready_s + 1e-9)]
    return own.groupby("phase", sort=False)["duration_s"].sum()


def _median_guest(inst: pd.DataFrame) -> pd.Series:
    """The guest at the median startup: of the k guests that started, sorted by
    (startup, id), the one at 0-based position k // 2 (for an even k, the later of the two)."""
    ok = inst.dropna(subset=["ready_s"]).sort_values(["startup_s", "id"], kind="stable")
    return ok.iloc[len(ok) // 2]


def _cause(res: Results, alone: pd.Series, alone_s: float,
           resources: dict[str, str]) -> tuple[str, float, float]:
    """(cause, its excess in s, the time between phases) of the median guest of ``res``."""
    inst = res.instances
    if not inst["ready_s"].notna().any():
        return "no guest started", math.nan, math.nan
    g = _median_guest(inst)
    mine = _guest_phases(res.phases, int(g["id"]), float(g["ready_s"]))
    between = float(g["startup_s"]) - float(mine.sum())
    if abs(between) < 1e-9:  # rounding of the sums, not time outside the phases
        between = 0.0
    excess = mine.sub(alone.reindex(mine.index).fillna(0.0))
    if not len(excess) or float(excess.max()) <= NONE_SHARE * alone_s:
        return "none", 0.0, between
    top = str(excess.idxmax())
    return _cause_name(top, resources), float(excess[top]), between


def _alone(prof: Profile, host: dict, shape: dict, seed: int) -> tuple[Results, pd.Series, float]:
    """The n = 1 run: its result, and the phase durations and startup of its median guest."""
    res = _storm_run(prof, host, shape, 1, seed)
    inst = res.instances.dropna(subset=["ready_s"])
    if not len(inst):  # the host cannot hold even one: every n is rejected, no cause is named
        return res, pd.Series(dtype=float), math.nan
    g = _median_guest(inst)  # of the lone starts (their spread: vsim.model.variability)
    return res, _guest_phases(res.phases, int(g["id"]), float(g["ready_s"])), float(g["startup_s"])


def storm_curve(platforms: Any = None, counts: Iterable[int] = STORM_COUNTS, host: Any = None,
                shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Startup p50/p95/p99 against concurrency, with the dominant cause at each ``n``.

    For each platform (default :data:`STORM_PLATFORMS`) and each ``n`` in
    ``counts`` (default :data:`STORM_COUNTS`, 1 to 1,000), ``n`` identical guests
    are requested together on a fresh copy of ``host`` (the scenario of
    :func:`boot_storm`, built by :mod:`vsim.experiments.testbed`). Guests the
    host has no room for are counted in ``rejected``; the percentiles are
    computed over the guests that started (``started``), NaN if none did.

    ``cause`` names what the median guest waited for: take the guest at the
    median startup (of the k guests that started, sorted by startup then id,
    the one at 0-based position k // 2); for each of its phases (rows of the
    run's ``phases`` table up to its ready time, summed per phase name), take
    its duration minus the same phase's duration for a guest started alone
    (n = 1; 0 for a phase the lone guest did not have, such as a queue); the
    phase with the largest excess is the cause. It is written ``queue:SERVER``
    for time in a control-plane server's FIFO queue (e.g. ``queue:dockerd``),
    and otherwise ``PHASE (RESOURCES)``, the resources taken from the profile's
    phase fields (``cpu_s`` -> CPU, ``disk_read_mb``/``disk_write_mb`` -> disk,
    ``net_mb`` -> network, only ``latency_s`` -> fixed wait), e.g.
    ``"kernel (CPU/disk)"``; provisioning phases are the model's
    (``clone-full (disk)``, ``pull+extract (network/disk/CPU)``). The cause is
    ``"none"`` when no excess is above :data:`NONE_SHARE` (1%) of the startup
    alone, as at n = 1. ``cause_excess_s`` is that excess; ``between_phases_s``
    the median guest's startup outside every logged phase.

    Columns are documented in :data:`COLUMNS` (``vsim.COLUMNS['storm_curve']``).
    """
    profiles = resolve_platforms(list(STORM_PLATFORMS) if platforms is None else platforms)
    ns = _counts(counts)
    h = resolve_host(host)
    rows = []
    for prof in profiles:
        sh = shape_for(prof, shape)
        resources = phase_resources(prof)
        one, alone, alone_s = _alone(prof, h, sh, seed)
        for n in ns:
            res = one if n == 1 else _storm_run(prof, h, sh, n, seed)
            inst = res.instances
            st = inst["startup_s"].dropna()
            cause, excess, between = _cause(res, alone, alone_s, resources)
            rows.append((
                prof.name, prof.guest_kind, n, int(len(st)), int((inst["state"] == "rejected").sum()),
                _pct(st, 50), _pct(st, 95), _pct(st, 99), float(st.max()) if len(st) else math.nan,
                cause, excess, between,
            ))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["storm_curve"]))


def first_fetch(platforms: Any, host: Any = None, shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """One guest per platform on an idle host that does not have its image yet.

    The image comes from the image service
    (:data:`vsim.experiments.testbed.DEFAULT_REGISTRY`, a 1 Gbit/s link) over
    the host's NIC: a VM's whole disk image, a container's compressed layers
    (then unpacked), a microVM's root file system. One start, not a median of
    several: after it the image is on the host. Columns: :data:`COLUMNS`
    (``vsim.COLUMNS['first_fetch']``).
    """
    profiles = resolve_platforms(platforms)
    h = resolve_host(host)
    rows = []
    for prof in profiles:
        sc = build_scenario(prof, h, shape_for(prof, shape), 1, name=f"fetch-{prof.name}", seed=seed, cached=False)
        res = simulate(sc)
        g = res.instances.iloc[0]
        ph = res.phases
        fetch = float(ph.loc[ph["phase"].isin(["pull", "pull+extract"]), "duration_s"].sum())
        provision = float(g["provision_s"])
        rows.append((prof.name, prof.guest_kind, float(g["startup_s"]), fetch, float(g["pulled_mb"]),
                     0.0 if math.isnan(provision) else provision, float(g["boot_s"])))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["first_fetch"]))


def longest_phase(res: Results, workload: str) -> tuple[str, float]:
    """The phase that took most of the median guest's startup in ``workload``
    (the guest whose startup is nearest the median), and its share of that
    startup: what a slow workload waited for, read off the phases table."""
    inst = res.instances[res.instances["workload"] == workload].dropna(subset=["startup_s"])
    mid = inst.iloc[(inst["startup_s"] - inst["startup_s"].median()).abs().argmin()]
    ph = res.phases[res.phases["id"] == mid["id"]]
    top = ph.loc[ph["duration_s"].idxmax()]
    return str(top["phase"]), float(top["duration_s"] / mid["startup_s"])


def boot_phases(platforms: Any, host: Any = None, shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """The phases of one guest started alone on an idle host, per platform.

    Returns the ``phases`` table (``vsim.COLUMNS['phases']``) of each platform's
    run, one guest each; ``id`` numbers the platforms in the order given, and
    times are seconds since that guest was requested.
    """
    profiles = resolve_platforms(platforms)
    h = resolve_host(host)
    frames = []
    for k, prof in enumerate(profiles):
        sc = build_scenario(prof, h, shape_for(prof, shape), 1, name=f"boot-{prof.name}", seed=seed)
        ph = simulate(sc).phases.copy()
        ph["id"] = k
        frames.append(ph)
    return pd.concat(frames, ignore_index=True)
