"""The comparison table (placeholder until the calibrated comparison lands).

Runs ``scenarios/docker-vs-kvm.yaml`` and reports startup per platform.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vsim.scenario import load_scenario
from vsim.world import simulate

_DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "docker-vs-kvm.yaml"


def compare(platforms=None, host=None, lang="en", seed=0) -> pd.DataFrame:
    res = simulate(load_scenario(_DEFAULT), seed=seed)
    return res.summary_table()


def render(df: pd.DataFrame, fmt: str = "table") -> str:
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        return df.to_json(orient="records", indent=2)
    if fmt == "markdown":
        return df.to_markdown(index=False) if hasattr(df, "to_markdown") else df.to_string(index=False)
    return df.to_string(index=False)
