"""Experiments on operating a fleet: what consolidation saves and costs, and how
live migration behaves as a guest dirties memory faster.

* :func:`consolidation_report` runs a scenario with and without its
  ``consolidation:`` policy and puts energy next to what it cost (migrations,
  data moved, downtime, power-ons, startup delays).
* :func:`dirty_rate_sweep` migrates one VM live at a list of dirty rates and
  returns one row per rate (rounds, total time, downtime, data moved).
"""

from __future__ import annotations

import pandas as pd

from vsim.experiments.run import simulate
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import Scenario, parse_scenario

__all__ = ["consolidation_report", "dirty_rate_sweep"]


def _strip_consolidation(scenario: Scenario) -> Scenario:
    data = scenario.to_dict()
    data.pop("consolidation", None)
    return parse_scenario(data, where=f"{scenario.name} without consolidation")


def consolidation_report(scenario: Scenario, seed: int | None = None) -> pd.DataFrame:
    """One row per policy (``none``, ``consolidation``): energy and its cost."""
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"scenario: expected a Scenario (from vsim.load_scenario), got {type(scenario).__name__}")
    if scenario.consolidation is None:
        raise ScenarioError("consolidation: this scenario has no consolidation: block to compare against")
    rows = []
    for policy, sc in (("none", _strip_consolidation(scenario)), ("consolidation", scenario)):
        res = simulate(sc, seed=seed)
        e = res.energy
        m = res.tables.get("migrations")
        m = m[m["outcome"] == "done"] if m is not None else pd.DataFrame(columns=["mb_moved", "downtime_s"])
        inst = res.instances
        rows.append({
            "policy": policy,
            "energy_kwh": float(e["energy_kwh"].sum()),
            "mean_power_w": float(e["mean_power_w"].sum()),
            "host_hours_on": float(e["on_s"].sum() / 3600.0),
            "power_ons": int(e["power_ons"].sum()),
            "migrations": int(len(m)),
            "migrated_mb": float(m["mb_moved"].sum()),
            "downtime_total_s": float(m["downtime_s"].sum()),
            "rejected": int((inst["state"] == "rejected").sum()),
            "startup_p95_s": float(inst["startup_s"].dropna().quantile(0.95)) if inst["startup_s"].notna().any()
            else float("nan"),
        })
    return pd.DataFrame(rows)


def dirty_rate_sweep(dirty_mb_s: list[float], memory_mib: float = 2048.0, network_gbit_s: float = 10.0,
                     limits: dict | None = None) -> pd.DataFrame:
    """Live-migrate one idle-host VM at each dirty rate; one row per rate."""
    rows = []
    for d in dirty_mb_s:
        sc = parse_scenario({
            "name": "dirty-rate-sweep",
            "hosts": [{"name": n, "platforms": ["kvm"], "network_gbit_s": network_gbit_s, "cached_images": ["vm"]}
                      for n in ("src", "dst")],
            "images": [{"name": "vm", "kind": "vm-disk", "format": "qcow2", "size_mb": 2256}],
            "workloads": [{"name": "vm", "platform": "kvm", "memory_mib": memory_mib, "image": "vm",
                           "clone": "linked", "dirty_mb_s": d, "arrivals": {"type": "batch", "count": 1}}],
            "migrations": [{"workload": "vm", "at_s": 60, "to": "dst", "limits": limits or {}}],
        }, where="dirty_rate_sweep")
        m = simulate(sc).migrations.iloc[0]
        rows.append({"dirty_mb_s": d, "rounds": int(m["rounds"]), "total_s": m["total_s"],
                     "downtime_s": m["downtime_s"], "mb_moved": m["mb_moved"], "converged": bool(m["converged"])})
    return pd.DataFrame(rows)
