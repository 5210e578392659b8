"""k6-operator: `perfctl k8s render` writes manifests that validate against the operator's
published TestRun CRD (tests/data/k6-operator), and `perfctl run --runtime k8s` applies and
follows a TestRun through kubectl, faked at that seam (tests/fake_kubectl.py: it records
every call and plays the operator with real k6 runners)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from orchestrator.k6.binary import find_k6
from orchestrator.runtimes.kubectl import k8s_name
from orchestrator.monitoring.prometheus import Prometheus
from tests.conftest import REPO, demo_stack, run_cli, write_config

CRD = REPO / "tests/data/k6-operator/testruns.crd.yaml"

CONFIG = """
version: 1
target:
  base_url: http://127.0.0.1:8080
  headers: {Authorization: "Bearer ${API_TOKEN}"}
prometheus:
  url: http://127.0.0.1:9090
k8s:
  namespace: load
  prometheus_url: http://prometheus.monitoring.svc:9090
  env_secret: perfctl-env
  image: grafana/k6:1.1.0
  resources:
    requests: {cpu: 500m, memory: 256Mi}
    limits: {cpu: "1", memory: 512Mi}
scenarios:
  main:
    vus: 4
    duration: 30s
    requests: [{name: health, path: /health}]
"""


def _strict(schema):
    """The CRD schema with unknown fields refused, as `kubectl apply --validate=strict` does
    (the API server would otherwise drop a misspelt field without a word)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def testrun_schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return _strict(version["schema"]["openAPIV3Schema"])


def _render(tmp_path: Path, *args: str, env: dict | None = None):
    write_config(tmp_path / "perfctl.yaml", CONFIG)
    result = run_cli("k8s", "render", "main", "-o", "out", *args, cwd=tmp_path,
                     env={"API_TOKEN": "not-in-the-manifest", **(env or {})})
    docs = []
    if result.code == 0:
        files = list((tmp_path / "out").glob("*.yaml"))
        assert len(files) == 1
        docs = list(yaml.safe_load_all(files[0].read_text()))
    return result, docs


def _env(testrun: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in testrun["spec"]["runner"]["env"]}


def test_render_writes_a_configmap_and_a_valid_testrun(tmp_path: Path, testrun_schema):
    result, docs = _render(tmp_path, "--parallelism", "3", "--separate", "--cleanup", "post", "--run-id", "Run_1.a")
    assert result.code == 0, result.output
    configmap, testrun = docs
    jsonschema.validate(testrun, testrun_schema)
    assert testrun["apiVersion"] == "k6.io/v1alpha1" and testrun["kind"] == "TestRun"
    spec = testrun["spec"]
    assert spec["parallelism"] == 3 and spec["separate"] is True and spec["cleanup"] == "post"
    assert spec["arguments"] == "--tag testid=Run_1.a -o experimental-prometheus-rw"
    # The script travels in the ConfigMap the TestRun names.
    assert configmap["kind"] == "ConfigMap" and configmap["metadata"]["name"] == spec["script"]["configMap"]["name"]
    script = configmap["data"][spec["script"]["configMap"]["file"]]
    assert "const PLAN = JSON.parse(" in script and "export const run_" in script
    # DNS-1123 names, in the configured namespace, labelled with the run id.
    assert testrun["metadata"]["name"] == "perfctl-run-1-a" == k8s_name("perfctl-Run_1.a")
    assert testrun["metadata"]["namespace"] == configmap["metadata"]["namespace"] == "load"
    assert testrun["metadata"]["labels"]["perfctl.run-id"] == "Run_1.a"
    env = _env(testrun)
    assert env["K6_PROMETHEUS_RW_SERVER_URL"] == "http://prometheus.monitoring.svc:9090/api/v1/write"
    # Several runners: native histograms, so the gate merges percentiles exactly.
    assert env["K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"] == "true"
    assert env["K6_PROMETHEUS_RW_STALE_MARKERS"] == "false"
    runner = spec["runner"]
    assert runner["image"] == "grafana/k6:1.1.0"
    assert runner["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert runner["envFrom"] == [{"secretRef": {"name": "perfctl-env"}}]
    # Secrets stay in the environment: the runtime reference is in the script, the value nowhere.
    text = (tmp_path / "out" / "perfctl-run-1-a.yaml").read_text()
    assert "not-in-the-manifest" not in text and "API_TOKEN" in text


def test_single_runner_defaults(tmp_path: Path, testrun_schema):
    result, docs = _render(tmp_path, "--no-separate", "--cleanup", "none", "--json")
    assert result.code == 0, result.output
    info = json.loads(result.stdout)
    testrun = docs[1]
    jsonschema.validate(testrun, testrun_schema)
    assert info["parallelism"] == testrun["spec"]["parallelism"] == 1
    assert "cleanup" not in testrun["spec"] and testrun["spec"]["separate"] is False
    assert _env(testrun)["K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"] == "false"
    assert _env(testrun)["K6_PROMETHEUS_RW_STALE_MARKERS"] == "true"


def test_the_schema_check_catches_bad_manifests(tmp_path: Path, testrun_schema):
    result, docs = _render(tmp_path)
    testrun = docs[1]
    for mutate in (
        lambda t: t["spec"].update(cleanup="always"),
        lambda t: t["spec"].update(parallelism="2"),
        lambda t: t["spec"].pop("script"),
        lambda t: t["spec"]["runner"].update(enviroment=[]),
    ):
        bad = json.loads(json.dumps(testrun))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, testrun_schema)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--parallelism", "0"], "--parallelism"), (["--cleanup", "later"], "--cleanup"), (["--run-id", "a b"], "--run-id")],
)
def test_bad_render_options_are_exit_2(tmp_path: Path, args, message):
    result, _ = _render(tmp_path, *args)
    assert result.code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_render_never_overwrites_and_warns_about_loopback(tmp_path: Path):
    first, _ = _render(tmp_path, "--run-id", "r1")
    assert first.code == 0
    write_config(tmp_path / "perfctl.yaml", CONFIG.replace("  prometheus_url: http://prometheus.monitoring.svc:9090\n", ""))
    again = run_cli("k8s", "render", "main", "-o", "out", "--run-id", "r1", cwd=tmp_path, env={"API_TOKEN": "x"})
    assert again.code == 2 and "--force" in again.stderr
    forced = run_cli("k8s", "render", "main", "-o", "out", "--run-id", "r1", "--force", cwd=tmp_path, env={"API_TOKEN": "x"})
    assert forced.code == 0 and "runner pods cannot reach" in forced.stderr


