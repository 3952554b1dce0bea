"""Boot storms: what happens to startup when many guests start at once.

One VM on an idle host boots in about 8.5 s. Start fifty at the same moment and
they share everything a boot uses: the cores that decompress kernels and run
init systems, the disk that every guest reads its kernel, initrd and services
from (and that a full clone copies a whole image onto), the network. The model
shares each of these fairly between whoever is using it (processor sharing, see
:mod:`vsim.engine.fairshare`), so fifty guests reading 330 MB each from one disk take
about fifty times as long as one; fixed waits (firmware timers, DHCP) do not
stretch. This is where the "minutes" of the course's VM startup (分钟级) come
from, while a container, which reads almost nothing and runs a fraction of a
second of CPU work, stays in seconds: what it waits for in a storm is its
daemon, which creates containers one at a time (a control-plane server,
:mod:`vsim.engine.server`), so they come out one after another and the
storm's p95 sits above its median.

:func:`boot_storm` starts ``n`` identical guests together on an otherwise idle
host, for each ``n`` and each platform, and reports startup percentiles.
:func:`boot_phases` returns the phases of one guest started alone, per platform,
for a Gantt chart (:func:`vsim.plots.boot_gantt`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from vsim.experiments.run import simulate
from vsim.experiments.testbed import build_scenario, resolve_host, resolve_platforms, shape_for
from vsim.spec.errors import ScenarioError

__all__ = ["boot_storm", "boot_phases", "DEFAULT_COUNTS", "COLUMNS"]

DEFAULT_COUNTS = (1, 2, 5, 10, 20, 50, 100)

#: The columns of the boot-storm table, with type, unit and meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "boot_storm": {
        "platform": ("str", "profile name"),
        "kind": ("str", "guest kind: vm, container, microvm"),
        "n": ("int", "guests requested at the same moment"),
        "started": ("int", "guests that were placed and became ready"),
        "rejected": ("int", "guests the host had no room for"),
        "startup_p50_s": ("float, s", "median startup (request to ready) of the guests that started"),
        "startup_p95_s": ("float, s", "95th percentile of startup"),
        "startup_max_s": ("float, s", "startup of the last guest ready"),
        "provision_mean_s": ("float, s", "mean image clone / unpack time"),
        "boot_mean_s": ("float, s", "mean time of the boot phases"),
        "cpu_util": ("float, 0-1", "mean fraction of the host's CPU used over the run"),
        "disk_util": ("float, 0-1", "mean fraction of the disk's time used over the run"),
    },
}


def _counts(counts: Any) -> list[int]:
    if isinstance(counts, (int, np.integer)):
        counts = [counts]
    try:
        out = [c for c in counts]
    except TypeError:
        raise ScenarioError(f"counts: expected a list of whole numbers >= 1, got {counts!r}") from None
    if not out:
        raise ScenarioError("counts: the list is empty; give at least one number of guests, e.g. [1, 10, 100]")
    for c in out:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 or c > 100_000:
            raise ScenarioError(f"counts: {c!r} is not a whole number between 1 and 100000")
    return [int(c) for c in out]


def _pct(x: pd.Series, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else math.nan


def boot_storm(platforms: Any, counts: Iterable[int] = DEFAULT_COUNTS, host: Any = None,
               shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Startup percentiles when ``n`` guests start at once, per platform and ``n``.

    Each (platform, n) is its own run on a fresh copy of ``host`` (the image is
    already cached there). If the host cannot hold ``n`` guests, the rest are
    rejected and counted in ``rejected``; the percentiles are over the guests
    that started. Columns are documented in :data:`COLUMNS` (and ``vsim.COLUMNS['boot_storm']``).
    """
    profiles = resolve_platforms(platforms)
    ns = _counts(counts)
    h = resolve_host(host)
    rows = []
    for prof in profiles:
        sh = shape_for(prof, shape)
        for n in ns:
            sc = build_scenario(prof, h, sh, n, name=f"storm-{prof.name}-{n}", seed=seed)
            res = simulate(sc)
            inst = res.instances
            st = inst["startup_s"].dropna()
            ok = inst.dropna(subset=["ready_s"])
            hrow = res.hosts.iloc[0]
            rows.append((
                prof.name, prof.guest_kind, n, int(len(st)), int((inst["state"] == "rejected").sum()),
                _pct(st, 50), _pct(st, 95), float(st.max()) if len(st) else math.nan,
                float(ok["provision_s"].fillna(0.0).mean()) if len(ok) else math.nan,
                float(ok["boot_s"].mean()) if len(ok) else math.nan,
                float(hrow["cpu_util"]), float(hrow["disk_util"]),
            ))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS["boot_storm"]))


def boot_phases(platforms: Any, host: Any = None, shape: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """The phases of one guest started alone on an idle host, per platform.

    Returns the ``phases`` table (``vsim.COLUMNS['phases']``) of each platform's
    run, one guest each; ``id`` numbers the platforms in the order given, and
    times are seconds since that guest was requested.
    """
    profiles = resolve_platforms(platforms)
    h = resolve_host(host)
    frames = []
    for k, prof in enumerate(profiles):
        sc = build_scenario(prof, h, shape_for(prof, shape), 1, name=f"boot-{prof.name}", seed=seed)
        ph = simulate(sc).phases.copy()
        ph["id"] = k
        frames.append(ph)
    return pd.concat(frames, ignore_index=True)
