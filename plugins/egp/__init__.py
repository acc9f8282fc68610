"""e-GP (Comptroller General's Department, gprocurement.go.th): the source of procurement projects and contracts.

Pushed as the open-data CSV (UTF-8 or TIS-620) or the CGDCONTRACT JSON; read on a schedule from the
announcement RSS (procurement) and the CGDCONTRACT API (contracts, with their projects), page by page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import cached_property
from pathlib import Path

import aiohttp

from plugins.egp import converters, feed, feedcursor, mapper, parse
from plugins.egp.settings import EgpSettings
from prasan import (
    Health,
    HttpAnswer,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    Registrar,
    RestSystem,
    Stream,
    TransientError,
    hookimpl,
)

HERE = Path(__file__).parent
CONTRACTS = "/govspending/cgdcontract"
FEED = "/EPROCRssFeedWeb/egpannouncerss.xml"


class Egp(RestSystem):
    name = "egp"
    title = "e-GP: ระบบการจัดซื้อจัดจ้างภาครัฐ"
    label = "e-GP"
    owner_agency = "กรมบัญชีกลาง (Comptroller General's Department)"
    simulator_module = "plugins.egp.simulator"
    Settings = EgpSettings
    auth_header = "api-key"
    formats = ("text/csv", "application/json")
    streams = (
        Stream(entity_type="procurement", interval_s=900),
        Stream(entity_type="contract", interval_s=3600),
    )

    settings: EgpSettings

    @cached_property
    def mappings(self) -> mapper.Mappings:
        return {name: self.context.load_mapping(path) for name, path in mapper.MAPPING_FILES.items()}

    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        return parse.parse(payload, media_type, charset, self.context.limits)

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return mapper.map_in(record, self.mappings, self.reference)

    def read(self, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
        return self.read_announcements(cursor) if stream.entity_type == "procurement" else self.read_contracts(cursor)

    async def read_announcements(self, cursor: str | None) -> AsyncIterator[ReadBatch]:
        """One batch per feed (unit x announcement type), each carrying the position after it."""
        position = feedcursor.load(cursor)
        for dept in self.settings.dept_sub_ids:
            for kind in self.settings.announce_types:
                items = feed.items(await self.fetch_feed({"deptsubId": dept, "anounceType": kind}))
                fresh = feedcursor.newer(f"{dept}/{kind}", items, position)
                records = [NativeRecord(n, {**item, "deptsubId": dept, "anounceType": kind}) for n, item in enumerate(fresh, 1)]
                yield ReadBatch(records=records, next_cursor=feedcursor.dump(position), more=False)

    async def fetch_feed(self, params: dict[str, str]) -> bytes:
        """The feed's raw bytes (their encoding is the prolog's business); the API key is not sent there."""
        url = f"{(self.settings.feed_base_url or self.settings.base_url).rstrip('/')}{FEED}"
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        try:
            # Never followed: a redirect means a wrong URL (a ConfigError below), not another feed.
            async with self.http.get(url, params=params, timeout=timeout, allow_redirects=False) as response:
                body = await response.read()
                status, headers = response.status, dict(response.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientError(f"the e-GP feed could not be reached: {type(exc).__name__}", system=self.name) from exc
        self.raise_for_status(HttpAnswer(status, headers, body[:500].decode("utf-8", "replace")))
        return body

    async def read_contracts(self, cursor: str | None) -> AsyncIterator[ReadBatch]:
        """The year's projects of every unit, page by page; the cursor holds each unit's offset."""
        offsets: dict[str, int] = json.loads(cursor) if cursor and cursor.startswith("{") else {}
        year = str(self.settings.budget_year)
        for dept in self.settings.dept_sub_ids:
            key = f"{year}/{dept}"
            pages = self.pages(
                CONTRACTS,
                cursor=str(offsets.get(key, 0)),
                cursor_param="offset",
                params={"year": year, "dept_code": dept, "limit": str(self.settings.page_size)},
                records_of=lambda body: [p for p in body.get("result") or [] if isinstance(p, dict)],
                next_cursor_of=lambda body: str(int(body.get("offset") or 0) + len(body.get("result") or [])),
                more_of=lambda body: int(body.get("offset") or 0) + len(body.get("result") or []) < int(body.get("total") or 0),
            )
            async for projects, next_offset, more in pages:
                offsets[key] = int(next_offset or 0)
                records = [NativeRecord(n, project) for n, project in enumerate(projects, 1)]
                yield ReadBatch(records=records, next_cursor=json.dumps(offsets, sort_keys=True), more=more)

    async def healthcheck(self) -> Health:
        return await self.probe(CONTRACTS, {"year": str(self.settings.budget_year), "limit": "1"})


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Egp)
    register.add_converter("type_from_title", converters.NoArgs, converters.type_from_title)
    register.add_converter("pub_date", converters.NoArgs, converters.pub_date)
    register.add_code_list(HERE / "codelists" / "announce_types.yaml")
    register.add_code_list(HERE / "codelists" / "project_types.yaml")
