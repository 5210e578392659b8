"""The committed docker-compose.yml for real, the way the suites perfctl replaces use theirs:
`podman-compose --profile monitoring up -d`, a k6 service's run writing into that Prometheus,
`down -v` leaving nothing behind. podman-compose drives Podman directly; the docker SDK
(Podman's API service, scripts/docker-api) checks from outside what is left.

The images are the local builds of scripts/docker-api, chosen through the compose file's
PERFCTL_*_IMAGE variables. Grafana's image cannot be had here, so only the prometheus
service of the monitoring profile is brought up. The one edit to the file: Prometheus's
port, so that this test never collides with a Prometheus already on 9090."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from orchestrator.commands.demo import write_demo_config
from orchestrator.demo.backend import BackendSettings, RunningBackend
from orchestrator.netutil import free_port
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.services import COMPOSE_PROJECT, LABEL_SERVICE, LABEL_STACK
from tests.conftest import REPO, run_cli
from tests.k6_versions import OLD_K6
from tests.runtimes.test_docker_runtime import K6_IMAGE, PROMETHEUS_IMAGE, docker_client  # noqa: F401 (fixture)

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

COMPOSE_PORT = "127.0.0.1:9090"
# The project's k6 and the older one of tests/k6_versions.py (scripts/docker-api builds both).
K6_IMAGES = [K6_IMAGE, f"localhost/perfctl-k6:{OLD_K6}"]
ALL_PROFILES = ["--profile", "monitoring", "--profile", "load-test", "--profile", "health", "--profile", "comprehensive"]


def _podman_compose() -> str:
    beside = Path(sys.executable).parent / "podman-compose"
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    if not found:
        pytest.skip("podman-compose is not installed (scripts/setup --test installs it with the test extras)")
    return found


def _leftovers(client) -> list[str]:
    """Everything of the compose project the engine still knows: containers, volumes, networks, pods."""
    project = {"label": [f"com.docker.compose.project={COMPOSE_PROJECT}"]}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=project)]
    found += [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": [f"{LABEL_STACK}={COMPOSE_PROJECT}"]})]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": f"{LABEL_STACK}={COMPOSE_PROJECT}"})]
    named = set(yaml.safe_load((REPO / "docker-compose.yml").read_text())["volumes"])  # the file's own names
    found += [f"volume {v.name}" for v in client.volumes.list() if v.name in named]
    found += [f"network {n.name}" for n in client.networks.list() if n.name.startswith(f"{COMPOSE_PROJECT}_")]
    pods = subprocess.run(["podman", "pod", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, env=_podman_env())
    found += [f"pod {name}" for name in pods.stdout.split() if name == f"pod_{COMPOSE_PROJECT}"]
    return sorted(set(found))


def _podman_env() -> dict[str, str]:
    env = dict(os.environ)
    # The engine settings scripts/docker-api writes (cgroupfs, no default ulimits): what runs here.
    conf = Path(os.environ.get("PERFCTL_DOCKER_API_DIR", "/run/perfctl-docker-api")) / "containers.conf"
    if "CONTAINERS_CONF" not in env and conf.is_file():
        env["CONTAINERS_CONF"] = str(conf)
    return env


class ComposeProject:
    def __init__(self, directory: Path, binary: str, env: dict[str, str]):
        self.directory, self.binary, self.env = directory, binary, env

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], cwd=self.directory, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(params=K6_IMAGES)
def k6_image(request, docker_client) -> str:
    try:
        docker_client.images.get(request.param)
    except Exception:
        pytest.skip(f"image {request.param} missing (scripts/docker-api builds it after scripts/setup --test)")
    return request.param


@pytest.fixture
def project(tmp_path, docker_client, k6_image):
    binary = _podman_compose()
    if _leftovers(docker_client):
        pytest.skip(f"a '{COMPOSE_PROJECT}' compose project exists on this machine already: {_leftovers(docker_client)}")
    directory = tmp_path / "project"
    port = free_port()
    compose = (REPO / "docker-compose.yml").read_text()
    # Prometheus's listen address, Grafana's datasource and each k6 service's remote-write URL.
    assert compose.count(COMPOSE_PORT) == 5, "the compose file's Prometheus address moved: update this test"
    directory.mkdir()
    (directory / "docker-compose.yml").write_text(compose.replace(COMPOSE_PORT, f"127.0.0.1:{port}"))
    shutil.copytree(REPO / "monitoring" / "prometheus", directory / "monitoring" / "prometheus")
    (directory / "k6-scripts").mkdir()
    (directory / "results").mkdir()
    env = {
        **_podman_env(),
        "PERFCTL_PROMETHEUS_IMAGE": PROMETHEUS_IMAGE,
        "PERFCTL_K6_IMAGE": k6_image,
        "GRAFANA_ADMIN_PASSWORD": uuid.uuid4().hex,  # required by the file; Grafana itself is not started
        "PERFCTL_TESTID": f"compose-{uuid.uuid4().hex[:8]}",
    }
    compose_project = ComposeProject(directory, binary, env)
    compose_project.prometheus_url = f"http://127.0.0.1:{port}"
    try:
        yield compose_project
    finally:
        compose_project(*ALL_PROFILES, "down", "-v")  # whatever happened above


def _wait_for(done, failure: str, timeout: float = 60) -> None:
    """Poll `done()` until it is true; fail with `failure` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{failure} within {timeout:.0f} s"
        time.sleep(0.3)


