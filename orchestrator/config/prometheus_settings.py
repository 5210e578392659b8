"""`prometheus:` in perfctl.yaml: where the store is, what it scrapes, and how perfctl reaches
it (headers, a bearer token, TLS), with the checks of what cannot work together.

The settings are read by the queries (orchestrator/monitoring/prometheus.py) and by k6's
remote write; orchestrator/monitoring/access.py fills in their `${VAR}`s in memory.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from orchestrator.config.base import Duration, Model, Name, PinnedImage, PositiveDuration
from orchestrator.config.env import redact_url
from orchestrator.config.types import ScrapeAddress, UrlPath, shown, url_problem

# RFC 9110 token characters: what may stand before the colon of a header line.
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
ONLY_A_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


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
            raise ValueError(f"url: '{shown(redact_url(self.url))}' {problem}")  # filled in: may hold a password
        problems = settings_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def settings_problems(settings: PrometheusSettings) -> list[str]:
    """`field: message` lines for what cannot work together (the model checks them on load)."""
    problems = []
    for name in settings.headers:
        if not HEADER_NAME.match(name):
            problems.append(f"headers: {name!r} is not an HTTP header name (letters, digits, '-')")
        elif name.lower() == "authorization" and settings.bearer_token is not None:
            problems.append("headers.Authorization: not with bearer_token (both would be the Authorization header)")
    if settings.bearer_token is not None:
        if not ONLY_A_REFERENCE.match(settings.bearer_token):
            problems.append(
                'bearer_token: must be "${VAR}", read from the environment when used (a token written in '
                "perfctl.yaml would be a secret in a file)"
            )
        elif "@" in settings.url.split("://", 1)[-1].split("/", 1)[0]:
            problems.append("bearer_token: not with credentials in url (both would be the Authorization header)")
    https = settings.url.lower().startswith("https://")
    if settings.ca_file and settings.insecure_skip_verify:
        problems.append("insecure_skip_verify: not with ca_file (ca_file checks the certificate, this skips the check)")
    elif (settings.ca_file or settings.insecure_skip_verify) and not https:
        which = "ca_file" if settings.ca_file else "insecure_skip_verify"
        problems.append(f"{which}: applies to https only, and url is '{settings.url}'")
    return problems
