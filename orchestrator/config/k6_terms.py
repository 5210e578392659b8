"""What k6 itself defines and perfctl.yaml writes in k6's terms: executors, stages, thresholds,
custom metric types, system tags and trend stats (k6 refuses anything else at run time)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag

from orchestrator.config.base import Duration, Model
from orchestrator.config.types import CountOrZero

Executor = Literal[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
]
MetricType = Literal["counter", "trend", "rate", "gauge"]


# Every system tag k6 knows (k6 refuses others in `systemTags`).
K6SystemTag = Literal[
    "proto", "subproto", "status", "method", "url", "name", "group", "check", "error", "error_code",
    "tls_version", "scenario", "service", "expected_response", "vu", "iter", "ip", "ocsp_status",
]


# The trend stats k6's remote-write output takes (K6_PROMETHEUS_RW_TREND_STATS).
TREND_STAT_PATTERN = r"^(avg|min|max|med|count|sum|p\((100|\d{1,2}(\.\d+)?)\))$"


class Stage(Model):
    duration: Duration
    target: CountOrZero = Field(description="VUs (ramping-vus) or iterations per time_unit (ramping-arrival-rate)")


# k6's threshold grammar: aggregation, operator, number (`p(95)<500`, `rate<0.01`, `count>=100`).
# Named parts, read by k6/thresholds.py when a flat run's gate judges the threshold itself.
K6_THRESHOLD = re.compile(
    r"^\s*(?P<agg>avg|min|max|med|count|rate|value|p\((?P<pct>\d+(?:\.\d+)?)\))\s*"
    r"(?P<op><=|>=|===|==|!=|<|>)\s*(?P<number>-?\d+(?:\.\d+)?)\s*$"
)


def _check_threshold_text(text: str) -> str:
    if not K6_THRESHOLD.match(text):
        raise ValueError(f"'{text}' is not a k6 threshold (e.g. p(95)<500, rate<0.01, count>=100)")
    return text


ThresholdText = Annotated[str, AfterValidator(_check_threshold_text)]
# Names of the two branches of a threshold item; messages.describe leaves them out of a field's path.
THRESHOLD_TEXT_TAG, THRESHOLD_OBJECT_TAG = "threshold-text", "threshold-mapping"


class Threshold(Model):
    """A k6 threshold object: stop the test early when it fails (`abortOnFail`)."""

    threshold: ThresholdText
    abort_on_fail: bool = Field(False, description="k6 stops the whole test when this fails")
    delay_abort_eval: Duration | None = Field(None, description="let the test run this long before aborting")


# One branch per shape (text or mapping): an invalid item gets one message, not one per branch.
ThresholdItem = Annotated[
    Annotated[ThresholdText, Tag(THRESHOLD_TEXT_TAG)] | Annotated[Threshold, Tag(THRESHOLD_OBJECT_TAG)],
    Discriminator(lambda value: THRESHOLD_TEXT_TAG if isinstance(value, str) else THRESHOLD_OBJECT_TAG),
]
Thresholds = dict[str, list[ThresholdItem]]


# k6's built-in metrics and their types (k6 sends counters as k6_<name>_total, rates as
# k6_<name>_rate, gauges as k6_<name>, trends as k6_<name>_<stat> or, as native
# histograms, k6_<name>_seconds).
K6_BUILTIN_METRICS = {
    **dict.fromkeys(
        ("iterations", "dropped_iterations", "data_received", "data_sent", "http_reqs", "ws_sessions", "ws_msgs_sent",
         "ws_msgs_received", "grpc_streams", "grpc_streams_msgs_received", "grpc_streams_msgs_sent"), "counter"),
    **dict.fromkeys(("vus", "vus_max"), "gauge"),
    **dict.fromkeys(("checks", "http_req_failed"), "rate"),
    **dict.fromkeys(
        ("iteration_duration", "http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_receiving",
         "http_req_sending", "http_req_tls_handshaking", "http_req_waiting", "ws_connecting", "ws_ping",
         "ws_session_duration", "group_duration", "grpc_req_duration"), "trend"),
}
# The metrics perfctl's generated script defines itself (templates/script.js.j2, WebSocket flow).
PERFCTL_SCRIPT_METRICS = {
    "ws_connect_success": "rate", "ws_reply_success": "rate", "ws_first_chunk_time": "trend", "ws_reply_time": "trend",
}
# Every built-in trend is a time (k6 writes ms; the remote-write output sends seconds), and
# so are the two of perfctl's script.
TIME_TRENDS = frozenset(name for name, kind in {**K6_BUILTIN_METRICS, **PERFCTL_SCRIPT_METRICS}.items() if kind == "trend")
