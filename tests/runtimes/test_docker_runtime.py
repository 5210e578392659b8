"""The docker path for real, through a Docker API (here Podman's service, started by
scripts/docker-api with locally built images): Prometheus in a container, k6 in a
container against the reference backend on the host's loopback, the gate reading the
containerised Prometheus, and nothing left behind.

Without a Docker API or the images these tests are skipped, and the reason says how to
get them: scripts/docker-api (scripts/test runs it)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from orchestrator import docker_engine
from orchestrator.commands.demo import write_demo_config
from orchestrator.config.load import load_config
from orchestrator.demo.backend import BackendSettings, RunningBackend
from orchestrator.monitoring.local import LocalPrometheus
from orchestrator.monitoring.stack import DockerStack
from orchestrator.netutil import free_port
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.services import LABEL_RUN_ID, LABEL_STACK
from tests.conftest import PERFCTL, Stack, lenient_loop, tune_for_tests

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

K6_IMAGE = "localhost/perfctl-k6:1.1.0"
PROMETHEUS_IMAGE = "localhost/perfctl-prometheus:2.42.0"


@pytest.fixture(scope="module")
def docker_client():
    why = docker_engine.reachable()
    if why:
        pytest.skip(f"no Docker API: {why} (run scripts/docker-api and export the DOCKER_HOST it prints)")
    client = docker_engine.connect()
    for image in (K6_IMAGE, PROMETHEUS_IMAGE):
        try:
            client.images.get(image)
        except Exception:
            client.close()
            pytest.skip(f"image {image} missing (scripts/docker-api builds it)")
    yield client
    client.close()


def _docker_config(path: Path) -> None:
    text = path.read_text()
    text = text.replace(
        "  manage: true", f"  manage: true\n  runtime: docker\n  image: {PROMETHEUS_IMAGE}", 1
    )
    text = text.replace("\nk6:\n", f"\nk6:\n  image: {K6_IMAGE}\n", 1)
    path.write_text(text + "\ngrafana:\n  enabled: false  # its image cannot be built here\n")


@contextlib.contextmanager
def docker_stack(workspace: Path):
    """The reference backend on 127.0.0.1, a config using the docker runtimes; the stack's
    containers and volumes are removed afterwards whatever happened."""
    with RunningBackend(BackendSettings(port=0)) as backend:
        config_path = write_demo_config(workspace, backend_port=backend.port, prometheus_port=free_port(), example="demo")
        tune_for_tests(config_path)
        # The subject is the docker runtimes, not the loop's speed (k6 and Prometheus in Podman
        # share the 2 cores with the in-process backend): the lenient loop objective, as demo_stack.
        lenient_loop(config_path)
        _docker_config(config_path)
        loaded = load_config(config_path)
        try:
            yield Stack(workspace, config_path, backend, LocalPrometheus.for_config(loaded.config, loaded.path))
        finally:
            DockerStack(loaded).stop(purge=True)


@pytest.fixture
def dstack(tmp_path, docker_client):
    with docker_stack(tmp_path) as s:
        yield s


def _labelled(client, kind: str, label: str) -> list:
    collection = getattr(client, kind)
    return collection.list(all=True, filters={"label": label}) if kind == "containers" else collection.list(
        filters={"label": label}
    )


def test_monitoring_and_a_run_in_containers(dstack, docker_client):
    loaded = load_config(dstack.config_path)
    stack_label = f"{LABEL_STACK}={DockerStack(loaded).id}"

    started = dstack.cli("start-monitoring", "--runtime", "docker")
    assert started.code == 0, started.output
    assert started.stdout.strip() == loaded.config.prometheus.url
    # It returned once the containerised Prometheus had scraped the host's backend (readiness).
    targets = Prometheus(loaded.config.prometheus.url).active_targets()
    assert [t["health"] for t in targets if t["scrapePool"] == "backend"] == ["up"], targets
    (container,) = _labelled(docker_client, "containers", stack_label)
    assert container.status == "running" and container.image.tags == [PROMETHEUS_IMAGE]
    assert _labelled(docker_client, "volumes", stack_label), "the Prometheus data volume is labelled"

    again = dstack.cli("start-monitoring", "--runtime", "docker")
    assert again.code == 0 and "already running" in again.stderr, again.output
    assert [c.id for c in _labelled(docker_client, "containers", stack_label)] == [container.id]

    status = dstack.cli("status")
    assert status.code == 0 and container.name in status.stdout and "ready" in status.stdout, status.output

    # A secret the script reads at run time: it must reach k6 in the container (else every
    # request throws and the gate cannot pass) and must land in no file.
    text = dstack.config_path.read_text().replace("target:\n", 'target:\n  headers: { X-Token: "${PERFCTL_TEST_TOKEN}" }\n', 1)
    dstack.config_path.write_text(text)
    secret = "tok-" + "7f3a9c" * 4
    run = dstack.cli("run", "demo", "--runtime", "docker", "--duration", "4s", env={"PERFCTL_TEST_TOKEN": secret})
    assert run.code == 0, run.output
    for path in dstack.workspace.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the secret was written to {path}"
    record = json.loads((dstack.last_run() / "run.json").read_text())
    assert record["runtime"] == "docker" and record["k6_version"] == "v1.1.0"
    assert record["k6"]["image"] == K6_IMAGE and len(record["k6"]["container"]) >= 12
    verdict = dstack.verdict()
    assert verdict["result"] == "pass"
    values = {o["name"]: o["value"] for o in verdict["objectives"]}
    assert values["backend_loop_hz_min"] is not None and values["ws_reply_success"] == 1
    assert (dstack.last_run() / "summary.json").stat().st_size > 0
    assert "running (" in (dstack.last_run() / "k6.log").read_text()
    assert not _labelled(docker_client, "containers", f"{LABEL_RUN_ID}={record['id']}"), "the k6 container is removed"

    rules = requests.get(loaded.config.prometheus.url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} == {
        "LoadTestErrorRateHigh", "BackendLoopBelowTarget", "KafkaConsumerLagHigh", "TargetDown"
    }

    stopped = dstack.cli("stop-monitoring")
    assert stopped.code == 0, stopped.output
    assert not _labelled(docker_client, "containers", stack_label)
    assert _labelled(docker_client, "volumes", stack_label), "data is kept without --purge"
    # The run's k6 series survive a restart of the stack (named volume).
    assert dstack.cli("start-monitoring").code == 0
    prom = Prometheus(loaded.config.prometheus.url)
    assert prom.query(f'count_over_time(k6_vus{{testid="{record["id"]}"}}[10m])', at=record["end"])
    assert dstack.cli("stop-monitoring").code == 0
    assert not _labelled(docker_client, "containers", stack_label)
    purged = dstack.cli("stop-monitoring", "--purge")
    assert purged.code == 0 and not _labelled(docker_client, "volumes", stack_label), purged.output


def test_the_first_run_on_a_fresh_prometheus_container_passes(dstack, docker_client):
    # `perfctl run` creates the Prometheus container on an empty volume and waits until it has
    # scraped the backend (readiness.py): a 5 s run right after has data from its first second.
    # The loop objective is docker_stack's lenient one: a gap in its data would still be 98.
    for _ in range(2):
        run = dstack.cli("run", "demo", "--duration", "5s")
        assert run.code == 0, run.output
        assert "waiting for Prometheus to scrape job 'backend'" in run.stderr, run.output
        assert dstack.verdict()["result"] == "pass"
        purged = dstack.cli("stop-monitoring", "--purge")
        assert purged.code == 0 and "volume" in purged.stderr, purged.output


def test_a_flat_run_in_a_k6_container_is_judged_from_prometheus(dstack, docker_client):
    # The image's k6 (grafana/k6:1.1.0) gets the flags of its own version; no summary comes out
    # of the container, so perfctl's summary.json and the thresholds come from Prometheus.
    text = dstack.config_path.read_text().replace("\nk6:\n", "\nk6:\n  memory: flat\n", 1)
    dstack.config_path.write_text(text.replace(
        "    duration: 10s\n    think_time: 200ms\n", '    duration: 10s\n    think_time: 200ms\n'
        '    thresholds: { http_req_duration: ["p(95)<2000"], http_reqs: ["count>3"] }\n', 1))
    run = dstack.cli("run", "health", "--runtime", "docker", "--duration", "4s", "--run-id", "flat-docker")
    assert run.code == 0, run.output
    folder = dstack.workspace / "results" / "flat-docker"
    record = json.loads((folder / "run.json").read_text())
    assert record["runtime"] == "docker" and record["k6_memory"]["mode"] == "flat"
    assert "--no-thresholds" in record["k6"]["argv"] and "--summary-export" not in record["k6"]["argv"]
    assert json.loads((folder / "summary.json").read_text())["perfctl"]["source"] == "prometheus"
    grades = {o["name"]: o for o in dstack.verdict(folder)["objectives"]}
    assert grades["k6:http_reqs:count>3"]["result"] == "pass" and grades["k6:http_reqs:count>3"]["value"] > 3
    assert grades["k6:http_req_duration:p(95)<2000"]["result"] == "pass"
    assert not _labelled(docker_client, "containers", f"{LABEL_RUN_ID}=flat-docker"), "the k6 container is removed"


def test_ctrl_c_stops_the_k6_container_gracefully_and_removes_it(dstack, docker_client):
    assert dstack.cli("start-monitoring").code == 0  # prometheus.runtime: docker in the config
    proc = subprocess.Popen(
        [*PERFCTL, "run", "health", "--runtime", "docker", "--duration", "60s", "-c", str(dstack.config_path)],
        cwd=dstack.workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        container_id = _wait_for_container(dstack, proc)
        time.sleep(2)  # let k6 send some load first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    run_dir = dstack.last_run()
    assert (run_dir / "summary.json").stat().st_size > 0, "k6 stopped gracefully and wrote its summary"
    assert json.loads((run_dir / "run.json").read_text())["interrupted_by"] == "SIGINT"
    assert container_id not in [c.id for c in docker_client.containers.list(all=True)]


def test_the_runtime_asks_the_engine_about_the_container_once_a_look(tmp_path, docker_client, monkeypatch):
    # A k6 that sends nothing (sleep only): the subject is the follow loop, not load.
    from docker.models.containers import Container

    from orchestrator.console import Progress
    from orchestrator.runtimes.base import LOOK_EVERY
    from orchestrator.runtimes.docker import DockerRuntime

    script = tmp_path / "script.js"
    script.write_text("import { sleep } from 'k6';\nexport default function () { sleep(0.5); }\n")
    asked = []
    real_reload = Container.reload
    monkeypatch.setattr(Container, "reload", lambda self: (asked.append(time.monotonic()), real_reload(self))[1])
    runtime = DockerRuntime(image=K6_IMAGE, network="none", stack="perfctl-test-look")
    started = []
    begun = time.monotonic()
    outcome = runtime.run(
        ["k6", "run", "--vus", "1", "--duration", "4s", "--tag", "testid=look-once", str(script)],
        {"K6_NO_USAGE_REPORT": "true"}, tmp_path / "k6.log", cwd=tmp_path,
        on_started=started.append, progress=Progress(io.StringIO()),
    )
    returned = time.monotonic()
    assert outcome.exit_code == 0 and outcome.interrupted_by is None
    assert started and started[0]["container"] == runtime.container_id
    log = (tmp_path / "k6.log").read_text()
    assert "iterations" in log and "running (" in log, "the log stream was copied to the end"
    # One look a second while k6 runs (the loop asked 5 times a second before: ~20 here), plus
    # the start, the last looks after the log stream closed, and the engine's own times.
    assert len(asked) <= (returned - begun) / LOOK_EVERY + 5, (len(asked), returned - begun)
    assert runtime.ran is not None and runtime.ran[0] < runtime.ran[1]
    assert not _labelled(docker_client, "containers", f"{LABEL_RUN_ID}=look-once"), "the k6 container is removed"


def test_an_image_is_asked_its_version_and_about_a_script_once_and_a_rejection_every_time(tmp_path, docker_client, monkeypatch):
    from orchestrator.errors import ConfigError
    from orchestrator.runtimes.docker import DockerRuntime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a fresh machine: nothing remembered
    asked = []
    real_one_shot = DockerRuntime._one_shot
    monkeypatch.setattr(DockerRuntime, "_one_shot", lambda self, args, **kw: (asked.append(args[0]), real_one_shot(self, args, **kw))[1])
    script = "export default function () {}\n"

    first = DockerRuntime(image=K6_IMAGE)
    assert first.features().text == "v1.1.0"
    first.inspect(script)
    later = DockerRuntime(image=K6_IMAGE)  # the next run: a new runtime, the same image
    assert later.features() == first.features()
    later.inspect(script)
    assert asked == ["version", "inspect"], "the second run started no container before its load"
    later.inspect(script + "// changed\n")
    assert asked == ["version", "inspect", "inspect"]
    for _ in range(2):
        with pytest.raises(ConfigError, match="k6 inspect rejected"):
            later.inspect("export default function ( {\n")
    assert asked[3:] == ["inspect", "inspect"], "a rejected script is checked again, to show k6's words"

    older_image = "localhost/perfctl-k6:0.57.0"  # another image: its own answers
    try:
        docker_client.images.get(older_image)
    except Exception:
        return  # scripts/docker-api builds it when scripts/setup --test got k6 0.57.0
    assert DockerRuntime(image=older_image).features().text == "v0.57.0"
    assert asked.count("version") == 2


def test_a_process_asks_the_engine_its_api_version_once(docker_client, monkeypatch):
    from docker.api.client import APIClient

    monkeypatch.setattr(docker_engine, "_api_versions", {})  # as a new perfctl process starts
    asked = []
    real_version = APIClient._retrieve_server_version
    monkeypatch.setattr(APIClient, "_retrieve_server_version", lambda self: (asked.append(1), real_version(self))[1])
    clients = [docker_engine.connect() for _ in range(3)]
    try:
        assert len(asked) == 1, "the second and third client were told the version the first was given"
        assert len({c.api.api_version for c in clients}) == 1
        assert all(c.images.get(K6_IMAGE).id == clients[0].images.get(K6_IMAGE).id for c in clients)
    finally:
        for c in clients:
            c.close()


def _wait_for_container(stack: Stack, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for run in stack.runs():
            try:
                container = json.loads((run / "run.json").read_text()).get("k6", {}).get("container")
            except (OSError, ValueError):
                continue
            if container:
                return container
        time.sleep(0.2)
    raise AssertionError("the k6 container never started")


def test_prometheus_that_cannot_start_shows_its_log_and_is_removed(dstack, docker_client):
    loaded = load_config(dstack.config_path)
    port = int(loaded.config.prometheus.url.rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = dstack.cli("start-monitoring")
    assert result.code == 3, result.output
    assert "Prometheus" in result.stderr and "last log lines" in result.stderr
    assert "address already in use" in result.stderr
    assert not _labelled(docker_client, "containers", f"{LABEL_STACK}={DockerStack(loaded).id}")


def test_a_missing_k6_image_is_a_clear_environment_error(dstack, docker_client):
    text = dstack.config_path.read_text().replace(K6_IMAGE, "localhost/perfctl-no-such-k6:0.0.1")
    dstack.config_path.write_text(text)
    result = dstack.cli("run", "health", "--runtime", "docker", "--duration", "2s")
    assert result.code == 3, result.output
    assert "localhost/perfctl-no-such-k6:0.0.1" in result.stderr and "Traceback" not in result.output
    assert not dstack.runs(), "nothing was recorded: the run never started"


def test_clean_removes_a_k6_container_a_dead_perfctl_left(dstack, docker_client):
    # What a perfctl killed mid-run leaves: an exited k6 container with its run's label.
    left = docker_client.containers.run(
        K6_IMAGE, ["version"], detach=True, labels={LABEL_RUN_ID: "20260101-000000-gone-0000"}, network_mode="none"
    )
    try:
        left.wait(timeout=60)
        # Its run is in no ledger of this config: plain `clean` leaves it (it may be another
        # folder's), `--all` removes it.
        kept = dstack.cli("clean")
        assert kept.code == 0 and left.name not in kept.stdout, kept.output
        assert left.id in [c.id for c in docker_client.containers.list(all=True)]
        result = dstack.cli("clean", "--all")
        assert result.code == 0, result.output
        assert left.name in result.stdout
        assert left.id not in [c.id for c in docker_client.containers.list(all=True)]
    finally:
        with contextlib.suppress(Exception):
            left.remove(force=True)
