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
