"""e-Plan (DLA local development plans, e-plan.dla.go.th): the source of plan projects (ผ.02 rows).

Pushed as a ผ.02 table (CSV in UTF-8 or TIS-620, XLSX, JSON) or polled from e-Plan by `updated_seq`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from core.hookspecs import hookimpl
from core.plugin_types import (
    Capability,
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    SystemDescription,
)
from plugins.eplan import client, mapper, parse
from plugins.eplan.settings import EplanSettings

SYSTEM = "eplan"


@hookimpl
def prasan_systems() -> list[SystemDescription]:
    return [
        SystemDescription(
            name=SYSTEM,
            title="e-Plan: ระบบสารสนเทศเพื่อการวางแผนพัฒนาท้องถิ่น",
            owner_agency="กรมส่งเสริมการปกครองท้องถิ่น (DLA)",
            version="1",
            reads=("plan_project",),
            formats=("text/csv", "application/json", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            capabilities=frozenset({Capability.PUSH, Capability.READ, Capability.INCREMENTAL}),
            settings_model=EplanSettings,
        )
    ]


@hookimpl
def prasan_parse(payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
    return parse.parse(payload, media_type, charset)


@hookimpl
async def prasan_read(
    entity_type: str, cursor: str | None, settings: EplanSettings | None, http: aiohttp.ClientSession
) -> ReadBatch:
    batch = await client.read(cursor, settings or EplanSettings(), http)
    # Polled rows go through the same header folding as pushed ones, so one mapping serves both.
    records = [parse.canonical_native_record(r) for r in batch.records]
    return ReadBatch(records=records, next_cursor=batch.next_cursor, more=batch.more)


@hookimpl
def prasan_map_in(record: NativeRecord, reference: Any) -> list[MappedRecord]:
    return mapper.map_in(record, reference)


@hookimpl
async def prasan_healthcheck(settings: EplanSettings | None, http: aiohttp.ClientSession) -> Health:
    return await client.healthcheck(settings or EplanSettings(), http)
