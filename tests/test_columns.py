"""Every column a run produces is documented once, with its unit, in COLUMNS."""

import pytest
from conftest import SCENARIOS

import vsim

RUNS = ["docker-vs-kvm", "overhead", "cgroup-limits", "live-migration", "host-failure",
        "cross-hypervisor-migration"]


@pytest.mark.parametrize("name", RUNS)
def test_every_column_is_documented(name):
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / f"{name}.yaml"))
    tables = {"instances": res.instances, "phases": res.phases, "hosts": res.hosts, **res.tables}
    for table, df in tables.items():
        assert table in vsim.COLUMNS, f"table {table!r} is not documented"
        assert list(df.columns) == list(vsim.COLUMNS[table]), table
