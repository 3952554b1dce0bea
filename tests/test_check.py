"""vsim check: the model against published figures and theory, as a command."""

import json

import pytest

import vsim
from vsim.cli import main
from vsim.experiments import check as C
from vsim.experiments.microbench import PUBLISHED
from vsim.spec.validation import Case, Tolerance, load_group


@pytest.fixture(scope="module")
def table():
    return C.check()


def test_every_case_meets_its_expectation(table):
    assert len(table) >= 50
    assert table["ok"].all(), table[~table["ok"]][["group", "case", "target", "vsim"]]
    assert set(table["group"]) == set(vsim.spec.validation.GROUPS)


def test_the_summary_is_the_mean_absolute_percentage_error(table):
    s = C.summary(table).set_index("group")
    for g, t in table.groupby("group"):
        assert s.loc[g, "mape_pct"] == pytest.approx(t["error_pct"].abs().mean())
        pred = t[~t["calibrated"]]
        assert s.loc[g, "predictions"] == len(pred)
    assert s.loc["startup", "predictions"] == 0        # every boot figure calibrates a profile: said so


def test_the_cli_prints_the_table_and_exits_0(capsys):
    assert main(["check", "--group", "migration,queueing"]) == 0
    out = capsys.readouterr().out
    assert "MAPE" in out and "Erlang B" in out and "known misses" in out
    assert main(["check", "--group", "storms", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is True and {c["group"] for c in doc["cases"]} == {"storms"}
    miss = [c for c in doc["cases"] if c["expect"] == "miss"]
    assert miss and all(c["why"] for c in miss) and not any(c["within"] for c in miss)


def test_a_case_out_of_tolerance_fails_the_check(monkeypatch):
    monkeypatch.setitem(C.PROBES, "const", lambda value: value)
    near = Case(name="x", probe="const", args={"value": 1.04}, target=1.0, tolerance=Tolerance(rel=0.05), source="theory")
    far = near.model_copy(update={"args": {"value": 1.06}})
    assert C._run_case("queueing", near)["ok"] and not C._run_case("queueing", far)["ok"]
    # an expected miss that is met is a failure too: the case must be updated
    fixed = far.model_copy(update={"expect": "miss", "why": "test", "args": {"value": 1.0}})
    assert not C._run_case("queueing", fixed)["ok"]
    # theory targets come from the formula
    th = near.model_copy(update={"target": None, "theory": {"erlang_b": {"k": 1, "offered": 1.0}},
                                 "args": {"value": 0.5}})
    assert C._run_case("queueing", th)["target"] == pytest.approx(0.5)


def test_theory_formulas_against_values_worked_by_hand():
    assert C.erlang_b(1, 1.0) == pytest.approx(0.5)                   # a / (1 + a)
    assert C.erlang_b(2, 1.0) == pytest.approx(0.2)                   # (a^2/2) / (1 + a + a^2/2)
    assert C.erlang_c_response(1, 0.5, 1.0) == pytest.approx(2.0)     # M/M/1: 1 / (mu - lambda)
    # M/M/2, lambda 1, mu 1: P(wait) = 1/3, mean wait 1/3 / (2 - 1) -> response 4/3
    assert C.erlang_c_response(2, 1.0, 1.0) == pytest.approx(4 / 3)
    n, total, down = C.precopy_closed_form(1000.0, 100.0, 50.0, 0.3, 30)
    # rounds send 1000, 500, 250, ... ; 1000 * 0.5^n <= 30 at n = 6; 10 s x (1 - 1/64) / 0.5 + 15.6/100
    assert n == 6 and down == pytest.approx(1000 / 64 / 100) and total == pytest.approx(20 * 63 / 64 + down)


def test_overhead_targets_are_the_published_table():
    g = next(x for x in C.cases(["overhead"]))
    targets = {(c.args["row"], c.args["platform"]): c.target for c in g.cases if c.probe == "felter"}
    assert targets == {(label, plat): pytest.approx(pub, rel=1e-5) for label, _, plat, pub, _ in PUBLISHED}


@pytest.mark.parametrize("text, field", [
    ("group: startup\ncases:\n  - {name: a, probe: boot, target: 1, tolerance: {rel: 0.1}}\n", "source"),
    ("group: startup\ncases:\n  - {name: a, probe: boot, target: 1, source: x, tolerance: {rel: 0.1, abs: 1}}\n",
     "tolerance"),
    ("group: startups\ncases: []\n", "group"),
    ("group: startup\ncases:\n  - {name: a, probe: boot, source: x, tolerance: {rel: 0.1}}\n", "target"),
    ("group: startup\ncases:\n  - {name: a, probe: boot, target: 1, source: x, tolerance: {rel: 0.1}, expect: miss}\n",
     "why"),
])
def test_a_bad_validation_file_names_the_field(tmp_path, text, field):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(vsim.ScenarioError, match=field):
        load_group(f)


def test_an_unknown_group_is_refused(capsys):
    assert main(["check", "--group", "speed"]) == 2
    assert "group" in capsys.readouterr().err


def test_notebook_09_reads_the_summary_as_it_is(table):
    s = C.summary(table).set_index("group")
    assert 5 <= s.loc["overhead", "mape_predictions_pct"] <= 11      # "within about 8% on average"
    assert s.loc["startup", "predictions"] == 0                        # "no prediction at all"
    assert s.loc["migration", "mape_pct"] < 0.1                        # theory, met exactly
    assert s.loc["queueing", "mape_pct"] < 6                           # to sampling error
    misses = table[table["expect"] == "miss"]
    assert set(misses["group"]) <= {"storms", "density", "overhead"}


@pytest.mark.parametrize("args, field", [
    ({"file": "netns-lock.yaml", "workload": "alone", "stat": "mode"}, "args.stat"),
    ({"file": "netns-lock.yaml", "workload": "alone", "column": "nope"}, "args.column"),
    ({"file": "netns-lock.yaml", "workload": "nobody"}, "args.workload"),
    ({"file": "not-shipped.yaml", "workload": "alone"}, "args.file"),   # e.g. a wheel without scenarios/
])
def test_a_bad_probe_argument_is_refused_naming_it(args, field):
    bad = Case(name="x", probe="scenario", args=args, target=1.0, tolerance=Tolerance(rel=0.1), source="theory")
    with pytest.raises(vsim.ScenarioError, match=field):
        C._run_case("storms", bad)
