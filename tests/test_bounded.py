"""Every hostile input answered in bounded time and memory, enforced.

One worker subprocess runs every case through the command it targets (``vsim
validate`` and ``vsim run`` for each file of ``tests/bad_scenarios`` and
``tests/bad_runs``, ``vsim plan`` and ``vsim sweep`` on broken plans and
sweeps, special files as scenarios, profiles and hosts). After its imports it
caps its own address space at 500 MB above what it holds (``resource.setrlimit``)
and gives each case 5 s of wall time (``signal.alarm``): a case that allocates
more dies with MemoryError, one that takes longer is cut off, and both fail
here. Every case must end with exit 2, one message on stderr, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

TESTS = Path(__file__).parent
LIMIT_MB = 500
LIMIT_S = 5

WORKER = textwrap.dedent(r'''
    import contextlib, io, json, resource, signal, sys, time
    import vsim.cli  # every import before the limit is set
    import vsim.experiments.plan, vsim.experiments.sweep, vsim.plots  # noqa: F401

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
        return 0

    limit_mb, limit_s = int(sys.argv[1]), int(sys.argv[2])
    cap = vm_bytes() + limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    class Slow(Exception):
        pass

    def alarm(*_):
        raise Slow()

    signal.signal(signal.SIGALRM, alarm)
    out = []
    for argv in json.loads(sys.stdin.read()):
        err, std = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        signal.alarm(limit_s)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
                try:
                    code = vsim.cli.main(argv)
                except SystemExit as e:
                    code = e.code
        except Slow:
            code = "slow"
        except MemoryError:
            code = "memory"
        finally:
            signal.alarm(0)
        out.append({"argv": argv, "code": code, "err": err.getvalue()[-2000:],
                    "seconds": time.perf_counter() - t0})
    print(json.dumps(out))
''')


def _cases(tmp: Path) -> list[list[str]]:
    cases = []
    for folder in ("bad_scenarios", "bad_runs"):
        for f in sorted((TESTS / folder).glob("*.yaml")):
            cases += [["validate", str(f)], ["run", str(f)]]
    fifo = tmp / "pipe.yaml"
    os.mkfifo(fifo)
    for special in (str(fifo), "/dev/zero", "/dev/urandom"):
        cases += [["run", special], ["validate", special], ["plan", special], ["sweep", special],
                  ["compare", "--host", special], ["profiles", special]]
    plan = tmp / "plan-bad.yaml"
    plan.write_text((ROOT / "scenarios" / "plan-web-tier.yaml").read_text().replace("headroom: 0.1", "headroom: 1.5"))
    cases.append(["plan", str(plan)])
    sweep = tmp / "sweep-huge.yaml"
    sweep.write_text("name: s\nhosts: [{name: h, cores: 8, memory_gib: 32, platforms: [docker]}]\n"
                     "workloads: [{name: w, platform: docker, arrivals: {type: batch, count: 1}}]\n"
                     "replications: 10000\nsweep: {hosts.0.cores: [" + ",".join(str(i) for i in range(1, 1001)) + "]}\n")
    cases.append(["sweep", str(sweep), "--jobs", "1"])
    cases.append(["sweep", str(ROOT / "scenarios" / "sweep-overcommit.yaml"), "--executor", "dask://h:notaport"])
    cases.append(["run", str(ROOT / "scenarios" / "docker-vs-kvm.yaml"), "--out", ""])
    return cases


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if sys.platform != "linux":
        pytest.skip("the limits are Linux's (resource.RLIMIT_AS, /proc)")
    tmp = tmp_path_factory.mktemp("hostile")
    cases = _cases(tmp)
    proc = subprocess.run([sys.executable, "-c", WORKER, str(LIMIT_MB), str(LIMIT_S)], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=60 + 2 * LIMIT_S * len(cases), cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_every_hostile_input_is_one_clean_refusal_within_the_bounds(outcomes):
    bad = [o for o in outcomes
           if o["code"] != 2 or "Traceback" in o["err"] or not o["err"].strip() or o["seconds"] > LIMIT_S]
    assert not bad, "\n".join(f"{' '.join(o['argv'])}: {o['code']} after {o['seconds']:.1f} s: {o['err'][-300:]}"
                              for o in bad[:10])
    assert len(outcomes) > 200


def test_each_message_names_the_file_or_field(outcomes):
    for o in outcomes:
        first = o["err"].strip().splitlines()[-1]
        assert ":" in first and len(first) < 2000, o
