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
    "sweep",
    "plan",
]

__version__ = "0.1.0"

#: public name -> the module it lives in (imported on first use).
_HOMES: dict[str, str] = {
    "COLUMNS": "vsim.results.tables",
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
    "simulate": "vsim.model.world",
    "density": "vsim.experiments.density",
    "boot_storm": "vsim.experiments.bootstorm",
    "sweep": "vsim.experiments.sweep",
    "plan": "vsim.experiments.plan",
}
assert sorted(_HOMES) == sorted(__all__)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # next time a plain module attribute: no call here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_compat.install()
