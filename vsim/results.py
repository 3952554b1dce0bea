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
writes them as CSV and JSON; :func:`load_results` reads a saved run back.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsim.errors import ScenarioError

__all__ = ["Results", "COLUMNS", "load_results", "columns_doc"]

COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "instances": {
        "id": ("int", "sequence number of the guest in request order"),
        "name": ("str", "workload name and id"),
        "workload": ("str", "workload the guest belongs to"),
        "kind": ("str", "vm, container or microvm"),
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
        inst_cols = list(COLUMNS["instances"])
        rows = []
        phase_rows = []
        for g in world.guests:
            host = g.host.name if g.host is not None else ""
            rows.append((
                g.id, g.name, g.workload.name, g.kind, g.platform, host,
                g.requested_s, g.placed_s, g.provisioned_s, g.ready_s, g.stopped_s,
                g.ready_s - g.requested_s, g.provisioned_s - g.placed_s, g.ready_s - g.provisioned_s,
                g.memory_mib, g.vcpus, g.disk_mb if g.host is not None else 0.0, g.pulled_mb,
                g.state, g.reason,
            ))
            for name, t0, t1 in g.phases:
                phase_rows.append((g.id, g.workload.name, g.platform, host, name, t0, t1, t1 - t0))
        instances = pd.DataFrame.from_records(rows, columns=inst_cols)
        phases = pd.DataFrame.from_records(phase_rows, columns=list(COLUMNS["phases"]))
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
    def save(self, folder: str | os.PathLike, force: bool = False, figures: bool = True) -> Path:
        """Write ``summary.json``, ``instances.csv``, ``phases.csv``, ``hosts.csv``,
        ``scenario.json`` (and a startup figure) to ``folder``.

        The files are written to a temporary folder next to it, then renamed into
        place, so an interrupted save never leaves a half-written folder. An
        existing folder is refused unless ``force=True``.
        """
        dest = Path(folder)
        if dest.exists() and not force:
            raise ScenarioError(f"--out {dest}: already exists; choose a new folder or pass --force to replace it")
        parent = dest.parent if str(dest.parent) else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=parent))
        try:
            summary = self.summary
            summary["wall_s"] = None  # wall-clock time is not part of a reproducible record
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
            (tmp / "scenario.json").write_text(json.dumps(self.meta.get("scenario_data", {}), indent=2) + "\n")
            self.instances.to_csv(tmp / "instances.csv", index=False)
            self.phases.to_csv(tmp / "phases.csv", index=False)
            self.hosts.to_csv(tmp / "hosts.csv", index=False)
            for name, table in self.tables.items():
                table.to_csv(tmp / f"{name}.csv", index=False)
            if figures and len(self.instances):
                from vsim.plots import startup_timeline

                import matplotlib.pyplot as plt

                ax = startup_timeline(self.instances)
                ax.figure.savefig(tmp / "startup-timeline.png", dpi=110, bbox_inches="tight")
                plt.close(ax.figure)
            if dest.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=parent))
                os.replace(dest, old / dest.name)
                os.replace(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest


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
    instances = pd.read_csv(d / "instances.csv", keep_default_na=True)
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
