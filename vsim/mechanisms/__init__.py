"""Optional mechanisms: services, cgroups, migration, faults and energy.

Each one is a :class:`~vsim.model.mechanism.Mechanism`: it watches moments
of the lifecycle, owns its records and its per-guest state, and is given to
the world when the world is built; the world does not import it.
:func:`for_scenario` chooses the ones a scenario uses, in the order they are
called::

    from vsim.mechanisms import for_scenario
    world = World(scenario, seed, mechanisms=for_scenario(scenario))
"""

from __future__ import annotations

from vsim.mechanisms.energy import Consolidator, Energy
from vsim.mechanisms.faults import Faults
from vsim.mechanisms.kernel import KernelCheck, refusals
from vsim.mechanisms.migration import Migrations
from vsim.mechanisms.services import Services, wanted
from vsim.model.mechanism import Mechanism
from vsim.spec.scenario import Scenario

__all__ = ["for_scenario", "Consolidator", "Energy", "Faults", "KernelCheck", "Mechanism",
           "Migrations", "Services"]


def for_scenario(sc: Scenario) -> list[Mechanism]:
    """The mechanisms scenario ``sc`` uses, in the order the world calls them:
    the kernel check and services (if any workload needs them), migrations
    (scheduled, or used by consolidation), host failures (if any), energy
    (always: every run has a power bill) and consolidation (if asked for)."""
    refused = refusals(sc)
    out: list[Mechanism] = [KernelCheck(refused)] if refused else []
    active = [w for w in sc.workloads if wanted(w)]
    if active:
        out.append(Services(active))
    if sc.migrations or sc.consolidation is not None:
        out.append(Migrations(sc.migrations))
    if Faults.wanted(sc):
        out.append(Faults())
    out.append(Energy())
    if sc.consolidation is not None:
        out.append(Consolidator(sc.consolidation))
    return out
