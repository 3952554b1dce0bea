"""Power model, energy integral and consolidation."""

from pathlib import Path

import pytest
import yaml

import vsim
from tests.helpers import host, scenario, workload
from vsim.experiments.operations import consolidation_report
from vsim.spec.errors import ScenarioError
from vsim.spec.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
CONSOLIDATION = ROOT / "scenarios" / "consolidation.yaml"


def test_energy_integral_exact_timeline():
    # One 16-core host, 100 W idle, 300 W max. A VM of 4 vCPUs is placed at 0
    # and stops (after its shutdown) at stopped_s; another of 8 vCPUs from 0
    # for ever. Run to 1000 s: u = 12/16 until the first stops, then 8/16.
    sc = scenario(
        [workload(name="a", vcpus=4, image="vm", clone="linked", lifetime={"type": "fixed", "duration_s": 300}),
         workload(name="b", vcpus=8, image="vm", clone="linked")],
        hosts=[host(name="h", cores=16, cached_images=["vm"], power={"idle_w": 100, "max_w": 300})],
        duration_s=1000,
    )
    res = vsim.simulate(sc)
    t_stop = res.instances.set_index("workload").loc["a", "stopped_s"]
    expected = 100 * 1000 + 200 * (12 / 16 * t_stop + 8 / 16 * (1000 - t_stop))
    e = res.energy.iloc[0]
    assert e["energy_j"] == pytest.approx(expected, rel=1e-12)
    assert e["energy_kwh"] == pytest.approx(expected / 3.6e6)
    assert e["mean_util"] == pytest.approx((12 / 16 * t_stop + 8 / 16 * (1000 - t_stop)) / 1000)


def test_utilisation_is_capped_at_one():
    sc = scenario([workload(vcpus=64, image="vm", clone="linked")],
                  hosts=[host(name="h", cores=16, cached_images=["vm"], overcommit={"cpu": 8})], duration_s=100)
    e = vsim.simulate(sc).energy.iloc[0]
    assert e["energy_j"] == pytest.approx(300 * 100)


def test_power_model_is_validated():
    with pytest.raises(ScenarioError, match=r"hosts\[0\].power.max_w"):
        scenario([workload()], hosts=[host(power={"idle_w": 200, "max_w": 100})])


def _without_consolidation():
    data = yaml.safe_load(CONSOLIDATION.read_text())
    data.pop("consolidation")
    return parse_scenario(data)


def test_consolidation_saves_energy_on_the_day_night_workload():
    with_c = vsim.simulate(vsim.load_scenario(CONSOLIDATION))
    without = vsim.simulate(_without_consolidation())
    assert with_c.energy["energy_j"].sum() < 0.9 * without.energy["energy_j"].sum()
    # What it cost: live migrations, all done, each with a short pause.
    m = with_c.migrations
    assert len(m) > 0 and (m["cause"] == "consolidation").all() and (m["outcome"] == "done").all()
    assert (m["downtime_s"] <= 0.3 + 1e-9).all()
    # Hosts went off and came back on for the day load; nobody was turned away.
    assert with_c.energy["power_ons"].sum() >= 2
    assert (with_c.instances["state"] != "rejected").all()
    assert (without.instances["state"] != "rejected").all()
    # ... but the morning's guests waited for the power-on.
    day = with_c.instances["workload"].str.startswith("day")
    waited = with_c.instances.loc[day, "startup_s"].max()
    assert waited >= 120  # power_on_s in the scenario
    assert without.instances.loc[day, "startup_s"].max() < 120
    assert without.tables.get("migrations") is None or len(without.migrations) == 0


def test_consolidation_report_shows_energy_and_migrations():
    rep = consolidation_report(vsim.load_scenario(CONSOLIDATION))
    assert list(rep["policy"]) == ["none", "consolidation"]
    r = rep.set_index("policy")
    assert r.loc["consolidation", "energy_kwh"] < r.loc["none", "energy_kwh"]
    assert r.loc["consolidation", "migrations"] > 0 and r.loc["none", "migrations"] == 0
    assert r.loc["consolidation", "migrated_mb"] > 0


def test_consolidation_leaves_a_host_alone_while_one_of_its_guests_is_being_live_migrated():
    # A VM on h0 is live-migrated to h1 from t = 100 s at 8 MiB/s (4096 MiB:
    # about 512 s). Consolidation looks every 150 s and would gladly empty the
    # lightly used h0, but a guest already on its way must not be migrated a
    # second time: no consolidation migration starts before the scheduled one
    # is over (after it, the policy may move the VM on, as it likes).
    sc = scenario(
        [workload(name="vm", platform="kvm", image="vm", clone="linked", memory_mib=4096, vcpus=2, dirty_mb_s=0)],
        hosts=[host(name="h0", platforms=["kvm"], cached_images=["vm"]),
               host(name="h1", platforms=["kvm"], cached_images=["vm"])],
        placement="first-fit", duration_s=1200,
        migrations=[{"workload": "vm", "at_s": 100, "to": "h1", "limits": {"bandwidth_mib_s": 8}}],
        consolidation={"interval_s": 150, "low_util": 0.9, "high_util": 1.0, "power_off": False})
    mig = vsim.simulate(sc).migrations
    first = mig.iloc[0]
    assert first["cause"] == "scenario" and first["outcome"] == "done"
    assert first["total_s"] > 500  # the consolidator looked 3 times meanwhile
    later = mig[mig["cause"] == "consolidation"]
    assert len(later) and (later["start_s"] >= first["end_s"]).all()
