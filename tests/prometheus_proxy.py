"""A gateway in front of a real Prometheus, as Grafana Mimir's or a Thanos Receive's is: every
request needs `Authorization: Bearer <token>` and `X-Scope-OrgID: <tenant>`, else 401. A few
lines of aiohttp on 127.0.0.1 (optionally https with a self-signed certificate), forwarding
queries and remote write unchanged, and noting what it answered."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

# What remote write and form queries need to arrive intact.
FORWARDED = ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version", "Accept")


@dataclass
class Seen:
    method: str
    path: str
    status: int
    headers: Any  # case-insensitive, as HTTP header names are


@dataclass
class GuardedProxy:
    upstream: str
    token: str
    tenant: str
    tls_files: tuple[Path, Path] | None = None  # (certificate, key)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_files else 'http'}://127.0.0.1:{self.port}"

    def answered(self, method: str, path: str) -> list[int]:
        return [s.status for s in self.seen if s.method == method and s.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        allowed = (request.headers.get("Authorization") == f"Bearer {self.token}"
                   and request.headers.get("X-Scope-OrgID") == self.tenant)
        if not allowed:
            self.seen.append(Seen(request.method, request.path, 401, request.headers.copy()))
            return web.Response(status=401, text="authentication required: token and X-Scope-OrgID\n")
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body, headers=headers) as resp:
            payload = await resp.read()
            self.seen.append(Seen(request.method, request.path, resp.status, request.headers.copy()))
            content_type = resp.headers.get("Content-Type", "application/octet-stream")
            return web.Response(status=resp.status, body=payload, headers={"Content-Type": content_type})

    def __enter__(self) -> "GuardedProxy":
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("the proxy did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.run_until_complete(self._session.close())
        self._loop.close()

    async def _start(self) -> None:
        import ssl

        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = None
        if self.tls_files:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.tls_files))
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (subjectAltName IP, which Go and Python check) and its key."""
    cert, key = folder / "proxy.crt", folder / "proxy.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=perfctl-test",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key
