"""The heart of the mission, end to end: a ผ.02 table posted once reaches e-LAAS, exactly once in effect."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from canonical_model import to_thai_digits
from core.reference_data import load_reference_data
from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e

PROGRAMMES = ["บริหารงานทั่วไป", "การศึกษา", "สาธารณสุข", "เคหะและชุมชน", "อุตสาหกรรมและการโยธา"]
YEARS = [2566, 2567, 2568]
HEADER = [
    "ที่",
    "รหัส อปท.",
    "ยุทธศาสตร์",
    "แผนงาน",
    "ชื่อโครงการ",
    "วัตถุประสงค์",
    "เป้าหมาย (ผลผลิตของโครงการ)",
    *[f"งบประมาณ {to_thai_digits(str(year))}" for year in YEARS],
    "ตัวชี้วัด (KPI)",
    "ผลที่คาดว่าจะได้รับ",
    "หน่วยงานรับผิดชอบหลัก",
]


def chiang_mai_orgs(count: int) -> list[str]:
    reference = load_reference_data()
    return sorted(code for code, org in reference.organizations.items() if org["province_code"] == "50")[:count]


def amount_for(index: int, year: int) -> Decimal:
    return Decimal(100_000 + index * 1_000 + (year - 2566) * 250) + Decimal("0.50")


def p02_rows(count: int = 50) -> list[list[str]]:
    rows = []
    for index, org in enumerate(chiang_mai_orgs(count)):
        amounts = [f"{amount_for(index, year):,}" for year in YEARS]
        # Thai digits in some cells, as printed forms have them.
        amounts = [to_thai_digits(a) if index % 2 else a for a in amounts]
        rows.append(
            [
                str(index + 1),
                to_thai_digits(org) if index % 5 == 0 else org,
                "การพัฒนาโครงสร้างพื้นฐาน",
                PROGRAMMES[index % len(PROGRAMMES)],
                f"โครงการทดสอบที่ {index + 1} ก่อสร้างถนน หมู่ที่ {index % 9 + 1}",
                "เพื่อให้ประชาชนสัญจรสะดวก",
                "ถนน คสล. ยาว 300 เมตร",
                *amounts,
                "ร้อยละ 80 พึงพอใจ",
                "การคมนาคมสะดวก",
                "กองช่าง",
            ]
        )
    return rows


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


async def documents_by_project(hub: RunningHub) -> dict[str, list[dict]]:
    records = await hub.elaas("records")
    found: dict[str, list[dict]] = {}
    for document in records["documents"]:
        body = document.get("Document", document)
        found.setdefault(body["ProjectName"], []).append(body)
    return found


async def written_keys(hub: RunningHub) -> list[tuple[str, str]]:
    """(idempotency key, HTTP method) of every write e-LAAS received, batch items included, in order."""
    found = []
    for entry in (await hub.elaas("log"))["entries"]:
        if entry["idempotency_key"]:
            found.append((entry["idempotency_key"], entry["method"]))
        for item in (entry.get("body") or {}).get("Items", []) if isinstance(entry.get("body"), dict) else []:
            found.append((item["IdempotencyKey"], entry["method"]))
    return found


async def test_fifty_projects_reach_elaas_once_and_changes_make_versions(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(50)
    status, answer = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202, answer
    assert answer["accepted"] == 50 and answer["rejected"] == []
    assert {e["version"] for e in answer["entities"]} == {1}

    async def all_written() -> bool:
        return len(await documents_by_project(hub)) == 50 and await hub.settled()

    await hub.wait_until(all_written, "50 projects written to e-LAAS")
    documents = await documents_by_project(hub)
    for index, row in enumerate(rows):
        [document] = documents[row[4]]
        assert document["LaoCode"] == chiang_mai_orgs(50)[index]
        lines = {line["BudgetYear"]: Decimal(line["Amount"]) for line in document["Lines"]}
        assert lines == {year: amount_for(index, year) for year in YEARS}
    writes_before = len((await hub.elaas("log"))["entries"])

    # The same file again: no new version, no new write.
    status, again = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202
    assert {e["version"] for e in again["entities"]} == {1}
    assert not any(e["changed"] for e in again["entities"])
    assert await hub.settled()
    log = await hub.elaas("log")
    assert len(log["entries"]) == writes_before

    # One amount changes: version 2, delivered after version 1.
    changed = [list(row) for row in rows]
    changed[7][7] = "999,999.00"
    status, third = await hub.post(to_csv(changed), "text/csv; charset=utf-8")
    assert status == 202
    versions = {e["row"]: e["version"] for e in third["entities"]}
    assert sorted(versions.values()).count(2) == 1
    entity_id = next(e["id"] for e in third["entities"] if e["version"] == 2)

    async def version_two_written() -> bool:
        return (await documents_by_project(hub))[rows[7][4]][0].get("Revision") == 2 and await hub.settled()

    await hub.wait_until(version_two_written, "version 2 written")
    # Version 2 replaced e-LAAS's record of version 1: one document, so the budget is not counted twice.
    [document] = (await documents_by_project(hub))[rows[7][4]]
    assert {line["BudgetYear"]: line["Amount"] for line in document["Lines"]}[2566] == "999999.00"
    assert len(await documents_by_project(hub)) == 50
    writes = await written_keys(hub)
    keys = [key for key, _ in writes]
    assert keys.index(f"elaas:{entity_id}:1") < keys.index(f"elaas:{entity_id}:2")
    assert dict(writes)[f"elaas:{entity_id}:2"] == "PUT"
    entity = await hub.get_json(f"{hub.url}/api/v1/entities/{entity_id}")
    assert entity["version"] == 2
    assert [(d["version"], d["state"]) for d in sorted(entity["deliveries"], key=lambda d: d["version"])] == [
        (1, "delivered"),
        (2, "delivered"),
    ]
    assert {x["system"] for x in entity["xrefs"]} == {"eplan", "elaas"}


async def test_bad_rows_are_rejected_with_reasons_and_kept_while_others_go_through(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(4)
    rows[1][7] = "12,34,5.678"  # not an amount
    rows[2][1] = "5500199"  # well-formed, but no such organisation
    status, answer = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202, answer
    assert answer["accepted"] == 2
    rejected = {r["row"]: r for r in answer["rejected"]}
    assert set(rejected) == {2, 3}
    # The plugin folds Thai digits in headers, so the field is named in its canonical spelling.
    assert rejected[2]["field"] == "งบประมาณ 2566" and rejected[2]["value"] == "12,34,5.678" and rejected[2]["reason"]
    assert rejected[3]["field"] == "รหัส อปท." and rejected[3]["value"] == "5500199"
    assert rejected[3]["rule"] == "org.unknown"
    message = await asyncio.to_thread(hub.hub.store.inbox.get_message, answer["message_id"])
    assert message is not None and message.payload == to_csv(rows)
    assert {r.row for r in message.rejections} == {2, 3}
    assert all(r.native_record for r in message.rejections)

    async def two_written() -> bool:
        return len(await documents_by_project(hub)) == 2 and await hub.settled()

    await hub.wait_until(two_written, "the two good rows written")


async def _deliveries_of(hub: RunningHub, entity_id: str) -> list[dict]:
    return (await hub.get_json(f"{hub.url}/api/v1/entities/{entity_id}"))["deliveries"]


async def test_retry_after_503s_and_dead_letter_after_400_block_nothing_else(running_hub: RunningHub) -> None:
    hub = running_hub
    async with hub.http.post(
        f"{hub.elaas_url}/_sim/faults", json={"status": 503, "times": 3, "retry_after": 0}
    ) as response:
        assert response.status < 300
    status, first = await hub.post(to_csv(p02_rows(1)), "text/csv; charset=utf-8")
    assert status == 202
    first_id = first["entities"][0]["id"]
    await hub.wait_until(hub.settled, "the 503s retried to delivery")
    [delivery] = await _deliveries_of(hub, first_id)
    assert delivery["state"] == "delivered" and delivery["attempts"] == 4

    rows = p02_rows(3)[1:]
    fault = {"status": 400, "times": 5, "match": rows[0][4]}  # e-LAAS refuses this one project only
    async with hub.http.post(f"{hub.elaas_url}/_sim/faults", json=fault) as response:
        assert response.status < 300
    status, second = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202
    await hub.wait_until(hub.settled, "the batch settled")
    states = {}
    for entity in second["entities"]:
        [delivery] = await _deliveries_of(hub, entity["id"])
        states[entity["id"]] = (delivery["state"], delivery["attempts"])
    assert sorted(states.values()) == [("dead", 1), ("delivered", 1)]
    dead = await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters)
    assert len(dead) == 1 and "400" in dead[0].reason
    assert dead[0].entity_id == second["entities"][0]["id"]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_with_duplicate_headers() -> bytes:
    return _xlsx([["รหัส อปท.", "งบประมาณ 2566", "งบประมาณ 2566"], ["5400103", "100", "999"]])


def _xlsx_with_a_damaged_sheet() -> bytes:
    """A valid archive whose worksheet XML is cut short: it fails only while rows are read."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(_xlsx([["a", "b"], ["1", "2"]] * 50)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type", "rule"),
    [
        ("รหัส อปท.,ชื่อโครงการ\n1,\"ถนน\n2,3".encode(), "text/csv; charset=utf-8", "csv.syntax"),
        ("รหัส อปท.,ชื่อโครงการ\n1,2,3\n".encode(), "text/csv", "csv.columns"),
        ("รหัส อปท.,ชื่อโครงการ\n".encode("tis-620"), "text/csv; charset=utf-8", "payload.encoding"),
        (b'[{"x": NaN}]', "application/json", "json.non_finite"),
        (b'[{"x": 1, "x": 2}]', "application/json", "json.duplicate_key"),
        (b"", "text/csv", "payload.empty"),
        (b"\x00\x01garbage", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx.unreadable"),
        (b"<xml/>", "application/xml", "payload.media_type"),
        (b'[{"x": ' + b"1" * 5000 + b"}]", "application/json", "json.number_too_large"),
        ("รหัส อปท.,ชื่อโครงการ\n1,+2AA-\n".encode("utf-7"), "text/csv; charset=utf-7", "payload.charset"),
        (_xlsx_with_duplicate_headers(), XLSX, "xlsx.header"),
        (_xlsx_with_a_damaged_sheet(), XLSX, "xlsx.unreadable"),
    ],
)
async def test_malformed_input_gets_a_clear_4xx_and_the_worker_lives_on(
    running_hub: RunningHub, body: bytes, content_type: str, rule: str
) -> None:
    hub = running_hub
    status, problem = await hub.post(body, content_type)
    assert 400 <= status < 500, problem
    assert problem["rule"].startswith(rule) and problem["detail"]
    status, answer = await hub.post(to_csv(p02_rows(1)), "text/csv; charset=utf-8")
    assert status == 202 and answer["accepted"] == 1
    await hub.wait_until(hub.settled, "a good post after a bad one is delivered")
    assert len(await documents_by_project(hub)) == 1


