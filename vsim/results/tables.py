"""Results: what happened in a run, as tables with units.

A run produces three pandas DataFrames and a summary:

* ``instances``: one row per guest that was requested (VM, container or microVM),
  whether it ran or was rejected;
* ``phases``: one row per phase of a guest's provisioning, start and stop, for
  timelines and Gantt charts;
* ``hosts``: one row per physical host;
* ``summary``: a small dict (and :meth:`Results.summary_table`) with startup
  percentiles per workload, counts per final state and the reasons for
  rejections.

Every column is documented once, in :data:`COLUMNS`, with its unit; column names
carry the unit too (``startup_s``, ``memory_mib``). ``Results.save(folder)``
writes them as CSV and JSON (and the figures it is given: it draws none
itself); :func:`load_results` reads a saved run back.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsim.results.outputs import staged_folder
from vsim.spec.errors import ScenarioError

__all__ = ["Results", "COLUMNS", "load_results", "columns_doc"]

COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "instances": {
        "id": ("int", "sequence number of the guest in request order"),
        "name": ("str", "workload name and id"),
        "workload": ("str", "workload the guest belongs to"),
        "kind": ("str", "vm, container, microvm or process (native)"),
        "platform": ("str", "profile name of the platform (kvm, docker, ...)"),
        "host": ("str", "host it was placed on; empty if rejected"),
        "requested_s": ("float, s", "simulated time the guest was requested"),
        "placed_s": ("float, s", "time it was placed on a host (NaN if rejected)"),
        "provisioned_s": ("float, s", "time its disk was ready (image cloned or layers pulled)"),
        "ready_s": ("float, s", "time its last start phase finished"),
        "stopped_s": ("float, s", "time it finished stopping (NaN if still running at the end)"),
        "startup_s": ("float, s", "ready_s - requested_s: what a user waits for"),
        "provision_s": ("float, s", "provisioned_s - placed_s: image clone or pull and unpack"),
        "boot_s": ("float, s", "ready_s - provisioned_s: the platform's start phases"),
        "memory_mib": ("float, MiB", "memory reserved on the host, overhead included, page sharing deducted"),
        "vcpus": ("float, vCPU", "virtual CPUs reserved"),
        "disk_mb": ("float, MB", "disk the guest itself takes (clone or overlay, writable layer, volume); shared image cache excluded"),
        "pulled_mb": ("float, MB", "image data this guest downloaded from a registry (cache misses it paid for)"),
        "state": ("str", "final state: running, stopped, rejected, failed, or the phase it was in when the run ended"),
        "reason": ("str", "why it was rejected or failed; empty otherwise"),
    },
    "phases": {
        "id": ("int", "guest id (joins instances.id)"),
        "workload": ("str", "workload of the guest"),
        "platform": ("str", "platform of the guest"),
        "host": ("str", "host the phase ran on"),
        "phase": ("str", "phase name from the profile, or clone-full / clone-linked / pull+extract"),
        "start_s": ("float, s", "phase start"),
        "end_s": ("float, s", "phase end"),
        "duration_s": ("float, s", "end_s - start_s"),
    },
    "hosts": {
        "host": ("str", "host name"),
        "group": ("str", "host group (scenario hosts[].name)"),
        "platforms": ("str", "platforms installed, separated by '+'"),
        "cores": ("int, cores", "physical cores"),
        "memory_mib": ("float, MiB", "physical memory"),
        "footprint_mib": ("float, MiB", "memory the installed platforms take before any guest"),
        "guests_placed": ("int", "guests placed on the host during the run"),
        "guests_end": ("int", "guests still on the host when the run ended"),
        "peak_guests": ("int", "most guests on the host at once"),
        "peak_memory_mib": ("float, MiB", "most memory reserved at once, footprint included"),
        "cache_mb": ("float, MB", "image data cached on the host's disk at the end"),
        "cpu_util": ("float, 0-1", "mean fraction of CPU capacity used by start/stop work"),
        "disk_util": ("float, 0-1", "mean fraction of disk time used"),
        "nic_util": ("float, 0-1", "mean fraction of network bandwidth used"),
    },
    # -- running workloads (vsim.mechanisms.services, vsim.mechanisms.cgroups) --------------------------
    "requests": {
        "id": ("int", "guest that served the request (joins instances.id)"),
        "workload": ("str", "service workload"),
        "platform": ("str", "platform of the guest (native, docker, kvm, ...)"),
        "host": ("str", "host the guest was on when a worker took the request (a live migration moves later ones)"),
        "arrival_s": ("float, s", "time the request arrived"),
        "start_s": ("float, s", "time a worker took it"),
        "end_s": ("float, s", "time its response was sent"),
        "response_s": ("float, s", "end_s - arrival_s: the latency a client sees"),
        "wait_s": ("float, s", "start_s - arrival_s: time queued for a worker"),
        "cpu_s": ("float, s", "time spent on its CPU part (contention, vCPU gate and cgroup throttling included)"),
        "disk_s": ("float, s", "time spent on its disk part (shared disk plus virtualization path latency)"),
        "net_s": ("float, s", "time spent on its network part (round trips and transfer)"),
    },
    "cgroup_events": {
        "time_s": ("float, s", "when it happened"),
        "id": ("int", "guest id (joins instances.id)"),
        "workload": ("str", "workload of the guest"),
        "platform": ("str", "platform of the guest"),
        "event": ("str", "cpu-throttled, oom-kill or pids-limit"),
        "amount": ("float, see unit", "throttled time until the period ends / memory in use at the kill / tasks refused"),
        "unit": ("str", "unit of amount: s, MiB or tasks"),
        "cause": ("str", "the limit that caused it, in words"),
    },
    "storage": {
        "time_s": ("float, s", "when the guest stopped or failed"),
        "id": ("int", "guest id (joins instances.id)"),
        "workload": ("str", "workload of the guest"),
        "platform": ("str", "platform of the guest"),
        "kind": ("str", "vm, container, microvm or process"),
        "target": ("str", "where the data was written: writable-layer, volume, vm-disk or host-fs"),
        "written_mb": ("float, MB", "data written while the guest ran"),
        "kept_mb": ("float, MB", "data that survives the stop"),
        "lost_mb": ("float, MB", "data lost with the guest (a container's writable layer)"),
        "cause": ("str", "why it was kept or lost"),
    },
    "utilisation": {
        "time_s": ("float, s", "end of the sampling interval (1 s, or duration_s / 1000 if longer: vsim.mechanisms.services)"),
        "host": ("str", "host name"),
        "cpu_util": ("float, 0-1", "fraction of the host's CPU capacity used during the interval"),
        "disk_util": ("float, 0-1", "fraction of the disk's time used during the interval"),
        "nic_util": ("float, 0-1", "fraction of the NIC's bandwidth used during the interval"),
    },
    # Not a table of a run: vsim.experiments.profiles.profile_table (`vsim profiles`).
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
        "eff_cpu": ("float, 0-1", "CPU throughput against native"),
        "eff_memory_bandwidth": ("float, 0-1", "memory bandwidth against native"),
        "eff_disk_sequential": ("float, 0-1", "sequential disk throughput against native"),
        "eff_disk_random": ("float, 0-1", "random 4 KB disk IOPS against native"),
        "eff_network_bandwidth": ("float, 0-1", "network bandwidth against native"),
        "eff_network_latency": ("float, 0-1", "native round-trip time divided by the guest's"),
    },
    # Not a table of a run: vsim.experiments.density.density.
    "density": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "vcpus": ("float, vCPU", "vCPUs each guest reserves"),
        "memory_mib": ("float, MiB", "memory each guest asks for (before overhead and page sharing)"),
        "clone": ("str", "how each guest gets its disk: full, linked or layers"),
        "requested": ("int", "guests requested at once in the last placement run"),
        "guests": ("int", "guests placed: how many fit on the host"),
        "binding": ("str", "what turned the next guest away: memory, vcpus, disk, guest limit; none if all fitted"),
        "reason": ("str", "the placer's rejection message for that guest"),
        "memory_per_guest_mib": ("float, MiB", "memory one guest reserves: RAM minus page sharing plus per-guest overhead"),
        "disk_per_guest_mb": ("float, MB", "disk one guest takes itself (clone, overlay or writable layer)"),
        "image_cache_mb": ("float, MB", "image data in the host's cache, shared by all guests"),
        "footprint_mib": ("float, MiB", "memory the platform takes on the host before any guest"),
        "memory_reserved_mib": ("float, MiB", "memory reserved at that density, footprint included"),
        "memory_capacity_mib": ("float, MiB", "memory that may be reserved (physical times overcommit)"),
        "vcpus_reserved": ("float, vCPU", "vCPUs reserved at that density"),
        "vcpu_capacity": ("float, vCPU", "vCPUs that may be reserved (cores times overcommit)"),
        "startup_p50_s": ("float, s", "with start=True: median startup when all of them start at once; NaN otherwise"),
        "startup_p95_s": ("float, s", "with start=True: 95th percentile of the same"),
        "startup_max_s": ("float, s", "with start=True: the last guest's startup"),
    },
    # Not a table of a run: vsim.experiments.bootstorm.boot_storm.
    "boot_storm": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "n": ("int", "guests requested at the same moment"),
        "started": ("int", "guests that were placed and became ready"),
        "rejected": ("int", "guests the host had no room for"),
        "startup_p50_s": ("float, s", "median startup (request to ready) of the guests that started"),
        "startup_p95_s": ("float, s", "95th percentile of startup"),
        "startup_max_s": ("float, s", "startup of the last guest ready"),
        "provision_mean_s": ("float, s", "mean image clone / unpack time"),
        "boot_mean_s": ("float, s", "mean time of the boot phases"),
        "cpu_util": ("float, 0-1", "mean fraction of the host's CPU used over the run"),
        "disk_util": ("float, 0-1", "mean fraction of the disk's time used over the run"),
    },
}

# Tables of vsim.mechanisms.migration, vsim.mechanisms.faults and vsim.mechanisms.energy (issue 6).
COLUMNS["migrations"] = {
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
}
COLUMNS["failures"] = {
    "host": ("str", "host that failed"),
    "group": ("str", "its host group"),
    "failed_s": ("float, s", "time of the failure"),
    "repaired_s": ("float, s", "time it is (or would be) back"),
    "guests_failed": ("int", "guests on it that failed"),
}
COLUMNS["recoveries"] = {
    "id": ("int", "id of the guest the failure killed (joins instances.id)"),
    "name": ("str", "its name"),
    "workload": ("str", "its workload"),
    "host": ("str", "the host that failed under it"),
    "failed_s": ("float, s", "time of the failure"),
    "outcome": ("str", "restarted (its replacement became ready), lost (see reason) or restarting (the run ended first)"),
    "new_id": ("int", "id of the replacement guest; -1 if none was started"),
    "recovered_s": ("float, s", "time the replacement was ready (NaN if not)"),
    "recover_s": ("float, s", "recovered_s - failed_s: time to recover"),
    "run_lost_s": ("float, s", "how long it had been running since its last start: in-memory work lost"),
    "data_lost_mb": ("float, MB", "data in a container's writable layer lost with the host"),
    "reason": ("str", "why it was not restarted (empty if restarted)"),
}
COLUMNS["energy"] = {
    "host": ("str", "host name"),
    "group": ("str", "host group"),
    "idle_w": ("float, W", "power when on and idle (hosts[].power.idle_w)"),
    "max_w": ("float, W", "power at full utilisation"),
    "on_s": ("float, s", "time powered (on, powering on or draining)"),
    "off_s": ("float, s", "time powered off (drawing power.off_w)"),
    "down_s": ("float, s", "time failed, awaiting repair (drawing nothing)"),
    "power_ons": ("int", "times it was powered on"),
    "mean_util": ("float, 0-1", "mean utilisation over the run: min(1, vCPUs of guests placed on it / cores)"),
    "energy_j": ("float, J", "idle_w x on_s + (max_w - idle_w) x integral of utilisation + off_w x off_s"),
    "energy_kwh": ("float, kWh", "energy_j / 3.6e6"),
    "mean_power_w": ("float, W", "energy_j / length of the run"),
}
COLUMNS["host_states"] = {
    "host": ("str", "host name"),
    "time_s": ("float, s", "time of the change"),
    "old": ("str", "state before: on, booting, draining, off, failed"),
    "new": ("str", "state after"),
}

# Tables of vsim.experiments.sweep and vsim.experiments.plan (issue 5).
COLUMNS["sweep"] = {
    "point": ("int", "number of the combination of swept values, in the order the sweep lists them"),
    "replication": ("int", "replication number at that point, from 0"),
    "seed": ("int", "seed of the run: SeedSequence(scenario seed, spawn key (replication,)); same at every point"),
    "<swept path>": ("as given", "one column per swept dotted path (e.g. hosts.0.memory_gib), holding its value"),
    "requested": ("int", "guests requested in the run"),
    "ready": ("int", "guests that became ready"),
    "rejected": ("int", "guests rejected at placement (no host had room)"),
    "failed": ("int", "guests that ended failed"),
    "blocking": ("float, 0-1", "rejected / requested: the blocking probability of the run"),
    "startup_mean_s": ("float, s", "mean startup of the guests that became ready"),
    "startup_p50_s": ("float, s", "median startup"),
    "startup_p95_s": ("float, s", "95th percentile of startup"),
    "startup_max_s": ("float, s", "longest startup"),
    "hosts_used": ("int", "hosts that received at least one guest"),
    "peak_guests_per_host": ("int", "most guests on one host at once"),
    "peak_memory_util": ("float, 0-1+", "largest peak reserved memory / physical memory over hosts (above 1 with overcommit)"),
    "sim_end_s": ("float, s", "simulated time at the end of the run"),
    "events": ("int", "SimPy events scheduled"),
    "error": ("str", "why the run failed (exception type and message); empty if it succeeded"),
}
COLUMNS["sweep_summary"] = {
    "point": ("int", "sweep point"),
    "<swept path>": ("as given", "one column per swept path"),
    "metric": ("str", "name of a metric column of the sweep table"),
    "n": ("int", "runs at this point that gave a value"),
    "errors": ("int", "runs at this point that failed"),
    "mean": ("float, unit of the metric", "mean over the replications"),
    "std": ("float, unit of the metric", "sample standard deviation (ddof 1)"),
    "ci95_low": ("float, unit of the metric", "mean - t(0.975, n-1) std / sqrt(n); NaN if n < 2"),
    "ci95_high": ("float, unit of the metric", "mean + t(0.975, n-1) std / sqrt(n); NaN if n < 2"),
}
COLUMNS["plan"] = {
    "architecture": ("str", "plan architectures[].name"),
    "platform": ("str", "platform profile of the architecture; containers in VMs: 'docker in kvm' (container platform in VM platform)"),
    "host_type": ("str", "plan host_types[].name"),
    "demand_scale": ("float", "demand multiplier (demand.scale): replicas and arrival rate times this"),
    "guests_requested": ("int", "guests requested in one run at this demand"),
    "hosts": ("int", "minimum hosts meeting every target, spare hosts for failures included (NaN if none up to max_hosts)"),
    "spare_hosts": ("int", "hosts added to survive policy.tolerate_host_failures"),
    "nodes": ("int", "containers in VMs: fewest node VMs holding the containers within every target (simulated); NaN for other architectures"),
    "node_binding": ("str", "containers in VMs: resource that made one node VM fewer fail (binding at the node level); empty otherwise"),
    "cost_per_hour": ("float, currency/h", "hosts x price_per_hour"),
    "power_w": ("float, W", "hosts x power_w"),
    "binding": ("str", "resource that made one host fewer fail (memory, vcpus, disk, guest limit, boot contention); containers in VMs: at the host level"),
    "limit": ("str", "the targets missed with one host fewer, and the resource behind each; containers in VMs: 'hosts: ...; node VMs (N): ...', one per level"),
    "blocking": ("float, 0-1", "simulated fraction of requests rejected (mean over replications), k hosts lost; containers in VMs: of containers in the node VMs"),
    "startup_p95_s": ("float, s", "simulated startup p95 (mean over replications), k hosts lost; containers in VMs: the container start only (nodes are up first)"),
    "memory_util": ("float, 0-1", "peak reserved memory (footprints included) / memory the cluster may reserve; containers in VMs: of the hosts (node VMs as guests), likewise vcpu_util and disk_util"),
    "vcpu_util": ("float, 0-1", "peak reserved vCPUs / (cores x CPU overcommit)"),
    "disk_util": ("float, 0-1", "peak reserved disk (image cache included) / disk the cluster may reserve"),
    "feasible": ("bool", "False if no host count up to max_hosts meets the targets"),
    "simulated_sizes": ("int", "how many host counts the search simulated"),
    "cheapest": ("bool", "the cheapest host type for this architecture and demand"),
}


# Not a table of a run: vsim.experiments.stack.platform_stack (issue 7).
COLUMNS["stack"] = {
    "platform": ("str", "profile name"),
    "level": ("int", "position from the bottom: 0 = the hardware"),
    "layer": ("str", "the software layer (hypervisor, host OS, guest OS kernel, application, ...)"),
    "scope": ("str", "hardware, per host (paid once per host) or per guest (paid for every guest)"),
    "what": ("str", "what the layer is, in a few words"),
    "memory_mib": ("float, MiB", "memory the profile charges for the layer (host footprint or per-guest overhead); NaN if none or the guest's own RAM"),
    "cpu_cores": ("float, cores", "cores the layer keeps busy on every host (host footprint); NaN if none"),
    "provenance": ("str", "source or assumption of the layer's numbers"),
}


def columns_doc() -> str:
    """All columns as a Markdown table (used by the README and `vsim run --help`)."""
    lines = ["| table | column | type, unit | meaning |", "|---|---|---|---|"]
    for table, cols in COLUMNS.items():
        for col, (typ, desc) in cols.items():
            lines.append(f"| {table} | `{col}` | {typ} | {desc} |")
    return "\n".join(lines)


def _pct(x: pd.Series, q: float) -> float:
    x = x.dropna()
    return float(np.percentile(x, q)) if len(x) else math.nan


@dataclass
class Results:
    """Tables of one run, plus the context needed to repeat it."""

    instances: pd.DataFrame
    phases: pd.DataFrame
    hosts: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    #: Further tables from optional mechanisms (services, migrations, energy...),
    #: by name; each is documented in COLUMNS under the same name.
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    # -- construction ------------------------------------------------------------
    @classmethod
    def from_world(cls, world) -> Results:
        instances, owners = _instance_table(world.guests)
        phases = _phase_table(world.phase_log, owners)
        now = world.env.now
        host_rows = []
        for h in world.hosts:
            host_rows.append((
                h.name, h.group, "+".join(h.platforms), h.cores, h.memory_mib, h.footprint_mib,
                h.guests_placed, h.guests_now, h.peak_guests, h.peak_memory_mib, h.cache_mb,
                h.cpu.utilisation(now), h.disk.utilisation(now), h.nic.utilisation(now),
            ))
        hosts = pd.DataFrame.from_records(host_rows, columns=list(COLUMNS["hosts"]))
        meta = {
            "scenario": world.scenario.name,
            "seed": world.seed,
            "sim_end_s": now,
            "wall_s": world.wall_s,
            "events": world.events,
            "scenario_data": world.scenario.to_dict(),
        }
        tables = {
            name: pd.DataFrame.from_records(rows, columns=list(COLUMNS[name]))
            for name, rows in world.records.items()
        }
        return cls(instances=instances, phases=phases, hosts=hosts, meta=meta, tables=tables)

    # -- summaries -------------------------------------------------------------------
    def summary_table(self) -> pd.DataFrame:
        """One row per workload: counts by state and startup percentiles."""
        df = self.instances
        out = []
        for (wl, platform), grp in df.groupby(["workload", "platform"], sort=False):
            ready = grp["startup_s"].dropna()
            out.append({
                "workload": wl,
                "platform": platform,
                "kind": grp["kind"].iloc[0],
                "requested": len(grp),
                "ready": int(ready.size),
                "rejected": int((grp["state"] == "rejected").sum()),
                "failed": int((grp["state"] == "failed").sum()),
                "startup_p50_s": _pct(ready, 50),
                "startup_p95_s": _pct(ready, 95),
                "startup_max_s": float(ready.max()) if ready.size else math.nan,
            })
        cols = ["workload", "platform", "kind", "requested", "ready", "rejected", "failed",
                "startup_p50_s", "startup_p95_s", "startup_max_s"]
        return pd.DataFrame(out, columns=cols)

    @property
    def summary(self) -> dict[str, Any]:
        """Key figures of the run as plain Python values (JSON-ready)."""
        df = self.instances
        rej = df.loc[df["state"] == "rejected", "reason"].value_counts()
        per_wl = self.summary_table()
        return {
            "scenario": self.meta.get("scenario"),
            "seed": self.meta.get("seed"),
            "sim_end_s": self.meta.get("sim_end_s"),
            "wall_s": self.meta.get("wall_s"),
            "events": self.meta.get("events"),
            "guests_requested": int(len(df)),
            "states": {k: int(v) for k, v in df["state"].value_counts().sort_index().items()},
            "rejections": {str(k): int(v) for k, v in rej.items()},
            "workloads": json.loads(per_wl.to_json(orient="records")),
            "guests_per_host": {
                r.host: int(r.peak_guests) for r in self.hosts.itertuples(index=False)
            } if len(self.hosts) <= 50 else {
                "mean_peak": float(self.hosts["peak_guests"].mean()),
                "max_peak": int(self.hosts["peak_guests"].max()),
            },
        }

    def startup(self, workload: str | None = None) -> pd.Series:
        """Startup times (s) of guests that became ready, optionally of one workload."""
        df = self.instances
        if workload is not None:
            if workload not in set(df["workload"]):
                raise ScenarioError(f"workload: no workload named {workload!r} in these results")
            df = df[df["workload"] == workload]
        return df["startup_s"].dropna()

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Results {s['scenario']!r} seed={s['seed']} guests={s['guests_requested']} "
                f"states={s['states']}>")

    # -- saving --------------------------------------------------------------------
    def save(self, folder: str | os.PathLike, force: bool = False,
             figures: Mapping[str, Callable[[Results, Path], object]] | None = None) -> Path:
        """Write ``summary.json``, ``scenario.json``, ``instances.csv``,
        ``phases.csv``, ``hosts.csv`` and one CSV per further table
        (``requests.csv``, ``migrations.csv``, ...) to ``folder``, and the
        ``figures`` if given.

        ``figures`` maps a file name to a function ``writer(results, path)``
        that writes that file (or nothing, if it has nothing to draw).
        :data:`vsim.plots.RUN_FIGURES` holds the startup timeline that ``vsim
        run --out`` writes, so ``results.save(folder,
        figures=vsim.plots.RUN_FIGURES)`` writes the same folder as the command.

        Everything, figures included, is written to a temporary folder next to
        ``folder``, then renamed into place, so an interrupted save or a figure
        that fails never leaves a half-written folder. An existing folder is
        refused unless ``force=True``.

        Changed after 0.1.0: the startup figure used to be drawn here by
        default (``figures=True``). Results no longer import the plots (the
        layers of ARCHITECTURE.md), so the default now writes the tables only,
        and ``figures=True`` is refused with a message naming RUN_FIGURES.
        """
        writers = _figure_writers(figures)
        dest = Path(folder)
        with staged_folder(dest, replace=force) as tmp:
            summary = self.summary
            summary["wall_s"] = None  # wall-clock time is not part of a reproducible record
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
            (tmp / "scenario.json").write_text(json.dumps(self.meta.get("scenario_data", {}), indent=2) + "\n")
            self.instances.to_csv(tmp / "instances.csv", index=False)
            self.phases.to_csv(tmp / "phases.csv", index=False)
            self.hosts.to_csv(tmp / "hosts.csv", index=False)
            for name, table in self.tables.items():
                table.to_csv(tmp / f"{name}.csv", index=False)
            for name, write in writers.items():
                if (tmp / name).exists():
                    raise ScenarioError(f"figures: {name!r} is the name of a file the tables were written to")
                write(self, tmp / name)
        return dest


def _figure_writers(figures: Any) -> dict[str, Callable]:
    """``figures`` of :meth:`Results.save`, checked before anything is written."""
    if figures is None or figures is False:
        return {}
    if figures is True:
        raise ScenarioError("figures: results no longer draw figures themselves; pass the figures to "
                            "write, e.g. figures=vsim.plots.RUN_FIGURES (what vsim run --out writes)")
    if not isinstance(figures, Mapping):
        raise ScenarioError(f"figures: expected a mapping of file name to writer(results, path), "
                            f"got {type(figures).__name__}")
    for name, write in figures.items():
        if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
            raise ScenarioError(f"figures: {name!r} is not a plain file name")
        if not callable(write):
            raise ScenarioError(f"figures[{name!r}]: expected a function writer(results, path), "
                                f"got {type(write).__name__}")
    return dict(figures)


def _instance_table(guests) -> tuple[pd.DataFrame, tuple]:
    """The instances table, built column by column from one pass over the
    guests, and its ``workload``, ``platform`` and ``host`` columns as arrays
    indexed by guest id (for the phase rows)."""
    cols = list(COLUMNS["instances"])
    if not guests:
        return pd.DataFrame.from_records([], columns=cols), ()
    rows = [(g.id, f"{g.workload.name}-{g.id}", g.workload.name, g.kind, g.platform, g.host.name if g.host is not None else "",
             g.requested_s, g.placed_s, g.provisioned_s, g.ready_s, g.stopped_s,
             g.memory_mib, g.vcpus, g.disk_mb if g.host is not None else 0.0, g.pulled_mb, g.state, g.reason)
            for g in guests]
    (ids, name, workload, kind, platform, host, req, placed, prov, ready, stopped,
     memory, vcpus, disk, pulled, state, reason) = zip(*rows, strict=True)
    del rows
    req, placed, prov, ready, stopped = (np.array(c, dtype=float) for c in (req, placed, prov, ready, stopped))
    data = {
        "id": np.array(ids, dtype=np.int64), "name": list(name), "workload": list(workload), "kind": list(kind),
        "platform": list(platform), "host": list(host),
        "requested_s": req, "placed_s": placed, "provisioned_s": prov, "ready_s": ready, "stopped_s": stopped,
        "startup_s": ready - req, "provision_s": prov - placed, "boot_s": ready - prov,
        # numbers as given (whole vCPUs stay integers, as a table of rows would infer)
        "memory_mib": np.array(memory), "vcpus": np.array(vcpus), "disk_mb": np.array(disk),
        "pulled_mb": np.array(pulled), "state": list(state), "reason": list(reason),
    }
    assert list(data) == cols  # the documented order
    assert data["id"][-1] == len(guests) - 1  # a guest's id is its index (World.guests)
    owners = tuple(np.array(c, dtype=object) for c in (workload, platform, host))
    return pd.DataFrame(data, columns=cols), owners


def _phase_table(log, owners: tuple) -> pd.DataFrame:
    """The phases table, built column by column from the world's phase log
    (vsim.engine.phaselog; a million guests have ~10 million phases: one tuple per
    row would cost gigabytes before the DataFrame exists).

    Rows come by guest id, each guest's phases in time order. Every entry of
    the log points into a table of templates: one per packed solo run's spec
    (its phases' offsets from the run's start) and one per plain phase name
    (offsets 0), so that every row is ``base + offset`` for the whole table at
    once: a plain entry's base is its own start and end, a packed one's is
    the run's start.
    """
    cols = list(COLUMNS["phases"])
    if not len(log):
        return pd.DataFrame.from_records([], columns=cols)
    # Each distinct name or spec once (specs by identity, names by value).
    codes, uniques = pd.factorize(pd.Series(log.what, dtype=object), sort=False)
    names: list[str] = []  # template rows: name, offset of the start, offset of the end
    off_a: list[float] = []
    off_b: list[float] = []
    first = np.empty(len(uniques), dtype=np.int64)
    count = np.empty(len(uniques), dtype=np.int64)
    for u, what in enumerate(uniques):
        first[u] = len(names)
        recs = ((what, 0.0, 0.0),) if isinstance(what, str) else what.records
        count[u] = len(recs)
        for name, a, b in recs:
            names.append(name)
            off_a.append(a)
            off_b.append(b)
    gid = np.array(log.gid, dtype=np.int64)
    order = np.argsort(gid, kind="stable")  # by guest, each guest's entries in the order recorded
    codes = codes[order]
    reps = count[codes]
    total = int(reps.sum())
    entry_start = np.cumsum(reps) - reps  # first row of each entry
    row_in_entry = np.arange(total, dtype=np.int64) - np.repeat(entry_start, reps)
    tmpl = np.repeat(first[codes], reps) + row_in_entry
    start = np.repeat(np.array(log.start, dtype=float)[order], reps) + np.array(off_a)[tmpl]
    end = np.repeat(np.array(log.end, dtype=float)[order], reps) + np.array(off_b)[tmpl]
    ids = np.repeat(gid[order], reps)
    data = {"id": ids}
    for col, arr in zip(cols[1:4], owners, strict=True):
        data[col] = arr[ids]
    data[cols[4]] = np.array(names, dtype=object)[tmpl]
    data[cols[5]] = start
    data[cols[6]] = end
    data[cols[7]] = end - start
    return pd.DataFrame(data, columns=cols)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(type(o).__name__)


def load_results(folder: str | os.PathLike) -> Results:
    """Read a folder written by :meth:`Results.save` back into ``Results``."""
    d = Path(folder)
    need = ["instances.csv", "hosts.csv", "summary.json"]
    missing = [n for n in need if not (d / n).exists()]
    if missing:
        raise ScenarioError(f"{d}: not a saved vsim run (missing {', '.join(missing)})")
    # host and reason are text even when every guest was rejected (all empty).
    instances = pd.read_csv(d / "instances.csv", keep_default_na=True, dtype={"host": str, "reason": str})
    for col in ("host", "reason"):
        instances[col] = instances[col].fillna("").astype(str)
    hosts = pd.read_csv(d / "hosts.csv")
    phases = pd.read_csv(d / "phases.csv") if (d / "phases.csv").exists() else pd.DataFrame(columns=list(COLUMNS["phases"]))
    summary = json.loads((d / "summary.json").read_text())
    meta = {k: summary.get(k) for k in ("scenario", "seed", "sim_end_s", "wall_s", "events")}
    if (d / "scenario.json").exists():
        meta["scenario_data"] = json.loads((d / "scenario.json").read_text())
    tables = {
        name: pd.read_csv(d / f"{name}.csv")
        for name in COLUMNS
        if name not in ("instances", "phases", "hosts") and (d / f"{name}.csv").exists()
    }
    return Results(instances=instances, phases=phases, hosts=hosts, meta=meta, tables=tables)
