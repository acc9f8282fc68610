"""Authentication by declared access (admin_api/access.py): admin tokens for viewer, operator and admin
routes (viewer < operator < admin); producer keys are checked by the ingest handler itself; public
routes pass. A route that declares no access is refused: closed by default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from admin_api.access import ROLE_RANK, access_of
from admin_api.keys import ACTOR, ADDRESS_LIMITER, HUB, RATE_LIMITER
from admin_api.problems import problem
from admin_api.ratelimit import retry_after_header


log = structlog.get_logger("prasan.http.auth")


def printable_ascii(value: str) -> bool:
    """True when every character is printable ASCII (space to tilde).

    aiohttp decodes header bytes as UTF-8 with surrogateescape, so a header with bytes such as 0xff
    arrives as a str that cannot be encoded again; such a value must be refused before it is hashed,
    compared or stored."""
    return value.isascii() and value.isprintable()


def bearer(request: web.Request) -> str | None:
    """The bearer token of the request; None when missing, malformed or not printable ASCII."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not printable_ascii(token):
        return None
    return token


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
async def address_rate_limit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A coarse token bucket per remote address on /api/v1/, spent before any authentication, so
    that unauthenticated traffic (guessed keys, floods) cannot make the hub hash and query at will."""
    if request.path.startswith("/api/v1/"):
        wait = request.app[ADDRESS_LIMITER].take(f"address:{request.remote or 'unknown'}")
        if wait is not None:
            seconds = retry_after_header(wait)
            return problem(
                429, "Too Many Requests", f"too many requests from this address; retry in {seconds} s", retry_after=seconds
            )
    return await handler(request)


@web.middleware
async def admin_auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.match_info.http_exception is not None:  # no route matched: the router answers 404/405
        return await handler(request)
    access = access_of(request.match_info.handler)
    if access is None:
        log.error("route_without_access", path=request.path)
        return problem(403, "Forbidden", "this route declares no access")
    if not access.needs_admin_token:
        return await handler(request)
    token = bearer(request)
    if token is None:
        return _unauthorized("send an admin token as 'Authorization: Bearer <token>'")
    admin = await asyncio.to_thread(request.app[HUB].store.access.authenticate_admin, token)
    if admin is None:
        return _unauthorized("unknown or revoked admin token")
    if ROLE_RANK.get(admin.role, 0) < ROLE_RANK[access]:
        return problem(403, "Forbidden", f"this needs the {access.value} role; the token has {admin.role}")
    refused = rate_limited(request, f"token:{admin.name}")
    if refused is not None:
        return refused
    request[ACTOR] = f"token:{admin.name}"
    return await handler(request)
