"""Secrets stay in the environment: never in a generated script, run.json, k6.log, the
verdict or the reports, never on a command line. The run here is real (k6, Prometheus, the
reference backend on 127.0.0.1) and short; the ssh refusal is checked at its seam."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest

from orchestrator.errors import UsageError
from tests.conftest import plan_of, run_cli, write_config

SECRET_VAR = "PERFCTL_TEST_TARGET_PASSWORD"
PORT_VAR = "PERFCTL_TEST_TARGET_PORT"


def _files_containing(folder: Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.name}: {needle[:4]}..." for needle in needles if needle.encode() in data]
    return found


@pytest.mark.e2e
def test_secret_in_target_url_is_used_but_never_recorded(stack_factory, monkeypatch):
    password = "pw-" + secrets.token_hex(12)
    prom_password = "prom-" + secrets.token_hex(12)
    monkeypatch.setenv(SECRET_VAR, password)

    def edit(config_path: Path) -> None:
        text = config_path.read_text()
        # The backend's port comes from the environment too: the load and the health gate can only
        # reach the backend if perfctl and k6 both filled in the URL's variables.
        port = re.search(r"base_url: http://127\.0\.0\.1:(\d+)", text).group(1)
        monkeypatch.setenv(PORT_VAR, port)
        text = text.replace(f"base_url: http://127.0.0.1:{port}",
                            f"base_url: http://perfctl:${{{SECRET_VAR}}}@127.0.0.1:${{{PORT_VAR}}}")
        # Prometheus (no auth of its own) ignores the credentials; run.json must not keep them.
        text = re.sub(r"url: http://127\.0\.0\.1:(\d+)", rf"url: http://perfctl:{prom_password}@127.0.0.1:\1", text, count=1)
        config_path.write_text(text)

    stack = stack_factory(edit=edit)
    assert prom_password in stack.config_path.read_text()
    result = stack.cli("run", "demo", "--duration", "5s")
    assert result.code == 0, result.output
    run = stack.last_run()

    # The value was used: the health gate answered, and k6's requests and WebSocket replies reached the backend.
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["http_reqs"]["count"] > 10
    assert summary["metrics"]["http_req_failed"]["value"] == 0
    assert summary["metrics"]["ws_reply_success"]["passes"] > 0
    assert stack.verdict(run)["result"] == "pass"

    # ... and never written down: not in any file of the run, not in what perfctl printed.
    basic = base64.b64encode(f"perfctl:{password}".encode()).decode()
    for name in ("script.js", "run.json", "k6.log", "verdict.json", "report.md", "junit.xml"):
        assert (run / name).is_file(), name
    assert _files_containing(run, [password, basic]) == []
    assert password not in result.output
    # k6 itself prints the remote-write URL in its banner (k6.log); perfctl's own files never hold it.
    for name in ("script.js", "run.json", "verdict.json", "report.md", "junit.xml"):
        assert prom_password not in (run / name).read_text(), name
    script = (run / "script.js").read_text()
    # The script reads the base URL's variables by name, in each VU.
    code = plan_of(script)["code"]
    assert {SECRET_VAR, PORT_VAR, "http://perfctl:", "@127.0.0.1:"} <= {value for value in code if isinstance(value, str)}
    reads = re.search(r"^// Environment it reads: (.*?)  \(", script, re.MULTILINE).group(1).split(", ")
    assert {SECRET_VAR, PORT_VAR} <= set(reads)
    # Nor in what k6 sent to Prometheus (its `url` tags).
    import requests

    series = requests.get(stack.prometheus.url + "/api/v1/series", params={"match[]": f'{{testid="{run.name}"}}'},
                          timeout=10).json()["data"]
    assert series and password not in json.dumps(series)
    record = json.loads((run / "run.json").read_text())
    assert re.fullmatch(r"http://perfctl:\*\*\*@127\.0\.0\.1:\d+", record["prometheus_url"]), record["prometheus_url"]


def test_target_url_variable_must_be_set_and_keeps_the_url_shape_check(tmp_path):
    from orchestrator.config.env import expand_env, missing_runtime_env, runtime_env_refs
    from orchestrator.config.load import load_config
    from orchestrator.errors import ConfigError

    path = write_config(tmp_path / "perfctl.yaml", """
        version: 1
        target: {base_url: "${TARGET_URL}", ws_base_url: "ws://u:${WS_PASS}@127.0.0.1:1"}
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
        """)
    loaded = load_config(path, environ={"TARGET_URL": "http://u:pw@127.0.0.1:1", "WS_PASS": "x"})
    assert loaded.config.target.base_url == "${TARGET_URL}"  # the value stays out of the config objects
    assert expand_env(loaded.config.target.base_url, {"TARGET_URL": "http://h:1"}) == "http://h:1"
    assert runtime_env_refs(loaded.config) == {"TARGET_URL": None, "WS_PASS": None}
    assert missing_runtime_env(loaded.config, {"WS_PASS": "x"}) == ["TARGET_URL"]
    with pytest.raises(ConfigError) as unset:
        load_config(path, environ={"WS_PASS": "x"})
    assert unset.value.lines == ["target.base_url: environment variable TARGET_URL is not set (or give ${TARGET_URL:-default})"]
    with pytest.raises(ConfigError) as shape:
        load_config(path, environ={"TARGET_URL": "ftp://u:pw@h", "WS_PASS": "x"})
    # The shape is checked on the filled-in URL; the message quotes the config, not the value.
    assert shape.value.lines == ["target.base_url: '${TARGET_URL}' must start with http:// or https://"]


def test_env_reference_in_k6_extra_args_is_refused(tmp_path):
    path = write_config(tmp_path / "perfctl.yaml", """
        version: 1
        k6: {extra_args: ["--quiet", "-e", "TOKEN=${API_TOKEN}"]}
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
        """)
    for command in (["validate"], ["run", "s"]):
        result = run_cli(*command, "-c", str(path), cwd=tmp_path, env={"API_TOKEN": "t0ken-value"})
        assert result.code == 2, result.output
        assert "k6.extra_args[2]: ${...} is not allowed here" in result.stderr
        assert "target.headers" in result.stderr and "Traceback" not in result.output
        assert "t0ken-value" not in result.output
    assert not (tmp_path / "results").exists()


def test_redact_url():
    from orchestrator.config.env import redact_url

    assert redact_url("http://user:pa55@prom.example:9090/x?y=1") == "http://user:***@prom.example:9090/x?y=1"
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"
    assert redact_url("https://only-user@h") == "https://only-user@h"


# ---- --hosts: K6_* settings travel on the ssh command line, so secret-looking ones are refused ----


@pytest.fixture
def recording_ssh(tmp_path, monkeypatch):
    """ssh/scp stand-ins that only record that they were called (at perfctl's seam)."""
    calls = tmp_path / "calls"
    tool = tmp_path / "record"
    tool.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nexit 0\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PERFCTL_SSH", str(tool))
    monkeypatch.setenv("PERFCTL_SCP", str(tool))
    return calls


REMOTE_WRITE = {
    "K6_PROMETHEUS_RW_SERVER_URL": "http://127.0.0.1:9090/api/v1/write",
    "K6_PROMETHEUS_RW_PUSH_INTERVAL": "1s",
    "K6_PROMETHEUS_RW_TREND_STATS": "p(95),p(99)",
    "K6_PROMETHEUS_RW_STALE_MARKERS": "true",
    "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM": "false",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("K6_PROMETHEUS_RW_PASSWORD", "hunter2"),
        ("K6_PROMETHEUS_RW_HTTP_HEADERS", "Authorization: Bearer abc"),
        ("K6_PROMETHEUS_RW_BEARER_TOKEN", "abc"),
        ("K6_PROMETHEUS_RW_SERVER_URL", "http://u:hunter2@127.0.0.1:9090/api/v1/write"),
    ],
)
def test_ssh_runtime_refuses_secret_looking_settings_before_any_ssh(tmp_path, recording_ssh, name, value):
    from orchestrator.console import Progress
    from orchestrator.runtimes.ssh import SshRuntime

    runtime = SshRuntime(("load@h1", "load@h2"), "r1")
    env = {**REMOTE_WRITE, name: value}
    with pytest.raises(UsageError) as refused:
        runtime.run(["k6", "run", str(tmp_path / "script.js")], env, tmp_path / "k6.log", cwd=tmp_path,
                    on_started=lambda hosts: None, progress=Progress())
    assert name in refused.value.message and "does not send secrets to other hosts" in refused.value.message
    assert value not in refused.value.message
    assert not recording_ssh.exists()  # no host was even contacted
    with pytest.raises(UsageError):
        runtime.start_command(["k6", "run", "script.js"], env, runtime.instances[0])


