"""The kernel check: a container shares its host's kernel.

A container is a process of the host (namespaces, cgroups, a layered rootfs),
so its image must be built for the kernel the host runs: a Windows container
does not start on a Linux host (without a VM in between), which is one of the
course's "weaker isolation, less freedom" points. A VM brings its own kernel
and runs anywhere its hypervisor does. :class:`KernelCheck` refuses, before
placement, the containers whose image needs a kernel no host running their
platform has.
"""

from __future__ import annotations

from vsim.model.mechanism import Mechanism
from vsim.model.placement import Refusal

__all__ = ["KernelCheck", "refusals"]


def refusals(sc) -> dict[str, str]:
    """Workload name -> why its containers cannot start on any host of scenario ``sc``."""
    kernels: dict[str, set[str]] = {}
    for h in sc.hosts:
        for p in h.platforms:
            kernels.setdefault(p, set()).add(h.os)
    # A workload's guests all have its platform and image: decided once per workload.
    return {w.name: why for w in sc.workloads
            if (why := _kernel_check(sc.profile(w.platform).guest_kind, w.platform,
                                     sc.image_map.get(w.image) if w.image else None, kernels))}


class KernelCheck(Mechanism):
    """Rejects containers whose image needs another kernel than their hosts run."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = {name: Refusal("kernel", why) for name, why in refused.items()}  # by workload name

    def request(self, g) -> Refusal | None:
        return self.refused.get(g.workload.name)


def _kernel_check(kind: str, platform: str, image, kernels: dict[str, set[str]]) -> str:
    """A container uses its host's kernel: its image's OS must match a host's."""
    if kind != "container" or image is None:
        return ""
    want = image.os
    have = kernels.get(platform, set())
    if want in have:
        return ""
    return (f"kernel: a {want} container shares its host's kernel, and every host running "
            f"{platform} has a {'/'.join(sorted(have))} kernel; run it on a {want} host or in a {want} VM")
