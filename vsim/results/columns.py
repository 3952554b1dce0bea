"""The columns of a run's tables: every column once, with its type, unit and meaning.

* :data:`RUN_COLUMNS`: the tables every run has (``instances``, ``phases``,
  ``hosts``), built by :class:`vsim.results.tables.Results`;
* :data:`MECHANISM_COLUMNS`: the tables the optional mechanisms record, each
  documented in the mechanism's own module, next to the code that writes its
  rows (``vsim.mechanisms.migration.COLUMNS``, ...), and gathered here;
* :data:`COLUMNS`: both, in that order: every table a run can produce (what
  ``Results.from_world`` and :func:`~vsim.results.tables.load_results` read).

Column names carry the unit too (``startup_s``, ``memory_mib``). The tables of
the experiments are documented in the module that builds each one
(``vsim.experiments.density.COLUMNS``, ...); ``vsim.COLUMNS`` gathers every
table, a run's and the experiments'.
"""

from __future__ import annotations

from collections.abc import Mapping

from vsim.mechanisms import energy, faults, migration, services

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
        "phase": ("str", "phase name from the profile; or the model's: clone-full, clone-linked, pull, pull+extract; "
                         "queue:SERVER (waiting for a control-plane server's worker), running-cost:SERVER (the "
                         "server's extra work for the guests already running); migrate-live, migrate-copy, convert"),
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
        "idle_cpu_core_s": ("float, core-s", "CPU that idle running guests kept busy over the run (their profiles' "
                                             "idle_cpu_cores x their running time), taken from the cores left for "
                                             "starts, stops and services; divide by sim_end_s for the mean cores"),
        "page_cache_hits": ("int", "boot phases whose shared reads were in the host's page cache when the boot began"),
        "page_cache_shared": ("int", "boot phases that waited for another guest's read of the same data in flight"),
        "page_cache_misses": ("int", "boot phases that read shared data from disk (first readers)"),
        "page_cache_hit_mb": ("float, MB", "shared data served from memory (hits and shared reads)"),
        "page_cache_read_mb": ("float, MB", "shared data read from disk (misses)"),
        "page_cache_evicted_mb": ("float, MB", "data evicted (least recently used first) as guests reserved memory"),
        "page_cache_peak_mb": ("float, MB", "most data held in the page cache at once (NaN: page_cache off)"),
        "page_cache_hit_ratio": ("float, 0-1", "(hits + shared) / all shared-data reads; NaN if none"),
    },
}

#: The tables of the optional mechanisms, each documented next to the code that records it.
MECHANISM_COLUMNS: Columns = {**services.COLUMNS, **migration.COLUMNS, **faults.COLUMNS, **energy.COLUMNS}

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
