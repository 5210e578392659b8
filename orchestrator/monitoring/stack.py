"""The monitoring stack in containers: the docker implementation of monitoring/base.py's Stack
(`perfctl start-monitoring --runtime docker`, and a run's Prometheus with prometheus.runtime: docker).

Containers and volumes are found by their perfctl.stack label and their names, never
by memory, so `stop-monitoring` finds what an earlier perfctl started. Data lives on
named volumes and survives `stop-monitoring`; `--purge` removes it.
"""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator import console, docker_engine
from orchestrator.monitoring import dashboards
from orchestrator.monitoring import grafana
from orchestrator.config.env import redact_url
from orchestrator.config.model import LoadedConfig
from orchestrator.errors import EnvironmentProblem
from orchestrator.monitoring.base import ServiceState, StackState, Stopped
from orchestrator.monitoring.local import running_process, state_dir
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.prometheus_config import prometheus_config_text
from orchestrator.monitoring.services import (
    LABEL_SERVICE,
    LABEL_STACK,
    LOOPBACK_BIND,
    Service,
    Stack,
    StackPaths,
    define_stack,
    stack_id,
)

STACK_SERVICES = ("prometheus", "grafana")
MONITORING_DIR = Path(__file__).resolve().parents[2] / "monitoring"


def monitoring_dir() -> Path:
    if not (MONITORING_DIR / "prometheus" / "rules").is_dir():
        raise EnvironmentProblem(
            f"the monitoring files are missing ({MONITORING_DIR})",
            hint="the docker stack needs perfctl's source tree (scripts/setup installs it editable)",
        )
    return MONITORING_DIR


