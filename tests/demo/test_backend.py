"""The reference backend, tested for real: a live server, real HTTP and WebSocket traffic."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import aiohttp
import pytest
import requests
from hypothesis import given, settings as hyp_settings, strategies as st

from orchestrator.demo.backend import BackendSettings, RunningBackend
from orchestrator.errors import EnvironmentProblem, UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]

TRICKY_TEXTS = [
    "plain",
    "",
    "héllo wörld — ünïcødé, 日本語, emoji 🚀🔥",
    "quotes \" ' and backticks ` ``` and ${x} and #{y} and {{ z }}",
    "</script><script>alert(1)</script>",
    "line one\nline two\r\nline three\ttab",
    "back\\slash \\n not-a-newline \\u0041",
    "nul\x00byte and control \x1b[31m",
]


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def backend() -> RunningBackend:
    with RunningBackend(BackendSettings(port=0)) as running:
        yield running


def start(fault: str = "none", **overrides: object) -> RunningBackend:
    return RunningBackend(BackendSettings(port=0, fault=fault, **overrides))


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')
_COMMENT = re.compile(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$")


class Metrics:
    """A strict little parser for the text exposition format: every line must parse."""

    def __init__(self, text: str):
        self.helps: set[str] = set()
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        assert text.endswith("\n")
        for line in text.splitlines():
            self._parse_line(line)

    def _parse_line(self, line: str) -> None:
        comment = _COMMENT.match(line)
        if comment:
            kind, name, rest = comment.groups()
            if kind == "HELP":
                self.helps.add(name)
            else:
                assert rest in ("counter", "gauge", "histogram", "summary", "untyped"), line
                self.types[name] = rest
            return
        sample = _SAMPLE.match(line)
        assert sample, f"unparseable line: {line!r}"
        name, raw_labels, value = sample.groups()
        self.samples.append((name, self._parse_labels(raw_labels or ""), float(value)))

    @staticmethod
    def _parse_labels(raw: str) -> dict[str, str]:
        labels, pos = {}, 0
        while pos < len(raw):
            match = _LABEL.match(raw, pos)
            assert match, f"bad labels: {raw!r}"
            labels[match.group(1)] = match.group(2)
            pos = match.end()
        return labels

    def values(self, name: str, **labels: str) -> list[float]:
        return [v for n, ls, v in self.samples if n == name and all(ls.get(k) == w for k, w in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        found = self.values(name, **labels)
        assert len(found) == 1, f"{name}{labels}: {found}"
        return found[0]


def scrape(running: RunningBackend) -> Metrics:
    response = requests.get(f"{running.url}/metrics", timeout=5)
    assert response.status_code == 200
    return Metrics(response.text)


def lag_sum(running: RunningBackend) -> float:
    return scrape(running).value("kafka_consumergroup_lag_sum", consumergroup="chat-consumer", topic="chat-messages")


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def wait_for_iterations(running: RunningBackend, count: int, timeout: float = 10.0) -> None:
    """Warm-up measured in loop iterations rather than our own wall-clock guesses."""
    assert wait_for(lambda: scrape(running).value("backend_loop_iterations_total") >= count, timeout)


def loop_hz_samples(running: RunningBackend, n: int = 5, spacing: float = 0.1) -> list[float]:
    samples = []
    for _ in range(n):
        samples.append(scrape(running).value("backend_loop_hz"))
        time.sleep(spacing)
    return samples


def post_message(running: RunningBackend, conversation_id: str, text: str) -> requests.Response:
    return requests.post(
        f"{running.url}/api/messages", json={"conversation_id": conversation_id, "text": text}, timeout=5
    )


async def chat(url: str, frame: str) -> list[dict]:
    """Send one frame on a fresh connection; return the frames up to and including `done`."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/api/chat") as ws:
            return await exchange(ws, frame)


async def exchange(ws: aiohttp.ClientWebSocketResponse, frame: str) -> list[dict]:
    await ws.send_str(frame)
    frames = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frames.append(json.loads(msg.data))
        if frames[-1]["type"] == "done":
            return frames


# ------------------------------------------------------------------- REST


