"""How good is the model? Published figures and theory, held against its runs.

``vsim check`` runs every case in ``vsim/validation/*.yaml``
(:mod:`vsim.spec.validation`): each names a *probe* (the model run that gives
the number: a boot, a scenario file's statistic, a benchmark mix, a density,
a queue) and a *target*, a published figure with its source (a key of
``docs/references.md``) or a theory's value (M/M/1, Erlang C, Erlang B, the
pre-copy series), with a tolerance. It reports, per case, target | vsim |
error | within tolerance, and per group the mean absolute percentage error
(MAPE), over every case and over the *predictions* alone: a case marked
``calibrated`` is a figure the profile was fitted to, where agreement shows
consistency, not predictive power.

A case marked ``expect: miss`` is a figure the model is known not to
reproduce (its ``why`` says what is missing); it counts in the MAPE and is
reported, and the check fails if it is suddenly met, so a fix is noticed.
The check passes (exit 0) when every case meets its expectation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsim.results.render import FORMATS
from vsim.spec.errors import ScenarioError
from vsim.spec.validation import GROUPS, Case, Group, load_group

__all__ = ["check", "cases", "PROBES", "THEORIES", "COLUMNS", "summary", "erlang_b", "erlang_c_response",
           "precopy_closed_form"]

MB_PER_MIB = 1.048576
_ROOT = Path(__file__).resolve().parents[2]

COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "check": {
        "group": ("str", "startup, storms, overhead, density, migration or queueing"),
        "case": ("str", "what is compared"),
        "target": ("float", "the published figure, or the theory's value"),
        "vsim": ("float", "the model's value from the case's probe"),
        "unit": ("str", "unit of target and vsim"),
        "error_pct": ("float, %", "100 x (vsim - target) / target"),
        "tolerance": ("str", "how close it must be (±% of the target, or ± in its unit)"),
        "within": ("bool", "vsim within the tolerance of the target"),
        "expect": ("str", "within, or miss (a figure the model is known not to reproduce)"),
        "ok": ("bool", "the case met its expectation"),
        "calibrated": ("bool", "the profile's numbers were fitted to this figure (agreement is by construction)"),
        "source": ("str", "reference key (docs/references.md) or theory"),
        "why": ("str", "for an expected miss: what the model lacks"),
    },
}


# -- theory ------------------------------------------------------------------------

def erlang_c_response(c: int, lam: float, mu: float) -> float:
    """Mean response time of M/M/c (FCFS): service plus the Erlang C wait."""
    a = lam / mu
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) * c / (c - a)
    return 1.0 / mu + tail / (head + tail) / (c * mu - lam)


def erlang_b(k: int, a: float) -> float:
    """Blocking probability of M/G/k/k with offered load ``a`` (Erlang B, by its recursion)."""
    b = 1.0
    for n in range(1, k + 1):
        b = a * b / (n + a * b)
    return b


def precopy_closed_form(V: float, R: float, D: float, downtime_s: float, max_rounds: int) -> tuple[int, float, float]:
    """Pre-copy from first principles: rounds, total time and downtime (s).

    Round 0 sends all memory ``V`` (MB) at ``R`` (MB/s); each later round what
    was dirtied (``D`` MB/s) during the one before, so round k sends V q^k with
    q = min(1, D/R). It stops once the remainder fits in ``downtime_s`` at R,
    or after ``max_rounds``; the remainder is then sent with the guest paused.
    """
    q = min(1.0, D / R)
    threshold = R * downtime_s
    if D == 0:
        n = 1
    elif q < 1:
        n = min(max(1, math.ceil(math.log(threshold / V) / math.log(q))), max_rounds)
    else:
        n = max_rounds
    precopy_s = (V / R) * (1 - q**n) / (1 - q) if q < 1 else n * V / R
    downtime = V * q**n / R
    return n, precopy_s + downtime, downtime


def _theory_precopy(memory_mib: float, dirty_mb_s: float, cap_mib_s: float = 128.0, nic_gbit_s: float = 10.0,
                    downtime_ms: float = 300.0, max_rounds: int = 30, metric: str = "total_s") -> float:
    n, total, down = precopy_closed_form(memory_mib * MB_PER_MIB, min(cap_mib_s * MB_PER_MIB, nic_gbit_s * 125.0),
                                         dirty_mb_s, downtime_ms / 1000, max_rounds)
    return {"rounds": float(n), "total_s": total, "downtime_s": down}[metric]


#: Theories a case can name instead of a published target: name -> function of the case's inputs.
THEORIES: dict[str, Callable[..., float]] = {
    "mm1": lambda rho, mu=1.0: 1.0 / (mu * (1.0 - rho)),
    "erlang_c": lambda c, rho, mu=1.0: erlang_c_response(int(c), rho * c * mu, mu),
    "erlang_b": lambda k, offered: erlang_b(int(k), offered),
    "precopy": _theory_precopy,
}


# -- probes: the model's side ------------------------------------------------------------

@lru_cache(maxsize=32)
def _scenario_run(file: str, seed: int):
    import vsim

    path = _ROOT / "scenarios" / file
    if not path.is_file():  # an installed wheel has no scenarios/ folder
        raise ScenarioError(f"args.file: {file} is not in {path.parent}; the scenario-based cases need the project's "
                            "scenarios/ folder (install from a source checkout: pip install -e .)")
    return vsim.simulate(vsim.load_scenario(path), seed=seed)


def _probe_scenario(file: str, workload: str, stat: str = "mean", column: str = "startup_s", seed: int = 1) -> float:
    inst = _scenario_run(file, seed).instances
    if column not in inst.columns:
        raise ScenarioError(f"args.column: the instances table has no {column!r}")
    x = inst[inst["workload"] == workload].sort_values("id")[column].dropna()
    if not len(x):
        raise ScenarioError(f"args.workload: {file} has no {workload!r} with a {column}")
    if stat == "rate":  # guests per second: how many came out over the last one's time
        return float(len(x) / x.max())
    stats = {"mean": x.mean, "max": x.max, "min": x.min, "median": x.median,
             "first": lambda: x.iloc[0], "last": lambda: x.iloc[-1]}
    if stat not in stats:
        raise ScenarioError(f"args.stat: unknown {stat!r}; choose from rate, {', '.join(stats)}")
    return float(stats[stat]())


def _probe_boot(platform: str, stat: str = "boot_mean_s") -> float:
    from vsim.experiments.bootstorm import boot_storm

    return float(boot_storm([platform], counts=[1]).iloc[0][stat])


@lru_cache(maxsize=1)
def _felter() -> pd.DataFrame:
    from vsim.experiments.microbench import felter_table

    return felter_table()


def _probe_felter(row: str, platform: str) -> float:
    t = _felter()
    hit = t[(t["row"] == row) & (t["platform"] == platform)]
    if len(hit) != 1:
        raise ScenarioError(f"args.row: no felter_table row {row!r} on {platform!r}")
    return float(hit["vsim"].iloc[0])


def _probe_qemu_qd1() -> float:
    from vsim.experiments.microbench import M5D_HOST, mixes_for, native_times, run_benchmarks
    from vsim.spec.profile import load_profile

    mixes = mixes_for(int(M5D_HOST["cores"]))
    return float(run_benchmarks(load_profile("kvm"), M5D_HOST, native=native_times(M5D_HOST, mixes),
                                mixes=mixes)["fio_qd1_read"])


def _probe_density(platform: str, column: str = "guests", shape: dict | None = None) -> float:
    from vsim.experiments.density import density

    return float(density([platform], shape=shape).iloc[0][column])


def _probe_idle(platform: str, column: str) -> float:
    from vsim.experiments.density import idle_footprint

    return float(idle_footprint([platform]).iloc[0][column])


def _probe_queue(workers: int | None, rho: float, seeds: int = 4, duration_s: float = 6000.0,
                 warmup_s: float = 100.0, cores: int | None = None) -> float:
    """Mean response of a native service: Poisson arrivals, exponential CPU of mean 1 s."""
    import vsim

    c = workers or 1
    sc = vsim.parse_scenario({
        "name": "queue", "duration_s": duration_s,
        "hosts": [{"name": "h", "cores": cores or c + 1, "platforms": ["native"]}],
        "workloads": [{"name": "svc", "platform": "native", "vcpus": c, "arrivals": {"type": "batch", "count": 1},
                       "service": {"arrivals": {"type": "poisson", "rate_per_s": rho * c}, "workers": workers,
                                   "cpu_s": 1.0, "warmup_s": warmup_s}}],
    })
    means = []
    for seed in range(seeds):
        q = vsim.simulate(sc, seed=seed).requests
        q = q[q["arrival_s"] < duration_s - warmup_s]
        means.append(q["response_s"].mean())
    return float(np.mean(means))


def _probe_loss(k: int, offered: float, arrivals: int = 20_000, seed: int = 1) -> float:
    """Share of guests refused by a host that holds ``k`` of them: Poisson arrivals,
    exponential lifetimes of mean 100 s, ``offered`` = rate x mean lifetime."""
    import vsim

    mean_s = 100.0
    sc = vsim.parse_scenario({
        "name": "loss", "variability": False,
        "hosts": [{"name": "h", "cores": 1024, "memory_gib": 64, "platforms": ["native"], "max_guests": int(k)}],
        "workloads": [{"name": "g", "platform": "native", "vcpus": 0.1, "memory_mib": 64,
                       "arrivals": {"type": "poisson", "rate_per_s": offered / mean_s, "count": int(arrivals)},
                       "lifetime": {"type": "exponential", "mean_s": mean_s}}],
    })
    inst = vsim.simulate(sc, seed=seed).instances
    warm = inst[inst["requested_s"] > 10 * mean_s]  # past the start, when the host was empty
    return float((warm["state"] == "rejected").mean())


def precopy_scenario(memory_mib: float, dirty_mb_s: float, cap_mib_s: float = 128.0, nic_gbit_s: float = 10.0,
                     downtime_ms: float = 300.0, max_rounds: int = 30):
    """One VM live-migrated at t = 60 s between two idle KVM hosts: the scenario
    behind the pre-copy cases (and the ``precopy`` exercise)."""
    import vsim

    hosts = [{"name": n, "cores": 16, "memory_gib": 64, "platforms": ["kvm"], "network_gbit_s": nic_gbit_s,
              "cached_images": ["vm"]} for n in ("a", "b")]
    return vsim.parse_scenario({
        "name": "precopy", "variability": False, "hosts": hosts,
        "images": [{"name": "vm", "kind": "vm-disk", "format": "qcow2", "size_mb": 2256}],
        "workloads": [{"name": "w", "platform": "kvm", "memory_mib": memory_mib, "image": "vm", "clone": "linked",
                       "dirty_mb_s": dirty_mb_s, "arrivals": {"type": "batch", "count": 1}}],
        "migrations": [{"workload": "w", "at_s": 60, "to": "b",
                        "limits": {"bandwidth_mib_s": cap_mib_s, "downtime_ms": downtime_ms, "max_rounds": max_rounds}}],
    })


def _probe_precopy(memory_mib: float, dirty_mb_s: float, cap_mib_s: float = 128.0, nic_gbit_s: float = 10.0,
                   downtime_ms: float = 300.0, max_rounds: int = 30, metric: str = "total_s") -> float:
    import vsim

    sc = precopy_scenario(memory_mib, dirty_mb_s, cap_mib_s, nic_gbit_s, downtime_ms, max_rounds)
    m = vsim.simulate(sc).migrations.iloc[0]
    return float(m[metric])


#: What a case can run: name -> function of its ``args``, returning the model's number.
PROBES: dict[str, Callable[..., float]] = {
    "boot": _probe_boot,
    "scenario": _probe_scenario,
    "felter": _probe_felter,
    "qemu_qd1": _probe_qemu_qd1,
    "density": _probe_density,
    "idle": _probe_idle,
    "queue": _probe_queue,
    "loss": _probe_loss,
    "precopy": _probe_precopy,
}


# -- running -------------------------------------------------------------------------

def _files() -> list[Path]:
    here = resources.files("vsim") / "validation"
    return sorted(Path(str(p)) for p in here.iterdir() if p.name.endswith(".yaml"))


def cases(groups: tuple[str, ...] | list[str] | None = None) -> list[Group]:
    """The shipped validation groups (all, or those named), in :data:`GROUPS` order."""
    got = {g.group: g for g in (load_group(f) for f in _files())}
    want = list(GROUPS) if groups is None else list(groups)
    for g in want:
        if g not in GROUPS:
            raise ScenarioError(f"group: unknown group {g!r}; choose from {', '.join(GROUPS)}")
    return [got[g] for g in want if g in got]


def _run_case(group: str, c: Case) -> dict[str, Any]:
    probe = PROBES.get(c.probe)
    if probe is None:
        raise ScenarioError(f"{group}: case {c.name!r}: probe: unknown {c.probe!r}; choose from {', '.join(PROBES)}")
    try:
        got = probe(**c.args)
    except TypeError as e:
        raise ScenarioError(f"{group}: case {c.name!r}: args: {e}") from None
    if c.theory is not None:
        (name, inputs), = c.theory.items()
        if name not in THEORIES:
            raise ScenarioError(f"{group}: case {c.name!r}: theory: unknown {name!r}; choose from {', '.join(THEORIES)}")
        target = float(THEORIES[name](**inputs))
    else:
        assert c.target is not None
        target = float(c.target)
    within = c.tolerance.allows(got, target)
    return {
        "group": group, "case": c.name, "target": target, "vsim": got, "unit": c.unit,
        "error_pct": 100.0 * (got - target) / target if target else math.nan,
        "tolerance": str(c.tolerance), "within": within, "expect": c.expect,
        "ok": within == (c.expect == "within"), "calibrated": c.calibrated, "source": c.source, "why": c.why,
    }


def check(groups: tuple[str, ...] | list[str] | None = None, progress: bool | None = False) -> pd.DataFrame:
    """Run the validation cases (all groups, or those named): one row per case
    (columns: ``vsim.COLUMNS['check']``); :func:`summary` gives the MAPE per group.
    ``progress=None`` shows a bar on a terminal's stderr (``True``: always)."""
    from vsim.results.render import progress_bar

    todo = [(g.group, c) for g in cases(groups) for c in g.cases]
    bar = progress_bar(len(todo), "check", "case", enabled=progress)
    rows = []
    try:
        for group, c in todo:
            rows.append(_run_case(group, c))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["check"]))


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per group: cases, how many met their expectation, and the mean absolute
    percentage error over all cases and over the predictions (not calibrated)."""
    out = []
    for g, t in table.groupby("group", sort=False):
        ape = t["error_pct"].abs()
        pred = ape[~t["calibrated"]]
        out.append({"group": g, "cases": len(t), "ok": int(t["ok"].sum()), "within": int(t["within"].sum()),
                    "mape_pct": float(ape.mean()), "predictions": len(pred),
                    "mape_predictions_pct": float(pred.mean()) if len(pred) else math.nan})
    return pd.DataFrame(out)




def _display(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases and the per-group summary as people read them."""
    groups = summary(table)
    rows = []
    for r in table.itertuples(index=False):
        if r.expect == "miss":
            result = "known miss" if r.ok else "MET (was a known miss: update the case)"
        else:
            result = "ok" if r.ok else "OUT OF TOLERANCE"
        rows.append({"group": r.group, "case": r.case + (" [calibrated]" if r.calibrated else ""),
                     "target": r.target, "vsim": r.vsim, "unit": r.unit, "error": f"{r.error_pct:+.1f}%",
                     "tolerance": r.tolerance, "result": result})
    grows = [{"group": g.group, "cases": g.cases, "met": g.ok, "MAPE": f"{g.mape_pct:.1f}%",
              "predictions": g.predictions,
              "MAPE of predictions": "-" if math.isnan(g.mape_predictions_pct) else f"{g.mape_predictions_pct:.1f}%"}
             for g in groups.itertuples(index=False)]
    return pd.DataFrame(rows), pd.DataFrame(grows)


