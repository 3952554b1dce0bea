"""The cost estimate: within an order of magnitude of every shipped run, and a
refusal (exit 2, the field named, in well under a second) for the runs that
would never end."""

from __future__ import annotations

import math
import time

import pytest
from conftest import SCENARIOS

import vsim
from vsim.cli import main
from vsim.spec.cost import MAX_EVENTS, check_budget, estimate

SHIPPED = [p for p in sorted(SCENARIOS.glob("*.yaml")) if not p.name.startswith("plan-")]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_estimate_is_within_10x_of_the_events_each_shipped_run_takes(path):
    sc = vsim.load_scenario(path)
    real = vsim.simulate(sc).summary["events"]
    e = estimate(sc)
    assert real / 10 <= e.events <= real * 10, (e.events, real)
    assert e.events < MAX_EVENTS and e.guests == sum(w.count() for w in sc.workloads)


BASE = {"name": "big", "hosts": [{"name": "h", "cores": 64, "memory_gib": 256, "platforms": ["docker"]}]}


def _workload(**kw):
    return {"name": "w", "platform": "docker", "memory_mib": 64, "arrivals": {"type": "batch", "count": 2}, **kw}


SERVICE = {"arrivals": {"type": "poisson", "rate_per_s": 10.0}, "cpu_s": 0.001}


