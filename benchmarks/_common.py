"""Shared machinery of the benchmarks: scenarios built in code, measuring, tables.

Every benchmark case runs in its own child Python process, so that its peak
resident memory (``ru_maxrss``) is its own and not the high-water mark of
whatever ran before it in the same interpreter. The child prints one JSON line;
the parent collects the lines and prints a table.

Figures reported for each case:

* ``wall_s``: wall-clock seconds to build the model, run it and build the
  result tables (everything a user waits for, except loading Python);
* ``cpu_s``: CPU seconds of the child over the same span (on a shared machine
  the wall time also counts time the process waited for a core);
* ``peak_rss_mib``: the child process's peak resident set size;
* ``events``: SimPy events scheduled during the run (SimPy's event counter);
* ``events_per_s``: ``events / wall_s``;
* ``runs``: how many runs ``wall_s`` is the best of (the baseline and the vsim
  case alternate, see :func:`run_pair`);
* ``ratio``: ``wall_s`` divided by the plain-SimPy baseline's ``wall_s`` for the
  same lifecycles, measured in the same invocation. Where the two alternate
  (:func:`run_pair`), the ratio of each back-to-back pair is printed below the
  table too: on a shared machine they spread, and their median is the
  steadier figure.

This file is not collected by pytest (only ``tests/`` is, and the benchmark
files are named ``bench_*.py``). No timings appear in the test suite.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

DAY_S = 86_400.0


# -- scenarios built in code ---------------------------------------------------------

def datacenter_day(guests: int = 100_000, hosts: int = 1_000, seed: int = 1):
    """A day in a 1,000-host datacenter: VMs, microVMs and containers, mixed.

    Arrivals are Poisson at a rate that brings ``guests`` lifecycles per
    day when ``guests`` is 100,000 (about 1.16 per second); other counts keep
    the same rate and so simulate proportionally more or fewer days, with the
    same load per host: that is what makes the scaling benchmark a fair test
    of near-linear cost. Lifetimes are exponential (VMs live hours, containers
    an hour, microVMs minutes), so about 8,000 guests are alive at any time,
    8 per host. VM images are pre-seeded on every host (a golden image);
    container images start cold and are pulled layer by layer from a shared
    registry, and two of them share a base layer.
    """
    from vsim.spec.scenario import parse_scenario

    rate = 100_000 / DAY_S
    mix = [  # name, platform, share, vcpus, memory_mib, image, clone, mean lifetime (s)
        ("web-vm", "kvm", 0.20, 2, 4096, "ubuntu-vm", "full", 4 * 3600.0),
        ("batch-vm", "kvm", 0.15, 4, 8192, "ubuntu-vm", "linked", 4 * 3600.0),
        ("function", "firecracker", 0.15, 1, 256, "fc-rootfs", None, 600.0),
        ("web", "docker", 0.20, 0.5, 512, "nginx", None, 3600.0),
        ("api", "docker", 0.20, 1, 1024, "python-api", None, 3600.0),
        ("worker", "docker", 0.10, 1, 512, "go-worker", None, 3600.0),
    ]
    counts = [int(round(guests * m[2])) for m in mix]
    counts[0] += guests - sum(counts)
    workloads = []
    for (name, platform, share, vcpus, mem, image, clone, life), n in zip(mix, counts, strict=True):
        w = {
            "name": name, "platform": platform, "vcpus": vcpus, "memory_mib": mem, "image": image,
            "arrivals": {"type": "poisson", "rate_per_s": rate * share, "count": n},
            "lifetime": {"type": "exponential", "mean_s": life},
        }
        if clone:
            w["clone"] = clone
        workloads.append(w)
    data = {
        "name": "datacenter-day",
        "seed": seed,
        "placement": "best-fit",
        "hosts": [{
            "name": "node", "count": hosts, "cores": 32, "memory_gib": 256,
            "disk": {"capacity_gib": 2000, "read_mb_s": 800, "write_mb_s": 750},
            "network_gbit_s": 10, "platforms": ["kvm", "docker", "firecracker"],
            "overcommit": {"cpu": 4.0}, "cached_images": ["ubuntu-vm", "fc-rootfs"],
        }],
        "registries": [{"name": "hub", "bandwidth_gbit_s": 10, "latency_s": 0.05}],
        "images": [
            {"name": "ubuntu-vm", "kind": "vm-disk", "format": "qcow2", "size_mb": 2256},
            {"name": "fc-rootfs", "kind": "vm-disk", "format": "raw", "size_mb": 300},
            {"name": "nginx", "kind": "container", "layers": [
                {"id": "debian-12", "size_mb": 29, "unpacked_mb": 74},
                {"id": "nginx-1.25", "size_mb": 41, "unpacked_mb": 113}]},
            {"name": "python-api", "kind": "container", "layers": [
                {"id": "debian-12", "size_mb": 29, "unpacked_mb": 74},
                {"id": "python-3.11", "size_mb": 45, "unpacked_mb": 140},
                {"id": "api-code", "size_mb": 5, "unpacked_mb": 20}]},
            {"name": "go-worker", "kind": "container", "layers": [
                {"id": "alpine-3.19", "size_mb": 3.4, "unpacked_mb": 7.4},
                {"id": "worker-bin", "size_mb": 12, "unpacked_mb": 30}]},
        ],
        "workloads": workloads,
    }
    return parse_scenario(data, where="datacenter-day")


def boot_storm(guests: int, seed: int = 1):
    """``guests`` KVM VMs (linked clones) requested at the same instant on one host.

    The host is made big enough to hold them all, so every VM boots and all of
    them share one disk and one CPU: the worst case for a shared resource.
    """
    from vsim.spec.scenario import parse_scenario

    data = {
        "name": f"boot-storm-{guests}",
        "seed": seed,
        "hosts": [{
            "name": "server", "cores": 1024, "memory_gib": guests * 1.0 + 64,
            "disk": {"capacity_gib": 1000 + guests * 0.5, "read_mb_s": 3000, "write_mb_s": 2000},
            "platforms": ["kvm"], "overcommit": {"cpu": 100.0}, "cached_images": ["ubuntu-vm"],
        }],
        "images": [{"name": "ubuntu-vm", "kind": "vm-disk", "format": "qcow2", "size_mb": 2256}],
        "workloads": [{
            "name": "storm", "platform": "kvm", "vcpus": 1, "memory_mib": 512, "image": "ubuntu-vm",
            "clone": "linked", "arrivals": {"type": "batch", "count": guests, "at_s": 0},
            "lifetime": {"type": "fixed", "duration_s": 60},
        }],
    }
    return parse_scenario(data, where="boot-storm")


# -- measuring ---------------------------------------------------------------------

def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: KiB units)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def measure(fn, **kwargs) -> dict:
    """Run ``fn(**kwargs)`` (which returns a dict with ``events``) and time it."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn(**kwargs)
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    out["peak_rss_mib"] = peak_rss_mib()
    out["events_per_s"] = out["events"] / out["wall_s"] if out["wall_s"] > 0 else float("nan")
    return out


