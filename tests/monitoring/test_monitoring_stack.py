"""monitoring/base.py's Stack: every implementation has its shape, and select.for_config is the
one place that picks local or docker from prometheus.runtime. On real parts: a Prometheus
process started from nothing in a fresh folder, and the container stack when a Docker API
and its image are here (skipped with the reason otherwise)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from orchestrator import docker_engine
from orchestrator.commands.demo import write_demo_config
from orchestrator.config.load import load_config
from orchestrator.errors import UsageError
from orchestrator.monitoring.base import Stack, StackState, Stopped
from orchestrator.monitoring.local import LocalStack
from orchestrator.monitoring.select import for_config
from orchestrator.monitoring.stack import DockerStack
from orchestrator.netutil import free_port

PROMETHEUS_IMAGE = "localhost/perfctl-prometheus:2.42.0"
IMPLEMENTATIONS = (LocalStack, DockerStack)
PROTOCOL_METHODS = ("ensure", "stop", "status", "client")


def _config(workspace: Path, *, runtime: str | None = None) -> Path:
    """The demo example on free loopback ports; nothing listens on the backend's (not needed here)."""
    path = write_demo_config(workspace, backend_port=free_port(), prometheus_port=free_port())
    if runtime is not None:
        extra = f"  runtime: {runtime}\n" + (f"  image: {PROMETHEUS_IMAGE}\n" if runtime == "docker" else "")
        path.write_text(path.read_text().replace("  manage: true", "  manage: true\n" + extra.rstrip("\n"), 1)
                        + "\ngrafana:\n  enabled: false  # its image cannot be built here\n")
    return path


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_every_implementation_has_the_stack_shape(implementation, tmp_path):
    loaded = load_config(_config(tmp_path))
    stack = implementation(loaded)
    assert isinstance(stack, Stack)
    assert stack.kind in ("local", "docker")
    for name in PROTOCOL_METHODS:
        wanted = inspect.signature(getattr(Stack, name))
        got = inspect.signature(getattr(implementation, name))
        assert list(got.parameters) == list(wanted.parameters), f"{implementation.__name__}.{name}{got}"
        assert [p.kind for p in got.parameters.values()] == [p.kind for p in wanted.parameters.values()]
    assert stack.url == loaded.config.prometheus.url.rstrip("/")
    assert stack.client() is stack.client(), "one client per stack: built once"


@pytest.mark.parametrize("runtime, expected", [(None, LocalStack), ("local", LocalStack), ("docker", DockerStack)])
def test_for_config_picks_what_prometheus_runtime_says(runtime, expected, tmp_path):
    loaded = load_config(_config(tmp_path, runtime=runtime))
    assert type(for_config(loaded)) is expected
    other = DockerStack if expected is LocalStack else LocalStack
    # --runtime of start/stop-monitoring wins over the config.
    assert type(for_config(loaded, runtime="docker" if other is DockerStack else "local")) is other


def test_for_config_refuses_bind_for_a_local_process(tmp_path):
    loaded = load_config(_config(tmp_path))
    with pytest.raises(UsageError, match="--bind: only for --runtime docker"):
        for_config(loaded, bind="0.0.0.0")
    assert for_config(loaded, runtime="docker", bind="0.0.0.0").bind == "0.0.0.0"


def test_local_stack_from_nothing(tmp_path):
    loaded = load_config(_config(tmp_path, runtime="local"))
    stack = for_config(loaded)
    before = stack.status()
    assert before == StackState(stack.prometheus.url_shown, False, None)  # nothing runs in a fresh folder
    try:
        assert stack.ensure() is True, "started now"
        client = stack.client()
        assert client.ready() and client.query("vector(1)")[0].value == 1.0
        assert stack.ensure() is False, "already running: not started twice"
        assert stack.client() is client
        running = stack.status()
        assert running.ready and running.managed_pid == stack.prometheus.running_process().pid
        assert running.containers is None
        assert (stack.prometheus.home / "data").is_dir()
    finally:
        stopped = stack.stop(purge=True)
    assert stopped and stopped.removed == (f"Prometheus at {stack.prometheus.url_shown}",)
    assert stopped.data == stack.prometheus.home / "data" and not stopped.data.exists()
    assert stack.status().ready is False
    assert not stack.stop(), "nothing left to stop"
    assert stack.stop() == Stopped()


@pytest.fixture
def docker_api():
    why = docker_engine.reachable()
    if why:
        pytest.skip(f"no Docker API: {why} (run scripts/docker-api and export the DOCKER_HOST it prints)")
    client = docker_engine.connect()
    try:
        client.images.get(PROMETHEUS_IMAGE)
    except Exception:
        pytest.skip(f"image {PROMETHEUS_IMAGE} missing (scripts/docker-api builds it)")
    finally:
        client.close()


def test_docker_stack_from_nothing(docker_api, tmp_path):
    loaded = load_config(_config(tmp_path, runtime="docker"))
    stack = for_config(loaded)
    assert isinstance(stack, DockerStack)
    before = stack.status()
    assert not before.ready and [(c.name, c.status) for c in before.containers] == [("prometheus", "missing")]
    try:
        assert stack.ensure() is True, "its container started now"
        assert stack.client().ready() and stack.client().query("vector(1)")[0].value == 1.0
        assert stack.ensure() is False
        running = stack.status()
        assert running.ready and [(c.name, c.status) for c in running.containers] == [("prometheus", "running")]
    finally:
        stopped = stack.stop(purge=True)
    assert stack.definition().container_name("prometheus") in stopped.removed
    assert any(name.startswith("volume ") for name in stopped.removed), stopped
    assert not stack.status().ready
