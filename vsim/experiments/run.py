"""One run: a scenario, a seed, its mechanisms, its tables.

:func:`simulate` is the simplest experiment and the one every other builds
on: it gives the scenario's own mechanisms
(:func:`vsim.mechanisms.for_scenario`) to a :class:`~vsim.model.world.World`,
runs it, and turns what happened into :class:`~vsim.results.Results`.
"""

from __future__ import annotations

import math

import numpy as np

from vsim.mechanisms import for_scenario
from vsim.model.world import World, fewer_collections
from vsim.results.tables import Results
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import Scenario

__all__ = ["simulate", "build_world"]


def build_world(scenario: Scenario, seed: int | None = None, solo_runs: bool = True) -> World:
    """A World for ``scenario`` with the mechanisms the scenario uses.

    ``solo_runs=False`` runs every phase step by step as separate fair-share
    jobs (see :mod:`vsim.engine.solo`): slower, the same results up to
    rounding, and every step visible.
    """
    world = World(scenario, seed, mechanisms=for_scenario(scenario))
    if not solo_runs:
        world.solo_runs = False
    return world


def simulate(scenario: Scenario, seed: int | None = None, until: float | None = None,
             solo_runs: bool = True, progress: bool | None = False, allow_large: bool = False) -> Results:
    """Run ``scenario`` once (with ``seed``, or the scenario's own) and return Results.

    ``progress=None`` shows a bar of simulated time on a terminal's stderr
    once the run takes over a second (``True``: always); the run is the same.
    A run whose estimated cost (:mod:`vsim.spec.cost`: events, memory) is over
    the budget is refused before it starts, naming the fields that make it
    large; ``allow_large=True`` runs it anyway."""
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"simulate: expected a Scenario (from vsim.load_scenario), got {type(scenario).__name__}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or not 0 <= seed <= 2**63 - 1):
        raise ScenarioError(f"seed: must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    if until is not None and (isinstance(until, bool) or not isinstance(until, int | float | np.number)
                              or not (math.isfinite(until) and until > 0)):
        raise ScenarioError(f"until: must be a time in seconds > 0 (or None to run to the end), got {until!r}")
    if not isinstance(solo_runs, bool):
        raise ScenarioError(f"solo_runs: must be True or False, got {solo_runs!r}")
    if progress is not None and not isinstance(progress, bool):
        raise ScenarioError(f"progress: must be True, False or None, got {progress!r}")
    if not isinstance(allow_large, bool):
        raise ScenarioError(f"allow_large: must be True or False, got {allow_large!r}")
    if not allow_large:
        from vsim.spec.cost import check_budget

        check_budget(scenario, scenario.name, until=until)
    world = build_world(scenario, seed, solo_runs)
    from vsim.results.render import progress_bar

    end = scenario.duration_s if until is None else until
    bar = progress_bar(int(end) if end else 1, "run", "sim s", enabled=progress) if progress is not False else None
    if bar is not None and not end:
        bar.total = None  # runs until nothing is left: the end is not known in advance
    try:
        with fewer_collections():  # the tables are built while the heap is at its largest
            world.run(until=until, bar=bar)
            return Results.from_world(world)
    finally:
        if bar is not None:
            bar.close()
