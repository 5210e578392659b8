"""orchestrator/k6/breakdown.py: k6's headline from a real --summary-export file's shape, the
thresholds per named request, and the per-request rows built from Prometheus's answers
(the `prom` seam: anything with .query(promql, at=) -> samples; tests/e2e/test_k6_breakdown_e2e.py
runs it against real k6 and Prometheus)."""

from __future__ import annotations

import json
import math

import pytest

from orchestrator.errors import EnvironmentProblem
from orchestrator.k6.breakdown import (
    MAX_ROWS, NATIVE_P95, REQUEST_QUERIES, Headline, RequestRow, Threshold, headline, named_thresholds, per_request,
    row_from_dict,
)
from orchestrator.monitoring.prometheus import Sample

SUMMARY = {
    "metrics": {
        "http_reqs": {"count": 1200, "rate": 40.5},
        "http_req_failed": {"passes": 12, "fails": 1188, "value": 0.01},
        "http_req_duration": {"avg": 20, "med": 12.5, "p(90)": 40, "p(95)": 48, "p(99)": 90, "max": 120},
        "iterations": {"count": 600, "rate": 20},
        "vus_max": {"value": 10, "min": 10, "max": 10},
        "data_received": {"count": 123456, "rate": 4000},
        "data_sent": {"count": 7890, "rate": 200},
        "http_req_duration{name:send}": {"p(95)": 30, "thresholds": {"p(95)<500": False, "p(99)<10": True}},
        "http_req_failed{name:send}": {"value": 0, "thresholds": {"rate<0.01": False}},
        "checks{name:other}": {"thresholds": {"rate>0.9": "weird"}},
        "http_req_duration{scenario:main}": {"thresholds": {"p(95)<1": False}},
    }
}


def write(tmp_path, data) -> "Path":
    path = tmp_path / "summary.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_headline_reads_k6s_numbers_in_seconds_and_ratios(tmp_path):
    h = headline(write(tmp_path, SUMMARY))
    assert h == Headline(requests=1200, request_rate=40.5, failed_ratio=0.01, p50=0.0125, p95=0.048, p99=0.09,
                         iterations=600, vus_max=10, data_received=123456, data_sent=7890)
    assert h.as_dict()["p95"] == 0.048


def test_headline_leaves_out_what_is_missing_or_not_a_finite_number(tmp_path):
    data = {"metrics": {"http_reqs": {"count": "12", "rate": None}, "http_req_duration": {"p(95)": float("nan")},
                        "vus_max": {"value": 3}, "iterations": []}}
    h = headline(write(tmp_path, json.dumps(data)))
    assert h == Headline(vus_max=3.0)


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"metrics": [1]}', '"text"'])
def test_no_headline_from_an_unreadable_summary(tmp_path, text):
    assert headline(write(tmp_path, text)) is None


def test_no_headline_without_a_file(tmp_path):
    assert headline(tmp_path / "absent.json") is None


def test_named_thresholds_keep_k6s_word_per_request(tmp_path):
    found = named_thresholds(write(tmp_path, SUMMARY))
    assert found == {
        "send": (Threshold("http_req_duration", "p(95)<500", False), Threshold("http_req_duration", "p(99)<10", True),
                 Threshold("http_req_failed", "rate<0.01", False)),
        "other": (Threshold("checks", "rate>0.9", None),),
    }  # {scenario:main} selects no request: not listed


@pytest.mark.parametrize("text", ["", "[]", '{"metrics": 3}', '{"metrics": {"x{name:a}": 5}}'])
def test_named_thresholds_of_an_unreadable_summary_are_none(tmp_path, text):
    assert named_thresholds(write(tmp_path, text)) == {}


def test_named_thresholds_of_a_summary_with_a_malformed_thresholds_entry_are_skipped(tmp_path):
    # A foreign or hand-edited summary must not stop the report (headline() is just as tolerant).
    data = {"metrics": {"http_req_duration{name:a}": {"thresholds": ["p(95)<1"]},
                        "http_req_duration{name:b}": {"thresholds": {"p(95)<2": True}}}}
    assert named_thresholds(write(tmp_path, data)) == {"b": (Threshold("http_req_duration", "p(95)<2", True),)}


