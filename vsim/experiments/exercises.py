"""Exercises that check themselves: seeded problems whose answer the simulator gives.

Like the homework simulators of *Operating Systems: Three Easy Pieces*
(``-s SEED`` makes a problem, ``-c`` computes the answer), each template here
draws the numbers of a problem from a seed, states it, and answers it by
running the model, with the reasoning a student should be able to reproduce:

``boot-storm``
    how long do N VMs (or containers) take to start together on this host,
    and what do they wait for? (:func:`vsim.experiments.bootstorm.storm_curve`)
``density``
    how many guests of this shape fit on this host, and which resource stops
    the next one? (:func:`vsim.experiments.density.density`)
``precopy``
    will this live migration's pre-copy converge, in how many rounds, with
    what downtime? (:mod:`vsim.mechanisms.migration`, against the geometric
    series of :func:`vsim.experiments.check.precopy_closed_form`)

``vsim exercise NAME --seed N`` prints the problem; ``--answer`` adds the
simulated answer and its explanation. In Python::

    ex = exercise("precopy", seed=3)
    print(ex.question)      # predict first
    print(ex.answer().text)  # then run it

The same seed gives the same problem and answer on any machine; the numbers
are drawn from small menus (of cores, disks, guest sizes) so that every
problem is one a real host could pose.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vsim.spec.errors import ScenarioError

__all__ = ["Exercise", "Answer", "exercise", "by_hand", "TEMPLATES"]


@dataclass(frozen=True)
class Answer:
    """What the simulation gives: the headline ``values`` and an explanation."""

    values: dict[str, Any]
    explanation: str

    @property
    def text(self) -> str:
        vals = "; ".join(f"{k} = {_fmt(v)}" for k, v in self.values.items())
        return f"{vals}\n{self.explanation}"


@dataclass(frozen=True)
class Exercise:
    """One problem: its template ``name``, ``seed``, the drawn ``params`` and the
    ``question`` text; :meth:`answer` runs the simulation."""

    name: str
    seed: int
    params: dict[str, Any]
    question: str
    _solve: Callable[[dict[str, Any]], Answer] = field(repr=False, compare=False)

    def answer(self) -> Answer:
        return self._solve(self.params)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _host(p: dict[str, Any]) -> dict[str, Any]:
    return {"cores": p["cores"], "memory_gib": p["memory_gib"],
            "disk": {"capacity_gib": 2000, "read_mb_s": p["disk_mb_s"], "write_mb_s": p["disk_mb_s"]},
            "network_gbit_s": 10, "overcommit": {"cpu": p.get("cpu_overcommit", 4.0), "memory": 1.0}}


# -- boot storm ------------------------------------------------------------------------

def _storm_params(rng: np.random.Generator) -> dict[str, Any]:
    platform = str(rng.choice(["kvm", "kvm", "docker", "virtualbox"]))
    return {"platform": platform, "n": int(rng.choice([5, 10, 20, 40])), "cores": int(rng.choice([8, 16, 32])),
            "memory_gib": 256, "disk_mb_s": int(rng.choice([150, 400, 800]))}


def _storm_question(p: dict[str, Any]) -> str:
    """How long do N guests take to start together, and what do they wait for?"""
    return (f"{p['n']} {p['platform']} guests are requested at the same moment on an idle host with {p['cores']} "
            f"cores and a disk of {p['disk_mb_s']} MB/s (its image already cached). How long until the last one "
            f"is ready, and what does the median guest wait for most? (One alone: vsim profiles {p['platform']}.)")


def _storm_answer(p: dict[str, Any]) -> Answer:
    from vsim.experiments.bootstorm import storm_curve

    df = storm_curve(platforms=[p["platform"]], counts=[1, p["n"]], host=_host(p)).set_index("n")
    alone, storm = df.loc[1], df.loc[p["n"]]
    slower = storm["startup_max_s"] / alone["startup_p50_s"]
    why = {
        "queue": "the control plane creates one guest at a time, so the last waits for all before it",
        "clone-full": "every full clone copies the whole image through the one disk, so the copies share it",
        "none": "nothing they share is busy enough to slow them",
    }
    cause = str(storm["cause"])
    key = "queue" if cause.startswith("queue:") else ("clone-full" if cause.startswith("clone-full") else
                                                      ("none" if cause == "none" else ""))
    because = why.get(key, f"the {cause.split(' ')[0]} phase shares the host's {cause[cause.find('(') + 1:-1] or 'resources'} "
                      f"with the other {p['n'] - 1} guests")
    return Answer(
        {"last_ready_s": float(storm["startup_max_s"]), "median_s": float(storm["startup_p50_s"]),
         "alone_s": float(alone["startup_p50_s"]), "cause": cause},
        f"Alone, one guest takes {alone['startup_p50_s']:.3g} s; {p['n']} together take up to "
        f"{storm['startup_max_s']:.3g} s ({slower:.1f}x). The median guest's longest wait beyond its time alone "
        f"is {cause}: {because}. Change the disk or the core count and ask again.")


# -- density ---------------------------------------------------------------------------

def _density_params(rng: np.random.Generator) -> dict[str, Any]:
    kind = str(rng.choice(["vm", "container"]))
    return {"platform": "kvm" if kind == "vm" else "docker", "cores": int(rng.choice([8, 16, 32, 64])),
            "memory_gib": int(rng.choice([32, 64, 128, 256])), "disk_mb_s": 800,
            "cpu_overcommit": float(rng.choice([1.0, 2.0, 4.0])),
            "vcpus": float(rng.choice([1, 2, 4])) if kind == "vm" else float(rng.choice([0.1, 0.25, 0.5])),
            "memory_mib": int(rng.choice([1024, 2048, 4096, 8192])) if kind == "vm"
            else int(rng.choice([64, 128, 256]))}


def _density_question(p: dict[str, Any]) -> str:
    """How many guests of a shape fit on a host, and which limit binds?"""
    return (f"A host with {p['cores']} cores, {p['memory_gib']} GiB of memory and a CPU overcommit of "
            f"{p['cpu_overcommit']:g} vCPUs per core runs {p['platform']}. Each guest asks for {p['vcpus']:g} "
            f"vCPU and {p['memory_mib']} MiB. How many fit, and which limit stops the next one?")


def _density_answer(p: dict[str, Any]) -> Answer:
    from vsim.experiments.density import density
    from vsim.spec.profile import load_profile

    row = density(p["platform"], host=_host(p), shape={"vcpus": p["vcpus"], "memory_mib": p["memory_mib"]}).iloc[0]
    prof = load_profile(p["platform"])
    by_vcpu, by_mem, per_guest, free = by_hand(p)
    limit = prof.max_guests_per_host.value
    return Answer(
        {"guests": int(row["guests"]), "binding": str(row["binding"])},
        f"Placement admitted {int(row['guests'])} before refusing one ({row['reason']}). By hand: vCPUs allow "
        f"{p['cores']} x {p['cpu_overcommit']:g} / {p['vcpus']:g} = {by_vcpu}; memory allows {free:,.0f} MiB "
        f"(the host's less {p['platform']}'s own {prof.host_memory_mib.value:g}) / {per_guest:,.1f} MiB per guest "
        f"({p['memory_mib']} asked for, plus {prof.guest_memory_overhead_mib.value:g} of overhead) = {by_mem}"
        + (f"; {p['platform']} allows {limit:g} per host" if limit is not None else "")
        + ". The smallest binds.")


def by_hand(p: dict[str, Any]) -> tuple[int, int, float, float]:
    """The density exercise worked by hand: guests the vCPUs allow, guests the
    memory allows, memory per guest (MiB) and memory free for guests (MiB)."""
    from vsim.spec.profile import load_profile

    prof = load_profile(p["platform"])
    by_vcpu = math.floor(p["cores"] * p["cpu_overcommit"] / p["vcpus"] + 1e-9)
    per_guest = p["memory_mib"] * (1 - prof.page_sharing.value) + prof.guest_memory_overhead_mib.value \
        + prof.guest_os.kernel_objects_mib.value
    free = p["memory_gib"] * 1024 - prof.host_memory_mib.value
    return by_vcpu, math.floor(free / per_guest + 1e-9), per_guest, free


# -- pre-copy --------------------------------------------------------------------------

def _precopy_params(rng: np.random.Generator) -> dict[str, Any]:
    return {"memory_mib": int(rng.choice([1024, 2048, 4096, 8192])),
            "dirty_mb_s": int(rng.choice([10, 40, 80, 120, 200, 300])),
            "cap_mib_s": int(rng.choice([64, 128, 256])), "downtime_ms": 300, "max_rounds": 30}


def _precopy_question(p: dict[str, Any]) -> str:
    """Will a live migration's pre-copy converge; rounds and downtime?"""
    return (f"A VM with {p['memory_mib']} MiB of memory dirties {p['dirty_mb_s']} MB/s. It is live-migrated "
            f"over a 10 Gbit/s link with the stream capped at {p['cap_mib_s']} MiB/s, a downtime limit of "
            f"{p['downtime_ms']} ms and at most {p['max_rounds']} rounds. Will pre-copy converge? In how many rounds, with what downtime?")


