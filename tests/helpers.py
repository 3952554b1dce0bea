"""Small builders for scenarios used across tests."""

from vsim.spec.scenario import parse_scenario


def host(**kw):
    h = {"name": "h", "cores": 16, "memory_gib": 64, "platforms": ["kvm", "docker"],
         "disk": {"capacity_gib": 1000, "read_mb_s": 800, "write_mb_s": 750},
         "network_gbit_s": 10}
    h.update(kw)
    return h


VM_IMAGE = {"name": "vm", "kind": "vm-disk", "format": "qcow2", "size_mb": 2256}
CT_IMAGE = {"name": "app", "kind": "container", "layers": [
    {"id": "base", "size_mb": 30, "unpacked_mb": 80},
    {"id": "runtime", "size_mb": 90, "unpacked_mb": 250},
    {"id": "code", "size_mb": 5, "unpacked_mb": 25},
]}


def scenario(workloads, hosts=None, images=None, **kw):
    data = {
        "name": "t",
        "hosts": hosts or [host()],
        "registries": [{"name": "hub", "bandwidth_gbit_s": 1}],
        "images": images if images is not None else [VM_IMAGE, CT_IMAGE],
        "workloads": workloads,
    }
    data.setdefault("variability", False)  # exact timelines: every guest exactly as calibrated
    data.update(kw)
    return parse_scenario(data)


def workload(name="w", platform="kvm", count=1, at_s=0.0, **kw):
    w = {"name": name, "platform": platform,
         "arrivals": {"type": "batch", "count": count, "at_s": at_s}}
    w.update(kw)
    return w


def disk_s(read_mb, write_mb=0.0, io_kib=None, read_mb_s=800.0, write_mb_s=750.0,
           read_iops=84_000.0, write_iops=112_000.0):
    """Disk time of reads and writes from first principles: each request of
    ``io_kib`` KiB costs the disk's positioning time (a 4 KiB random request,
    1 / IOPS, less that request's own transfer) plus its transfer at the
    bandwidth; without ``io_kib``, large requests: bandwidth alone."""
    t = read_mb / read_mb_s + write_mb / write_mb_s
    if io_kib:
        per_mb = 1e6 / (io_kib * 1024)
        t += read_mb * per_mb * (1 / read_iops - 4096 / (read_mb_s * 1e6))
        t += write_mb * per_mb * (1 / write_iops - 4096 / (write_mb_s * 1e6))
    return t


def disk_of(d):
    """disk_s keywords for a scenario Disk."""
    return {"read_mb_s": d.read_mb_s, "write_mb_s": d.write_mb_s,
            "read_iops": d.random_read_iops, "write_iops": d.random_write_iops}
