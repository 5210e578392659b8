"""The built-in SLIs: one record each, read by config, the gate, units, guards, dashboards.

A record holds everything perfctl knows about an SLI: the gate's PromQL (an instant query
pinned to the run's end, over the run's window), the series the report and Grafana chart
(the same quantity at each step, so a chart ends where the value was taken) and what that
series shows, the native-histogram forms for multi-instance runs, the unit, where the data
comes from and what must be complete before a value counts. Adding a built-in SLI means one
record here and its row in docs/slis.md (a test ties the two).

This module sits at the bottom of the import graph: it imports nothing of perfctl, so config,
gate and the reports can all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

K6 = 'testid="$testid"'

Kind = Literal["k6", "backend"]
# What must be complete before a value counts (orchestrator/gate._data_gaps):
# - k6_stream: k6's metric stream for this run id arrived without gaps;
# - scrape_job: the objective's scrape job (`job:`) was up for every scrape of the window;
# - scrape_job_to_drain: as scrape_job, until `drain_seconds` after the end, when it is measured.
Completeness = Literal["k6_stream", "scrape_job", "scrape_job_to_drain"]


@dataclass(frozen=True)
class Sli:
    name: str
    query: str  # the gate's PromQL; placeholders as gate.PLACEHOLDERS
    series: str  # query_range PromQL for the charts
    series_note: str  # what the chart shows, next to the value
    unit: str  # base unit (orchestrator/units.UNITS): what PromQL returns and criteria are written in
    kind: Kind  # whose metrics it reads: k6's remote write, or a scraped backend job
    completeness: Completeness
    doc: str  # what it measures, in one line
    native_query: str | None = None  # the gate's PromQL with k6.native_histograms
    native_series: str | None = None  # the chart's PromQL with k6.native_histograms
    watches_errors_of: tuple[str, ...] = ()  # traffic whose failures it watches (orchestrator/guards)

    def __post_init__(self) -> None:
        # The kind decides the completeness rule's family; a record that mixes them is a typo.
        if (self.kind == "k6") != (self.completeness == "k6_stream"):
            raise ValueError(f"sli {self.name}: kind {self.kind} does not go with completeness {self.completeness}")

    @property
    def needs_job(self) -> bool:
        """A backend SLI names the scrape job whose `up` must hold (`job:` on the objective)."""
        return self.kind == "backend"

    @property
    def drains(self) -> bool:
        """Measured `drain_seconds` after the run's end (the objective must set drain_seconds)."""
        return self.completeness == "scrape_job_to_drain"


# Native histograms (multi-instance runs): the quantile of the SUM of every instance's cumulative
# histogram. Prometheus 2.42 cannot range-select histograms (last_over_time returns 0 for them),
# so the final histograms are read with an instant selector at the window's end (k6 then sends no
# stale markers, see k6.remote_write_env); the `and on()` keeps the value only when the merged
# histograms count exactly the requests k6 counted, so a lost series is "no data", never a number.
_HIST = f"k6_http_req_duration_seconds{{{K6}}}"
_HIST_COMPLETE = f"sum(histogram_count({_HIST})) == sum(last_over_time(k6_http_reqs_total{{{K6}}}[$window]))"


def _http_percentile(name: str, quantile: str) -> Sli:
    # k6's trend stats are cumulative per series; the max over series bounds the true percentile from above.
    return Sli(
        name=name,
        query=f"max(last_over_time(k6_http_req_duration_{name[5:]}{{{K6}}}[$window]))",
        series=f"max(k6_http_req_duration_{name[5:]}{{{K6}}})",
        series_note="k6's cumulative trend stat",
        unit="s", kind="k6", completeness="k6_stream",
        doc=f"HTTP request duration {name[5:]} in seconds, from k6's trend stats",
        native_query=f"histogram_quantile({quantile}, sum({_HIST})) and on() ({_HIST_COMPLETE})",
        native_series=f"histogram_quantile({quantile}, sum({_HIST}))",
    )


