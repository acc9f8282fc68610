"""e-Plan (DLA local development plans, e-plan.dla.go.th): the source of plan projects (ผ.02 rows).

Pushed as a ผ.02 table (CSV in UTF-8 or TIS-620, XLSX, JSON) or polled from e-Plan by `updated_seq`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar


from plugins.eplan import converters, mapper, parse
from plugins.eplan.settings import EplanSettings
from prasan import (
    XLSX_MEDIA_TYPE,
    Health,
    MappedRecord,
    Mapping,
    NativeRecord,
    ReadBatch,
    Registrar,
    RestSystem,
    Stream,
    hookimpl,
)

PROJECTS = "/api/v1/projects"
# Transport metadata of the poll, not part of the ผ.02 row; the cursor lives in ReadBatch instead.
_TRANSPORT_KEYS = ("updated_seq",)


class Eplan(RestSystem):
    name = "eplan"
    title = "e-Plan: ระบบสารสนเทศเพื่อการวางแผนพัฒนาท้องถิ่น"
    label = "e-Plan"
    owner_agency = "กรมส่งเสริมการปกครองท้องถิ่น (DLA)"
    simulator_module = "plugins.eplan.simulator"
    Settings = EplanSettings
    formats = ("text/csv", "application/json", XLSX_MEDIA_TYPE)
    streams = (Stream(entity_type="plan_project", interval_s=300),)

    settings: EplanSettings
    mapping_file: ClassVar[Path] = Path(__file__).parent / "mapping.yaml"

    @cached_property
    def mapping(self) -> Mapping:
        return self.context.load_mapping(self.mapping_file)

    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        return parse.parse(payload, media_type, charset, self.context.limits)

    async def read(self, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
        def record(position: int, row: dict[str, Any]) -> NativeRecord:
            # Polled rows go through the same header folding as pushed ones, so one mapping serves both.
            data = {k: v for k, v in row.items() if k not in _TRANSPORT_KEYS}
            return parse.canonical_native_record(NativeRecord(row=position, data=data))

        async for batch in self.read_pages(
            PROJECTS, cursor=cursor, cursor_param="since", next_key="next_since", to_record=record,
            params={"limit": str(self.settings.page_size)},
        ):
            yield batch

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return mapper.map_in(record, self.mapping)

    async def healthcheck(self) -> Health:
        return await self.probe(PROJECTS, {"since": "0", "limit": "1"})


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Eplan)
    register.add_converter("known_org", converters.KnownOrgArgs, converters.known_org, needs_reference=True)
    register.add_converter("revision", converters.RevisionArgs, converters.revision)


