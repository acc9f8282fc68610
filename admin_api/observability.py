"""HTTP side of observability: the request-metrics middleware and the log context of each request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from core.observer import HubObserver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request) -> str:
    """The route as declared ('/api/v1/entities/{entity_id}'), never the raw path with its ids."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None:  # no route matched: 404 or 405 from the router itself
        return "unmatched"
    return resource.canonical


def metrics_middleware(observer: HubObserver) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_template(request)
        started = time.perf_counter()
        status = 500
        with structlog.contextvars.bound_contextvars(http_route=route, http_method=request.method):
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                observer.http_request(request.method, route, status, time.perf_counter() - started)

    return middleware
