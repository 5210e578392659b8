"""Units and noise floors of `perfctl compare` (orchestrator/verdict/noise.py): pure."""

from __future__ import annotations

import pytest

from orchestrator.verdict import gate
from orchestrator.verdict import noise
from orchestrator.sli import SLIS
from orchestrator.verdict.noise import COUNT, MILLISECONDS, RATIO, SECONDS, Floors

# What each built-in SLI measures, as docs/slis.md says.
SLI_UNITS = {
    "error_ratio": RATIO, "http_p95": SECONDS, "http_p99": SECONDS, "checks": RATIO, "requests_per_second": COUNT,
    "ws_connect_p95": SECONDS, "ws_message_success": RATIO, "loop_rate_min": COUNT, "kafka_lag_max": COUNT,
    "target_up": RATIO, "dropped_iterations": COUNT, "kafka_lag_after": COUNT,
}


def test_every_builtin_sli_has_a_known_unit_from_its_promql():
    assert set(SLI_UNITS) == set(SLIS)
    ctx = gate.QueryContext("r1", gate.Window(0, 10), 1.0, 1.0)
    for record in SLIS.values():
        for template in filter(None, (record.query, record.native_query)):
            assert noise.query_unit(ctx.fill(template, "backend")) == SLI_UNITS[record.name], record.name


def test_custom_queries():
    assert noise.query_unit('sum(increase(http_requests_total{job="b",status=~"5.."}[10s]))') == COUNT
    assert noise.query_unit('max(last_over_time(k6_ws_reply_time_p90{testid="x"}[5s]))') == SECONDS
    assert noise.query_unit("avg(my_gauge)") is None
    assert noise.query_unit(None) is None


@pytest.mark.parametrize(
    "metric, stat, stats, unit",
    [
        ("http_req_blocked", "avg", {"avg", "p(95)", "count"}, MILLISECONDS),
        ("http_req_duration{expected_response:true}", "p(99.9)", {"p(99.9)"}, MILLISECONDS),
        ("ws_reply_time", "p(95)", {"p(95)"}, MILLISECONDS),
        ("http_req_duration", "count", {"avg", "count"}, COUNT),
        ("http_reqs", "rate", {"count", "rate"}, COUNT),
        ("http_req_failed", "value", {"passes", "fails", "value"}, RATIO),
        ("checks", "fails", {"passes", "fails", "value"}, COUNT),
        ("vus", "max", {"value", "min", "max"}, COUNT),
        ("my_trend", "avg", {"avg"}, None),
    ],
)
def test_k6_summary_units(metric, stat, stats, unit):
    assert noise.k6_unit(metric, stat, stats) == unit


def test_floors_per_unit():
    floors = Floors()
    assert (floors.of(MILLISECONDS), floors.of(SECONDS), floors.of(RATIO), floors.of(COUNT), floors.of(None)) == (
        1.0, 0.001, 0.001, 1.0, 0.0)
    assert Floors(duration_ms=5, ratio_points=1, count=10).of(SECONDS) == 0.005


def test_noise_needs_both_tolerance_and_floor_exceeded():
    within = noise.within_noise
    assert within(0.0044, 44.0, tolerance=5, floor=1.0)  # the http_req_blocked.avg: +44%, 4 µs
    assert within(3.0, 2.0, tolerance=5, floor=1.0)  # beyond the floor, within the tolerance
    assert not within(3.0, 30.0, tolerance=5, floor=1.0)
    assert within(1.0, None, tolerance=5, floor=1.0)  # from 0: only the floor, and 1 is not beyond 1
    assert not within(2.0, None, tolerance=5, floor=1.0)
    assert within(0.6 - 0.599, 0.17, tolerance=0, floor=0.001)  # 0.1 point after float subtraction


def test_a_recorded_unit_wins_over_the_query():
    assert noise.objective_unit({"unit": "s", "query": "sum(foo_total)"}) == SECONDS
    assert noise.objective_unit({"unit": "Hz"}) == COUNT
    assert noise.objective_unit({"unit": "none", "query": 'min(up{job="b"})'}) == RATIO  # not known: from the query
    assert noise.objective_unit({}) is None
