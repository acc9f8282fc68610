"""Checks on a producer's push beyond its key: rate limit, request signature, organisation scope."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from admin_api.auth import bearer, printable_ascii, rate_limited
from admin_api.problems import problem
from core.contract import AgencySystem
from core.scope import ProducerScope, ScopeViolation
from core.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    body_mac,
    check_headers,
    check_mac,
    used_nonce_key,
)
from core.store.records import ApiClient

log = structlog.get_logger("prasan.http.producer")


MAX_MEDIA_TYPE = 255  # inbox.media_type is String(255)
MAX_CHARSET = 64  # inbox.charset is String(64)


DRAINING_RETRY_AFTER_S = 5  # a restart takes about a second; a few more and any other process answers


def draining_problem() -> web.Response:
    # Stopping (SIGTERM): nothing new is taken in; the producer sends it again, to another process or to
    # this one restarted.
    return problem(
        503, "Service Unavailable", "the hub is shutting down; send again later",
        rule="hub.draining", retry_after=DRAINING_RETRY_AFTER_S,
    )


async def authenticated(request: web.Request, hub: Any, system: str) -> ApiClient | web.Response:
    """The API client whose key the request carries, allowed to write to `system` and within its rate
    limit, or the refusal. It authenticates before saying anything about the system, so that the
    route does not tell strangers which systems exist."""
    token = bearer(request)
    if token is None:
        return problem(401, "Unauthorized", "send an API key as 'Authorization: Bearer <key>'")
    client = hub.store.access.remembered(token) or await asyncio.to_thread(hub.store.access.authenticate, token)
    if client is None or client.disabled:
        return problem(401, "Unauthorized", "unknown or disabled API key")
    if client.system != system:
        return problem(403, "Forbidden", f"this key may only write to {client.system!r}")
    if system not in hub.registry:
        return problem(404, "Not Found", f"no system named {system!r}")
    refused = before_body(request, client)
    return refused if refused is not None else client


async def sending_client(request: web.Request, hub: Any, system: str) -> ApiClient | web.Response:
    """`authenticated`, for a request that brings data: refused first while the hub is shutting down."""
    if hub.draining:
        return draining_problem()
    return await authenticated(request, hub, system)


def content_type_problem(media_type: str, charset: str | None) -> web.Response | None:
    if len(media_type) > MAX_MEDIA_TYPE or (charset is not None and len(charset) > MAX_CHARSET):
        # The inbox keeps them in String(255) and String(64) columns: refuse rather than fail to store.
        return problem(
            400, "Bad Request", f"Content-Type media type over {MAX_MEDIA_TYPE} or charset over {MAX_CHARSET} characters"
        )
    if not printable_ascii(media_type) or (charset is not None and not printable_ascii(charset)):
        return problem(400, "Bad Request", "Content-Type must be printable ASCII")
    return None


def receiving_system(hub: Any, system: str) -> AgencySystem | web.Response:
    """The configured plugin of a system that takes inbound data, or why it cannot now."""
    if system not in hub.systems:
        detail = "; ".join(str(p) for p in hub.systems.problems.get(system, [])) or "not configured"
        return problem(503, "Service Unavailable", f"system {system!r} cannot take data now: {detail}")
    plugin = hub.systems.get(system)
    if not plugin.formats:
        return problem(404, "Not Found", f"system {system!r} takes no inbound data")
    return plugin


def before_body(request: web.Request, client: ApiClient) -> web.Response | None:
    """Checks that need no body: the client's rate limit."""
    return rate_limited(request, f"client:{client.name}")


async def check_signature(request: web.Request, hub: object, client: ApiClient, body: bytes) -> web.Response | None:
    """For a client with a signing secret: a valid signature over this body, timestamp and nonce, a
    fresh timestamp, and a nonce this client has not used before."""
    signed = start_signature(request, hub, client)
    if not isinstance(signed, Signed):
        return signed
    signed.mac.update(body)
    return await finish_signature(hub, signed)


@dataclass
class Signed:
    """A signed request whose body is still being read: its headers checked, its MAC fed as the body comes."""

    client: ApiClient
    timestamp: int
    nonce: str
    signature: str | None
    mac: hmac.HMAC


def start_signature(request: web.Request, hub: object, client: ApiClient) -> Signed | web.Response | None:
    """What can be checked before the body: None for a client that does not sign, the refusal of headers
    that are missing, malformed or out of the time window, else the MAC to feed the body to."""
    if client.hmac_secret is None:
        return None
    window = hub.settings.security.signature_window_s  # type: ignore[attr-defined]
    headers = request.headers
    try:
        timestamp, nonce = check_headers(
            headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER), headers.get(SIGNATURE_HEADER), window
        )
    except SignatureError as exc:
        return _refused(client, exc)
    return Signed(client, timestamp, nonce, headers.get(SIGNATURE_HEADER), body_mac(client.hmac_secret, timestamp, nonce))


async def finish_signature(hub: object, signed: Signed) -> web.Response | None:
    """The whole body matched the signature, and the nonce is new for this client."""
    try:
        check_mac(signed.mac, signed.signature)
    except SignatureError as exc:
        return _refused(signed.client, exc)
    # Replay protection keys on the nonce, per client: the signature alone would also refuse a second,
    # different request that happens to carry the same body in the same second. A nonce is kept until
    # its timestamp leaves the window, after which the timestamp check refuses the request anyway.
    window = hub.settings.security.signature_window_s  # type: ignore[attr-defined]
    expires = datetime.fromtimestamp(signed.timestamp + window + 1, UTC)
    claim = hub.store.access.claim_signature  # type: ignore[attr-defined]
    client = signed.client
    fresh = await asyncio.to_thread(claim, used_nonce_key(client.client_id, signed.nonce), client.client_id, expires)
    if not fresh:
        log.warning("signature_reused", client=client.name)
        return problem(
            401, "Unauthorized", f"this {NONCE_HEADER} was already used; sign each request with a new nonce",
            rule="signature.reused",
        )
    return None


def _refused(client: ApiClient, exc: SignatureError) -> web.Response:
    log.warning("signature_refused", client=client.name, reason=str(exc))
    return problem(401, "Unauthorized", str(exc), rule="signature.invalid")


def scope_of(hub: object, client: ApiClient) -> ProducerScope:
    return ProducerScope(client, hub.reference.organizations)  # type: ignore[attr-defined]


def scope_problem(exc: ScopeViolation) -> web.Response:
    return problem(403, "Forbidden", str(exc), rule="scope.org_outside", message_id=exc.message_id, org_codes=exc.org_codes[:100])
