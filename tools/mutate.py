"""Mutation testing: does the suite catch plausible bugs in the core code?

For each module below, the script makes small deliberate bugs (mutants) one at a
time: a comparison loosened or tightened (``<`` / ``<=``), an arithmetic
operator swapped (``+`` / ``-``, ``*`` / ``/``), ``and`` / ``or``, ``min`` /
``max``, ``True`` / ``False``, a constant changed (``0`` to ``1``, a number
doubled). Each mutant runs the tests that cover the module (``TARGETS``), and
is *killed* if a test fails (or the run hangs past the timeout), *survived*
otherwise. The score is killed / mutants. A survivor is either a missing test
or an *equivalent* mutant (one that cannot change behaviour, like ``<`` for
``<=`` where the two sides are never equal); read the list and say which.

Mutants are found with Python's tokenizer (never inside strings, comments or
docstrings) and sampled deterministically (``--per-module``, ``--seed``), so two
runs with the same arguments try the same mutants. The script works on a copy
of the project (``--root``; by default a fresh ``git clone`` in a temporary
folder), never on your checkout. Not part of the test suite (it takes minutes).

    python tools/mutate.py [--per-module 15] [--seed 0] [--modules vsim/engine/fairshare.py,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

#: module -> the tests that cover it (run with -x for each mutant).
TARGETS: dict[str, list[str]] = {
    "vsim/engine/fairshare.py": ["tests/test_fairshare.py", "tests/test_cpu_weight.py", "tests/test_mutation_gaps.py"],
    "vsim/engine/weighted.py": ["tests/test_cpu_weight.py", "tests/test_cgroups.py", "tests/test_mutation_gaps.py"],
    "vsim/engine/server.py": ["tests/test_control_plane.py", "tests/test_server.py", "tests/test_mutation_gaps.py"],
    "vsim/engine/pagecache.py": ["tests/test_page_cache.py", "tests/test_mutation_gaps.py"],
    "vsim/model/placement.py": ["tests/test_placement.py", "tests/test_capacity_exact.py", "tests/test_invariants.py",
                                "tests/test_hot_path.py", "tests/test_mutation_gaps.py"],
    "vsim/model/footprint.py": ["tests/test_footprint.py", "tests/test_mutation_gaps.py"],
    "vsim/model/overhead.py": ["tests/test_overhead.py", "tests/test_mutation_gaps.py"],
    "vsim/model/host.py": ["tests/test_idle_cpu.py", "tests/test_world.py", "tests/test_profiles.py",
                           "tests/test_mutation_gaps.py"],
    "vsim/mechanisms/cgroups.py": ["tests/test_cgroups.py", "tests/test_host_memory.py", "tests/test_mutation_gaps.py"],
    "vsim/mechanisms/migration.py": ["tests/test_migration.py", "tests/test_services_migration.py", "tests/test_faults.py", "tests/test_mutation_gaps.py"],
    "vsim/experiments/density.py": ["tests/test_footprint.py", "tests/test_density.py", "tests/test_mutation_gaps.py"],
    "vsim/experiments/compare.py": ["tests/test_compare.py", "tests/test_mutation_gaps.py",
                                    "tests/test_readme.py::test_the_readme_comparison_is_the_real_output_of_vsim_compare"],
}

SWAPS = {
    "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
    "+": "-", "-": "+", "*": "/", "/": "*",
    "and": "or", "or": "and", "min": "max", "max": "min", "True": "False", "False": "True",
}


def mutants(path: Path) -> list[tuple[int, int, str, str]]:
    """(line, column, old, new) for every token the operators apply to."""
    src = path.read_text(encoding="utf-8")
    out = []
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.OP and tok.string in SWAPS:
            # skip unary minus / star-args / keyword defaults: only binary operators between values
            if tok.string in ("-", "*", "+") and (prev is None or prev.type == tokenize.OP and prev.string in "(,=[{:"):
                prev = tok
                continue
            out.append((tok.start[0], tok.start[1], tok.string, SWAPS[tok.string]))
        elif tok.type == tokenize.NAME and tok.string in SWAPS:
            out.append((tok.start[0], tok.start[1], tok.string, SWAPS[tok.string]))
        elif tok.type == tokenize.NUMBER and prev is not None and not (prev.type == tokenize.OP and prev.string == "["):
            try:
                v = float(tok.string.replace("_", ""))
            except ValueError:
                prev = tok
                continue
            new = "1" if v == 0 else repr(v * 2)
            out.append((tok.start[0], tok.start[1], tok.string, new))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            prev = tok
    return out


def apply(src: str, line: int, col: int, old: str, new: str) -> str:
    lines = src.splitlines(keepends=True)
    text = lines[line - 1]
    assert text[col:col + len(old)] == old, (line, col, old, text)
    lines[line - 1] = text[:col] + new + text[col + len(old):]
    return "".join(lines)


def run_tests(root: Path, tests: list[str], timeout_s: float) -> str:
    env = dict(os.environ, PYTHONPATH=str(root))  # the copy's vsim, not an installed one
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                           cwd=root, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    return "survived" if r.returncode == 0 else "killed"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", help="a copy of the project to mutate (default: a fresh git clone)")
    ap.add_argument("--modules", help="comma-separated module paths (default: every one of TARGETS)")
    ap.add_argument("--per-module", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", help="write every mutant's outcome here")
    args = ap.parse_args()
    if args.root:
        root = Path(args.root).resolve()
    else:
        root = Path(tempfile.mkdtemp(prefix="vsim-mutate-")) / "vsim"
        subprocess.run(["git", "clone", "-q", str(HERE), str(root)], check=True)
    mods = args.modules.split(",") if args.modules else list(TARGETS)
    rows = []
    for mod in mods:
        path = root / mod
        original = path.read_text(encoding="utf-8")
        if run_tests(root, TARGETS[mod], args.timeout) != "survived":
            print(f"{mod}: its tests fail before any mutation; skipped", file=sys.stderr)
            continue
        found = mutants(path)
        rng = random.Random(f"{args.seed}:{mod}")
        picked = sorted(rng.sample(found, min(args.per_module, len(found))))
        for line, col, old, new in picked:
            path.write_text(apply(original, line, col, old, new), encoding="utf-8")
            t0 = time.perf_counter()
            try:
                outcome = run_tests(root, TARGETS[mod], args.timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            code = original.splitlines()[line - 1].strip()
            rows.append({"module": mod, "line": line, "old": old, "new": new, "code": code, "outcome": outcome,
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{outcome:16s} {mod}:{line}  {old} -> {new}   {code[:90]}", flush=True)
    killed = sum(r["outcome"].startswith("killed") for r in rows)
    print()
    print(f"{'module':34s} mutants  killed  score")
    for mod in mods:
        mine = [r for r in rows if r["module"] == mod]
        if mine:
            k = sum(r["outcome"].startswith("killed") for r in mine)
            print(f"{mod:34s} {len(mine):7d} {k:7d}  {100 * k / len(mine):4.0f}%")
    if rows:
        print(f"{'all':34s} {len(rows):7d} {killed:7d}  {100 * killed / len(rows):4.0f}%")
        print("\nsurvivors (a missing test, or an equivalent mutant: say which):")
        for r in rows:
            if r["outcome"] == "survived":
                print(f"  {r['module']}:{r['line']}  {r['old']} -> {r['new']}   {r['code'][:100]}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
