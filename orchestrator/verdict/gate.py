"""Objectives -> PromQL over the run window -> values -> grades -> verdict.

Queries are instant queries evaluated at the run's end (`time` = end), over a range
equal to the run window, so re-evaluating a run later gives the same numbers. Before a
value counts, the data behind it must be there: the backend's scrape target up for
the whole window, k6's metric stream without gaps. Otherwise the objective is
inconclusive, never pass.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from orchestrator import units
from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.config.durations import k6_duration
from orchestrator.monitoring.prometheus import Prometheus, QueryRejected
from orchestrator.sli import K6, SLIS, rate_range_seconds

# The built-in SLIs (their PromQL, chart series, units) are records in orchestrator/sli.py.

# k6's load shape for the report, on the same time axis as the objectives.
LOAD_QUERIES: dict[str, str] = {
    "VUs": f"sum(k6_vus{{{K6}}})",
    "requests/s": f"sum(rate(k6_http_reqs_total{{{K6}}}[$push_range]))",
    "failed requests": (
        f'(sum(rate(k6_http_reqs_total{{{K6},expected_response="false"}}[$push_range]))'
        f" or (0 * sum(rate(k6_http_reqs_total{{{K6}}}[$push_range]))))"
        f" / sum(rate(k6_http_reqs_total{{{K6}}}[$push_range]))"
    ),
}
PLACEHOLDERS = ("$testid", "$window", "$start", "$end", "$seconds", "$job", "$rate_range", "$step", "$push_range")
# Less than this share of the expected samples in the window is a gap.
MIN_COVERAGE = 0.7


@dataclass(frozen=True)
class Window:
    start: float  # unix seconds
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)

    @property
    def promql_range(self) -> str:
        return f"{max(1, math.ceil(self.seconds))}s"


@dataclass(frozen=True)
class QueryContext:
    run_id: str
    window: Window
    scrape_interval: float
    push_interval: float

    def fill(self, template: str, job: str | None = None) -> str:
        rate_range = rate_range_seconds(self.scrape_interval)
        values = {
            "$testid": self.run_id,
            "$window": self.window.promql_range,
            "$start": f"{self.window.start:.3f}",
            "$end": f"{self.window.end:.3f}",
            "$seconds": f"{max(self.window.seconds, 0.001):.3f}",
            "$job": job or "",
            "$rate_range": k6_duration(rate_range),  # PromQL takes 500ms, not 0.5s
            "$step": k6_duration(self.scrape_interval),
            # rate() over k6's pushed counters needs at least two pushes in its range.
            "$push_range": k6_duration(max(2.0, 3 * self.push_interval)),
        }
        # Longest first, so `$start` is never eaten by a shorter name.
        for name in sorted(values, key=len, reverse=True):
            template = template.replace(name, values[name])
        return template


@dataclass(frozen=True)
class GateResult:
    verdict: slo.Verdict
    queries: dict[str, str]
    coverage: dict[str, str] = field(default_factory=dict)  # why data was judged missing, per objective
    measured_at: dict[str, float] = field(default_factory=dict)  # when each query was pinned (unix seconds)


def objectives_for(config: Config, scenario: str) -> list[Objective]:
    """The scenario's objectives, and the guards perfctl adds when none watches errors."""
    from orchestrator.verdict.guards import guard_objectives

    return [o for o in config.objectives if o.applies_to(scenario)] + guard_objectives(config, scenario)


def objective_query(obj: Objective, ctx: QueryContext, *, native_histograms: bool = False) -> str:
    if obj.query is not None:
        template = obj.query
    else:
        record = SLIS[obj.sli]
        template = record.native_query if native_histograms and record.native_query else record.query
    return ctx.fill(template, obj.job)


def series_query(obj: Objective, ctx: QueryContext, *, native_histograms: bool = False) -> tuple[str, str]:
    """(PromQL for query_range, what it shows) for an objective's chart."""
    if obj.query is not None:
        # A custom query's value over a trailing range at each step, instead of the whole window.
        return ctx.fill(obj.query.replace("$window", "$push_range"), obj.job), "the query over a trailing range"
    record = SLIS[obj.sli]
    if native_histograms and record.native_series:
        return ctx.fill(record.native_series, obj.job), "cumulative since the start"
    return ctx.fill(record.series, obj.job), record.series_note


def measure_time(obj: Objective, window: Window) -> float:
    """When the objective's query is pinned: the run's end, or drain_seconds after it."""
    return window.end + (obj.drain_seconds or 0.0)


def drain_deadline(objectives: list[Objective], window: Window, scrape_interval: float) -> float:
    """The time after which every objective's data is in Prometheus (the last scrape included)."""
    latest = max((measure_time(o, window) for o in objectives), default=window.end)
    return latest + (2 * scrape_interval if latest > window.end else 0.0)


def spec_of(obj: Objective) -> slo.ObjectiveSpec:
    return slo.ObjectiveSpec(
        name=obj.name,
        pass_criteria=criteria.parse_criteria(obj.pass_),
        warning_criteria=criteria.parse_criteria(obj.warning) if obj.warning else None,
        weight=obj.weight,
        key=obj.key,
        unit=units.sli_unit(obj.sli, obj.unit),
    )


