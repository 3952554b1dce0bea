"""scaling: the datacenter day at 10,000, 100,000 and 1,000,000 lifecycles.

The arrival rate and the 1,000 hosts stay the same, so a bigger count simply
simulates more days at the same load per host: a simulator whose cost per
lifecycle does not grow with the run's length scales linearly. Target: the
1,000,000 run within 12 times the 100,000 run, peak RSS <= 4 GB. Each size
runs next to its plain-SimPy baseline.

    python benchmarks/bench_scaling.py [--skip-1m]
"""

from __future__ import annotations

import argparse

import _common


def cases(sizes=(10_000, 100_000, 1_000_000), repeat: int = 1) -> list[dict]:
    rows = []
    for n in sizes:
        rows += _common.run_pair(
            ("bench_baseline", "baseline", f"baseline {n:,}", {"builder": "datacenter_day", "guests": n}),
            ("bench_datacenter_day", "datacenter", f"scaling {n:,}", {"guests": n}),
            repeat if n < 1_000_000 else 1)
    return rows


def growth(rows: list[dict]) -> list[str]:
    """How the wall time grows from one size to the next, vsim's and, beside
    it, the baseline's own (measured next to it: on a machine whose speed
    drifts, a growth far from the baseline's is drift as much as scaling)."""
    runs = [r for r in rows if r["case"].startswith("scaling")]
    base = {r["lifecycles"]: r for r in rows if r["case"].startswith("baseline") and "storm" not in r["case"]
            and "timeouts" not in r["case"]}
    out = []
    for a, b in zip(runs, runs[1:], strict=False):
        line = (f"{b['case']} / {a['case']}: {b['wall_s'] / a['wall_s']:.1f}x the wall time for "
                f"{b['lifecycles'] / a['lifecycles']:.0f}x the lifecycles")
        ba, bb = base.get(a["lifecycles"]), base.get(b["lifecycles"])
        if ba and bb:
            line += f" (the baseline's: {bb['wall_s'] / ba['wall_s']:.1f}x)"
        out.append(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-1m", action="store_true", help="leave out the 1,000,000 run (several minutes)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each size below 1,000,000, alternating; best kept")
    args = ap.parse_args()
    sizes = (10_000, 100_000) if args.skip_1m else (10_000, 100_000, 1_000_000)
    rows = cases(sizes, args.repeat)
    print(_common.format_table(rows))
    for line in growth(rows):
        print(line)


if __name__ == "__main__":
    main()
