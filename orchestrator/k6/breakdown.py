"""What k6 itself measured, for people: the headline of its summary and a table per request
(k6's `name` tag), each request beside its own k6 thresholds.

The headline comes from k6's --summary-export (its end-of-test numbers: exact percentiles of
every sample). The per-request rows come from Prometheus, because the summary holds a
request's numbers only when a threshold selects it: counts from the request counters, p95
from the trend stat (the worst series of that name: an upper bound when a name has several
status or method series) or, in multi-instance runs, from the summed native histograms.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestrator.errors import PerfctlError

K6 = 'testid="$testid"'
# k6's submetric keys in the summary: `http_req_duration{name:send}`.
_NAMED_SUBMETRIC = re.compile(r"^(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\{name:(?P<name>[^}]*)\}$")
MAX_ROWS = 50  # a script that names requests by URL can have thousands: the busiest are shown

REQUEST_QUERIES = {
    "count": f"sum by (name) (last_over_time(k6_http_reqs_total{{{K6}}}[$window]))",
    "failed": f'sum by (name) (last_over_time(k6_http_reqs_total{{{K6},expected_response="false"}}[$window]))',
    "p95": f"max by (name) (last_over_time(k6_http_req_duration_p95{{{K6}}}[$window]))",
}
NATIVE_P95 = f"histogram_quantile(0.95, sum by (name) (k6_http_req_duration_seconds{{{K6}}}))"


@dataclass(frozen=True)
class Headline:
    """k6's end-of-test numbers; durations in seconds, ratios 0..1."""

    requests: float | None = None
    request_rate: float | None = None
    failed_ratio: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    iterations: float | None = None
    vus_max: float | None = None
    data_received: float | None = None
    data_sent: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Threshold:
    metric: str
    text: str  # k6's expression, e.g. p(95)<500
    failed: bool | None  # None: k6 did not say


@dataclass(frozen=True)
class RequestRow:
    name: str
    count: float
    failed_ratio: float | None
    p95: float | None  # seconds
    thresholds: tuple[Threshold, ...] = ()

    def as_dict(self) -> dict:
        return {"name": self.name, "count": self.count, "failed_ratio": self.failed_ratio, "p95": self.p95,
                "thresholds": [asdict(t) for t in self.thresholds]}


def headline(summary_path: Path) -> Headline | None:
    """The headline of k6's --summary-export file; None without a readable one."""
    try:
        metrics = json.loads(summary_path.read_text(encoding="utf-8")).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(metrics, dict):
        return None

    def value(metric: str, key: str, scale: float = 1.0) -> float | None:
        entry = metrics.get(metric)
        item = entry.get(key) if isinstance(entry, dict) else None
        return float(item) * scale if isinstance(item, (int, float)) and math.isfinite(item) else None

    return Headline(
        requests=value("http_reqs", "count"),
        request_rate=value("http_reqs", "rate"),
        failed_ratio=value("http_req_failed", "value"),
        p50=value("http_req_duration", "med", 0.001),  # k6's summary keeps milliseconds
        p95=value("http_req_duration", "p(95)", 0.001),
        p99=value("http_req_duration", "p(99)", 0.001),
        iterations=value("iterations", "count"),
        vus_max=value("vus_max", "max") or value("vus_max", "value"),
        data_received=value("data_received", "count"),
        data_sent=value("data_sent", "count"),
    )


def named_thresholds(summary_path: Path) -> dict[str, tuple[Threshold, ...]]:
    """k6 thresholds that select one request by its name, with k6's word on each."""
    try:
        metrics = json.loads(summary_path.read_text(encoding="utf-8")).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return {}
    found: dict[str, list[Threshold]] = {}
    for key, entry in (metrics.items() if isinstance(metrics, dict) else ()):
        match = _NAMED_SUBMETRIC.match(key)
        if not match or not isinstance(entry, dict):
            continue
        thresholds = entry.get("thresholds")
        if not isinstance(thresholds, dict):  # a foreign or hand-edited summary: no thresholds to show
            continue
        for text, failed in thresholds.items():
            # --summary-export marks a threshold true when it failed.
            found.setdefault(match["name"], []).append(
                Threshold(match["metric"], text, failed if isinstance(failed, bool) else None))
    return {name: tuple(items) for name, items in found.items()}


def per_request(prom, fill, *, at: float, native_histograms: bool, summary_path: Path) -> list[RequestRow]:
    """One row per request name, busiest first. `fill` puts the run's $testid and $window in.
    Prometheus trouble leaves the table empty: it never stands between a run and its verdict."""
    try:
        columns = {column: _by_name(prom, fill(query), at) for column, query in REQUEST_QUERIES.items()}
        if native_histograms:
            columns["p95"] = _by_name(prom, fill(NATIVE_P95), at) or columns["p95"]
    except PerfctlError:
        return []
    thresholds = named_thresholds(summary_path)
    rows = []
    for name, count in sorted(columns["count"].items(), key=lambda item: (-item[1], item[0]))[:MAX_ROWS]:
        failed = columns["failed"].get(name, 0.0)
        rows.append(RequestRow(
            name=name, count=count, failed_ratio=failed / count if count > 0 else None,
            p95=columns["p95"].get(name), thresholds=thresholds.get(name, ()),
        ))
    return rows


def _by_name(prom, query: str, at: float) -> dict[str, float]:
    return {s.labels.get("name", ""): s.value for s in prom.query(query, at=at) if math.isfinite(s.value)}


def row_from_dict(data: dict) -> RequestRow:
    return RequestRow(
        name=str(data.get("name", "")), count=float(data.get("count") or 0), failed_ratio=data.get("failed_ratio"),
        p95=data.get("p95"),
        thresholds=tuple(Threshold(t.get("metric", ""), t.get("text", ""), t.get("failed"))
                         for t in data.get("thresholds") or ()),
    )


_JUDGED = re.compile(r"^k6:(?P<key>[A-Za-z_][A-Za-z0-9_]*(?:\{[^{}]*\})?):(?P<expression>.+)$")


def with_judged_thresholds(rows: list[RequestRow], failed: dict[str, bool]) -> list[RequestRow]:
    """Rows beside their thresholds as the gate judged them (a flat run's k6 ran none itself):
    `failed` maps a grade name (k6/thresholds.K6Threshold.name) to whether it failed."""
    found: dict[str, list[Threshold]] = {}
    for grade, did_fail in failed.items():
        judged = _JUDGED.match(grade)
        named = _NAMED_SUBMETRIC.match(judged["key"]) if judged else None
        if named:
            found.setdefault(named["name"], []).append(Threshold(named["metric"], judged["expression"], did_fail))
    return [RequestRow(r.name, r.count, r.failed_ratio, r.p95, tuple(found.get(r.name, r.thresholds))) for r in rows]