@pytest.mark.parametrize("data, field", [
    ({**BASE, "duration_s": 600, "workloads": [_workload(service=SERVICE, limits={"cpu_cores": 1, "cpu_period_s": 1e-9})]},
     "workloads[0].limits.cpu_period_s"),
    ({**BASE, "duration_s": 1e6, "workloads": [_workload(service={**SERVICE, "arrivals": {"type": "poisson", "rate_per_s": 1e9}})]},
     "workloads[0].service.arrivals.rate_per_s"),
    ({**BASE, "duration_s": 86400, "consolidation": {"interval_s": 1e-6}, "workloads": [_workload()]},
     "consolidation.interval_s"),
    ({**BASE, "hosts": [{**BASE["hosts"][0], "count": 10, "mtbf_s": 1e-6}], "duration_s": 3600,
      "workloads": [_workload()]}, "hosts[0].mtbf_s"),
    ({**BASE, "workloads": [_workload(arrivals={"type": "batch", "count": 10_000_000})]}, "workloads (guests)"),
    ({**BASE, "workloads": [_workload(service=SERVICE)]}, "duration_s"),   # a service on guests that live for ever
    ({**BASE, "workloads": [_workload(service=SERVICE, lifetime={"type": "exponential", "mean_s": 1e9})]},
     "workloads[0].service.arrivals.rate_per_s"),                      # ... or for a billion seconds
])
def test_runs_that_would_never_end_are_refused_naming_the_field(data, field):
    t0 = time.process_time()
    with pytest.raises(vsim.ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")) as info:
        vsim.simulate(vsim.parse_scenario(data))  # refused when validated, or before the run starts
    assert time.process_time() - t0 < 2
    assert "--allow-large" in str(info.value) or "duration_s" in str(info.value)


def test_the_cli_refuses_with_exit_2_and_allow_large_lifts_the_budget(tmp_path, capsys):
    import yaml

    data = {**BASE, "duration_s": 60, "workloads": [_workload(service={**SERVICE, "arrivals": {
        "type": "poisson", "rate_per_s": 2e6}})]}
    f = tmp_path / "big.yaml"
    f.write_text(yaml.safe_dump(data))
    assert main(["run", str(f)]) == 2
    err = capsys.readouterr().err
    assert "rate_per_s" in err and "--allow-large" in err and "Traceback" not in err
    sc = vsim.parse_scenario(data)
    with pytest.raises(vsim.ScenarioError):
        check_budget(sc)
    check_budget(sc, max_events=1e12, max_memory_mb=1e6)   # the budget, raised deliberately, lets it through


def test_the_estimate_grows_with_what_drives_it():
    small = vsim.parse_scenario({**BASE, "duration_s": 100, "workloads": [_workload(service=SERVICE)]})
    big = vsim.parse_scenario({**BASE, "duration_s": 1000, "workloads": [_workload(service=SERVICE)]})
    assert estimate(big).requests == pytest.approx(10 * estimate(small).requests)
    assert estimate(small).requests == pytest.approx(2 * 10.0 * 100)   # 2 guests x 10/s x 100 s


def test_a_container_over_its_memory_limit_from_the_start_is_oom_killed_when_ready():
    # resident 500 MiB against memory.max 100 MiB: the kernel kills it as soon as it runs
    data = {**BASE, "duration_s": 60, "workloads": [_workload(
        arrivals={"type": "batch", "count": 1}, limits={"memory_mib": 100}, memory_use={"resident_mib": 500})]}
    res = vsim.simulate(vsim.parse_scenario(data))
    g = res.instances.iloc[0]
    assert g["state"] == "failed" and g["stopped_s"] == pytest.approx(g["ready_s"])
    assert res.tables["cgroup_events"]["cause"].iloc[0].startswith("out of memory: cgroup memory.max 100 MiB")


def test_a_sweep_whose_every_run_failed_exits_1_saying_why(tmp_path, capsys, monkeypatch):
    import vsim.experiments.run as run_mod

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(run_mod, "simulate", broken)  # every run fails (jobs 1: in this process)
    assert main(["sweep", str(SCENARIOS / "sweep-overcommit.yaml"), "--jobs", "1", "--replications", "1"]) == 1
    err = capsys.readouterr().err
    assert "every run of the sweep failed" in err and "disk on fire" in err


def test_points_times_replications_is_checked_before_anything_is_built():
    data = {**BASE, "duration_s": 10, "workloads": [_workload()],
            "sweep": {"hosts.0.cores": list(range(8, 8 + 1000))}, "replications": 10_000}
    t0 = time.process_time()
    with pytest.raises(vsim.ScenarioError, match="10,000,000 runs"):
        vsim.sweep(vsim.parse_scenario(data), jobs=1, progress=False)
    assert time.process_time() - t0 < 5


def test_a_million_sweep_values_are_refused_before_one_is_validated():
    data = {**BASE, "workloads": [_workload()], "sweep": {"hosts.0.cores": list(range(1, 1_000_001))}}
    t0 = time.process_time()
    with pytest.raises(vsim.ScenarioError, match="1,000,000 combinations"):
        vsim.parse_scenario(data)
    assert time.process_time() - t0 < 5


def test_a_sweep_point_over_the_budget_is_refused_by_name_before_any_runs():
    data = {**BASE, "duration_s": 60, "workloads": [_workload(service=SERVICE)],
            "sweep": {"workloads.0.service.arrivals.rate_per_s": [10.0, 1e9]}}
    with pytest.raises(vsim.ScenarioError, match=r"sweep point 1 .*rate_per_s.*this run would take"):
        vsim.sweep(vsim.parse_scenario(data), jobs=1, progress=False)
    table = vsim.sweep(vsim.parse_scenario({**data, "sweep": {"workloads.0.service.arrivals.rate_per_s": [10.0]}}),
                       jobs=1, progress=False)
    assert (table["error"] == "").all()


@pytest.mark.parametrize("override, field", [
    ("hosts.0.count=1000000", "hosts (count)"),                           # the schema's most hosts
    ("workloads.0.arrivals={type: batch, count: 10000000}", "workloads (guests)"),  # the schema's most guests
])
def test_the_schemas_maxima_are_refused_by_the_estimate_at_once(override, field, capsys):
    t0 = time.perf_counter()
    assert main(["run", str(SCENARIOS / "docker-vs-kvm.yaml"), "--set", override]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert field in err and "--allow-large" in err


def test_a_hundred_thousand_hosts_are_within_the_budget():
    sc = vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml", overrides=["hosts.0.count=100000"])
    e = check_budget(sc)                       # measured: 19.5 s and 1.2 GB
    assert 5 < e.seconds < 120 and 500 < e.memory_mb < 4096


def test_a_sweep_too_long_in_all_is_refused_before_anything_runs():
    data = {**BASE, "duration_s": 10, "workloads": [_workload()],
            "sweep": {"hosts.0.cores": list(range(8, 108))}, "replications": 5000}   # 500,000 small runs
    with pytest.raises(vsim.ScenarioError, match=r"sweep: 100 points x 5,000 replications would take about"):
        vsim.sweep(vsim.parse_scenario(data), jobs=1, progress=False)


def test_the_budget_multiplies_by_the_runs_and_writes_count_per_guest():
    one = vsim.parse_scenario({**BASE, "duration_s": 3600, "workloads": [_workload(
        arrivals={"type": "batch", "count": 1}, writes={"mb_s": 1.0})]})
    many = vsim.parse_scenario({**BASE, "duration_s": 3600, "workloads": [_workload(
        arrivals={"type": "batch", "count": 100}, writes={"mb_s": 1.0})]})
    w1 = dict((d[0], d[1]) for d in estimate(one).drivers)["workloads[0].writes"]
    w100 = dict((d[0], d[1]) for d in estimate(many).drivers)["workloads[0].writes"]
    assert w1 == pytest.approx(2 * 3600) and w100 == pytest.approx(100 * w1)
    e = check_budget(one)                                   # alone, well within
    with pytest.raises(vsim.ScenarioError, match="in all"):
        check_budget(one, runs=int(MAX_EVENTS / e.work) + 1)  # the same run, replicated past the budget


@pytest.mark.parametrize("seed", range(5))
def test_an_exponential_lifetime_is_bounded_by_its_longest_not_its_mean(seed):
    # no duration_s: the run ends when the last of 20 exponential lifetimes does;
    # the estimate must cover the requests of the longest-lived guests, not the mean
    data = {**BASE, "seed": seed, "workloads": [_workload(arrivals={"type": "batch", "count": 20},
            lifetime={"type": "exponential", "mean_s": 10.0}, service=SERVICE)]}
    sc = vsim.parse_scenario(data)
    real = len(vsim.simulate(sc).requests)
    # an upper estimate: every guest is charged the longest life, mean x (ln 20 + 5), about 8x the mean
    assert real <= estimate(sc).requests <= 3 * (math.log(20) + 5) * real
