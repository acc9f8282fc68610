"""Admin operations declared once: the route, the role it needs, its path, query, body and answer models.

`setup` adds them to the aiohttp router and `admin_api.openapi` turns the same declarations into the
OpenAPI document, so the two cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_origin

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from admin_api.access import Access, declare
from admin_api.body import BodyPace, read_body
from admin_api.keys import ACTOR, HUB
from admin_api.problems import problem
from admin_api.types import MAX_OFFSET
from core.hub import Hub
from core.payloads import PayloadError, loads_strict_json


@dataclass(frozen=True)
class Call:
    """What a handler receives: the validated inputs and who is asking."""

    request: web.Request
    hub: Hub
    actor: str
    path: Any
    query: Any
    body: Any


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    role: Access
    summary: str
    handler: Callable[[Call], Awaitable[Any]]
    response: Any
    status: int = 200
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    body_model: type[BaseModel] | None = None
    tag: str = "admin"
    errors: tuple[int, ...] = ()
    # Public answers anyone may cache this long (Cache-Control, ETag); the hub keeps them as long too, so a
    # crowd reading one page costs the database one query.
    cache_s: int | None = None
    # What a handler that answers `Rendered` bodies sends (the OpenAPI document names it).
    media_type: str = "application/json"

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


OPERATIONS: list[Operation] = []


class NotFound(Exception):
    """What the request names is not there: raised by a handler, answered 404 "no <what>"."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Rendered:
    """An answer its handler serialised itself (OCDS JSON with exact numbers, CSV, XLSX): sent as is."""

    body: bytes
    content_type: str
    filename: str | None = None  # offered as a download of this name

    def headers(self) -> dict[str, str]:
        download = {"Content-Disposition": f'attachment; filename="{self.filename}"'} if self.filename else {}
        return {"Content-Type": self.content_type, **download}


def operation(method: str, path: str, *, role: str, response: Any, **kw: Any) -> Callable[[Any], Any]:
    """Declare a handler as an admin operation (the decorator registers; `setup` wires)."""

    def register(handler: Callable[[Call], Awaitable[Any]]) -> Callable[[Call], Awaitable[Any]]:
        summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
        OPERATIONS.append(Operation(method, path, Access(role), summary, handler, response, **kw))
        return handler

    return register


def paged(op: Operation) -> bool:
    """Whether the operation answers a list a page at a time (`limit`, `offset`). Answers that wrap their page
    in an object (a public organisation's projects, an OCDS package) say what they hold themselves."""
    fields = op.query_model.model_fields if op.query_model is not None else {}
    return "limit" in fields and "offset" in fields and get_origin(op.response) is list


def next_page(request: web.Request, query: Any, result: Any) -> dict[str, str]:
    """A Link to the next page when this one is full: there may be more (RFC 8288 rel="next")."""
    following_offset = query.offset + query.limit
    if not isinstance(result, list) or len(result) < query.limit or following_offset > MAX_OFFSET:
        return {}
    following = request.rel_url.update_query(offset=following_offset)
    return {"Link": f'<{following}>; rel="next"'}


def _validation_problem(exc: ValidationError, where: str) -> web.Response:
    errors = [
        {"loc": [where, *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return problem(400, "Bad Request", f"invalid {where}", errors=errors[:20])


def _dump(response_type: Any, value: Any) -> bytes:
    return TypeAdapter(response_type).dump_json(value)


async def _read_json_body(request: web.Request, limit: int, pace: BodyPace) -> Any:
    raw = await read_body(request, limit, pace)
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("json.encoding", "the body is not UTF-8") from None
    return loads_strict_json(text)


def _wrap(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        hub = request.app[HUB]
        try:
            path = op.path_model.model_validate(dict(request.match_info)) if op.path_model else None
        except ValidationError as exc:
            return _validation_problem(exc, "path")
        try:
            query = op.query_model.model_validate(dict(request.query)) if op.query_model else None
        except ValidationError as exc:
            return _validation_problem(exc, "query")
        body = None
        if op.body_model is not None:
            try:
                security = hub.settings.security
                raw = await _read_json_body(request, security.max_admin_body_bytes, BodyPace.of_request(security))
            except PayloadError as exc:
                return problem(400, "Bad Request", exc.reason, rule=exc.rule)
            try:
                body = op.body_model.model_validate(raw)
            except ValidationError as exc:
                return _validation_problem(exc, "body")
        try:
            if op.cache_s is not None:
                call = Call(request, hub, request.get(ACTOR, "public"), path, query, body)
                return await _cached(request, op, lambda: op.handler(call), query)
            result = await op.handler(Call(request, hub, request[ACTOR], path, query, body))
        except NotFound as exc:
            return problem(404, "Not Found", f"no {exc.what}")
        if isinstance(result, web.StreamResponse):
            return result
        if isinstance(result, Rendered):
            return web.Response(status=op.status, body=result.body, headers=result.headers())
        more = next_page(request, query, result) if paged(op) else {}
        return web.Response(status=op.status, body=_dump(op.response, result), content_type="application/json", headers=more)

    handler.__name__ = op.operation_id
    return handler


class ResponseCache:
    """Answers of cacheable operations by path and query, for their `cache_s`. Bounded by count and by bytes,
    oldest dropped first: every distinct `?q=` a client sends is an entry, and a province page is tens of KB,
    so a count alone would let one client fill the memory."""

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[float, int, bytes, str, dict[str, str]]] = OrderedDict()

    def get(self, key: str) -> tuple[int, bytes, str, dict[str, str]] | None:
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1:]

    def put(self, key: str, ttl_s: float, status: int, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Keep an answer with the headers it is sent with (its Content-Type among them)."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if len(body) > self.max_bytes:
            return etag  # answered, never kept
        earlier = self._entries.pop(key, None)
        if earlier is not None:
            self.bytes -= len(earlier[2])
        self._entries[key] = (time.monotonic() + ttl_s, status, body, etag, headers or {"Content-Type": "application/json"})
        self.bytes += len(body)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= len(dropped[2])
        return etag


RESPONSE_CACHE = web.AppKey("response_cache", ResponseCache)


async def _cached(request: web.Request, op: Operation, answer: Callable[[], Awaitable[Any]], query: Any) -> web.StreamResponse:
    cache = request.app[RESPONSE_CACHE]
    key = request.path_qs
    found = cache.get(key)
    if found is None:
        result = await answer()
        if isinstance(result, web.StreamResponse):
            return result  # a refusal (404 and the like) is not kept
        if isinstance(result, Rendered):
            status, body, kept = op.status, result.body, result.headers()
        else:
            more = next_page(request, query, result) if paged(op) else {}
            status, body, kept = op.status, _dump(op.response, result), {"Content-Type": "application/json", **more}
        etag = cache.put(key, op.cache_s or 0, status, body, kept)
    else:
        status, body, etag, kept = found
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={op.cache_s}"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(status=status, body=body, headers={**kept, **headers})


def setup(router: web.UrlDispatcher) -> None:
    for op in OPERATIONS:
        declare(router, op.method, op.path, _wrap(op), op.role, name=op.operation_id)


def json_body(value: Any) -> Any:
    """Decode a JSON text stored by the store, for handlers that return it as is."""
    return json.loads(value) if isinstance(value, str) else value
