"""The core layers type-check: mypy (settings in pyproject.toml) finds no error.

Type annotations are checked documentation: ``def profile(self, name: str) ->
Profile`` tells a reader what goes in and what comes out, and mypy makes sure
it stays true as the code changes. CORE lists the packages held to that; the
other layers are read for the types the core imports, not yet checked
themselves.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

CORE = ["vsim/spec", "vsim/engine", "vsim/model", "vsim/mechanisms"]


def test_core_layers_type_check():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", *CORE],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mypy {' '.join(CORE)} found problems:\n{proc.stdout}{proc.stderr}"
