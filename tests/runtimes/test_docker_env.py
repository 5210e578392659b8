"""The docker runtime's translation of a run for the container (pure: no Docker needed):
host paths become the mounts, and only k6's variables and the script's secrets go in."""

from __future__ import annotations

from pathlib import Path

from orchestrator.runtimes.docker import DockerRuntime, _testid, _to_container


def test_only_k6_variables_and_declared_secrets_enter_the_container(tmp_path):
    runtime = DockerRuntime(image="k6:x", secrets={"API_TOKEN"})
    env = {
        "PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "nope", "API_TOKEN": "t0k",
        "K6_PROMETHEUS_RW_SERVER_URL": "http://127.0.0.1:9090/api/v1/write",
        "K6_WEB_DASHBOARD_EXPORT": str(tmp_path / "dashboard.html"),
    }
    inside = runtime.container_env(env, tmp_path, tmp_path / "script.js")
    assert inside == {
        "API_TOKEN": "t0k",
        "K6_PROMETHEUS_RW_SERVER_URL": "http://127.0.0.1:9090/api/v1/write",
        "K6_WEB_DASHBOARD_EXPORT": "/results/dashboard.html",
    }


def test_host_paths_of_the_run_become_the_container_mounts(tmp_path):
    script = tmp_path / "script.js"
    assert _to_container(str(script), tmp_path, script) == "/scripts/script.js"
    assert _to_container(str(tmp_path / "summary.json"), tmp_path, script) == "/results/summary.json"
    assert _to_container(f"json={tmp_path / 'points.json'}", tmp_path, script) == "json=/results/points.json"
    assert _to_container("experimental-prometheus-rw", tmp_path, script) == "experimental-prometheus-rw"
    other = Path("/etc/passwd")
    assert _to_container(str(other), tmp_path, script) == str(other)


def test_the_test_id_names_the_container():
    assert _testid(["k6", "run", "--tag", "testid=abc", "--tag", "x=y", "s.js"]) == "abc"
    assert _testid(["k6", "run", "s.js"]) is None


def test_engine_timestamps_are_read_to_the_microsecond():
    from orchestrator.runtimes.docker import _timestamp

    assert _timestamp("2026-11-27T12:33:58.123456789Z") == 1795782838.123456
    assert _timestamp("2026-11-27T13:33:58.5+01:00") == 1795782838.5
    assert _timestamp("0001-01-01T00:00:00Z") is None  # the engine's "never"
    assert _timestamp("") is None and _timestamp(None) is None
