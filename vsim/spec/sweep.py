"""Sweeps: one scenario, every combination of the values listed under ``sweep:``.

A scenario's ``sweep:`` maps dotted paths to lists of values
(``hosts[0].overcommit.cpu: [1, 2, 4]``); :func:`expand` makes one
:class:`Point` per combination (the cartesian product, as OpenDC and desmod
expand factors), each checked as a whole scenario before anything runs.
Replication ``r`` of any point gets the seed :func:`replication_seed` derives
from the scenario's seed, so the same sweep gives the same table on any
executor. Running the points is :mod:`vsim.experiments.sweep`'s job.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from vsim.spec.cost import estimate
from vsim.spec.errors import brief
from vsim.spec.overrides import set_path
from vsim.spec.scenario import Scenario, parse_scenario

__all__ = ["Point", "expand", "replication_seed"]


@dataclass(frozen=True)
class Point:
    """One combination of swept values: its number, the values, the scenario data."""

    id: int
    params: dict[str, Any]
    data: dict[str, Any]
    cost: Any = None  # its vsim.spec.cost.Estimate, made when the point was validated


def replication_seed(scenario_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: from SeedSequence(seed), spawn key (r,)."""
    ss = np.random.SeedSequence(int(scenario_seed), spawn_key=(int(replication),))
    hi, lo = (int(x) for x in ss.generate_state(2, np.uint32))
    return ((hi << 32) | lo) >> 1  # 63 bits: a valid scenario seed


def expand(scenario: Scenario) -> list[Point]:
    """Every point of the scenario's sweep (one point, the scenario itself, if none)."""
    base = scenario.model_dump(mode="json", exclude_none=True, exclude={"sweep", "replications"})
    keys = list(scenario.sweep)
    points = []
    for pid, combo in enumerate(itertools.product(*(scenario.sweep[k] for k in keys))):
        data = json.loads(json.dumps(base))  # a deep copy of plain data
        params = dict(zip(keys, combo, strict=True))
        for k, v in params.items():
            set_path(data, k, v, what=f"sweep.{k}")
        where = f"sweep point {pid} ({', '.join(f'{k}={brief(v)}' for k, v in params.items())})"
        sc = parse_scenario(data, where=where)  # every combination must be valid before anything runs
        points.append(Point(pid, params, data, estimate(sc)))
    return points
