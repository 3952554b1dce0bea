"""Every column a run produces is documented once, with its unit, in COLUMNS.

A run's tables and the mechanisms' are documented in vsim.results.columns; each
experiment documents its own tables (its ``COLUMNS``); vsim.COLUMNS gathers them.
"""

import importlib

import pytest
from conftest import SCENARIOS

import vsim
import vsim.results
from vsim.experiments import bootstorm, density
from vsim.results import columns

RUNS = ["docker-vs-kvm", "overhead", "cgroup-limits", "live-migration", "host-failure",
        "cross-hypervisor-migration"]


@pytest.mark.parametrize("name", RUNS)
def test_every_column_is_documented(name):
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / f"{name}.yaml"))
    tables = {"instances": res.instances, "phases": res.phases, "hosts": res.hosts, **res.tables}
    for table, df in tables.items():
        assert table in vsim.COLUMNS, f"table {table!r} is not documented"
        assert list(df.columns) == list(vsim.COLUMNS[table]), table


HOMES = {
    "vsim.results.columns": ["instances", "phases", "hosts", "requests", "cgroup_events", "storage",
                             "utilisation", "migrations", "failures", "recoveries", "energy",
                             "host_states"],
    "vsim.experiments.profiles": ["profiles"],
    "vsim.experiments.microbench": ["felter_table", "io_efficiency"],
    "vsim.experiments.density": ["density", "idle_footprint"],
    "vsim.experiments.bootstorm": ["boot_storm", "first_fetch", "storm_curve"],
    "vsim.experiments.sweep": ["sweep", "sweep_summary"],
    "vsim.experiments.plan": ["plan"],
    "vsim.experiments.stack": ["stack"],
    "vsim.experiments.check": ["check"],
}


def test_vsim_columns_gathers_every_home_once_in_order():
    assert list(vsim.COLUMNS) == [t for tables in HOMES.values() for t in tables]
    for home, tables in HOMES.items():
        mod = importlib.import_module(home)
        assert list(mod.COLUMNS) == tables, home
        for t in tables:
            assert vsim.COLUMNS[t] is mod.COLUMNS[t], t


def test_results_columns_are_the_tables_of_a_run():
    assert vsim.results.COLUMNS is columns.COLUMNS
    assert list(columns.COLUMNS) == list(columns.RUN_COLUMNS) + list(columns.MECHANISM_COLUMNS)
    assert list(columns.RUN_COLUMNS) == ["instances", "phases", "hosts"]
    for table, cols in columns.COLUMNS.items():
        assert cols is vsim.COLUMNS[table]


def test_columns_doc_documents_what_it_is_given():
    every = vsim.results.columns_doc(vsim.COLUMNS).splitlines()
    assert len(every) == 2 + sum(len(c) for c in vsim.COLUMNS.values())
    assert "| density | `binding` |" in "\n".join(every)
    run = vsim.results.columns_doc().splitlines()
    assert len(run) == 2 + sum(len(c) for c in vsim.results.COLUMNS.values())
    assert every[:len(run)] == run  # a run's tables first


def test_density_and_boot_storm_have_their_documented_columns():
    assert list(density.density("docker", max_guests=20).columns) == list(density.COLUMNS["density"])
    assert list(bootstorm.boot_storm("docker", counts=[2]).columns) == list(bootstorm.COLUMNS["boot_storm"])


def test_each_mechanism_documents_the_tables_it_writes_in_its_own_module():
    import importlib

    from vsim.mechanisms import for_scenario
    from vsim.results import columns

    seen = set()
    for path in sorted(SCENARIOS.glob("*.yaml")):
        if path.name.startswith("plan-"):
            continue
        for m in for_scenario(vsim.load_scenario(path)):
            home = importlib.import_module(type(m).__module__)
            for table in m.tables:
                assert table in home.COLUMNS, f"{type(m).__name__} writes {table!r}, not documented in {home.__name__}"
                seen.add(table)
    assert seen == set(columns.MECHANISM_COLUMNS)  # every documented mechanism table is written by some scenario
    mods = [importlib.import_module(f"vsim.mechanisms.{n}") for n in ("services", "migration", "faults", "energy")]
    assert sum(len(m.COLUMNS) for m in mods) == len(columns.MECHANISM_COLUMNS)  # no table documented twice
