"""The reference backend: a small chat system that perfctl can load-test for real.

One aiohttp application on one asyncio event loop, bound to loopback only. It
serves REST, a streaming WebSocket chat and a hand-written Prometheus /metrics,
and runs a "backend loop" task whose measured rate is a real health signal.
A simulated Kafka topic (produced to by incoming messages, drained by that loop)
gives consumer lag that behaves like kafka_exporter's.

Faults degrade the real behaviour rather than the metrics: `latency` really
sleeps, `errors` really answers 500, `loop-stall` really blocks the event loop,
`lag` really slows the consumer (and adds traffic so lag shows under light load).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import json
import logging
import math
import secrets
import signal
import sys
import threading
import time
import uuid
import weakref
import zlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable

from aiohttp import WSCloseCode, WSMsgType, web

from orchestrator.errors import EnvironmentProblem, UsageError

logger = logging.getLogger(__name__)

FAULTS = ("none", "latency", "errors", "loop-stall", "lag")

CONSUMER_GROUP = "chat-consumer"
TOPIC = "chat-messages"

LATENCY_FAULT_SECONDS = 0.3
ERROR_FAULT_EVERY = 5  # every 5th API request fails: 20%, and stable in tests
LAG_FAULT_DRAIN_FACTOR = 0.01
LAG_FAULT_SYNTHETIC_RATE = 200.0  # messages/s produced in the background under `lag`
# Blocking for a whole period makes every iteration overrun its slot, so the
# loop (which skips missed slots) lands on every other slot: about 50% of target.
LOOP_STALL_PERIODS = 1.0

LOOP_RATE_WINDOW = 1.0  # seconds of iteration timestamps behind backend_loop_hz
MAX_CONVERSATIONS = 10_000
MAX_MESSAGES_PER_CONVERSATION = 100
MAX_TOKENS = 100_000
SHUTDOWN_TIMEOUT = 5.0  # seconds granted to in-flight requests on stop
START_TIMEOUT = 15.0
STOP_JOIN_TIMEOUT = 15.0
WS_CLOSE_TIMEOUT = 2.0  # how long a server-side close waits for the client's reply

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class BackendSettings:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 = pick a free port
    fault: str = "none"  # one of FAULTS
    loop_hz: float = 100.0  # target rate of the backend loop
    drain_per_second: float = 2000.0  # simulated consumer drain rate (messages/s), across partitions
    partitions: int = 3
    chunks: int = 5  # WebSocket reply chunks
    chunk_delay: float = 0.02  # seconds between chunks

    def __post_init__(self) -> None:
        # Invalid settings come from CLI flags, so they are usage errors (exit 2).
        problems = list(_settings_problems(self))
        if problems:
            raise UsageError("invalid reference backend settings", lines=problems)


def _settings_problems(s: BackendSettings) -> Iterable[str]:
    if not _is_loopback(s.host):
        yield f"host: {s.host!r} is not a loopback address; the demo backend only listens on 127.0.0.1"
    if not 0 <= s.port <= 65535:
        yield f"port: {s.port} is outside 0..65535"
    if s.fault not in FAULTS:
        yield f"fault: {s.fault!r} is not one of {', '.join(FAULTS)}"
    if not (math.isfinite(s.loop_hz) and s.loop_hz > 0):
        yield f"loop_hz: {s.loop_hz} must be a positive number"
    if not (math.isfinite(s.drain_per_second) and s.drain_per_second >= 0):
        yield f"drain_per_second: {s.drain_per_second} must be >= 0"
    if s.partitions < 1:
        yield f"partitions: {s.partitions} must be >= 1"
    if s.chunks < 1:
        yield f"chunks: {s.chunks} must be >= 1"
    if not (math.isfinite(s.chunk_delay) and s.chunk_delay >= 0):
        yield f"chunk_delay: {s.chunk_delay} must be >= 0"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --------------------------------------------------------------------------- state


class _Topic:
    """A simulated Kafka topic with one consumer group, offsets per partition.

    The consumer offset is a float so that slow drain rates (a fraction of a
    message per loop iteration) still make progress; it is exported floored,
    as Kafka offsets are whole.
    """

    def __init__(self, partitions: int):
        self.produced = [0] * partitions
        self.consumed = [0.0] * partitions
        self._next_synthetic = 0

    def partition_for(self, key: str) -> int:
        # crc32, not hash(): str hashes are salted per process, partitions must be stable.
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(self.produced)

    def produce(self, key: str) -> None:
        self.produced[self.partition_for(key)] += 1

    def produce_spread(self, count: int) -> None:
        """Round-robin, like a keyless producer."""
        n = len(self.produced)
        for _ in range(count):
            self.produced[self._next_synthetic] += 1
            self._next_synthetic = (self._next_synthetic + 1) % n

    def drain(self, budget: float) -> None:
        """Consume up to `budget` messages, shared fairly among lagging partitions.

        Budget a drained partition cannot use goes to the others; budget nobody
        can use is lost, as an idle consumer cannot bank capacity.
        """
        lagging = [p for p in range(len(self.produced)) if self._backlog(p) > 0]
        while budget > 1e-9 and lagging:
            share = budget / len(lagging)
            still = []
            for p in lagging:
                take = min(share, self._backlog(p))
                self.consumed[p] += take
                budget -= take
                if self._backlog(p) > 1e-9:
                    still.append(p)
            lagging = still

    def _backlog(self, p: int) -> float:
        return self.produced[p] - self.consumed[p]

    def consumer_offset(self, p: int) -> int:
        return math.floor(self.consumed[p] + 1e-9)

    def lag(self, p: int) -> int:
        return self.produced[p] - self.consumer_offset(p)


class _RateMeter:
    """Measures a loop's real rate from the timestamps of its iterations."""

    def __init__(self, window: float, target_hz: float):
        self.window = window
        # Bounded even if the loop somehow outran its target many times over.
        self._stamps: collections.deque[float] = collections.deque(maxlen=max(16, int(target_hz * window * 4)))
        self._started: float | None = None

    def record(self, now: float) -> None:
        if self._started is None:
            self._started = now
        self._stamps.append(now)

    def rate(self, now: float) -> float:
        if self._started is None:
            return 0.0
        # Early on, divide by the time actually observed, not the full window.
        window = min(self.window, now - self._started)
        if window <= 0:
            return 0.0
        while self._stamps and self._stamps[0] <= now - window:
            self._stamps.popleft()
        return len(self._stamps) / window


