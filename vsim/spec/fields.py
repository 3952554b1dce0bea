"""Field types shared by every scenario model: names, sizes, strict records.

Each scenario section (hosts, workloads, services, migrations, ...) is a
pydantic model that forbids unknown keys and cannot be changed once built, and
its numbers are checked against the same bounds: a size above 10^9 (MB, GiB,
MB/s, s) is taken for a typo, as are infinities and NaN.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vsim.spec.errors import brief

__all__ = ["MAX_SIZE", "Name", "Positive", "NonNegative", "StrictModel"]

MAX_SIZE = 1e9  # MB, GiB, MB/s ...: beyond this a number is a typo

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Positive = Annotated[float, Field(gt=0, le=MAX_SIZE, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_SIZE, allow_inf_nan=False)]


class StrictModel(BaseModel):
    """A record with no unknown keys, immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_yes_no_numbers(cls, data: Any) -> Any:
        """Refuse true/false for a number: YAML reads yes, no, on and off as
        booleans, and pydantic would quietly turn them into 1 and 0."""
        if isinstance(data, dict):
            for key, val in data.items():
                info = cls.model_fields.get(key) if isinstance(key, str) else None
                vals = val if isinstance(val, list) else [val]
                if info is None or not any(isinstance(v, bool) for v in vals):
                    continue
                if {int, float} & set(_flat_types(info.annotation)) and bool not in _flat_types(info.annotation):
                    raise ValueError(f"{key}: got {brief(val)}, a yes/no value; write a number "
                                     "(YAML reads yes, no, on, off, true and false as booleans)")
        return data


def _flat_types(annotation: Any) -> list:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    if typing.get_origin(annotation) is Annotated:
        return _flat_types(args[0])
    return [t for a in args for t in _flat_types(a)]
