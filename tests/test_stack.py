"""The platform stack table and its diagram."""

import matplotlib

matplotlib.use("Agg")
import pandas as pd
import pytest

import vsim
from vsim import plots
from vsim.experiments.stack import COLUMNS, platform_stack


@pytest.mark.parametrize("name", vsim.profile_names())
def test_every_profile_has_a_stack_from_hardware_to_application(name):
    df = platform_stack(name)
    assert list(df.columns) == list(COLUMNS["stack"]) == list(vsim.COLUMNS["stack"])
    assert list(df["level"]) == list(range(len(df)))
    assert df["layer"].iloc[0] == "hardware" and df["layer"].iloc[-1] == "application"
    p = vsim.load_profile(name)
    assert df.loc[df["scope"] == "per host", "memory_mib"].sum() == p.host_memory_mib.value
    assert ("guest OS kernel" in set(df["layer"])) == (p.kind in ("hypervisor", "microvm"))


def test_numbers_follow_a_derived_profile():
    lean = {"name": "vbox-lean", "base": "virtualbox",
            "host_memory_mib": {"value": 1000, "assumption": "a trimmed host OS"}}
    df = platform_stack(lean)
    assert df.loc[df["scope"] == "per host", "memory_mib"].max() == 1000


def test_bad_platform_is_a_scenario_error():
    with pytest.raises(vsim.ScenarioError):
        platform_stack("no-such-hypervisor")


def test_diagram_draws_one_column_per_platform():
    df = pd.concat([platform_stack("kvm"), platform_stack("docker")])
    ax = plots.stack_diagram(df)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["kvm", "docker"]
    assert len(ax.patches) == len(df)
    assert ax.get_xlabel() and ax.get_ylabel()
