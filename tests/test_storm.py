"""The storm curve: startup percentiles against concurrency, with the cause named.

vsim.experiments.bootstorm.storm_curve, the `vsim storm` command and
vsim.plots.storm_curve_plot.
"""

import math

import matplotlib.pyplot as plt
import pytest

import vsim
from vsim.cli import main
from vsim.experiments import bootstorm
from vsim.experiments.bootstorm import STORM_COUNTS, phase_resources, storm_curve
from vsim.experiments.testbed import resolve_platform
from vsim.plots import storm_curve_plot


@pytest.fixture(scope="module")
def curve():
    # 1 to 1,000 guests: under a second for these three platforms.
    return storm_curve(["docker", "kvm", "firecracker"], counts=STORM_COUNTS)


def row(df, platform, n):
    r = df[(df["platform"] == platform) & (df["n"] == n)]
    assert len(r) == 1, (platform, n)
    return r.iloc[0]


def test_columns_are_the_documented_ones(curve):
    assert list(curve.columns) == list(vsim.COLUMNS["storm_curve"])
    assert vsim.COLUMNS["storm_curve"] is bootstorm.COLUMNS["storm_curve"]
    assert len(curve) == 3 * len(STORM_COUNTS)


def test_docker_queues_at_dockerd(curve):
    d = curve[curve["platform"] == "docker"]
    big = d[d["n"] >= 10]
    assert (big["startup_p50_s"] < big["startup_p95_s"]).all()
    assert row(curve, "docker", 50)["cause"] == "queue:dockerd"
    assert row(curve, "docker", 50)["cause_excess_s"] > 0
    # Of two, the median guest is the later: the one that queued behind the first.
    assert row(curve, "docker", 2)["cause"] == "queue:dockerd"


def test_full_clones_wait_for_the_disk_linked_clones_for_the_cpu(curve):
    assert row(storm_curve(["virtualbox"], counts=[1, 50]), "virtualbox", 50)["cause"] == "clone-full (disk)"
    assert row(curve, "firecracker", 50)["cause"] == "clone-full (disk)"
    assert row(curve, "kvm", 50)["cause"] == "userspace (CPU/disk)"  # linked clones: the reads are cached


def test_a_guest_alone_has_no_cause(curve):
    for platform in ("docker", "kvm", "firecracker"):
        r = row(curve, platform, 1)
        assert r["cause"] == "none"
        assert r["cause_excess_s"] == 0
        # n = 1 is 31 lone starts: their spread is the platform's own (vsim.model.variability)
        cv = vsim.load_profile(platform).startup_cv.value
        assert 0 < r["startup_p50_s"] < r["startup_p95_s"] <= r["startup_p99_s"] <= r["startup_max_s"]
        assert r["startup_max_s"] / r["startup_p50_s"] < 1 + 4 * cv


def test_p50_never_falls_as_n_grows(curve):
    for platform, grp in curve.groupby("platform"):
        p50 = grp.sort_values("n")["startup_p50_s"].to_numpy()
        assert (p50[1:] >= p50[:-1]).all(), platform
        assert p50[-1] > p50[0], platform


def test_rejected_guests_are_counted_and_left_out_of_the_percentiles(curve):
    r = row(curve, "kvm", 1000)  # 256 GiB hold about 60 VMs of 4 GiB
    assert r["rejected"] > 0
    assert r["started"] + r["rejected"] == 1000
    assert math.isfinite(r["startup_p50_s"]) and math.isfinite(r["startup_p99_s"])
    assert row(curve, "docker", 1000)["started"] == 1000


def test_the_cause_is_the_largest_excess_not_the_longest_phase():
    # A firmware wait of 100 s is the longest phase at any n, but it does not
    # stretch; the clone, which shares the disk, does.
    phases = vsim.load_profile("kvm").model_dump()["start_phases"]
    for ph in phases:
        if ph["name"] == "firmware":
            ph["latency_s"] = 100.0
    slow = {"name": "kvm-slow-bios", "base": "kvm", "start_phases": phases}
    df = storm_curve([slow], counts=[1, 3], shape={"clone": "full"})
    assert row(df, "kvm-slow-bios", 1)["cause"] == "none"
    assert row(df, "kvm-slow-bios", 3)["cause"] == "clone-full (disk)"


def test_resources_come_from_the_phase_fields_not_the_name():
    res = phase_resources(vsim.load_profile("kvm"))
    assert res["kernel"] == "CPU/disk" and res["firmware"] == "fixed wait" and res["qemu-start"] == "CPU"
    assert phase_resources(vsim.load_profile("docker"))["rootfs"] == "CPU/disk"  # it writes 1 MB
    phases = vsim.load_profile("kvm").model_dump()["start_phases"]
    for ph in phases:
        if ph["name"] == "kernel":  # named like a CPU/disk phase, but only a download
            ph.update(cpu_s=0.0, disk_read_mb=0.0, net_mb=10.0)
    odd = resolve_platform({"name": "kvm-net-kernel", "base": "kvm", "start_phases": phases})
    assert phase_resources(odd)["kernel"] == "network"


def test_plot_has_one_line_per_platform_and_percentile(curve):
    ax = storm_curve_plot(curve)
    try:
        labels = sorted(line.get_label() for line in ax.get_lines() if " p" in line.get_label())
        assert labels == sorted(f"{p} {q}" for p in ("docker", "kvm", "firecracker") for q in ("p50", "p95"))
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert "queue:dockerd" in [t.get_text() for t in ax.texts]
    finally:
        plt.close(ax.figure)


def test_cli_prints_the_table(capsys, tmp_path):
    out = tmp_path / "storm.png"
    assert main(["storm", "--platforms", "docker,firecracker", "--counts", "1,10", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "startup_p95_s" in text and "queue:dockerd" in text and "clone-full (disk)" in text
    assert out.stat().st_size > 0


def test_cli_csv(capsys):
    assert main(["storm", "--platforms", "docker", "--counts", "1,2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",") == list(vsim.COLUMNS["storm_curve"]) and len(lines) == 3


@pytest.mark.parametrize("flags, named", [
    (["--platforms", "dokcer"], "--platforms"),
    (["--platforms", "docker,"], "--platforms"),
    (["--counts", "0"], "--counts"),
    (["--counts", "-5"], "--counts"),
    (["--counts", "ten"], "--counts"),
    (["--counts", "100001"], "--counts"),
    (["--format", "xml"], "--format"),
    (["--out", "storm.txt"], "--out"),
])
def test_cli_bad_flags_exit_2_naming_the_flag(flags, named, capsys):
    try:
        code = main(["storm", "--counts", "1", *flags])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.startswith("vsim")]) == 1
