"""Checks on a producer's push beyond its key: rate limit, request signature, organisation scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from aiohttp import web

from admin_api.auth import rate_limited
from admin_api.problems import problem
from core.scope import ProducerScope, ScopeViolation
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from core.store.records import ApiClient

log = structlog.get_logger("prasan.http.producer")


def before_body(request: web.Request, client: ApiClient) -> web.Response | None:
    """Checks that need no body: the client's rate limit."""
    return rate_limited(request, f"client:{client.name}")


async def check_signature(request: web.Request, hub: object, client: ApiClient, body: bytes) -> web.Response | None:
    """For a client with a signing secret: a valid, fresh, never-used signature over this body."""
    if client.hmac_secret is None:
        return None
    window = hub.settings.security.signature_window_s  # type: ignore[attr-defined]
    try:
        timestamp = verify(
            client.hmac_secret, body, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), window
        )
    except SignatureError as exc:
        log.warning("signature_refused", client=client.name, reason=str(exc))
        return problem(401, "Unauthorized", str(exc), rule="signature.invalid")
    signature = request.headers[SIGNATURE_HEADER].strip()
    expires = datetime.fromtimestamp(timestamp + window + 1, UTC)
    fresh = await asyncio.to_thread(hub.store.access.claim_signature, signature, client.client_id, expires)  # type: ignore[attr-defined]
    if not fresh:
        log.warning("signature_reused", client=client.name)
        return problem(401, "Unauthorized", "this signature was already used; sign each request anew", rule="signature.reused")
    return None


def scope_of(hub: object, client: ApiClient) -> ProducerScope:
    return ProducerScope(client, hub.reference.organizations)  # type: ignore[attr-defined]


def scope_problem(exc: ScopeViolation) -> web.Response:
    return problem(403, "Forbidden", str(exc), rule="scope.org_outside", message_id=exc.message_id, org_codes=exc.org_codes[:100])
