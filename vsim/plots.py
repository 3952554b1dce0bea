"""Plots: matplotlib figures drawn from result DataFrames.

Every function here takes DataFrames (the tables of :mod:`vsim.results` or of
:mod:`vsim.experiments`) and returns a matplotlib ``Axes``; none of them knows
anything about SimPy or the model. Every axis is labelled with its unit.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

__all__ = ["startup_timeline", "startup_cdf", "phase_gantt"]


def _axes(ax=None, figsize=(8, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def startup_timeline(instances: pd.DataFrame, ax=None):
    """Each guest as a bar from request to ready, coloured by workload."""
    ax = _axes(ax)
    df = instances.dropna(subset=["ready_s"]).sort_values("requested_s")
    for k, (wl, grp) in enumerate(df.groupby("workload", sort=False)):
        ax.hlines(range(len(grp)), grp["requested_s"], grp["ready_s"], color=f"C{k}", lw=1.5, label=wl)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("guest (in request order, per workload)")
    ax.set_title("Startup timeline: request to ready")
    if len(df):
        ax.legend(loc="best", fontsize="small")
    return ax


def startup_cdf(instances: pd.DataFrame, ax=None, by: str = "workload"):
    """Cumulative distribution of startup time per workload (or platform)."""
    ax = _axes(ax)
    for wl, grp in instances.dropna(subset=["startup_s"]).groupby(by, sort=False):
        x = grp["startup_s"].sort_values().to_numpy()
        ax.step(x, [(i + 1) / len(x) for i in range(len(x))], where="post", label=str(wl))
    ax.set_xlabel("startup time (s)")
    ax.set_ylabel("fraction of guests ready")
    ax.set_xscale("log")
    ax.legend(loc="best", fontsize="small")
    return ax


def phase_gantt(phases: pd.DataFrame, ax=None, label: str = "platform"):
    """A Gantt chart of boot phases: one row per guest, one bar per phase."""
    ax = _axes(ax)
    ids = list(dict.fromkeys(phases["id"]))
    names = list(dict.fromkeys(phases["phase"]))
    colours = {n: f"C{i % 10}" for i, n in enumerate(names)}
    seen = set()
    for row, gid in enumerate(ids):
        grp = phases[phases["id"] == gid]
        for r in grp.itertuples(index=False):
            ax.barh(row, r.end_s - r.start_s, left=r.start_s, color=colours[r.phase],
                    label=r.phase if r.phase not in seen else None, edgecolor="white")
            seen.add(r.phase)
    ax.set_yticks(range(len(ids)))
    ax.set_yticklabels([str(phases[phases["id"] == g][label].iloc[0]) for g in ids])
    ax.set_xlabel("time since request (s)")
    ax.set_title("Start phases")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return ax
