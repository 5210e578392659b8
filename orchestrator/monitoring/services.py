"""The monitoring stack, defined once: Prometheus, Grafana and k6 as plain data.

The same definition drives the docker SDK (`monitoring/stack.py`, `runtimes/docker.py`)
and the top-level docker-compose.yml (`compose_yaml`, kept equal to the committed file
by a test). Everything here is pure: no Docker, no files written.

Services use the host's network: the targets perfctl loads are on this host, often on
127.0.0.1 only, which a bridged container cannot reach. Each service therefore listens
on an explicit address, 127.0.0.1 unless the user opens it wider.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from orchestrator.config.model import Config

LABEL_STACK = "perfctl.stack"
LABEL_RUN_ID = "perfctl.run-id"
LABEL_SERVICE = "perfctl.service"

# Compose profiles, as teams already use them: `docker compose --profile load-test up`.
PROFILES = ("monitoring", "load-test", "health", "comprehensive")
# The k6 service of each load profile, and the scenario whose rendered script it runs.
K6_PROFILE_SCENARIOS = {"load-test": "websocket", "health": "health", "comprehensive": "comprehensive"}

PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_RULES = "/etc/prometheus/rules"
PROMETHEUS_DATA = "/prometheus"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
GRAFANA_DASHBOARDS = "/var/lib/grafana/dashboards"
GRAFANA_OBJECTIVES = "/var/lib/grafana/objectives"  # the dashboard generated from the config
GRAFANA_DATA = "/var/lib/grafana"
K6_SCRIPTS = "/scripts"
K6_RESULTS = "/results"
LOOPBACK_BIND = "127.0.0.1"


@dataclass(frozen=True)
class Mount:
    source: str  # a named volume, or a host path (absolute, or ./relative in compose)
    target: str
    read_only: bool = False

    @property
    def is_volume(self) -> bool:
        return not (self.source.startswith("/") or self.source.startswith("."))


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    command: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    profiles: tuple[str, ...] = ()
    network: str = "host"  # "host", or the name of a network
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: tuple[str, ...] | None = None  # a CMD-SHELL line for engines that run it
    restart: str | None = None


@dataclass(frozen=True)
class StackPaths:
    """Host paths the stack mounts: absolute for the SDK, ./relative for compose."""

    prometheus_config: str
    prometheus_rules: str
    grafana_provisioning: str
    grafana_dashboards: str
    grafana_objectives: str  # holds dashboards.OBJECTIVES_FILE, written from the config
    k6_scripts: str = "./k6-scripts"
    results: str = "./results"


@dataclass(frozen=True)
class Stack:
    id: str  # the perfctl.stack label, and the prefix of every name
    services: tuple[Service, ...]
    volumes: dict[str, dict[str, str]]  # name -> labels

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def container_name(self, service: str) -> str:
        return f"perfctl-{self.id}-{service}"


def stack_id(config: Config, state_dir: Path) -> str:
    """Unique per config and state dir, so two workspaces never share containers."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return f"{config.name}-{digest}".lower()


def host_port(url: str, default: int) -> int:
    return urlparse(url).port or default


def listen(bind: str, port: int) -> str:
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def prometheus_service(config: Config, paths: StackPaths, *, stack: str, bind: str) -> Service:
    settings = config.prometheus
    return Service(
        name="prometheus",
        image=settings.image,
        command=(
            f"--config.file={PROMETHEUS_CONFIG}",
            f"--storage.tsdb.path={PROMETHEUS_DATA}",
            f"--storage.tsdb.retention.time={settings.retention}",
            f"--web.listen-address={listen(bind, host_port(settings.url, 9090))}",
            "--web.enable-remote-write-receiver",  # k6 pushes its metrics here
            "--web.enable-lifecycle",  # perfctl reloads a changed scrape config
            "--enable-feature=native-histograms",
        ),
        mounts=(
            Mount(paths.prometheus_config, PROMETHEUS_CONFIG, read_only=True),
            Mount(paths.prometheus_rules, PROMETHEUS_RULES, read_only=True),
            Mount(volume_name(stack, "prometheus-data"), PROMETHEUS_DATA),
        ),
        profiles=PROFILES,
        labels=_labels(stack, "prometheus"),
        restart="unless-stopped",
    )


