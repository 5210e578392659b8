"""Load never leaves the configured origin (issue 14): a request path, a data-pool value in a
path or a variable in a path cannot send a request (with the configured Authorization header)
to another host or port. Two real echo servers on 127.0.0.1 record every request they get;
the generated script runs in the real k6; the server not configured must receive nothing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import threading
from pathlib import Path

import pytest

from orchestrator.k6.binary import find_k6
from tests.conftest import run_cli, write_config


class EchoServer:
    """A few lines of aiohttp on 127.0.0.1: records (port, path, headers) of each request."""

    def __init__(self):
        self.seen: list[dict] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from aiohttp import web

        async def handler(request: web.Request) -> web.Response:
            self.seen.append({"port": self.port, "path": request.raw_path, "headers": dict(request.headers)})
            return web.json_response({"ok": True})

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self._runner = runner
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> "EchoServer":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def two_servers():
    with EchoServer() as configured, EchoServer() as other:
        yield configured, other


def _render_and_run(tmp_path: Path, config: str, scenario: str, env: dict[str, str]) -> dict:
    path = write_config(tmp_path / "perfctl.yaml", config)
    rendered = run_cli("render", scenario, "-c", str(path), "-o", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert rendered.code == 0, rendered.output
    script = tmp_path / "out" / f"{scenario}.js"
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [find_k6(), "run", "--quiet", "--address", "", "--summary-export", str(summary), str(script)],
        env={**os.environ, **env, "K6_NO_USAGE_REPORT": "true"}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"summary": json.loads(summary.read_text()), "log": proc.stdout + proc.stderr}


def test_pool_values_and_paths_never_reach_another_port(tmp_path, two_servers):
    configured, other = two_servers
    token = "tok-" + secrets.token_hex(12)
    evil = f"@127.0.0.1:{other.port}/x"
    (tmp_path / "rooms.csv").write_text(f"room\n{evil}\nplain\n")
    config = f"""
        version: 1
        target:
          base_url: http://127.0.0.1:{configured.port}
          health_path: /health
          headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 1
            iterations: 6
            duration: 20s
            flow: sequence
            data:
              rooms: {{file: rooms.csv, order: sequential}}
            requests:
              - {{name: pooled, path: "/rooms/{{rooms.room}}"}}
              - {{name: env_in_path, path: "${{EVIL_PATH}}"}}
              - {{name: fixed, path: /fine}}
        """
    result = _render_and_run(tmp_path, config, "s", {"API_TOKEN": token, "EVIL_PATH": evil})

    assert other.seen == [], other.seen  # not one request, so not the token either
    paths = [r["path"] for r in configured.seen]
    # The pool value travelled as one percent-encoded segment, to the configured port.
    assert f"/rooms/%40127.0.0.1%3A{other.port}%2Fx" in paths
    assert "/rooms/plain" in paths and "/fine" in paths
    assert all(r["headers"].get("Authorization") == f"Bearer {token}" for r in configured.seen)
    # The variable in the path would have changed the host: refused, counted, never sent.
    assert not any(p.startswith("@") or "x" == p.strip("/") for p in paths)
    metrics = result["summary"]["metrics"]
    assert metrics["perfctl_refused_requests"]["count"] == 6
    assert "refused, not sent" in result["log"]
    assert sum(1 for p in paths if p == "/fine") == 6


def test_a_path_that_starts_with_a_slash_keeps_load_on_the_origin_without_a_check(tmp_path, two_servers):
    # Inline rows, a variable inside a path and in the base URL: the script (render/code.py) has
    # no run-time origin check for these, because a path that starts with / cannot leave it.
    configured, other = two_servers
    token = "tok-" + secrets.token_hex(12)
    evil = f"@127.0.0.1:{other.port}/x"
    config = f"""
        version: 1
        target:
          base_url: "http://127.0.0.1:${{PORT}}"
          headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 1
            iterations: 4
            duration: 20s
            flow: sequence
            data:
              rooms: {{values: ["{evil}", "plain"], order: sequential}}
            requests:
              - {{name: pooled, path: "/rooms/{{rooms}}", query: {{to: "{{rooms}}"}}}}
              - {{name: env_in_path, path: "/a${{EVIL_PATH}}"}}
        """
    result = _render_and_run(tmp_path, config, "s", {"API_TOKEN": token, "EVIL_PATH": evil, "PORT": str(configured.port)})
    assert "onTarget" not in (tmp_path / "out" / "s.js").read_text()  # no check needed, none written
    assert other.seen == [], other.seen
    paths = [r["path"] for r in configured.seen]
    encoded = f"%40127.0.0.1%3A{other.port}%2Fx"
    assert f"/rooms/{encoded}?to={encoded}" in paths and "/rooms/plain?to=plain" in paths
    assert f"/a@127.0.0.1:{other.port}/x" in paths  # the variable, as given, inside the configured origin's path
    assert all(r["headers"].get("Authorization") == f"Bearer {token}" for r in configured.seen)
    assert result["summary"]["metrics"]["http_reqs"]["count"] == 8


def test_a_path_that_would_change_the_host_is_refused_or_rejected(tmp_path, two_servers):
    configured, other = two_servers
    config = f"""
        version: 1
        target: {{base_url: "http://127.0.0.1:{configured.port}", headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 1
            iterations: 3
            duration: 20s
            requests:
              - {{name: evil, path: "@127.0.0.1:{other.port}/x"}}
        """
    path = write_config(tmp_path / "perfctl.yaml", config)
    checked = run_cli("validate", "-c", str(path), cwd=tmp_path, env={"API_TOKEN": "t0ken-value"})
    if checked.code == 2:
        # The config check refuses it before anything runs (the input-validation rule).
        assert "path" in checked.stderr
    else:
        result = _render_and_run(tmp_path, config, "s", {"API_TOKEN": "t0ken-value"})
        assert result["summary"]["metrics"]["perfctl_refused_requests"]["count"] == 3
        assert result["summary"]["metrics"]["checks"]["fails"] == 3
    assert other.seen == [] and configured.seen == []
