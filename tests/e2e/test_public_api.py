"""The public API over real HTTP, on SQLite and PostgreSQL, with the pilot's scenario loaded: no credentials,
the walk from a province to a project's timeline, the figures of every stage, cache headers, and every
public answer held to an allow-list of fields (nothing about people, clients, tokens or payloads): for the
JSON answers a list of field names, for the OCDS packages the official OCDS schema with no field it does
not define, for the CSV and XLSX tables their header row."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from admin_api.spec import OPERATIONS
from core.area_table import CATEGORY_HEADER, HEADER
from prasan.cli.pilot import BUDGET_CODE, EGP_NUMBER, ORG, PROJECT_CODE, TITLE
from tests.e2e.conftest import RunningHub
from tests.e2e.pilot_loader import load_pilot
from tests.ocds_schema import problems

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


async def download(hub: RunningHub, path: str, **headers: str) -> tuple[int, bytes, Any]:
    async with hub.http.get(f"{hub.url}{path}", headers=headers) as response:
        return response.status, await response.read(), response.headers


async def ocds_package(hub: RunningHub, path: str) -> dict[str, Any]:
    """A package as a client reads it (amounts as exact decimals), after it passed the official schema with
    no field the schema does not define."""
    status, body, headers = await download(hub, path)
    assert status == 200 and headers["Content-Type"] == "application/json", body[:300]
    assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
    package = json.loads(body, parse_float=Decimal)
    assert problems(package, strict=True) == []
    return package


async def check_ocds(hub: RunningHub) -> dict[str, Any]:
    """The pilot's e-GP project as OCDS: the road's tender, its contract with the company, and the plan's
    budget (the grant's GF-MIS budget code) in planning. Returns the packages by route."""
    by_org = await ocds_package(hub, f"/api/v1/public/ocds/{ORG}?fiscal_year=2570")
    [release] = by_org["releases"]
    assert by_org["version"] == "1.1" and by_org["uri"] == f"{hub.url}/api/v1/public/ocds/{ORG}?fiscal_year=2570"
    assert by_org["publishedDate"] == release["date"]
    assert release["ocid"] == f"ocds-prasan-{EGP_NUMBER}" and release["tag"] == ["planning", "tender", "award", "contract"]
    assert release["buyer"] == {"id": f"DLA-{ORG}", "name": "บ้านใหญ่"}
    tender = release["tender"]
    assert (tender["id"], tender["status"], tender["procurementMethod"], tender["mainProcurementCategory"]) == (
        EGP_NUMBER, "complete", "open", "works")  # fmt: skip
    assert tender["value"] == {"amount": Decimal("2450000.00"), "currency": "THB"}
    assert tender["tenderPeriod"] == {"startDate": "2027-01-12T00:00:00+07:00"}
    assert release["planning"]["budget"] == {
        "id": BUDGET_CODE, "description": "เงินอุดหนุนเฉพาะกิจ", "project": TITLE, "projectID": f"{ORG}:{PROJECT_CODE}",
        "amount": {"amount": Decimal("2450000.00"), "currency": "THB"},
    }  # fmt: skip
    [contract] = release["contracts"]
    assert contract["id"] == f"{EGP_NUMBER}/อบต.บญ.7/2570" and contract["status"] == "active"
    assert contract["value"] == {"amount": Decimal("2198000.00"), "currency": "THB"}
    assert contract["dateSigned"] == "2027-02-20T00:00:00+07:00" and contract["period"]["endDate"] == "2027-06-19T00:00:00+07:00"
    [award] = release["awards"]
    assert award["id"] == contract["awardID"]
    assert award["suppliers"] == [{"id": "TH-TIN-0263556000111", "name": "ห้างหุ้นส่วนจำกัด นครนายกโยธา"}]
    one = await ocds_package(hub, f"/api/v1/public/ocds/releases/{EGP_NUMBER}")
    assert one["releases"] == [release]
    assert (await download(hub, "/api/v1/public/ocds/releases/70019999999"))[0] == 404
    assert (await download(hub, "/api/v1/public/ocds/releases/7001912345x"))[0] == 400
    assert (await download(hub, f"/api/v1/public/ocds/{ORG}?fiscal_year=2569"))[0] == 404  # no procurement that year
    assert (await download(hub, f"/api/v1/public/ocds/{ORG}?offset=1"))[0] == 404  # past the last page
    assert (await download(hub, f"/api/v1/public/ocds/{ORG}?limit=101"))[0] == 400  # bounded
    return {"/api/v1/public/ocds/{org_code}": by_org, "/api/v1/public/ocds/releases/{egp_project_number}": one}


def table_rows(ext: str, body: bytes) -> list[list[Any]]:
    """The table's rows, header first, from its CSV or XLSX bytes."""
    if ext == "csv":
        assert body.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel would not read the Thai"
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def check_totals(hub: RunningHub) -> dict[str, list[list[Any]]]:
    """Nakhon Nayok's totals as CSV and XLSX: the pilot's organisation with its one project's figures."""
    tables = {}
    for ext, media_type in (("csv", "text/csv; charset=utf-8"),
                            ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):  # fmt: skip
        path = f"/api/v1/public/areas/26/totals.{ext}?fiscal_year=2570"
        status, body, headers = await download(hub, path)
        assert status == 200 and headers["Content-Type"] == media_type
        assert headers["Content-Disposition"] == f'attachment; filename="prasan-totals-26-2570-organisation.{ext}"'
        assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
        again, empty, _ = await download(hub, path, **{"If-None-Match": headers["ETag"]})
        assert again == 304 and empty == b""
        kept = await download(hub, path)  # from the hub's cache: the same bytes, sent as the same kind of file
        assert kept[1] == body and kept[2]["Content-Type"] == media_type and kept[2]["ETag"] == headers["ETag"]
        assert kept[2]["Content-Disposition"] == headers["Content-Disposition"]
        rows = table_rows(ext, body)
        assert tuple(rows[0]) == HEADER
        [row] = [dict(zip(HEADER, r)) for r in rows[1:] if r[HEADER.index("รหัส อปท. (org_code)")] == ORG]
        figures = {name: Decimal(str(row[f"{thai} (amount_{name})"])) for name, thai in (
            ("planned", "วงเงินตามแผน (บาท)"), ("contracted", "วงเงินตามสัญญา (บาท)"), ("disbursed", "เบิกจ่ายแล้ว (บาท)"))}  # fmt: skip
        assert figures == {"planned": Decimal("2450000.00"), "contracted": Decimal("2198000.00"), "disbursed": Decimal("1099000.00")}
        assert str(row["จำนวนโครงการ (projects)"]) == "1" and str(row["โครงการขั้นเบิกจ่าย (projects_disbursing)"]) == "1"
        assert row["อำเภอ (district)"] == "เมืองนครนายก" and row["จังหวัด (province)"] == "นครนายก"
        tables[f"/api/v1/public/areas/{{province_code}}/totals.{ext}"] = rows
    # By งบ: the pilot's plan is budgeted and requested by its deliveries, which name no งบ.
    status, body, headers = await download(hub, "/api/v1/public/areas/26/totals.xlsx?fiscal_year=2570&by=national_expense_category")
    header, *by_category = table_rows("xlsx", body)
    assert status == 200 and tuple(header) == CATEGORY_HEADER
    assert headers["Content-Disposition"] == 'attachment; filename="prasan-totals-26-2570-national_expense_category.xlsx"'
    [unclassified] = [dict(zip(CATEGORY_HEADER, r)) for r in by_category]
    assert (unclassified["รหัสงบ (category_code)"], unclassified["เหตุที่ไม่มีรหัส (without_code)"]) == (None, "unclassified")
    assert Decimal(str(unclassified["วงเงินงบประมาณ (บาท) (amount_budgeted)"])) == Decimal("2450000.00")
    status, body, _ = await download(hub, "/api/v1/public/areas/26/totals.csv?by=district")
    [district] = [r for r in table_rows("csv", body)[1:] if r[HEADER.index("อำเภอ (district)")] == "เมืองนครนายก"]
    assert status == 200 and district[HEADER.index("รหัส อปท. (org_code)")] == ""
    assert (await download(hub, "/api/v1/public/areas/99/totals.csv"))[0] == 404
    assert (await download(hub, "/api/v1/public/areas/26/totals.xlsx?by=street"))[0] == 400
    return tables


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

    packages = await check_ocds(hub)  # each held to the OCDS schema, with no field it does not define
    tables = await check_totals(hub)  # each held to its header row

    assert set(answers) | set(packages) | set(tables) == PUBLIC_PATHS, "a public route is not covered by the allow-list check"
    for path, answer in answers.items():
        assert field_names(answer) <= ALLOWED_FIELDS, f"{path} answers fields outside the allow-list"

    status, missing, _ = await get(hub, f"/api/v1/public/projects/{'0' * 32}")
    assert status == 404
    status, bad, _ = await get(hub, "/api/v1/public/areas/xx")
    assert status == 400
