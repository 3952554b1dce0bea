"""Watching a run unfold: the event log replayed k events in equals the run's
own tables read at that moment, and the widget shows exactly the first k."""

from __future__ import annotations

import pytest
from conftest import SCENARIOS

import vsim
from vsim.experiments.replay import event_log, state_at


@pytest.fixture(scope="module", params=["boot-storm.yaml", "noisy-neighbour.yaml", "docker-vs-kvm.yaml"])
def run(request):
    return vsim.simulate(vsim.load_scenario(SCENARIOS / request.param))


def _brute_force(res, t):
    """Each guest's state and phase at time t (every event at t applied), read
    straight from the instances and phases tables."""
    out = {}
    ph = res.phases
    for g in res.instances.itertuples(index=False):
        if g.requested_s > t:
            continue
        if g.state == "rejected":
            state = "rejected"
        elif g.stopped_s == g.stopped_s and g.stopped_s <= t:
            state = "failed" if g.state == "failed" else "stopped"
        elif g.ready_s == g.ready_s and g.ready_s <= t:
            state = "running"
        else:
            state = "starting"
        now = ph[(ph["id"] == g.id) & (ph["start_s"] <= t) & (ph["end_s"] > t)]
        phase = now["phase"].iloc[-1] if len(now) and state not in ("stopped", "failed", "rejected") else ""
        out[g.id] = (state, phase)
    return out


def test_the_state_after_k_events_is_the_tables_read_at_that_time(run):
    log = event_log(run)
    times = log["time_s"].to_numpy()
    # every k that ends an instant (the next event is later), sampled through the run
    ends = [k for k in range(1, len(log) + 1) if k == len(log) or times[k] > times[k - 1]]
    for k in ends[:: max(1, len(ends) // 25)] + [ends[-1]]:
        t = times[k - 1]
        s = state_at(log, k)
        got = {gid: ("starting" if g["state"] == "requested" else g["state"], g["phase"])
               for gid, g in s["guests"].items()}
        assert got == _brute_force(run, t), (k, t)
        queued = sum(1 for st, p in got.values() if p.startswith("queue:"))
        assert sum(s["queues"].values()) == queued
        # per host: guests on it, starting and running, from the same brute force
        host_of = run.instances.set_index("id")["host"]
        for h, row in s["hosts"].iterrows():
            here = [st for gid, (st, _) in got.items() if host_of[gid] == h and st in ("starting", "running")]
            assert (row["guests"], row["starting"], row["running"]) == (
                len(here), here.count("starting"), here.count("running")), (k, h)


def test_the_log_is_complete_and_in_order(run):
    log = event_log(run)
    assert log["time_s"].is_monotonic_increasing
    assert (log["event"] == "requested").sum() == len(run.instances)
    assert (log["event"] == "phase-start").sum() == (log["event"] == "phase-end").sum() == len(run.phases)
    assert (log["event"] == "ready").sum() == run.instances["ready_s"].notna().sum()
    assert log["why"].str.len().min() > 0


def test_a_boot_storm_shows_guests_sharing_the_disk_and_waiting_at_libvirtd():
    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "boot-storm.yaml"))
    log = event_log(res)
    peak_disk = max(state_at(log, k)["hosts"]["using_disk"].max() for k in range(0, len(log), 50) if k)
    assert peak_disk >= 50          # the storm of 100: dozens at once in phases that read the disk
    assert (log["phase"] == "queue:libvirtd").any()


def test_the_widget_shows_exactly_the_first_k_events():
    pytest.importorskip("ipywidgets")
    from vsim.widgets import RunPlayer

    res = vsim.simulate(vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml"))
    p = RunPlayer(res)
    assert p.k == 0 and len(p.replayed) == 0
    for _ in range(7):
        p.next_button.click()
    assert p.k == 7 and p.replayed.equals(p.log.iloc[:7])
    mine, ref = p.state, state_at(event_log(res), 7)
    assert mine["guests"] == ref["guests"] and mine["queues"] == ref["queues"] and mine["hosts"].equals(ref["hosts"])
    assert str(p.log.iloc[6]["why"])[:20] in p.view.value
    p.slider.value = 40                                   # dragging the slider
    assert p.k == 40 and f"event 40 of {len(p.log)}" in p.view.value
    p.seek(10 ** 9)
    assert p.k == len(p.log) and p.slider.value == len(p.log)


def test_bad_arguments_are_named():
    with pytest.raises(vsim.ScenarioError, match="results: expected the Results"):
        event_log(None)
    log = event_log(vsim.simulate(vsim.load_scenario(SCENARIOS / "docker-vs-kvm.yaml")))
    with pytest.raises(vsim.ScenarioError, match="k: must be a whole number"):
        state_at(log, "3")
    assert state_at(log, -5)["time_s"] == 0.0 and state_at(log, 10**9)["time_s"] == log["time_s"].iloc[-1]
