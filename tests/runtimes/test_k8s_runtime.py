"""orchestrator/runtimes/k8s.py driven directly (K8sRuntime.run), kubectl faked at its seam
(tests/fake_kubectl.py, as tests/runtimes/test_k8s.py does through the CLI): the TestRun followed to
its end, the runners' exit codes combined, and the TestRun deleted whenever perfctl stops
following it (a signal, the live gate's watch, the timeout, a failure of its own)."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.config.load import load_config
from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem
from orchestrator.k6.binary import find_k6
from orchestrator.netutil import free_port
from orchestrator.runtimes.k8s import K8sRuntime, _combined, _timestamp
from orchestrator.runtimes import kubectl as manifests  # not `TestRunPlan` by name: pytest would collect it
from tests.conftest import REPO, write_config

# No remote-write target listens: k6's push fails quietly, the run itself is what is tested.
CONFIG = """
version: 1
prometheus: {url: "http://127.0.0.1:%d"}
k8s: {kubectl: "%s", namespace: load, poll_interval: 0.1s, timeout: "%s"}
scenarios:
  main: {vus: 1, duration: 5s, requests: [{name: h, path: /health}]}
"""

QUICK = "export const options = {vus: 1, iterations: 1};\nexport default function () {}\n"
# Long enough for the follower to see stage `started` (it polls every 0.1 s).
BRIEF = "import { sleep } from 'k6';\nexport const options = {vus: 1, iterations: 1};\nexport default function () { sleep(2); }\n"
SLOW = "import { sleep } from 'k6';\nexport const options = {vus: 1, iterations: 1};\nexport default function () { sleep(30); }\n"
FAILING = "export const options = {vus: 1, iterations: 1};\nexport default function () { throw new Error('x'); }\n" \
          "export function setup() { throw new Error('setup fails'); }\n"


def fake_kubectl(directory: Path) -> Path:
    path = directory / "kubectl"
    path.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(REPO)!r})\n"
                    f"runpy.run_path({str(REPO / 'tests/fake_kubectl.py')!r}, run_name='__main__')\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class Cluster:
    def __init__(self, tmp_path: Path, monkeypatch, mode: str, *, timeout: str = "60s", kubectl: Path | None = None):
        self.state = tmp_path / "state"
        monkeypatch.setenv("FAKE_KUBECTL_STATE", str(self.state))
        monkeypatch.setenv("FAKE_KUBECTL_MODE", mode)
        monkeypatch.setenv("FAKE_K6", str(find_k6()))
        kubectl = kubectl or fake_kubectl(tmp_path)
        self.loaded = load_config(write_config(tmp_path / "perfctl.yaml", CONFIG % (free_port(), kubectl, timeout)))
        self.tmp_path = tmp_path

    def runtime(self, script: str = QUICK, parallelism: int = 1) -> K8sRuntime:
        plan = manifests.TestRunPlan(run_id="r1", scenario="main", parallelism=parallelism, settings=self.loaded.config.k8s)
        path = self.tmp_path / "k8s.yaml"
        path.write_text(manifests.dump_manifests(manifests.build_manifests(self.loaded.config, plan, script)))
        return K8sRuntime(self.loaded, plan, path)

    def run(self, runtime: K8sRuntime, *, watch=None, on_started=None):
        started: list = []
        outcome = runtime.run([], {}, self.tmp_path / "k6.log", cwd=self.tmp_path,
                              on_started=on_started or started.append, progress=Progress(io.StringIO()), watch=watch)
        return outcome, started

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def verbs(self) -> list[str]:
        return [" ".join(c[c.index("load") + 1:][:2]) for c in self.calls()]

    def log(self) -> str:
        return (self.tmp_path / "k6.log").read_text()

    def stop_runners(self) -> None:
        try:
            pids = json.loads((self.state / "pids.json").read_text())
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def cluster_factory(tmp_path, monkeypatch):
    made: list[Cluster] = []

    def make(mode: str, **kwargs) -> Cluster:
        made.append(Cluster(tmp_path, monkeypatch, mode, **kwargs))
        return made[-1]

    yield make
    for cluster in made:
        cluster.stop_runners()


# ---- without k6 -----------------------------------------------------------------------------


def test_an_operator_error_with_a_runner_code_gives_that_code(cluster_factory):
    cluster = cluster_factory("error")
    runtime = cluster.runtime()
    outcome, started = cluster.run(runtime)
    assert outcome.exit_code == 107 and outcome.interrupted_by is None
    assert started == [{"testrun": runtime.plan.name, "namespace": "load", "parallelism": 1}]
    assert cluster.verbs()[0] == "apply -f"
    assert all(c[:2] == ["--namespace", "load"] for c in cluster.calls())  # argv after the binary
    assert "stage error" in cluster.log() and '"exit codes":' not in cluster.log()
    assert runtime.ran is None  # never `started`: no load window


def test_finished_without_pods_leaves_the_exit_code_unknown(cluster_factory):
    cluster = cluster_factory("absent-pods")
    outcome, _ = cluster.run(cluster.runtime())
    assert outcome.exit_code is None
    assert "the runners' k6 exit codes are unknown (0 of 1 seen)" in cluster.log()
    assert "delete testrun" not in cluster.verbs()  # a normal end: the operator cleans up


def test_a_failing_on_started_deletes_the_testrun_it_applied(cluster_factory):
    cluster = cluster_factory("absent-pods")

    def on_started(details):
        raise RuntimeError("recording failed")

    with pytest.raises(RuntimeError, match="recording failed"):
        cluster.run(cluster.runtime(), on_started=on_started)
    assert cluster.verbs() == ["apply -f", "delete testrun"]


def test_a_missing_kubectl_says_how_to_fix_it(cluster_factory, tmp_path):
    cluster = cluster_factory("absent-pods", kubectl=tmp_path / "no-kubectl")
    with pytest.raises(EnvironmentProblem) as caught:
        cluster.run(cluster.runtime())
    assert "no-kubectl: not found" in caught.value.message
    assert "install kubectl" in caught.value.hint


def test_context_is_passed_to_every_call(cluster_factory):
    cluster = cluster_factory("absent-pods")
    runtime = cluster.runtime()
    runtime.settings = runtime.settings.model_copy(update={"context": "staging"})
    cluster.run(runtime)
    assert all(c[:4] == ["--context", "staging", "--namespace", "load"] for c in cluster.calls())


def test_combined_exit_codes():
    assert _combined({}, 2) is None
    assert _combined({"a": (0, None)}, 2) is None  # one runner still unknown
    assert _combined({"a": (107, None)}, 2) == 107  # a real failure is known before the rest end
    assert _combined({"a": (0, None), "b": (99, None)}, 2) == 99
    assert _combined({"a": (0, None), "b": (0, None)}, 2) == 0
    assert _combined({"a": (99, None), "b": (108, None)}, 2) == 108


def test_kubernetes_timestamps():
    assert _timestamp("2026-01-02T03:04:05Z") == 1767323045.0
    assert _timestamp(None) is None and _timestamp("") is None and _timestamp("yesterday") is None


def test_runner_exit_codes_read_only_terminated_k6_containers(cluster_factory, tmp_path, monkeypatch):
    cluster = cluster_factory("absent-pods")
    runtime = cluster.runtime()
    pods = {"items": [
        {"metadata": {"name": "r-0"}, "status": {"containerStatuses": [
            {"name": "k6", "state": {"terminated": {"exitCode": 99, "finishedAt": "2026-01-02T03:04:05Z"}}}]}},
        {"metadata": {"name": "r-1"}, "status": {"containerStatuses": [{"name": "k6", "state": {"running": {}}}]}},
        {"metadata": {"name": "r-2"}, "status": {"containerStatuses": [
            {"name": "sidecar", "state": {"terminated": {"exitCode": 1}}}]}},
        {"metadata": {"name": "r-3"}, "status": {"containerStatuses": None}},
    ]}
    script = tmp_path / "pods-kubectl"
    script.write_text(f"#!/bin/sh\ncat {tmp_path / 'pods.json'}\n")
    script.chmod(0o755)
    (tmp_path / "pods.json").write_text(json.dumps(pods))
    runtime.settings = runtime.settings.model_copy(update={"kubectl": str(script)})
    assert runtime.runner_exit_codes() == {"r-0": (99, 1767323045.0)}
    (tmp_path / "pods.json").write_text("not json")
    assert runtime.runner_exit_codes() == {}


# ---- with real k6 runners (the fake operator starts them) -------------------------------------


@pytest.mark.e2e
def test_two_runners_finish_and_their_window_is_recorded(cluster_factory):
    cluster = cluster_factory("operator")
    runtime = cluster.runtime(BRIEF, parallelism=2)
    before = time.time()
    outcome, _ = cluster.run(runtime)
    assert outcome.exit_code == 0 and outcome.interrupted_by is None and outcome.stopped_by is None
    assert runtime.ran is not None and before - 1 <= runtime.ran[0] <= runtime.ran[1] <= time.time() + 2
    assert 'runner exit codes: {"' in cluster.log()
    testrun = json.loads((cluster.state / "testrun.json").read_text())
    assert testrun["spec"]["parallelism"] == 2


@pytest.mark.e2e
def test_a_failing_runner_code_is_the_runs(cluster_factory):
    cluster = cluster_factory("operator")
    outcome, _ = cluster.run(cluster.runtime(FAILING))
    assert outcome.exit_code not in (None, 0, 99)


@pytest.mark.e2e
def test_a_signal_deletes_the_testrun_and_names_itself(cluster_factory):
    cluster = cluster_factory("operator")
    runtime = cluster.runtime(SLOW)
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        outcome, _ = cluster.run(runtime)
    finally:
        timer.cancel()
    assert outcome.interrupted_by == "SIGTERM"
    assert "delete testrun" in cluster.verbs()
    assert (cluster.state / "deleted").exists()
    assert "SIGTERM: deleted TestRun" in cluster.log()


@pytest.mark.e2e
def test_the_watch_stops_the_run_by_deleting_the_testrun(cluster_factory):
    cluster = cluster_factory("operator")
    asked = []

    def watch():
        asked.append(time.monotonic())
        return "p95 above 1 s" if len(asked) >= 3 else None

    outcome, _ = cluster.run(cluster.runtime(SLOW), watch=watch)
    assert outcome.stopped_by == "p95 above 1 s" and outcome.interrupted_by is None
    assert len(asked) == 3 and "delete testrun" in cluster.verbs()


@pytest.mark.e2e
def test_the_timeout_deletes_the_testrun_and_says_what_to_raise(cluster_factory):
    cluster = cluster_factory("operator", timeout="1s")
    with pytest.raises(EnvironmentProblem) as caught:
        cluster.run(cluster.runtime(SLOW))
    assert "did not finish within 1s (stage: started)" in caught.value.message
    assert "k8s.timeout" in caught.value.hint
    assert "delete testrun" in cluster.verbs()
