"""The front door is light: ``import vsim`` and ``vsim --version`` load no
pandas, no matplotlib and none of the experiments; each public name is
imported from its home module the first time it is used.

The import checks run in a fresh interpreter: this one has long loaded them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

import vsim

#: Modules a bare ``import vsim`` or ``vsim --version`` must not load.
HEAVY = ("pandas", "matplotlib", "vsim.experiments")

#: Each public name and the module it comes from (COLUMNS is gathered: see below).
HOMES = {
    "Profile": "vsim.spec.profile",
    "Results": "vsim.results.tables",
    "Scenario": "vsim.spec.scenario",
    "ScenarioError": "vsim.spec.errors",
    "World": "vsim.model.world",
    "builtin_profiles": "vsim.spec.profile",
    "compare": "vsim.experiments.compare",
    "load_profile": "vsim.spec.profile",
    "load_results": "vsim.results.tables",
    "load_scenario": "vsim.spec.scenario",
    "parse_scenario": "vsim.spec.scenario",
    "profile_names": "vsim.spec.profile",
    "scenario_schema": "vsim.spec.scenario",
    "simulate": "vsim.experiments.run",
    "density": "vsim.experiments.density",
    "boot_storm": "vsim.experiments.bootstorm",
    "storm_curve": "vsim.experiments.bootstorm",
    "sweep": "vsim.experiments.sweep",
    "plan": "vsim.experiments.plan",
    "check": "vsim.experiments.check",
}


def python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)


def python_code(code: str) -> subprocess.CompletedProcess:
    return python("-c", textwrap.dedent(code))


LOADED = """
    import json, sys
    print(json.dumps(sorted(m for m in sys.modules
                            if any(m == h or m.startswith(h + ".") for h in {heavy!r}))))
"""


def heavy_loaded_after(code: str) -> list[str]:
    proc = python_code(textwrap.dedent(code) + textwrap.dedent(LOADED).format(heavy=HEAVY))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_import_vsim_loads_nothing_heavy():
    assert heavy_loaded_after("import vsim\n") == []


def test_version_loads_nothing_heavy():
    code = """
        import vsim.cli
        try:
            vsim.cli.main(["--version"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
    """
    assert heavy_loaded_after(code) == []


def test_a_name_is_imported_when_first_used():
    code = """
        import sys, vsim
        assert "World" not in vars(vsim) and "vsim.model.world" not in sys.modules
        w = vsim.World
        assert vars(vsim)["World"] is w is sys.modules["vsim.model.world"].World
        assert "pandas" not in sys.modules  # the model alone needs no pandas
        assert "simulate" not in vars(vsim) and "vsim.experiments.run" not in sys.modules
        f = vsim.simulate
        assert vars(vsim)["simulate"] is f is sys.modules["vsim.experiments.run"].simulate
        vsim.density
        assert "vsim.experiments.density" in sys.modules
    """
    proc = python_code(code)
    assert proc.returncode == 0, proc.stderr


def test_python_m_vsim_is_the_vsim_command(tmp_path):
    proc = python("-m", "vsim", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"vsim {importlib.metadata.version('vsim')}"
    assert python("-m", "vsim").returncode == 2  # no command: help, exit 2
    assert python("-m", "vsim", "--no-such-flag").returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [1, 2\n")
    proc = python("-m", "vsim", "validate", str(bad))
    assert proc.returncode == 2
    assert "YAML syntax error" in proc.stderr and "Traceback" not in proc.stderr
    proc = python("-m", "vsim", "validate", str(ROOT / "scenarios" / "docker-vs-kvm.yaml"))
    assert proc.returncode == 0 and ": ok (" in proc.stdout, proc.stderr


def test_all_is_the_public_api():
    # The names of before the layout change, unchanged, storm_curve and check (new).
    assert vsim.__all__ == [
        "COLUMNS", "Profile", "Results", "Scenario", "ScenarioError", "World", "builtin_profiles",
        "compare", "load_profile", "load_results", "load_scenario", "parse_scenario",
        "profile_names", "scenario_schema", "simulate", "density", "boot_storm", "storm_curve", "sweep", "plan",
        "check",
    ]
    assert set(HOMES) == set(vsim.__all__) - {"COLUMNS"}


@pytest.mark.parametrize("name", sorted(HOMES))
def test_every_public_name_is_its_home_object(name):
    home = importlib.import_module(HOMES[name])
    assert getattr(vsim, name) is getattr(home, name)
    assert vars(vsim)[name] is getattr(home, name)  # kept: the next use is a plain lookup


def test_columns_is_one_mapping_of_every_table():
    cols = vsim.COLUMNS
    assert cols is vsim.COLUMNS
    assert isinstance(cols, dict) and {"instances", "phases", "hosts"} <= set(cols)


def test_dir_lists_the_public_names():
    code = """
        import vsim
        assert "simulate" not in vars(vsim)  # not imported yet, listed all the same
        missing = set(vsim.__all__) - set(dir(vsim))
        assert not missing, missing
        assert "__version__" in dir(vsim)
    """
    proc = python_code(code)
    assert proc.returncode == 0, proc.stderr


def test_star_import_gives_every_public_name():
    ns: dict = {}
    exec("from vsim import *", ns)
    assert set(vsim.__all__) <= set(ns)


def test_unknown_attribute_is_the_usual_error():
    with pytest.raises(AttributeError, match=r"^module 'vsim' has no attribute 'no_such_name'$"):
        vsim.no_such_name  # noqa: B018
    assert not hasattr(vsim, "__wrapped__")
    with pytest.raises(ImportError, match="cannot import name 'no_such_name' from 'vsim'"):
        exec("from vsim import no_such_name", {})
