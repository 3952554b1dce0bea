"""Exercises that check themselves: the same seed gives the same problem, and
each answer equals a fresh simulation (or the theory) worked out here."""

from __future__ import annotations

import json

import pytest

import vsim
from vsim.cli import main
from vsim.experiments.check import precopy_closed_form
from vsim.experiments.exercises import TEMPLATES, by_hand, exercise
from vsim.experiments.testbed import build_scenario, resolve_platform, shape_for


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_a_seed_is_one_problem_and_seeds_differ(name):
    assert exercise(name, 3).question == exercise(name, 3).question
    assert exercise(name, 3).params == exercise(name, 3).params
    assert len({json.dumps(exercise(name, s).params, sort_keys=True) for s in range(10)}) >= 4


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_the_boot_storm_answer_is_a_fresh_simulation(seed):
    from vsim.experiments.exercises import _host

    ex = exercise("boot-storm", seed)
    p = ex.params
    prof = resolve_platform(p["platform"])
    host = {**_host(p), "name": "server"}
    res = vsim.simulate(build_scenario(prof, host, shape_for(prof), p["n"], name="fresh"))
    a = ex.answer().values
    assert a["last_ready_s"] == pytest.approx(res.instances["startup_s"].max(), rel=1e-9)
    assert a["last_ready_s"] >= a["median_s"] >= a["alone_s"] * 0.9   # a crowd is never much faster than one


@pytest.mark.parametrize("seed", range(6))
def test_the_density_answer_is_what_the_vcpus_memory_and_limit_allow(seed):
    ex = exercise("density", seed)
    by_vcpu, by_mem, _, _ = by_hand(ex.params)
    limit = vsim.load_profile(ex.params["platform"]).max_guests_per_host.value
    walls = {"vcpus": by_vcpu, "memory": by_mem, **({"guest limit": int(limit)} if limit is not None else {})}
    a = ex.answer().values
    assert a["guests"] == min(walls.values())
    assert walls[a["binding"]] == a["guests"]


@pytest.mark.parametrize("seed", range(5))
def test_the_precopy_answer_follows_the_geometric_series(seed):
    ex = exercise("precopy", seed)
    p = ex.params
    R = p["cap_mib_s"] * 1.048576
    n, total, down = precopy_closed_form(p["memory_mib"] * 1.048576, R, p["dirty_mb_s"], 0.3, p["max_rounds"])
    a = ex.answer().values
    assert a["rounds"] == n
    assert a["total_s"] == pytest.approx(total, rel=0.01)
    assert a["downtime_s"] == pytest.approx(down, rel=0.01)
    assert a["converged"] == (down <= 0.3 + 1e-9)


def test_the_command_asks_then_answers(capsys):
    assert main(["exercise"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in TEMPLATES)
    assert main(["exercise", "precopy", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "predict first" in out and "rounds =" not in out
    assert main(["exercise", "precopy", "--seed", "2", "--answer", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["answer"]["values"] == exercise("precopy", 2).answer().values


@pytest.mark.parametrize("argv, needle", [
    (["exercise", "nope"], "unknown 'nope'"), (["exercise", "density", "--seed", "-1"], "--seed"),
])
def test_bad_exercise_input_is_one_message(argv, needle, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals exit from inside
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