def run_case(module: str, func: str, label: str, timeout_s: float | None = None, **kwargs) -> dict:
    """Run ``benchmarks/<module>.py:<func>(**kwargs)`` in a fresh child process."""
    cmd = [sys.executable, str(HERE / "_common.py"), module, func, json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: benchmark child failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["case"] = label
    return row


def run_pair(base: tuple, case: tuple, repeat: int = 1) -> list[dict]:
    """Run a baseline and a vsim case ``repeat`` times each, alternating, and
    keep the fastest run of each (best of N, as ``timeit`` does).

    ``base`` and ``case`` are ``(module, func, label, kwargs)``. On a shared
    machine the speed drifts from minute to minute; alternating the two and
    keeping each one's best compares them under the same conditions. The
    returned rows say how many runs each figure is the best of (``runs``).
    """
    best: list[dict | None] = [None, None]
    pairs: list[float] = []
    for _ in range(max(1, repeat)):
        got = []
        for k, (module, func, label, kwargs) in enumerate((base, case)):
            row = run_case(module, func, label, **kwargs)
            got.append(row)
            if best[k] is None or row["wall_s"] < best[k]["wall_s"]:
                best[k] = row
        pairs.append(got[1]["wall_s"] / got[0]["wall_s"])
    for row in best:
        row["runs"] = max(1, repeat)
    best[1]["pair_ratios"] = pairs
    return [best[0], with_ratio(best[1], best[0])]


def pair_note(row: dict) -> str:
    """One line on the ratios of each back-to-back pair (see run_pair): on a
    machine whose speed drifts, their spread says how far to trust ``ratio``."""
    p = sorted(row.get("pair_ratios") or [])
    if len(p) < 2:
        return ""
    mid = p[len(p) // 2] if len(p) % 2 else (p[len(p) // 2 - 1] + p[len(p) // 2]) / 2
    return (f"{row['case']}: ratio of each back-to-back pair {', '.join(f'{x:.2f}' for x in row['pair_ratios'])} "
            f"(median {mid:.2f})")


def _child(module: str, func: str, kwargs_json: str) -> None:
    spec = importlib.util.spec_from_file_location(module, HERE / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import vsim.model.world  # noqa: F401
    import vsim.results.tables  # noqa: F401  (imports are not part of any measured time)

    row = measure(getattr(mod, func), **json.loads(kwargs_json))
    print(json.dumps(row))


# -- reporting ------------------------------------------------------------------------

COLUMNS = [
    ("case", "{}"), ("lifecycles", "{:,}"), ("events", "{:,}"), ("wall_s", "{:.2f}"), ("cpu_s", "{:.2f}"),
    ("peak_rss_mib", "{:.0f}"), ("events_per_s", "{:,.0f}"), ("runs", "{}"), ("ratio", "{:.2f}"),
]


def format_table(rows: list[dict]) -> str:
    cells = [[c for c, _ in COLUMNS]]
    for r in rows:
        line = []
        for c, fmt in COLUMNS:
            v = r.get(c)
            line.append("-" if v is None else fmt.format(v))
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    out = []
    for k, row in enumerate(cells):
        out.append("  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(row, widths, strict=True))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def with_ratio(row: dict, base: dict) -> dict:
    row["ratio"] = row["wall_s"] / base["wall_s"] if base.get("wall_s") else None
    return row


if __name__ == "__main__":
    _child(*sys.argv[1:4])
