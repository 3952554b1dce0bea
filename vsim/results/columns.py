"""The columns of a run's tables: every column once, with its type, unit and meaning.

* :data:`RUN_COLUMNS`: the tables every run has (``instances``, ``phases``,
  ``hosts``), built by :class:`vsim.results.tables.Results`;
* :data:`MECHANISM_COLUMNS`: the tables the optional mechanisms record
  (``vsim.mechanisms``), one block per mechanism, each ready to move into the
  mechanism that makes it;
* :data:`COLUMNS`: both, in that order: every table a run can produce (what
  ``Results.from_world`` and :func:`~vsim.results.tables.load_results` read).

Column names carry the unit too (``startup_s``, ``memory_mib``). The tables of
the experiments are documented in the module that builds each one
(``vsim.experiments.density.COLUMNS``, ...); ``vsim.COLUMNS`` gathers every
table, a run's and the experiments'.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["COLUMNS", "RUN_COLUMNS", "MECHANISM_COLUMNS", "Columns", "columns_doc"]

#: table -> column -> (type and unit, meaning)
Columns = dict[str, dict[str, tuple[str, str]]]

#: The tables of every run (vsim.results.tables).
RUN_COLUMNS: Columns = {
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
}

# -- the tables of the optional mechanisms, one block per mechanism ------------------------

#: Running workloads: vsim.mechanisms.services (with vsim.mechanisms.cgroups).
SERVICES_COLUMNS: Columns = {
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
}

#: vsim.mechanisms.migration (and consolidation by vsim.mechanisms.energy).
MIGRATION_COLUMNS: Columns = {
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

#: vsim.mechanisms.faults.
FAULTS_COLUMNS: Columns = {
    "failures": {
        "host": ("str", "host that failed"),
        "group": ("str", "its host group"),
        "failed_s": ("float, s", "time of the failure"),
        "repaired_s": ("float, s", "time it is (or would be) back"),
        "guests_failed": ("int", "guests on it that failed"),
    },
    "recoveries": {
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
    },
}

#: vsim.mechanisms.energy.
ENERGY_COLUMNS: Columns = {
    "energy": {
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
    },
    "host_states": {
        "host": ("str", "host name"),
        "time_s": ("float, s", "time of the change"),
        "old": ("str", "state before: on, booting, draining, off, failed"),
        "new": ("str", "state after"),
    },
}

#: The tables of the optional mechanisms.
MECHANISM_COLUMNS: Columns = {**SERVICES_COLUMNS, **MIGRATION_COLUMNS, **FAULTS_COLUMNS, **ENERGY_COLUMNS}

#: Every table a run can produce: a run's own, then the mechanisms'.
COLUMNS: Columns = {**RUN_COLUMNS, **MECHANISM_COLUMNS}


def columns_doc(columns: Mapping[str, Mapping[str, tuple[str, str]]] | None = None) -> str:
    """The columns of ``columns`` as a Markdown table (default: :data:`COLUMNS`,
    the tables of a run). ``columns_doc(vsim.COLUMNS)`` documents every table,
    the experiments' included."""
    lines = ["| table | column | type, unit | meaning |", "|---|---|---|---|"]
    for table, cols in (COLUMNS if columns is None else columns).items():
        for col, (typ, desc) in cols.items():
            lines.append(f"| {table} | `{col}` | {typ} | {desc} |")
    return "\n".join(lines)
