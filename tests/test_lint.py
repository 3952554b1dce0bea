"""The code base stays clean under the project's ruff settings (pyproject.toml)."""

import shutil
import subprocess
import sys

from conftest import ROOT


def test_ruff_is_clean():
    cmd = [sys.executable, "-m", "ruff"] if shutil.which("ruff") is None else ["ruff"]
    proc = subprocess.run([*cmd, "check", "--output-format", "concise", "vsim", "tests"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
