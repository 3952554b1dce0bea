"""The host page cache and disk requests: exact timelines.

A boot's reads of shared data (the base image under linked clones) are read
from disk by the first guest and from memory by those who come after, while
the data stays in the memory that guests have not reserved; guests that ask
while the first read is in flight wait for it. A full clone reads its own
copy, so it gets no help. Disk requests of ``io_kib`` cost the disk's
positioning time each: at 4 KiB the disk does exactly its random IOPS.

The test platform boots in one phase that reads 100 MB from a 100 MB/s disk
(1.0 s) and nothing else, so every startup below is a sum of whole reads.
"""

import pytest
from helpers import host, scenario, workload

import vsim
from vsim.engine.pagecache import PageCache

SRC = {"assumption": "test"}


def vm(read_mb=100.0, io_kib=None, overhead_mib=0.0):
    boot = {"name": "boot", "disk_read_mb": read_mb, **SRC}
    if io_kib is not None:
        boot["io_kib"] = io_kib
    return {"name": "vmx", "base": "kvm", "control_plane": [],
            "guest_memory_overhead_mib": {"value": overhead_mib, **SRC},
            "host_memory_mib": {"value": 512, **SRC},
            "linked_clone_overlay_mb": {"value": 0, **SRC},
            "start_phases": [boot], "stop_phases": [{"name": "off", "latency_s": 0.1, **SRC}]}


def image(name="base", size_mb=100):
    return {"name": name, "kind": "vm-disk", "format": "qcow2", "size_mb": size_mb}


def run(times, clone="linked", images=("base",), solo_runs=True, profile=None, hostkw=None, lifetime_s=1.0,
        extra=()):
    """VMs requested at ``times`` (one workload per image, in turn)."""
    wls = []
    for k, t in enumerate(times):
        im = images[k % len(images)]
        wls.append(workload(name=f"v{k}", platform="vmx", memory_mib=16, vcpus=1, image=im, clone=clone,
                            arrivals={"type": "times", "times_s": [t]},
                            lifetime={"type": "fixed", "duration_s": lifetime_s}))
    wls.extend(extra)
    kw = dict(hostkw or {})
    disk = {"capacity_gib": 1000, "read_mb_s": 100, "write_mb_s": 100, **kw.pop("disk", {})}
    names = list(dict.fromkeys(images))
    h = host(platforms=["vmx"], cached_images=names, disk=disk, **kw)
    sc = scenario(wls, hosts=[h], images=[image(n) for n in names], profiles=[profile or vm()])
    return vsim.simulate(sc, solo_runs=solo_runs)


def startups(res):
    return res.instances.sort_values("id")["startup_s"].tolist()


@pytest.mark.parametrize("solo", [True, False])
def test_the_second_boot_from_one_base_image_reads_from_memory(solo):
    res = run([0.0, 5.0], solo_runs=solo)
    assert startups(res) == pytest.approx([1.0, 0.0], abs=1e-12)
    h = res.hosts.iloc[0]
    assert (h.page_cache_misses, h.page_cache_hits, h.page_cache_shared) == (1, 1, 0)
    assert h.page_cache_read_mb == 100 and h.page_cache_hit_mb == 100 and h.page_cache_hit_ratio == 0.5


@pytest.mark.parametrize("solo", [True, False])
def test_boots_started_together_share_the_one_read_in_flight(solo):
    # Without the cache the two reads share the disk: 2.0 s each.
    res = run([0.0, 0.0, 0.5], solo_runs=solo)
    assert startups(res) == pytest.approx([1.0, 1.0, 0.5])
    h = res.hosts.iloc[0]
    assert (h.page_cache_misses, h.page_cache_shared, h.page_cache_hits) == (1, 2, 0)


def test_without_the_page_cache_every_boot_reads_from_disk():
    res = run([0.0, 0.0, 10.0], hostkw={"page_cache": False})
    assert startups(res) == pytest.approx([2.0, 2.0, 1.0])
    h = res.hosts.iloc[0]
    assert h.page_cache_misses == 0 and h.page_cache_hits == 0  # not counted: there is no cache


def test_full_clones_read_their_own_copies():
    res = run([10.0, 20.0], clone="full")  # the clone copies 100 MB: 1 s read + 1 s write
    assert startups(res) == pytest.approx([3.0, 3.0])
    assert res.hosts.iloc[0].page_cache_misses == 0


def test_least_recently_used_data_is_evicted_when_the_cache_is_full():
    # 1 GiB host, 512 MiB footprint, a running 16 MiB guest: 496 MiB (520 MB) of room.
    # A then B (300 MB each) do not both fit: B's read evicts A.
    res = run([0.0, 10.0, 20.0, 30.0], images=("A", "B"), profile=vm(read_mb=300),
              hostkw={"memory_gib": 1})
    # A miss, B miss (evicts A), A miss (evicts B), B miss
    assert startups(res) == pytest.approx([3.0, 3.0, 3.0, 3.0])
    h = res.hosts.iloc[0]
    assert (h.page_cache_misses, h.page_cache_hits) == (4, 0)
    assert h.page_cache_evicted_mb == 900 and h.page_cache_peak_mb == 300
    # the same, with the second A right after the first: a hit
    res = run([0.0, 5.0, 10.0], images=("A", "A", "B"), profile=vm(read_mb=300), hostkw={"memory_gib": 1})
    assert startups(res) == pytest.approx([3.0, 0.0, 3.0])