def grafana_service(config: Config, paths: StackPaths, *, stack: str, bind: str, admin_password: str) -> Service:
    grafana = config.grafana
    port = host_port(grafana.url, 3000)
    return Service(
        name="grafana",
        image=grafana.image,
        environment={
            "GF_SERVER_HTTP_ADDR": bind,
            "GF_SERVER_HTTP_PORT": str(port),
            "GF_SECURITY_ADMIN_USER": "admin",
            # Generated by perfctl on first start (never admin/admin); read only on first start.
            "GF_SECURITY_ADMIN_PASSWORD": admin_password,
            "GF_SECURITY_DISABLE_INITIAL_ADMIN_CHANGE": "true",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            # Read by the provisioned datasource (monitoring/grafana/provisioning/datasources).
            "PERFCTL_PROMETHEUS_URL": config.prometheus.url.rstrip("/"),
        },
        mounts=(
            Mount(paths.grafana_provisioning, GRAFANA_PROVISIONING, read_only=True),
            Mount(paths.grafana_dashboards, GRAFANA_DASHBOARDS, read_only=True),
            Mount(paths.grafana_objectives, GRAFANA_OBJECTIVES, read_only=True),
            Mount(volume_name(stack, "grafana-data"), GRAFANA_DATA),
        ),
        profiles=PROFILES,
        labels=_labels(stack, "grafana"),
        healthcheck=(f"wget -q -O /dev/null http://{_connect_host(bind)}:{port}/api/health || exit 1",),
        restart="unless-stopped",
    )


def k6_service(
    *,
    name: str,
    image: str,
    args: tuple[str, ...],
    environment: dict[str, str],
    scripts: str,
    results: str,
    stack: str,
    network: str = "host",
    profiles: tuple[str, ...] = (),
    run_id: str | None = None,
    user: str | None = None,
) -> Service:
    """One k6 container: the script folder read-only, the results folder writable."""
    labels = _labels(stack, name)
    if run_id:
        labels[LABEL_RUN_ID] = run_id
    return Service(
        name=name,
        image=image,
        command=args,
        environment=environment,
        mounts=(Mount(scripts, K6_SCRIPTS, read_only=True), Mount(results, K6_RESULTS)),
        profiles=profiles,
        network=network,
        user=user,
        labels=labels,
    )


def remote_write_env(config: Config) -> dict[str, str]:
    """k6's remote-write settings, the same the local runtime uses."""
    from orchestrator.k6.binary import RemoteWrite, run_env

    k6 = config.k6
    from orchestrator.monitoring.access import k6_env_references

    remote_write = RemoteWrite(config.prometheus.url, k6.push_interval, tuple(k6.trend_stats), k6.native_histograms)
    # Headers and token as ${VAR}: compose fills them in at `up`, the file holds no secret.
    return {**run_env(remote_write, base={}), **k6_env_references(config.prometheus, "compose")[0]}


def define_stack(
    config: Config,
    paths: StackPaths,
    *,
    stack: str,
    bind: str = LOOPBACK_BIND,
    admin_password: str,
    grafana: bool = True,
    compose_k6: bool = False,
) -> Stack:
    services = [prometheus_service(config, paths, stack=stack, bind=bind)]
    if grafana:
        services.append(grafana_service(config, paths, stack=stack, bind=bind, admin_password=admin_password))
    if compose_k6:
        services += compose_k6_services(config, paths, stack=stack)
    volumes = {volume_name(stack, "prometheus-data"): {LABEL_STACK: stack}}
    if grafana:
        volumes[volume_name(stack, "grafana-data")] = {LABEL_STACK: stack}
    return Stack(id=stack, services=tuple(services), volumes=volumes)


def compose_k6_services(config: Config, paths: StackPaths, *, stack: str) -> list[Service]:
    """k6 services for compose users: each runs the script `perfctl render` writes."""
    services = []
    for profile, scenario in K6_PROFILE_SCENARIOS.items():
        testid = "${PERFCTL_TESTID:-compose-" + profile + "}"
        args = (
            "run", "--tag", f"testid={testid}", "-o", "experimental-prometheus-rw",
            "--summary-export", f"{K6_RESULTS}/{profile}-summary.json", f"{K6_SCRIPTS}/{scenario}.js",
        )
        services.append(
            k6_service(
                # The suites perfctl replaces run `--profile load-test up k6-websocket-streaming`.
                name="k6-websocket-streaming" if profile == "load-test" else f"k6-{profile}",
                image=config.k6.image,
                args=args,
                environment=remote_write_env(config),
                scripts=paths.k6_scripts,
                results=paths.results,
                stack=stack,
                profiles=(profile,),
            )
        )
    return services


