"""The kit's fault server: an HTTP server that answers every request with one configured status.

    async with FaultServer(status=429, headers={"Retry-After": "7"}) as server:
        ...point the system at server.url...

`delay_s` holds each answer back (a system slower than the caller's timeout); a request still held when the
server stops is cancelled. `closed_url()` is a URL where nothing listens (connection refused).
"""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType

from aiohttp import web

from prasan.testing.simulator import serve


class FaultServer:
    def __init__(self, status: int = 503, headers: dict[str, str] | None = None, delay_s: float = 0.0) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.delay_s = delay_s
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests += 1
        await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        body = {"error": f"fault injected by the conformance kit: {self.status}", "Message": f"kit fault {self.status}"}
        return web.json_response(body, status=self.status, headers=self.headers)

    async def __aenter__(self) -> FaultServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner, self.url = await serve(app)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def closed_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