def test_memory_that_guests_reserve_is_taken_from_the_cache():
    # A guest of 400 MiB placed at 3 s, with the second VM (16 MiB) placed at 10 s, leaves
    # 1024 - 512 - 400 - 16 = 96 MiB (100.7 MB): the cached 100 MB survive; one of 480 MiB
    # leaves 16 MiB and evicts them.
    for big, second in ((400, 0.0), (480, 1.0)):
        hog = workload(name="hog", platform="vmx", memory_mib=big, vcpus=1,
                       arrivals={"type": "times", "times_s": [3.0]}, lifetime={"type": "fixed", "duration_s": 100.0})
        res = run([0.0, 10.0], extra=[hog], hostkw={"memory_gib": 1})
        vms = res.instances[res.instances.workload != "hog"].sort_values("id")
        assert vms["startup_s"].tolist() == pytest.approx([1.0, second], abs=1e-12), big


def test_overcommitted_memory_leaves_no_page_cache():
    # 1.5x memory overcommit, 1536 MiB reservable: an 800 MiB guest leaves 208 MiB reservable
    # but none of the 1 GiB physical memory unreserved (1024 - 512 - 800 - 16 < 0).
    hog = workload(name="hog", platform="vmx", memory_mib=800, vcpus=1,
                   arrivals={"type": "times", "times_s": [3.0]}, lifetime={"type": "fixed", "duration_s": 100.0})
    res = run([0.0, 10.0], extra=[hog], hostkw={"memory_gib": 1, "overcommit": {"memory": 1.5}})
    vms = res.instances[res.instances.workload != "hog"].sort_values("id")
    assert vms["startup_s"].tolist() == pytest.approx([1.0, 1.0])


# -- disk requests: bandwidth and IOPS ----------------------------------------------

@pytest.mark.parametrize("io_kib, seconds", [
    (4, 1e6 / 4096 / 100),  # 244.14 random 4 KiB reads at 100 IOPS
    (128, 1e6 / 131072 * (0.01 - 4096 / 100e6) + 0.01),  # 7.63 requests: positioning + transfer
    (None, 0.01),  # large sequential requests: 1 MB at 100 MB/s
])
def test_small_requests_cost_the_disks_positioning_time(io_kib, seconds):
    res = run([0.0], profile=vm(read_mb=1.0, io_kib=io_kib),
              hostkw={"disk": {"capacity_gib": 1000, "read_mb_s": 100, "write_mb_s": 100, "random_read_iops": 100}})
    assert startups(res) == pytest.approx([seconds], rel=1e-12)


def test_an_ssd_hardly_notices_request_size():
    # The default disk (84,044 IOPS at 800 MB/s): 128 KiB requests cost 4% over bandwidth.
    ssd = {"disk": {"read_mb_s": 800, "write_mb_s": 750}}  # and the default IOPS
    fast = run([0.0], profile=vm(read_mb=800.0, io_kib=128), hostkw=ssd)
    seq = run([0.0], profile=vm(read_mb=800.0), hostkw=ssd)
    ratio = startups(fast)[0] / startups(seq)[0]
    assert 1.03 < ratio < 1.05


# -- the cache's own bookkeeping ------------------------------------------------------

def test_page_cache_keeps_the_most_recently_used_within_its_capacity():
    room = [250.0]
    pc = PageCache(lambda: room[0])
    pc.insert("a", 100)
    pc.insert("b", 100)
    assert pc.lookup("a", 100)  # a is now the most recent
    pc.insert("c", 100)  # 300 > 250: b goes
    assert list(pc.entries) == ["a", "c"] and pc.evicted_mb == 100
    room[0] = 150.0
    assert not pc.lookup("b", 100) and list(pc.entries) == ["c"]  # shrinking evicts the oldest
    pc.insert("huge", 200)  # larger than the room: read, not kept
    assert "huge" not in pc and pc.used_mb == 100
    assert pc.hits == 1 and pc.peak_mb == 200


def test_a_read_cut_short_by_a_host_failure_is_not_cached():
    # Two VMs share a read; the host fails at 0.5 s (both die) and is repaired at 2.5 s.
    # A third VM at 10 s finds nothing cached and nothing in flight: it reads, 1.0 s.
    sc_res = run([0.0, 0.0, 10.0], hostkw={}, extra=[])
    assert startups(sc_res) == pytest.approx([1.0, 1.0, 0.0])  # without the failure: a hit
    from helpers import scenario as make
    base = sc_res.meta["scenario_data"]
    base["failures"] = [{"host": "h", "at_s": 0.5, "repair_s": 2.0}]
    res = vsim.simulate(make(base["workloads"], hosts=base["hosts"], images=base["images"],
                             profiles=base["profiles"], failures=base["failures"]))
    inst = res.instances.sort_values("id")
    assert inst["state"].tolist()[:2] == ["failed", "failed"]
    assert inst["startup_s"].tolist()[2] == pytest.approx(1.0)