class Answers:
    """Prometheus's answers by query, as monitoring.prometheus.Prometheus.query gives them."""

    def __init__(self, by_query: dict[str, list[Sample]], fail: bool = False):
        self.by_query, self.fail, self.asked = by_query, fail, []

    def query(self, promql: str, *, at: float):
        self.asked.append((promql, at))
        if self.fail:
            raise EnvironmentProblem("Prometheus is gone")
        return self.by_query.get(promql, [])


def fill(query: str) -> str:
    return query.replace("$testid", "run-1").replace("$window", "60s")


def samples(**values) -> list[Sample]:
    return [Sample({"name": name.replace("_", "/")}, value) for name, value in values.items()]


def test_rows_are_busiest_first_with_failed_ratio_p95_and_thresholds(tmp_path):
    prom = Answers({
        fill(REQUEST_QUERIES["count"]): samples(send=100.0, list=300.0, idle=0.0, zz=100.0, bad=float("nan")),
        fill(REQUEST_QUERIES["failed"]): samples(send=5.0),
        fill(REQUEST_QUERIES["p95"]): samples(send=0.03, list=0.2),
    })
    rows = per_request(prom, fill, at=1000.0, native_histograms=False, summary_path=write(tmp_path, SUMMARY))
    assert [r.name for r in rows] == ["list", "send", "zz", "idle"]  # by count, then name; NaN left out
    by = {r.name: r for r in rows}
    assert by["send"].failed_ratio == 0.05 and by["send"].p95 == 0.03
    assert by["list"].failed_ratio == 0.0 and by["list"].p95 == 0.2
    assert by["idle"].failed_ratio is None  # no requests: no ratio, not 0
    assert by["zz"].p95 is None
    assert len(by["send"].thresholds) == 3 and by["list"].thresholds == ()
    assert {at for _, at in prom.asked} == {1000.0}
    assert all("run-1" in q and "$" not in q for q, _ in prom.asked)


def test_native_histograms_give_the_p95_when_they_have_it(tmp_path):
    prom = Answers({
        fill(REQUEST_QUERIES["count"]): samples(a=10.0, b=10.0),
        fill(REQUEST_QUERIES["p95"]): samples(a=9.0, b=9.0),
        fill(NATIVE_P95): samples(a=0.5),
    })
    rows = per_request(prom, fill, at=1.0, native_histograms=True, summary_path=tmp_path / "none.json")
    assert {r.name: r.p95 for r in rows} == {"a": 0.5, "b": None}
    empty_native = Answers({fill(REQUEST_QUERIES["count"]): samples(a=10.0), fill(REQUEST_QUERIES["p95"]): samples(a=9.0)})
    rows = per_request(empty_native, fill, at=1.0, native_histograms=True, summary_path=tmp_path / "none.json")
    assert rows[0].p95 == 9.0  # no native answer: the trend stat stays


def test_at_most_max_rows(tmp_path):
    prom = Answers({fill(REQUEST_QUERIES["count"]): [Sample({"name": f"r{i:03d}"}, float(i)) for i in range(MAX_ROWS + 20)]})
    rows = per_request(prom, fill, at=1.0, native_histograms=False, summary_path=tmp_path / "none.json")
    assert len(rows) == MAX_ROWS and rows[0].name == f"r{MAX_ROWS + 19:03d}"


def test_prometheus_trouble_leaves_the_table_empty(tmp_path):
    assert per_request(Answers({}, fail=True), fill, at=1.0, native_histograms=False, summary_path=tmp_path / "x") == []


def test_a_row_survives_the_round_trip_through_its_dict():
    row = RequestRow("send", 10.0, 0.1, 0.25, (Threshold("http_req_duration", "p(95)<1", False),))
    assert row_from_dict(json.loads(json.dumps(row.as_dict()))) == row
    assert row_from_dict({}) == RequestRow("", 0.0, None, None, ())
    assert math.isclose(row_from_dict({"count": "3"}).count, 3.0)
