"""What the README promises runs: its Python blocks and its vsim commands."""

import os
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_blocks():
    """(language, text) of every fenced block, read fence by fence."""
    blocks, lang, lines = [], None, []
    for line in README.splitlines():
        if line.startswith("```"):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, "\n".join(lines) + "\n"))
                lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, "README.md has an unclosed code fence"
    return blocks


def python_blocks():
    return [text for lang, text in fenced_blocks() if lang == "python"]


def vsim_commands():
    """Every `vsim ...` line of the shell blocks (no language, console, bash, sh)."""
    cmds = []
    for lang, block in fenced_blocks():
        if lang not in ("", "console", "bash", "sh"):
            continue
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
    args = shlex.split(cmd, comments=True)
    # Commands that write folders write into a temporary place.
    args = [a.replace("OUT_DIR", str(tmp_path / "out")) for a in args]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "vsim.cli", *args[1:]], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def scenario_blocks():
    """YAML blocks that are whole scenarios (those naming a file of their own are skipped)."""
    return [text for lang, text in fenced_blocks()
            if lang == "yaml" and "hosts:" in text and "path:" not in text]


@pytest.mark.parametrize("text", scenario_blocks())
def test_yaml_examples_are_valid_scenarios(text):
    import yaml

    from vsim.spec.scenario import parse_scenario

    sc = parse_scenario(yaml.safe_load(text), where="README.md")
    import vsim

    assert len(vsim.simulate(sc).instances) == sc.guest_count()


def test_the_readme_comparison_is_the_real_output_of_vsim_compare():
    """The README shows `vsim compare` as 'the real output of the default run': it must be."""
    import importlib.util

    from vsim.experiments.compare import compare, render

    spec = importlib.util.spec_from_file_location("readme_compare", ROOT / "tools" / "readme_compare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = README
    j, k = mod.compare_block(text)
    assert text[j:k] == render(compare(), "table"), "README's compare block is stale: python tools/readme_compare.py"
