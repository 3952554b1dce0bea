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

Every column is documented once, with its unit, in :mod:`vsim.results.columns`
(``COLUMNS``, importable from here too); column names carry the unit too
(``startup_s``, ``memory_mib``). ``Results.save(folder)`` writes them as CSV and
JSON (and the figures it is given: it draws none itself); :func:`load_results`
reads a saved run back.
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

from vsim.results.columns import COLUMNS, columns_doc
from vsim.results.outputs import staged_folder
from vsim.spec.errors import ScenarioError

__all__ = ["Results", "COLUMNS", "load_results", "columns_doc"]


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
                h.cpu.utilisation(now), h.disk.utilisation(now), h.nic.utilisation(now), h.idle_core_seconds(now),
                *_page_cache_row(h.page_cache),
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
        from vsim.spec.errors import need_bool, need_path

        folder = need_path(folder, "folder")
        need_bool(force, "force")
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


def _page_cache_row(pc) -> tuple:
    """A host's page-cache counters (zeros and NaN peak if it has none)."""
    if pc is None:
        return (0, 0, 0, 0.0, 0.0, 0.0, 0.0, math.nan)
    asked = pc.hits + pc.shared + pc.misses
    return (pc.hits, pc.shared, pc.misses, pc.hit_mb + pc.shared_mb, pc.miss_mb, pc.evicted_mb, pc.peak_mb,
            (pc.hits + pc.shared) / asked if asked else math.nan)


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
    """Read a folder written by :meth:`Results.save` back into ``Results``;
    a folder that is not one (or whose files are damaged) is one ``ScenarioError``."""
    import json as _json

    try:
        return _load_results(folder)
    except ScenarioError:
        raise
    except (OSError, ValueError, KeyError, TypeError, _json.JSONDecodeError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"{folder}: not a readable saved vsim run ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None


def _load_results(folder: str | os.PathLike) -> Results:
    from vsim.spec.errors import need_path

    d = need_path(folder, "folder")
    if not d.is_dir():
        raise ScenarioError(f"{d}: no such folder (a folder written by Results.save or vsim run --out)")
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
