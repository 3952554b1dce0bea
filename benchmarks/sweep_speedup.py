"""A 100-point sweep on 1 and on 2 worker processes: the speedup.

Run:  python benchmarks/sweep_speedup.py
Each point is one run of a loss system (Poisson requests for up to 20 slots, 300
requests); 10 slot counts x 10 arrival rates = 100 points. The tables of the
two runs must be identical (same seeds whatever the executor); the script
checks it and prints the wall-clock times and the speedup. Not run by the tests.
"""

from __future__ import annotations

import os
import time

import pandas as pd

from vsim.experiments.sweep import sweep
from vsim.spec.scenario import parse_scenario

SCENARIO = {
    "name": "speedup",
    "seed": 1,
    "hosts": [{"name": "h", "cores": 64, "memory_gib": 256, "platforms": ["docker"], "max_guests": 10}],
    "workloads": [{
        "name": "req", "platform": "docker", "vcpus": 0.1, "memory_mib": 64,
        "arrivals": {"type": "poisson", "rate_per_s": 1.0, "count": 300},
        "lifetime": {"type": "exponential", "mean_s": 10.0},
    }],
    "sweep": {
        "hosts.0.max_guests": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
        "workloads.0.arrivals.rate_per_s": [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0],
    },
    "replications": 1,
}


def main() -> None:
    sc = parse_scenario(SCENARIO)
    times = {}
    tables = {}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        tables[jobs] = sweep(sc, jobs=jobs, progress=False)
        times[jobs] = time.perf_counter() - t0
        print(f"{len(tables[jobs])} points, jobs={jobs}: {times[jobs]:.2f} s")
    pd.testing.assert_frame_equal(tables[1], tables[2])
    print(f"identical tables; speedup with 2 workers: {times[1] / times[2]:.2f}x "
          f"(cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
