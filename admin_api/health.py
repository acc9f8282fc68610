"""The public endpoints that say how the hub is: liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from admin_api.access import Access, declare
from admin_api.keys import HUB
from admin_api.problems import json_answer
from core.metrics import CONTENT_TYPE


async def healthz(request: web.Request) -> web.Response:
    return json_answer({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    ready, checks = await request.app[HUB].readiness()
    return json_answer({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    hub.plugin_health.refresh_soon()  # only when stale; the scrape never waits for it
    body = await asyncio.to_thread(hub.observer.render)  # the database gauges run SQL: off the event loop
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def setup(router: web.UrlDispatcher) -> None:
    declare(router, "GET", "/healthz", healthz, Access.PUBLIC)
    declare(router, "GET", "/readyz", readyz, Access.PUBLIC)
    declare(router, "GET", "/metrics", metrics, Access.PUBLIC)
