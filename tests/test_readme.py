"""What the README promises runs: its Python blocks and its vsim commands."""

import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def vsim_commands():
    """Every `vsim ...` line inside ```console / ``` blocks, and the set-up commands."""
    cmds = []
    for block in re.findall(r"```(?:console|bash|sh)?\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("vsim ") or part == "vsim":
                    cmds.append(part)
    return cmds


def test_readme_has_the_two_setup_commands():
    assert 'python -m pip install -e ".[dev]" && vsim compare' in README
    assert 'python -m pip install -e ".[dev]" && python -m pytest' in README


@pytest.mark.parametrize("code", python_blocks())
def test_python_blocks_run(code, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("cmd", vsim_commands())
def test_vsim_commands_run(cmd, tmp_path):
    args = shlex.split(cmd)
    # Commands that write folders write into a temporary place.
    args = [a.replace("OUT_DIR", str(tmp_path / "out")) for a in args]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "vsim.cli", *args[1:]], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