@pytest.mark.parametrize("path", ["/health", "/actuator/health"])
def test_health(backend: RunningBackend, path: str) -> None:
    response = requests.get(backend.url + path, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_url_reports_the_actual_loopback_port(backend: RunningBackend) -> None:
    assert backend.port > 0
    assert backend.url == f"http://127.0.0.1:{backend.port}"


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_message_round_trip_is_exact(backend: RunningBackend, text: str) -> None:
    conversation = f"conv-tricky-{TRICKY_TEXTS.index(text)}"
    response = post_message(backend, conversation, text)
    assert response.status_code == 201
    body = response.json()
    assert body["text"] == text
    assert body["conversation_id"] == conversation
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", body["id"])

    history = requests.get(f"{backend.url}/api/v1/conversations/{conversation}/messages", timeout=5).json()
    assert history["conversation_id"] == conversation
    assert history["messages"][-1] == body


@hyp_settings(max_examples=40, deadline=None)
@given(text=st.text(), conversation=st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=20))
def test_any_text_round_trips(backend: RunningBackend, text: str, conversation: str) -> None:
    response = post_message(backend, f"prop-{conversation}", text)
    assert response.status_code == 201
    assert response.json()["text"] == text


def test_history_keeps_the_last_100_in_order(backend: RunningBackend) -> None:
    for i in range(105):
        assert post_message(backend, "conv-long", f"m{i}").status_code == 201
    messages = requests.get(f"{backend.url}/api/v1/conversations/conv-long/messages", timeout=5).json()["messages"]
    assert [m["text"] for m in messages] == [f"m{i}" for i in range(5, 105)]