def volume_name(stack: str, what: str) -> str:
    return f"{stack}-{what}" if stack == COMPOSE_PROJECT else f"perfctl-{stack}-{what}"


def _labels(stack: str, service: str) -> dict[str, str]:
    return {LABEL_STACK: stack, LABEL_SERVICE: service}


def _connect_host(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


# ---- docker-compose.yml ------------------------------------------------------------------------

COMPOSE_HEADER = """\
# Generated by `perfctl stack compose` from orchestrator/monitoring/services.py: edit that, not this file.
# A test keeps the two equal. Profiles: monitoring, load-test, health, comprehensive.
#   GRAFANA_ADMIN_PASSWORD=... docker compose --profile monitoring up -d
#   perfctl render websocket -o k6-scripts && docker compose --profile load-test up --exit-code-from k6-websocket-streaming k6-websocket-streaming
#   docker compose --profile monitoring --profile load-test down -v
# Host networking: the targets are on this host; everything listens on 127.0.0.1.
# Images: PERFCTL_PROMETHEUS_IMAGE, PERFCTL_GRAFANA_IMAGE, PERFCTL_K6_IMAGE override the defaults.
"""
COMPOSE_PROJECT = "perfctl"
COMPOSE_PASSWORD = "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD (never admin/admin)}"
COMPOSE_PATHS = StackPaths(
    prometheus_config="./monitoring/prometheus/prometheus.yml",
    prometheus_rules="./monitoring/prometheus/rules",
    grafana_provisioning="./monitoring/grafana/provisioning",
    grafana_dashboards="./monitoring/grafana/dashboards",
    grafana_objectives="./monitoring/grafana/objectives",
)


# Compose users pick their images by environment (a registry mirror, a pinned digest, a local
# build): `PERFCTL_K6_IMAGE=localhost/perfctl-k6:1.1.0 docker compose ...`. k6 services share one.
COMPOSE_IMAGE_VARIABLES = {"prometheus": "PERFCTL_PROMETHEUS_IMAGE", "grafana": "PERFCTL_GRAFANA_IMAGE"}
COMPOSE_K6_IMAGE_VARIABLE = "PERFCTL_K6_IMAGE"


def compose_stack(config: Config) -> Stack:
    stack = define_stack(
        config, COMPOSE_PATHS, stack=COMPOSE_PROJECT, admin_password=COMPOSE_PASSWORD, compose_k6=True
    )
    return replace(stack, services=tuple(replace(s, image=_overridable_image(s)) for s in stack.services))


def _overridable_image(service: Service) -> str:
    k6 = service.name == "k6" or service.name.startswith("k6-")
    variable = COMPOSE_K6_IMAGE_VARIABLE if k6 else COMPOSE_IMAGE_VARIABLES[service.name]
    return "${" + variable + ":-" + service.image + "}"


def compose_document(stack: Stack) -> dict:
    services = {}
    for service in stack.services:
        entry: dict = {"image": service.image, "profiles": list(service.profiles)}
        if service.network == "host":
            entry["network_mode"] = "host"
        else:
            entry["networks"] = [service.network]
        if service.user:
            entry["user"] = service.user
        if service.command:
            entry["command"] = list(service.command)
        if service.environment:
            entry["environment"] = dict(service.environment)
        if service.mounts:
            entry["volumes"] = [
                f"{m.source}:{m.target}" + (":ro" if m.read_only else "") for m in service.mounts
            ]
        if service.healthcheck:
            entry["healthcheck"] = {"test": ["CMD-SHELL", *service.healthcheck], "interval": "10s", "retries": 5}
        if service.restart:
            entry["restart"] = service.restart
        entry["labels"] = dict(service.labels)
        services[service.name] = entry
    return {
        "name": COMPOSE_PROJECT,
        "services": services,
        "volumes": {name: {"name": name, "labels": dict(labels)} for name, labels in stack.volumes.items()},
    }


def compose_yaml(config: Config) -> str:
    import yaml

    document = compose_document(compose_stack(config))
    return COMPOSE_HEADER + yaml.safe_dump(document, sort_keys=False, width=120)


def compose_config() -> Config:
    """The config compose is generated from: the packaged demo example with its defaults."""
    from orchestrator.config.load import load_config

    example = Path(__file__).resolve().parents[1] / "examples" / "demo" / "perfctl.yaml"
    return load_config(example, environ={}).config
