"""Figures a class can read: every figure type renders, in English and Chinese,
without a missing glyph; one colour per phase everywhere; legends name only
what is drawn; ``vsim run --out`` writes its three figures.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from conftest import ROOT, SCENARIOS  # noqa: E402

import vsim  # noqa: E402
from vsim import plots  # noqa: E402
from vsim.cli import main  # noqa: E402

CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


@pytest.fixture(scope="module")
def run():
    return vsim.simulate(vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml"))


@pytest.fixture(scope="module")
def storm():
    return vsim.storm_curve(platforms=["docker", "kvm"], counts=[1, 5])


def _no_missing_glyph(draw):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing.*")
        out = draw()
        fig = out if isinstance(out, plt.Figure) else out.figure
        fig.canvas.draw()  # glyphs are looked up when the text is laid out
        plt.close(fig)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_type_renders_without_a_missing_glyph(run, storm, lang):
    from vsim.experiments.density import density
    from vsim.experiments.stack import platform_stack

    zh = lang == "zh"
    figures = {
        "startup_timeline": lambda: plots.startup_timeline(run.instances, lang=lang),
        "host_gantt": lambda: plots.host_gantt(run.instances, run.phases, lang=lang),
        "concurrency": lambda: plots.concurrency_over_time(run.instances, lang=lang),
        "storm_curve": lambda: plots.storm_curve_plot(storm, lang=lang),
        "startup_cdf": lambda: plots.startup_cdf(run.instances),
        "phase_gantt": lambda: plots.phase_gantt(run.phases[run.phases["id"] < 3]),
        "density_bars": lambda: plots.density_bars(density(["docker", "kvm"], max_guests=50)),
        "stack": lambda: plots.stack_diagram(platform_stack("kvm")),
    }
    for draw in figures.values():
        def titled(draw=draw):
            out = draw()
            if zh:  # the course's own terms on the figures that take no lang: 虚拟机, 容器, 系统支持量
                (out.axes[0] if isinstance(out, plt.Figure) else out).set_title("虚拟机与容器：系统支持量")
            return out
        _no_missing_glyph(titled)


def test_the_shipped_font_covers_every_chinese_character_in_the_project():
    from fontTools.ttLib import TTFont

    cmap = TTFont(plots.CJK_FONT).getBestCmap()
    files = [*ROOT.joinpath("vsim").rglob("*.py"), *ROOT.joinpath("vsim").rglob("*.yaml"),
             *ROOT.joinpath("notebooks").glob("*.ipynb")]
    missing = {ch for p in files for ch in CJK.findall(p.read_text(encoding="utf-8")) if ord(ch) not in cmap}
    assert not missing, f"run tools/subset_cjk_font.py: {''.join(sorted(missing))}"
    assert plots.CJK_FAMILY in matplotlib.rcParams["font.family"]


def test_a_phase_has_one_colour_in_every_figure(run):
    ax = plots.phase_gantt(run.phases[run.phases["id"].isin([0, 1])])
    fig = plots.host_gantt(run.instances, run.phases)
    for a in (ax, fig.axes[0]):
        got = {tuple(round(c, 6) for c in b.get_facecolor()[:3]) for b in a.patches}
        want = {tuple(round(c, 6) for c in matplotlib.colors.to_rgb(plots.phase_colour(n)))
                for n in ("kernel", "userspace", "rootfs")}
        assert want <= got
    assert plots.phase_colour("kernel") != plots.phase_colour("userspace")
    assert plots.phase_colour("queue:dockerd") == plots.phase_colour("queue:libvirtd")  # every queue alike
    plt.close("all")


def test_a_legend_names_only_the_phases_drawn_and_says_which_are_too_short(run):
    ph = run.phases[run.phases["id"] == 0]  # one KVM guest: 5 s of userspace, a 1 ms linked clone
    ax = plots.phase_gantt(ph)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels[:-1]) <= set(ph["phase"]) and "userspace" in labels
    assert labels[-1].startswith("too short to see here: ") and "clone-linked" in labels[-1]
    assert "clone-linked" not in labels[:-1]
    plt.close("all")


def test_the_timeline_gives_each_workload_its_own_lanes_and_fits_the_data(run):
    ax = plots.startup_timeline(run.instances)
    rows = [set(c.get_segments()[i][0][1] for i in range(len(c.get_segments()))) for c in ax.collections]
    assert len(rows) == 2 and not rows[0] & rows[1]  # no lane drawn twice
    lo, hi = ax.get_xlim()
    ready = run.instances["ready_s"]
    assert lo <= run.instances["requested_s"].min() and hi >= ready.max()
    assert hi - lo < 1.1 * (ready.max() - run.instances["requested_s"].min())  # not the 900 s of the run
    plt.close("all")


def test_run_out_writes_its_three_figures_with_zh_labels(tmp_path):
    out = tmp_path / "o"
    assert main(["run", str(SCENARIOS / "docker-vs-kvm.yaml"), "--out", str(out), "--lang", "zh"]) == 0
    for name in plots.RUN_FIGURES:
        assert (out / name).stat().st_size > 10_000, name
    assert set(plots.RUN_FIGURES) == {"startup-timeline.png", "hosts-gantt.png", "concurrency.png"}


def test_concurrency_counts_guests_starting_and_running(run):
    ax = plots.concurrency_over_time(run.instances)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    kvm = lines["kvm-vms: running"]
    assert max(kvm.get_ydata()) == (run.instances["workload"] == "kvm-vms").sum()  # all ten at once, once
    assert min(kvm.get_ydata()) == 0
    plt.close("all")


def test_unknown_lang_is_refused():
    with pytest.raises(vsim.ScenarioError, match="lang"):
        plots.label("time", "fr")


def test_the_font_licence_ships_beside_the_font():
    assert (Path(plots.CJK_FONT).parent / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") == 1
