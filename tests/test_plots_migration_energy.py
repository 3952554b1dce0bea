"""Smoke tests: the migration and energy plots draw from real run tables, with labelled axes."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import vsim  # noqa: E402
from vsim.plots import energy_bars, migration_rounds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run():
    sc = vsim.load_scenario(ROOT / "scenarios" / "live-migration.yaml")
    return sc, vsim.simulate(sc)


def _labelled(ax):
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert "(" in ax.get_ylabel()  # a unit


def test_migration_rounds_per_migration(run):
    _, res = run
    m = res.migrations
    ax = migration_rounds(m)
    _labelled(ax)
    done = int((m["outcome"] == "done").sum())
    assert done >= 2
    assert len(ax.patches) == 2 * done  # a total and a downtime bar per completed migration
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights[-1] == pytest.approx(m.loc[m["outcome"] == "done", "total_s"].max())
    plt.close(ax.figure)


def test_migration_rounds_against_dirty_rate(run):
    sc, res = run
    rate = {w.name: w.dirty_mb_s for w in sc.workloads}
    m = res.migrations.assign(dirty_mb_s=lambda d: d["workload"].map(rate))
    ax = migration_rounds(m, x="dirty_mb_s")
    _labelled(ax)
    assert "MB/s" in ax.get_xlabel()
    assert len(ax.lines) == 2
    plt.close(ax.figure)


def test_energy_bars_stack_to_the_table_total(run):
    _, res = run
    e = res.tables["energy"]
    ax = energy_bars(e)
    _labelled(ax)
    assert "kWh" in ax.get_ylabel()
    tops = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), p.get_y() + p.get_height())
    assert [tops[i] for i in range(len(e))] == pytest.approx(list(e["energy_kwh"]))
    plt.close(ax.figure)
    both = pd.concat([e.assign(run="a"), e.assign(run="b")], ignore_index=True)
    ax = energy_bars(both, unit="Wh", by="run")
    _labelled(ax)
    assert "run" in ax.get_xlabel() and "Wh" in ax.get_ylabel()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="unit"):
        energy_bars(e, unit="MJ")
