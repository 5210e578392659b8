"""Durations as people write them (`30s`, `1m30s`, `500ms`, `2h`, or plain seconds)."""

from __future__ import annotations

import math
import re

from orchestrator.config.limits import MAX_DURATION_SECONDS, MAX_DURATION_TEXT

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(value: object) -> float:
    """Seconds from `30s`, `1m30s`, `250ms`, `1.5h` or a number; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 1m30s or 500ms")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(f"'{value}' is not a duration (use e.g. 30s, 1m30s, 500ms)")
    else:
        raise ValueError("must be a duration like 30s, 1m30s or 500ms")
    if not math.isfinite(seconds):  # YAML's .inf / .nan: k6 and Prometheus take neither
        raise ValueError("must be a finite duration like 30s, 1m30s or 500ms")
    if seconds < 0:
        raise ValueError("must not be negative")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"must be at most {MAX_DURATION_TEXT}")
    return seconds


def k6_duration(seconds: float) -> str:
    """The shortest k6 duration string for a number of seconds (k6 takes `1m30s`, `250ms`)."""
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds}: not a finite duration")  # parse_duration refuses these first
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    total = millis // 1000
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or not out:
        out += f"{secs}s"
    return out
