"""The public API over real HTTP, on SQLite and PostgreSQL, with the pilot's scenario loaded: no credentials,
the walk from a province to a project's timeline, the figures of every stage, cache headers, and every
public answer held to an allow-list of fields (nothing about people, clients, tokens or payloads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from admin_api.spec import OPERATIONS
from prasan.cli.pilot import ORG, PROJECT_CODE, TITLE
from tests.e2e.conftest import RunningHub
from tests.e2e.pilot_loader import load_pilot

pytestmark = pytest.mark.e2e

# Every field name a public answer may hold, at any depth.
ALLOWED_FIELDS = {
    "code", "name_th", "name_en", "province", "districts", "organisations", "org_code", "org_type",
    "province_code", "district_code", "organisation", "fiscal_year", "projects", "limit", "offset", "id", "title",
    "stage", "amounts", "planned", "budgeted", "requested", "approved", "procured", "contracted", "disbursed",
    "years", "timeline", "on", "amount", "system", "record_id", "as_of", "eplan", "elaas", "ebudget", "egp", "gfmis",
    "sola", "flags", "rule", "description",
}  # fmt: skip
PUBLIC_PATHS = {op.path for op in OPERATIONS if op.tag == "public"}


def field_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {name for v in value.values() for name in field_names(v)}
    if isinstance(value, list):
        return {name for v in value for name in field_names(v)}
    return set()


async def get(hub: RunningHub, path: str, **headers: str) -> tuple[int, Any, Any]:
    async with hub.http.get(f"{hub.url}{path}", headers=headers) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text else None), response.headers


async def test_a_citizen_walks_from_the_province_to_the_project_without_credentials(running_hub: RunningHub) -> None:
    hub = running_hub
    plan = await load_pilot(hub)
    answers = {}

    status, provinces, headers = await get(hub, "/api/v1/public/areas")
    assert status == 200 and len(provinces) == 77
    assert {"code": "26", "name_th": "นครนายก", "name_en": "Nakhon Nayok"} in provinces
    assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
    answers["/api/v1/public/areas"] = provinces
    status, again, _ = await get(hub, "/api/v1/public/areas", **{"If-None-Match": headers["ETag"]})
    assert status == 304 and again is None
    status, found, _ = await get(hub, "/api/v1/public/areas?q=นายก")
    assert [p["code"] for p in found] == ["26"]

    status, province, _ = await get(hub, "/api/v1/public/areas/26")
    assert status == 200 and province["province"]["name_th"] == "นครนายก"
    orgs = {o["org_code"]: o for d in province["districts"] for o in d["organisations"]}
    assert orgs[ORG]["name_th"] == "บ้านใหญ่" and orgs[ORG]["org_type"] == "subdistrict_admin_org"
    answers["/api/v1/public/areas/{province_code}"] = province
    status, searched, _ = await get(hub, "/api/v1/public/areas/26?q=บ้าน ใหญ่")
    assert [o["org_code"] for d in searched["districts"] for o in d["organisations"]] == [ORG]

    status, listed, _ = await get(hub, f"/api/v1/public/organisations/{ORG}/projects?fiscal_year=2570")
    assert status == 200
    [project] = listed["projects"]
    assert (project["id"], project["title"], project["stage"]) == (plan, TITLE, "disbursing")
    assert project["amounts"] == {
        "planned": "2450000.00", "budgeted": "2450000.00", "requested": "2450000.00", "approved": "2450000.00",
        "procured": "2450000.00", "contracted": "2198000.00", "disbursed": "1099000.00",
    }  # fmt: skip
    answers["/api/v1/public/organisations/{org_code}/projects"] = listed

    status, story, _ = await get(hub, f"/api/v1/public/projects/{plan}")
    assert status == 200 and story["title"] == TITLE
    steps = [(s["stage"], s["system"], s["amount"]) for s in story["timeline"]]
    assert steps[0] == ("planned", "eplan", "2450000.00")
    assert {("budgeted", "elaas", "2450000.00"), ("requested", "ebudget", "2450000.00"), ("approved", "ebudget", "2450000.00"),
            ("procured", "egp", "2450000.00"), ("contracted", "egp", "2198000.00"),
            ("disbursed", "gfmis", "1099000.00")} <= set(steps)  # fmt: skip
    record_ids = {s["system"]: s["record_id"] for s in story["timeline"]}
    assert record_ids["eplan"] == f"{ORG}:{PROJECT_CODE}"
    assert set(story["as_of"]) == {"eplan", "ebudget", "egp", "gfmis"}
    answers["/api/v1/public/projects/{project_id}"] = story

    assert set(answers) == PUBLIC_PATHS, "a public route is not covered by the allow-list check"
    for path, answer in answers.items():
        assert field_names(answer) <= ALLOWED_FIELDS, f"{path} answers fields outside the allow-list"

    status, missing, _ = await get(hub, f"/api/v1/public/projects/{'0' * 32}")
    assert status == 404
    status, bad, _ = await get(hub, "/api/v1/public/areas/xx")
    assert status == 400
