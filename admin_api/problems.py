"""Answers as JSON: errors as `application/problem+json` (RFC 9457), never with a stack trace or a secret."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from admin_api.keys import HUB
from core.errors import scrub_secrets
from core.jsontext import dumps_in_pieces
from core.store.availability import database_unavailable

log = structlog.get_logger("prasan.http")
PROBLEM_TYPE = "application/problem+json"


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=dumps_in_pieces(data, ensure_ascii=False, default=str), content_type="application/json"
    )


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": scrub_secrets(detail), **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM_TYPE,
        charset="utf-8",
        headers=headers,
    )


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem(exc.status, exc.reason, exc.text or exc.reason)
        # Keep what the exception says beyond its body (Allow on a 405, for one); the body is ours.
        for name, value in exc.headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
    except Exception as exc:
        if database_unavailable(exc):
            # An outage, logged once by the store's status, not a fault of this request. The answer
            # never says a payload was kept: a repeat after Retry-After is safe (an Idempotency-Key
            # makes it answered once even if this request's commit did land).
            status = request.app[HUB].store.status
            return problem(
                503, "Service Unavailable", "the hub's database is not answering; send the request again later",
                rule="database.unavailable", retry_after=status.retry_after_s,
            )
        log.exception("unhandled_request_error", path=request.path, method=request.method)
        return problem(500, "Internal Server Error", "the hub failed on this request; it was logged")
