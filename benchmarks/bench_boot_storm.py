"""boot-storm: 100,000 VMs started at the same instant on one host.

Every VM clones its overlay and boots through KVM's phases on the same host:
one disk and one CPU shared by up to 100,000 jobs at once. Processor sharing
with virtual time makes each arrival and departure O(log n), so the whole
storm should cost O(n log n): the 100,000 run within 15 times the 10,000 run.
Both sizes run side by side, each next to its plain-SimPy baseline.

    python benchmarks/bench_boot_storm.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse

import _common


def storm(guests: int = 100_000) -> dict:
    from vsim.experiments.run import build_world
    from vsim.results import Results

    world = build_world(_common.boot_storm(guests))
    world.run()
    res = Results.from_world(world)
    ready = res.instances["startup_s"]
    return {"lifecycles": len(res.instances), "events": res.meta["events"], "sim_wall_s": world.wall_s,
            "startup_max_s": float(ready.max()), "ready": int(ready.notna().sum())}


def cases(sizes=(10_000, 100_000), repeat: int = 1) -> list[dict]:
    rows = []
    for n in sizes:
        rows += _common.run_pair(
            ("bench_baseline", "baseline", f"baseline storm {n:,}", {"builder": "boot_storm", "guests": n}),
            ("bench_boot_storm", "storm", f"boot-storm {n:,}", {"guests": n}), repeat)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = cases(sizes)
    print(_common.format_table(rows))
    storms = [r for r in rows if r["case"].startswith("boot-storm")]
    for small, big in zip(storms, storms[1:], strict=False):
        print(f"{big['case']} / {small['case']}: {big['wall_s'] / small['wall_s']:.1f}x the wall time "
              f"for {big['lifecycles'] / small['lifecycles']:.0f}x the guests (target <= 15x for 10x)")


if __name__ == "__main__":
    main()
