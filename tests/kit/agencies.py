"""Small agency systems for testing the conformance kit: correct ones, and their simulators built on
`prasan.testing`'s helper. The broken ones (tests/kit/test_kit_fails_broken_plugins.py) each subclass a
correct one and get one thing wrong.

- `Projects`: pushed JSON lists of projects, and written one project per request (PUSH, WRITE).
- `RaisingProjects`: the same, but its write raises the contract's errors instead of answering results.
- `BatchProjects`: written many projects per request, each item under its own key (WRITE, BATCH_WRITE).
- `ProjectReader`: polled for projects (READ).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import Field, SecretStr

from prasan import (
    Delivered,
    HttpAnswer,
    HttpSettings,
    MappedRecord,
    NativeRecord,
    PayloadError,
    ReadBatch,
    RestSystem,
    Retryable,
    Stream,
    WriteItem,
    WriteResult,
)
from prasan.testing import SimulatorState, simulator_app

SIM_KEY = "kit-agency-sim-key"
PROJECTS = "/api/projects"
SEED = [
    {"org": "5400103", "id": "P-1", "name": "ถนนคอนกรีตเสริมเหล็ก หมู่ที่ 5"},
    {"org": "4500103", "id": "P-2", "name": "ป้องกันโรคไข้เลือดออก"},
]


# --- the simulator, on the helper ------------------------------------------------------------------
async def post_project(request: web.Request) -> web.Response:
    state = SimulatorState.of(request)
    key, body = state.key_of(request), await request.json()
    if not isinstance(body, dict) or not body.get("name") or not body.get("org"):
        state.log(request, key=key, status=400)
        return web.json_response({"error": "org and name are required"}, status=400)
    record_id, first = state.apply(key, body)
    state.log(request, key=key, status=201, replayed=not first, record_id=record_id)
    return web.json_response({"id": record_id}, status=201)


async def post_project_batch(request: web.Request) -> web.Response:
    """{"items": [{"key", "record"}]}: each item applied under its own key and logged on its own."""
    state = SimulatorState.of(request)
    results = []
    for item in (await request.json()).get("items", []):
        key, record = item.get("key"), item.get("record") or {}
        if not record.get("name"):
            state.log(request, key=key, status=400)
            results.append({"status": 400, "error": "name is required"})
            continue
        record_id, first = state.apply(key, record)
        state.log(request, key=key, status=200, replayed=not first, record_id=record_id)
        results.append({"status": 200, "id": record_id})
    return web.json_response({"results": results})


async def get_projects(request: web.Request) -> web.Response:
    records = [applied.record for applied in SimulatorState.of(request).records.values()]
    return web.json_response({"records": records})


def create_app(seed: bool = False) -> web.Application:
    state = SimulatorState(api_key=SIM_KEY)
    for record in SEED if seed else []:
        state.apply(None, record)
    routes = [web.post(PROJECTS, post_project), web.post(f"{PROJECTS}/batch", post_project_batch), web.get(PROJECTS, get_projects)]
    return simulator_app(state, routes)


# --- the systems -----------------------------------------------------------------------------------
class KitSettings(HttpSettings):
    api_key: SecretStr = Field(description="API key sent as X-Api-Key.")  # type: ignore[assignment]


def project_in(record: NativeRecord) -> list[MappedRecord]:
    data = record.data
    body = {"org_code": data.get("org"), "project_code": data.get("id"), "title": data.get("name")}
    return [MappedRecord("plan_project", str(data.get("id") or ""), body)]


def project_out(entity: dict[str, Any]) -> dict[str, Any]:
    return {"org": entity["org_code"], "id": entity.get("project_code"), "name": entity["title"]}


class Projects(RestSystem):
    name = "kit_projects"
    title = "Projects (a conformance-kit test system)"
    owner_agency = "Prasan tests"
    Settings = KitSettings
    formats = ("application/json",)
    writes = ("plan_project",)

    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        try:
            rows = json.loads(payload)
        except ValueError as exc:
            raise PayloadError("kit.json", f"not JSON: {exc}") from None
        return [NativeRecord(row=i, data=row) for i, row in enumerate(rows, start=1)]

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return project_in(record)

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return project_out(entity)

    def external_id_of(self, answer: HttpAnswer) -> str | None:
        return str(json.loads(answer.text).get("id") or "") or None

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        return await self.write_each(batch, lambda item: self.send("POST", PROJECTS, item))

    @classmethod
    def simulator(cls) -> web.Application:
        return create_app()

    @classmethod
    def simulator_settings(cls, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": SIM_KEY}


class RaisingProjects(Projects):
    """Correct too: every failure is raised (TransientError, ConfigError, PermanentError), none answered."""

    name = "kit_raising"

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for item in batch:
            answer = await self.request("POST", PROJECTS, json_body=item.native, idempotency_key=item.delivery_key)
            self.raise_for_status(answer)
            results.append(Delivered(self.external_id_of(answer)))
        return results


class BatchProjects(Projects):
    name = "kit_batch"
    formats = ()
    write_batch_size = 50

    def batch_key(self, item: WriteItem, batch: list[WriteItem]) -> str:
        return item.delivery_key

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        body = {"items": [{"key": self.batch_key(item, batch), "record": item.native} for item in batch]}
        try:
            answer = await self.request("POST", f"{PROJECTS}/batch", json_body=body)
        except Exception as exc:  # TransientError: unreachable
            return [Retryable(str(exc)) for _ in batch]
        if answer.status >= 300:
            return [self.result_for(answer) for _ in batch]
        return [
            self.result_for(HttpAnswer(int(result["status"]), {}, json.dumps(result)))
            for result in json.loads(answer.text)["results"]
        ]


class ProjectReader(RestSystem):
    name = "kit_reader"
    title = "Project reader (a conformance-kit test system)"
    owner_agency = "Prasan tests"
    Settings = KitSettings
    streams = (Stream(entity_type="plan_project", interval_s=60),)

    async def read(self, stream: Stream, cursor: str | None) -> ReadBatch:
        body = await self.get_json(PROJECTS)
        records = [NativeRecord(row=i, data=row) for i, row in enumerate(body["records"], start=1)]
        return ReadBatch(records=records, next_cursor=str(len(records)))

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return project_in(record)

    @classmethod
    def simulator(cls) -> web.Application:
        return create_app(seed=True)

    @classmethod
    def simulator_settings(cls, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": SIM_KEY}