def test_unknown_conversation_has_empty_history(backend: RunningBackend) -> None:
    response = requests.get(f"{backend.url}/api/v1/conversations/never-seen/messages", timeout=5)
    assert response.json() == {"conversation_id": "never-seen", "messages": []}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"text": "no conversation"}', b'{"conversation_id": "c", "text": 5}'],
)
def test_invalid_message_is_400(backend: RunningBackend, body: bytes) -> None:
    response = requests.post(
        f"{backend.url}/api/messages", data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 400


def test_login_and_verify(backend: RunningBackend) -> None:
    register = requests.post(f"{backend.url}/api/auth/register", json={"username": "ana", "password": "pw"}, timeout=5)
    assert register.status_code == 201

    login = requests.post(f"{backend.url}/api/auth/login", json={"username": "ana", "password": "pw"}, timeout=5)
    assert login.status_code == 200
    token = login.json()["token"]
    assert token

    verify = requests.get(f"{backend.url}/api/auth/verify", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert verify.status_code == 200

    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": f"Basic {token}"}):
        assert requests.get(f"{backend.url}/api/auth/verify", headers=headers, timeout=5).status_code == 401


@pytest.mark.parametrize(
    "credentials", [{"username": "ana", "password": ""}, {"username": "", "password": "pw"}, {}, ["ana", "pw"]]
)
def test_login_rejects_missing_credentials(backend: RunningBackend, credentials: object) -> None:
    assert requests.post(f"{backend.url}/api/auth/login", json=credentials, timeout=5).status_code == 401


def test_whatsapp_webhook_accepts(backend: RunningBackend) -> None:
    response = requests.post(f"{backend.url}/api/connectors/whatsapp/webhook", json={"entry": []}, timeout=5)
    assert response.status_code == 202
    assert response.json() == {"accepted": True}


def test_echo_post_returns_raw_bytes_and_headers(backend: RunningBackend) -> None:
    body = "ünï ${x} `y` </script>\r\n\"q\"".encode() + b"\x00\xff\xfe not utf-8"
    content_type = "application/x-perfctl-test; charset=latin-1; boundary=\"a b\""
    response = requests.post(
        f"{backend.url}/api/echo",
        data=body,
        headers={"Content-Type": content_type, "X-Echo-Run": "run 42 ${x}", "X-Other": "not echoed"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Echo-Run"] == "run 42 ${x}"
    assert "X-Other" not in response.headers


def test_echo_get_returns_query_and_echo_headers(backend: RunningBackend) -> None:
    response = requests.get(
        f"{backend.url}/api/echo",
        params={"q": "héllo & ${x}", "n": "1"},
        headers={"X-Echo-A": "1", "X-Other": "2"},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == {"q": "héllo & ${x}", "n": "1"}
    assert {k.lower(): v for k, v in body["headers"].items()} == {"x-echo-a": "1"}


# -------------------------------------------------------------- WebSocket


@pytest.mark.parametrize(
    "frame, text",
    [
        (json.dumps({"text": "héllo, stream me back"}), "héllo, stream me back"),
        ("plain text, not JSON {", "plain text, not JSON {"),
        (json.dumps([1, 2, 3]), "[1, 2, 3]"),
        (json.dumps({"text": "ab"}), "ab"),  # shorter than the chunk count: some chunks are empty
    ],
)
def test_websocket_streams_chunks_then_done(backend: RunningBackend, frame: str, text: str) -> None:
    frames = asyncio.run(chat(backend.url, frame))
    chunks = backend.settings.chunks
    assert [f["type"] for f in frames] == ["chunk"] * chunks + ["done"]
    assert [f["index"] for f in frames] == list(range(chunks + 1))
    assert "".join(f["text"] for f in frames[:-1]) == text


def test_websocket_messages_count_as_kafka_messages(backend: RunningBackend) -> None:
    before = scrape(backend)
    asyncio.run(chat(backend.url, json.dumps({"text": "count me", "conversation_id": "ws-conv"})))
    after = scrape(backend)
    assert after.value("websocket_messages_total") == before.value("websocket_messages_total") + 1
    produced = lambda m: sum(m.values("kafka_topic_partition_current_offset"))  # noqa: E731
    assert produced(after) == produced(before) + 1
    history = requests.get(f"{backend.url}/api/v1/conversations/ws-conv/messages", timeout=5).json()
    assert history["messages"][-1]["text"] == "count me"


def test_many_concurrent_websockets(backend: RunningBackend) -> None:
    count = 300

    async def scenario() -> tuple[float, list[list[dict]]]:
        connector = aiohttp.TCPConnector(limit=0)  # the default pool (100) would serialise the sockets
        async with aiohttp.ClientSession(connector=connector) as session:
            sockets = await asyncio.gather(*(session.ws_connect(f"{backend.url}/api/chat") for _ in range(count)))
            try:
                active = await asyncio.to_thread(lambda: scrape(backend).value("websocket_connections_active"))
                replies = await asyncio.gather(*(exchange(ws, f"hello {i}") for i, ws in enumerate(sockets)))
            finally:
                await asyncio.gather(*(ws.close() for ws in sockets))
        return active, replies

    active, replies = asyncio.run(scenario())
    assert active == count
    assert all("".join(f["text"] for f in frames[:-1]) == f"hello {i}" for i, frames in enumerate(replies))
    assert wait_for(lambda: scrape(backend).value("websocket_connections_active") == 0, timeout=5)


def test_exit_closes_open_websockets() -> None:
    running = start().__enter__()

    async def scenario() -> aiohttp.WSMessage:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{running.url}/api/chat") as ws:
                await asyncio.to_thread(running.__exit__, None, None, None)
                return await asyncio.wait_for(ws.receive(), timeout=10)

    msg = asyncio.run(scenario())
    # GOING_AWAY proves the server closed it on purpose, not a timeout killing it.
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == aiohttp.WSCloseCode.GOING_AWAY


# ----------------------------------------------------------------- metrics

EXPECTED_METRICS = {
    "backend_loop_hz": "gauge",
    "backend_loop_iterations_total": "counter",
    "backend_loop_target_hz": "gauge",
    "kafka_consumergroup_lag": "gauge",
    "kafka_consumergroup_lag_sum": "gauge",
    "kafka_topic_partition_current_offset": "gauge",
    "kafka_consumergroup_current_offset": "gauge",
    "http_requests_total": "counter",
    "websocket_connections_active": "gauge",
    "websocket_messages_total": "counter",
}


def test_metrics_exposition(backend: RunningBackend) -> None:
    requests.get(f"{backend.url}/api/v1/conversations/some-raw-id-123/messages", timeout=5)
    requests.get(f"{backend.url}/no/such/path/987", timeout=5)
    response = requests.get(f"{backend.url}/metrics", timeout=5)
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    metrics = Metrics(response.text)

    for name, kind in EXPECTED_METRICS.items():
        assert metrics.types.get(name) == kind, name
        assert name in metrics.helps, name
        assert metrics.values(name), f"{name} has no samples"
    assert set(metrics.types) >= {n for n, _, _ in metrics.samples}, "a sample without TYPE"

    group = {"consumergroup": "chat-consumer", "topic": "chat-messages"}
    partitions = [str(p) for p in range(backend.settings.partitions)]
    for p in partitions:
        metrics.value("kafka_consumergroup_lag", **group, partition=p)
        metrics.value("kafka_consumergroup_current_offset", **group, partition=p)
        metrics.value("kafka_topic_partition_current_offset", topic="chat-messages", partition=p)
    assert metrics.value("backend_loop_target_hz") == 100.0

    routes = {labels["route"] for name, labels, _ in metrics.samples if name == "http_requests_total"}
    assert "/api/v1/conversations/{id}/messages" in routes
    assert "unmatched" in routes
    assert not any("some-raw-id" in r or "987" in r for r in routes), routes


def test_loop_rate_when_healthy() -> None:
    # Its own backend: the measured rate is honest, so a busy neighbour in this
    # process (300 WebSocket clients share our GIL) really lowers it for a second.
    with start("none") as running:
        wait_for_iterations(running, 150)
        seen: list[list[float]] = []
        in_range = lambda: 85 <= statistics.median(seen[-1]) <= 110  # noqa: E731
        assert wait_for(lambda: seen.append(loop_hz_samples(running)) or in_range(), timeout=5), seen
        assert scrape(running).value("backend_loop_target_hz") == 100.0


# ------------------------------------------------------------------ faults


def test_loop_stall_really_slows_the_loop_but_health_answers() -> None:
    with start("loop-stall") as running:
        assert requests.get(f"{running.url}/health", timeout=5).status_code == 200
        wait_for_iterations(running, 75)
        samples = loop_hz_samples(running)
        assert all(25 < s < 70 for s in samples), samples
        assert requests.post(
            f"{running.url}/api/messages", json={"conversation_id": "c", "text": "still works"}, timeout=5
        ).status_code == 201


def test_lag_fault_grows_lag() -> None:
    with start("lag") as running:
        first = lag_sum(running)
        readings = [first]
        grew = wait_for(
            lambda: readings.append(lag_sum(running)) or readings[-1] >= first + 150, timeout=5, interval=0.2
        )
        assert grew, readings
        assert readings == sorted(readings), readings


def test_lag_drains_when_healthy() -> None:
    with start("none") as running:
        for i in range(200):
            assert post_message(running, f"conv-{i % 17}", f"m{i}").status_code == 201
        metrics = scrape(running)
        assert sum(metrics.values("kafka_topic_partition_current_offset")) == 200
        assert wait_for(lambda: lag_sum(running) == 0, timeout=3), lag_sum(running)
        assert sum(scrape(running).values("kafka_consumergroup_current_offset")) == 200


def test_errors_fault_fails_every_fifth_api_request() -> None:
    with start("errors") as running:
        statuses = [post_message(running, "c", f"m{i}").status_code for i in range(50)]
        assert statuses.count(500) == 10
        assert set(statuses) == {201, 500}
        assert all(requests.get(f"{running.url}/health", timeout=5).status_code == 200 for _ in range(10))
        failed = scrape(running).value("http_requests_total", method="POST", route="/api/messages", status="500")
        assert failed == 10


def test_latency_fault_delays_api_requests() -> None:
    with start("latency") as running:
        began = time.monotonic()
        assert post_message(running, "c", "slow").status_code == 201
        assert time.monotonic() - began >= 0.3
        assert requests.get(f"{running.url}/health", timeout=5).status_code == 200


# --------------------------------------------------------- lifecycle, errors


def _backend_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "perfctl-demo-backend")


def test_port_in_use_is_an_environment_problem() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        threads_before = _backend_threads()
        with pytest.raises(EnvironmentProblem) as excinfo:
            with RunningBackend(BackendSettings(port=port)):
                pass
    assert excinfo.value.message == f"port {port} on 127.0.0.1 is in use"
    assert excinfo.value.hint
    assert _backend_threads() == threads_before


@pytest.mark.parametrize(
    "overrides", [{"fault": "bogus"}, {"host": "0.0.0.0"}, {"host": "example.com"}, {"loop_hz": 0}, {"chunks": 0}]
)
def test_invalid_settings_are_usage_errors(overrides: dict) -> None:
    with pytest.raises(UsageError):
        BackendSettings(**overrides)


SERVE_SCRIPT = """
import sys
from orchestrator.demo.backend import BackendSettings, serve_forever
serve_forever(BackendSettings(port=0), on_ready=lambda url: print(url, flush=True))
print("returned", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_forever_stops_cleanly_on_signal(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), (url, proc.stderr.read() if proc.poll() else "")
        assert requests.get(f"{url}/health", timeout=5).status_code == 200
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "returned"
    assert f"listening on {url} fault=none" in err
    assert "Traceback" not in err
