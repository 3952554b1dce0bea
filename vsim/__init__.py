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
"""

from vsim.errors import ScenarioError
from vsim.profile import Profile, builtin_profiles, load_profile, profile_names
from vsim.results import COLUMNS, Results, load_results
from vsim.scenario import Scenario, load_scenario, parse_scenario, scenario_schema
from vsim.world import World, simulate

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


def compare(*args, **kwargs):
    """The simulated comparison table; see :func:`vsim.experiments.compare.compare`."""
    from vsim.experiments.compare import compare as _compare

    return _compare(*args, **kwargs)


def density(*args, **kwargs):
    """How many guests fit on one host and what limits it; see :func:`vsim.experiments.density.density`."""
    from vsim.experiments.density import density as _density

    return _density(*args, **kwargs)


def boot_storm(*args, **kwargs):
    """Startup against guests started at once; see :func:`vsim.experiments.bootstorm.boot_storm`."""
    from vsim.experiments.bootstorm import boot_storm as _boot_storm

    return _boot_storm(*args, **kwargs)


def sweep(*args, **kwargs):
    """Every point of a scenario's ``sweep:`` with replications, as one long table;
    see :func:`vsim.experiments.sweep.sweep` (and ``summarize`` for means and CIs)."""
    from vsim.experiments.sweep import sweep as _sweep

    return _sweep(*args, **kwargs)


def plan(*args, **kwargs):
    """Minimum hosts per architecture for a demand (simulated); see :func:`vsim.experiments.plan.plan`."""
    from vsim.experiments.plan import plan as _plan

    return _plan(*args, **kwargs)