class DockerStack:
    kind = "docker"

    def __init__(self, loaded: LoadedConfig, *, grafana_enabled: bool | None = None, bind: str = LOOPBACK_BIND):
        self.loaded = loaded
        self.config = loaded.config
        self.state = state_dir(loaded.path)
        self.home = self.state / "stack"
        self.bind = bind
        self.grafana_enabled = self.config.grafana.enabled if grafana_enabled is None else grafana_enabled
        self.id = stack_id(self.config, self.state)
        self._reload_needed = False  # set when prometheus.yml changed under a running container
        self._client: Prometheus | None = None

    # ---- definition ----

    def definition(self, *, with_grafana: bool | None = None, names_only: bool = False) -> Stack:
        files = monitoring_dir()
        paths = StackPaths(
            prometheus_config=str(self.home / "prometheus.yml"),
            prometheus_rules=str(files / "prometheus" / "rules"),
            grafana_provisioning=str(files / "grafana" / "provisioning"),
            grafana_dashboards=str(files / "grafana" / "dashboards"),
            grafana_objectives=str(self.objectives_dir),
        )
        use_grafana = self.grafana_enabled if with_grafana is None else with_grafana
        # names_only: for status; reading names must not create the password file.
        password = grafana.admin_password(self.state) if use_grafana and not names_only else ""
        return define_stack(
            self.config, paths, stack=self.id, bind=self.bind, admin_password=password, grafana=use_grafana
        )

    @property
    def objectives_dir(self) -> Path:
        return self.home / "grafana" / "objectives"

    @property
    def prometheus_url(self) -> str:
        return self.config.prometheus.url.rstrip("/")

    url = prometheus_url  # base.Stack's name for it

    @property
    def grafana_url(self) -> str:
        return self.config.grafana.url.rstrip("/")

    # ---- base.Stack ----

    def client(self) -> Prometheus:
        if self._client is None:  # built once: its access (headers, token, TLS) and its connection
            self._client = Prometheus.for_settings(self.config.prometheus)
        return self._client

    def ensure(self) -> bool:
        """What a run needs: Prometheus answering with this config's scrape jobs (Grafana comes
        with `perfctl start-monitoring`, start_services). True if its container started now."""
        if self.client().ready():
            self.apply_config()
            return False
        settings = self.config.prometheus
        if not settings.manage:
            raise EnvironmentProblem(
                f"Prometheus does not answer at {redact_url(settings.url)} and prometheus.manage is false",
                hint="start it yourself, or set prometheus.manage: true",
            )
        return "prometheus" in self.start_services(grafana=False)

    def status(self) -> StackState:
        ref = running_process(self.state / "prometheus")  # a local one this state dir started, if any
        return StackState(redact_url(self.prometheus_url), self.client().ready(), ref.pid if ref else None,
                          tuple(self.states()))

    # ---- lifecycle ----

    def start_services(self, *, wait: float = 60.0, grafana: bool | None = None) -> list[str]:
        """Start whatever is missing (Grafana too, unless off) and wait until it answers.
        Returns the services started."""
        if self.bind not in (LOOPBACK_BIND, "::1", "localhost"):
            console.info(f"warning: the stack listens on {self.bind or 'all addresses'}, not only 127.0.0.1: "
                         "anyone who reaches this host can read Prometheus and try Grafana's login")
        use_grafana = self.grafana_enabled if grafana is None else grafana
        stack = self.definition(with_grafana=use_grafana)
        client = docker_engine.connect()
        try:
            self._write_prometheus_config()
            self.write_objectives_dashboard()
            for name, labels in stack.volumes.items():
                self._ensure_volume(client, name, labels)
            started = []
            for service in stack.services:
                if self._ensure_container(client, stack, service):
                    started.append(service.name)
            self._wait_prometheus(client, stack, wait, created="prometheus" in started)
            if use_grafana:
                self._wait_grafana(client, stack, created="grafana" in started)
            return started
        finally:
            client.close()

    def stop(self, *, purge: bool = False) -> Stopped:
        """Stop and remove this stack's containers; with purge also its volumes and password."""
        client = docker_engine.connect()
        removed = []
        try:
            for container in client.containers.list(all=True, filters={"label": f"{LABEL_STACK}={self.id}"}):
                if container.labels.get(LABEL_SERVICE) not in STACK_SERVICES:
                    continue  # a run's k6 container: its run removes it
                remove_container(container, grace=10)
                removed.append(container.name)
            if purge:
                for volume in client.volumes.list(filters={"label": f"{LABEL_STACK}={self.id}"}):
                    volume.remove(force=True)
                    removed.append(f"volume {volume.name}")
                for network in client.networks.list(filters={"label": f"{LABEL_STACK}={self.id}"}):
                    network.remove()
                    removed.append(f"network {network.name}")
                grafana.password_file(self.state).unlink(missing_ok=True)
        finally:
            client.close()
        return Stopped(tuple(removed))

    def states(self) -> list[ServiceState]:
        stack = self.definition(with_grafana=True, names_only=True)
        client = docker_engine.connect()
        try:
            found = {
                c.name: c for c in client.containers.list(all=True, filters={"label": f"{LABEL_STACK}={self.id}"})
            }
        finally:
            client.close()
        urls = {"prometheus": self.prometheus_url, "grafana": self.grafana_url}
        out = []
        for service in stack.services:
            name = stack.container_name(service.name)
            if name not in found and service.name == "grafana" and not self.grafana_enabled:
                continue  # switched off and not there: nothing to report
            status = found[name].status if name in found else "missing"
            out.append(ServiceState(service.name, name, status, urls.get(service.name, "")))
        return out

    def apply_config(self) -> None:
        """A stack this state dir started gets a changed scrape config without a restart."""
        if (self.home / "prometheus.yml").exists() and self._write_prometheus_config():
            self._reload_prometheus()
        if self.objectives_dir.is_dir():
            self.write_objectives_dashboard()  # Grafana's provider rereads it within 30 s

    # ---- internals ----

    def _write_prometheus_config(self) -> bool:
        """Write prometheus.yml; True if it changed (a running Prometheus then reloads it)."""
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "prometheus.yml"
        wanted = prometheus_config_text(self.config)
        if path.exists() and path.read_text() == wanted:
            return False
        tmp = path.with_suffix(".tmp")
        tmp.write_text(wanted)
        tmp.chmod(0o644)  # read by the container's user (nobody)
        tmp.replace(path)
        self._reload_needed = True
        return True

    def write_objectives_dashboard(self) -> None:
        """The objectives dashboard of this config, where the Grafana container reads it."""
        self.objectives_dir.mkdir(parents=True, exist_ok=True)
        path = self.objectives_dir / dashboards.OBJECTIVES_FILE
        wanted = dashboards.objectives_dashboard_text(self.config)
        if path.exists() and path.read_text() == wanted:
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(wanted)
        tmp.chmod(0o644)  # read by the container's user (grafana)
        tmp.replace(path)

    def _ensure_volume(self, client, name: str, labels: dict[str, str]) -> None:
        from docker.errors import NotFound

        try:
            client.volumes.get(name)
        except NotFound:
            client.volumes.create(name=name, labels=labels)

    def _ensure_container(self, client, stack: Stack, service: Service) -> bool:
        """True if this call created or started the container."""
        from docker.errors import NotFound

        name = stack.container_name(service.name)
        try:
            container = client.containers.get(name)
        except NotFound:
            container = None
        if container is not None:
            if container.status == "running":
                if service.name == "prometheus" and self._reload_needed:
                    self._reload_prometheus()
                return False
            container.start()
            return True
        try:
            docker_engine.require_image(client, service.image)
        except EnvironmentProblem as exc:
            if service.name == "grafana":
                exc.hint = "start without Grafana: --no-grafana (or grafana.enabled: false)"
            raise
        client.containers.run(detach=True, name=name, **container_options(service))
        return True

    def _reload_prometheus(self) -> None:
        Prometheus(self.prometheus_url, timeout=5).reload()

    def _wait_prometheus(self, client, stack: Stack, wait: float, *, created: bool) -> None:
        prom = Prometheus(self.prometheus_url, timeout=2)
        self._wait(client, stack, "prometheus", prom.ready, wait, created=created,
                   what=f"Prometheus at {redact_url(self.prometheus_url)} was not ready")

    def _wait_grafana(self, client, stack: Stack, *, created: bool) -> None:
        import requests

        def healthy() -> bool:
            try:
                answer = requests.get(self.grafana_url + "/api/health", timeout=2)
                return answer.status_code == 200 and answer.json().get("database") == "ok"
            except (requests.RequestException, ValueError):
                return False

        self._wait(client, stack, "grafana", healthy, self.config.grafana.start_timeout, created=created,
                   what=f"Grafana at {redact_url(self.grafana_url)} was not healthy")

    def _wait(self, client, stack: Stack, service: str, check, wait: float, *, created: bool, what: str) -> None:
        container = client.containers.get(stack.container_name(service))
        began = time.monotonic()
        deadline = began + wait
        while time.monotonic() < deadline:
            if check():
                return
            container.reload()
            # Exited, or restarted by its restart policy after an exit: it will not come up by waiting.
            if container.status not in ("running", "created", "configured") or container.attrs.get("RestartCount"):
                break
            time.sleep(0.3)
        lines = docker_engine.last_log_lines(container)
        if created:
            # A container this call created and that never came up is removed; its volume stays.
            try:
                remove_container(container)
            except EnvironmentProblem as exc:
                lines.append(exc.message)
        raise EnvironmentProblem(
            f"{what} after {time.monotonic() - began:.0f}s (container {container.name}: {container.status})",
            lines=["last log lines:", *lines] if lines else [],
            hint="check the port is free and the image runs on this machine",
        )