# ---- run --runtime k8s, kubectl faked at the seam --------------------------------------------


def _fake_kubectl(directory: Path) -> Path:
    path = directory / "kubectl"
    path.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(REPO)!r})\n"
                    f"runpy.run_path({str(REPO / 'tests/fake_kubectl.py')!r}, run_name='__main__')\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def k8s_stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("k8s")
    kubectl = _fake_kubectl(root)

    def edit(config_path: Path) -> None:
        data = yaml.safe_load(config_path.read_text())
        data["k8s"] = {"kubectl": str(kubectl), "poll_interval": "0.5s", "timeout": "120s", "namespace": "load"}
        config_path.write_text(yaml.safe_dump(data, sort_keys=False))

    with demo_stack(root / "ws", edit=edit) as stack:
        yield stack


def _calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def _stop_runners(state: Path) -> None:
    try:
        pids = json.loads((state / "pids.json").read_text())
    except FileNotFoundError:
        return
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _k8s_env(state: Path, mode: str) -> dict:
    return {"FAKE_KUBECTL_STATE": str(state), "FAKE_KUBECTL_MODE": mode, "FAKE_K6": find_k6()}


def test_run_on_k8s_follows_the_testrun_and_gates_on_all_runners(k8s_stack, tmp_path: Path):
    state = tmp_path / "kubectl-state"
    try:
        result = k8s_stack.cli("run", "chat-http", "--runtime", "k8s", "--instances", "2", "--duration", "4s",
                               "--run-id", "k8s-two", env=_k8s_env(state, "operator"))
    finally:
        _stop_runners(state)
    run = k8s_stack.workspace / "results" / "k8s-two"
    # 0, or 99 if the busy 2-core machine slows the backend's loop: the gate decides, k6 ran fine.
    assert result.code in (0, 99), result.output
    calls = _calls(state)
    # kubectl apply of the manifests kept in the run's folder, then the TestRun followed to its end.
    assert calls[0] == ["--namespace", "load", "apply", "-f", str(run / "k8s.yaml")]
    assert ["--namespace", "load", "get", "testrun", "perfctl-k8s-two", "-o", "jsonpath={.status.stage}"] in calls
    assert any(c[2:5] == ["get", "pods", "-l"] and c[5] == "k6_cr=perfctl-k8s-two,runner=true" for c in calls)
    applied = list(yaml.safe_load_all((run / "k8s.yaml").read_text()))
    assert applied[1]["spec"]["parallelism"] == 2
    record = json.loads((run / "run.json").read_text())
    assert record["k8s"] == {"testrun": "perfctl-k8s-two", "namespace": "load", "parallelism": 2}
    assert record["k6_exit_code"] == 0 and record["k6_native_histograms"] is True
    # One verdict over both runners: their series (instance_id 0 and 1) summed by the gate.
    verdict = json.loads((run / "verdict.json").read_text())
    by_name = {o["name"]: o for o in verdict["objectives"]}
    assert by_name["error_ratio"]["value"] == 0 and by_name["checks"]["value"] == 1
    prom = Prometheus(k8s_stack.prometheus.url)
    series = prom.query('sum by (instance_id) (last_over_time(k6_http_reqs_total{testid="k8s-two"}[10m]))')
    assert sorted(s.labels["instance_id"] for s in series) == ["0", "1"] and all(s.value > 0 for s in series)
    assert by_name["http_p95_seconds"]["value"] is not None
    assert "histogram_quantile" in by_name["http_p95_seconds"]["query"]
    log = (run / "k6.log").read_text()
    assert "stage started" in log and "stage finished" in log


