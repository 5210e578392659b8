"""A scenario of perfctl.yaml: what each VU sends (requests, a WebSocket flow, auth, data
pools for {placeholders}) and how many run for how long (an executor, or a named profile)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from orchestrator.config import profiles
from orchestrator.config.base import Duration, Ident, Model, Name, PositiveDuration
from orchestrator.config.k6_terms import Executor, MetricType, Stage, Thresholds
from orchestrator.config.limits import MAX_VUS
from orchestrator.config.profiles import Profile, ProfileName
from orchestrator.config.types import Count, HeaderName, HeaderValue, Headers, HttpStatus, JsonData, UrlPath, Vus, VusOrZero

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


class DataPool(Model):
    """Values for {placeholders}: inline, or a CSV (header row) / JSON array file next to perfctl.yaml,
    loaded once per k6 process with SharedArray."""

    values: list[JsonData] | None = Field(None, description="inline values (scalars or objects)")
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
    json_body: JsonData = Field(None, alias="json", description="sent as JSON")
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
    messages: list[JsonData] = Field(
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


class Scenario(Model):
    description: str = ""
    protocol: Literal["http", "websocket"] = "http"
    include: list[Name] = Field(default_factory=list, description="run these scenarios together, each its own k6 scenario")
    # The schema says what the validator takes: a profile's name alone is shorthand for {name: ...}.
    profile: Annotated[Profile | None, BeforeValidator(Profile.from_shorthand, json_schema_input_type=Profile | ProfileName | None)] = Field(
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
            # The shapes' math lives in profiles.py; it sees the fields this scenario sets itself.
            profiles.check_scenario(self.profile, self.model_fields_set, self.think_time)
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
