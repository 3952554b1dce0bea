"""fairshare: 100,000 concurrent jobs on one fair-share resource.

All jobs start at time 0 with exponentially distributed work (mean 1 unit)
on a resource of capacity 1: processor sharing with 100,000 active jobs, each
completion changing everybody's rate. With virtual time and a heap, every
arrival and departure costs O(log n), so this takes seconds; a version that
looped over the active jobs at each change would need about n^2 / 2 = 5e9 steps.
The baseline is plain SimPy with one timeout per job (same count of jobs,
no sharing). The result is also checked against a direct computation of the
processor-sharing schedule (sorted works: the k-th smallest finishes at
``sum(w[:k]) + (n - k) * w[k]``).

    python benchmarks/bench_fairshare.py [--jobs 100000]
"""

from __future__ import annotations

import argparse

import _common
import numpy as np
import simpy


def fairshare(jobs: int = 100_000, seed: int = 1) -> dict:
    from vsim.engine.fairshare import FairShare
    from vsim.model.world import _events_scheduled

    work = np.random.default_rng(seed).exponential(1.0, size=jobs)
    env = simpy.Environment()
    res = FairShare(env, capacity=1.0, name="disk")
    done = [res.use(w) for w in work.tolist()]
    env.run()
    finish = np.array([ev.value for ev in done])
    # Processor-sharing theory for simultaneous arrivals.
    w = np.sort(work)
    k = np.arange(jobs)
    theory = np.concatenate(([0.0], np.cumsum(w)[:-1])) + (jobs - k) * w
    err = float(np.max(np.abs(np.sort(finish) - theory) / theory))
    return {"lifecycles": jobs, "events": _events_scheduled(env), "max_rel_error": err,
            "peak_jobs": res.peak_jobs, "sim_end_s": env.now}


def timeouts(jobs: int = 100_000, seed: int = 1) -> dict:
    from vsim.model.world import _events_scheduled

    work = np.random.default_rng(seed).exponential(1.0, size=jobs)
    env = simpy.Environment()
    done = [env.timeout(w) for w in work.tolist()]
    env.run()
    return {"lifecycles": jobs, "events": _events_scheduled(env), "done": sum(ev.processed for ev in done)}


def cases(jobs: int = 100_000) -> list[dict]:
    base = _common.run_case("bench_fairshare", "timeouts", f"baseline timeouts {jobs:,}", jobs=jobs)
    row = _common.run_case("bench_fairshare", "fairshare", f"fairshare {jobs:,} jobs", jobs=jobs)
    return [base, _common.with_ratio(row, base)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000)
    args = ap.parse_args()
    rows = cases(args.jobs)
    print(_common.format_table(rows))
    r = rows[1]
    print(f"peak concurrent jobs {r['peak_jobs']:,}; worst relative error against PS theory {r['max_rel_error']:.1e}")


if __name__ == "__main__":
    main()
