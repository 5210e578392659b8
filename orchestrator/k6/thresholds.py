"""k6 thresholds as PromQL over the run, for runs whose k6 keeps no samples (k6/memory.py).

k6 evaluates a threshold on its own in-memory sinks: every sample of a trend, the passes
and fails of a rate. A k6 run with `--no-thresholds` keeps none of that, so the same
expression is computed here from what the remote-write output sent, over the whole run:

  trend    p(N) med avg min max   from the native histogram (k6_<metric>_seconds, in ms as k6
                                  writes durations; k6_<metric> for a trend that is not a time)
  counter  count rate             k6_<metric>_total, rate = count / the run's seconds
  rate     rate                   http_req_failed: failed / all requests from k6_http_reqs_total;
                                  another rate: k6_<metric>_rate, its worst series (the
                                  lowest for `>`, the highest for `<`)
  gauge    value                  k6_<metric>, the last value (its worst series, as a rate's)

Percentiles, the median, min and max come out within one histogram bucket of k6's exact
numbers (min is the lowest bucket's lower bound, max the highest's upper bound); avg,
counts and the request-counter rates are exact. A tag selector (`http_req_duration{name:send}`)
becomes label matchers on the same series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.config.k6_terms import K6_THRESHOLD
from orchestrator.config.objectives import Objective
from orchestrator.errors import UsageError
from orchestrator.sli import K6

_KEY = re.compile(r"^(?P<metric>[A-Za-z_][A-Za-z0-9_]*)(?:\{(?P<tags>[^{}]*)\})?$")
_TAG = re.compile(r"^\s*(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<value>[^,]*?)\s*$")
TREND_AGGREGATIONS = ("avg", "min", "max", "med")


@dataclass(frozen=True)
class K6Threshold:
    """One k6 threshold expression on one metric key, as the script declares it."""

    key: str  # `http_req_duration` or `http_req_duration{name:send}`
    expression: str  # `p(95)<500`
    abort_on_fail: bool = False
    delay_abort_eval: str | None = None  # k6's duration text, e.g. `10s`

    @property
    def name(self) -> str:
        """The grade's name: `k6:` + k6's own words (no user objective can have a ':' in its name)."""
        return f"k6:{self.key}:{''.join(self.expression.split())}"


def thresholds_of(declared: dict) -> list[K6Threshold]:
    """The thresholds of a script's options (perfctl's PLAN or `k6 inspect` of a hand-written
    script): {key: [text | {threshold, abortOnFail, delayAbortEval}]}."""
    found = []
    for key, items in (declared or {}).items():
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, str):
                found.append(K6Threshold(key, item))
            elif isinstance(item, dict) and isinstance(item.get("threshold"), str):
                delay = item.get("delayAbortEval")
                found.append(K6Threshold(key, item["threshold"], bool(item.get("abortOnFail")),
                                         str(delay) if delay not in (None, "") else None))
    return found


# What a metric is, for its PromQL: k6's types, with a trend of durations told apart (k6 writes
# ms; the remote-write output sends seconds, as k6_<name>_seconds).
COUNTER, GAUGE, RATE, TREND, TIME_TREND = "counter", "gauge", "rate", "trend", "time-trend"
_AGGREGATIONS = {
    COUNTER: "count or rate", GAUGE: "value", RATE: "rate", TREND: "avg, min, max, med or p(N)",
    TIME_TREND: "avg, min, max, med or p(N)",
}


def metric_kinds(plan: dict | None = None) -> dict[str, str]:
    """The kind of each metric a script can send: k6's built-ins, perfctl's script metrics, and
    the scenario's declared metrics (`plan`: render/plan.py's PLAN, its `metrics`). A
    hand-written script's own metrics are not known: their thresholds are read whichever way
    k6 sent them."""
    from orchestrator.config.k6_terms import K6_BUILTIN_METRICS, PERFCTL_SCRIPT_METRICS, TIME_TRENDS

    kinds = {name: TIME_TREND if name in TIME_TRENDS else kind
             for name, kind in {**K6_BUILTIN_METRICS, **PERFCTL_SCRIPT_METRICS}.items()}
    declared = plan.get("metrics") if isinstance(plan, dict) else None
    for name, spec in (declared or {}).items():
        if isinstance(spec, dict) and spec.get("type") in (COUNTER, GAUGE, RATE, TREND):
            kinds[name] = TIME_TREND if spec["type"] == TREND and spec.get("time") else spec["type"]
    return kinds


def objective_of(threshold: K6Threshold, kinds: dict[str, str]) -> Objective:
    """The threshold as a key objective of weight 0, as k6's own thresholds weigh in the verdict
    (run/judge.k6_grades): it decides through the key rule, never lifts the score.
    abortOnFail makes it live: the live gate stops the run when it fails, as k6 would have.
    A threshold whose aggregation the metric does not have is a UsageError (k6 itself would
    refuse it at start; with --no-thresholds it never looks)."""
    metric, matchers = _parse_key(threshold.key)
    match = K6_THRESHOLD.match(threshold.expression)
    if match is None:
        raise UsageError(f"k6 threshold '{threshold.expression}' on {threshold.key}: not k6's grammar "
                         "(e.g. p(95)<500, rate<0.01, count>=100)")
    kind = kinds.get(metric)
    agg = "trend" if match["pct"] is not None or match["agg"] in TREND_AGGREGATIONS else match["agg"]
    fits = {"trend": (TREND, TIME_TREND), "count": (COUNTER,), "rate": (COUNTER, RATE), "value": (GAUGE,)}[agg]
    if kind is not None and kind not in fits:
        raise UsageError(f"k6 threshold '{threshold.expression}' on {threshold.key}: {metric} is a "
                         f"{kind.replace('time-', '')}, which takes {_AGGREGATIONS[kind]}")
    op = "==" if match["op"] == "===" else match["op"]
    query = _query(metric, matchers, match["agg"], match["pct"], kind, worst="min" if op in (">", ">=") else "max")
    live = {}
    if threshold.abort_on_fail:
        from orchestrator.config.durations import parse_duration

        delay = parse_duration(threshold.delay_abort_eval) if threshold.delay_abort_eval else 0.0
        live = {"live": True, "grace": 0.0, "live_after": delay, "live_window": "run"}
    objective = Objective(name="k6-threshold", query=query, pass_=f"{op} {match['number']}", key=True,
                          unit=_unit(metric, match["agg"], kind), **live)
    return objective.model_copy(update={"name": threshold.name, "weight": 0.0})


def objectives_of(declared: dict, kinds: dict[str, str]) -> list[Objective]:
    return [objective_of(t, kinds) for t in thresholds_of(declared)]


def metric_of(key: str) -> str:
    """The metric of a threshold key: `http_req_duration{name:send}` -> http_req_duration."""
    return key.partition("{")[0].strip()


def _parse_key(key: str) -> tuple[str, str]:
    """`metric{tag:value,...}` -> (metric, `,tag="value",...` PromQL matchers)."""
    match = _KEY.match(key.strip())
    if match is None:
        raise UsageError(f"k6 threshold key '{key}': expected metric or metric{{tag:value}}")
    matchers = ""
    for part in filter(None, (match["tags"] or "").split(",")):
        tag = _TAG.match(part)
        if tag is None:
            raise UsageError(f"k6 threshold key '{key}': '{part}' is not tag:value")
        matchers += f',{tag["tag"]}="{_promql_string(tag["value"])}"'
    return match["metric"], matchers


def _promql_string(value: str) -> str:
    """A tag value inside a PromQL double-quoted string: the value never ends the string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _query(metric: str, matchers: str, agg: str, pct: str | None, kind: str | None, *, worst: str) -> str:
    """`worst`: min or max, the series that decides when a rate or gauge has several (the one
    furthest on the failing side of the operator: min for `>`, max for `<`)."""
    labels = f"{{{K6}{matchers}}}"
    if pct is not None or agg in TREND_AGGREGATIONS:
        return _trend_query(metric, labels, agg, pct, kind)
    counter = f"sum(last_over_time(k6_{metric}_total{labels}[$window]))"
    if agg == "count":
        return counter
    if agg == "value":
        return f"{worst}(last_over_time(k6_{metric}{labels}[$window]))"
    if kind == COUNTER:
        return f"{counter} / $seconds"  # k6's rate of a counter: per second of the run
    if metric == "http_req_failed":
        # Exact, weighted by requests: the failed requests are the ones k6 did not expect.
        failed = f'(sum(last_over_time(k6_http_reqs_total{{{K6}{matchers},expected_response="false"}}[$window])) or vector(0))'
        return f"{failed} / sum(last_over_time(k6_http_reqs_total{labels}[$window]))"
    # A Rate with several series (one per check, per status) has no exact total without its
    # counts: the worst series decides, so the threshold never passes on an average.
    ratio = f"{worst}(last_over_time(k6_{metric}_rate{labels}[$window]))"
    return ratio if kind == RATE else f"{ratio} or ({counter} / $seconds)"


def _trend_query(metric: str, labels: str, agg: str, pct: str | None, kind: str | None) -> str:
    """The aggregation of a time trend (seconds, scaled to k6's ms) or of another trend; of
    whichever k6 sent when the kind is not known (a hand-written script's own Trend)."""
    def of(series: str) -> str:
        if agg == "avg":
            return f"(sum(histogram_sum({series})) / sum(histogram_count({series})))"
        quantile = {"med": "0.5", "min": "0", "max": "1"}.get(agg) or f"{float(pct) / 100:g}"
        return f"histogram_quantile({quantile}, sum({series}))"

    timed, plain = f"({of(f'k6_{metric}_seconds{labels}')} * 1000)", of(f"k6_{metric}{labels}")
    return {TIME_TREND: timed, TREND: plain}.get(kind or "", f"{timed} or {plain}")


def _unit(metric: str, agg: str, kind: str | None) -> str:
    """How reports print the value, in k6's own units (durations in ms)."""
    if agg == "count":
        return "count"
    if agg == "rate":
        if metric == "http_reqs":
            return "req/s"
        return "ratio" if kind == RATE else "none"
    if agg == "value":
        return "none"
    return "ms" if kind == TIME_TREND else "none"