def test_testrun_error_is_never_a_pass(k8s_stack, tmp_path: Path):
    state = tmp_path / "kubectl-state"
    result = k8s_stack.cli("run", "health", "--runtime", "k8s", "--duration", "2s", "--run-id", "k8s-error",
                           env=_k8s_env(state, "error"))
    # 98, or 99 when a backend objective fails on its own on a busy machine: never 0.
    assert result.code in (98, 99), result.output
    record = json.loads((k8s_stack.workspace / "results" / "k8s-error" / "run.json").read_text())
    assert record["k6_exit_code"] == 107 and record["status"] == "failed-incomplete"
    assert _grade(k8s_stack, "k8s-error", "k6_completed")["result"] == "inconclusive"


def test_unknown_runner_exit_codes_are_inconclusive(k8s_stack, tmp_path: Path):
    # `finished`, but the pods were cleaned up before perfctl saw how k6 ended: not a pass.
    state = tmp_path / "kubectl-state"
    result = k8s_stack.cli("run", "health", "--runtime", "k8s", "--duration", "2s", "--run-id", "k8s-unknown",
                           env=_k8s_env(state, "absent-pods"))
    assert result.code in (98, 99), result.output
    completed = _grade(k8s_stack, "k8s-unknown", "k6_completed")
    assert completed["result"] == "inconclusive" and "unknown" in completed["reason"]


def _grade(stack, run_id: str, name: str) -> dict:
    verdict = json.loads((stack.workspace / "results" / run_id / "verdict.json").read_text())
    assert verdict["result"] in ("inconclusive", "fail")
    return next(o for o in verdict["objectives"] if o["name"] == name)


def test_interrupt_deletes_the_testrun(k8s_stack, tmp_path: Path):
    state = tmp_path / "kubectl-state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", "chat-http", "--runtime", "k8s", "--duration", "60s",
         "--run-id", "k8s-int", "-c", str(k8s_stack.config_path)],
        cwd=k8s_stack.workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", **_k8s_env(state, "operator")},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (state / "pids.json").exists():
            time.sleep(0.3)
        assert (state / "pids.json").exists(), "the TestRun was never applied"
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _stop_runners(state)
    assert proc.returncode == 130, out + err
    assert (state / "deleted").exists()
    assert any("delete" in c and "perfctl-k8s-int" in c for c in _calls(state))


def test_missing_kubectl_is_an_environment_problem(k8s_stack, tmp_path: Path):
    config = tmp_path / "perfctl.yaml"
    data = yaml.safe_load(k8s_stack.config_path.read_text())
    data["k8s"]["kubectl"] = str(tmp_path / "no-kubectl")
    data["results_dir"] = str(tmp_path / "results")
    config.write_text(yaml.safe_dump(data))
    result = run_cli("run", "health", "--runtime", "k8s", "--duration", "2s", "-c", str(config), cwd=tmp_path)
    assert result.code == 3, result.output
    assert "no-kubectl" in result.stderr and "hint:" in result.stderr and "Traceback" not in result.stderr
