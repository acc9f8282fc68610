"""Admin authentication: every declared admin operation needs a bearer token of a sufficient role.

viewer < operator < admin. Producer keys (ingest) are checked by the ingest handler, not here; routes
that declare no operation (health, metrics, the OpenAPI document and its page) are public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from admin_api.problems import problem
from admin_api.ratelimit import RateLimiter, retry_after_header
from admin_api.spec import ROLE_RANK

RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
ACTOR = web.RequestKey("actor", str)  # "token:<name>", the audit log's "who"


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(detail: str) -> web.Response:
    response = problem(401, "Unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="prasan-admin"'
    return response


def rate_limited(request: web.Request, key: str) -> web.Response | None:
    wait = request.app[RATE_LIMITER].take(key)
    if wait is None:
        return None
    seconds = retry_after_header(wait)
    return problem(429, "Too Many Requests", f"rate limit reached; retry in {seconds} s", retry_after=seconds)


@web.middleware
async def admin_auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    operation = getattr(request.match_info.handler, "prasan_operation", None)
    if operation is None:
        return await handler(request)
    from admin_api.app import HUB

    token = bearer(request)
    if token is None:
        return _unauthorized("send an admin token as 'Authorization: Bearer <token>'")
    admin = await asyncio.to_thread(request.app[HUB].store.authenticate_admin, token)
    if admin is None:
        return _unauthorized("unknown or revoked admin token")
    if ROLE_RANK.get(admin.role, 0) < ROLE_RANK[operation.role]:
        return problem(403, "Forbidden", f"this needs the {operation.role} role; the token has {admin.role}")
    refused = rate_limited(request, f"token:{admin.name}")
    if refused is not None:
        return refused
    request[ACTOR] = f"token:{admin.name}"
    return await handler(request)