def test_monitoring_up_load_test_run_and_down_leaves_nothing(project, docker_client, tmp_path):
    with RunningBackend(BackendSettings(port=0)) as backend:
        # The scrape config of the compose Prometheus points at the backend (host networking).
        scrape = project.directory / "monitoring" / "prometheus" / "prometheus.yml"
        scrape.write_text(scrape.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{backend.port}"))

        up = project("--profile", "monitoring", "up", "-d", "prometheus")
        assert up.returncode == 0, up.stdout + up.stderr
        prometheus = Prometheus(project.prometheus_url)
        _wait_for(prometheus.ready, "the compose Prometheus did not become ready")
        (container,) = docker_client.containers.list(filters={"label": [f"{LABEL_STACK}={COMPOSE_PROJECT}"]})
        assert container.image.tags == [PROMETHEUS_IMAGE]  # PERFCTL_PROMETHEUS_IMAGE was honoured
        rules = requests.get(f"{project.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        assert rules, "the alert rules of monitoring/prometheus/rules were not loaded"
        # Prometheus applies its targets on a 5 s tick after it is ready, so its first scrape of the
        # backend can come after a 3 s k6 run has ended (CI saw no `up` series at all).
        _wait_for(lambda: prometheus.scalar('up{job="backend"}') is not None,
                  'the compose Prometheus had no up{job="backend"} sample')

        # The load-test profile's k6 service runs the script `perfctl render` writes.
        workspace = tmp_path / "ws"
        config = write_demo_config(workspace, backend_port=backend.port, prometheus_port=free_port(), example="demo")
        config.write_text(config.read_text().replace("duration: 20s", "duration: 3s"))
        rendered = run_cli("render", "websocket", "-c", str(config), "-o", str(project.directory / "k6-scripts"), cwd=workspace)
        assert rendered.code == 0, rendered.output
        run = project("--profile", "load-test", "up", "--exit-code-from", "k6-websocket-streaming", "k6-websocket-streaming")
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]

        summary = json.loads((project.directory / "results" / "load-test-summary.json").read_text())
        sessions = summary["metrics"]["ws_sessions"]["count"]
        assert sessions > 0 and summary["metrics"]["ws_reply_success"]["fails"] == 0
        testid = project.env["PERFCTL_TESTID"]
        # Every session k6 counted reached Prometheus by remote write, under the run's testid.
        written = prometheus.scalar(f'sum(max_over_time(k6_ws_sessions_total{{testid="{testid}"}}[10m]))')
        assert written == sessions, (written, sessions)
        assert prometheus.scalar('max_over_time(up{job="backend"}[10m])') == 1

    (k6_container,) = docker_client.containers.list(all=True, filters={"label": [f"{LABEL_STACK}={COMPOSE_PROJECT}", f"{LABEL_SERVICE}=k6-websocket-streaming"]})
    assert k6_container.image.tags == [project.env["PERFCTL_K6_IMAGE"]]  # PERFCTL_K6_IMAGE was honoured
    # What down must remove, seen by the same check that must find nothing afterwards.
    before = _leftovers(docker_client)
    assert {"container perfctl_prometheus_1", "container perfctl_k6-websocket-streaming_1", "volume perfctl-prometheus-data"} <= set(before), before
    down = project(*ALL_PROFILES, "down", "-v")
    assert down.returncode == 0, down.stdout + down.stderr
    assert _leftovers(docker_client) == []
