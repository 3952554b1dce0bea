"""datacenter-day: 1,000 hosts and 100,000 guest lifecycles in one simulated day.

VMs (full and linked clones), microVMs and containers arrive as Poisson
streams, are placed best-fit across the hosts, clone or pull their images, boot
through their phases on each host's shared CPU, disk and network, live, stop,
and leave one row each in the result tables. The plain-SimPy baseline with the
same events runs in the same invocation, and the table shows vsim's wall time
as a multiple of it (target: within 2x, peak RSS <= 1 GB). The two alternate
``--repeat`` times and the best run of each is kept.

    python benchmarks/bench_datacenter_day.py [--guests 100000] [--hosts 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse

import _common


def datacenter(guests: int = 100_000, hosts: int = 1_000, seed: int = 1) -> dict:
    """Build, run and tabulate the datacenter day; return counts for the table."""
    from vsim.experiments.run import build_world
    from vsim.results import Results

    sc = _common.datacenter_day(guests=guests, hosts=hosts, seed=seed)
    world = build_world(sc)
    world.run()
    res = Results.from_world(world)
    states = res.instances["state"].value_counts().to_dict()
    return {
        "lifecycles": len(res.instances), "events": res.meta["events"], "sim_wall_s": world.wall_s,
        "sim_end_s": res.meta["sim_end_s"], "states": {str(k): int(v) for k, v in states.items()},
        "startup_p50_s": float(res.instances["startup_s"].median()),
    }


def cases(guests: int = 100_000, hosts: int = 1_000, repeat: int = 3) -> list[dict]:
    """The day and its baselines: the one-timeout-per-step baseline alternating with
    vsim (``repeat`` pairs), then the lean and the contended baselines
    (bench_baseline's modes) once each, right after, in the same invocation."""
    rows = _common.run_pair(
        ("bench_baseline", "baseline", f"baseline (steps) {guests:,}",
         {"builder": "datacenter_day", "guests": guests, "hosts": hosts}),
        ("bench_datacenter_day", "datacenter", f"datacenter-day {guests:,}", {"guests": guests, "hosts": hosts}),
        repeat)
    for mode in ("lean", "contended"):
        rows.insert(-1, _common.run_case("bench_baseline", "baseline", f"baseline ({mode}) {guests:,}",
                                         builder="datacenter_day", guests=guests, hosts=hosts, mode=mode))
    return rows


def ratios_note(rows: list[dict]) -> str:
    """vsim's wall time against each baseline of the same invocation, and what each models."""
    vsim_row = rows[-1]
    what = {"steps": "one timeout per phase step, pooled control planes, no hosts",
            "lean": "one timeout per uncontended sequence, the same timeline",
            "contended": "hosts, placement and a FIFO simpy.Resource per host for every step"}
    parts = []
    for r in rows[:-1]:
        mode = r["case"].split("(")[1].split(")")[0]
        parts.append(f"{vsim_row['wall_s'] / r['wall_s']:.2f}x {mode} ({what[mode]})")
    return "vsim against each baseline: " + "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guests", type=int, default=100_000)
    ap.add_argument("--hosts", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; the best of each is kept")
    args = ap.parse_args()
    rows = cases(args.guests, args.hosts, args.repeat)
    print(_common.format_table(rows))
    if note := _common.pair_note(rows[-1]):
        print(note)
    print(ratios_note(rows))
    print(f"final states: {rows[-1]['states']}; simulated {rows[-1]['sim_end_s']:,.0f} s")


if __name__ == "__main__":
    main()
