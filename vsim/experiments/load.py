"""Latency against load: one service scenario run at several request rates.

``latency_vs_load(scenario, rates)`` sets every service's Poisson rate to each
value in turn, runs the scenario (one seed per rate, derived from ``seed``) and
returns one row per (rate, workload, platform) with the service summary of
:func:`service_summary`: the table behind the classic hockey-stick
plot, where the platforms with lower efficiency turn up first.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vsim.experiments.run import simulate
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import Scenario, parse_scenario

__all__ = ["service_summary", "latency_vs_load"]


def latency_vs_load(scenario: Scenario, rates, seed: int = 0) -> pd.DataFrame:
    rates = [float(r) for r in rates]
    if not rates or any(not r > 0 for r in rates):
        raise ScenarioError("rates: give one or more request rates > 0 (requests per second)")
    data = scenario.to_dict()
    svc = [i for i, w in enumerate(data.get("workloads", [])) if "service" in w]
    if not svc:
        raise ScenarioError("scenario: no workload has a service; latency against load needs one")
    seeds = np.random.SeedSequence(seed).generate_state(len(rates))
    frames = []
    for rate, s in zip(rates, seeds, strict=True):
        for i in svc:
            data["workloads"][i]["service"]["arrivals"] = {"type": "poisson", "rate_per_s": rate}
        res = simulate(parse_scenario(data), seed=int(s))
        df = service_summary(res.requests)
        df.insert(0, "rate_per_s", rate)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def service_summary(requests: pd.DataFrame, duration_s: float | None = None) -> pd.DataFrame:
    """Throughput and latency percentiles per service (workload and platform).

    ``throughput_per_s`` is requests completed divided by the span from the first
    arrival to the last completion (or by ``duration_s`` if given).
    """
    cols = ["workload", "platform", "requests", "throughput_per_s", "latency_mean_s",
            "latency_p50_s", "latency_p95_s", "latency_p99_s", "wait_mean_s", "cpu_mean_s",
            "disk_mean_s", "net_mean_s"]
    out = []
    for (wl, plat), grp in requests.groupby(["workload", "platform"], sort=False):
        r = grp["response_s"].to_numpy()
        span = duration_s or (grp["end_s"].max() - grp["arrival_s"].min())
        out.append((wl, plat, len(grp), len(grp) / span if span > 0 else math.nan, float(r.mean()),
                    *(float(np.percentile(r, q)) for q in (50, 95, 99)),
                    float(grp["wait_s"].mean()), float(grp["cpu_s"].mean()),
                    float(grp["disk_s"].mean()), float(grp["net_s"].mean())))
    return pd.DataFrame(out, columns=cols)