def evaluate(
    config: Config,
    prom: Prometheus,
    *,
    run_id: str,
    scenario: str,
    window: Window,
    baselines: dict[str, float] | None = None,
    objectives: list[Objective] | None = None,
    require_baseline: bool | None = None,
) -> GateResult:
    """`require_baseline`: None reads gate.require_baseline (see slo.grade)."""
    objectives = objectives_for(config, scenario) if objectives is None else objectives
    strict = config.gate.require_baseline if require_baseline is None else require_baseline
    ctx = QueryContext(run_id, window, config.prometheus.scrape_interval, config.k6.push_interval)
    queries = {o.name: objective_query(o, ctx, native_histograms=config.k6.native_histograms) for o in objectives}

    def measure(obj: Objective) -> tuple[float | None, str]:
        try:
            value = prom.scalar(queries[obj.name], at=measure_time(obj, window))
        except QueryRejected as exc:
            return None, exc.message
        return value, "the query returned no data for the run window"

    # The queries, data-gap checks included, are independent: all run side by side (Prometheus
    # answers them in parallel); a gap then overrides the value it makes untrustworthy.
    with ThreadPoolExecutor(max_workers=min(query_workers(), max(1, len(objectives))) + 1) as pool:
        pending_gaps = pool.submit(_data_gaps, objectives, prom, ctx)
        values = list(pool.map(measure, objectives))
        gaps = pending_gaps.result()
    measured = [(None, gaps[o.name]) if o.name in gaps else value for o, value in zip(objectives, values)]
    grades = []
    for obj, (value, missing_reason) in zip(objectives, measured):
        baseline = (baselines or {}).get(obj.name)
        # A baseline was given, but its runs never measured this objective (matched by name).
        why = "none given" if baselines is None else f"the baseline runs have no value for '{obj.name}'"
        grades.append(slo.grade(spec_of(obj), value, baseline, missing_reason=missing_reason,
                                require_baseline=strict, no_baseline_why=why))
    verdict = slo.decide(grades, pass_percent=config.gate.pass_percent, warning_percent=config.gate.warning_percent)
    return GateResult(
        verdict=verdict, queries=queries, coverage=gaps,
        measured_at={o.name: measure_time(o, window) for o in objectives},
    )


def query_workers() -> int:
    """How many gate queries run at once: about two per core. More threads only add GIL and
    switching costs on the client (on 2 cores, 8 threads were ~40% slower than 4: bench/, figure 6)."""
    return min(8, 2 * (os.cpu_count() or 1))


def _data_gaps(objectives: list[Objective], prom: Prometheus, ctx: QueryContext) -> dict[str, str]:
    """Objective name -> why its data is incomplete, for the objectives whose data is."""
    gaps: dict[str, str] = {}
    window = ctx.window
    # A drain objective needs its scrape job up until its measuring time, not only to the end.
    for job, end in sorted({(o.job, measure_time(o, window)) for o in objectives if o.job}):
        scope = ctx if end == window.end else QueryContext(ctx.run_id, Window(window.start, end), ctx.scrape_interval, ctx.push_interval)
        reason = _scrape_gap(prom, scope, job)
        if reason:
            gaps.update({o.name: reason for o in objectives if o.job == job and measure_time(o, window) == end})
    k6_objectives = [o for o in objectives if reads_k6_metrics(o)]
    if k6_objectives:
        reason = _k6_stream_gap(prom, ctx)
        if reason:
            gaps.update({o.name: reason for o in k6_objectives})
    return gaps


def reads_k6_metrics(obj: Objective) -> bool:
    """Built-in k6 SLIs, and custom queries that select this run's k6 series by `$testid`."""
    if obj.sli is not None:
        return SLIS[obj.sli].kind == "k6"
    return "$testid" in (obj.query or "")


def _k6_stream_gap(prom: Prometheus, ctx: QueryContext) -> str:
    """k6 samples its VU gauge every second: a hole in those samples is a lost push.

    Judged by the longest stretch without a sample (and from the last one to the end),
    not by a count, so a slow k6 start-up on a busy machine is not mistaken for a gap.
    """
    window = ctx.window
    limit = max(3 * ctx.push_interval, 5.0)
    series = prom.sample_times(ctx.fill(f"k6_vus{{{K6}}}[$window]"), at=window.end)
    if not series:
        # A sub-second run may end before the first VU sample; its counters still arrive.
        iterations = prom.scalar(ctx.fill(f"count(last_over_time(k6_iterations_total{{{K6}}}[$window]))"), at=window.end)
        if iterations is None:
            return "no k6 metrics for this run id in Prometheus (remote write did not arrive)"
        if window.seconds > limit:
            return "k6's metric stream has gaps: no VU samples arrived"
        return ""
    for labels, times in series:
        times = sorted(times)
        holes = [b - a for a, b in zip(times, times[1:])] + [window.end - times[-1]]
        worst = max(holes)
        if worst > limit:
            where = f" (instance {labels['instance']})" if "instance" in labels else ""
            return f"k6's metric stream has a gap of {worst:.0f}s{where}: pushes were lost"
    return ""


def _scrape_gap(prom: Prometheus, ctx: QueryContext, job: str) -> str:
    up_min = prom.scalar(ctx.fill('min(min_over_time(up{job="$job"}[$window]))', job), at=ctx.window.end)
    if up_min is None:
        return f"scrape job '{job}' has no data in the window (is it in prometheus.scrape?)"
    if up_min < 1:
        return f"scrape target of job '{job}' was down during the window"
    count = prom.scalar(ctx.fill('min(count_over_time(up{job="$job"}[$window]))', job), at=ctx.window.end)
    expected = ctx.window.seconds / ctx.scrape_interval
    if count is not None and expected >= 3 and count < MIN_COVERAGE * expected:
        return f"scrapes of job '{job}' have gaps: {count:.0f} of ~{expected:.0f} in the window"
    return ""
