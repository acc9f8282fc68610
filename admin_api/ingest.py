"""The ingest endpoint: an agency system posts its native payload; the handler authenticates it, checks
its limits and scope, and hands the payload to core (`Ingestor.answer_push`)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from admin_api import producer
from admin_api.access import Access, declare
from admin_api.auth import printable_ascii
from admin_api.body import BodyPace, read_body
from admin_api.keys import HUB
from admin_api.problems import json_answer, problem
from core.contract import AgencySystem
from core.hub import Hub
from core.ingest import IdempotencyKeyReused, IngestBusy, answered_on_loop
from core.memory import release_freed_memory
from core.payloads import PayloadError
from core.scope import ScopeViolation
from core.store.records import ApiClient, InboundMessage


# From this size, reading, parsing and answering a payload leave megabytes of freed heap that malloc
# keeps; it is handed back once the answer is built (core/memory.py). Below it the trim costs more than it frees.
LARGE_PAYLOAD_BYTES = 1 << 20


async def inbound(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    system = request.match_info["system"]
    client = await producer.sending_client(request, hub, system)
    if isinstance(client, web.Response):
        return client
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 255 and printable_ascii(idempotency_key)):
        return problem(400, "Bad Request", "an Idempotency-Key has 1 to 255 printable ASCII characters")
    media_type, charset = request.content_type, request.charset
    refused = producer.content_type_problem(media_type, charset)
    if refused is not None:
        return refused
    plugin = producer.receiving_system(hub, system)
    if isinstance(plugin, web.Response):
        return plugin
    security = hub.settings.security
    body = await read_body(request, security.max_ingest_body_bytes, BodyPace.of_request(security))
    try:
        return await _answer(request, hub, client, plugin, body, media_type, charset, idempotency_key)
    finally:
        if len(body) >= LARGE_PAYLOAD_BYTES:
            await asyncio.to_thread(release_freed_memory)


async def _answer(
    request: web.Request,
    hub: Hub,
    client: ApiClient,
    plugin: AgencySystem,
    body: bytes,
    media_type: str,
    charset: str | None,
    idempotency_key: str | None,
) -> web.Response:
    refused = await producer.check_signature(request, hub, client, body)
    if refused is not None:
        return refused
    message = InboundMessage(
        system=plugin.name,
        payload=body,
        media_type=media_type,
        charset=charset,
        client_name=client.name,
        idempotency_key=idempotency_key,
    )
    try:
        answer, replayed = await hub.ingestor.answer_push(plugin, message, producer.scope_of(hub, client))
    except ScopeViolation as exc:
        return producer.scope_problem(exc)
    except IdempotencyKeyReused as exc:
        return problem(409, "Conflict", str(exc), message_id=exc.message_id)
    except IngestBusy as exc:
        # Nothing was read or kept: the payload is the producer's to send again after Retry-After.
        return problem(503, "Service Unavailable", exc.reason, rule="ingest.busy", retry_after=exc.retry_after_s)
    except PayloadError as exc:
        return problem(
            exc.status,
            "Payload too large" if exc.status == 413 else "Unreadable payload",
            exc.reason,
            rule=exc.rule,
            message_id=message.message_id,
        )
    # Serialising the answer of a 50,000-row payload takes long enough to be kept off the loop.
    if answered_on_loop(len(body), len(answer.get("entities", ())) + len(answer.get("rejected", ()))):
        response = json_answer(answer, 202)
    else:
        response = await asyncio.to_thread(json_answer, answer, 202)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def setup(router: web.UrlDispatcher) -> None:
    declare(router, "POST", "/api/v1/inbound/{system}", inbound, Access.PRODUCER)
