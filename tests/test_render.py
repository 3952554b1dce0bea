"""Output that fits: one renderer for every table the command line prints.

The renderer must keep every character of every cell (a cropped cell is the
bug rich's layout hides when a column is forced too narrow), fit the width it
is given in terminal cells (Chinese characters count two), and hand programs
numbers rather than display strings.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter

import pandas as pd
import pytest
from conftest import SCENARIOS
from hypothesis import given, settings
from hypothesis import strategies as st

import vsim
from vsim.cli import main
from vsim.experiments.sweep import summarize, sweep, wilson_interval
from vsim.results.render import fits, fmt_number, render, render_text, text_width
from vsim.spec.scenario import parse_scenario

WORDS = st.sampled_from(["vm", "docker", "memory", "0.94 s", "(full clone", "128 MiB", "预留", "内存规格",
                         "实际使用", "启动时间（空闲主机）", "microvms-on-firecracker", "x" * 45, "1,023"])
CELL = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)


def chars(text: str) -> Counter:
    return Counter(ch for ch in text if not ch.isspace() and ch not in "─")


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 5), cols=st.integers(1, 9), width=st.integers(40, 120), data=st.data())
def test_every_cell_survives_and_every_line_fits(rows, cols, width, data):
    frame = pd.DataFrame({f"c{j}": [data.draw(CELL) for _ in range(rows)] for j in range(cols)})
    frame.index = pd.Index([data.draw(CELL) for _ in range(rows)], name="row")
    out = render_text(frame, width=width)
    assert not fits(out, width), fits(out, width)
    want = chars("".join(frame.index) + "".join(frame.columns) + "".join(frame.to_numpy().ravel()))
    assert not want - chars(out)          # nothing dropped (split tables repeat the first column: more, never less)


def test_a_narrow_table_is_printed_as_is_and_wide_keeps_natural_widths():
    frame = pd.DataFrame({"a": [1.0, 2.5], "b": ["x", "y"]}, index=pd.Index(["p", "q"], name="k"))
    assert render_text(frame, width=100).splitlines()[2].split() == ["p", "1", "x"]
    wide = pd.DataFrame({f"column_{j}": ["word " * 6] for j in range(12)})
    assert max(text_width(line) for line in render_text(wide, wide=True).splitlines()) > 300
    assert not fits(render_text(wide, width=100), 100)


@pytest.mark.parametrize("x, shown", [
    (1350.0, "1,350"), (1.35e3, "1,350"), (999.96, "1,000"), (0.012345, "0.0123"), (12, "12"),
    (2.0, "2"), (0.5, "0.5"), (123456789.0, "123,456,789"), (-4.25, "-4.25"), (float("nan"), "-"),
    (3e-6, "3.00e-06"), (True, "True"), ("text", "text"),
])
def test_numbers_are_for_people(x, shown):
    assert fmt_number(x) == shown


def test_chinese_characters_are_two_cells_wide():
    assert text_width("内存") == 4 and text_width("ab") == 2


def test_csv_and_json_hold_numbers_and_markdown_escapes():
    shown = pd.DataFrame({"what": ["a|b"]})
    data = pd.DataFrame({"startup_s": [1234.5678]})
    assert render(shown, "csv", data=data, index=False) == "startup_s\n1234.5678"
    assert json.loads(render(shown, "json", data=data, index=False, notes=["n"]))["table"] == [{"startup_s": 1234.5678}]
    assert "a\\|b" in render(shown, "markdown", index=False)
    with pytest.raises(Exception, match="format"):
        render(shown, "html")


# -- the commands: COLUMNS=100 fits, en and zh ---------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["compare"], ["compare", "--lang", "zh"], ["profiles"], ["profiles", "kvm"],
    ["plan", str(SCENARIOS / "plan-web-tier.yaml")], ["check", "--group", "migration"],
    ["run", str(SCENARIOS / "docker-vs-kvm.yaml")],
])
def test_every_printed_line_fits_100_columns(argv, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.strip() and not fits(out, 100), fits(out, 100)[:3]


def test_the_plan_table_shows_every_demand_scale_and_marks_the_cheapest(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["plan", str(SCENARIOS / "plan-web-tier.yaml"), "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert sorted(df["demand_scale"].unique()) == [0.5, 1.0, 2.0]
    # one cheapest host type per architecture and demand scale: the one of least cost
    for _, grp in df[df["feasible"]].groupby(["architecture", "demand_scale"]):
        assert grp["cheapest"].sum() == 1
        assert grp.loc[grp["cheapest"], "cost_per_hour"].iloc[0] == grp["cost_per_hour"].min()
    assert main(["plan", str(SCENARIOS / "plan-web-tier.yaml")]) == 0
    text = capsys.readouterr().out
    assert "cheapest" in text and text.count("*") >= df["cheapest"].sum()


def test_global_flags_go_before_or_after_the_command(capsys, monkeypatch):
    from vsim.cli import build_parser

    sc = str(SCENARIOS / "docker-vs-kvm.yaml")
    for argv in (["run", sc, "--debug", "--wide"], ["--debug", "--wide", "run", sc], ["--debug", "run", sc, "--wide"]):
        args = build_parser().parse_args(argv)
        assert args.debug and args.wide, argv
    assert not build_parser().parse_args(["run", sc]).debug
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["profiles", "--wide"]) == 0
    assert fits(capsys.readouterr().out, 100)  # --wide: natural widths, wider than the terminal


def test_run_json_and_csv_hold_numbers(capsys):
    sc = str(SCENARIOS / "docker-vs-kvm.yaml")
    assert main(["run", sc, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["scenario"] == "docker-vs-kvm"
    assert all(isinstance(r["startup_p50_s"], float) for r in doc["startup"])
    assert main(["run", sc, "--format", "csv"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(csv["workload"]) == [r["workload"] for r in doc["startup"]]


@pytest.mark.parametrize("argv, says", [
    (["plan", str(SCENARIOS / "docker-vs-kvm.yaml")], "this is a scenario, not a capacity plan: use vsim run"),
    (["run", str(SCENARIOS / "plan-web-tier.yaml")], "this is a capacity plan, not a scenario: use vsim plan"),
    (["sweep", str(SCENARIOS / "plan-web-tier.yaml")], "this is a capacity plan"),
    (["run", "vsim/profiles/kvm.yaml"], "this is a platform profile"),
    (["run", "vsim/validation/storms.yaml"], "this is a validation group"),
])
def test_a_file_of_the_wrong_kind_is_named(argv, says, capsys, monkeypatch):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


# -- intervals that respect their quantity -------------------------------------------------------

@pytest.mark.parametrize("k, n, low, high", [  # Newcombe (1998), Stat. Med. 17:857, Table I, method 3
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombes_worked_examples(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


LOSS = {
    "name": "loss", "seed": 5,
    "hosts": [{"name": "h", "cores": 64, "memory_gib": 256, "platforms": ["instant"], "max_guests": 3}],
    "profiles": [{"name": "instant", "base": "docker",
                  "start_phases": [{"name": "start", "assumption": "no start cost: a pure loss system"}],
                  "stop_phases": []}],
    "workloads": [{"name": "req", "platform": "instant", "vcpus": 0.1, "memory_mib": 64,
                   "arrivals": {"type": "poisson", "rate_per_s": 0.05, "count": 30},
                   "lifetime": {"type": "exponential", "mean_s": 10.0}}],
    "sweep": {"hosts.0.max_guests": [1, 3, 50]},
}


@pytest.mark.parametrize("reps", [1, 2, 3, 5])
def test_intervals_never_leave_their_quantity(reps):
    s = summarize(sweep(parse_scenario({**LOSS, "replications": reps}), jobs=1, progress=False))
    b = s[s["metric"] == "blocking"]
    assert (b["interval"] == "wilson").all()
    assert ((0 <= b["ci95_low"]) & (b["ci95_low"] <= b["mean"]) & (b["mean"] <= b["ci95_high"])
            & (b["ci95_high"] <= 1)).all()
    assert b["ci95_high"].iloc[-1] < 0.2 and b["mean"].iloc[-1] == 0  # 50 slots: nothing refused, a bound above 0
    rest = s[(s["metric"] != "blocking") & s["ci95_low"].notna()]
    assert (rest["ci95_low"] >= 0).all() and (rest["interval"] == "t").all()
    if reps == 1:
        assert s.loc[s["metric"] != "blocking", "ci95_low"].isna().all()  # t needs two runs; Wilson does not
    assert not math.isnan(b["ci95_high"].iloc[0])


@pytest.mark.parametrize("name", ["boot-storm.yaml", "host-failure.yaml", "docker-vs-kvm.yaml"])
def test_a_run_with_its_progress_bar_is_the_same_run(name):
    sc = vsim.load_scenario(SCENARIOS / name)
    plain, shown = vsim.simulate(sc), vsim.simulate(sc, progress=True)
    assert plain.summary["events"] == shown.summary["events"]
    assert plain.summary["sim_end_s"] == shown.summary["sim_end_s"]
    pd.testing.assert_frame_equal(plain.instances, shown.instances)
    pd.testing.assert_frame_equal(plain.phases, shown.phases)


TEXT = st.lists(st.sampled_from(["the", "host's", "启动时间", "，", "。", "（默认主机）", "vsim.experiments.density",
                                 "1 Gbit/s", "内存", "x" * 70, " "]), min_size=1, max_size=40).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(text=TEXT, width=st.integers(20, 120))
def test_wrapped_notes_fit_keep_every_character_and_start_no_line_with_closing_punctuation(text, width):
    from vsim.results.render import wrap_text

    out = wrap_text(text, width)
    assert all(text_width(line) <= width and line.strip() for line in out.splitlines())
    assert out.replace(" ", "").replace("\n", "") == text.replace(" ", "")  # same characters, same order
    lines = out.splitlines()
    for before, line in zip(lines, lines[1:], strict=False):
        # only where the line before is one unbreakable word is there nothing to carry over
        assert line.lstrip()[:1] not in ("，", "。") or " " not in before.strip(), (before, line)


def test_a_table_too_wide_is_split_into_parts_that_keep_words_whole():
    words = [f"word{j:02d}xxxx" for j in range(9)]   # 9 columns of a 10-letter word: 111 cells wrapped, >100
    frame = pd.DataFrame({w: [w] for w in words}, index=pd.Index(["row"], name="key"))
    out = render_text(frame, width=100)
    assert out.count("───") >= 2                              # two parts or more, each with its rule
    assert all(w in out for w in words)                       # no word cut in two
    assert out.count("row") >= 2                              # the key column repeated in each part


@pytest.mark.parametrize("width", [0, -5, 10, 1e12, True, "100"])
def test_a_width_that_cannot_be_a_terminal_is_refused(width):
    with pytest.raises(vsim.ScenarioError, match="width"):
        render(pd.DataFrame({"a": [1]}), "table", width=width)


@pytest.mark.parametrize("call, field", [
    (lambda: render(pd.DataFrame({"a": [1.5]}), "table", digits=0), "digits"),
    (lambda: render(pd.DataFrame({"a": [1.5]}), "table", keys=-1), "keys"),
    (lambda: vsim.plan(SCENARIOS / "plan-web-tier.yaml", progress="yes"), "progress"),
    (lambda: __import__("vsim.experiments.check", fromlist=["check"]).check(["queueing"], progress=2), "progress"),
])
def test_new_arguments_are_checked(call, field):
    with pytest.raises(vsim.ScenarioError, match=field):
        call()
