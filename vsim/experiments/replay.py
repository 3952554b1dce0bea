"""Replaying a run event by event: what happened, in order, and why.

A finished run's tables (``instances`` and ``phases``) hold every moment a
guest changed: requested, a start phase begun or ended, waiting in turn at a
control plane, ready, stopped. :func:`event_log` lists them in time order,
each with a sentence saying why it happened; :func:`state_at` replays the
first ``k`` of them into the state of the world at that moment: each guest's
state and phase, each host's guests and how many of them are in a phase that
uses its CPU, disk or network (from the profile's phase fields, the same
reading as the storm curve's cause), and how many wait at each control-plane
server (``queue:dockerd``, ``queue:libvirtd``). The notebook widget
:class:`vsim.widgets.RunPlayer` steps and plays through it.

At one instant, ends come before starts (a phase that ends at t hands over to
the next one starting at t), then guests by id: the order is deterministic.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["event_log", "state_at", "COLUMNS"]

COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "events": {
        "time_s": ("float, s", "simulated time of the event"),
        "id": ("int", "guest id"),
        "guest": ("str", "guest name"),
        "workload": ("str", "its workload"),
        "host": ("str", "the host it is on (empty if never placed)"),
        "event": ("str", "requested, phase-start, phase-end, ready, stopped, failed or rejected"),
        "phase": ("str", "the phase, for phase events (queue:SERVER: waiting in turn at a control plane)"),
        "uses": ("str", "what the phase uses: CPU, disk, network (from the profile), fixed wait, or queue"),
        "why": ("str", "what made it happen, in words"),
    },
}

_ORDER = {"phase-end": 0, "ready": 1, "stopped": 1, "failed": 1, "requested": 2, "rejected": 3, "phase-start": 4}


def _uses(platform: str, phase: str, cache: dict) -> str:
    if phase.startswith("queue:"):
        return "queue"
    if platform not in cache:
        from vsim.experiments.bootstorm import phase_resources
        from vsim.spec.profile import load_profile

        try:
            cache[platform] = phase_resources(load_profile(platform))
        except Exception:  # a custom profile of the run that load_profile cannot find by name
            cache[platform] = {}
    return cache[platform].get(phase, "")


def _why_phase(phase: str, uses: str) -> str:
    if uses == "queue":
        server = phase.split(":", 1)[1]
        return f"waits in turn at {server}: the control plane serves one request at a time per worker"
    if uses in ("", "nothing"):
        return f"{phase}: a step of its start"
    if uses == "fixed wait":
        return f"{phase}: a fixed wait (a timer or a device), shared with nobody"
    return f"{phase} uses the host's {uses}, shared with every guest in a phase that uses it too"


def event_log(results: Any) -> pd.DataFrame:
    """Every event of a run, in order (columns: ``COLUMNS['events']``)."""
    from vsim.spec.errors import ScenarioError

    if not (hasattr(results, "instances") and hasattr(results, "phases")):
        raise ScenarioError(f"results: expected the Results of a run (vsim.simulate), got {type(results).__name__}")
    inst = results.instances
    info = inst.set_index("id")
    rows: list[tuple] = []
    for g in inst.itertuples(index=False):
        host = "" if not isinstance(g.host, str) else g.host
        rows.append((g.requested_s, g.id, g.name, g.workload, host, "requested", "", "",
                     f"workload {g.workload} asks for a {g.kind} on {g.platform}"))
        if g.state == "rejected":
            rows.append((g.requested_s, g.id, g.name, g.workload, host, "rejected", "", "", str(g.reason)))
            continue
        if g.ready_s == g.ready_s:
            rows.append((g.ready_s, g.id, g.name, g.workload, host, "ready", "", "",
                         f"its last start phase ended: {g.ready_s - g.requested_s:.3g} s after the request"))
        if g.stopped_s == g.stopped_s:
            ev = "failed" if g.state == "failed" else "stopped"
            rows.append((g.stopped_s, g.id, g.name, g.workload, host, ev, "", "",
                         str(g.reason) if g.reason else "its lifetime ended"))
    cache: dict = {}
    for p in results.phases.itertuples(index=False):
        w = info.loc[p.id]
        uses = _uses(p.platform, p.phase, cache)
        for t, ev in ((p.start_s, "phase-start"), (p.end_s, "phase-end")):
            rows.append((t, p.id, w["name"], p.workload, p.host, ev, p.phase, uses,
                         _why_phase(p.phase, uses) if ev == "phase-start" else f"{p.phase} done after {p.duration_s:.3g} s"))
    df = pd.DataFrame(rows, columns=list(COLUMNS["events"]))
    df["_o"] = df["event"].map(_ORDER)
    df = df.sort_values(["time_s", "_o", "id"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return df


def state_at(log: pd.DataFrame, k: int) -> dict[str, Any]:
    """The world after the first ``k`` events of ``log``: ``time_s``, ``guests``
    (id -> state, phase, host, workload), ``hosts`` (a DataFrame: guests on it,
    starting, running, and in phases using its CPU, disk, network) and
    ``queues`` (server -> guests waiting)."""
    if isinstance(k, bool) or not isinstance(k, int):
        from vsim.spec.errors import ScenarioError

        raise ScenarioError(f"k: must be a whole number of events, got {k!r}")
    k = max(0, min(k, len(log)))
    guests: dict[int, dict[str, Any]] = {}
    for e in log.iloc[:k].itertuples(index=False):
        g = guests.setdefault(e.id, {"guest": e.guest, "workload": e.workload, "host": e.host,
                                     "state": "requested", "phase": "", "uses": ""})
        if e.event == "phase-start":
            g.update(state="starting" if g["state"] in ("requested", "starting") else g["state"],
                     phase=e.phase, uses=e.uses)
        elif e.event == "phase-end" and g["phase"] == e.phase:
            g.update(phase="", uses="")
        elif e.event == "ready":
            g.update(state="running", phase="", uses="")
        elif e.event in ("stopped", "failed", "rejected"):
            g.update(state=e.event, phase="", uses="")
    hosts: dict[str, dict[str, int]] = {}
    queues: dict[str, int] = {}
    for g in guests.values():
        if g["phase"].startswith("queue:"):
            server = g["phase"].split(":", 1)[1]
            queues[server] = queues.get(server, 0) + 1
        if not g["host"] or g["state"] in ("stopped", "failed", "rejected"):
            continue
        h = hosts.setdefault(g["host"], {"guests": 0, "starting": 0, "running": 0, "using_cpu": 0,
                                         "using_disk": 0, "using_network": 0})
        h["guests"] += 1
        h["starting"] += g["state"] in ("requested", "starting")
        h["running"] += g["state"] == "running"
        for res in ("CPU", "disk", "network"):
            h[f"using_{res.lower()}"] += res in g["uses"].split("/")
    table = pd.DataFrame.from_dict(hosts, orient="index").rename_axis("host") if hosts else pd.DataFrame(
        columns=["guests", "starting", "running", "using_cpu", "using_disk", "using_network"]).rename_axis("host")
    return {"time_s": float(log["time_s"].iloc[k - 1]) if k else 0.0, "guests": guests, "hosts": table,
            "queues": queues}
