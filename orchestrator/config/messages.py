"""Pydantic's validation errors as perfctl's lines: one plain line per problem, naming the
field as it is written in perfctl.yaml (`scenarios.chat.vus: must be > 0`)."""

from __future__ import annotations

import re

from orchestrator.config.base import IDENT_PATTERN, NAME_PATTERN
from orchestrator.config.k6_terms import THRESHOLD_OBJECT_TAG, THRESHOLD_TEXT_TAG, TREND_STAT_PATTERN
from orchestrator.config.prometheus_settings import RETENTION_PATTERN
from orchestrator.config.scenario import METRIC_FEED_PATTERN
from orchestrator.config.settings import K8S_NAME_PATTERN, K8S_QUANTITY_PATTERN


def dotted(loc: tuple) -> str:
    """A field's path as perfctl.yaml writes it: `scenarios.chat.requests[0].path`."""
    out = ""
    for part in loc:
        part = str(part)
        out += part if part.startswith("[") or not out else "." + part
    return out or "(top level)"


_MESSAGES = {
    "missing": "is required",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    # With pydantic's context filled in ({gt}, {expected}, ...):
    "extra_forbidden": "unknown field",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "finite_number": "must be a finite number (not .inf or .nan)",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",  # see _PATTERN_MESSAGES
    "int_from_float": "must be a whole number",
}

# string_pattern_mismatch says which rule was broken: one line per pattern the models use.
_PATTERN_MESSAGES = {
    NAME_PATTERN: "must be a name of letters, digits, '_', '.', '-' (at most 63)",
    IDENT_PATTERN: "must be an identifier: letters, digits, '_', not starting with a digit (at most 63)",
    K8S_NAME_PATTERN: "must be a Kubernetes name: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit (at most 63)",
    K8S_QUANTITY_PATTERN: "must be a Kubernetes quantity (e.g. 500m, 2, 512Mi, 1Gi)",
    METRIC_FEED_PATTERN: "must be one of duration, success, failure, always, json:PATH",
    TREND_STAT_PATTERN: "must be a k6 trend stat: avg, min, max, med, count, sum or p(N)",
    RETENTION_PATTERN: "must be a Prometheus duration (e.g. 15d, 2w, 12h)",
}
# Branch names pydantic puts into an error's path: internals, not fields of perfctl.yaml.
_UNION_TAGS = {THRESHOLD_TEXT_TAG, THRESHOLD_OBJECT_TAG}


def describe(err: dict) -> list[str]:
    """One of pydantic's errors (`ValidationError.errors()`) as `field: message` lines."""
    loc = tuple(
        f"[{p}]" if isinstance(p, int) else p
        for p in err["loc"]
        if p not in _UNION_TAGS and not re.match(r"^[a-z-]+\[.*\]$", str(p))  # function-after[...] and kin
    )
    # Pydantic puts a field's alias in loc; objectives use `pass`, which reads right as is.
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        # Our own validators: "field: message" lines, possibly several.
        message = str(ctx.get("error", err["msg"]))
        lines = []
        for line in message.splitlines():
            if re.match(r"^(scenarios|objectives|gate)[.\[]", line):
                lines.append(line)
            elif ":" in line and not line.startswith(("'", "bad ")) and " " not in line.split(":", 1)[0]:
                field, rest = line.split(":", 1)
                lines.append(f"{dotted(loc + (field,))}:{rest}")
            else:
                lines.append(f"{dotted(loc)}: {line}")
        return lines
    template = _PATTERN_MESSAGES.get(ctx.get("pattern")) if kind == "string_pattern_mismatch" else None
    template = template or _MESSAGES.get(kind)
    try:
        message = template.format(**ctx) if template else err["msg"]
    except (KeyError, IndexError):
        message = err["msg"]
    return [f"{dotted(loc)}: {message}"]
