"""A small HTTP + WebSocket server that speaks the endpoints of the example suites the
reference backend lacks (ywmessaging, temponest, aiaas), on 127.0.0.1 only, for tests.

It checks what a real service would check (tokens, tenants' API keys, required fields),
so a scenario whose auth or placeholders are wrong fails its checks here. It also records
every request body it receives, so tests can prove config strings arrive byte-exact.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import uuid

from aiohttp import WSMsgType, web

TENANT_KEYS = {"acme": "key-acme-1", "globex": "key-globex-2", "initech": "key-initech-3"}


class SuitesState:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # email/username -> password
        self.tokens: dict[str, str] = {}  # token -> user
        self.conversations: dict[str, list[dict]] = {}
        self.agents: dict[str, dict] = {}
        self.bodies: list[tuple[str, bytes]] = []  # (path, raw body), in arrival order
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.requests: list[dict] = []  # method, raw path with its query, body, headers: all of it
        self.ws_messages: list[tuple[str, str]] = []  # (path, text frame) as received

    def issue(self, user: str) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = user
        return token


STATE = web.AppKey("state", SuitesState)


def _json(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _body(request: web.Request) -> dict:
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _user(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return request.app[STATE].tokens.get(token.strip()) if scheme.lower() == "bearer" else None


@web.middleware
async def _record(request: web.Request, handler):
    state = request.app[STATE]
    state.bodies.append((request.path, await request.read()))
    state.headers.append((request.path, dict(request.headers)))
    state.requests.append({"method": request.method, "target": request.raw_path, "body": await request.read(),
                           "headers": dict(request.headers)})
    del state.bodies[:-2000], state.headers[:-2000], state.requests[:-2000]  # bounded memory
    return await handler(request)


# ---- ywmessaging (/api/v1) and temponest (/auth) accounts


async def register(request: web.Request) -> web.Response:
    body = await _body(request)
    user = body.get("email") or body.get("username")
    if not isinstance(user, str) or not user or not isinstance(body.get("password"), str):
        return _json({"error": "email/username and password required"}, 400)
    state = request.app[STATE]
    if user in state.users:
        return _json({"error": "already registered"}, 409)
    state.users[user] = body["password"]
    return _json({"id": str(uuid.uuid4()), "user": user}, 201)


async def login(request: web.Request) -> web.Response:
    body = await _body(request)
    state = request.app[STATE]
    user = body.get("email") or body.get("username")
    password = body.get("password")
    known = state.users.get(user)
    # Unknown users may log in with any non-empty password (a seeded account); known ones need theirs.
    if not isinstance(user, str) or not user or not password or (known is not None and known != password):
        return _json({"error": "invalid credentials"}, 401)
    token = state.issue(user)
    return _json({"access_token": token, "token": token, "token_type": "bearer"})


async def verify(request: web.Request) -> web.Response:
    user = _user(request)
    return _json({"valid": True, "user": user}) if user else _json({"valid": False}, 401)


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


# ---- ywmessaging conversations


def _authorized(handler):
    async def wrapped(request: web.Request) -> web.Response:
        if _user(request) is None:
            return _json({"error": "unauthorized"}, 401)
        return await handler(request)

    return wrapped


@_authorized
async def create_conversation(request: web.Request) -> web.Response:
    body = await _body(request)
    conversation_id = str(uuid.uuid4())
    request.app[STATE].conversations[conversation_id] = []
    return _json({"id": conversation_id, "title": body.get("title", "")}, 201)


@_authorized
async def list_conversations(request: web.Request) -> web.Response:
    ids = list(request.app[STATE].conversations)[-20:]
    return _json({"conversations": [{"id": i} for i in ids]})


@_authorized
async def post_message(request: web.Request) -> web.Response:
    conversation = request.app[STATE].conversations.get(request.match_info["id"])
    if conversation is None:
        return _json({"error": "no such conversation"}, 404)
    body = await _body(request)
    if not isinstance(body.get("text"), str):
        return _json({"error": "text required"}, 400)
    message = {"id": str(uuid.uuid4()), "text": body["text"], "direction": request.match_info.get("kind", "in")}
    conversation.append(message)
    del conversation[:-50]
    return _json(message, 201)


# ---- temponest agents


@_authorized
async def create_agent(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body.get("name"), str):
        return _json({"error": "name required"}, 400)
    agent = {"id": str(uuid.uuid4()), "name": body["name"], "model": body.get("model", "")}
    request.app[STATE].agents[agent["id"]] = agent
    return _json(agent, 201)


@_authorized
async def list_agents(request: web.Request) -> web.Response:
    return _json({"agents": list(request.app[STATE].agents.values())[-20:]})


@_authorized
async def get_agent(request: web.Request) -> web.Response:
    agent = request.app[STATE].agents.get(request.match_info["id"])
    return _json(agent) if agent else _json({"error": "not found"}, 404)


@_authorized
async def update_agent(request: web.Request) -> web.Response:
    agent = request.app[STATE].agents.get(request.match_info["id"])
    if agent is None:
        return _json({"error": "not found"}, 404)
    agent.update({k: v for k, v in (await _body(request)).items() if k in ("name", "model")})
    return _json(agent)


@_authorized
async def delete_agent(request: web.Request) -> web.Response:
    if request.app[STATE].agents.pop(request.match_info["id"], None) is None:
        return _json({"error": "not found"}, 404)
    return web.Response(status=204)


# ---- aiaas tenants and chat


def _tenant_ok(request: web.Request) -> bool:
    return TENANT_KEYS.get(request.match_info["tenant"]) == request.headers.get("X-API-Key")


async def tenant_models(request: web.Request) -> web.Response:
    if not _tenant_ok(request):
        return _json({"error": "bad tenant or key"}, 403)
    return _json({"tenant": request.match_info["tenant"], "models": ["small", "large"]})


async def tenant_completion(request: web.Request) -> web.Response:
    if not _tenant_ok(request):
        return _json({"error": "bad tenant or key"}, 403)
    body = await _body(request)
    if not isinstance(body.get("prompt"), str):
        return _json({"error": "prompt required"}, 400)
    return _json({"completion": body["prompt"][::-1], "tenant": request.match_info["tenant"]})


async def ws_chat(request: web.Request) -> web.WebSocketResponse:
    """Streams every message back in three chunks, then {"type": "done"}."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        request.app[STATE].ws_messages.append((request.path, msg.data))
        del request.app[STATE].ws_messages[:-2000]
        try:
            text = str(json.loads(msg.data).get("text", msg.data))
        except (ValueError, AttributeError):
            text = msg.data
        third = max(1, len(text) // 3)
        for i, start in enumerate(range(0, len(text), third)):
            await asyncio.sleep(0.005)
            await ws.send_str(json.dumps({"type": "chunk", "index": i, "text": text[start : start + third]}))
        await ws.send_str(json.dumps({"type": "done"}))
    return ws


# ---- chat4all-style messages (so one server can take every scenario kind at once)


async def post_chat_message(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body.get("conversation_id"), str) or not isinstance(body.get("text"), str):
        return _json({"error": "conversation_id and text required"}, 400)
    messages = request.app[STATE].conversations.setdefault(body["conversation_id"], [])
    message = {"id": str(uuid.uuid4()), "seq": len(messages) + 1, "text": body["text"]}
    messages.append(message)
    del messages[:-50]
    return _json(message, 201)


async def chat_history(request: web.Request) -> web.Response:
    conversation_id = request.match_info["id"]
    return _json({"conversation_id": conversation_id, "messages": request.app[STATE].conversations.get(conversation_id, [])})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.3)
    return _json({"slow": True})


