"""No secret value in any file perfctl writes or any line it prints (issue 14), with k6 itself
echoing it: `--http-debug=full` makes k6 print every request's URL and headers, so the token
(in a header and in a query string) reaches k6's output on every request. Real k6, a real
Prometheus, the reference backend; the whole results folder, `.perfctl/` and the console are
searched. Also: the Prometheus perfctl starts gets none of perfctl's environment's secrets,
and Prometheus URLs with user:password@ are shown redacted by every command."""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from orchestrator.netutil import free_port, port_free
from tests.conftest import run_cli, write_config

TOKEN_VAR = "PERFCTL_TEST_API_TOKEN"


def _holding(folders: list[Path], needles: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            with open(path, "rb") as fh:
                data = fh.read()
            found += [f"{path}: {n[:6]}..." for n in needles if n.encode() in data]
    return found


@pytest.mark.e2e
def test_token_k6_echoes_is_masked_in_k6_log_reports_and_console(stack_factory, monkeypatch):
    token = "tk-" + secrets.token_hex(16) + "/+="  # characters that percent-encode differently
    monkeypatch.setenv(TOKEN_VAR, token)

    def edit(config_path: Path) -> None:
        text = config_path.read_text()
        text = text.replace("  health_path: /health\n",
                            f"  health_path: /health\n  headers: {{Authorization: \"Bearer ${{{TOKEN_VAR}}}\"}}\n")
        text = text.replace("k6:\n", "k6:\n  extra_args: [\"--http-debug=full\"]\n", 1)
        text = text.replace("      - name: health\n        path: /health\n        expect_status: [200]",
                            f"      - name: health\n        path: \"/health?token=${{{TOKEN_VAR}}}\"\n"
                            "        expect_status: [200]")
        config_path.write_text(text)

    stack = stack_factory(edit=edit)
    # The Prometheus started for this test (LocalPrometheus.start, as perfctl starts it) did not
    # inherit the token that is in this process's environment.
    prom = stack.prometheus.running_process()
    environ = Path(f"/proc/{prom.pid}/environ").read_bytes()
    assert token.encode() not in environ and TOKEN_VAR.encode() not in environ
    assert b"PATH=" in environ

    result = stack.cli("run", "health", "--duration", "3s")
    assert result.code == 0, result.output
    run = stack.last_run()
    log = run / "k6.log"
    text = log.read_text()
    # k6 did print the requests (so the token went through its output), masked before it landed.
    assert "Authorization: Bearer ***" in text, text[:2000]
    assert re.search(r"GET /health\?token=\*\*\*", text), text[:2000]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    forms = [token, quote(token, safe=""), quote(token)]
    assert _holding([stack.workspace / "results", stack.workspace / ".perfctl"], forms) == []
    for name in ("run.json", "verdict.json", "report.md", "report.html", "junit.xml"):
        assert (run / name).is_file(), name
    assert not any(f in result.output for f in forms)


def test_prometheus_credentials_are_redacted_and_three_starts_leave_one_prometheus(tmp_path):
    """Three `perfctl start-monitoring` at once in one folder, from nothing: one starts
    Prometheus, the others use it; `stop-monitoring` stops that one (no orphan). Every message
    and `status` / `prometheus-url` show the URL's password as ***."""
    password = "pw-" + secrets.token_hex(12)
    port = free_port()
    path = write_config(tmp_path / "perfctl.yaml", f"""
        version: 1
        target: {{base_url: "http://127.0.0.1:1"}}
        prometheus:
          url: "http://perfctl:${{PROM_PASSWORD}}@127.0.0.1:{port}"
          manage: true
        scenarios:
          s: {{vus: 1, duration: 1s, requests: [{{name: a, path: /}}]}}
        """)
    env = {"PROM_PASSWORD": password, "PERFCTL_TEST_OTHER_SECRET": "s3cret-" + secrets.token_hex(8)}
    shown = f"http://perfctl:***@127.0.0.1:{port}"
    full_env = {**os.environ, "NO_COLOR": "1", **env}
    import sys

    procs = [subprocess.Popen([sys.executable, "-m", "orchestrator", "start-monitoring", "-c", str(path)],
                              cwd=tmp_path, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    try:
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        said = "".join(out + err for out, err in outputs)
        assert said.count(f"started Prometheus at {shown}") == 1, said
        assert said.count(f"already running: Prometheus at {shown}") == 2, said
        assert password not in said

        pid_file = tmp_path / ".perfctl" / "prometheus" / "prometheus.pid"
        import json

        pid = json.loads(pid_file.read_text())["pid"]
        assert Path(f"/proc/{pid}").exists()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert password.encode() not in environ and env["PERFCTL_TEST_OTHER_SECRET"].encode() not in environ

        status = run_cli("status", "-c", str(path), cwd=tmp_path, env=env)
        assert status.code == 0 and f"Prometheus  {shown}  ready" in status.stdout, status.output
        assert password not in status.output
        status_json = run_cli("status", "--json", "-c", str(path), cwd=tmp_path, env=env)
        assert json.loads(status_json.stdout)["prometheus"]["url"] == shown
        url = run_cli("prometheus-url", "-c", str(path), cwd=tmp_path, env=env)
        assert url.stdout.strip() == shown and password not in url.output

        stopped = run_cli("stop-monitoring", "-c", str(path), cwd=tmp_path, env=env)
        assert stopped.code == 0 and f"stopped Prometheus at {shown}" in stopped.stderr, stopped.output
        assert password not in stopped.output
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not port_free(port):
            time.sleep(0.2)
        assert port_free(port), "a Prometheus still listens: orphaned"
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()

        # manage: false and nothing there: the message is redacted too.
        path.write_text(path.read_text().replace("manage: true", "manage: false"))
        down = run_cli("start-monitoring", "-c", str(path), cwd=tmp_path, env=env)
        assert down.code == 3 and f"Prometheus does not answer at {shown}" in down.stderr, down.output
        assert password not in down.output
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        run_cli("stop-monitoring", "-c", str(path.with_name("perfctl.yaml")), cwd=tmp_path, env=env)


@pytest.mark.e2e
def test_log_stays_masked_and_complete_when_perfctl_is_killed(stack_factory, monkeypatch):
    """kill -9 of perfctl while k6 runs: k6 and the log writer carry on, so k6.log ends with
    k6's own end of test, masked; `recover --wait` finishes the run without the token anywhere."""
    import signal

    from tests.test_survive_support import k6_ref, k6_started, output, record, start_perfctl, stop_leftovers, wait_k6_progress

    token = "tk-" + secrets.token_hex(16)
    monkeypatch.setenv(TOKEN_VAR, token)

    def edit(config_path: Path) -> None:
        text = config_path.read_text()
        text = text.replace("  health_path: /health\n",
                            f"  health_path: /health\n  headers: {{Authorization: \"Bearer ${{{TOKEN_VAR}}}\"}}\n")
        config_path.write_text(text.replace("k6:\n", "k6:\n  extra_args: [\"--http-debug\"]\n", 1))

    stack = stack_factory(edit=edit)
    proc = start_perfctl(stack, "run", "health", "--duration", "6s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 2)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -9
        assert k6_ref(run).alive(), "k6 must outlive perfctl"
        done = stack.cli("recover", "--wait")
        assert done.code in (0, 99), done.output
        text = (run / "k6.log").read_text()
        assert "http_reqs" in text, text[-2000:]  # k6's end-of-test summary: nothing was cut off
        assert "Authorization: Bearer ***" in text
        assert record(run)["status"] == "finished"
        forms = [token, quote(token, safe="")]
        assert _holding([stack.workspace / "results", stack.workspace / ".perfctl"], forms) == []
        assert token not in output(stack) + done.output
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)
