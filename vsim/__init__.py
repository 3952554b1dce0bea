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

from vsim import _compat
from vsim.experiments.bootstorm import boot_storm
from vsim.experiments.compare import compare
from vsim.experiments.density import density
from vsim.experiments.plan import plan
from vsim.experiments.run import simulate
from vsim.experiments.sweep import sweep
from vsim.model.world import World
from vsim.results.tables import COLUMNS, Results, load_results
from vsim.spec.errors import ScenarioError
from vsim.spec.profile import Profile, builtin_profiles, load_profile, profile_names
from vsim.spec.scenario import Scenario, load_scenario, parse_scenario, scenario_schema

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

_compat.install()
