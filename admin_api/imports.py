"""File uploads: an agency system posts a whole file (a year's ผ.02, an e-GP export) in one request; the
hub writes it to disk as it arrives and imports it in the background (core/file_imports.py).

    POST /api/v1/imports/{system}[?format=csv|xlsx|jsonl&entity_type=...]   202, Location: the status
    GET  /api/v1/imports/{system}/{import_id}                               the status and the counts
    GET  /api/v1/imports/{system}/{import_id}/rejects                       the rejected rows, with `reason`

The same API key as the push endpoint, the same checks (rate limit, signature, organisation scope); an
import is seen only by the client that posted it.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from aiohttp import web

from admin_api import producer
from admin_api.access import Access, declare
from admin_api.body import BodyPace, BodyStalled, next_chunk
from admin_api.keys import HUB
from admin_api.problems import json_answer, problem
from canonical_model import ENTITY_TYPES
from core.file_imports import ImportsBusy, ImportStatus
from core.hub import Hub
from core.importer import CSV, JSON_LINES_TYPES, XLSX, ImportError_, codec_of, format_of_media_type
from core.payloads import XLSX_MEDIA_TYPE
from core.store.records import ApiClient

# Written to disk (and fed to a signature's MAC) in a thread a block at a time: the loop only gathers.
WRITE_BLOCK_BYTES = 1024 * 1024
BUSY_RETRY_AFTER_S = 30
REJECTS_MEDIA_TYPES = {CSV: "text/csv; charset=utf-8", XLSX: XLSX_MEDIA_TYPE, "jsonl": JSON_LINES_TYPES[0]}


class _TooLarge(Exception):
    pass


async def upload(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app[HUB]
    system = request.match_info["system"]
    client = await producer.sending_client(request, hub, system)
    if isinstance(client, web.Response):
        return client
    plugin = producer.receiving_system(hub, system)
    if isinstance(plugin, web.Response):
        return plugin
    media_type, charset = request.content_type, request.charset
    refused = producer.content_type_problem(media_type, charset)
    if refused is not None:
        return refused
    try:
        file_format = format_of_media_type(media_type, request.query.get("format"))
        if file_format != XLSX:
            codec_of(charset)
    except ImportError_ as exc:
        return problem(415, "Unsupported Media Type", exc.reason, rule=exc.rule)
    entity_type = request.query.get("entity_type") or None
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        return problem(400, "Bad Request", f"no entity type {entity_type[:64]!r}; one of {', '.join(sorted(ENTITY_TYPES))}",
                       rule="entity.unknown_type")  # fmt: skip
    limit = hub.settings.imports.max_file_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    signed = producer.start_signature(request, hub, client)
    if isinstance(signed, web.Response):
        return signed
    try:
        release = hub.imports.reserve()
    except ImportsBusy as exc:
        return problem(503, "Service Unavailable", str(exc), rule="import.busy", retry_after=BUSY_RETRY_AFTER_S)
    started = False
    status: ImportStatus | None = None
    try:
        status = await asyncio.to_thread(hub.imports.begin, system, client.name, file_format, charset, entity_type)
        pace = BodyPace(hub.settings.imports.stall_s, hub.settings.security.body_min_bytes_per_s, "file")
        try:
            status.file_bytes = await _receive(request, hub.imports.upload_path(status.import_id), limit, signed, pace)
        except _TooLarge:
            return _too_large(limit)
        except BodyStalled as exc:
            return problem(408, "Request Timeout", f"{exc}; send it again", rule="import.stalled")
        if signed is not None:
            refused = await producer.finish_signature(hub, signed)
            if refused is not None:
                return refused
        hub.imports.start(status, plugin, producer.scope_of(hub, client), release)
        started = True
    finally:
        if not started:
            # Refused, broken off by the client or cut by a shutdown: nothing of the upload is kept.
            if status is not None:
                await asyncio.to_thread(hub.imports.abandon, status)
            release()
    href = _href(system, status.import_id)
    response = json_answer(
        {"import_id": status.import_id, "system": system, "state": "importing", "file_bytes": status.file_bytes,
         "href": href},
        202,
    )  # fmt: skip
    response.headers["Location"] = href
    return response


async def _receive(request: web.Request, path: Path, limit: int, signed: producer.Signed | None, pace: BodyPace) -> int:
    """The body into `path`, refused as soon as its running size passes `limit` (_TooLarge) or it
    does not keep `pace` (BodyStalled)."""
    file = await asyncio.to_thread(path.open, "wb")
    size = 0
    block = io.BytesIO()

    def flush(data: bytes) -> None:
        file.write(data)
        if signed is not None:
            signed.mac.update(data)

    try:
        while chunk := await next_chunk(request, pace):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            block.write(chunk)
            if block.tell() >= WRITE_BLOCK_BYTES:
                data, block = block.getvalue(), io.BytesIO()
                await asyncio.to_thread(flush, data)
        await asyncio.to_thread(flush, block.getvalue())
    finally:
        await asyncio.to_thread(file.close)
    return size


def _too_large(limit: int) -> web.Response:
    return problem(
        413, "Payload too large", f"the file is over imports.max_file_bytes = {limit:,} bytes; split it",
        rule="import.too_large",
    )


def _href(system: str, import_id: str) -> str:
    return f"/api/v1/imports/{system}/{import_id}"


async def _own_import(request: web.Request) -> ImportStatus | web.Response:
    """The import named in the path, if the requesting client posted it."""
    hub: Hub = request.app[HUB]
    system = request.match_info["system"]
    client = await producer.authenticated(request, hub, system)
    if isinstance(client, web.Response):
        return client
    status = await asyncio.to_thread(hub.imports.status, request.match_info["import_id"])
    if status is None or not _posted_by(status, client, system):
        return problem(404, "Not Found", "no such import of this client")
    return status


def _posted_by(status: ImportStatus, client: ApiClient, system: str) -> bool:
    return status.system == system and status.client_name == client.name


async def import_status(request: web.Request) -> web.Response:
    status = await _own_import(request)
    if isinstance(status, web.Response):
        return status
    href = _href(status.system, status.import_id)
    shown = status.as_dict()
    return json_answer({
        **{name: shown[name] for name in _STATUS_FIELDS}, "counts": status.summary,
        "rejects_href": f"{href}/rejects" if status.rejects else None,
    })  # fmt: skip


# What a status answer shows of an import (its client's name and charset it already knows).
_STATUS_FIELDS = ("import_id", "system", "state", "file_format", "entity_type", "file_bytes", "created_at",
                  "updated_at", "finished_at", "error")  # fmt: skip


async def import_rejects(request: web.Request) -> web.StreamResponse:
    status = await _own_import(request)
    if isinstance(status, web.Response):
        return status
    hub: Hub = request.app[HUB]
    path = hub.imports.rejects_path(status)
    if not status.rejects or not await asyncio.to_thread(path.is_file):
        return problem(404, "Not Found", "this import rejected no row" if status.state == "done" else "no rejects file yet")
    return web.FileResponse(path, headers={
        "Content-Type": REJECTS_MEDIA_TYPES[status.file_format],
        "Content-Disposition": f'attachment; filename="{path.name}"',
    })  # fmt: skip


def setup(router: web.UrlDispatcher) -> None:
    declare(router, "POST", "/api/v1/imports/{system}", upload, Access.PRODUCER)
    declare(router, "GET", "/api/v1/imports/{system}/{import_id}", import_status, Access.PRODUCER)
    declare(router, "GET", "/api/v1/imports/{system}/{import_id}/rejects", import_rejects, Access.PRODUCER)
