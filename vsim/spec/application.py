"""An application: what one instance of a service needs, whatever it runs in.

Density is only comparable when every platform runs *the same thing*. An
:class:`Application` says what the service itself needs; each platform then
adds what it needs to run it (:mod:`vsim.model.footprint`): a VM a guest
kernel and OS, whole vCPUs, a fixed RAM size and its monitor; a container a
shim and a few kernel objects.

Fields (units in the names):

* ``working_set_mib``: memory the service touches in steady state (resident);
* ``peak_mib``: memory it may reach at its busiest; a VM must be given RAM
  for it, because a VM's RAM is fixed when it starts (default: the working set);
* ``cpu_cores``: CPU it uses on average (what a Kubernetes request would say);
* ``peak_cores``: cores it needs at its busiest (a VM gets that many whole vCPUs);
* ``disk_mb``: data it writes to its own disk or writable layer.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from vsim.spec.errors import ScenarioError, brief
from vsim.spec.fields import Name, NonNegative, Positive, StrictModel
from vsim.spec.messages import format_validation_error, register_root

__all__ = ["Application", "parse_application"]


class Application(StrictModel):
    """What one instance of a service needs (see the module docstring)."""

    name: Name = "app"
    # At most 1e8 MiB (about 95 TiB): a VM's flavor, up to twice that, must still be a valid guest size.
    working_set_mib: Annotated[float, Field(gt=0, le=1e8, allow_inf_nan=False)]
    peak_mib: Annotated[float, Field(gt=0, le=1e8, allow_inf_nan=False)] | None = None
    cpu_cores: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
    peak_cores: Positive = 1.0
    disk_mb: NonNegative = 0.0
    why: str = Field(default="", description="where the numbers come from")

    @model_validator(mode="after")
    def _peak(self) -> Application:
        if self.peak_mib is not None and self.peak_mib < self.working_set_mib:
            raise ValueError(f"peak_mib: must be at least working_set_mib ({self.working_set_mib:g}), "
                             f"got {self.peak_mib:g}")
        if self.cpu_cores > self.peak_cores:
            raise ValueError(f"cpu_cores: the average ({self.cpu_cores:g}) cannot exceed peak_cores "
                             f"({self.peak_cores:g})")
        return self

    @property
    def peak(self) -> float:
        """Memory at its busiest, MiB (the working set if no peak is given)."""
        return self.working_set_mib if self.peak_mib is None else self.peak_mib


register_root(Application)


def parse_application(data: Any) -> Application:
    """An :class:`Application` from a mapping (or one already made); a bad
    field is refused with a message naming it (``application.FIELD: ...``)."""
    if isinstance(data, Application):
        return data
    if not isinstance(data, dict):
        raise ScenarioError(f"application: expected a mapping such as {{'working_set_mib': 85, 'cpu_cores': 0.01}}, "
                            f"got {brief(data)}")
    try:
        return Application.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(e, prefix="application")) from None
