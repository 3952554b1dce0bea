"""Capacity planning for containers in VMs (issue 5): two simulated levels.

Containers are packed into node VMs (simulated on "virtual hosts" of the
node's shape), then the node VMs onto physical hosts (simulated as guests of
the VM platform). A tiny case is worked out by hand from the profiles'
footprints and checked against the simulated answer; on the demo plan the
nested architecture can never beat containers straight on the hosts.
"""

import json
import math

import pytest
from conftest import SCENARIOS

import vsim
from vsim.experiments.plan import load_plan, parse_plan, plan
from vsim.spec.profile import load_profile
from vsim.spec.yamlio import read_yaml

PLAN = SCENARIOS / "plan-web-tier.yaml"
KVM_IDLE_BOOT_S = 8.47  # Plauth et al. 2017: an Ubuntu VM on KVM, virsh start to first packet


def tiny(**policy) -> dict:
    """10 containers of 1 GiB; nodes of 5.25 GiB (1 GiB guest OS); hosts of 14 GiB.

    Sized so that forgetting the node's guest OS (5 containers a node, 2 nodes)
    or counting only the node's usable memory on the host (3 nodes a host)
    would give other answers than the hand count.
    """
    return {
        "name": "tiny", "seed": 5, "max_hosts": 20,
        "demand": {"services": [{"name": "c", "replicas": 10, "vcpus": 0.25, "memory_mib": 1024}]},
        "architectures": [{
            "name": "nested", "platform": "docker", "inside": "kvm",
            "node": {"vcpus": 2, "memory_gib": 5.25, "disk_gib": 10, "guest_os_memory_mib": 1024},
        }],
        "host_types": [{"name": "h", "cores": 8, "memory_gib": 14, "price_per_hour": 1.0, "power_w": 100}],
        "policy": {"overcommit": {"cpu": 1.0, "memory": 1.0}, "headroom": 0.0, **policy},
        "targets": {"blocking_max": 0.0},
    }


def test_tiny_nested_plan_matches_the_hand_count():
    docker, kvm = load_profile("docker"), load_profile("kvm")
    # Level 1 by hand: a node holds what its usable memory, less dockerd, takes
    # in containers of 1 GiB plus the shim's overhead each.
    usable = 5.25 * 1024 - 1024
    per_node = math.floor((usable - docker.host_memory_mib.value) / (1024 + docker.guest_memory_overhead_mib.value))
    assert per_node == 4  # the case is built so: 4 fit, 5 do not
    nodes = math.ceil(10 / per_node)  # 3
    # Level 2 by hand: a host holds what its memory, less the KVM host OS, takes
    # in node VMs of 5.25 GiB (guest OS included) plus QEMU's overhead each.
    per_host = math.floor((14 * 1024 - kvm.host_memory_mib.value) / (5.25 * 1024 + kvm.guest_memory_overhead_mib.value))
    assert per_host == 2
    hosts = math.ceil(nodes / per_host)  # 2

    row = plan(parse_plan(tiny())).iloc[0]
    assert row["feasible"]
    assert row["nodes"] == nodes == 3
    assert row["hosts"] == hosts == 2
    assert row["binding"] == "memory" and row["node_binding"] == "memory"
    assert row["platform"] == "docker in kvm" and row["guests_requested"] == 10
    assert row["blocking"] == 0.0
    assert "missed with 1 host(s)" in row["limit"] and "missed with 2 node VM(s)" in row["limit"]

    # one spare host for a host failure: one more host, same nodes
    spare = plan(parse_plan(tiny(tolerate_host_failures=1))).iloc[0]
    assert spare["hosts"] == hosts + 1 and spare["nodes"] == nodes


def test_nodes_bigger_than_any_host_are_infeasible_not_an_error():
    data = tiny()
    data["architectures"][0]["node"]["memory_gib"] = 16  # a 16 GiB node on a 14 GiB host
    data["max_hosts"] = 4
    row = plan(parse_plan(data)).iloc[0]
    assert not row["feasible"] and math.isnan(row["hosts"]) and row["nodes"] >= 1
    assert row["binding"] == "memory" and "still missed at max_hosts=4" in row["limit"]


