"""The hub's aiohttp application: `create_app(hub)` plus routes and middlewares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from admin_api.observability import metrics, metrics_middleware
from admin_api.auth import ADDRESS_LIMITER, RATE_LIMITER, address_rate_limit_middleware, admin_auth_middleware
from admin_api.problems import problem_middleware
from admin_api.ratelimit import RateLimiter
from admin_api.routes import setup_routes
from core.hub import Hub


def setup_admin(app: web.Application) -> None:
    """The admin operations and their OpenAPI document (imported here: they need HUB defined)."""
    import admin_api.admin_routes  # noqa: F401  (declares the operations)
    from admin_api import openapi, spec

    spec.setup(app)
    openapi.setup(app)

HUB = web.AppKey("hub", Hub)
MAX_BODY_BYTES = 32 * 1024 * 1024  # the default of settings.security.max_ingest_body_bytes


def create_app(hub: Hub, *, start_hub: bool = True) -> web.Application:
    # Outermost, so that it sees the status problem_middleware finally answers.
    app = web.Application(
        middlewares=[
            metrics_middleware(hub.observer), problem_middleware, address_rate_limit_middleware, admin_auth_middleware
        ],
        client_max_size=hub.settings.security.max_ingest_body_bytes,
    )
    app[HUB] = hub
    security = hub.settings.security
    app[RATE_LIMITER] = RateLimiter(security.rate_limit_per_s, security.rate_limit_burst)
    app[ADDRESS_LIMITER] = RateLimiter(security.address_rate_limit_per_s, security.address_rate_limit_burst)

    async def hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
        if start_hub:
            await hub.start()
        yield
        if start_hub:
            await hub.stop()

    app.cleanup_ctx.append(hub_lifecycle)
    setup_routes(app)
    setup_admin(app)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start the app on host:port (0: any free port) and return the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server else []  # aiohttp keeps the bound sockets here
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, bound


async def run_forever(app: web.Application, host: str, port: int, on_ready: Any = None) -> None:
    runner, bound = await serve(app, host, port)
    try:
        if on_ready is not None:
            await on_ready(bound)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