def render(table: pd.DataFrame, fmt: str = "table", width: int | None = None, wide: bool = False) -> str:
    """The check as text: a table (or Markdown) of every case, then the MAPE per
    group; CSV of the cases' numbers; or JSON with ``passed``, ``cases`` and ``groups``."""
    from vsim.results.render import records
    from vsim.results.render import render as _render

    if fmt not in FORMATS:
        raise ScenarioError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        return _render(table, "csv", index=False)
    groups = summary(table)
    if fmt == "json":
        import json

        return json.dumps({"passed": bool(table["ok"].all()), "cases": records(table),
                           "groups": records(groups)}, indent=2, ensure_ascii=False)
    cases_, groups_ = _display(table)
    n_ok, n = int(table["ok"].sum()), len(table)
    misses = table[table["expect"] == "miss"]
    note = (f"{n_ok} of {n} cases met their expectation; {len(misses)} are known misses (what the model lacks: "
            "vsim check --format json, 'why'). MAPE = mean |vsim - target| / target; 'predictions' leaves out "
            "the figures a profile was calibrated on, where agreement is by construction.")
    first = _render(cases_, fmt, index=False, width=width, wide=wide, digits=4)
    return first + "\n\n" + _render(groups_, fmt, index=False, notes=[note], width=width, wide=wide)