@pytest.fixture(scope="module")
def demo_plan():
    data = read_yaml(PLAN)
    keep = {"vms-on-kvm", "containers-on-docker", "containers-in-vms"}
    data["architectures"] = [a for a in data["architectures"] if a["name"] in keep]
    return plan(parse_plan(data))


def test_demo_containers_in_vms_need_at_least_the_hosts_of_containers(demo_plan):
    df = demo_plan.set_index(["architecture", "host_type", "demand_scale"]).sort_index()
    nested = df.loc["containers-in-vms"]
    flat = df.loc["containers-on-docker"]
    assert nested["feasible"].all()
    assert (nested["hosts"] >= flat["hosts"]).all()
    # node VMs are reported, grow with demand, and are absent for flat architectures
    assert (nested["nodes"] >= 1).all() and df.loc["vms-on-kvm", "nodes"].isna().all()
    for _, grp in nested.groupby(level="host_type"):
        n = grp.sort_index()["nodes"].to_list()
        assert n == sorted(n) and n[0] < n[-1]
    assert set(nested["binding"]) <= {"memory", "vcpus", "disk", "guest limit"}
    assert set(nested["node_binding"]) <= {"memory", "vcpus", "disk", "guest limit", "boot contention (disk, CPU)"}
    assert nested["limit"].str.contains("node VMs").all()


def test_demo_nested_startup_counts_only_the_container_start(demo_plan):
    """Nodes are up first: the containers start as fast as on bare hosts, not at VM boot speed."""
    df = demo_plan[demo_plan["demand_scale"] == 1.0].set_index(["architecture", "host_type"])
    for h in ("m-16c-64g", "l-32c-256g"):
        nested = df.loc[("containers-in-vms", h), "startup_p95_s"]
        assert nested < KVM_IDLE_BOOT_S / 2  # not even half of one VM boot
        assert nested < df.loc[("vms-on-kvm", h), "startup_p95_s"] / 5
        assert nested <= 2 * df.loc[("containers-on-docker", h), "startup_p95_s"]


def test_demo_node_count_is_minimal_by_simulation():
    """Re-simulate level 1: the node count meets every target, one node fewer misses one."""
    from vsim.experiments.plan import _evaluate
    from vsim.spec.plan import node_level

    p = load_plan(PLAN)
    a = next(a for a in p.architectures if a.name == "containers-in-vms")
    h = p.host_types[0]
    row = plan(p.model_copy(update={"architectures": [a], "host_types": [h], "demand": p.demand.model_copy(
        update={"scale": [1.0]})})).iloc[0]
    n = int(row["nodes"])
    lp, la, lh = node_level(p, a, h)
    assert _evaluate(lp, la, lh, n, 1.0)["ok"]
    assert not _evaluate(lp, la, lh, n - 1, 1.0)["ok"]


@pytest.mark.parametrize("change, expected", [
    (lambda a: a.pop("node"), "give both or neither"),
    (lambda a: a.pop("inside"), "give both or neither"),
    (lambda a: a.update(inside="kvmm"), "architectures[0].inside: unknown platform 'kvmm'"),
    (lambda a: a["node"].update(guest_os_memory_mib=6000), "leaves no memory for containers"),
    (lambda a: a["node"].update(guest_os_disk_gib=10), "leaves no disk for containers"),
    (lambda a: a["node"].update(image="nope"), "architectures[0].node.image: no image named 'nope'"),
    (lambda a: a["node"].update(vcpus=0), "architectures[0].node.vcpus"),
])
def test_bad_nested_architectures_give_clear_errors(change, expected, tmp_path):
    data = tiny()
    change(data["architectures"][0])
    f = tmp_path / "plan.yaml"
    f.write_text(json.dumps(data))
    with pytest.raises(vsim.ScenarioError) as exc:
        load_plan(f)
    assert expected in str(exc.value)
