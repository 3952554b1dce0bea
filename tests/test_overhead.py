"""Overhead as a cost per operation (vsim.model.overhead): exact timelines of
each path, closed forms, the published tables, and the direction of the
mechanism (near native for large, few operations; weaker for small, many)."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import vsim
from vsim.engine.fairshare import FairShare
from vsim.experiments.microbench import felter_table, io_efficiency, run_benchmarks
from vsim.model.overhead import NO_OVERHEAD, MixResources, OperationMix, add_costs, costs, run_mix

US = 1e-6


def _res(env, disk_s=20 * US, path=True, nic_mb_s=1.0, rtt_s=0.0):
    """Resources whose disk request takes ``disk_s`` alone (any size)."""
    return MixResources(
        env=env, cpu=FairShare(env, 4.0, job_cap=1.0), memory=FairShare(env, 10.0, job_cap=4.0),
        disk=FairShare(env, 1.0), nic=FairShare(env, nic_mb_s), disk_s=lambda r, w, k: disk_s,
        rtt_s=rtt_s,
        disk_path=simpy.Resource(env, 1) if path else None, net_path=simpy.Resource(env, 1) if path else None)


def _run(mix, c, **kw):
    env = simpy.Environment()
    r = _res(env, **kw)
    env.process(run_mix(r, mix, c))
    env.run()
    return env.now, r.times


def _c(**kw):
    c = dict(NO_OVERHEAD)
    c.update(kw)
    return c


# -- exact timelines ---------------------------------------------------------------

def test_disk_path_serves_one_request_at_a_time_through_the_device():
    # Three 4 KiB reads in two streams; the path holds each for 10 us and its 20 us
    # of device time; each request first spends 1 us (one page) in the driver.
    # stream 0: 0-1 driver, 1-11 path, 11-31 device; 31-32 driver, waits, 61-71 path, 71-91 device
    # stream 1: 0-1 driver, waits for the path until 31, 31-41 path, 41-61 device
    mix = OperationMix("t", io_requests=3, io_kib=4, queue_depth=2)
    t, times = _run(mix, _c(io_request_us=10, io_page_us=1))
    assert t == pytest.approx(91 * US, abs=1e-15)
    assert times["disk"] == pytest.approx(91 * US, abs=1e-15)


def test_native_requests_share_the_device_in_parallel():
    # No path: the two streams' first reads share the device (both end at 40 us),
    # the third runs alone (40-60 us).
    mix = OperationMix("t", io_requests=3, io_kib=4, queue_depth=2)
    t, _ = _run(mix, _c(), path=False)
    assert t == pytest.approx(60 * US, abs=1e-15)


def test_round_trip_pays_two_packets_and_the_wire():
    # 0.1 KiB each way on a 1 MB/s NIC: 102.4 us of wire each; 37.6 us native round
    # trip; the path's 15 us per packet, once each way; two round trips.
    mix = OperationMix("t", round_trips=2, message_kib=0.1)
    wire = 0.1 * 1024 / 1e6 / 1.0
    t, _ = _run(mix, _c(packet_us=15), rtt_s=37.6 * US)
    assert t == pytest.approx(2 * (2 * wire + 37.6 * US + 2 * 15 * US), rel=1e-12)


def test_bulk_transfer_overlaps_the_path_with_the_wire():
    # Four 64 KiB segments, two in flight; the NIC takes w = 65.536 ms per segment
    # alone; the path 10 ms per segment. Timeline: seg A path 0-10, B path 10-20;
    # A alone on the wire 10-20, then A and B share it: A ends at 10 + ..., so the
    # wire is the bottleneck and the path only delays the start by one segment.
    mix = OperationMix("t", bulk_mb=4 * 64 * 1024 / 1e6, segment_kib=64, window=2)
    w = 64 * 1024 / 1e6
    t_native, _ = _run(mix, _c(), path=False)
    assert t_native == pytest.approx(4 * w, rel=1e-12)
    t, _ = _run(mix, _c(packet_us=10_000))
    # the wire is never idle after the first segment's 10 ms on the path
    assert t == pytest.approx(0.010 + 4 * w, rel=1e-12)
    # a path slower than the wire binds: 60 ms per segment > 65.5 / 2 ... each
    # segment's 60 ms on the path, one at a time: the last leaves at 240 ms and
    # then takes the wire alone
    t_slow, _ = _run(mix, _c(packet_us=100_000))
    assert t_slow == pytest.approx(4 * 0.1 + w, rel=1e-12)


def test_compute_pays_exits_and_a_narrower_vector_unit():
    mix = OperationMix("t", threads=2, cpu_s=1.0, vector_share=0.5)
    t, _ = _run(mix, _c(exit_cpu_share=0.2, vector_width=0.5))
    # half the work needs twice the instructions: 1.5 s, at 0.8 of native speed
    assert t == pytest.approx(1.5 / 0.8, rel=1e-12)
    t0, _ = _run(mix, _c())
    assert t0 == pytest.approx(1.0, rel=1e-12)


def test_random_updates_pay_a_tlb_miss_each():
    mix = OperationMix("t", random_updates=1e6, update_ns=100)
    t, _ = _run(mix, _c(tlb_miss_ns=25))
    assert t == pytest.approx(1e6 * 125e-9, rel=1e-12)


def test_nested_costs_add_and_exits_compound():
    kvm, docker = costs(vsim.load_profile("kvm").overhead), costs(vsim.load_profile("docker").overhead)
    both = add_costs(docker, kvm)
    assert both["packet_us"] == pytest.approx(kvm["packet_us"] + docker["packet_us"])
    assert both["io_request_us"] == pytest.approx(kvm["io_request_us"])
    assert 1 - both["exit_cpu_share"] == pytest.approx((1 - kvm["exit_cpu_share"]) * (1 - docker["exit_cpu_share"]))
    half = add_costs(_c(vector_width=0.5), _c())
    assert half["vector_width"] == 0.5


# -- closed form over random cases ---------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(h=st.floats(0, 200), d=st.floats(1, 200), page=st.floats(0, 20),
       n=st.integers(1, 60), qd=st.integers(1, 16))
def test_path_throughput_is_one_over_hold_plus_device(h, d, page, n, qd):
    # With the path holding each request through the device, the streams only
    # overlap their driver time: total = page + n (h + d) whenever the driver time
    # is shorter than a request on the path (always, with qd >= 2, once the pipeline
    # is full); with one stream every request pays all three.
    mix = OperationMix("t", io_requests=n, io_kib=4, queue_depth=qd)
    t, _ = _run(mix, _c(io_request_us=h, io_page_us=page), disk_s=d * US)
    if qd == 1 or n == 1:
        expect = n * (page + h + d)
    elif page <= (h + d) * (min(qd, n) - 1):
        expect = page + n * (h + d)
    else:
        return  # the driver is the bottleneck; bounded below
    assert t == pytest.approx(expect * US, rel=1e-9, abs=1e-15)
    assert t >= n * (h + d) * US * (1 - 1e-12)  # never faster than the path allows
    assert t <= n * (page + h + d) * US * (1 + 1e-12)  # never slower than no overlap at all


# -- the mechanism's direction ---------------------------------------------------------

@pytest.fixture(scope="module")
def kvm_curve():
    return io_efficiency("kvm", io_kib=(4, 64, 1024), queue_depth=(1, 2, 32))


def test_two_mixes_on_one_platform_give_two_efficiencies(kvm_curve):
    # Same platform, same per-request cost: 1 MiB requests run near native,
    # 4 KiB ones far from it. A profile number passed through could not do this.
    e = kvm_curve.set_index(["io_kib", "queue_depth"])["efficiency"]
    assert e[(1024.0, 32)] > 0.98
    assert e[(4.0, 32)] < 0.6
    for qd in (1, 2, 32):
        assert e[(4.0, qd)] < e[(64.0, qd)] < e[(1024.0, qd)]


def test_a_deeper_queue_hides_the_drivers_time_on_large_requests(kvm_curve):
    e = kvm_curve.set_index(["io_kib", "queue_depth"])["efficiency"]
    assert e[(1024.0, 1)] < e[(1024.0, 2)] - 0.2   # 256 pages of driver time exposed at QD1
    assert e[(1024.0, 2)] == pytest.approx(e[(1024.0, 32)], abs=1e-6)


def test_containers_pay_nothing_per_request():
    e = io_efficiency("docker", io_kib=(4, 1024), queue_depth=(1, 32))
    assert (e["efficiency"] - 1).abs().max() < 1e-9


def test_only_the_mixes_that_do_the_operation_change_with_its_cost():
    kvm = vsim.load_profile("kvm")
    base = run_benchmarks(kvm, seed=0)
    c = costs(kvm.overhead)
    c["packet_us"] *= 2
    more = run_benchmarks(kvm, seed=0, overhead=c)
    changed = {k for k in base if abs(more[k] - base[k]) > 1e-9}
    assert changed == {"netperf_rr", "nuttcp_bulk"}  # nothing else sends packets
    assert more["netperf_rr"] < base["netperf_rr"] - 0.1
    # bulk hides the path behind the wire: only the first segment's passage shows
    assert 0 < base["nuttcp_bulk"] - more["nuttcp_bulk"] < 1e-3


# -- the published tables --------------------------------------------------------------

@pytest.fixture(scope="module")
def felter():
    return felter_table()


def test_felter_table_from_one_parameter_set_per_platform(felter):
    # Tolerances: rows measured within 5% of native, within 2 percentage points;
    # the others within 12% relative (the worst, the 70:30 mix, is +11.7%: the
    # model's native mix runs at the mean of the read and write device times,
    # 90.8k IOPS, where Felter's device did 104.6k).
    assert len(felter) == 18
    for _, r in felter.iterrows():
        if r["published"] >= 0.95:
            assert abs(r["error_points"]) <= 2.0, r["row"]
        else:
            assert abs(r["error_pct"]) <= 12.0, r["row"]


def test_firecracker_qd1_read(felter):
    r = felter[felter["platform"] == "firecracker"].iloc[0]
    assert r["vsim"] == pytest.approx(8_444 / 16_473, rel=0.02)


def test_untuned_linpack_is_predicted_from_the_vector_width_alone(felter):
    # Not fitted: halving the vector width (no AVX in QEMU's baseline CPU model)
    # predicts 0.49 where Felter et al. measured 0.45 (130.3 / 290.8).
    r = felter[felter["platform"] == "kvm-baseline-cpu"].iloc[0]
    assert 0.44 < r["vsim"] < 0.5
    tuned = felter[(felter["platform"] == "kvm") & (felter["row"] == "Linpack (tuned)")].iloc[0]
    assert r["vsim"] == pytest.approx(tuned["vsim"] / 2, rel=1e-6)


def test_streaming_threads_pay_every_stall_once_when_the_bus_has_room():
    # Two threads, each capped at 4 GB/s on a 10 GB/s bus (never full): each
    # streams 1 GB in 32 chunks with a stall after each chunk (TLB misses of its
    # pages and the exits' share). Staggering the stalls moves them, it does not
    # add any: each thread takes 32 x (chunk / 4 GB/s + stall).
    mix = OperationMix("t", threads=2, memory_gb=1.0)
    c = _c(tlb_miss_ns=100, exit_cpu_share=0.1)
    chunk = 1.0 / 32
    stall = chunk * 1e9 / 1024 / 4 * 100e-9 + chunk / 8.0 * 0.1 / 0.9  # CORE_MEMORY_GB_S = 8 in the stall
    t, _ = _run(mix, c)
    assert t == pytest.approx(32 * (chunk / 4.0 + stall), rel=1e-12)
    # on a full bus (20 threads want 80 GB/s of 10) the stalls hide: only the bytes count
    full = OperationMix("t", threads=20, memory_gb=1.0)
    t_full, _ = _run(full, _c(tlb_miss_ns=1))
    assert t_full == pytest.approx(20 / 10.0, rel=0.01)


@pytest.mark.xfail(strict=True, reason=(
    "not reproduced (held out, not fitted): KVM's costs calibrated on Felter et al.'s 2014 host predict "
    "0.87 of native for QEMU's QD1 4 KiB read on Agache et al.'s 2019 m5d.metal, where QEMU measured "
    "0.46 (7,513 vs 16,473 IOPS). At QD1 every completion waits for an idle vCPU to wake (a halt exit "
    "and a wake-up), which Felter's deep queues never showed; the model has no such cost yet, and the "
    "two measurements differ in host, kernel and QEMU configuration."))
def test_qemu_qd1_read_on_another_host_is_predicted():
    from vsim.experiments.microbench import M5D_HOST, mixes_for, native_times

    mixes = {"fio_qd1_read": mixes_for(48)["fio_qd1_read"]}
    got = run_benchmarks(vsim.load_profile("kvm"), M5D_HOST, native=native_times(M5D_HOST, mixes), mixes=mixes)
    assert got["fio_qd1_read"] == pytest.approx(7_513 / 16_473, rel=0.12)


@pytest.mark.parametrize("field", ["io_kib", "message_kib", "segment_kib"])
def test_a_mix_with_a_zero_size_is_refused_naming_the_field(field):
    with pytest.raises(ValueError, match=f"{field}: a size must be > 0 KiB"):
        OperationMix("t", **{field: 0.0})


def test_a_copy_on_the_network_path_costs_per_mb():
    # No per-packet cost, a copy of 100 ms per MB on the path: each 64 KiB segment
    # holds it for 6.5536 ms; four segments through a path slower than nothing else:
    # the last leaves the path at 4 x 6.5536 ms and then takes the (fast) wire alone.
    seg_mb = 64 * 1024 / 1e6
    mix = OperationMix("t", bulk_mb=4 * seg_mb, segment_kib=64, window=2)
    t, _ = _run(mix, _c(net_copy_us_per_mb=100_000), nic_mb_s=1000.0)
    assert t == pytest.approx(4 * seg_mb * 0.1 + seg_mb / 1000.0, rel=1e-12)
