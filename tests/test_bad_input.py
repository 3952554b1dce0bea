"""Bad input never crashes vsim: one clear message naming the field, exit 2.

The corpus in ``tests/bad_scenarios/`` holds broken scenario files, one mistake
each. A file says what its message must contain in ``# expect: ...`` lines at
the top (several lines: all must appear); files that cannot hold a comment
(empty, binary) have their expectations in ``SIDECAR`` below. Every file is fed
to the API (``vsim.load_scenario`` must raise ``ScenarioError`` and nothing
else) and to the CLI (``vsim validate`` and ``vsim run --out`` exit 2, the
message is on stderr, there is no traceback and no output folder).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import vsim
from vsim.cli import main

BAD = Path(__file__).parent / "bad_scenarios"
ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p.name for p in BAD.glob("*.yaml"))

SIDECAR = {
    "empty.yaml": ["the file is empty"],
    "binary-garbage.yaml": ["binary-garbage.yaml", "not valid UTF-8"],
    "binary-png.yaml": ["binary-png.yaml", "not valid UTF-8"],
    "binary-nul-bytes.yaml": ["binary-nul-bytes.yaml", "NUL bytes"],
}

# Kinds of bad input the issue asks for, by file-name prefix, and how many of each at least.
KINDS = {
    "syntax-": 5, "type-": 5, "size-": 5, "unknown-key-": 4, "profile-": 3, "unsafe-": 2,
    "huge-": 3, "empty": 1, "comments-only": 1, "binary-": 2, "toplevel-": 2, "dup-": 3,
    "ref-": 2, "missing-": 2, "choice-": 1, "sweep-": 1, "trace-": 2, "yaml-": 3, "builtin-": 1,
}


def expectations(name: str) -> list[str]:
    if name in SIDECAR:
        return SIDECAR[name]
    head = (BAD / name).read_bytes().decode("utf-8", errors="replace").splitlines()
    return [ln.split("# expect:", 1)[1].strip() for ln in head if ln.startswith("# expect:")]


def assert_clean(message: str, name: str) -> None:
    for fragment in expectations(name):
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"
    for junk in ("Traceback", "errors.pydantic.dev", "validation error for", "[type="):
        assert junk not in message, f"{name}: {junk!r} leaked into {message!r}"


@pytest.fixture
def in_corpus(monkeypatch):
    """Relative paths in the corpus (profile files, trace CSVs) resolve from its folder."""
    monkeypatch.chdir(BAD)


def test_corpus_is_big_and_covers_every_kind():
    assert len(FILES) >= 40
    for prefix, least in KINDS.items():
        n = sum(f.startswith(prefix) for f in FILES)
        assert n >= least, f"only {n} corpus files start with {prefix!r}"
    unclassified = [f for f in FILES if not any(f.startswith(p) for p in KINDS)]
    assert unclassified == []


@pytest.mark.parametrize("name", FILES)
def test_every_file_states_what_its_message_must_say(name):
    assert expectations(name), f"{name}: add '# expect: FIELD' lines (or a SIDECAR entry)"


@pytest.mark.parametrize("name", FILES)
def test_api_raises_scenario_error_naming_the_field(name, in_corpus):
    with pytest.raises(vsim.ScenarioError) as info:  # any other exception fails the test
        vsim.load_scenario(name)
    err = info.value
    assert_clean(str(err), name)
    assert err.problems and all("\n" not in p for p in err.problems), "one line per problem"


@pytest.mark.parametrize("name", FILES)
def test_cli_validate_exits_2_with_message_on_stderr(name, in_corpus, capsys):
    assert main(["validate", name]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_clean(err, name)


@pytest.mark.parametrize("name", FILES)
def test_cli_run_exits_2_and_writes_nothing(name, in_corpus, capsys, tmp_path):
    out_dir = tmp_path / "out"
    assert main(["run", name, "--out", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert_clean(err, name)
    assert "Traceback" not in out
    assert list(tmp_path.iterdir()) == [], "no output folder and no temporary debris"


VSIM = shutil.which("vsim")


@pytest.mark.skipif(VSIM is None, reason="the vsim console script is not installed (pip install -e .)")
def test_installed_console_script(tmp_path):
    """Two runs of the real ``vsim`` program (each start costs seconds, so only two)."""
    for name, cmd in (("binary-garbage.yaml", "validate"), ("unknown-key-platfrom.yaml", "run")):
        argv = [VSIM, cmd, str(BAD / name)] + (["--out", str(tmp_path / "o")] if cmd == "run" else [])
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 2
        assert_clean(proc.stderr, name)
        assert "Traceback" not in proc.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(VSIM is None, reason="the vsim console script is not installed (pip install -e .)")
def test_unsafe_tag_is_never_executed(tmp_path):
    """The corpus file asks YAML to run ``touch vsim-pwned``; safe loading must refuse."""
    name = "unsafe-os-system.yaml"
    text = (BAD / name).read_text().replace("echo pwned > /tmp/vsim-pwned", "touch vsim-pwned")
    (tmp_path / "scenario.yaml").write_text(text)
    proc = subprocess.run([VSIM, "validate", "scenario.yaml"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "YAML tag refused" in proc.stderr
    assert not (tmp_path / "vsim-pwned").exists()


# -- a guest larger than every host: valid, rejected at run time with a reason ---------

RUNTIME = BAD / "runtime" / "guest-larger-than-every-host.yaml"


def test_guest_larger_than_every_host_is_rejected_with_reason_not_dropped():
    sc = vsim.load_scenario(RUNTIME)  # validation accepts it: asking for too much is allowed
    res = vsim.simulate(sc)
    inst = res.instances
    assert len(inst) == sc.guest_count() == 3
    assert (inst["state"] == "rejected").all()
    assert inst["reason"].str.startswith("memory: needs").all()
    assert inst["host"].eq("").all() and inst["placed_s"].isna().all()


def test_cli_reports_runtime_rejections(capsys, tmp_path):
    assert main(["run", str(RUNTIME), "--out", str(tmp_path / "o")]) == 0
    out, _ = capsys.readouterr()
    assert "rejected:" in out and "3 x memory: needs" in out
    saved = vsim.load_results(tmp_path / "o")
    assert (saved.instances["state"] == "rejected").sum() == 3


# -- bad command-line flags ----------------------------------------------------------

GOOD = Path(__file__).resolve().parents[1] / "scenarios" / "docker-vs-kvm.yaml"


@pytest.mark.parametrize("argv, fragment", [
    (["run", str(GOOD), "--set", "hosts.9.memory_gib=1"], "out of range"),
    (["run", str(GOOD), "--set", "nonsense"], "expected dotted.path=value"),
    (["run", str(GOOD), "--set", "hosts.0.memory_gib=-1"], "hosts[0].memory_gib: must be greater than 0"),
    (["run", str(GOOD), "--set", "hosts.0.memroy_gib=1"], "did you mean 'memory_gib'"),
    (["run", str(GOOD), "--set", "hosts.0.cores=yes"], "yes/no value"),
    (["run", str(GOOD), "--set", "name.x=1"], "--set 'name.x': cannot set 'x' there"),
    (["run", str(GOOD), "--set", "seed.x.y=1"], "--set 'seed.x.y': seed.x does not exist"),
    (["run", "no/such/file.yaml"], "no such file"),
    (["run", str(BAD)], "is a folder"),
    (["validate", str(GOOD), str(BAD / "size-memory-zero.yaml")], "hosts[0].memory_gib"),
])
def test_bad_flags_and_paths_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["run", str(GOOD), "--seed", "-1"], ["run", str(GOOD), "--seed", "x"],
                                  ["frobnicate"], ["run"], ["run", str(GOOD), "--bogus"]])
def test_argparse_errors_exit_2_without_traceback(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    _, err = capsys.readouterr()
    assert "vsim: error:" in err and "Traceback" not in err


# -- --debug and VSIM_DEBUG show the traceback -----------------------------------------

def test_debug_flag_shows_traceback(capsys):
    bad = str(BAD / "size-memory-zero.yaml")
    assert main(["validate", bad]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "run", bad]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ScenarioError" in err
    assert "hosts[0].memory_gib: must be greater than 0" in err


def test_vsim_debug_environment_variable(capsys, monkeypatch):
    monkeypatch.setenv("VSIM_DEBUG", "1")
    assert main(["run", str(BAD / "size-memory-zero.yaml")]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_internal_error_is_exit_1_and_traceback_only_with_debug(capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("vsim.experiments.run.simulate", boom)
    assert main(["run", str(GOOD)]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: simulated bug" in err and "--debug" in err
    assert "Traceback" not in err
    assert main(["--debug", "run", str(GOOD)]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# -- API arguments ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    return vsim.parse_scenario({
        "hosts": [{"name": "h", "platforms": ["docker"]}],
        "workloads": [{"name": "c", "platform": "docker", "arrivals": {"type": "batch", "count": 1}}],
    })


@pytest.mark.parametrize("kwargs, fragment", [
    ({"seed": -1}, "seed: must be a whole number"),
    ({"seed": 1.5}, "seed: must be a whole number"),
    ({"seed": "7"}, "seed: must be a whole number"),
    ({"seed": True}, "seed: must be a whole number"),
    ({"seed": 2**64}, "seed: must be a whole number"),
    ({"until": -1}, "until: must be a time"),
    ({"until": 0}, "until: must be a time"),
    ({"until": math.nan}, "until: must be a time"),
    ({"until": math.inf}, "until: must be a time"),
    ({"until": "10"}, "until: must be a time"),
])
def test_simulate_checks_its_arguments(small, kwargs, fragment):
    with pytest.raises(vsim.ScenarioError, match=fragment.replace("(", r"\(")):
        vsim.simulate(small, **kwargs)


@pytest.mark.parametrize("thing", ["scenarios/docker-vs-kvm.yaml", {"hosts": []}, None, 42])
def test_simulate_wants_a_scenario(thing):
    with pytest.raises(vsim.ScenarioError, match="expected a Scenario"):
        vsim.simulate(thing)


@pytest.mark.parametrize("call, fragment", [
    (lambda: vsim.load_scenario(42), "expected a file name"),
    (lambda: vsim.load_scenario(None), "expected a file name"),
    (lambda: vsim.load_scenario("x" * 5000 + ".yaml"), "not a usable file name"),
    (lambda: vsim.load_scenario(GOOD, overrides=5), "overrides: expected"),
    (lambda: vsim.load_scenario(GOOD, overrides=[5]), "expected dotted.path=value"),
    (lambda: vsim.load_scenario(GOOD, overrides={1: 2}), "keys must be dotted paths"),
    (lambda: vsim.load_scenario(GOOD, overrides={"hosts.0.cores": "many"}), "hosts[0].cores"),
    (lambda: vsim.parse_scenario([1, 2]), "top level must be a mapping"),
    (lambda: vsim.parse_scenario({"hosts": [{"platforms": ["kvm"]}], 3: 4}), "field names must be text"),
    (lambda: vsim.load_profile("no-such-platform"), "unknown profile"),
    (lambda: vsim.load_profile("missing.yaml"), "no such file"),
])
def test_api_functions_raise_scenario_error(call, fragment):
    with pytest.raises(vsim.ScenarioError) as info:
        call()
    assert fragment in str(info.value)


def test_nothing_but_scenario_error_from_the_loader_on_weird_paths(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    for p in ("dir.yaml", "latin1.yaml"):
        with pytest.raises(vsim.ScenarioError):
            vsim.load_scenario(tmp_path / p)


def test_unreadable_file(tmp_path, monkeypatch):
    import builtins

    p = tmp_path / "secret.yaml"
    p.write_text("hosts: []\n")
    real_open = builtins.open

    def denied(file, *a, **kw):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(vsim.ScenarioError, match="cannot be read"):
        vsim.load_scenario(p)


@pytest.mark.parametrize("make, says", [
    (lambda d: os.mkfifo(d / "pipe.yaml") or d / "pipe.yaml", "is a FIFO"),
    (lambda d: Path("/dev/zero"), "is a device"),
    (lambda d: Path("/dev/urandom"), "is a device"),
    (lambda d: Path("/proc/self/mem"), "cannot be read"),
])
def test_special_files_are_refused_without_reading_them(tmp_path, make, says):
    path = make(tmp_path)
    if not path.exists():
        pytest.skip(f"{path} is not on this system")
    with pytest.raises(vsim.ScenarioError, match=says):
        vsim.load_scenario(path)
    if path.suffix == ".yaml":  # a profile file given by path is read the same way
        with pytest.raises(vsim.ScenarioError, match=says):
            vsim.load_profile(str(path))


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    from vsim.spec.yamlio import MAX_YAML_BYTES

    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(MAX_YAML_BYTES + 1)  # sparse: no time or disk spent
    with pytest.raises(vsim.ScenarioError, match="at most 10 MB"):
        vsim.load_scenario(big)


@pytest.mark.parametrize("text, says", [
    ("a: 010", "leading zero"), ("a: 1:30", "base 60"),
])
def test_yaml_1_1_numbers_that_mislead_are_refused_with_the_fix(text, says):
    from vsim.spec.yamlio import parse_yaml_text

    with pytest.raises(vsim.ScenarioError, match=says):
        parse_yaml_text(text)


def test_yaml_numbers_follow_yaml_1_2():
    from vsim.spec.yamlio import parse_yaml_text

    assert parse_yaml_text("a: 1e5\nb: 0x10\nc: 0o10\nd: 1_000\ne: -2.5\nf: .inf\ng: 0") == {
        "a": 1e5, "b": 16, "c": 8, "d": 1000, "e": -2.5, "f": float("inf"), "g": 0}


def test_an_alias_bomb_is_refused_quickly_and_an_oversized_number_names_its_field():
    import time

    from vsim.spec.yamlio import parse_yaml_text

    lines = ["a: &a [" + ",".join(["1"] * 9) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    t0 = time.process_time()
    with pytest.raises(vsim.ScenarioError, match="aliases"):
        parse_yaml_text("\n".join(lines))
    assert time.process_time() - t0 < 5
    with pytest.raises(vsim.ScenarioError, match=r"hosts\[0\]\.cores"):
        vsim.parse_scenario({"hosts": [{"name": "h", "cores": parse_yaml_text("x: " + "9" * 5000)["x"]}]})


@pytest.mark.parametrize("value", [-1, float("nan"), 1e12])
def test_an_idle_cpu_cost_out_of_range_is_refused(value):
    prof = {"name": "k2", "base": "kvm", "idle_cpu_cores": {"value": value, "assumption": "test"}}
    with pytest.raises(vsim.ScenarioError, match=r"idle_cpu_cores"):
        vsim.parse_scenario({"hosts": [{"name": "h", "platforms": ["k2"]}], "profiles": [prof],
                             "workloads": [{"name": "w", "platform": "k2", "arrivals": {"type": "batch", "count": 1}}]})


@pytest.fixture(scope="module")
def _res():
    return vsim.simulate(vsim.load_scenario(ROOT / "scenarios" / "docker-vs-kvm.yaml"))


@pytest.mark.parametrize("call, field", [
    (lambda r: vsim.sweep(ROOT / "scenarios" / "sweep-overcommit.yaml", executor="dask://h:notaport"), "--executor"),
    (lambda r: vsim.sweep(ROOT / "scenarios" / "sweep-overcommit.yaml", out=42, jobs=1), "--out"),
    (lambda r: vsim.sweep(ROOT / "scenarios" / "sweep-overcommit.yaml", force="no", jobs=1), "force"),
    (lambda r: r.save(42), "folder"),
    (lambda r: r.save(""), "folder"),
    (lambda r: vsim.load_results(None), "folder"),
    (lambda r: vsim.density("docker", first_batch=-5), "first_batch"),
    (lambda r: vsim.density("docker", max_guests=True), "max_guests"),
    (lambda r: vsim.simulate(vsim.load_scenario(ROOT / "scenarios" / "docker-vs-kvm.yaml"), allow_large="yes"),
     "allow_large"),
])
def test_bad_api_arguments_raise_a_vsim_error_naming_them(_res, call, field):
    with pytest.raises(vsim.ScenarioError, match=re.escape(field)):
        call(_res)


def test_world_and_load_results_refuse_what_they_cannot_use(tmp_path):
    from vsim.model.world import World

    with pytest.raises(vsim.ScenarioError, match="World: expected a Scenario"):
        World(None)
    for name in ("instances.csv", "hosts.csv", "summary.json"):
        (tmp_path / name).write_text("\x00garbage{")
    with pytest.raises(vsim.ScenarioError, match="not a readable saved vsim run"):
        vsim.load_results(tmp_path)


def test_a_lone_surrogate_key_is_named():
    from vsim.spec.yamlio import _lone_surrogate, parse_yaml_text

    with pytest.raises(vsim.ScenarioError, match="line 4"):   # libyaml refuses the escape itself
        parse_yaml_text('name: x\nhosts:\n  - name: h\n    "\\udc80": 3\n')
    # the pure-Python reader would let it through: the walk names where it is
    assert _lone_surrogate({"hosts": [{"name": "h", "\udc80": 3}]}, "") == "hosts[0].'\\udc80'"
    assert _lone_surrogate({"name": "fine"}, "") is None