# In the order of the JSON schema's enum (`perfctl schema`) and of docs/slis.md's table.
_RECORDS = (
    Sli(
        name="error_ratio",
        # Failed / all HTTP requests, from the request counters: weighted by requests, not a mean of rates.
        query=(
            f'(sum(last_over_time(k6_http_reqs_total{{{K6},expected_response="false"}}[$window])) or vector(0))'
            f" / sum(last_over_time(k6_http_reqs_total{{{K6}}}[$window]))"
        ),
        series=(
            f'(sum(k6_http_reqs_total{{{K6},expected_response="false"}}) or (0 * sum(k6_http_reqs_total{{{K6}}})))'
            f" / sum(k6_http_reqs_total{{{K6}}})"
        ),
        series_note="cumulative since the start",
        unit="ratio", kind="k6", completeness="k6_stream",
        doc="failed HTTP requests / all HTTP requests of the run",
        watches_errors_of=("http",),
    ),
    _http_percentile("http_p95", "0.95"),
    _http_percentile("http_p99", "0.99"),
    Sli(
        name="checks",
        query=f"min(last_over_time(k6_checks_rate{{{K6}}}[$window]))",
        series=f"min(k6_checks_rate{{{K6}}})",
        series_note="cumulative since the start",
        unit="ratio", kind="k6", completeness="k6_stream",
        doc="success rate of the worst check",
        watches_errors_of=("http", "websocket"),
    ),
    Sli(
        name="requests_per_second",
        query=f"sum(last_over_time(k6_http_reqs_total{{{K6}}}[$window])) / $seconds",
        series=f"sum(rate(k6_http_reqs_total{{{K6}}}[$push_range]))",
        series_note="per push interval (the value is the run's average)",
        unit="req/s", kind="k6", completeness="k6_stream",
        doc="HTTP requests delivered per second over the run",
    ),
    Sli(
        name="loop_rate_min",
        # The sustained minimum of the loop's measured rate, from its iteration counter.
        query='min(min_over_time(rate(backend_loop_iterations_total{job="$job"}[$rate_range])[$window:$step]))',
        series='min(rate(backend_loop_iterations_total{job="$job"}[$rate_range]))',
        series_note="measured rate (the value is its minimum)",
        unit="Hz", kind="backend", completeness="scrape_job",
        doc="the sustained minimum of the backend loop's measured rate (iterations/s)",
    ),
    Sli(
        name="kafka_lag_max",
        query='max(max_over_time(sum by (consumergroup) (kafka_consumergroup_lag{job="$job"})[$window:$step]))',
        series='max(sum by (consumergroup) (kafka_consumergroup_lag{job="$job"}))',
        series_note="total lag (the value is its maximum)",
        unit="messages", kind="backend", completeness="scrape_job",
        doc="the highest total lag of any consumer group during the run",
    ),
    Sli(
        name="ws_connect_p95",
        query=f"max(last_over_time(k6_ws_connecting_p95{{{K6}}}[$window]))",
        series=f"max(k6_ws_connecting_p95{{{K6}}})",
        series_note="k6's cumulative trend stat",
        unit="s", kind="k6", completeness="k6_stream",
        doc="WebSocket connect time p95 in seconds",
        # One ws_connecting sample per session: complete when it counts every session k6 counted.
        native_query=(
            f"histogram_quantile(0.95, sum(k6_ws_connecting_seconds{{{K6}}}))"
            f" and on() (sum(histogram_count(k6_ws_connecting_seconds{{{K6}}}))"
            f" == sum(last_over_time(k6_ws_sessions_total{{{K6}}}[$window])))"
        ),
        native_series=f"histogram_quantile(0.95, sum(k6_ws_connecting_seconds{{{K6}}}))",
    ),
    Sli(
        name="ws_message_success",
        query=f"min(last_over_time(k6_ws_reply_success_rate{{{K6}}}[$window]))",
        series=f"min(k6_ws_reply_success_rate{{{K6}}})",
        series_note="cumulative since the start",
        unit="ratio", kind="k6", completeness="k6_stream",
        doc="share of chat messages whose streamed reply completed",
        watches_errors_of=("websocket",),
    ),
    Sli(
        name="target_up",
        query='min(min_over_time(up{job="$job"}[$window]))',
        series='min(up{job="$job"})',
        series_note="1 = scraped, 0 = down",
        unit="ratio", kind="backend", completeness="scrape_job",
        doc="1 when the scrape target answered every scrape of the window, else 0",
    ),
    Sli(
        name="dropped_iterations",
        # k6 sends the counter only once one is dropped, so no series with the k6 stream
        # present (checked) means 0.
        query=f"sum(last_over_time(k6_dropped_iterations_total{{{K6}}}[$window])) or vector(0)",
        series=f"sum(k6_dropped_iterations_total{{{K6}}}) or (0 * sum(k6_vus{{{K6}}}))",
        series_note="cumulative since the start",
        unit="iterations", kind="k6", completeness="k6_stream",
        doc="iterations an arrival-rate executor could not start (no free VU)",
    ),
    Sli(
        name="kafka_lag_after",
        # Measured drain_seconds after the run's end (the gate waits until then): did the
        # backlog drain once the load stopped?
        query='max(sum by (consumergroup) (last_over_time(kafka_consumergroup_lag{job="$job"}[$rate_range])))',
        series='max(sum by (consumergroup) (kafka_consumergroup_lag{job="$job"}))',
        series_note="total lag (the value is taken drain_seconds after the end)",
        unit="messages", kind="backend", completeness="scrape_job_to_drain",
        doc="the worst consumer group's total lag drain_seconds after the load stopped",
    ),
)

SLIS: dict[str, Sli] = {record.name: record for record in _RECORDS}
NAMES: tuple[str, ...] = tuple(SLIS)


def rate_range_seconds(scrape_interval: float) -> float:
    """The range of rate() over scraped counters: four scrapes, at least 2 s."""
    return max(2.0, 4 * scrape_interval)
