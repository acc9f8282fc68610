"""A REST system described entirely by a transport declaration (`transport.yaml`) and mapping files.

Nothing here knows SOLA: a subclass names its shipped declaration, and its streams, writes and pushed
formats follow from it. Settings may point at another declaration (`transport_file`), so a system whose
interface turns out to differ is served by a new YAML file, not new code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from plugins.sola import paging, records, wire
from plugins.sola.settings import DeclaredSettings
from plugins.sola.transport import JSON, Body, Resource, Transport, load_transport
from prasan import (
    ConfigError,
    Delivered,
    Health,
    HttpAnswer,
    MappedRecord,
    Mapping,
    NativeRecord,
    PayloadError,
    PermanentError,
    ReadBatch,
    Rejected,
    Rejection,
    RestSystem,
    Retryable,
    Stream,
    TransientError,
    WriteItem,
    WriteResult,
)

#: set on records read from a system with several readable entity types (a NativeRecord has no type)
ENTITY_KEY = "@entity_type"
MESSAGE_CHARS = 500


class DeclaredRestSystem(RestSystem):
    """Subclasses set `transport_file` with the other declarations; `streams`, `writes` and `formats`
    are derived from that file when the class is defined."""

    Settings = DeclaredSettings
    transport_file: ClassVar[Path]
    settings: DeclaredSettings
    # One record per request, a few requests at once (`write_each`); a batch per write call lets the hub
    # claim and settle many rows per round instead of one.
    write_batch_size = 100

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        shipped = load_transport(cls.transport_file)
        cls.streams = tuple(
            Stream(entity_type=name, interval_s=r.read.interval_s, incremental=r.read.incremental)
            for name, r in shipped.resources.items()
            if r.read is not None
        )
        cls.writes = tuple(name for name, r in shipped.resources.items() if r.write is not None)
        cls.formats = tuple(shipped.push.media_types) if shipped.push else ()

    # --- the declaration and its mappings --------------------------------------------------------
    @cached_property
    def transport(self) -> Transport:
        chosen = self.settings.transport_file
        return load_transport(Path(chosen) if chosen else type(self).transport_file)

    @cached_property
    def _mappings(self) -> dict[str, Mapping]:
        return {}

    def mapping(self, entity_type: str) -> Mapping:
        if entity_type not in self._mappings:
            self._mappings[entity_type] = self.context.load_mapping(self.transport.mapping_path(entity_type))
        return self._mappings[entity_type]

    def _resource(self, entity_type: str, part: str) -> Any:
        section = getattr(self.transport.resource(entity_type), part)
        if section is None:
            raise ConfigError(f"the transport declares no {part} of {entity_type}", system=self.name)
        return section

    # --- HTTP ------------------------------------------------------------------------------------
    def headers(self, idempotency_key: str | None = None, accept: str = JSON) -> dict[str, str]:
        auth, headers = self.transport.auth, {"Accept": accept}
        if self.settings.api_key is not None:
            secret = self.settings.api_key.get_secret_value()
            headers[auth.header] = f"{auth.scheme} {secret}" if auth.scheme else secret
        if idempotency_key:
            headers[self.transport.idempotency_header] = idempotency_key
        return headers

    async def exchange(
        self, method: str, path: str, body: Body, *, params: dict[str, str] | None = None,
        data: bytes | None = None, content_type: str | None = None, idempotency_key: str | None = None,
    ) -> tuple[HttpAnswer, bytes]:
        """One request; the answer with its raw bytes, since a TIS-620 page is not text until its charset
        is known. Unreachable or too slow is `TransientError`; any status is returned to be judged."""
        headers = self.headers(idempotency_key, accept=body.media_type)
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self.http.request(
                method, self.url(path), params=params, data=data, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                allow_redirects=False,  # a redirect would carry the credentials elsewhere: judged as a wrong URL
            ) as response:
                raw = await response.read()
                charset = wire.charset_of(response.headers.get("Content-Type"), body)
                text = raw.decode(charset, errors="replace") if _known(charset) else raw.decode("utf-8", "replace")
                return HttpAnswer(response.status, dict(response.headers), text), raw
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            message = f"{self.display_name} could not be reached: {type(exc).__name__}"
            raise TransientError(message, system=self.name) from exc

    def message_of(self, answer: HttpAnswer) -> str:
        path = self.transport.error_message
        if path:
            try:
                said = wire.at_path(answer.json(), path)
            except PermanentError:
                said = None
            if said:
                return super().message_of(HttpAnswer(answer.status, {}, str(said)))[:MESSAGE_CHARS]
        return super().message_of(answer)

    # --- reading ---------------------------------------------------------------------------------
    async def read(self, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
        read = self._resource(stream.entity_type, "read")
        tag = {ENTITY_KEY: stream.entity_type} if len(self._inbound()) > 1 else {}

        async def fetch(params: dict[str, str]) -> paging.Page:
            answer, raw = await self.exchange(read.method, read.path, read.body, params={**read.params, **params})
            self.raise_for_status(answer)
            charset = wire.charset_of(answer.headers.get("Content-Type"), read.body)
            try:
                found, document = wire.records_of(raw, read.body, charset, read.records, self.context.limits)
            except PayloadError as exc:
                message = f"{self.display_name} answered an unreadable page: {exc.reason}"
                raise PermanentError(message, system=self.name) from None
            return found, document, answer.headers

        offset = 0
        async for rows, next_cursor, more in paging.pages(fetch, read.paging, cursor):
            batch = [self._native(offset + n, row, read.drop, tag) for n, row in enumerate(rows, start=1)]
            offset += len(rows)
            yield ReadBatch(records=batch, next_cursor=next_cursor, more=more)

    @staticmethod
    def _native(row: int, data: Any, drop: list[str], tag: dict[str, str]) -> NativeRecord:
        if not isinstance(data, dict):
            # One malformed item is that record's rejection; failing the page would stop the cursor for good.
            problem = Rejection("sola.record_shape", "a record must be a JSON object", data, None)
            return NativeRecord(row=row, data={"value": data}, problems=(problem,))
        return NativeRecord(row=row, data={**{k: v for k, v in data.items() if k not in drop}, **tag})

    # --- pushed payloads -------------------------------------------------------------------------
    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        push = self.transport.push
        if push is None or media_type not in push.media_types:
            raise PayloadError("payload.media_type", f"{self.display_name} pushes {', '.join(self.formats) or 'nothing'}")
        if not payload.strip():
            raise PayloadError("payload.empty", "the request body is empty")
        body = Body(media_type=media_type, charset=charset or "utf-8")
        found, _ = wire.records_of(payload, body, body.charset, push.records, self.context.limits)
        if not found:
            raise PayloadError("payload.no_records", "the payload holds no records")
        return [self._native(n, row, [], {}) for n, row in enumerate(found, start=1)]

    # --- mapping ---------------------------------------------------------------------------------
    def _inbound(self) -> list[str]:
        readable = [name for name, r in self.transport.resources.items() if r.read is not None]
        pushed = [self.transport.push.entity_type] if self.transport.push else []
        return list(dict.fromkeys(pushed + readable))

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        inbound = self._inbound()
        entity_type = str(record.data.get(ENTITY_KEY) or (inbound[0] if inbound else ""))
        resource: Resource = self.transport.resource(entity_type)
        return records.map_in(record, self.mapping(entity_type), entity_type, resource.external_id)

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        self._resource(entity_type, "write")
        return self.mapping(entity_type).map_out(entity)

    # --- writing ---------------------------------------------------------------------------------
    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        return await self.write_each(batch, self.write_one)

    async def write_one(self, item: WriteItem) -> WriteResult:
        write = self._resource(item.entity_type, "write")
        method, path = write.method, write.path
        if item.external_id and write.update_path:  # delivered before: replace the record the system holds
            method, path = write.update_method, write.update_path.format(external_id=quote(item.external_id, safe=""))
        try:
            data, content_type = wire.encode(item.native, write.body)
        except PayloadError as exc:
            return Rejected(f"{self.display_name} cannot take the record: {exc.reason}")
        try:
            answer, _ = await self.exchange(
                method, path, write.body, data=data, content_type=content_type, idempotency_key=item.delivery_key
            )
        except TransientError as exc:
            return Retryable(exc.message, exc.retry_after)
        result = self.result_for(answer)
        if isinstance(result, Delivered):
            return Delivered(external_id=self._written_id(answer, write.external_id) or item.external_id)
        return result

    @staticmethod
    def _written_id(answer: HttpAnswer, path: str | None) -> str | None:
        if not path:
            return None
        try:
            found = wire.at_path(answer.json(), path)
        except PermanentError:  # a write answered with something other than JSON names no record
            return None
        return None if found in (None, "") else str(found)

    # --- health ----------------------------------------------------------------------------------
    async def healthcheck(self) -> Health:
        """One light GET of the declared health path, or of the first readable list; never raises."""
        transport = self.transport
        readable = [r.read for r in transport.resources.values() if r.read is not None]
        path = transport.health or (readable[0].path if readable else None)
        if path is None:
            return Health(ok=True, detail="the transport declares nothing to probe")
        body = readable[0].body if readable and not transport.health else Body()
        try:
            answer, _ = await self.exchange("GET", path, body)
        except TransientError as exc:
            return Health(ok=False, detail=exc.message)
        if answer.status in (401, 403):
            return Health(ok=False, detail=f"{self.display_name} refused the credentials ({answer.status})")
        return Health(ok=200 <= answer.status < 300, detail=f"GET {path} answered {answer.status}")


def _known(charset: str) -> bool:
    try:
        "".encode(charset)
    except LookupError:
        return False
    return True
