"""A few lines of aiohttp on 127.0.0.1 that answer every request with one status and count
what arrives: a target that fails everything (500), or a target whose request count
proves that no load was sent."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class AnsweringServer:
    """`with AnsweringServer(500) as server:` -> server.url, server.count (requests so far)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.count = 0
        self.paths: list[str] = []
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    async def _answer(self, request: web.Request) -> web.Response:
        self.count += 1
        self.paths.append(request.path)
        return web.json_response({"status": self.status}, status=self.status)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> "AnsweringServer":
        self._thread = threading.Thread(target=self._main, name="answering-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the answering server did not start")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
