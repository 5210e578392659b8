"""summary.json of a flat run (k6/memory.py), computed from what k6 sent to Prometheus.

A flat k6 writes no summary: it keeps no samples to summarise. This writes the same file in
k6's --summary-export shape from the run's series at the end of its window, so everything
that reads a summary (the headline, the no-traffic guard, dropped iterations, `compare`)
reads this one the same way:

  counter  k6_<name>_total          {count, rate}: exact (rate over the run's seconds)
  trend    k6_<name>[_seconds]      {avg, med, p(90), p(95), p(99), min, max}, in ms for a
           (native histogram)       time trend as k6 writes them; avg is exact, the others
                                    are within one bucket (listed under perfctl.approximate)
  rate     k6_<name>_rate           {value}: exact with one series; with several (one per
                                    check, per status) there is no exact total, so null and
                                    listed under perfctl.unavailable; http_req_failed is
                                    computed exactly from the request counters
  gauge    k6_<name>                {value, min, max}; vus and vus_max add up over instances

A `perfctl` section says where the numbers came from.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from orchestrator.errors import PerfctlError
from orchestrator.k6.summary import ADDITIVE_GAUGES  # vus and vus_max add up over instances, as merged there
from orchestrator.sli import K6

TREND_QUANTILES = (("med", 0.5), ("p(90)", 0.9), ("p(95)", 0.95), ("p(99)", 0.99), ("min", 0.0), ("max", 1.0))
ZERO_BUCKET = 1e-30  # far below any real sample (1 ns is 1e-9 s), far above the zero bucket's ~3e-39


def build(prom, fill: Callable[[str], str], *, at: float, seconds: float) -> dict:
    """The summary of the run whose $testid and $window `fill` puts in, pinned to its end `at`."""
    def scalar(query: str) -> float | None:
        value = prom.scalar(fill(query), at=at)
        return value if value is not None and math.isfinite(value) else None

    names = sorted(s.labels.get("__name__", "") for s in prom.query(fill(f"group by (__name__) ({{{K6}}})"), at=at))
    metrics: dict[str, dict] = {}
    approximate: list[str] = []
    unavailable: list[str] = []
    for series in (n for n in names if n.startswith("k6_")):
        name, entry, approx, missing = _metric(series, scalar, seconds)
        if entry is None:
            continue
        metrics[name] = entry
        approximate += [f"{name}.{key}" for key in approx]
        unavailable += [f"{name}.{key}" for key in missing]
    if "http_reqs" in metrics:
        metrics["http_req_failed"] = _http_failed(scalar)  # exact, whatever its rate series say
        unavailable = [key for key in unavailable if not key.startswith("http_req_failed.")]
    return {
        "metrics": metrics,
        "perfctl": {
            "source": "prometheus",
            "run_seconds": seconds,
            "approximate": approximate,
            "unavailable": unavailable,
            "note": "k6 ran with flat memory (no per-sample store): these numbers are computed from its "
                    "remote-write series; trend percentiles, min and max within one native-histogram bucket",
        },
    }


def write(path: Path, prom, fill: Callable[[str], str], *, at: float, seconds: float) -> bool:
    """summary.json from Prometheus; False (nothing written) when Prometheus cannot answer: the
    gate then judges without it, and says so, as for any run whose k6 wrote no summary."""
    from orchestrator.ledger.store import write_json

    try:
        summary = build(prom, fill, at=at, seconds=seconds)
    except PerfctlError:
        return False
    if not summary["metrics"]:
        return False  # no k6 series for this run: nothing to summarise, and no file that says otherwise
    write_json(path, summary)
    return True


def _metric(series: str, scalar, seconds: float):
    """(k6's name, its summary entry or None, approximate keys, unavailable keys) of one series name."""
    selector = f"{series}{{{K6}}}"
    if series.endswith("_total"):
        count = scalar(f"sum(last_over_time({selector}[$window]))")
        if count is None:
            return series, None, [], []
        return series[3:-6], {"count": count, "rate": count / seconds if seconds > 0 else None}, [], []
    if series.endswith("_rate"):
        name = series[3:-5]
        values = scalar(f"count(last_over_time({selector}[$window]))")
        if values == 1:
            return name, {"value": scalar(f"sum(last_over_time({selector}[$window]))")}, [], []
        return name, {"value": None}, [], ["value"]
    count = scalar(f"sum(histogram_count({selector}))")
    if count is not None:
        return _trend(series, selector, scalar, count)
    name = series[3:]
    pick = "sum" if name in ADDITIVE_GAUGES else "max"
    value = scalar(f"{pick}(last_over_time({selector}[$window]))")
    if value is None:
        return name, None, [], []
    return name, {
        "value": value,
        "min": scalar(f"min_over_time({pick}({selector})[$window:1s])"),
        "max": scalar(f"max_over_time({pick}({selector})[$window:1s])"),
    }, [], []


def _trend(series: str, selector: str, scalar, count: float):
    time_trend = series.endswith("_seconds")
    name = series[3:-8] if time_trend else series[3:]
    scale = 1000.0 if time_trend else 1.0  # k6 writes durations in ms

    def scaled(value: float | None) -> float | None:
        # The zero bucket (|v| below ~3e-39) interpolates to ±1e-36 and such: a trend of
        # durations or sizes that never left it is 0.
        return None if value is None else (0.0 if abs(value) < ZERO_BUCKET else value * scale)

    total = scalar(f"sum(histogram_sum({selector}))")
    entry: dict = {"avg": scaled(total / count) if total is not None and count else None}
    for key, quantile in TREND_QUANTILES:
        entry[key] = scaled(scalar(f"histogram_quantile({quantile:g}, sum({selector}))"))
    return name, entry, [key for key, _ in TREND_QUANTILES], []


def _http_failed(scalar) -> dict:
    """http_req_failed as k6 counts it: `passes` are the failed requests (k6's rate of `true`)."""
    total = scalar(f"sum(last_over_time(k6_http_reqs_total{{{K6}}}[$window]))") or 0.0
    failed = scalar(f'sum(last_over_time(k6_http_reqs_total{{{K6},expected_response="false"}}[$window]))') or 0.0
    return {"passes": failed, "fails": total - failed, "value": failed / total if total else 0.0}
