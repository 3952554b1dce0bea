"""vsim: a discrete-event simulator of virtualization architectures.

Physical hosts run platforms (bare-metal and hosted hypervisors, container
engines, microVM monitors) that start guests (VMs, containers, microVMs). Boot
phases, image pulls and clones run on each host's shared CPU, disk and network,
so contention is simulated, not assumed. Typical use::

    import vsim
    scenario = vsim.load_scenario("scenarios/docker-vs-kvm.yaml")
    results = vsim.simulate(scenario, seed=1)
    results.summary_table()          # startup p50/p95 per workload
    results.instances.head()         # one row per guest

See the README for the command line (``vsim run``, ``vsim compare``, ...).

The front door is light: ``import vsim`` loads none of pandas, matplotlib or
the experiments. Each public name is imported from its home module the first
time it is used (PEP 562 ``__getattr__``), then kept here.
"""

from vsim import _compat

__all__ = [
    "COLUMNS",
    "Profile",
    "Results",
    "Scenario",
    "ScenarioError",
    "World",
    "builtin_profiles",
    "compare",
    "load_profile",
    "load_results",
    "load_scenario",
    "parse_scenario",
    "profile_names",
    "scenario_schema",
    "simulate",
    "density",
    "boot_storm",
    "storm_curve",
    "sweep",
    "plan",
    "check",
]

__version__ = "0.1.0"

#: public name -> the module it lives in (imported on first use).
_HOMES: dict[str, str] = {
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

#: Where the tables are documented, each next to the code that makes it, in the
#: order of ``COLUMNS``: a run's tables and the mechanisms' (vsim.results.columns),
#: then the experiments'.
_COLUMN_HOMES: tuple[str, ...] = (
    "vsim.results.columns",
    "vsim.experiments.profiles",
    "vsim.experiments.microbench",
    "vsim.experiments.density",
    "vsim.experiments.bootstorm",
    "vsim.experiments.sweep",
    "vsim.experiments.plan",
    "vsim.experiments.stack",
    "vsim.experiments.check",
)
assert sorted([*_HOMES, "COLUMNS"]) == sorted(__all__)


def _gather_columns() -> dict[str, dict[str, tuple[str, str]]]:
    """``COLUMNS``: every table of :data:`_COLUMN_HOMES` in one mapping."""
    import importlib

    out: dict[str, dict[str, tuple[str, str]]] = {}
    for home in _COLUMN_HOMES:
        for table, cols in importlib.import_module(home).COLUMNS.items():
            if table in out:
                raise RuntimeError(f"table {table!r} is documented twice (again in {home})")
            out[table] = cols
    return out


def __getattr__(name: str):
    if name == "COLUMNS":
        value = _gather_columns()
    elif name in _HOMES:
        import importlib

        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # next time a plain module attribute: no call here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_compat.install()