# ---- echo: the body and chosen headers back


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/octet-stream")


def make_app() -> web.Application:
    app = web.Application(middlewares=[_record])
    app[STATE] = SuitesState()
    r = app.router
    r.add_get("/health", health)
    r.add_post("/echo", echo)
    r.add_get("/slow", slow)
    r.add_post("/api/messages", post_chat_message)
    r.add_get("/api/v1/conversations/{id}/messages", chat_history)
    r.add_get("/api/chat", ws_chat)
    # ywmessaging
    r.add_post("/api/v1/auth/register", register)
    r.add_post("/api/v1/auth/login", login)
    r.add_get("/api/v1/conversations", list_conversations)
    r.add_post("/api/v1/conversations", create_conversation)
    r.add_post("/api/v1/conversations/{id}/messages", post_message)
    r.add_post("/api/v1/conversations/{id}/{kind:reply}", post_message)
    # temponest
    r.add_post("/auth/register", register)
    r.add_post("/auth/login", login)
    r.add_get("/auth/verify", verify)
    r.add_get("/api/agents", list_agents)
    r.add_post("/api/agents", create_agent)
    r.add_get("/api/agents/{id}", get_agent)
    r.add_put("/api/agents/{id}", update_agent)
    r.add_delete("/api/agents/{id}", delete_agent)
    # aiaas
    r.add_get("/api/tenants/{tenant}/models", tenant_models)
    r.add_post("/api/tenants/{tenant}/completions", tenant_completion)
    r.add_get("/ws/chat", ws_chat)
    return app


class SuitesServer:
    """`with SuitesServer() as server:` serves on 127.0.0.1:<free port> in a thread."""

    def __init__(self) -> None:
        self.app = make_app()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> SuitesState:
        return self.app[STATE]

    def __enter__(self) -> "SuitesServer":
        self._thread = threading.Thread(target=self._main, name="suites-server", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if not self.port:
            self.__exit__(None, None, None)
            raise RuntimeError(f"suites server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(15)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by __enter__
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, shutdown_timeout=2)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
