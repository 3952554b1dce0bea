"""Variability: each guest's start takes a lognormal multiple of its calibrated work.

Checked against the distribution itself (the equally likely levels of a
lognormal with mean 1 and the profile's coefficient of variation), on an idle
host where a guest's boot time is exactly its multiplier times the calibrated
boot; then what it does in a storm, and that the same seed gives the same tables.
"""

import math
from statistics import NormalDist

import numpy as np
import pytest
from helpers import host, scenario, workload
from scipy import stats

import vsim
from vsim.model.variability import LEVELS, levels


@pytest.mark.parametrize("cv", [0.008, 0.019, 0.051, 0.3])
def test_levels_have_mean_one_and_the_lognormals_spread(cv):
    lv = np.array(levels(cv))
    assert len(lv) == LEVELS and np.all(np.diff(lv) > 0)
    assert lv.mean() == pytest.approx(1.0, abs=1e-12)
    # 32 midpoint quantiles lose a little of the tails: the sd within 5% of cv
    assert lv.std() == pytest.approx(cv, rel=0.05)
    sigma = math.sqrt(math.log1p(cv * cv))
    med = lv[LEVELS // 2 - 1: LEVELS // 2 + 1].mean()
    assert med == pytest.approx(math.exp(-sigma**2 / 2), rel=0.01)  # the lognormal's median, mean 1


def _boots(n, variability=True, seed=1, platform="kvm"):
    sc = scenario([workload(name="v", platform=platform, image="vm", clone="linked", count=n,
                            arrivals={"type": "every", "interval_s": 100.0, "count": n},
                            lifetime={"type": "fixed", "duration_s": 1.0})],
                  hosts=[host(platforms=[platform], cached_images=["vm"], page_cache=False)],
                  variability=variability, seed=seed)
    # (page cache off: every boot reads the same from disk, so only its draw differs)
    return vsim.simulate(sc).instances.sort_values("id")["boot_s"].to_numpy()


def test_with_variability_off_every_boot_is_the_calibrated_one():
    b = _boots(20, variability=False)
    assert np.ptp(b) < 1e-9


def test_idle_boots_are_the_calibrated_boot_times_a_level_each_level_equally_likely():
    base = _boots(1, variability=False)[0]
    b = _boots(3200) / base
    lv = np.array(levels(vsim.load_profile("kvm").startup_cv.value))
    idx = np.abs(b[:, None] - lv[None, :]).argmin(axis=1)
    assert np.allclose(b, lv[idx], rtol=1e-9)  # every boot is exactly one level's multiple
    counts = np.bincount(idx, minlength=LEVELS)
    assert stats.chisquare(counts).pvalue > 1e-3  # the 32 levels equally likely (100 expected each)
    cv = 0.019
    assert b.mean() == pytest.approx(1.0, abs=3 * cv / math.sqrt(len(b)))
    assert b.std(ddof=1) == pytest.approx(cv, rel=0.10)
    q = NormalDist().inv_cdf(0.95) * math.sqrt(math.log1p(cv * cv))
    assert np.quantile(b, 0.95) == pytest.approx(math.exp(q - math.log1p(cv * cv) / 2), rel=0.01)


def test_a_storm_of_identical_vms_spreads_out():
    sc = scenario([workload(name="v", platform="kvm", image="vm", clone="linked", count=50, memory_mib=1024, vcpus=0.5)],
                  hosts=[host(platforms=["kvm"], cached_images=["vm"], cores=32, memory_gib=256)],
                  variability=True)
    s = vsim.simulate(sc).instances["startup_s"]
    off = vsim.simulate(scenario([workload(name="v", platform="kvm", image="vm", clone="linked", count=50,
                                           memory_mib=1024, vcpus=0.5)],
                                 hosts=[host(platforms=["kvm"], cached_images=["vm"], cores=32, memory_gib=256)]))
    o = off.instances["startup_s"]
    assert o.notna().all() and s.notna().all()
    # deterministic: the VMs come out in libvirtd's groups of 20 workers, a few instants only
    assert o.round(6).nunique() <= 3
    assert s.round(6).nunique() > 10 and s.quantile(0.5) < s.quantile(0.95) < s.max()


def test_same_seed_same_tables_another_seed_other_draws():
    a, b, c = _boots(50, seed=3), _boots(50, seed=3), _boots(50, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
