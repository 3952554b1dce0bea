"""The placement rule at its edges, on every path that applies it.

A host can take a guest when it runs the guest's platform and is on, has a
guest slot left (its platform's and its own limit), and has the memory, vCPUs
and disk the guest needs (vsim.model.placement.conditions and disk_fits). The
rule is applied on three paths: a shape's first placement scores every host at
once (numpy), later placements re-score only the hosts that changed (one host
at a time), and a migration target is checked on its own (``reserve_on``).
For each resource, a host left with exactly what the guest needs must take it
and a host left with a little less must not, on every path; and when no host
can, the refusal names that resource.
"""

import pytest
from helpers import host, scenario, workload

from vsim.experiments.run import build_world
from vsim.model.guest import Guest
from vsim.model.placement import Refusal

NEED = {"memory": 1000.0, "vcpus": 2.0, "disk": 5000.0}


def _setup(max_guests=None):
    hosts = [host(count=3, memory_gib=8, cores=8, platforms=["docker"], disk={"capacity_gib": 100},
                  **({"max_guests": max_guests} if max_guests else {}))]
    sc = scenario([workload(name="w", platform="docker", memory_mib=1000, vcpus=2, disk_gib=0)],
                  hosts=hosts, placement="first-fit")
    placer = build_world(sc).placer
    profile = sc.profile("docker")

    def guest(k=0, memory_mib=1000.0, vcpus=2.0):
        w = sc.workloads[0].model_copy(update={"memory_mib": memory_mib, "vcpus": vcpus})
        g = Guest(k, w, profile, None, 0.0, 1.0)
        g.memory_mib, g.vcpus = memory_mib, vcpus  # exactly what it needs (no overhead, no sharing)
        return g

    return placer, guest


def _leave(placer, i, resource, amount):
    """Leave host ``i`` with ``amount`` of ``resource`` free."""
    free = {"memory": placer._mem, "vcpus": placer._vcpu, "disk": placer._disk}[resource][i]
    take = {"memory": 0.0, "vcpus": 0.0, "disk": 0.0}
    take[resource] = free - amount
    placer._change(i, "docker", take["memory"], take["vcpus"], take["disk"], 0)


def _short_and_exact(placer, resource):
    """Host 0 a little short of the need, host 1 with exactly the need, host 2 down."""
    placer.set_available(2, False)
    short = NEED[resource] - (0.01 if resource != "vcpus" else 0.5)
    _leave(placer, 0, resource, short)
    _leave(placer, 1, resource, NEED[resource])


@pytest.mark.parametrize("resource", ["memory", "vcpus", "disk"])
def test_first_placement_of_a_shape_takes_the_exact_fit_not_the_short_host(resource):
    placer, guest = _setup()
    _short_and_exact(placer, resource)
    i, got = placer.place(guest(), NEED["disk"])
    assert i == 1 and got == NEED["disk"]


@pytest.mark.parametrize("resource", ["memory", "vcpus", "disk"])
def test_a_later_placement_rescoring_changed_hosts_takes_the_exact_fit(resource):
    placer, guest = _setup()
    probe = guest(k=9)
    assert placer.place(probe, NEED["disk"])[0] == 0  # the shape is scored; every host has room
    placer.release(0, probe, NEED["disk"])
    _short_and_exact(placer, resource)  # three hosts changed: re-scored one by one
    assert placer.place(guest(), NEED["disk"])[0] == 1


@pytest.mark.parametrize("resource", ["memory", "vcpus", "disk"])
def test_no_host_with_enough_names_the_resource(resource):
    placer, guest = _setup()
    _short_and_exact(placer, resource)
    _leave(placer, 1, resource, NEED[resource] - (0.01 if resource != "vcpus" else 0.5))
    i, why = placer.place(guest(), NEED["disk"])
    assert i is None and isinstance(why, Refusal) and why.resource == resource
    assert why.message.startswith(f"{resource}:")


@pytest.mark.parametrize("resource", ["memory", "vcpus", "disk"])
def test_a_migration_target_is_held_to_the_same_edge(resource):
    placer, guest = _setup()
    _short_and_exact(placer, resource)
    g = guest()
    refusal = placer.reserve_on(0, g, NEED["disk"])
    assert refusal is not None and refusal.resource == resource
    assert placer.reserve_on(1, g, NEED["disk"]) is None


def test_a_full_host_takes_no_guest_on_any_path_and_the_refusal_says_guest_limit():
    placer, guest = _setup(max_guests=1)
    placer.set_available(2, False)
    placer._change(0, "docker", 0.0, 0.0, 0.0, 1)  # host 0 holds its one guest
    assert placer.place(guest(), NEED["disk"])[0] == 1  # first placement (all hosts at once)
    assert placer.reserve_on(0, guest(k=5), NEED["disk"]).resource == "guest limit"
    i, why = placer.place(guest(k=1), NEED["disk"])  # re-scored: host 1 is now full too
    assert i is None and why.resource == "guest limit"


def test_a_host_that_is_down_takes_nothing_and_every_host_down_says_hosts():
    placer, guest = _setup()
    for i in range(3):
        placer.set_available(i, False)
    i, why = placer.place(guest(), NEED["disk"])
    assert i is None and why.resource == "hosts"
    placer.set_available(2, True)
    assert placer.place(guest(k=1), NEED["disk"])[0] == 2
