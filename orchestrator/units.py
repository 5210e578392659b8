"""Numbers with their units, for people: `12.3 ms`, `0.19%`, `98.7 Hz`, `1,234 messages`.

A value keeps the SLI's base unit everywhere it is stored or compared (seconds, ratios:
what PromQL returns and what criteria are written in); only what is printed is converted.
Every report and the terminal read this one module, so a ratio is a percentage everywhere.
"""

from __future__ import annotations

import math
import re

from orchestrator.percent import percent_text
from orchestrator.sli import SLIS

# The units a value can have; `unit:` on a custom objective names one of them.
UNITS = ("s", "ms", "ratio", "percent", "req/s", "Hz", "messages", "iterations", "requests", "count", "bytes", "none")

# What each built-in SLI measures, in its base unit (k6's remote write sends durations in seconds).
SLI_UNITS = {name: record.unit for name, record in SLIS.items()}

# Relative criteria (`<= +10%`) are percentages of the baseline whatever the unit: kept as written.
_ABSOLUTE_NUMBER = re.compile(r"(?<![\w.+\-])(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.%])")


def sli_unit(sli: str | None, declared: str | None = None) -> str:
    """The unit of an objective: the one declared on it, else its SLI's, else none."""
    if declared:
        return declared
    return SLI_UNITS.get(sli or "", "none")


def number(value: float, digits: int = 3) -> str:
    """Compact, as format_value prints (`0.0123`, `95.2`, `12,345`), but small numbers
    without an exponent: 1.2e-05 reads worse than 0.000012 in a report."""
    text = format_value(value, digits=digits)
    if "e" in text and math.isfinite(value) and 0 < abs(value) < 1:
        text = f"{value:.{digits + int(-math.log10(abs(value)))}f}".rstrip("0").rstrip(".")
    return text


def quantity(value: float | None, unit: str, *, digits: int = 3) -> str:
    """A value in its base unit, printed in the unit a person reads best; `—` for no value."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return number(value)
    if unit == "s":
        return duration(value, digits=digits)
    if unit == "ms":
        return duration(value / 1000.0, digits=digits)
    if unit == "ratio":
        return _percent(value * 100.0, digits)
    if unit == "percent":
        return _percent(value, digits)
    if unit == "bytes":
        return size(value)
    if unit in ("none", "count", ""):
        return number(value, digits)
    return f"{number(value, digits)} {unit}"


def _percent(value: float, digits: int) -> str:
    """Through the one percent formatter (cut, never rounded up), with `digits` significant
    digits so that a small error ratio keeps its size: `0.191%`, `99.5%`, `100%`."""
    decimals = 1 if value == 0 else max(1, min(6, digits - 1 - math.floor(math.log10(abs(value)))))
    return percent_text(value, digits=decimals)


def duration(seconds: float, *, digits: int = 3) -> str:
    """`850 µs`, `12.3 ms`, `1.25 s`, `2m 05s`."""
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0 ms"
    if magnitude < 0.001:
        return f"{number(seconds * 1e6, digits)} µs"
    if magnitude < 1:
        return f"{number(seconds * 1000, digits)} ms"
    if magnitude < 120:
        return f"{number(seconds, digits)} s"
    minutes, rest = divmod(round(magnitude), 60)
    sign = "-" if seconds < 0 else ""
    if minutes < 120:
        return f"{sign}{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h {minutes:02d}m"


def size(count: float) -> str:
    """Bytes in powers of 1000, as k6 prints data sent and received: `12 kB`, `3.4 MB`."""
    for factor, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(count) >= factor:
            return f"{number(count / factor)} {name}"
    return f"{number(count)} B"


def criterion(text: str, unit: str) -> str:
    """A criterion with its absolute numbers in the unit (`< 0.5` s -> `< 500 ms`, `< 0.01`
    ratio -> `< 1%`); relative bounds (`+10%`) and unit-less criteria stay as written."""
    if unit in ("none", "count", ""):
        return text
    return _ABSOLUTE_NUMBER.sub(lambda m: quantity(float(m.group(1)), unit, digits=6), text)


def format_value(value: float | None, *, digits: int = 3) -> str:
    """Compact, for people: `0.0123`, `95.2`, `12,345`, `1.2e-05`, `—` for no value.

    `digits` significant digits below 1000; from 1000 on, thousands separators and at
    most one decimal (a request count or a latency in ms reads better as 12,345).
    """
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"  # also -0.0
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.{digits}g}"
    # From here on `g` would switch to an exponent (999.7 → 1e+03), so use separators.
    if magnitude >= 10 ** digits - 0.5:
        if magnitude >= 10_000:
            return f"{value:,.0f}"
        text = f"{value:,.1f}"
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{digits}g}"
