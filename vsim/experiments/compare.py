"""The comparison table: startup, disk, performance and density, simulated.

The course compares Docker containers with KVM virtual machines in four lines
(启动 秒级 / 分钟级, 硬盘使用 MB / GB, 性能 接近原生 / 弱于, 系统支持量 上千个 /
几十个). :func:`compare` builds that table for any set of platforms on any
host. Every cell is the output of a simulation run made at call time, but
the 'memory per guest' row, a stated formula (:mod:`vsim.model.footprint`). The
performance rows run benchmark-like *operation mixes* (compute, memory
streamed or updated at random, disk requests of a size at a queue depth,
messages, segments) in a guest and on the bare host; each operation pays the
platform's per-operation cost (:class:`~vsim.spec.profile.Overhead`: an
exit, a disk request, a packet, a TLB miss), so a row is near native where
operations are large and few and weaker where they are small and many
(:mod:`vsim.model.overhead`). The notes say how each row is obtained:

========================  ==========================================================
row                       how it is obtained
========================  ==========================================================
startup, idle host        one guest started alone: image clone or unpack, then the
                          platform's boot phases (:func:`~vsim.experiments.bootstorm.boot_storm`, n=1)
startup, image not on    one guest on a host that lacks its image: fetched from the
the host                  image service over its link and the host's NIC, then as idle
                          (:func:`~vsim.experiments.bootstorm.first_fetch`)
startup, N at once        N guests started together, sharing CPU, disk and network
                          (boot storm, n = :data:`STORM_N`); p50 and p95
disk per instance         disk the guest itself takes on the host: a full clone,
                          a linked-clone overlay, or a container's writable layer
image on the host         image data in the host's cache, shared by all guests
performance vs native     Linpack-, STREAM-, RandomAccess-, fio- and netperf-like
                          operation mixes run in the model in a guest and on the bare
                          host (:mod:`vsim.experiments.microbench`): native time / guest time
memory per guest          what one guest of the same application reserves and
                          touches: the platform's additions to it (:mod:`vsim.model.footprint`)
density per host          guests of the same application placed until the host
                          refuses one, and the resource that refused: under the host's
                          policies, and with them lifted (the physical wall)
                          (:func:`~vsim.experiments.density.density`)
========================  ==========================================================

Nothing in the table is typed in: change a number in a profile (or pass a
derived profile) and the table changes. The guest shapes, images and default
host are in :mod:`vsim.experiments.testbed`, each with its reasoning. Values
that rest on an *assumption* rather than a measurement are marked ``*``, and a
Type 2 (hosted) hypervisor in the table gets a note on what is assumed.

``compare()`` returns the readable table (strings with units);
``compare(raw=True)`` returns the numbers behind it, one row per key
(:data:`RAW_KEYS`, units in the names). :func:`render` prints either as a plain
table, Markdown, CSV or JSON.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vsim.experiments.bootstorm import (
    ALONE_REPEATS,
    boot_phases,
    boot_storm,
    first_fetch,
    storm_curve,
)
from vsim.experiments.density import density
from vsim.experiments.microbench import BENCHMARKS, DEPENDS, native_times, run_benchmarks
from vsim.experiments.testbed import (
    APPLICATION,
    SHAPES,
    describe_host,
    image_for,
    resolve_host,
    resolve_platforms,
    shape_for,
)
from vsim.results.render import FORMATS
from vsim.spec.errors import ScenarioError

__all__ = ["compare", "render", "numbers", "DEFAULT_PLATFORMS", "STORM_N", "RAW_KEYS", "FORMATS"]

#: The course's pair (Docker, KVM), a microVM and a Type 2 hypervisor.
DEFAULT_PLATFORMS = ("docker", "kvm", "firecracker", "virtualbox")
#: A platform's startup cells are marked * when more than this share of its idle
#: boot is spent in phases whose numbers are assumptions: the boot is then the
#: simulation of a guess. (Docker's phases split a measured 0.234 s by assumption:
#: 66% of its boot, not marked; ESXi's and Hyper-V's phases are all assumed.)
ASSUMED_STARTUP_SHARE = 0.8
#: A density is marked * when assumed profile numbers make up more than this
#: share of one guest's memory and memory is what binds.
ASSUMED_DENSITY_SHARE = 0.1
#: Guests started at once in the boot-storm row.
STORM_N = 50

#: The numbers behind the table (``compare(raw=True)``): key -> meaning.
RAW_KEYS: dict[str, str] = {
    "kind": "platform kind: container engine, Type 1 / Type 2 hypervisor, microVM",
    "vcpus": "vCPUs reserved by one guest",
    "memory_mib": "guest memory asked for, MiB (before overhead and page sharing)",
    "clone": "how the guest gets its disk: full, linked or layers",
    "startup_idle_s": "startup of one guest on an idle host, s (request to ready)",
    "provision_idle_s": "of which image clone / unpack, s",
    "boot_idle_s": "of which boot phases, s",
    "startup_fetch_s": "startup of one guest on a host without its image, fetched first from the image service "
                       "(vsim.experiments.testbed.DEFAULT_REGISTRY), s",
    "fetch_s": "of which fetching the image (pull, or pull and unpack), s",
    "startup_storm_p50_s": "median startup when STORM_N guests start at once, s",
    "startup_storm_p95_s": "95th percentile of the same, s",
    "storm_started": "guests of the storm that fitted on the host and started",
    "storm_cause": "what the storm's median guest waited for most: its phase that grew most over its time alone "
                   "(vsim.storm_curve's cause: queue:SERVER, or a phase and the resources it uses)",
    "startup_assumed_share": "share of the idle boot spent in phases whose numbers are assumptions, not "
                             "measurements (over ASSUMED_STARTUP_SHARE: the startup cells are marked *)",
    "disk_per_instance_mb": "disk the guest itself takes, MB (clone, overlay or writable layer)",
    "image_on_host_mb": "image data cached on the host and shared by its guests, MB",
    "perf_cpu": "Linpack-like mix (vector floating point), native time / guest time",
    "perf_memory_bandwidth": "STREAM-like mix (memory streamed), native time / guest time",
    "perf_memory_random": "RandomAccess-like mix (random updates, a TLB miss each), native time / guest time",
    "perf_disk_sequential": "fio-like 1 MiB sequential reads, 2 in flight, native time / guest time",
    "perf_disk_random": "fio-like 4 KiB random reads, 128 in flight, native time / guest time",
    "perf_network_latency": "netperf TCP_RR-like round trips, native time / guest time",
    "perf_network_bandwidth": "nuttcp-like bulk TCP in 64 KiB segments, native time / guest time",
    "app_ram_mib": "RAM a guest is given for the density application (a VM's flavor), MiB; 0 for a container",
    "app_vcpus": "vCPUs a guest of the density application reserves",
    "memory_reserved_mib": "memory one guest of the density application reserves, overhead included, MiB",
    "memory_resident_mib": "memory one idle guest of the density application touches, overhead included, MiB",
    "density_guests": "guests of the density application that fit on one host under its policies",
    "density_binding": "what stopped the next one: memory, vcpus, disk, guest limit (or none)",
    "density_reason": "the placer's rejection message",
    "density_physical_guests": "guests that fit with the policies lifted, each taking the memory it touches "
                               "and the CPU it uses (the physical wall)",
    "density_physical_binding": "the physical wall: memory, vcpus (CPU in use) or disk",
    "density_shape_guests": "guests of the startup rows' fixed shape (vcpus, memory_mib) that fit on one host",
    "density_shape_binding": "what stopped the next one of those",
}

_LABELS = {
    "en": {
        "kind": "type",
        "shape": "guest shape (startup rows)",
        "startup_idle": "startup, idle host",
        "startup_fetch": "startup, image not on the host",
        "startup_storm": "startup, {n} at once (p50 / p95)",
        "disk": "disk per instance",
        "image": "image on the host (shared)",
        "perf_cpu": "performance vs native: CPU (Linpack)",
        "perf_memory_bandwidth": "performance vs native: memory bandwidth",
        "perf_memory_random": "performance vs native: random memory access",
        "perf_disk_sequential": "performance vs native: sequential disk, 1 MiB",
        "perf_disk_random": "performance vs native: random disk, 4 KiB",
        "perf_network_latency": "performance vs native: network round trip",
        "perf_network_bandwidth": "performance vs native: network bulk",
        "memory": "memory per guest, same application",
        "density": "density per host (limited by); physical wall",
        "density_shape": "density per host, startup rows' shapes",
        "criterion": "criterion",
    },
    "zh": {
        "kind": "类型",
        "shape": "实例规格（启动时间各行）",
        "startup_idle": "启动时间（空闲主机）",
        "startup_fetch": "启动时间（镜像不在主机上）",
        "startup_storm": "启动时间（{n}个同时启动，p50 / p95）",
        "disk": "硬盘使用（每个实例）",
        "image": "镜像（主机上共享）",
        "perf_cpu": "性能（相对原生）：CPU（Linpack）",
        "perf_memory_bandwidth": "性能（相对原生）：内存带宽",
        "perf_memory_random": "性能（相对原生）：随机内存访问",
        "perf_disk_sequential": "性能（相对原生）：顺序磁盘，1 MiB",
        "perf_disk_random": "性能（相对原生）：随机磁盘，4 KiB",
        "perf_network_latency": "性能（相对原生）：网络往返延迟",
        "perf_network_bandwidth": "性能（相对原生）：网络批量传输",
        "memory": "每实例内存（同一应用）",
        "density": "系统支持量（每台主机，瓶颈）；物理上限",
        "density_shape": "系统支持量（启动时间各行的实例规格）",
        "criterion": "特性",
    },
}

_WORDS = {
    "en": {
        "container-engine": "container engine", "microvm": "microVM", "native": "native process",
        "type1": "Type 1 hypervisor (bare-metal)", "type2": "Type 2 hypervisor (hosted)",
        "full": "full clone", "linked": "linked clone", "layers": "writable layer",
        "memory": "memory", "vcpus": "vCPUs", "disk": "disk", "guest limit": "per-host guest limit",
        "none": "none up to the search limit", "other": "other",
        "boot": "boot", "fit": "only {k} fit", "none_fit": "does not fit on this host", "fetch": "fetch",
        "physically": "physically", "reserves": "reserves {r} ({ram} RAM), touches {t}",
        "no_reserve": "reserves nothing, touches {t}",
    },
    "zh": {
        "container-engine": "容器引擎", "microvm": "微虚拟机", "native": "原生进程",
        "type1": "裸机虚拟化（Type 1）", "type2": "宿主型虚拟化（Type 2）",
        "full": "完整克隆", "linked": "链接克隆", "layers": "可写层",
        "memory": "内存", "vcpus": "虚拟CPU", "disk": "硬盘", "guest limit": "每主机实例上限",
        "none": "搜索上限内无瓶颈", "other": "其他",
        "boot": "启动", "fit": "仅容纳{k}个", "none_fit": "主机放不下", "fetch": "下载镜像",
        "physically": "物理上", "reserves": "预留 {r}（内存规格 {ram}），实际使用 {t}",
        "no_reserve": "不预留，实际使用 {t}",
    },
}


# -- measuring -----------------------------------------------------------------------

def _kind_word(profile) -> str:
    if profile.kind == "hypervisor":
        return "type1" if profile.hypervisor_type == 1 else "type2"
    return profile.kind


def _measure(profiles, host: dict, seed: int) -> dict[str, dict[str, Any]]:
    """Run every experiment; return raw values by platform, then key."""
    storm = boot_storm(profiles, counts=[1, STORM_N], host=host, seed=seed)
    causes = storm_curve(profiles, counts=[STORM_N], host=host, seed=seed).set_index("platform")["cause"]
    dens = density(profiles, host=host, seed=seed)
    shaped = density(profiles, host=host, seed=seed, shape={})
    native = native_times(host)
    fetch = first_fetch(profiles, host=host, seed=seed).set_index("platform")
    phases = boot_phases(profiles, host=host, seed=seed)
    out: dict[str, dict[str, Any]] = {}
    for k, prof in enumerate(profiles):
        one = storm[(storm["platform"] == prof.name) & (storm["n"] == 1)].iloc[0]
        ph = phases[phases["id"] == k]
        mine = ph[ph["phase"].isin([x.name for x in prof.start_phases])]
        assumed = mine[mine["phase"].isin([x.name for x in prof.start_phases if x.source is None])]
        boot = float(mine["duration_s"].sum())
        many = storm[(storm["platform"] == prof.name) & (storm["n"] == STORM_N)].iloc[0]
        a = dens[dens["platform"] == prof.name].iloc[0]  # the density application (its disk and image too)
        sh = shape_for(prof)  # the startup rows' guest shape
        d = shaped[shaped["platform"] == prof.name].iloc[0]  # ... and its density
        perf = run_benchmarks(prof, host, seed=seed, native=native)
        out[prof.name] = {
            "kind": _kind_word(prof),
            "vcpus": float(sh["vcpus"]),
            "memory_mib": float(sh["memory_mib"]),
            "clone": a["clone"],
            "startup_idle_s": float(one["startup_p50_s"]),
            "provision_idle_s": float(one["provision_mean_s"]),
            "boot_idle_s": float(one["boot_mean_s"]),
            "startup_fetch_s": float(fetch.loc[prof.name, "startup_s"]),
            "fetch_s": float(fetch.loc[prof.name, "fetch_s"]),
            "startup_storm_p50_s": float(many["startup_p50_s"]),
            "startup_storm_p95_s": float(many["startup_p95_s"]),
            "storm_started": int(many["started"]),
            "storm_cause": str(causes[prof.name]),
            "startup_assumed_share": float(assumed["duration_s"].sum()) / boot if boot > 0 else 0.0,
            "disk_per_instance_mb": float(a["disk_per_guest_mb"]),
            "image_on_host_mb": float(a["image_cache_mb"]),
            **{f"perf_{k}": float(perf[mix]) for k, (mix, _) in BENCHMARKS.items()},
            "app_ram_mib": float(a["memory_mib"]) if prof.guest_kind in ("vm", "microvm") else 0.0,
            "app_vcpus": float(a["vcpus"]),
            "memory_reserved_mib": float(a["memory_per_guest_mib"]),
            "memory_resident_mib": float(a["resident_per_guest_mib"]),
            "density_guests": int(a["guests"]),
            "density_binding": a["binding"],
            "density_reason": a["reason"],
            "density_physical_guests": int(a["physical_guests"]),
            "density_physical_binding": a["physical_binding"],
            "density_shape_guests": int(d["guests"]),
            "density_shape_binding": d["binding"],
        }
    return out


# -- formatting ------------------------------------------------------------------------

def _dur(s: float, extra: int = 0) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    if s < 1:
        return f"{s:.{2 + extra}f} s"
    if s < 120:
        return f"{s:.{1 + extra}f} s"
    return f"{s / 60:.{1 + extra}f} min"


def _durs(a: float, b: float) -> tuple[str, str]:
    """Two durations, with up to two more digits if they would print the
    same but differ (a storm's p50 and p95 that are close but not equal)."""
    x, y = _dur(a), _dur(b)
    for extra in (1, 2):
        if x != y or a == b or math.isnan(a) or math.isnan(b):
            break
        x, y = _dur(a, extra), _dur(b, extra)
    return x, y


def _size(mb: float) -> str:
    if math.isnan(mb):
        return "-"
    if mb >= 1000:
        return f"{mb / 1000:.3g} GB"
    return f"{mb:.3g} MB"


def _assumed_costs(profile, key: str) -> list[str]:
    """The per-operation costs a performance row depends on that are assumptions
    with a value (a cost of 0 assumed means "nothing in the way", not a number)."""
    mix = BENCHMARKS[key][0]
    out = []
    for f in DEPENDS[mix]:
        q = getattr(profile.overhead, f)
        neutral = 1.0 if f == "vector_width" else 0.0
        if q.source is None and q.value != neutral:
            out.append(f)
    return out


def _is_assumed(profile, key: str) -> bool:
    return bool(_assumed_costs(profile, key))


def _memory_parts(profile, v: dict, physical: bool) -> list:
    """The profile numbers one guest's memory rests on, with their MiB: its
    monitor or shim, its kernel objects, and either its RAM flavor (what a VM
    reserves) or its guest OS (what it touches; a container's reservation)."""
    go = profile.guest_os
    parts = [(profile.guest_memory_overhead_mib.value, profile.guest_memory_overhead_mib),
             (go.kernel_objects_mib.value, go.kernel_objects_mib)]
    if v["app_ram_mib"] > 0 and not physical:
        parts.append((v["app_ram_mib"], go.min_memory_mib))
    else:
        parts.append((go.memory_mib.value, go.memory_mib))
    return parts


def _density_assumed(profile, v: dict, physical: bool = False) -> bool:
    """Does a density rest on an assumed profile number: the per-host limit when
    that binds; when memory binds, assumed parts of one guest's memory that
    make up more than ASSUMED_DENSITY_SHARE of it? (The application is the same
    for every platform and stated in the notes; vCPU overcommit is the host's.)"""
    binding = v["density_physical_binding" if physical else "density_binding"]
    if binding == "memory":
        total = v["memory_resident_mib" if physical else "memory_reserved_mib"]
        assumed = sum(x for x, q in _memory_parts(profile, v, physical) if q.source is None)
        return assumed > ASSUMED_DENSITY_SHARE * total
    if binding == "guest limit":
        return profile.max_guests_per_host.source is None
    return False


def _wall(profile, binding: str, w: dict) -> str:
    """A binding wall in words; a guest limit says which (``per-host guest limit: Linux bridge ports``)."""
    word = w.get(binding, binding)
    what = profile.max_guests_per_host.what
    return f"{word}: {what}" if binding == "guest limit" and what else word


def _mib(x: float) -> str:
    return f"{x:.0f} MiB" if x >= 10 else f"{x:.1f} MiB"


def _cells(prof, v: dict, lang: str) -> dict[str, str]:
    w = _WORDS[lang]
    vc = f"{v['vcpus']:g} vCPU" + ("s" if v["vcpus"] > 1 and lang == "en" else "")
    c: dict[str, str] = {"kind": w[v["kind"]], "shape": f"{vc}, {v['memory_mib']:g} MiB"}
    idle = _dur(v["startup_idle_s"])
    if v["provision_idle_s"] > 0.005 and not math.isnan(v["startup_idle_s"]):
        idle += f" ({w.get(v['clone'], v['clone'])} {_dur(v['provision_idle_s'])} + {w['boot']} {_dur(v['boot_idle_s'])})"
    star = "*" if v["startup_assumed_share"] > ASSUMED_STARTUP_SHARE else ""
    c["startup_idle"] = idle + star
    fetched = _dur(v["startup_fetch_s"])
    if v["fetch_s"] > 0.005 and not math.isnan(v["startup_fetch_s"]):
        fetched += f" ({w['fetch']} {_dur(v['fetch_s'])})"
    c["startup_fetch"] = fetched + star
    storm = " / ".join(_durs(v["startup_storm_p50_s"], v["startup_storm_p95_s"]))
    if v["storm_started"] == 0:
        storm = w["none_fit"]
    elif v["storm_started"] < STORM_N:
        storm += " (" + w["fit"].format(k=v["storm_started"]) + ")"
    c["startup_storm"] = storm + (star if v["storm_started"] else "")
    c["disk"] = f"{_size(v['disk_per_instance_mb'])} ({w.get(v['clone'], v['clone'])})"
    c["image"] = _size(v["image_on_host_mb"])
    for key in BENCHMARKS:
        x = v[f"perf_{key}"]
        mark = "*" if _is_assumed(prof, key) else ""
        c[f"perf_{key}"] = "-" if math.isnan(x) else f"{100 * x:.1f}%{mark}"
    if v["app_ram_mib"] > 0:
        c["memory"] = w["reserves"].format(r=_mib(v["memory_reserved_mib"]), ram=_mib(v["app_ram_mib"]),
                                           t=_mib(v["memory_resident_mib"]))
    else:
        c["memory"] = w["no_reserve"].format(t=_mib(v["memory_resident_mib"]))
    pb = v["density_physical_binding"]
    c["density"] = (f"{v['density_guests']} ({_wall(prof, v['density_binding'], w)})"
                    + ("*" if _density_assumed(prof, v) else "")
                    + f"; {w['physically']} {v['density_physical_guests']} ({_wall(prof, pb, w)})"
                    + ("*" if _density_assumed(prof, v, physical=True) else ""))
    c["density_shape"] = f"{v['density_shape_guests']} ({_wall(prof, v['density_shape_binding'], w)})"
    return c


def _cause_gloss(cause: str, lang: str) -> str:
    """What a storm cause means, in words."""
    zh = lang == "zh"
    if cause.startswith("queue:"):
        server = cause[len("queue:"):]
        if server == "dockerd":
            return ("在 Docker 守护进程（控制平面）排队，它一次创建一个容器" if zh
                    else "waiting in turn at the Docker daemon (the control plane creates one container at a time)")
        return (f"在控制平面服务 {server} 排队" if zh else f"waiting in turn for a worker of the control-plane server {server}")
    if cause.startswith("clone-full"):
        return "全量复制镜像共享一块硬盘" if zh else "full image copies sharing one disk"
    if cause in ("none", "no guest started"):
        return "与单独启动相同" if zh and cause == "none" else cause
    return ("该启动阶段因共享括号内的资源而变慢" if zh
            else "that boot phase, slowed by sharing the resources in brackets with the other guests")


def _storm_note(values: dict[str, dict[str, Any]], lang: str) -> str:
    """What each platform's storm waited for most (simulated: vsim.storm_curve's cause)."""
    parts = "; ".join(f"{name} {v['storm_cause']}" for name, v in values.items())
    causes = list(dict.fromkeys(v["storm_cause"] for v in values.values()))
    gloss = ("；" if lang == "zh" else "; ").join(f"{c} = {_cause_gloss(c, lang)}" for c in causes)
    if lang == "zh":
        return f"{STORM_N}个同时启动时，中位实例等待最多的（比单独启动增加最多的阶段，模拟得出）：{parts}。{gloss}。"
    return (f"{STORM_N} at once, what the median guest waited for most (its phase that grew most over its "
            f"time alone; simulated): {parts}. {gloss}.")


def _star_note(values: dict[str, dict[str, Any]], profiles: dict, lang: str) -> str | None:
    """Which startup and density cells are marked * (resting on assumed numbers), and why."""
    zh = lang == "zh"
    starred = [(n, v["startup_assumed_share"]) for n, v in values.items()
               if v["startup_assumed_share"] > ASSUMED_STARTUP_SHARE]
    dense = [n for n, v in values.items()
             if _density_assumed(profiles[n], v) or _density_assumed(profiles[n], v, physical=True)]
    parts = []
    if starred:
        share = ", ".join(f"{n} {100 * x:.0f}%" for n, x in starred)
        parts.append(f"* 启动时间：单独启动的 80% 以上时间来自数值为假设（非测量）的启动阶段：{share}（模拟仍照常进行）。" if zh
                     else f"* on startup: over 80% of the idle boot is spent in phases whose numbers are assumptions, "
                          f"not measurements: {share} (still simulated; `vsim profiles NAME` shows each phase's "
                          "provenance).")
    if dense:
        parts.append(f"* 系统支持量：瓶颈资源（每实例内存中超过 10% 的部分，或每主机上限）为假设值：{', '.join(dense)}。" if zh
                     else f"* on density: where memory binds, assumed profile numbers make up over 10% of one "
                          f"guest's memory; where a guest limit binds, the limit is an assumption: {', '.join(dense)}.")
    return " ".join(parts) if parts else None


def _provenance(values: dict[str, dict[str, Any]], rows: list[str], profiles: dict) -> dict[str, dict[str, str]]:
    """How each cell was obtained: simulated, a formula of profile data, and what it rests on."""
    out: dict[str, dict[str, str]] = {}
    for name, v in values.items():
        star = v["startup_assumed_share"] > ASSUMED_STARTUP_SHARE
        cell = {}
        for r in rows:
            if r.startswith("startup"):
                how = "simulated"
                if star:
                    how += f"; {100 * v['startup_assumed_share']:.0f}% of the idle boot in assumed phases"
            elif r.startswith("perf_"):
                key = r[len("perf_"):]
                how = (f"simulated: the {BENCHMARKS[key][0]} operation mix in a guest and on the bare host, each "
                       "operation paying the profile's per-operation costs (vsim.experiments.microbench)")
                ass = _assumed_costs(profiles[name], key)
                if ass:
                    how += "; rests on assumed costs: " + ", ".join(ass)
            elif r == "shape":
                how = "assumption: the guest kind's shape (vsim.experiments.testbed.SHAPES)"
            elif r in ("disk", "image"):
                how = ("simulated (placement on one host); the guest runs the density application "
                       "(vsim.experiments.testbed.APPLICATION, an assumption)")
            elif r == "memory":
                how = ("formula (vsim.model.footprint.guest_needs): the application's working set and peak, plus "
                       "the profile's guest OS, RAM flavor, monitor or shim and kernel objects")
            elif r == "density_shape":
                how = ("simulated (placement on one host until it refuses one); the startup rows' guest shape is "
                       "an assumption (vsim.experiments.testbed.SHAPES)")
            elif r == "density":
                how = ("simulated (placement on one host until it refuses a guest of the density application): "
                       "once under the host's policies, once with them lifted and each guest taking the memory "
                       "it touches and the CPU it uses")
                for phys in (False, True):
                    if _density_assumed(profiles[name], v, physical=phys):
                        b = v["density_physical_binding" if phys else "density_binding"]
                        how += f"; the {'physical ' if phys else ''}{b} wall rests on an assumed profile number"
            else:
                how = "profile data"
            cell[r] = how
        out[name] = cell
    return out


#: Where VMs' "minutes" come from, each shown by a scenario file: (file in
#: scenarios/, its workload that takes minutes, the phase that causes it as
#: vsim.experiments.bootstorm.longest_phase reads it; tests/test_minutes.py runs them).
MINUTES_FILES = (
    ("minutes-image-fetch.yaml", "first-wave", "pull"),
    ("minutes-cloud-init.yaml", "one", "package-upgrade"),
    ("minutes-hdd-storm.yaml", "twenty-at-once", "userspace"),
    ("minutes-full-clones.yaml", "fifty-full-clones", "clone-full"),
)


def _minutes_note(lang: str) -> str:
    f = [name for name, _, _ in MINUTES_FILES]
    if lang == "zh":
        return ("虚拟机何时需要几分钟（分钟级），每种原因一个场景文件（vsim run scenarios/FILE，阶段表给出原因）："
                f"镜像还不在主机上，要经共享的镜像服务下载（{f[0]}：pull）；首次启动时运行配置代理"
                f"（{f[1]}：package-upgrade）；许多虚拟机同时从 IOPS 很低的硬盘启动（{f[2]}：userspace 的磁盘时间）；"
                f"每个虚拟机完整复制一份镜像（{f[3]}：clone-full）。镜像已缓存时，单个虚拟机只需几秒（见上表）。")
    return ("What makes VMs take minutes, each shown by a scenario file (vsim run scenarios/FILE; its phases "
            f"table names the cause): the image not yet on the host, fetched over a shared image service ({f[0]}: "
            f"pull); a provisioning agent at first boot ({f[1]}: package-upgrade); many boots at once on a disk "
            f"of few IOPS ({f[2]}: userspace, its disk time); a full copy of the image for every VM ({f[3]}: "
            "clone-full). With its image on the host, one VM boots in seconds (the rows above).")


def _density_note(profiles, host: dict, lang: str) -> str:
    """What the memory and density rows run, and which walls are policies."""
    app = APPLICATION
    peak = app.get("peak_mib", app["working_set_mib"])
    ratio = host.get("overcommit", {}).get("cpu", 1)
    vms = [p for p in profiles if p.guest_kind in ("vm", "microvm")]
    os_mib = ", ".join(f"{p.name} {p.guest_os.memory_mib.value:g} MiB" for p in vms)
    if lang == "zh":
        return (f"内存与系统支持量：每个平台运行同一个应用（{app['name']}：工作集 {app['working_set_mib']:g} MiB，"
                f"峰值 {peak:g} MiB，平均 {app['cpu_cores']:g} 核；{app['why']}）。虚拟机要有自己的客户操作系统"
                f"（{os_mib or '-'}），并按能容纳操作系统和应用峰值的最小规格（flavor，从平台的最小值起翻倍）分配内存，"
                "全部预留，外加监视器（VMM）的内存，并且至少 1 个完整的虚拟CPU；容器共享主机内核，默认不预留内存"
                "（Docker 不设 --memory），主机只需容纳它实际使用的内存、shim 和少量内核对象（网络命名空间、veth、cgroup、挂载）。"
                f"策略上限：预留内存、每核 {ratio:g} 个虚拟CPU、每主机实例上限（网桥端口、max pods）；物理上限：实际使用的内存、"
                "实际占用的 CPU、硬盘（vsim.experiments.density）。旧的固定规格对比见 scenarios/density-shapes.yaml。")
    return (f"Memory and density: every platform runs the same application ({app['name']}: working set "
            f"{app['working_set_mib']:g} MiB, bursts to {peak:g} MiB, {app['cpu_cores']:g} of a core on average; "
            f"{app['why']}). A VM runs a guest OS of its own ({os_mib or '-'}), is given the smallest RAM flavor "
            "that holds it and the application's peak (flavors double from the platform's smallest) and reserves "
            "all of it, plus its monitor's memory and at least one whole vCPU; a container shares the host "
            "kernel and reserves nothing by default (Docker sets no --memory): the host holds what it touches, "
            "its shim and a few kernel objects (network namespace, veth, cgroup, mounts). Policy walls: "
            f"reserved memory, {ratio:g} vCPUs per core, per-host guest limits (bridge ports, max pods); physical "
            "walls: memory touched, CPU in use, disk (vsim.experiments.density). Fixed shapes instead (0.1 vCPU "
            "and 128 MiB containers against 2 vCPU and 4 GiB VMs): scenarios/density-shapes.yaml.")


def _notes(profiles, host: dict, default_host: bool, lang: str) -> list[str]:
    zh = lang == "zh"
    notes = []
    hd = describe_host(host, lang)
    if zh:
        notes.append(f"主机：{hd}" + ("（默认主机，仿 Felter et al. 2014 的测试服务器）" if default_host else "")
                     + "。每个平台单独运行在同样的主机上，镜像已在主机缓存中（“镜像不在主机上”一行除外：先从 1 Gbit/s 的镜像服务下载）。")
    else:
        notes.append(f"Host: {hd}" + (" (the default host, like Felter et al. 2014's test server)" if default_host else "")
                     + ". Each platform runs alone on its own copy of the host; the image is already cached there "
                     "(except in 'image not on the host': fetched first from an image service over a 1 Gbit/s link).")
    kinds = list(dict.fromkeys(p.guest_kind for p in profiles))
    parts = []
    for k in kinds:
        prof = next(p for p in profiles if p.guest_kind == k)
        sh = shape_for(prof)
        im = image_for(prof)
        kind = {"container": "容器 container", "vm": "虚拟机 vm", "microvm": "微虚拟机 microvm"}.get(k, k) if zh else k
        what = f"{kind}: {sh['vcpus']:g} vCPU, {sh['memory_mib']:g} MiB"
        if im is not None:
            size = _size(im.get('size_mb') or sum(x.get('unpacked_mb', x['size_mb']) for x in im.get('layers', [])))
            what += f"，镜像 {im['name']} {size}" if zh else f", image {im['name']} {size}"
        why = SHAPES.get(k, SHAPES["container"])["why"]
        parts.append(f"{what}（依据，英文原文：{why}）" if zh else f"{what} ({why})")
    notes.append(("实例规格（启动时间各行）：" + "；".join(parts) + "。") if zh
                 else "Guest shapes (startup rows): " + "; ".join(parts) + ".")
    notes.append(_density_note(profiles, host, lang))
    if zh:
        notes.append(f"启动时间 = 从请求到就绪：复制或解包镜像，再执行平台的启动阶段；'{STORM_N}个同时启动' "
                     "在同一主机上共享 CPU、硬盘和网络（公平分享），并在平台的控制平面（dockerd、libvirtd）依次排队；"
                     f"单独启动取 {ALONE_REPEATS} 次单独启动的中位数（每次启动时间略有波动）。")
        notes.append("性能 = 原生时间 / 实例内时间：在模型中把类似 Linpack、STREAM、RandomAccess、fio、netperf 的"
                     "操作组合（operation mix）分别在实例内和裸机上运行（vsim.experiments.microbench）；每个操作"
                     "付出平台的单次开销（VM 退出 exit、磁盘请求、数据包、TLB 未命中），所以大而少的操作接近原生，"
                     "小而多的操作较弱。每项开销按 Felter et al. 2014 和 Agache et al. 2020 标定（vsim profiles NAME）。")
    else:
        notes.append(f"Startup = request to ready: copy or unpack the image, then the platform's boot phases; "
                     f"'{STORM_N} at once' share the host's CPU, disk and network fairly and wait in turn at the "
                     f"platform's control plane (dockerd, libvirtd); 'idle host' is the median of {ALONE_REPEATS} lone starts "
                     "(no two boots take exactly the same time).")
        notes.append("Performance = native time / guest time of Linpack-, STREAM-, RandomAccess-, fio- and "
                     "netperf-like operation mixes run in the model in a guest and on the bare host "
                     "(vsim.experiments.microbench). Each operation pays the platform's per-operation cost (a VM "
                     "exit, a disk request, a packet, a TLB miss), so large, few operations run near native and "
                     "small, many run weaker; the costs are calibrated on Felter et al. 2014 and Agache et al. 2020 "
                     "(`vsim profiles NAME`), and vsim.experiments.microbench.felter_table holds them against "
                     "the published table.")
    assumed = []
    for p in profiles:
        fields = sorted({f for k in BENCHMARKS for f in _assumed_costs(p, k)})
        if fields:
            assumed.append(f"{p.name}: {', '.join(fields)}")
    if assumed:
        head = "* 基于假设而非测量的单次操作开销（vsim profiles NAME 列出每个来源）：" if zh else \
            "* from a per-operation cost that is an assumption, not a measurement (`vsim profiles NAME` shows every source): "
        notes.append(head + "; ".join(assumed) + ".")
    for p in profiles:
        if p.kind == "hypervisor" and p.hypervisor_type == 2:
            n_ass = sum(_is_assumed(p, key) for key in BENCHMARKS)
            n_ph = sum(ph.source is None for ph in p.start_phases)
            if zh:
                notes.append(
                    f"{p.name} 是宿主型（Type 2）虚拟化：主机还运行一个通用操作系统（{p.host_memory_mib.value:g} MiB、"
                    f"{p.host_cpu_cores.value:g} 个核，计入系统支持量和 CPU 性能）。假设：{len(BENCHMARKS)} 个性能行中 "
                    f"{n_ass} 个、{len(p.start_phases)} 个启动阶段中 {n_ph} 个为假设值（未找到公开测量）。")
            else:
                notes.append(
                    f"{p.name} is a Type 2 (hosted) hypervisor: the host also runs a general-purpose OS "
                    f"({p.host_memory_mib.value:g} MiB and {p.host_cpu_cores.value:g} cores, counted in density and CPU). "
                    f"Assumptions: {n_ass} of its {len(BENCHMARKS)} performance rows rest on assumed costs and {n_ph} of its "
                    f"{len(p.start_phases)} boot phases are assumed, not measured (no published figures were found).")
    return notes


def compare(platforms=None, host=None, lang: str = "en", seed: int = 0, raw: bool = False) -> pd.DataFrame:
    """The comparison table, simulated now.

    Parameters
    ----------
    platforms:
        Profile names (``["docker", "kvm"]``), Profiles, or profile mappings
        (``{"name": "kvm-ksm", "base": "kvm", "page_sharing": {...}}``); by default
        :data:`DEFAULT_PLATFORMS`.
    host:
        ``None`` for the default host, a scenario file (its first host group is
        used), a HostGroup or a mapping of host fields.
    lang:
        ``"en"`` or ``"zh"`` (the course's Chinese row labels).
    seed:
        Seed of every run (the experiments are deterministic unless a profile
        or host adds randomness).
    raw:
        Return the numbers behind the table instead (index :data:`RAW_KEYS`).

    Returns a DataFrame with one row per criterion and one column per platform.
    ``df.attrs["notes"]`` holds the notes printed under the table (host, guest
    shapes, assumptions); ``df.attrs["raw"]`` the raw values as a dict.
    """
    if lang not in _LABELS:
        raise ScenarioError(f"lang: must be 'en' or 'zh', got {lang!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"seed: must be a whole number >= 0, got {seed!r}")
    profiles = resolve_platforms(list(DEFAULT_PLATFORMS) if platforms is None else platforms)
    h = resolve_host(host)
    values = _measure(profiles, h, seed)
    if raw:
        df = pd.DataFrame({name: [v[k] for k in RAW_KEYS] for name, v in values.items()},
                          index=pd.Index(list(RAW_KEYS), name="key"))
        df.attrs["host"] = describe_host(h)
        return df
    labels = _LABELS[lang]
    rows = ["kind", "shape", "startup_idle", "startup_fetch", "startup_storm", "disk", "image",
            *(f"perf_{k}" for k in BENCHMARKS), "memory", "density", "density_shape"]
    cells = {p.name: _cells(p, values[p.name], lang) for p in profiles}
    index = [labels[r].format(n=STORM_N) for r in rows]
    df = pd.DataFrame({name: [c[r] for r in rows] for name, c in cells.items()},
                      index=pd.Index(index, name=labels["criterion"]))
    df.attrs["notes"] = _notes(profiles, h, host is None, lang) + [_storm_note(values, lang)]
    star = _star_note(values, {p.name: p for p in profiles}, lang)
    if star is not None:
        df.attrs["notes"].insert(-1, star)
    if any(p.guest_kind == "vm" for p in profiles):
        df.attrs["notes"].append(_minutes_note(lang))
    df.attrs["host"] = describe_host(h)
    df.attrs["raw"] = {name: dict(v) for name, v in values.items()}
    # how each cell was obtained, by platform then the row's label (JSON output: "provenance")
    prov = _provenance(values, rows, {p.name: p for p in profiles})
    df.attrs["provenance"] = {name: {labels[r].format(n=STORM_N): how for r, how in cells_.items()}
                              for name, cells_ in prov.items()}
    return df


# -- rendering ---------------------------------------------------------------------

def numbers(df: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind a :func:`compare` table: one row per platform, one column
    per :data:`RAW_KEYS` key (units in the names). What ``--format csv`` prints."""
    raw = df.attrs.get("raw")
    if raw is None:  # already compare(raw=True): keys by platforms
        return df.T.rename_axis("platform")
    return pd.DataFrame([{k: vals.get(k) for k in RAW_KEYS} for vals in raw.values()],
                        index=pd.Index(list(raw), name="platform"))


def render(df: pd.DataFrame, fmt: str = "table", width: int | None = None, wide: bool = False) -> str:
    """The table as text: ``table`` (fitted to ``width`` cells, 100 by default),
    ``markdown``, ``csv`` or ``json`` (see :mod:`vsim.results.render`).

    Table and Markdown show the readable cells with the notes underneath; CSV
    holds the numbers behind them (:func:`numbers`), one row per platform; JSON
    holds those numbers under ``"table"`` with the host, the notes and the
    provenance of every cell.
    """
    from vsim.results.render import render as _render

    notes = list(df.attrs.get("notes", []))
    extra = {k: df.attrs[k] for k in ("host", "provenance") if k in df.attrs}
    return _render(df, fmt, notes=notes, data=numbers(df), extra=extra, width=width, wide=wide)