class _State:
    """Everything the handlers and background tasks share; touched only on the app's loop."""

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.topic = _Topic(settings.partitions)
        self.meter = _RateMeter(LOOP_RATE_WINDOW, settings.loop_hz)
        self.loop_iterations = 0
        self.conversations: collections.OrderedDict[str, collections.deque[dict[str, str]]] = (
            collections.OrderedDict()
        )
        self.tokens: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.http_requests: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.api_requests = 0
        self.ws_active = 0
        self.ws_messages = 0
        self.websockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def drain_budget_per_iteration(self) -> float:
        rate = self.settings.drain_per_second
        if self.settings.fault == "lag":
            rate *= LAG_FAULT_DRAIN_FACTOR
        return rate / self.settings.loop_hz

    def store_message(self, conversation_id: str, text: str) -> dict[str, str]:
        message = {"id": str(uuid.uuid4()), "conversation_id": conversation_id, "text": text}
        history = self.conversations.get(conversation_id)
        if history is None:
            history = collections.deque(maxlen=MAX_MESSAGES_PER_CONVERSATION)
            self.conversations[conversation_id] = history
            if len(self.conversations) > MAX_CONVERSATIONS:
                self.conversations.popitem(last=False)  # least recently written
        else:
            self.conversations.move_to_end(conversation_id)
        history.append(message)
        self.topic.produce(conversation_id)
        return message

    def issue_token(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = username
        if len(self.tokens) > MAX_TOKENS:
            self.tokens.popitem(last=False)
        return token


_STATE = web.AppKey("perfctl_demo_state", _State)


# --------------------------------------------------------------- background tasks


async def _backend_loop(state: _State) -> None:
    """Iterate at loop_hz on a fixed grid of absolute deadlines (start + n/hz).

    Deadlines never drift, and a slot that has already passed is skipped rather
    than replayed in a burst: if the event loop is blocked, the rate truly drops.
    """
    hz = state.settings.loop_hz
    start = time.monotonic()
    while True:
        _loop_iteration(state, time.monotonic())
        slot = math.floor((time.monotonic() - start) * hz) + 1
        await asyncio.sleep(max(0.0, start + slot / hz - time.monotonic()))


def _loop_iteration(state: _State, now: float) -> None:
    state.meter.record(now)
    state.loop_iterations += 1
    state.topic.drain(state.drain_budget_per_iteration())
    if state.settings.fault == "loop-stall":
        # Deliberately block the whole event loop (not an await): HTTP and
        # WebSocket traffic really slow down with it, as in a CPU-bound backend.
        time.sleep(LOOP_STALL_PERIODS / state.settings.loop_hz)


async def _synthetic_traffic(state: _State, rate: float, tick: float = 0.05) -> None:
    """Produce `rate` messages/s onto the topic, paced by elapsed time, not by ticks."""
    last = time.monotonic()
    owed = 0.0
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        owed += rate * (now - last)
        last = now
        whole = int(owed)
        owed -= whole
        state.topic.produce_spread(whole)


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    state = app[_STATE]
    tasks = [asyncio.create_task(_backend_loop(state), name="backend-loop")]
    if state.settings.fault == "lag":
        tasks.append(asyncio.create_task(_synthetic_traffic(state, LAG_FAULT_SYNTHETIC_RATE), name="synthetic-traffic"))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _close_websockets(app: web.Application) -> None:
    # Without this, open chat connections would hold shutdown for the full timeout.
    sockets = list(app[_STATE].websockets)
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
        return_exceptions=True,
    )


