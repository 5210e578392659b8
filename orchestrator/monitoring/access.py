"""How perfctl reaches a Prometheus-compatible store: extra headers, a bearer token, TLS.

Managed stores want more than a URL: Grafana Mimir and Cortex a tenant (`X-Scope-OrgID`),
Grafana Cloud and a Thanos Receive behind a gateway a token, often a private CA. One set of
settings (`prometheus:` in perfctl.yaml) serves both sides: the gate's queries
(prometheus.py) and k6's remote write (K6_PROMETHEUS_RW_* in k6's environment). The settings
and the checks of what cannot work together: orchestrator/config/prometheus_settings.py.

Values written as `${VAR}` stay so in the config objects; they are filled in here, in memory,
when a client or k6's environment is made, and never written anywhere: generated files
(docker-compose.yml, k8s manifests) carry references their own engine fills in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.config.env import ENV_REF, expand_env, redact_url
from orchestrator.config.prometheus_settings import PrometheusSettings
from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    import ssl

K6_HEADER_PREFIX = "K6_PROMETHEUS_RW_HEADERS_"  # k6 takes the rest of the variable's name as the header name
INSECURE_WARNING = (
    "prometheus.insecure_skip_verify is on: the certificate of {url} is not checked, on queries and on remote write"
)


@dataclass(frozen=True)
class Access:
    """Headers (filled in), and how to check the store's certificate. Lives in memory only."""

    headers: dict[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    insecure: bool = False

    def tls_context(self) -> ssl.SSLContext | None:
        """None: the default checks (http_client: the system's CAs, or REQUESTS_CA_BUNDLE & co.)."""
        if not (self.ca_file or self.insecure):
            return None
        import ssl

        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_file)  # this CA only: the store's own

    @property
    def verify(self) -> bool | str:
        """The same choice in requests' terms (`Session.verify`)."""
        if self.insecure:
            return False
        return self.ca_file or True


NO_ACCESS = Access()
_warned: set[str] = set()


def resolve(settings: PrometheusSettings, environ: dict[str, str] | None = None) -> Access:
    """The settings with `${VAR}` filled in; ConfigError (exit 2) naming the field when a
    variable is unset or the CA file is missing."""
    headers = {name: expand_env(value, environ, field=f"prometheus.headers.{name}") for name, value in settings.headers.items()}
    token = bearer_token(settings, environ)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    ca_file = None
    if settings.ca_file:
        path = Path(settings.ca_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"prometheus.ca_file: {settings.ca_file}: no such file")
        ca_file = str(path.resolve())
    if settings.insecure_skip_verify and settings.url not in _warned:
        from orchestrator import console

        _warned.add(settings.url)
        console.info("warning: " + INSECURE_WARNING.format(url=_origin(settings.url)))
    return Access(headers=headers, ca_file=ca_file, insecure=settings.insecure_skip_verify)


def bearer_token(settings: PrometheusSettings, environ: dict[str, str] | None = None) -> str | None:
    if settings.bearer_token is None:
        return None
    token = expand_env(settings.bearer_token, environ, field="prometheus.bearer_token")
    if not token:
        name = settings.bearer_token[2:-1]
        raise ConfigError(f"prometheus.bearer_token: environment variable {name} is empty")
    return token


def k6_env(settings: PrometheusSettings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """k6's remote-write settings for these headers, token and TLS, values filled in: for k6's
    process environment (local runtime) or a container's (docker runtime), never a file."""
    env = {K6_HEADER_PREFIX + name: expand_env(value, environ, field=f"prometheus.headers.{name}")
           for name, value in settings.headers.items()}
    token = bearer_token(settings, environ)
    if token is not None:
        env["K6_PROMETHEUS_RW_BEARER_TOKEN"] = token
    env.update(_tls_env(settings, local=True))
    return env


def k6_env_references(settings: PrometheusSettings, style: str, url: str | None = None) -> tuple[dict[str, str], list[str]]:
    """The same settings for a file another engine reads (`style` "compose": `${VAR}`, which
    compose fills in at `up`; "k8s": `$(VAR)`, which the kubelet fills in from the pod's
    environment, i.e. k8s.env_secret). Returns (variables, names of the VARs they read)."""
    env: dict[str, str] = {}
    names: list[str] = []
    for name, value in settings.headers.items():
        env[K6_HEADER_PREFIX + name] = _reference_text(value, style, names)
    if settings.bearer_token is not None:
        env["K6_PROMETHEUS_RW_BEARER_TOKEN"] = _reference_text(settings.bearer_token, style, names)
    env.update(_tls_env(settings, local=False, url=url))
    return env, sorted(set(names))


def _tls_env(settings: PrometheusSettings, *, local: bool, url: str | None = None) -> dict[str, str]:
    if not (url or settings.url).lower().startswith("https://"):
        return {}
    # Said either way (k6 v1.1 checks by default), so the run's environment shows the choice.
    env = {"K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY": "true" if settings.insecure_skip_verify else "false"}
    if settings.ca_file and local:
        # k6 has no CA option for remote write; Go reads SSL_CERT_FILE in place of the system
        # bundle file (the hashed certificates in /etc/ssl/certs still load).
        env["SSL_CERT_FILE"] = str(Path(settings.ca_file).expanduser().resolve())
    return env


def _reference_text(text: str, style: str, names: list[str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "$${" if style == "compose" else "${"
        names.append(match.group(1))
        return f"${{{match.group(1)}}}" if style == "compose" else f"$({match.group(1)})"

    if style == "compose":
        # A lone `$` would be read by compose as the start of a variable.
        text = re.sub(r"\$(?!\{|\$\{)", "$$", text)
    else:
        text = text.replace("$(", "$$(")  # the kubelet's escape for a literal `$(`
    return ENV_REF.sub(replace, text)


def _origin(url: str) -> str:
    return redact_url(url.rstrip("/"))