def _precopy_answer(p: dict[str, Any]) -> Answer:
    from vsim.experiments.check import precopy_closed_form, precopy_scenario
    from vsim.experiments.run import simulate

    sim = simulate(precopy_scenario(p["memory_mib"], p["dirty_mb_s"], cap_mib_s=p["cap_mib_s"],
                                    downtime_ms=p["downtime_ms"], max_rounds=p["max_rounds"])).migrations.iloc[0]
    R = p["cap_mib_s"] * 1.048576
    V = p["memory_mib"] * 1.048576
    n, total, down = precopy_closed_form(V, R, p["dirty_mb_s"], p["downtime_ms"] / 1000, p["max_rounds"])
    q = p["dirty_mb_s"] / R
    verdict = ("converges: each round sends q = D / R = "
               f"{q:.2f} of the one before" if q < 1 else "cannot converge: it dirties memory faster than it sends")
    return Answer(
        {"converged": bool(sim["converged"]), "rounds": int(sim["rounds"]), "downtime_s": float(sim["downtime_s"]),
         "total_s": float(sim["total_s"])},
        f"The stream sends R = {R:.1f} MB/s; the guest dirties D = {p['dirty_mb_s']} MB/s, so pre-copy {verdict}. "
        f"The geometric series gives {n} round(s), {total:.3g} s in all and {down * 1000:.0f} ms of downtime; "
        f"the simulation, {int(sim['rounds'])} round(s), {sim['total_s']:.3g} s and "
        f"{sim['downtime_s'] * 1000:.0f} ms (over the limit, the last round is sent anyway after "
        f"{p['max_rounds']} rounds: auto-converge would throttle the guest instead).")


#: name -> (draw the parameters, state the question, solve it).
TEMPLATES: dict[str, tuple[Callable, Callable, Callable]] = {
    "boot-storm": (_storm_params, _storm_question, _storm_answer),
    "density": (_density_params, _density_question, _density_answer),
    "precopy": (_precopy_params, _precopy_question, _precopy_answer),
}


def exercise(name: str, seed: int = 0) -> Exercise:
    """The problem of template ``name`` for ``seed`` (see the module docstring)."""
    if name not in TEMPLATES:
        raise ScenarioError(f"exercise: unknown {name!r}; choose from {', '.join(TEMPLATES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ScenarioError(f"seed: must be a whole number from 0 to 2**32 - 1, got {seed!r}")
    draw, ask, solve = TEMPLATES[name]
    # one generator per exercise, from the template's name and the seed (the same everywhere)
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    params = draw(rng)
    return Exercise(name, seed, params, ask(params), solve)