# ------------------------------------------------------------------- middlewares


def _route_label(request: web.Request) -> str:
    # The route pattern, not the raw path: conversation ids must not become labels.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def _count_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[_STATE]
    method = request.method if request.method in _KNOWN_METHODS else "OTHER"
    status: int | None = 500  # what aiohttp answers for an unexpected exception
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = None  # the client went away; no answer was given, so none is counted
        raise
    finally:
        if status is not None:
            state.http_requests[(method, _route_label(request), str(status))] += 1


def _is_api(request: web.Request) -> bool:
    # Health checks and scrapes stay unaffected, so a degraded target still passes its health gate.
    return request.path.startswith("/api/")


@web.middleware
async def _inject_faults(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[_STATE]
    fault = state.settings.fault
    if _is_api(request):
        state.api_requests += 1
        if fault == "latency":
            await asyncio.sleep(LATENCY_FAULT_SECONDS)
        elif fault == "errors" and state.api_requests % ERROR_FAULT_EVERY == 0:
            return _json({"error": "injected fault: errors"}, status=500)
    return await handler(request)


# ---------------------------------------------------------------------- handlers


def _json(data: Any, status: int = 200) -> web.Response:
    text = json.dumps(data, ensure_ascii=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (valid in JSON escapes, not in UTF-8): fall back to \u escapes.
        body = json.dumps(data).encode("ascii")
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is anything else."""
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


async def handle_health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def handle_post_message(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body is None:
        return _json({"error": "body must be a JSON object"}, status=400)
    conversation_id, text = body.get("conversation_id"), body.get("text")
    if not _non_empty_str(conversation_id) or not isinstance(text, str):
        return _json({"error": "conversation_id (non-empty string) and text (string) are required"}, status=400)
    message = request.app[_STATE].store_message(conversation_id, text)
    return _json(message, status=201)


async def handle_history(request: web.Request) -> web.Response:
    conversation_id = request.match_info["id"]
    history = request.app[_STATE].conversations.get(conversation_id, ())
    return _json({"conversation_id": conversation_id, "messages": list(history)})


async def handle_login(request: web.Request) -> web.Response:
    body = await _json_object(request) or {}
    username, password = body.get("username"), body.get("password")
    if not (_non_empty_str(username) and _non_empty_str(password)):
        return _json({"error": "invalid credentials"}, status=401)
    return _json({"token": request.app[_STATE].issue_token(username)})


async def handle_register(request: web.Request) -> web.Response:
    body = await _json_object(request) or {}
    username = body.get("username")
    return _json({"registered": True, "username": username if isinstance(username, str) else None}, status=201)


async def handle_verify(request: web.Request) -> web.Response:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    username = request.app[_STATE].tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    if username is None:
        return _json({"valid": False}, status=401)
    return _json({"valid": True, "username": username})


async def handle_whatsapp_webhook(request: web.Request) -> web.Response:
    await request.read()  # consume the body so keep-alive connections stay usable
    return _json({"accepted": True}, status=202)


def _echo_headers(request: web.Request) -> list[tuple[str, str]]:
    return [(name, value) for name, value in request.headers.items() if name.lower().startswith("x-echo-")]


async def handle_echo_post(request: web.Request) -> web.Response:
    """The raw body and Content-Type back, untouched: proves config strings arrive byte-exact."""
    body = await request.read()
    response = web.Response(
        body=body,
        headers={"Content-Type": request.headers.get("Content-Type", "application/octet-stream")},
    )
    for name, value in _echo_headers(request):
        response.headers.add(name, value)
    return response


async def handle_echo_get(request: web.Request) -> web.Response:
    query = {key: request.query[key] for key in request.query.keys()}  # first value of a repeated key
    return _json({"query": query, "headers": dict(_echo_headers(request))})


# --------------------------------------------------------------------- websocket


def _split(text: str, parts: int) -> list[str]:
    """`parts` consecutive slices whose concatenation is exactly `text`."""
    n = len(text)
    return [text[i * n // parts : (i + 1) * n // parts] for i in range(parts)]


def _parse_chat_frame(data: str, default_conversation: str) -> tuple[str, str]:
    """(conversation_id, text); anything that is not a JSON object with a string text is plain text."""
    try:
        obj = json.loads(data)
    except ValueError:
        return default_conversation, data
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return default_conversation, data
    conversation = obj.get("conversation_id")
    return (conversation if _non_empty_str(conversation) else default_conversation), obj["text"]


async def _stream_reply(ws: web.WebSocketResponse, state: _State, text: str) -> None:
    settings = state.settings
    if settings.fault == "latency":
        await asyncio.sleep(LATENCY_FAULT_SECONDS)  # time to first token degrades too
    for index, piece in enumerate(_split(text, settings.chunks)):
        await asyncio.sleep(settings.chunk_delay)
        await ws.send_str(json.dumps({"type": "chunk", "index": index, "text": piece}))
    await ws.send_str(json.dumps({"type": "done", "index": settings.chunks}))


async def handle_chat(request: web.Request) -> web.WebSocketResponse:
    """Streams each message back in chunks; one coroutine per connection, no threads."""
    state = request.app[_STATE]
    ws = web.WebSocketResponse(timeout=WS_CLOSE_TIMEOUT)
    await ws.prepare(request)
    state.websockets.add(ws)
    state.ws_active += 1
    connection_conversation = f"ws-{uuid.uuid4()}"
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                data = msg.data
            elif msg.type is WSMsgType.BINARY:
                data = msg.data.decode("utf-8", "replace")
            else:
                continue
            state.ws_messages += 1
            conversation, text = _parse_chat_frame(data, connection_conversation)
            state.store_message(conversation, text)
            await _stream_reply(ws, state, text)
    except ConnectionResetError:
        pass  # the client went away mid-reply; nothing to tell it
    finally:
        state.ws_active -= 1
        state.websockets.discard(ws)
    return ws


# ----------------------------------------------------------------------- metrics


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items()) + "}"


class _Exposition:
    """Builds Prometheus text format: HELP and TYPE once per metric, then its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(**labels)} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _render_metrics(state: _State, now: float) -> str:
    out = _Exposition()
    _render_loop_metrics(out, state, now)
    _render_kafka_metrics(out, state.topic)
    _render_traffic_metrics(out, state)
    return out.text()


def _render_loop_metrics(out: _Exposition, state: _State, now: float) -> None:
    out.metric("backend_loop_hz", "gauge", "Measured rate of the backend loop over the last second.",
               [({}, state.meter.rate(now))])
    out.metric("backend_loop_target_hz", "gauge", "Target rate of the backend loop.",
               [({}, float(state.settings.loop_hz))])
    out.metric("backend_loop_iterations_total", "counter", "Backend loop iterations since start.",
               [({}, state.loop_iterations)])
    out.metric("backend_fault_info", "gauge", "The injected fault (1 for the active one).",
               [({"fault": state.settings.fault}, 1)])


def _render_kafka_metrics(out: _Exposition, topic: _Topic) -> None:
    # Names and labels as kafka_exporter exports them, so the same PromQL works against real Kafka.
    partitions = range(len(topic.produced))
    group = {"consumergroup": CONSUMER_GROUP, "topic": TOPIC}
    out.metric("kafka_topic_partitions", "gauge", "Partitions of the simulated topic.",
               [({"topic": TOPIC}, len(topic.produced))])
    out.metric("kafka_topic_partition_current_offset", "gauge", "Log-end offset (messages produced) per partition.",
               [({"topic": TOPIC, "partition": str(p)}, topic.produced[p]) for p in partitions])
    out.metric("kafka_consumergroup_current_offset", "gauge", "Committed offset of the consumer group per partition.",
               [({**group, "partition": str(p)}, topic.consumer_offset(p)) for p in partitions])
    out.metric("kafka_consumergroup_lag", "gauge", "Consumer group lag (produced minus consumed) per partition.",
               [({**group, "partition": str(p)}, topic.lag(p)) for p in partitions])
    out.metric("kafka_consumergroup_lag_sum", "gauge", "Consumer group lag summed over the partitions of the topic.",
               [(group, sum(topic.lag(p) for p in partitions))])


def _render_traffic_metrics(out: _Exposition, state: _State) -> None:
    out.metric("http_requests_total", "counter", "HTTP requests by method, route pattern and status.",
               [({"method": m, "route": r, "status": s}, n) for (m, r, s), n in sorted(state.http_requests.items())])
    out.metric("websocket_connections_active", "gauge", "Open chat WebSocket connections.",
               [({}, state.ws_active)])
    out.metric("websocket_messages_total", "counter", "Chat messages received over WebSocket.",
               [({}, state.ws_messages)])


async def handle_metrics(request: web.Request) -> web.Response:
    text = _render_metrics(request.app[_STATE], time.monotonic())
    return web.Response(body=text.encode("utf-8"), headers={"Content-Type": _METRICS_CONTENT_TYPE})


# ------------------------------------------------------------------- application


def build_app(settings: BackendSettings) -> web.Application:
    app = web.Application(middlewares=[_count_requests, _inject_faults])
    app[_STATE] = _State(settings)
    app.cleanup_ctx.append(_background_tasks)
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/health", handle_health)
    app.router.add_get("/actuator/health", handle_health)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_post("/api/messages", handle_post_message)
    app.router.add_get("/api/v1/conversations/{id}/messages", handle_history)
    app.router.add_post("/api/auth/login", handle_login)
    app.router.add_post("/api/auth/register", handle_register)
    app.router.add_get("/api/auth/verify", handle_verify)
    app.router.add_post("/api/connectors/whatsapp/webhook", handle_whatsapp_webhook)
    app.router.add_post("/api/echo", handle_echo_post)
    app.router.add_get("/api/echo", handle_echo_get)
    app.router.add_get("/api/chat", handle_chat)
    return app


async def _start_site(runner: web.AppRunner, settings: BackendSettings) -> int:
    """Listen and return the actual port; a taken port is the user's environment, not a bug."""
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(
                f"port {settings.port} on {settings.host} is in use",
                hint="stop whatever listens there, or choose another port (0 picks a free one)",
            ) from exc
        raise EnvironmentProblem(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            hint="choose another port (0 picks a free one)",
        ) from exc
    return runner.addresses[0][1]


async def _serve(settings: BackendSettings, on_listening: Callable[[int], None], stop: asyncio.Event) -> None:
    """Run the backend on the current loop until `stop` is set, then shut it down."""
    runner = web.AppRunner(build_app(settings), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        port = await _start_site(runner, settings)
        logger.info("listening on %s fault=%s", _base_url(settings.host, port), settings.fault)
        on_listening(port)
        await stop.wait()
    finally:
        await runner.cleanup()


class RunningBackend:
    """Runs the backend in a background thread with its own event loop (tests, `perfctl demo`)."""

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.port: int = settings.port
        self.url: str = _base_url(settings.host, settings.port)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._listening = False
        self._error: BaseException | None = None

    def __enter__(self) -> RunningBackend:
        self._thread = threading.Thread(target=self._thread_main, name="perfctl-demo-backend", daemon=True)
        self._thread.start()
        self._ready.wait(START_TIMEOUT)
        if self._error is not None or not self._listening:
            self._shutdown()
            if self._error is not None:
                raise self._error
            raise EnvironmentProblem(f"the reference backend did not start within {START_TIMEOUT:.0f} s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._shutdown()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the starting thread, or logged if already running
            if self._listening:
                logger.exception("reference backend stopped with an error")
            self._error = exc
        finally:
            self._ready.set()  # never leave __enter__ waiting

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await _serve(self.settings, self._on_listening, self._stop)

    def _on_listening(self, port: int) -> None:
        self.port = port
        self.url = _base_url(self.settings.host, port)
        self._listening = True
        self._ready.set()

    def _shutdown(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop already finished
        if thread is not None:
            thread.join(STOP_JOIN_TIMEOUT)
            if thread.is_alive():
                logger.warning("reference backend thread did not stop within %.0f s", STOP_JOIN_TIMEOUT)


def serve_forever(settings: BackendSettings, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then shut down cleanly and return."""
    _ensure_log_output()
    try:
        asyncio.run(_serve_until_signalled(settings, on_ready))
    except KeyboardInterrupt:
        pass  # only reached where signal handlers could not be installed


async def _serve_until_signalled(settings: BackendSettings, on_ready: Callable[[str], None] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # Windows, or not the main thread

    def listening(port: int) -> None:
        if on_ready is not None:
            on_ready(_base_url(settings.host, port))

    try:
        await _serve(settings, listening, stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _ensure_log_output() -> None:
    # The foreground server should say where it listens even if nobody configured logging.
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
