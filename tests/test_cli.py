"""The command line: summaries, output folders, exit codes."""

import json
import subprocess
import sys

import pandas as pd
from conftest import SCENARIOS

from vsim.cli import main


def test_run_prints_summary_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(SCENARIOS / "docker-vs-kvm.yaml"), "--out", str(out), "--seed", "2"])
    assert code == 0
    text = capsys.readouterr().out
    assert "kvm-vms" in text and "docker-containers" in text and "startup_p95_s" in text
    for name in ("summary.json", "instances.csv", "hosts.csv", "phases.csv", "startup-timeline.png"):
        assert (out / name).exists(), name
    inst = pd.read_csv(out / "instances.csv")
    for col in ("id", "workload", "kind", "platform", "host", "requested_s", "placed_s",
                "ready_s", "stopped_s", "startup_s", "state", "reason"):
        assert col in inst.columns
    assert json.loads((out / "summary.json").read_text())["seed"] == 2


def test_run_refuses_existing_out_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    assert main(["run", str(SCENARIOS / "boot-storm.yaml"), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_set_override_changes_the_run(capsys):
    assert main(["run", str(SCENARIOS / "docker-vs-kvm.yaml"), "--set", "workloads.0.vcpus=64"]) == 0
    assert "vcpus: needs 64 vCPUs" in capsys.readouterr().out


def test_validate_broken_file_exits_2_naming_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  - name: h\n    memory_gib: -4\n    platforms: [kvm]\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "hosts[0].memory_gib: must be greater than 0" in err
    assert "Traceback" not in err


def test_validate_good_files(capsys):
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    assert main(["validate", *files]) == 0


def test_bad_flag_exits_2(capsys):
    assert_exit = None
    try:
        main(["run", str(SCENARIOS / "boot-storm.yaml"), "--seed", "-3"])
    except SystemExit as exc:
        assert_exit = exc.code
    assert assert_exit == 2


def test_console_script_installed_and_clean_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [1, 2\n")
    proc = subprocess.run([sys.executable, "-m", "vsim.cli", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "YAML syntax error" in proc.stderr and "Traceback" not in proc.stderr


def test_schema_command(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "vsim scenario"
