"""When a change between two runs is noise: the unit of a number, and the floor per unit.

A change is a regression (or an improvement) only beyond BOTH the relative tolerance and
the absolute floor of its unit: `http_req_blocked.avg` going from 0.00997 to 0.0144 ms is
+44%, but 4 microseconds is what a busy machine adds to any run. The floors
(`gate.compare` in perfctl.yaml, or `perfctl compare --*-floor`):

- durations: 1 ms (k6's summary is in ms; the gate's duration SLIs are in seconds),
- ratios (0..1): 0.1 percentage point,
- counts and rates (requests, iterations, lag, loop iterations/s): 1.

A number whose unit is not known (a custom query that reads neither) has no floor: the
relative tolerance alone decides. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MILLISECONDS = "ms"
SECONDS = "s"
RATIO = "ratio"
COUNT = "count"

# Metric-name words of k6's time trends (http_req_blocked, ws_connecting, ws_reply_time, ...).
TIME_WORDS = r"duration|connecting|waiting|blocked|sending|receiving|tls_handshaking|latency|time"
_K6_TIME_METRIC = re.compile(rf"(^|_)({TIME_WORDS})($|_|{{)")
_TREND_STATS = re.compile(r"^(avg|min|med|max|p\(\d+(\.\d+)?\))$")

# PromQL -> the unit of its value, by the metrics it reads (first match wins). Ratios first:
# error_ratio divides two request counters, and a ratio of counts is no count.
_QUERY_UNITS = (
    (re.compile(r'expected_response="false"|k6_checks_rate|_success_rate|_rate\{|\bup\{'), RATIO),
    (re.compile(rf"k6_\w*({TIME_WORDS})\w*|\w+_seconds\b"), SECONDS),
    (re.compile(r"\w+_total\b|kafka_consumergroup_lag|k6_vus"), COUNT),
)


@dataclass(frozen=True)
class Floors:
    """The absolute floor of each unit; a change no larger than it is noise."""

    duration_ms: float = 1.0
    ratio_points: float = 0.1  # percentage points
    count: float = 1.0

    def of(self, unit: str | None) -> float:
        if unit == MILLISECONDS:
            return self.duration_ms
        if unit == SECONDS:
            return self.duration_ms / 1000.0
        if unit == RATIO:
            return self.ratio_points / 100.0
        if unit == COUNT:
            return self.count
        return 0.0

    def describe(self) -> str:
        return f"{_num(self.duration_ms)} ms, {_num(self.ratio_points)} percentage point, {_num(self.count)} count"


def _num(value: float) -> str:
    return f"{value:g}"


# Units an objective may carry in verdict.json (`unit`, the names people read: s, ratio, req/s,
# ...) -> the kind of floor that applies; others (percent, bytes, none) fall back to the query.
_RECORDED_UNITS = {"s": SECONDS, "ms": MILLISECONDS, "ratio": RATIO, "req/s": COUNT, "Hz": COUNT, "messages": COUNT,
                   "iterations": COUNT, "requests": COUNT, "count": COUNT}


def objective_unit(objective: dict) -> str | None:
    """The unit of an objective's value in verdict.json: its recorded `unit` when it has a
    known one, else the one its PromQL reads (query_unit)."""
    return _RECORDED_UNITS.get(objective.get("unit") or "") or query_unit(objective.get("query"))


def query_unit(query: str | None) -> str | None:
    """The unit of an objective's value, from the PromQL that measured it (as recorded in verdict.json)."""
    for pattern, unit in _QUERY_UNITS:
        if query and pattern.search(query):
            return unit
    return None


def k6_unit(metric: str, stat: str, stats: set[str]) -> str | None:
    """The unit of one stat of k6's summary; `stats` are the metric's stat names (its kind)."""
    if stat in ("count", "passes", "fails"):
        return COUNT
    if {"passes", "fails"} & stats and stat in ("value", "rate"):
        return RATIO  # a k6 Rate: the share of true samples
    if stat == "rate":
        return COUNT  # a Counter's per-second rate
    if _TREND_STATS.match(stat):
        if _K6_TIME_METRIC.search(metric):
            return MILLISECONDS
        if metric in ("vus", "vus_max"):
            return COUNT
    if stat == "value" and metric in ("vus", "vus_max"):
        return COUNT
    return None


def within_noise(delta: float, delta_percent: float | None, *, tolerance: float, floor: float) -> bool:
    """True when a change is within the relative tolerance OR within the absolute floor.
    From 0 no percent exists, so only the floor can call the change noise."""
    if abs(delta) <= floor * (1 + 1e-9):  # 0.1 point is 0.0010000000000000009 after a subtraction
        return True
    return delta_percent is not None and abs(delta_percent) <= tolerance
