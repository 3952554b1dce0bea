"""Validation cases: a published figure (or a theory's value), how to get the
model's, and how close it must come.

A file in ``vsim/validation/`` holds one *group* (startup, storms, overhead,
density, migration, queueing) of :class:`Case` entries::

    group: startup
    cases:
      - name: KVM, Ubuntu VM boot
        probe: boot                 # what the model runs (vsim.experiments.check.PROBES)
        args: {platform: kvm}
        target: 8.47                # the published figure ...
        unit: s
        tolerance: {rel: 0.05}      # ... and how close the model must be
        source: plauth2017          # a key of docs/references.md
        calibrated: true            # the profile was fitted to this figure

``theory:`` replaces ``target:`` where the reference is a formula (M/M/c,
Erlang B, the pre-copy series): ``theory: {erlang_c: {c: 3, rho: 0.8}}``.
``expect: miss`` records a figure the model is known not to reproduce, with
``why``; the check then fails if it is reproduced after all (so a fix is noticed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from vsim.spec.errors import ScenarioError
from vsim.spec.fields import NonNegative, StrictModel
from vsim.spec.messages import format_validation_error, register_root
from vsim.spec.yamlio import read_yaml

__all__ = ["Tolerance", "Case", "Group", "load_group", "GROUPS"]

#: The groups, in the order the check reports them.
GROUPS = ("startup", "storms", "overhead", "density", "migration", "queueing")


class Tolerance(StrictModel):
    """How close the model must come: ``rel`` (a fraction of the target) or ``abs`` (in its unit)."""

    rel: NonNegative | None = None
    abs: NonNegative | None = None

    @model_validator(mode="after")
    def _one(self) -> Tolerance:
        if (self.rel is None) == (self.abs is None):
            raise ValueError("give exactly one of rel (a fraction of the target) or abs (in the target's unit)")
        return self

    def allows(self, got: float, target: float) -> bool:
        err = abs(got - target)
        bound = self.abs if self.abs is not None else (self.rel or 0.0) * abs(target)
        return err <= bound * (1 + 1e-12)

    def __str__(self) -> str:
        return f"±{100 * self.rel:g}%" if self.rel is not None else f"±{self.abs:g}"


class Case(StrictModel):
    """One published figure (or theory) and the model's run that should meet it."""

    name: str = Field(min_length=1, max_length=200)
    probe: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    target: float | None = None
    theory: dict[str, dict[str, Any]] | None = None
    unit: str = ""
    tolerance: Tolerance
    source: str = Field(min_length=1, description="a key of docs/references.md, or 'theory'")
    calibrated: bool = Field(default=False, description="the model's numbers were fitted to this figure")
    expect: Literal["within", "miss"] = "within"
    why: str = ""

    @model_validator(mode="after")
    def _target(self) -> Case:
        if (self.target is None) == (self.theory is None):
            raise ValueError("give exactly one of target (a published number) or theory (a formula and its inputs)")
        if self.theory is not None and len(self.theory) != 1:
            raise ValueError("theory: one formula, such as {erlang_c: {c: 3, rho: 0.8}}")
        if self.expect == "miss" and not self.why:
            raise ValueError("why: a case expected to miss says why the model does not reproduce it")
        return self


class Group(StrictModel):
    """One file of validation cases."""

    group: Literal["startup", "storms", "overhead", "density", "migration", "queueing"]
    description: str = ""
    cases: list[Case] = Field(min_length=1, max_length=500)


register_root(Group, [Case, Tolerance])


def load_group(path: str | Path) -> Group:
    """A validation file, checked field by field (errors name the file and the field)."""
    data = read_yaml(path)
    try:
        return Group.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(e, prefix=Path(path).name)) from None
