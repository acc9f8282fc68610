"""GF-MIS (New GFMIS Thai, the CGD's government ERP): the source of disbursement lines and budget status.

Disbursement lines with their coding block are polled page by page (cursor saved per page) or pushed as
CSV (UTF-8 or TIS-620) or JSON; the NFMA46 budget status report is pushed as the XLSX GF-MIS exports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cached_property


from plugins.gfmis import converters, mapper, nfma46, parse
from plugins.gfmis.settings import GfmisSettings
from prasan import (
    XLSX_MEDIA_TYPE,
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    Registrar,
    RestSystem,
    Stream,
    hookimpl,
)

LINES = "/api/v1/disbursements"
CODE_LIST = mapper.HERE / "codelists" / "gl-class.yaml"


class Gfmis(RestSystem):
    name = "gfmis"
    title = "GF-MIS: ระบบบริหารการเงินการคลังภาครัฐแบบอิเล็กทรอนิกส์ (New GFMIS Thai)"
    label = "GF-MIS"
    owner_agency = "กรมบัญชีกลาง (CGD)"
    simulator_module = "plugins.gfmis.simulator"
    Settings = GfmisSettings
    formats = ("text/csv", "application/json", XLSX_MEDIA_TYPE)
    # GF-MIS is rate limited and posts in batches through the day; every quarter hour is enough.
    streams = (Stream(entity_type="disbursement", interval_s=900),)

    settings: GfmisSettings

    @cached_property
    def mappings(self) -> mapper.Mappings:
        return {entity_type: self.context.load_mapping(path) for entity_type, path in mapper.MAPPING_FILES.items()}

    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        if media_type.split(";")[0].strip().lower() == XLSX_MEDIA_TYPE:
            return nfma46.parse_report(payload)
        return parse.parse_lines(payload, media_type, charset, self.context.limits)

    async def read(self, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
        async for batch in self.read_pages(
            LINES, cursor=cursor, cursor_param="cursor", next_key="next_cursor", to_record=parse.polled_record,
            params={"limit": str(self.settings.page_size)}, max_pages=self.settings.max_pages,
        ):
            yield batch

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return mapper.map_in(record, self.mappings)

    async def healthcheck(self) -> Health:
        return await self.probe(LINES, {"cursor": "0", "limit": "1"})


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Gfmis)
    register.add_converter("gl_account", converters.GlAccountArgs, converters.gl_account, needs_reference=True)
    register.add_code_list(CODE_LIST)
