"""Fingerprints of every table vsim makes, to show a change left results alone.

A refactor (a new layout, a faster path) must not change any number. This
script runs every scenario file, ``vsim compare``, ``vsim plan`` on every
plan file and a 5,000-guest datacenter day, and prints one SHA-256 per table,
computed from the table's columns, dtypes and every value *bit for bit*
(``pandas.util.hash_pandas_object``; floats by their bits). Run it on two
commits and compare::

    python benchmarks/same_results.py > before.txt
    git checkout NEW && python benchmarks/same_results.py > after.txt
    diff before.txt after.txt && echo identical

It uses only the public API (``vsim.load_scenario``, ``simulate``, ``compare``,
``plan``), so it runs unchanged on both sides of a change of layout. The
wall-clock time of a run (``meta.wall_s``) is left out: it is the only value
that is not a result.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from _common import datacenter_day  # noqa: E402

import vsim  # noqa: E402


def table_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, dtypes and values (bit for bit)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(repr(len(df)).encode())
    if len(df.columns):
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def run_hashes(label: str, res) -> list[tuple[str, str]]:
    rows = [(f"{label}:instances", table_hash(res.instances)),
            (f"{label}:phases", table_hash(res.phases)),
            (f"{label}:hosts", table_hash(res.hosts)),
            (f"{label}:summary_table", table_hash(res.summary_table()))]
    for name in sorted(res.tables):
        rows.append((f"{label}:{name}", table_hash(res.tables[name])))
    meta = {k: v for k, v in res.meta.items() if k not in ("wall_s", "scenario_data")}
    rows.append((f"{label}:meta", hashlib.sha256(repr(sorted(meta.items())).encode()).hexdigest()[:16]))
    return rows


def main() -> None:
    rows: list[tuple[str, str]] = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if path.name.startswith("plan-"):
            rows.append((f"plan:{path.name}", table_hash(vsim.plan(path))))
            continue
        rows += run_hashes(path.name, vsim.simulate(vsim.load_scenario(path)))
    rows += run_hashes("datacenter-day-5000", vsim.simulate(datacenter_day(guests=5_000, hosts=50)))
    table = vsim.compare()
    rows.append(("compare", table_hash(table)))
    rows.append(("compare:text", hashlib.sha256(
        __import__("vsim.experiments.compare", fromlist=["render"]).render(table).encode()).hexdigest()[:16]))
    for name, digest in rows:
        print(f"{digest}  {name}")
    print(f"{len(rows)} tables", file=sys.stderr)


if __name__ == "__main__":
    main()
