"""e-budgeting (Budget Bureau, สำนักงบประมาณ): a source of national budget lines and the destination of
local-grant budget requests.

Read: bbgfproject rows (the Budget Bureau's line items as published through the open-data API), polled
by offset year after year, or pushed as a JSON array, an API page or JSON lines; each becomes a
`budget_line`. Written: `budget_request`s and the grant requests of plan projects, as the local-grant request channel (bbl.bb.go.th) would take
them, idempotent by delivery key and answered with a request number. See README.md in this folder.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote


from plugins.ebudget import converters, mapper, parse, reading
from plugins.ebudget.settings import EbudgetSettings
from prasan import (
    Delivered,
    Health,
    HttpAnswer,
    MappedRecord,
    Mapping,
    NativeRecord,
    ReadBatch,
    Registrar,
    RestSystem,
    Retryable,
    Stream,
    WriteItem,
    WriteResult,
    hookimpl,
)

REQUESTS = "/bbl/api/v1/requests"
# Requests sent at once: enough to hide the round trips, few enough to stay a polite client of one channel.
REQUESTS_AT_ONCE = 8
GRANT_TYPES = Path(__file__).parent / "codelists" / "grant-type.yaml"


class Ebudget(RestSystem):
    name = "ebudget"
    title = "e-budgeting: ระบบการจัดทำงบประมาณ สำนักงบประมาณ"
    label = "e-budgeting"
    owner_agency = "สำนักงบประมาณ (Budget Bureau)"
    simulator_module = "plugins.ebudget.simulator"
    Settings = EbudgetSettings
    formats = parse.FORMATS
    # The Act's lines change a few times a year at most; once a day is plenty.
    streams = (Stream(entity_type="budget_line", interval_s=86_400),)
    # A plan project that asks for a grant is filed as the request it makes (mapper.grant_request_of).
    writes = ("budget_request", "plan_project")
    # The channel files one request per call [inferred]. Taking a batch and sending its requests a few at
    # a time lets the hub claim and settle many rows per round: with one row per call and per round, one
    # claim and one settle transaction per request held deliveries here to about 90 a second.
    write_batch_size = 100
    write_timeout_s = 30.0

    settings: EbudgetSettings

    @cached_property
    def line_mapping(self) -> Mapping:
        return self.context.load_mapping(mapper.LINE_MAPPING)

    @cached_property
    def request_mapping(self) -> Mapping:
        return self.context.load_mapping(mapper.REQUEST_MAPPING)

    def url(self, path: str) -> str:
        # Requests go to the request channel, a different host from the open-data API in production.
        root = self.settings.base_url
        if path.startswith(REQUESTS) and self.settings.requests_url:
            root = self.settings.requests_url
        return f"{root.rstrip('/')}/{path.lstrip('/')}"

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        # Only writes carry a delivery key, and only the request channel takes a header credential: the
        # open-data API wants its token as a query parameter, and neither should see the other's secret.
        headers = {"Accept": "application/json"}
        if idempotency_key:
            headers[self.idempotency_header] = idempotency_key
            if self.settings.requests_api_key is not None:
                headers[self.auth_header] = self.settings.requests_api_key.get_secret_value()
        return headers

    def read_params(self) -> dict[str, str]:
        params = {"min_code": self.settings.min_code, "prov_code": self.settings.prov_code}
        if self.settings.api_key is not None:
            params["user_token"] = self.settings.api_key.get_secret_value()
        return {key: value for key, value in params.items() if value}

    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        return parse.parse(payload, media_type, charset, self.context.limits)

    async def read(self, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
        years, max_pages = self.settings.fiscal_years, self.settings.max_pages
        async for batch in reading.read_years(
            self.get_json, self.read_params(), years, cursor, max_pages, parse.rows_of
        ):
            yield batch

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        if mapper.is_request(record.data):
            return mapper.map_in_request(record, self.request_mapping)
        return mapper.map_in(record, self.line_mapping)

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return mapper.map_out(self.request_mapping, entity_type, entity, self.settings.grant_request_year)

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        return await self.write_each(batch, self.write_one, REQUESTS_AT_ONCE)

    async def write_one(self, item: WriteItem) -> WriteResult:
        if item.entity_type == "plan_project":  # the request names the project it funds, by the hub's id
            item = replace(item, native={**item.native, "project_ref": item.entity_id})
        if item.external_id:  # filed before: the new version amends that request, never files a second one
            return await self.send("PUT", f"{REQUESTS}/{quote(item.external_id, safe='')}", item)
        return await self.send("POST", REQUESTS, item)

    def external_id_of(self, answer: HttpAnswer) -> str | None:
        try:
            body = json.loads(answer.text)
        except ValueError:
            return None
        return str(body["request_no"]) if isinstance(body, dict) and body.get("request_no") else None

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        result = super().result_for(answer)
        # Without its number a filed request cannot be amended later; asking again under the same key
        # is harmless and gets the number.
        if isinstance(result, Delivered) and result.external_id is None:
            return Retryable(f"e-budgeting answered {answer.status} without a request number")
        return result

    def message_of(self, answer: HttpAnswer) -> str:
        try:
            body = json.loads(answer.text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"][:500]
        return super().message_of(answer)

    async def healthcheck(self) -> Health:
        year = str(self.settings.fiscal_years[-1])
        return await self.probe(reading.BBGFPROJECT, {**self.read_params(), "year": year, "offset": "0"})


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Ebudget)
    register.add_converter("plan_code", converters.PlanCodeArgs, converters.plan_code)
    register.add_converter("agency", converters.AgencyArgs, converters.agency)
    register.add_converter("lao", converters.LaoArgs, converters.lao, needs_reference=True)
    register.add_code_list(GRANT_TYPES)
