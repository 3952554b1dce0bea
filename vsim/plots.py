"""Plots: matplotlib figures drawn from result DataFrames.

Every function here takes DataFrames (the tables of :mod:`vsim.results.tables` or of
:mod:`vsim.experiments`) and returns a matplotlib ``Axes`` (or a ``Figure`` for
the many-panel ones); none of them knows anything about SimPy or the model.
Every axis is labelled with its unit.

Conventions a class can rely on:

- **one colour per phase**, the same in every figure (:func:`phase_colour`):
  a Gantt of KVM's boot and one of a boot storm colour ``kernel`` alike;
- **legends list only what is drawn**, and phases too short to see at the
  figure's scale are named as such rather than given a swatch one cannot find;
- **axes fitted to the data**; where the scales differ (0.2 s container starts
  in a 900 s run) the time axis breaks, showing each burst of activity;
- **Chinese labels** (``lang="zh"``) render with ``vsim CJK``, a subset of
  Noto Sans CJK SC shipped in ``vsim/fonts`` (SIL OFL 1.1), which
  :func:`use_cjk_font` puts behind matplotlib's default font on import.

:data:`RUN_FIGURES` are the figures ``vsim run --out`` saves beside a run's
tables (``Results.save(folder, figures=RUN_FIGURES)``): the startup timeline,
a per-host Gantt of every guest's phases, and the guests starting and running
over time.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

__all__ = ["startup_timeline", "startup_cdf", "phase_gantt", "latency_vs_load", "utilisation_over_time",
           "startup_vs_concurrency", "storm_curve_plot", "density_bars", "boot_gantt",
           "plan_hosts", "sweep_metric", "stack_diagram", "migration_rounds", "energy_bars",
           "host_gantt", "concurrency_over_time", "phase_colour", "use_cjk_font", "label",
           "save_startup_timeline", "save_host_gantt", "save_concurrency", "run_figures", "RUN_FIGURES",
           "PHASE_COLOURS"]

CJK_FONT = Path(__file__).resolve().parent / "fonts" / "vsim-cjk.otf"
CJK_FAMILY = "vsim CJK"


def use_cjk_font() -> bool:
    """Let matplotlib draw Chinese glyphs with the shipped ``vsim CJK`` subset:
    it is added after the families already in ``font.family``, so Latin text
    keeps its font and only missing glyphs fall back to it (matplotlib >= 3.6).
    Returns False if the font file is missing (then Chinese renders as boxes)."""
    from matplotlib import font_manager, rcParams

    if not CJK_FONT.is_file():
        return False
    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(CJK_FONT))
    fam = list(rcParams["font.family"])
    if CJK_FAMILY not in fam:
        rcParams["font.family"] = [*fam, CJK_FAMILY]
    return True


use_cjk_font()

#: Figure labels in the course's two languages (``lang=`` of the figure functions).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "time": "simulated time (s)", "since": "time since request (s)", "guests": "guests",
        "timeline": "Startup timeline: request to ready", "guest_order": "guest (in request order, per workload)",
        "gantt": "Guests on each host: start phases, then running", "running": "running",
        "waiting": "waiting (no phase yet)", "too_short": "too short to see here: ",
        "concurrency": "Guests starting and running over time", "starting": "starting",
        "host": "host", "broken": "time axis broken between bursts of activity",
        "startup": "startup time (s)", "n": "guests started at once (n)",
        "storm": "Storm curve: startup against concurrency (cause of the median written where it changes)",
        "rejected": "some guests rejected",
    },
    "zh": {
        "time": "仿真时间 (s)", "since": "请求后的时间 (s)", "guests": "实例数",
        "timeline": "启动时间线：从请求到就绪", "guest_order": "实例（按请求顺序，各工作负载）",
        "gantt": "每台主机上的实例：启动阶段，然后运行", "running": "运行",
        "waiting": "等待（尚无阶段）", "too_short": "此处太短看不见：",
        "concurrency": "随时间启动与运行的实例", "starting": "启动中",
        "host": "主机", "broken": "时间轴在活动之间断开",
        "startup": "启动时间 (s)", "n": "同时启动的实例数 (n)",
        "storm": "启动风暴曲线：启动时间与并发数（中位实例等待最久的原因写在变化处）",
        "rejected": "部分实例被拒绝",
    },
}


def label(key: str, lang: str = "en") -> str:
    """A figure label in ``lang`` ("en" or "zh")."""
    if lang not in LABELS:
        from vsim.spec.errors import ScenarioError

        raise ScenarioError(f"lang: must be 'en' or 'zh', got {lang!r}")
    return LABELS[lang][key]


# Every phase a built-in profile or mechanism names, each with its own colour
# (tab20, then tab20b); names not listed (a custom profile's) get one from their hash.
_KNOWN_PHASES = [
    "pull", "pull+extract", "clone-full", "clone-linked", "convert", "migrate-copy", "migrate-live",
    "bootloader", "cgroups", "configure", "container", "create", "exec", "firmware", "guest-boot",
    "init", "initrd", "kernel", "lxc-start", "namespaces", "namespaces-cgroups", "network",
    "podman-start", "qemu-start", "rootfs", "run", "sandbox-setup", "sandbox-vm", "sentry-start",
    "shim-start", "userspace", "vm-process-start", "vmm-start", "vmx-start", "worker-start", "xl-create",
    "shutdown", "halt", "destroy",
]


def _palette() -> list:
    return [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]


#: Phase name -> colour, fixed for every figure.
PHASE_COLOURS: dict[str, tuple] = {n: _palette()[i % 40] for i, n in enumerate(_KNOWN_PHASES)}


def phase_colour(name: str):
    """The colour of phase ``name`` in every figure: its own for a known phase;
    one grey for every control-plane queue (``queue:dockerd``) and one for
    every daemon's running cost; else one picked by the name's hash."""
    if name in PHASE_COLOURS:
        return PHASE_COLOURS[name]
    if name.startswith("queue:"):
        return (0.55, 0.55, 0.55)
    if name.startswith("running-cost:"):
        return (0.35, 0.35, 0.35)
    return _palette()[zlib.crc32(name.encode()) % 40]


def _axes(ax=None, figsize=(8, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def startup_timeline(instances: pd.DataFrame, ax=None, lang: str = "en"):
    """Each guest as a bar from request to ready, one lane per guest, the lanes
    of each workload together (a band per workload, never drawn over another's)."""
    ax = _axes(ax)
    df = instances.dropna(subset=["ready_s"]).sort_values("requested_s")
    row = 0
    ticks, names = [], []
    for k, (wl, grp) in enumerate(df.groupby("workload", sort=False)):
        rows = range(row, row + len(grp))
        ax.hlines(list(rows), grp["requested_s"], grp["ready_s"], color=f"C{k}", lw=1.5, label=str(wl))
        ax.plot(grp["ready_s"], list(rows), "|", color=f"C{k}", markersize=4)  # a sub-second start still shows
        ticks.append(row + (len(grp) - 1) / 2)
        names.append(str(wl))
        row += len(grp) + 1
    ax.set_yticks(ticks, names)
    ax.set_xlabel(label("time", lang))
    ax.set_ylabel(label("guest_order", lang))
    ax.set_title(label("timeline", lang))
    if len(df):
        lo, hi = float(df["requested_s"].min()), float(df["ready_s"].max())
        pad = max(hi - lo, 1e-3) * 0.03
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(row - 0.5, -1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return ax


def startup_cdf(instances: pd.DataFrame, ax=None, by: str = "workload"):
    """Cumulative distribution of startup time per workload (or platform)."""
    ax = _axes(ax)
    for wl, grp in instances.dropna(subset=["startup_s"]).groupby(by, sort=False):
        x = grp["startup_s"].sort_values().to_numpy()
        ax.step(x, [(i + 1) / len(x) for i in range(len(x))], where="post", label=str(wl))
    ax.set_xlabel("startup time (s)")
    ax.set_ylabel("fraction of guests ready")
    ax.set_xscale("log")
    ax.legend(loc="best", fontsize="small")
    return ax


def phase_gantt(phases: pd.DataFrame, ax=None, label: str = "platform"):
    """A Gantt chart of boot phases: one row per guest, one bar per phase."""
    ax = _axes(ax)
    ids = list(dict.fromkeys(phases["id"]))
    span = float(phases["end_s"].max() - phases["start_s"].min()) if len(phases) else 0.0
    for row, gid in enumerate(ids):
        grp = phases[phases["id"] == gid]
        for r in grp.itertuples(index=False):
            ax.barh(row, r.end_s - r.start_s, left=r.start_s, color=phase_colour(r.phase), edgecolor="white")
    ax.set_yticks(range(len(ids)))
    ax.set_yticklabels([str(phases[phases["id"] == g][label].iloc[0]) for g in ids])
    ax.set_xlabel("time since request (s)")
    ax.set_title("Start phases")
    _phase_legend(ax, phases, span)
    return ax


def _phase_legend(ax, phases: pd.DataFrame, span: float, lang: str = "en", min_share: float = 0.004):
    """A legend of the phases drawn: a swatch for each one wide enough to see
    (its longest bar over ``min_share`` of the axis), one line naming the rest."""
    from matplotlib.patches import Patch

    longest = phases.groupby("phase", sort=False)["duration_s"].max() if len(phases) else pd.Series(dtype=float)
    shown = [n for n, d in longest.items() if span <= 0 or d >= min_share * span]
    hidden = [n for n in longest.index if n not in shown]
    handles = [Patch(color=phase_colour(n), label=n) for n in shown]
    if hidden:
        handles.append(Patch(color="none", label=label("too_short", lang) + ", ".join(hidden)))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")


def startup_vs_concurrency(storm: pd.DataFrame, ax=None):
    """Startup against the number of guests started at once, one line per platform.

    ``storm`` is the table of :func:`vsim.experiments.bootstorm.boot_storm`:
    solid lines are the median (p50), dashed lines the 95th percentile, drawn only
    where they differ (identical guests started together under fair sharing all
    finish together, so p95 = p50). Both axes are logarithmic: a line of slope 1
    means startup grows in proportion to n.
    """
    ax = _axes(ax)
    for k, (platform, grp) in enumerate(storm.groupby("platform", sort=False)):
        grp = grp.sort_values("n")
        ax.plot(grp["n"], grp["startup_p50_s"], "o-", color=f"C{k}", label=f"{platform} p50")
        spread = (grp["startup_p95_s"] - grp["startup_p50_s"]).abs() > 1e-9 * grp["startup_p50_s"].abs()
        if spread.any():
            ax.plot(grp["n"], grp["startup_p95_s"], "--", color=f"C{k}", alpha=0.7, label=f"{platform} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("guests started at once (n)")
    ax.set_ylabel("startup time (s)")
    ax.set_title("Boot storm: startup against concurrency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small", ncol=2)
    return ax


def storm_curve_plot(curve: pd.DataFrame, ax=None, lang: str = "en"):
    """The storm curve: startup p50 and p95 against n, per platform, with the cause written.

    ``curve`` is the table of :func:`vsim.experiments.bootstorm.storm_curve`.
    Each platform has one colour: a solid line for the median (p50), a dashed
    one for the 95th percentile, on log-log axes. The cause (what the median
    guest waited for longest) is written next to the p50 point where it first
    appears and wherever it changes, so a curve reads "clone-full (disk) from
    here on". A black cross marks an n where the host rejected some guests
    (the percentiles are over those that started, so the curve flattens).
    Rows where no guest started are left out.
    """
    ax = _axes(ax, figsize=(9, 5))
    rejected_labelled = False
    for k, (platform, grp) in enumerate(curve.groupby("platform", sort=False)):
        grp = grp.dropna(subset=["startup_p50_s"]).sort_values("n")
        ax.plot(grp["n"], grp["startup_p50_s"], "o-", color=f"C{k}", label=f"{platform} p50")
        ax.plot(grp["n"], grp["startup_p95_s"], "--", color=f"C{k}", alpha=0.7, label=f"{platform} p95")
        short = grp[grp["rejected"] > 0]
        if len(short):  # the curve flattens there: only the guests that fit started
            ax.plot(short["n"], short["startup_p50_s"], "x", color="black", markersize=9,
                    label=label("rejected", lang) if not rejected_labelled else None)
            rejected_labelled = True
        last = None
        for r in grp.itertuples(index=False):
            if r.cause != last:
                ax.annotate(str(r.cause), (r.n, r.startup_p50_s), textcoords="offset points", xytext=(4, 6),
                            fontsize="x-small", color=f"C{k}", rotation=20)
                last = r.cause
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(label("n", lang))
    ax.set_ylabel(label("startup", lang))
    ax.set_title(label("storm", lang))
    ax.grid(True, which="both", alpha=0.3)
    if len(curve):
        ax.legend(loc="best", fontsize="small", ncol=2)
    return ax


#: One colour per binding resource, the same in every density chart.
BINDING_COLOURS = {"memory": "C0", "vcpus": "C1", "disk": "C2", "guest limit": "C3", "none": "C7", "other": "C4"}


def density_bars(dens: pd.DataFrame, ax=None, log: bool = True):
    """Guests per host, one bar per platform, coloured by what limits it.

    ``dens`` is the table of :func:`vsim.experiments.density.density`. The count
    is written on each bar, and the physical wall (the same guests with the
    host's policies lifted) is a black tick with its count and what binds
    there; the y axis is logarithmic by default because container and VM
    counts differ by orders of magnitude.
    """
    ax = _axes(ax)
    x = range(len(dens))
    colours = [BINDING_COLOURS.get(b, "C4") for b in dens["binding"]]
    ax.bar(x, dens["guests"], color=colours)
    for i, n in zip(x, dens["guests"], strict=True):
        ax.annotate(f"{int(n)}", (i, n), ha="center", va="bottom", fontsize="small")
    # The physical wall (the policies lifted: guest limits, overcommit ratios),
    # where the table has one: a black tick above or on the bar.
    phys = dens["physical_guests"] if "physical_guests" in dens else pd.Series([-1] * len(dens))
    has_phys = [i for i, n in zip(x, phys, strict=True) if n >= 0]
    if has_phys:
        ax.scatter(has_phys, [phys.iloc[i] for i in has_phys], marker="_", s=400, color="black", zorder=3)
        for i in has_phys:
            ax.annotate(f"{int(phys.iloc[i])} ({dens['physical_binding'].iloc[i]})", (i, phys.iloc[i]),
                        ha="center", va="bottom", fontsize="x-small")
    top = max(float(dens["guests"].max()), float(phys.max()), 1.0)
    ax.set_xticks(list(x))
    ax.set_xticklabels(dens["platform"], rotation=30, ha="right")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.8, top=top * 2)
    ax.set_xlabel("platform")
    ax.set_ylabel("guests per host (count)")
    ax.set_title("Density: guests that fit on one host")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    seen = list(dict.fromkeys(dens["binding"]))
    handles: list = [Patch(color=BINDING_COLOURS.get(b, "C4"), label=f"limited by {b}") for b in seen]
    if has_phys:
        handles.append(Line2D([], [], color="black", marker="_", linestyle="", markersize=14,
                              label="physical wall (policies lifted)"))
    ax.legend(handles=handles, loc="best", fontsize="small")
    return ax


def boot_gantt(phases: pd.DataFrame, ax=None):
    """One guest's provisioning and boot phases per platform, as a Gantt chart.

    ``phases`` is the table of :func:`vsim.experiments.bootstorm.boot_phases`
    (one guest per platform, times since its request). The total startup is
    written at the end of each row, so that a 0.2 s container start stays
    readable next to a VM's seconds.
    """
    ax = phase_gantt(phases, ax=ax, label="platform")
    for row, (_, grp) in enumerate(phases.groupby("id", sort=False)):
        end = float(grp["end_s"].max())
        ax.annotate(f" {end:.2f} s", (end, row), va="center", fontsize="small")
    if len(phases):
        ax.set_xlim(0, float(phases["end_s"].max()) * 1.15)
    ax.set_xlabel("time since request (s)")
    ax.set_ylabel("platform (one guest each)")
    ax.set_title("Startup phases of one guest, idle host")
    return ax


def plan_hosts(plan: pd.DataFrame, ax=None, cheapest_only: bool = True):
    """Hosts needed against demand, one line per architecture (a vsim.plan table).

    With ``cheapest_only`` each architecture uses its cheapest host type at
    each demand level; otherwise every (architecture, host type) gets a line.
    """
    ax = _axes(ax)
    df = plan[plan["feasible"]]
    if cheapest_only and "cheapest" in df:
        df = df[df["cheapest"]]
        keys = ["architecture"]
    else:
        keys = ["architecture", "host_type"]
    x = df["guests_requested"] if "guests_requested" in df else df["demand_scale"]
    for k, (name, grp) in enumerate(df.assign(_x=x).groupby(keys, sort=False)):
        grp = grp.sort_values("_x")
        label = name if isinstance(name, str) else " on ".join(str(n) for n in name)
        # Distinct markers and dashes keep lines that coincide visible.
        ax.plot(grp["_x"], grp["hosts"], marker="osD^v"[k % 5], linestyle=["-", "--", ":", "-."][k % 4],
                markersize=8 - k, color=f"C{k}", label=str(label))
    ax.set_xlabel("demand (guests requested)")
    ax.set_ylabel("hosts needed (spares included)")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Hosts needed against demand")
    if len(df):
        ax.legend(loc="best", fontsize="small")
    return ax


def sweep_metric(summary: pd.DataFrame, metric: str, x: str, by: str | None = None, ax=None,
                 unit: str = ""):
    """A metric's mean and 95% confidence interval against a swept parameter
    (a ``vsim.experiments.sweep.summarize`` table); one line per value of ``by``."""
    ax = _axes(ax)
    df = summary[summary["metric"] == metric]
    groups = df.groupby(by, sort=True) if by else [(None, df)]
    for k, (val, grp) in enumerate(groups):
        grp = grp.sort_values(x)
        err = [grp["mean"] - grp["ci95_low"], grp["ci95_high"] - grp["mean"]]
        ax.errorbar(grp[x], grp["mean"], yerr=err, marker="o", capsize=3, color=f"C{k}",
                    label=None if by is None else f"{by} = {val}")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} ({unit})" if unit else metric)
    ax.set_title(f"{metric}: mean and 95% confidence interval")
    if by:
        ax.legend(loc="best", fontsize="small")
    return ax


def latency_vs_load(table: pd.DataFrame, ax=None, percentile: str = "latency_p95_s", by: str = "platform"):
    """Latency against offered load, one line per platform (from experiments.load)."""
    ax = _axes(ax)
    for name, grp in table.groupby(by, sort=False):
        g = grp.sort_values("rate_per_s")
        ax.plot(g["rate_per_s"], g[percentile] * 1000.0, marker="o", label=str(name))
    ax.set_xlabel("offered load (requests/s per instance)")
    ax.set_ylabel(f"{percentile.replace('_s', '')} latency (ms)")
    ax.set_yscale("log")
    ax.legend(loc="best", fontsize="small")
    return ax


def utilisation_over_time(utilisation: pd.DataFrame, ax=None, resource: str = "cpu_util"):
    """A host resource's utilisation per sampling interval, one line per host."""
    ax = _axes(ax)
    for host, grp in utilisation.groupby("host", sort=False):
        ax.plot(grp["time_s"], grp[resource] * 100.0, label=str(host))
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(f"{resource.replace('_util', '')} utilisation (%)")
    ax.set_ylim(0, 105)
    ax.legend(loc="best", fontsize="small")
    return ax


#: Colours of the stack diagram, by scope (who pays for the layer).
SCOPE_COLOURS = {"hardware": "#9e9e9e", "per host": "#4c72b0", "per guest": "#dd8452"}


def stack_diagram(stack: pd.DataFrame, ax=None):
    """The layers of one or more platforms, hardware at the bottom, side by side.

    ``stack`` is the table of :func:`vsim.experiments.stack.platform_stack` (or
    several concatenated). One column of boxes per platform; a box's colour says
    who pays for the layer (the hardware, once per host, or once per guest), and
    the memory the profile charges for it is written inside. The vertical axis
    counts layers, so a hosted (Type 2) hypervisor's extra layer shows as a
    taller column.
    """
    from matplotlib.patches import Patch, Rectangle

    platforms = list(dict.fromkeys(stack["platform"]))
    ax = _axes(ax, figsize=(3.2 * max(1, len(platforms)) + 1, 5))
    width = 0.9
    for i, name in enumerate(platforms):
        grp = stack[stack["platform"] == name].sort_values("level")
        for r in grp.itertuples(index=False):
            colour = SCOPE_COLOURS.get(r.scope, "C7")
            ax.add_patch(Rectangle((i - width / 2, r.level), width, 0.92, facecolor=colour,
                                   edgecolor="black", alpha=0.85))
            import textwrap

            text = textwrap.fill(r.layer, 26)
            if pd.notna(r.memory_mib):
                text += f"\n{r.memory_mib:g} MiB" + (" per guest" if r.scope == "per guest" else "")
            if pd.notna(r.cpu_cores) and r.cpu_cores:
                text += f", {r.cpu_cores:g} cores"
            ax.text(i, r.level + 0.46, text, ha="center", va="center", fontsize="small", wrap=True)
    top = int(stack["level"].max()) + 1 if len(stack) else 1
    ax.set_xlim(-0.6, len(platforms) - 0.4)
    ax.set_ylim(0, top + 0.1)
    ax.set_xticks(range(len(platforms)))
    ax.set_xticklabels(platforms)
    ax.set_yticks([k + 0.46 for k in range(top)])
    ax.set_yticklabels([str(k) for k in range(top)])
    ax.set_xlabel("platform")
    ax.set_ylabel("layer (count, 0 = hardware)")
    ax.set_title("Where the layers sit")
    ax.legend(handles=[Patch(color=c, label=s) for s, c in SCOPE_COLOURS.items()],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title="paid")
    return ax


#: Axis labels (with units) for columns often put on the x axis of migration_rounds.
_MIGRATION_X = {"dirty_mb_s": "guest dirty rate (MB/s)", "memory_mib": "guest memory (MiB)",
                "bandwidth_mib_s": "migration bandwidth cap (MiB/s)", "start_s": "migration start (s)"}


def migration_rounds(migrations: pd.DataFrame, ax=None, x: str | None = None, xlabel: str | None = None):
    """Total time and downtime of each completed migration (a ``migrations`` table).

    Without ``x``: one pair of bars per migration (total time, downtime), with
    the pre-copy rounds written above. With ``x`` (a column you added, e.g. the
    guest's ``dirty_mb_s`` joined from the scenario): both times against it,
    one point per migration, the rounds written above the total (``xlabel``
    names ``x`` with its unit if it is not a column vsim knows). The time axis
    is logarithmic, because a converged pre-copy's downtime is milliseconds
    next to a total of seconds.
    """
    ax = _axes(ax)
    df = migrations[migrations["outcome"] == "done"]
    if x is not None:
        df = df.sort_values(x)
        ax.plot(df[x], df["total_s"], "o", color="C0", label="total time (rounds written above)")
        ax.plot(df[x], df["downtime_s"], "s", color="C3", label="downtime")
        for r in df.itertuples(index=False):
            ax.annotate(f"{r.rounds}", (getattr(r, x), r.total_s), textcoords="offset points",
                        xytext=(0, 5), ha="center", fontsize="small")
        ax.set_xlabel(xlabel or _MIGRATION_X.get(x, x))
    else:
        pos = list(range(len(df)))
        w = 0.4
        ax.bar([p - w / 2 for p in pos], df["total_s"], width=w, color="C0", label="total time")
        ax.bar([p + w / 2 for p in pos], df["downtime_s"], width=w, color="C3", label="downtime")
        for p, r in zip(pos, df.itertuples(index=False), strict=True):
            ax.annotate(f"{r.rounds} rounds" if r.mode == "live" else r.mode, (p - w / 2, r.total_s),
                        ha="center", va="bottom", fontsize="small")
        ax.set_xticks(pos)
        ax.set_xticklabels([f"{r.name}\n{r.source}->{r.target}" for r in df.itertuples(index=False)],
                           rotation=30, ha="right", fontsize="small")
        ax.set_xlabel("migration (guest, source -> target)")
    if len(df) and (df["downtime_s"] > 0).any():
        ax.set_yscale("log")
    ax.set_ylabel("time (s)")
    ax.set_title("Migrations: total time and downtime")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    if len(df):
        ax.legend(loc="best", fontsize="small")
    return ax


_ENERGY_UNITS = {"J": 1.0, "Wh": 3600.0, "kWh": 3.6e6}


def energy_bars(energy: pd.DataFrame, ax=None, unit: str = "kWh", by: str | None = None):
    """Energy per host (an ``energy`` table), split into what idling cost and the rest.

    The lower part of each bar is ``idle_w x on_s`` (what the host draws just
    for being on); the upper part is the rest: the load above idle plus what it
    drew while off. Consolidation wins by shrinking the lower parts (hosts
    powered off). ``by``: a column you added to compare runs (e.g. ``"policy"``
    after concatenating two runs' tables); bars are labelled ``value / host``.
    """
    if unit not in _ENERGY_UNITS:
        raise ValueError(f"unit must be one of {', '.join(_ENERGY_UNITS)}, got {unit!r}")
    ax = _axes(ax)
    scale = _ENERGY_UNITS[unit]
    idle = energy["idle_w"] * energy["on_s"] / scale
    total = energy["energy_j"] / scale
    pos = list(range(len(energy)))
    ax.bar(pos, idle, color="C7", label="idle power x time on")
    ax.bar(pos, total - idle, bottom=idle, color="C1", label="load above idle, and off")
    labels = energy["host"].astype(str)
    if by is not None:
        labels = energy[by].astype(str) + " / " + labels
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_xlabel("host" if by is None else f"{by} / host")
    ax.set_ylabel(f"energy ({unit})")
    if by is None:
        ax.set_title(f"Energy per host: {float(total.sum()):.3g} {unit} in all")
    else:
        sums = total.groupby(energy[by], sort=False).sum()
        ax.set_title("Energy per host: " + ", ".join(f"{k} {v:.3g} {unit}" for k, v in sums.items()))
    if len(energy):
        ax.legend(loc="best", fontsize="small")
    return ax


# -- a run, guest by guest ---------------------------------------------------------------

def _gantt_lanes(instances: pd.DataFrame, max_hosts: int) -> dict[str, pd.DataFrame]:
    """Host -> its guests in lane order (grouped by workload, then by request time)."""
    inst = instances.dropna(subset=["host"])
    inst = inst[inst["host"].astype(str) != ""]
    top = set(inst["host"].value_counts().nlargest(max_hosts).index)
    return {h: inst[inst["host"] == h].sort_values(["workload", "requested_s"], kind="stable")
            for h in dict.fromkeys(inst["host"]) if h in top}


def _draw_phases(ax, lanes: pd.DataFrame, by_id: dict) -> tuple[float, float]:
    """Each lane's phases from its request (time 0); returns the shortest and
    longest phase drawn (s)."""
    short, long_ = float("inf"), 0.0
    for lane, g in enumerate(lanes.itertuples(index=False)):
        ph = by_id.get(g.id)
        if ph is None:
            continue
        for r in ph.itertuples(index=False):
            if r.start_s > (g.ready_s if g.ready_s == g.ready_s else float("inf")):
                continue  # after ready (a shutdown): shown on the run panel as the end of the bar
            ax.barh(lane, r.duration_s, left=r.start_s - g.requested_s, color=phase_colour(r.phase), height=0.8, lw=0)
            if r.duration_s > 0:
                short, long_ = min(short, r.duration_s), max(long_, r.end_s - g.requested_s)
    return short, long_


def _draw_run(ax, lanes: pd.DataFrame, colour_of: dict, t_end: float) -> None:
    """Each lane over the whole run: starting (its workload's colour), then running (grey)."""
    for lane, g in enumerate(lanes.itertuples(index=False)):
        ready = g.ready_s if g.ready_s == g.ready_s else None
        ax.hlines(lane, g.requested_s, ready if ready is not None else t_end, color=colour_of[g.workload], lw=3)
        if ready is not None:
            stop = g.stopped_s if g.stopped_s == g.stopped_s else t_end
            ax.hlines(lane, ready, stop, color="0.6", lw=1.2)


def host_gantt(instances: pd.DataFrame, phases: pd.DataFrame, lang: str = "en", max_hosts: int = 6):
    """Every guest of a run as a lane on its host, lanes grouped by workload; one
    row of panels per host (the ``max_hosts`` with most guests).

    Left, the guest's start phases from its own request (one colour per phase,
    as in every figure), on a log time axis when the phases' scales differ (a
    container's 20 ms cgroup setup beside a VM's 5 s userspace); right, the
    whole run on one clock: starting (the workload's colour) then running
    (grey), so guests that start together, and wait for each other, line up.
    Returns the Figure."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    hosts = _gantt_lanes(instances, max_hosts)
    if not hosts:
        fig, ax = plt.subplots(figsize=(8, 2))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no guest was placed", ha="center", va="center")
        return fig
    ends = pd.concat([instances["requested_s"], instances["ready_s"], instances["stopped_s"]]).dropna()
    t_end = float(ends.max())
    workloads = list(dict.fromkeys(instances["workload"]))
    colour_of = {w: f"C{k % 10}" for k, w in enumerate(workloads)}
    by_id = {gid: grp for gid, grp in phases.groupby("id", sort=False)} if len(phases) else {}
    heights = [max(len(v), 2) + 1 for v in hosts.values()]
    fig, axes = plt.subplots(len(hosts), 2, figsize=(11, min(2.2 + 0.2 * sum(heights), 14)), squeeze=False,
                             sharex="col", gridspec_kw={"height_ratios": heights, "width_ratios": [1, 1.3]})
    short, long_ = float("inf"), 0.0
    for row, (h, lanes) in enumerate(hosts.items()):
        s_, l_ = _draw_phases(axes[row][0], lanes, by_id)
        short, long_ = min(short, s_), max(long_, l_)
        _draw_run(axes[row][1], lanes, colour_of, t_end)
        ticks = [sum(i) / len(i) for i in (
            [lanes.index.get_loc(x) for x in grp.index] for _, grp in lanes.groupby("workload", sort=False))]
        for ax in axes[row]:
            ax.set_ylim(len(lanes) - 0.4, -0.6)
            ax.set_yticks(ticks, list(dict.fromkeys(lanes["workload"])), fontsize="small")
        axes[row][0].set_title(f"{label('host', lang)} {h}", fontsize="small", loc="left")
    left = axes[-1][0]
    if long_ > 0 and long_ / short > 50:  # scales differ: a log axis keeps the shortest phase in sight
        left.set_xscale("symlog", linthresh=short)
        left.set_xlim(0, long_ * 1.3)
    elif long_ > 0:
        left.set_xlim(0, long_ * 1.05)
    axes[-1][1].set_xlim(0, t_end * 1.01 if t_end > 0 else 1.0)
    left.set_xlabel(label("since", lang) + (" (log)" if left.get_xscale() == "symlog" else ""))
    axes[-1][1].set_xlabel(label("time", lang))
    fig.suptitle(label("gantt", lang))
    drawn = [n for n in dict.fromkeys(phases["phase"]) if any(
        (by_id[g.id]["phase"] == n).any() for ls in hosts.values() for g in ls.itertuples() if g.id in by_id)] \
        if len(phases) else []
    handles = [Patch(color=phase_colour(n), label=n) for n in drawn if not n.startswith("shutdown")]
    handles += [Line2D([], [], color=colour_of[w], lw=3, label=f"{w}: {label('starting', lang)}") for w in workloads
                if any((ls["workload"] == w).any() for ls in hosts.values())]
    handles.append(Line2D([], [], color="0.6", lw=1.2, label=label("running", lang)))
    axes[0][1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="x-small")
    return fig


def concurrency_over_time(instances: pd.DataFrame, ax=None, lang: str = "en"):
    """How many guests of each workload are starting (requested, not yet
    ready: dashed) and running (ready, not yet stopped: solid) over time."""
    ax = _axes(ax)
    df = instances
    ends = pd.concat([df["requested_s"], df["ready_s"], df["stopped_s"]]).dropna()
    t_end = float(ends.max()) if len(ends) else 1.0
    for k, (wl, grp) in enumerate(df.groupby("workload", sort=False)):
        for kind, start, stop, style in (("starting", "requested_s", "ready_s", "--"),
                                         ("running", "ready_s", "stopped_s", "-")):
            g = grp.dropna(subset=[start])
            if kind == "starting":
                g = g[g["state"] != "rejected"]
            ev = pd.concat([pd.Series(1, index=g[start].to_numpy()),
                            pd.Series(-1, index=g[stop].dropna().to_numpy())]).groupby(level=0).sum().sort_index()
            if not len(ev):
                continue
            x = [0.0, *ev.index.to_list(), t_end]
            y = [0, *ev.cumsum().to_list(), int(ev.sum())]
            ax.step(x, y, where="post", ls=style, color=f"C{k}", label=f"{wl}: {label(kind, lang)}")
    ax.set_xlim(0, t_end * 1.01 if t_end > 0 else 1.0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(label("time", lang))
    ax.set_ylabel(label("guests", lang))
    ax.set_title(label("concurrency", lang))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return ax


# -- figures saved with a run ------------------------------------------------------------

def _save(fig, path) -> None:
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def save_startup_timeline(results, path, lang: str = "en") -> None:
    """Write :func:`startup_timeline` of ``results.instances`` to ``path`` (PNG);
    nothing if the run requested no guest."""
    if len(results.instances):
        _save(startup_timeline(results.instances, lang=lang).figure, path)


def save_host_gantt(results, path, lang: str = "en") -> None:
    """Write :func:`host_gantt` of a run to ``path``; nothing if no guest was requested."""
    if len(results.instances):
        _save(host_gantt(results.instances, results.phases, lang=lang), path)


def save_concurrency(results, path, lang: str = "en") -> None:
    """Write :func:`concurrency_over_time` of a run to ``path``; nothing if no guest was requested."""
    if len(results.instances):
        _save(concurrency_over_time(results.instances, lang=lang).figure, path)


def run_figures(lang: str = "en") -> dict:
    """:data:`RUN_FIGURES` with labels in ``lang``."""
    from functools import partial

    return {name: partial(fn, lang=lang) for name, fn in RUN_FIGURES.items()}


#: The figures ``vsim run --out`` writes beside the tables: file name ->
#: ``writer(results, path)``; pass them to ``Results.save(folder, figures=...)``.
RUN_FIGURES = {"startup-timeline.png": save_startup_timeline, "hosts-gantt.png": save_host_gantt,
               "concurrency.png": save_concurrency}