def test_ssh_runtime_still_sends_the_harmless_settings(tmp_path):
    from orchestrator.runtimes.ssh import SshRuntime

    runtime = SshRuntime(("load@h1",), "r1")
    command = runtime.start_command(["k6", "run", "script.js"], {**REMOTE_WRITE, "HOME_SECRET": "x"}, runtime.instances[0])
    for key, value in REMOTE_WRITE.items():
        assert f"{key}={value}" in command
    assert "HOME_SECRET" not in command


def test_hosts_option_is_refused_while_a_secret_setting_is_exported(tmp_path):
    path = write_config(tmp_path / "perfctl.yaml", """
        version: 1
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
        """)
    result = run_cli("run", "s", "--hosts", "load@h1,load@h2", "-c", str(path), cwd=tmp_path,
                     env={"K6_PROMETHEUS_RW_PASSWORD": "hunter2"})
    assert result.code == 2, result.output
    assert "K6_PROMETHEUS_RW_PASSWORD" in result.stderr and "does not send secrets to other hosts" in result.stderr
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_remote_write_credentials_leave_the_url_k6_prints():
    from orchestrator.k6.binary import RemoteWrite, remote_write_env

    env = remote_write_env(RemoteWrite("http://perf:s3cr3t@127.0.0.1:9090/", 5.0, ("p(95)",), False))
    assert env["K6_PROMETHEUS_RW_SERVER_URL"] == "http://127.0.0.1:9090/api/v1/write"
    assert env["K6_PROMETHEUS_RW_USERNAME"] == "perf" and env["K6_PROMETHEUS_RW_PASSWORD"] == "s3cr3t"
    plain = remote_write_env(RemoteWrite("http://127.0.0.1:9090", 5.0, ("p(95)",), False))
    assert "K6_PROMETHEUS_RW_PASSWORD" not in plain
