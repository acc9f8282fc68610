"""The hub's HTTP application: `create_app(hub)` wires middlewares and every declared route.

Every route is declared with its access (admin_api/access.py); the application refuses to be built, or
to start, with a route that was added any other way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

import admin_api.operations  # noqa: F401  (its decorators declare the admin operations in spec)
import admin_api.areas  # noqa: F401  (the central agencies' ones)
import admin_api.public  # noqa: F401  (and the public ones)
import admin_api.public_exports  # noqa: F401  (the public downloads: OCDS, area totals as CSV and XLSX)
from admin_api import health, imports, ingest, openapi, pages, spec
from admin_api.access import check_every_route_declared
from admin_api.auth import address_rate_limit_middleware, admin_auth_middleware
from admin_api.keys import ADDRESS_LIMITER, HUB, RATE_LIMITER
from admin_api.observability import metrics_middleware
from admin_api.problems import problem_middleware
from admin_api.ratelimit import RateLimiter
from core.hub import Hub


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
    app[spec.RESPONSE_CACHE] = spec.ResponseCache()

    async def hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
        if start_hub:
            await hub.start()
        yield
        if start_hub:
            await hub.stop()

    async def closed_by_default(app: web.Application) -> None:
        check_every_route_declared(app)  # again at start: a route added after create_app is caught too

    app.cleanup_ctx.append(hub_lifecycle)
    app.on_startup.append(closed_by_default)
    health.setup(app.router)
    ingest.setup(app.router)
    imports.setup(app.router)
    spec.setup(app.router)
    openapi.setup(app)
    pages.setup(app.router)
    check_every_route_declared(app)
    return app


async def serve(
    app: web.Application, host: str, port: int, *, handler_cancellation: bool = False,
    shutdown_timeout: float | None = None,
) -> tuple[web.AppRunner, int]:
    """Start the app on host:port (0: any free port) and return the runner and the bound port. The one
    place an aiohttp application is put on a socket: the hub, the demo's simulators and the tests.
    `shutdown_timeout`: how long requests being answered may take once the runner is cleaned up."""
    if shutdown_timeout is None:
        shutdown_timeout = 1.0 if handler_cancellation else 60.0
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=handler_cancellation, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
