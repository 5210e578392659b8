"""What every config model shares: the base class (frozen, unknown fields refused, no boolean
numbers nor numeric booleans) and the small value types the sections use (durations, names, pinned images).
Messages for these types' patterns are in orchestrator/config/messages.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema
from pydantic import field_validator

from orchestrator.config.durations import parse_duration
from orchestrator.config.types import number_list_item, wants_bool, wants_number

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "number"], "description": "duration: 30s, 1m30s, 500ms or seconds"}),
]
# Where zero makes no sense (a test of 0 s, a scrape every 0 s): refused with the field named.
PositiveDuration = Annotated[Duration, Field(gt=0)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

# Names used as {placeholders} and JavaScript-side keys: identifiers only.
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]


def _pinned_image(value: str) -> str:
    # A floating tag makes two runs of the same config use different k6/Prometheus versions.
    tag = value.rsplit("/", 1)[-1]
    if "@sha256:" not in value and (":" not in tag or tag.endswith(":latest")):
        raise ValueError(f"'{value}' must name a pinned tag (like grafana/k6:1.1.0), not latest")
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]


class Model(BaseModel):
    # allow_inf_nan: YAML's .inf and .nan are numbers no k6 option or PromQL criterion means.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML reads `true`, `yes`, `on` as booleans, and pydantic would take them as 1; the other
        # way round it would take 0, 1 or "on" as a flag. Both are what the JSON schema refuses.
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        if isinstance(value, bool) and wants_number(field.annotation):
            raise ValueError(f"must be a number, not {str(value).lower()}")
        if value is not None and not isinstance(value, bool) and wants_bool(field.annotation):
            raise ValueError(f"must be true or false, not {value!r}")
        if isinstance(value, list) and number_list_item(field.annotation):
            for i, item in enumerate(value):
                if isinstance(item, bool):
                    raise ValueError(f"[{i}]: must be a number, not {str(item).lower()}")
        return value
