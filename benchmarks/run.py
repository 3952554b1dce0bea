"""Run every benchmark and print one table.

    python benchmarks/run.py            # everything, 1,000,000 lifecycles included
    python benchmarks/run.py --quick    # smaller sizes, no 1,000,000 run (a minute or two)
    python benchmarks/run.py --skip-1m  # full sizes except the 1,000,000 run

Each case runs in a fresh child process (its own peak RSS); each vsim case runs
next to a plain-SimPy baseline of the same events, and ``ratio`` is vsim's wall
time over that baseline's, measured in this same invocation. On a busy machine
the absolute times move; the ratios are what to compare. Targets (issue 8):
datacenter-day within 2x its baseline and <= 1 GB; 1,000,000 lifecycles within
12x the 100,000 run and <= 4 GB; boot-storm 100,000 within 15x the 10,000 run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import _common
import bench_boot_storm
import bench_datacenter_day
import bench_fairshare
import bench_scaling


def main() -> None:
    ap = argparse.ArgumentParser(description="Run the vsim benchmarks and print a table.")
    ap.add_argument("--quick", action="store_true", help="small sizes only (10,000 lifecycles, 1,000 in the storm)")
    ap.add_argument("--skip-1m", action="store_true", help="leave out the 1,000,000-lifecycle run")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows: list[dict] = []
    notes: list[str] = []
    if args.quick:
        rows += bench_datacenter_day.cases(guests=10_000, repeat=1)
        rows += bench_boot_storm.cases((1_000, 10_000))
        rows += bench_fairshare.cases(10_000)
    else:
        rows += bench_datacenter_day.cases(guests=100_000)
        rows += bench_fairshare.cases(100_000)
        rows += bench_boot_storm.cases((10_000, 100_000))
        scale = bench_scaling.cases((10_000, 1_000_000) if not args.skip_1m else (10_000,))
        # The 100,000 point of the scaling series is the datacenter-day run above.
        dc = [r for r in rows if r["case"].startswith(("baseline 100,000", "datacenter-day 100,000"))]
        series = scale[:2] + [dict(r, case=r["case"].replace("datacenter-day", "scaling")) for r in dc] + scale[2:]
        rows += scale
        notes += bench_scaling.growth(series)
    notes += [n for n in map(_common.pair_note, rows) if n]
    storms = [r for r in rows if r["case"].startswith("boot-storm")]
    if len(storms) == 2:
        notes.append(f"{storms[1]['case']} / {storms[0]['case']}: {storms[1]['wall_s'] / storms[0]['wall_s']:.1f}x "
                     f"the wall time for {storms[1]['lifecycles'] / storms[0]['lifecycles']:.0f}x the guests")
    print(f"vsim benchmarks on {platform.node()} ({platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}), {time.perf_counter() - t0:.0f} s in all")
    print()
    print(_common.format_table(rows))
    print()
    for line in notes:
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