def remove_container(container, *, grace: int = 0, attempts: int = 5) -> None:
    """Stop and remove; retried, since an engine may be restarting it (restart policy) and
    refuses a removal in that moment."""
    from docker.errors import APIError, NotFound

    for attempt in range(attempts):
        try:
            if container.status == "running" and grace:
                container.stop(timeout=grace)
            container.remove(force=True)
            return
        except NotFound:
            return
        except APIError as exc:
            if attempt == attempts - 1:
                raise EnvironmentProblem(
                    f"cannot remove container {container.name}: {docker_engine.short_error(exc)}",
                    hint=f"remove it by hand: docker rm -f {container.name}",
                ) from None
            time.sleep(0.5)
            _reload_quietly(container)


def _reload_quietly(container) -> None:
    try:
        container.reload()
    except Exception:  # gone meanwhile: the next remove says NotFound
        pass


def container_options(service: Service) -> dict:
    """A stack Service as docker SDK `containers.run` keyword arguments."""
    from docker.types import Mount as DockerMount

    options: dict = {
        "image": service.image,
        "command": list(service.command) or None,
        "environment": dict(service.environment),
        "labels": dict(service.labels),
        "mounts": [
            DockerMount(
                target=m.target, source=m.source, type="volume" if m.is_volume else "bind", read_only=m.read_only
            )
            for m in service.mounts
        ],
    }
    if service.network == "host":
        options["network_mode"] = "host"
    else:
        options["network"] = service.network
    if service.user:
        options["user"] = service.user
    if service.restart:
        options["restart_policy"] = {"Name": service.restart}
    if service.healthcheck:
        options["healthcheck"] = {"test": ["CMD-SHELL", *service.healthcheck], "interval": 10_000_000_000, "retries": 5}
    return options