async def test_ingest_refuses_missing_and_foreign_keys(running_hub: RunningHub) -> None:
    hub = running_hub
    async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=b"x") as response:
        assert response.status == 401
    status, _ = await hub.post(to_csv(p02_rows(1)), "text/csv", key="prs_not-a-real-key-at-all")
    assert status == 401
    _, elaas_key = await asyncio.to_thread(hub.hub.store.access.add_client, "e2e-elaas", "elaas")
    status, problem = await hub.post(to_csv(p02_rows(1)), "text/csv", key=elaas_key)
    assert status == 403 and "elaas" in problem["detail"]  # a key of one system cannot write another


SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "eplan" / "samples"


@pytest.mark.parametrize(
    ("sample", "content_type"),
    [
        ("p02_utf8_bom.csv", "text/csv; charset=utf-8"),
        ("p02_tis620.csv", "text/csv; charset=tis-620"),
        ("p02.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("p02.json", "application/json"),
    ],
)
async def test_every_sample_format_goes_through_the_hub(running_hub: RunningHub, sample: str, content_type: str) -> None:
    hub = running_hub
    status, answer = await hub.post((SAMPLES / sample).read_bytes(), content_type)
    assert status == 202, answer
    assert answer["accepted"] > 0 and answer["rejected"] == []
    await hub.wait_until(hub.settled, f"{sample} delivered")
    documents = await documents_by_project(hub)
    assert len(documents) == answer["accepted"]


async def test_scheduled_pull_saves_its_cursor_and_does_not_reread(running_hub: RunningHub) -> None:
    hub = running_hub
    runner = hub.hub.pulls
    first = await runner.pull("eplan", "plan_project")
    assert first > 0
    cursor = await asyncio.to_thread(hub.hub.store.config.get_cursor, "eplan", "plan_project")
    assert cursor is not None
    assert await runner.pull("eplan", "plan_project") == 0
    await hub.wait_until(hub.settled, "pulled projects delivered")
    assert len(await documents_by_project(hub)) == first


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(running_hub: RunningHub) -> None:
    hub = running_hub
    body = to_csv(p02_rows(2))
    headers = {
        "Authorization": f"Bearer {hub.eplan_key}",
        "Content-Type": "text/csv; charset=utf-8",
        "Idempotency-Key": "batch-2568-001",
    }
    url = f"{hub.url}/api/v1/inbound/eplan"
    async with hub.http.post(url, data=body, headers=headers) as response:
        assert response.status == 202
        first = await response.json()
    async with hub.http.post(url, data=body, headers=headers) as response:
        assert response.status == 202 and response.headers.get("Idempotent-Replayed") == "true"
        assert await response.json() == first
    async with hub.http.post(url, data=to_csv(p02_rows(3)), headers=headers) as response:
        assert response.status == 409
        assert (await response.json())["message_id"] == first["message_id"]


async def test_an_unreadable_payload_under_an_idempotency_key_is_refused_again_not_409(running_hub: RunningHub) -> None:
    hub = running_hub
    headers = {
        "Authorization": f"Bearer {hub.eplan_key}",
        "Content-Type": "application/json",
        "Idempotency-Key": "broken-1",
    }
    for _ in range(2):
        async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=b'[{"x": NaN}]', headers=headers) as response:
            assert response.status == 400
            assert (await response.json())["rule"] == "json.non_finite"


async def test_a_record_cannot_move_another_organisations_entity(running_hub: RunningHub) -> None:
    """Reusing another organisation's project id is refused for that row, and the entity is untouched."""
    hub = running_hub
    header = ["รหัส อปท.", "รหัสโครงการ", "แผนงาน", "ชื่อโครงการ", "งบประมาณ 2568"]
    first_org, second_org = chiang_mai_orgs(2)

    def table(org: str, title: str, amount: str) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, [org, "P-001", "การศึกษา", title, amount]])
        return buffer.getvalue().encode()

    status, first = await hub.post(table(first_org, "อาหารกลางวัน", "100,000"), "text/csv")
    assert status == 202 and first["accepted"] == 1
    status, second = await hub.post(table(second_org, "hijacked", "1"), "text/csv")
    assert status == 202, second
    # The same project code in another organisation is another project, not a change of this one.
    assert second["rejected"] == [] and second["entities"][0]["id"] != first["entities"][0]["id"]
    entity = await hub.get_json(f"{hub.url}/api/v1/entities/{first['entities'][0]['id']}")
    assert entity["org_code"] == first_org and entity["version"] == 1
