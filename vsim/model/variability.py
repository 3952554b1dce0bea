"""Why no two boots take exactly the same time.

Thirty starts of the same Ubuntu VM on KVM took 8.47 s on average with a
standard deviation of 0.16 s (Plauth et al. 2017); Firecracker's serial boots
have a p99 7% above their median. A profile states that spread as
``startup_cv`` (standard deviation / mean of one start on an idle host). Each
guest draws a *multiplier* ``m`` from a lognormal distribution with mean 1 and
that coefficient of variation, and its start phases need ``m`` times their
calibrated work (CPU, disk, network and fixed waits alike), so on an idle host
its startup is ``m`` times the calibrated one; under contention the shares
stretch each guest's own work. A storm of identical guests therefore no
longer finishes at one instant: p50 < p95 < max.

The multiplier is drawn from ``LEVELS`` equally likely levels, the
lognormal's quantiles at ``(j + 1/2) / LEVELS`` scaled so that their mean is
exactly 1: guests of one level share one timeline for their solo runs, and
the quantiles of the startup match the lognormal's within one level.
``variability: false`` in a scenario gives every guest ``m = 1``: the
deterministic model the exact-timeline tests use. Draws come from one
generator per workload, derived from the run's seed (same seed, same tables).
"""

from __future__ import annotations

import math
from functools import cache
from statistics import NormalDist

import numpy as np

__all__ = ["LEVELS", "VARIABILITY_STREAM", "levels", "draw"]

LEVELS = 32
VARIABILITY_STREAM = 0x5EED7A  # spawn-key branch of the per-workload generators


@cache
def levels(cv: float) -> tuple[float, ...]:
    """The ``LEVELS`` multipliers of a lognormal with mean 1 and coefficient of variation ``cv``."""
    if cv <= 0:
        return (1.0,) * LEVELS
    sigma = math.sqrt(math.log1p(cv * cv))
    z = NormalDist()
    raw = [math.exp(sigma * z.inv_cdf((j + 0.5) / LEVELS)) for j in range(LEVELS)]
    mean = sum(raw) / LEVELS
    return tuple(x / mean for x in raw)


def draw(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` levels (integers in ``[0, LEVELS)``), equally likely."""
    return rng.integers(0, LEVELS, size=n)


def generator(seed: int, workload_index: int) -> np.random.Generator:
    """The variability generator of one workload of a run."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(VARIABILITY_STREAM, workload_index)))
