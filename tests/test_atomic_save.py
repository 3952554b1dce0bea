"""Nothing lost, nothing half-written: outputs are saved atomically.

``Results.save`` writes every file into a hidden temporary folder next to the
destination and renames it into place at the end, so a failure (a full disk, a
crash in a plot, Ctrl-C) leaves either the complete old folder or nothing, and
no temporary debris. An existing folder is only replaced with ``force``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vsim
from vsim.cli import main
from vsim.plots import RUN_FIGURES

ROOT_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

SC = {
    "name": "tiny",
    "hosts": [{"name": "h", "cores": 4, "memory_gib": 8, "platforms": ["docker"]}],
    "workloads": [{"name": "c", "platform": "docker", "memory_mib": 128,
                   "arrivals": {"type": "batch", "count": 3}, "lifetime": {"type": "fixed", "duration_s": 1}}],
}


@pytest.fixture(scope="module")
def results():
    return vsim.simulate(vsim.parse_scenario(SC), seed=1)


@pytest.fixture
def scenario_file(tmp_path):
    import yaml

    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(SC))
    return p


def test_save_writes_complete_folder_and_no_debris(results, tmp_path):
    dest = results.save(tmp_path / "run", figures=False)
    assert {"summary.json", "instances.csv", "hosts.csv", "phases.csv", "scenario.json"} <= {
        p.name for p in dest.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_existing_folder_is_refused_without_force(results, tmp_path):
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(vsim.ScenarioError, match="already exists.*--force"):
        results.save(dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    results.save(dest, force=True, figures=False)
    assert not (dest / "keep.txt").exists() and (dest / "instances.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_saving_leaves_nothing(results, tmp_path, monkeypatch, exc):
    import pandas as pd

    calls = []

    def failing_to_csv(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the first table is written, the second fails
            raise exc
        return original(self, *a, **k)

    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(type(exc)):
        results.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_replacing_keeps_the_old_folder(results, tmp_path, monkeypatch):
    dest = tmp_path / "run"
    results.save(dest, figures=False)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}

    def broken_plot(*a, **k):
        raise RuntimeError("plot failed")

    monkeypatch.setattr("vsim.plots.startup_timeline", broken_plot)
    with pytest.raises(RuntimeError):
        results.save(dest, force=True, figures=RUN_FIGURES)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_out_parent_is_a_file(results, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(vsim.ScenarioError, match="cannot create a folder there"):
        results.save(tmp_path / "file" / "run")


def test_cli_refuses_existing_out_without_force(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["run", str(scenario_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main(["run", str(scenario_file), "--out", str(out), "--force"]) == 0
    assert (out / "instances.csv").exists() and not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.yaml"]


def test_cli_out_under_a_file_exits_2(scenario_file, tmp_path, capsys):
    assert main(["run", str(scenario_file), "--out", str(scenario_file / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot create a folder there" in err and "Traceback" not in err


# -- figures: the caller passes them (results do not import the plots) -------------------

def test_save_writes_the_figures_it_is_given_and_none_by_default(results, tmp_path):
    plain = results.save(tmp_path / "plain")
    assert not any(p.suffix == ".png" for p in plain.iterdir())
    drawn = results.save(tmp_path / "drawn", figures=RUN_FIGURES)
    assert {p.name for p in drawn.iterdir()} == {p.name for p in plain.iterdir()} | set(RUN_FIGURES)
    for name in RUN_FIGURES:
        assert (drawn / name).read_bytes().startswith(b"\x89PNG")


def test_cli_out_is_save_with_the_run_figures(scenario_file, tmp_path):
    out = tmp_path / "cli"
    assert main(["run", str(scenario_file), "--out", str(out), "--seed", "1"]) == 0
    api = results_of(scenario_file).save(tmp_path / "api", figures=RUN_FIGURES)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in api.iterdir())
    assert "startup-timeline.png" in {p.name for p in out.iterdir()}
    for p in out.iterdir():
        if p.suffix != ".png":
            assert p.read_bytes() == (api / p.name).read_bytes(), p.name


def results_of(scenario_file):
    return vsim.simulate(vsim.load_scenario(scenario_file), seed=1)


def test_figures_true_is_refused_naming_run_figures(results, tmp_path):
    with pytest.raises(vsim.ScenarioError, match="figures=vsim.plots.RUN_FIGURES"):
        results.save(tmp_path / "run", figures=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("figures", [["startup.png"], {"../up.png": lambda r, p: None},
                                     {"sub/x.png": lambda r, p: None}, {"x.png": "not a function"}])
def test_bad_figures_are_refused_before_anything_is_written(results, tmp_path, figures):
    with pytest.raises(vsim.ScenarioError, match="^figures"):
        results.save(tmp_path / "run", figures=figures)
    assert list(tmp_path.iterdir()) == []


def test_a_figure_may_not_replace_a_table(results, tmp_path):
    with pytest.raises(vsim.ScenarioError, match="'instances.csv'"):
        results.save(tmp_path / "run", figures={"instances.csv": lambda r, p: p.write_text("x")})
    assert list(tmp_path.iterdir()) == []


def test_results_import_no_later_layer():
    from test_architecture import LAYERS, graph, layer_of

    mine = LAYERS.index("results")
    g = graph()
    later = {m: sorted(d for d in deps if (layer_of(d) or 0) > mine)
             for m, deps in g.items() if m.startswith("vsim.results")}
    assert not any(later.values()), later


def test_out_must_be_a_new_folder_not_empty_nor_the_current_one(tmp_path, monkeypatch, capsys):
    from vsim.cli import main

    monkeypatch.chdir(tmp_path)
    sc = str(ROOT_SCENARIOS / "docker-vs-kvm.yaml")
    assert main(["run", sc, "--out", ""]) == 2
    assert main(["run", sc, "--out", ".", "--force"]) == 2
    assert main(["run", sc, "--out", "..", "--force"]) == 2
    err = capsys.readouterr().err
    assert "an empty name" in err and err.count("is the current folder or holds it") == 2
    assert list(tmp_path.iterdir()) == []           # nothing written, nothing left behind


def test_a_killed_runs_staging_folder_is_cleaned_by_the_next_run(tmp_path):
    from vsim.results.outputs import staged_folder

    dead = tmp_path / ".res.999999999.abcd"        # a PID no process has
    dead.mkdir()
    (dead / "instances.csv").write_text("half")
    alive = tmp_path / f".res.{os.getpid()}.efgh"   # ours: in use, kept
    alive.mkdir()
    with staged_folder(tmp_path / "res") as tmp:
        (tmp / "x").write_text("1")
    assert not dead.exists() and alive.exists() and (tmp_path / "res" / "x").exists()


def test_plan_out_is_staged_and_refused_when_it_exists(tmp_path, capsys):
    from vsim.cli import main

    out = tmp_path / "p"
    out.mkdir()
    (out / "old.txt").write_text("keep")
    assert main(["plan", str(ROOT_SCENARIOS / "plan-web-tier.yaml"), "--out", str(out)]) == 2
    assert (out / "old.txt").exists()
    assert main(["plan", str(ROOT_SCENARIOS / "plan-web-tier.yaml"), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["plan-hosts.png", "plan.csv"]  # replaced whole


def test_a_full_disk_is_a_clean_error(tmp_path):
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "vsim", "profiles"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert proc.returncode == 2 and "cannot write: No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
