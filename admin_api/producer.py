"""Checks on a producer's push beyond its key: rate limit, request signature, organisation scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from aiohttp import web

from admin_api.auth import rate_limited
from admin_api.problems import problem
from core.scope import ProducerScope, ScopeViolation
from core.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, used_nonce_key, verify
from core.store.records import ApiClient

log = structlog.get_logger("prasan.http.producer")


def before_body(request: web.Request, client: ApiClient) -> web.Response | None:
    """Checks that need no body: the client's rate limit."""
    return rate_limited(request, f"client:{client.name}")


async def check_signature(request: web.Request, hub: object, client: ApiClient, body: bytes) -> web.Response | None:
    """For a client with a signing secret: a valid signature over this body, timestamp and nonce, a
    fresh timestamp, and a nonce this client has not used before."""
    if client.hmac_secret is None:
        return None
    window = hub.settings.security.signature_window_s  # type: ignore[attr-defined]
    headers = request.headers
    try:
        timestamp, nonce = verify(
            client.hmac_secret, body, headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER),
            headers.get(SIGNATURE_HEADER), window,
        )
    except SignatureError as exc:
        log.warning("signature_refused", client=client.name, reason=str(exc))
        return problem(401, "Unauthorized", str(exc), rule="signature.invalid")
    # Replay protection keys on the nonce, per client: the signature alone would also refuse a second,
    # different request that happens to carry the same body in the same second. A nonce is kept until
    # its timestamp leaves the window, after which the timestamp check refuses the request anyway.
    expires = datetime.fromtimestamp(timestamp + window + 1, UTC)
    claim = hub.store.access.claim_signature  # type: ignore[attr-defined]
    fresh = await asyncio.to_thread(claim, used_nonce_key(client.client_id, nonce), client.client_id, expires)
    if not fresh:
        log.warning("signature_reused", client=client.name)
        return problem(
            401, "Unauthorized", f"this {NONCE_HEADER} was already used; sign each request with a new nonce",
            rule="signature.reused",
        )
    return None


def scope_of(hub: object, client: ApiClient) -> ProducerScope:
    return ProducerScope(client, hub.reference.organizations)  # type: ignore[attr-defined]


def scope_problem(exc: ScopeViolation) -> web.Response:
    return problem(403, "Forbidden", str(exc), rule="scope.org_outside", message_id=exc.message_id, org_codes=exc.org_codes[:100])
