"""e-budgeting as the authority on the national programme tree, through a running hub.

(a) all 7,480 rows of the real FY 2559 Budget Bureau sample posted to POST /api/v1/inbound/ebudget as
JSON arrays of 500: every row accepted or rejected with a reason, never a server error;
(b) budget rows of FY 2561, built here from the sample with that year's plan structure (แผนงานบูรณาการ,
แผนงานยุทธศาสตร์, แผนงานพื้นฐาน: new plan names and numbers), a new ministry and new agencies: accepted at the
same rate, the nodes they bring added to FY 2561 only, listed for review, reviewed and audited; GF-MIS
naming an agency e-budgeting added is accepted, one naming an agency nobody added is not.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import RunningHub
from tests.shipped_data import bb_sample_rows

BATCH = 500
SAMPLE_ROWS = 7480

# FY 2561 on, the Act is organised around strategic and integrated plans; each FY 2559 plan number is
# given the one plan of the new structure its work falls under, with a number the FY 2559 list never had.
FY2561_PLANS: dict[str, tuple[str, str]] = {
    "06": ("51", "แผนงานยุทธศาสตร์พัฒนาระบบบริการสาธารณสุข"),
    "12": ("52", "แผนงานบูรณาการพัฒนาการท่องเที่ยว"),
    "17": ("53", "แผนงานบูรณาการป้องกัน ปราบปราม และบำบัดรักษาผู้ติดยาเสพติด"),
    "20": ("54", "แผนงานยุทธศาสตร์จัดการที่ดินและทรัพยากรธรรมชาติ"),
    "22": ("55", "แผนงานบูรณาการบริหารจัดการทรัพยากรน้ำ"),
    "25": ("56", "แผนงานบูรณาการพัฒนาเศรษฐกิจฐานราก"),
    "33": ("57", "แผนงานบูรณาการต่อต้านการทุจริตและประพฤติมิชอบ"),
    "35": ("58", "แผนงานบูรณาการสร้างความปรองดองสมานฉันท์"),
    "40": ("59", "แผนงานพื้นฐานด้านความมั่นคง"),
    "42": ("61", "แผนงานพื้นฐานด้านการรักษาความสงบเรียบร้อย"),
    "60": ("62", "แผนงานบูรณาการวิจัยและนวัตกรรม"),
    "74": ("63", "แผนงานยุทธศาสตร์เสริมสร้างสวัสดิการสังคมและยกระดับคุณภาพชีวิต"),
    "82": ("64", "แผนงานพื้นฐานด้านการปรับสมดุลและพัฒนาระบบการบริหารจัดการภาครัฐ"),
    "83": ("65", "แผนงานยุทธศาสตร์ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น"),
    "85": ("66", "แผนงานบูรณาการขับเคลื่อนการแก้ไขปัญหาจังหวัดชายแดนภาคใต้"),
    "86": ("67", "แผนงานบูรณาการจัดการภัยพิบัติ"),
    "89": ("68", "แผนงานยุทธศาสตร์สนับสนุนการจัดการศึกษาขั้นพื้นฐาน"),
    "94": ("69", "แผนงานบูรณาการพัฒนาเศรษฐกิจดิจิทัล"),
    "95": ("71", "แผนงานบูรณาการพัฒนาพื้นที่ระดับภาค"),
}
# A ministry and agencies the shipped list has never seen: the FY 2559 lines of two agencies, moved.
NEW_AGENCIES = {
    "15006": ("15000", "กระทรวงมหาดไทย", "15012", "สำนักงานพัฒนาพื้นที่ชายแดน"),
    "15011": ("13000", "กระทรวงการท่องเที่ยวและกีฬา", "13002", "กรมการท่องเที่ยว"),
}
FY2561_ROWS = 1500


def fy2561_rows() -> list[dict[str, Any]]:
    """FY 2561 lines: every line of the moved agencies, then others of the sample, up to FY2561_ROWS."""
    rows = bb_sample_rows()
    moved = [r for r in rows if r["agc_code"] in NEW_AGENCIES]
    rest = [r for r in rows if r["agc_code"] not in NEW_AGENCIES]
    chosen = moved + rest[:: max(1, len(rest) // (FY2561_ROWS - len(moved)))][: FY2561_ROWS - len(moved)]
    out = []
    for row in chosen:
        row = dict(row)
        agency, plan_number, rest_of_code = row["bb_code"][:5], row["bb_code"][5:7], row["bb_code"][7:]
        number, name = FY2561_PLANS[plan_number]
        if agency in NEW_AGENCIES:
            row["min_code"], row["min"], agency, row["agc"] = NEW_AGENCIES[agency]
            row["agc_code"] = agency
        row.update(bb_year="2561", bb_code=f"{agency}{number}{rest_of_code}", plan_name=name)
        out.append(row)
    return out


async def _post_all(running_hub: RunningHub, key: str, rows: list[dict[str, Any]]) -> tuple[int, Counter[str]]:
    accepted = 0
    rules: Counter[str] = Counter()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        body = json.dumps(batch, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {key}"}
        async with running_hub.http.post(f"{running_hub.url}/api/v1/inbound/ebudget", data=body, headers=headers) as r:
            answer = await r.json(content_type=None)
            assert r.status == 202, (r.status, answer)
        assert answer["faults"] == []
        for rejection in answer["rejected"]:
            assert rejection["rule"] and rejection["reason"] and rejection["field"], rejection
        # Every row answered: accepted (one line each) or rejected (one or more reasons).
        rejected_rows = {r["row"] for r in answer["rejected"]}
        accepted_rows = {e["row"] for e in answer["entities"]}
        assert accepted_rows.isdisjoint(rejected_rows)
        assert accepted_rows | rejected_rows == set(range(1, len(batch) + 1))
        accepted += len(accepted_rows)
        rules.update(r["rule"] for r in answer["rejected"])
    return accepted, rules


async def _ebudget_client(running_hub: RunningHub) -> str:
    _, key = await asyncio.to_thread(running_hub.hub.store.access.add_client, "e2e-ebudget", "ebudget")
    return key


async def _admin(running_hub: RunningHub, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token or running_hub.admin_token}"}
    async with running_hub.http.request(method, f"{running_hub.url}{path}", json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_every_row_of_the_fy2559_sample_through_the_inbound_endpoint(running_hub: RunningHub) -> None:
    key = await _ebudget_client(running_hub)
    rows = bb_sample_rows()
    assert len(rows) == SAMPLE_ROWS
    accepted, rules = await _post_all(running_hub, key, rows)
    print(f"\nFY 2559 sample: accepted {accepted} of {SAMPLE_ROWS}, rejected by rule {dict(rules)}")
    assert accepted >= 0.95 * SAMPLE_ROWS
    # The shipped list was derived from this very sample: it brings nothing new.
    status, additions = await _admin(running_hub, "GET", "/api/v1/classification/additions?fiscal_year=2559")
    assert status == 200 and additions == []


async def test_a_later_year_with_new_plans_and_agencies_is_added_for_review(running_hub: RunningHub) -> None:
    key = await _ebudget_client(running_hub)
    rows = fy2561_rows()
    accepted, rules = await _post_all(running_hub, key, rows)
    print(f"\nFY 2561 lines: accepted {accepted} of {len(rows)}, rejected by rule {dict(rules)}")
    assert accepted >= 0.95 * len(rows)
    assert "org.unknown_agency" not in rules

    status, added = await _admin(running_hub, "GET", "/api/v1/classification/additions?fiscal_year=2561&reviewed=false&limit=1000")
    assert status == 200
    by_code = {a["code"]: a for a in added}
    assert by_code["13000"]["level"] == "ministry" and by_code["13000"]["name_th"] == "กระทรวงการท่องเที่ยวและกีฬา"
    assert by_code["13002"] | {} and by_code["13002"]["parent"] == "13000"
    assert by_code["15012"]["level"] == "budgetary_unit" and by_code["15012"]["parent"] == "15000"
    expected_plans = {f"{r['agc_code']}-{r['bb_code'][5:7]}" for r in rows}
    assert {c for c, a in by_code.items() if a["level"] == "budget_plan"} == expected_plans
    assert {a["parent"] for a in added if a["level"] == "budget_plan"} == {r["agc_code"] for r in rows}
    # Known nodes are not added again: the ministry of Interior and its shipped agencies.
    assert "15000" not in by_code and "15008" not in by_code
    plan = by_code["15008-63"]
    assert plan["name_th"] == FY2561_PLANS["74"][1]
    assert plan["source"]["system"] == "ebudget" and plan["source"]["message_id"]
    assert plan["source"]["native"]["plan_name"] == FY2561_PLANS["74"][1]
    assert plan["source"]["native"]["bb_code"].startswith("1500863")
    assert "compare" not in plan["source"]["native"]  # the nested per-province list is not kept
    assert not plan["reviewed"]

    # Audited as done by e-budgeting, once per node.
    status, audit = await _admin(running_hub, "GET", "/api/v1/audit?actor=system:ebudget&action=classification.add&limit=1000")
    assert status == 200
    assert sorted(e["target"] for e in audit) == sorted(f"classification:{a['id']}" for a in added)

    # The classification of FY 2561 has them; FY 2559 and FY 2562 do not.
    classifications = running_hub.hub.admin.classifications
    assert classifications.in_fiscal_year("national-classification", 2561).get("15008-63") is not None
    assert classifications.in_fiscal_year("national-classification", 2559).get("15008-63") is None
    assert classifications.in_fiscal_year("national-classification", 2562).get("15008-63") is None

    # Posting the same lines again adds nothing more.
    again, _ = await _post_all(running_hub, key, rows[:BATCH])
    assert again >= 0.95 * BATCH
    _, audit_after = await _admin(running_hub, "GET", "/api/v1/audit?actor=system:ebudget&action=classification.add&limit=1000")
    assert len(audit_after) == len(audit)

    # An operator reviews an addition: once, audited; it then lists as reviewed.
    _, operator = await asyncio.to_thread(running_hub.hub.store.access.add_admin_token, "e2e-operator", "operator", actor="test")
    addition_id = by_code["15012"]["id"]
    status, reviewed = await _admin(
        running_hub, "POST", f"/api/v1/classification/additions/{addition_id}/review", {"note": "ตรวจแล้ว"}, operator
    )
    assert status == 200 and reviewed["reviewed"] and reviewed["reviewed_by"] == "token:e2e-operator"
    assert reviewed["review_note"] == "ตรวจแล้ว"
    status, _ = await _admin(running_hub, "POST", f"/api/v1/classification/additions/{addition_id}/review", {}, operator)
    assert status == 409
    status, _ = await _admin(running_hub, "POST", "/api/v1/classification/additions/2561:nope:1/review", {}, operator)
    assert status == 404
    _, listed = await _admin(running_hub, "GET", "/api/v1/classification/additions?fiscal_year=2561&reviewed=true")
    assert [a["id"] for a in listed] == [addition_id]
    _, audit = await _admin(running_hub, "GET", "/api/v1/audit?action=classification.review")
    assert [e["target"] for e in audit] == [f"classification:{addition_id}"]
    # A viewer may list but not review.
    _, viewer = await asyncio.to_thread(running_hub.hub.store.access.add_admin_token, "e2e-viewer", "viewer", actor="test")
    status, _ = await _admin(running_hub, "GET", "/api/v1/classification/additions", token=viewer)
    assert status == 200
    status, _ = await _admin(running_hub, "POST", f"/api/v1/classification/additions/{by_code['13002']['id']}/review", {}, viewer)
    assert status == 403


async def test_only_ebudget_adds_agencies_and_gfmis_may_then_name_them(running_hub: RunningHub) -> None:
    _, gfmis_key = await asyncio.to_thread(running_hub.hub.store.access.add_client, "e2e-gfmis", "gfmis")

    async def gfmis(agency: str) -> dict[str, Any]:
        line = {
            "BUKRS": agency, "FISTL": f"{agency}680041000000001", "GEBER": 6111410, "HKONT": "5104010107",
            "BELNR": "3100004127", "BUZEI": 1, "BUDAT": "2017-11-14", "WRBTR": "1250000.00",
        }  # fmt: skip
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {gfmis_key}"}
        body = json.dumps([line]).encode()
        async with running_hub.http.post(f"{running_hub.url}/api/v1/inbound/gfmis", data=body, headers=headers) as r:
            assert r.status == 202
            return await r.json(content_type=None)

    before = await gfmis("15012")
    assert [r["rule"] for r in before["rejected"]] == ["org.unknown_agency"]

    key = await _ebudget_client(running_hub)
    rows = [r for r in fy2561_rows() if r["agc_code"] == "15012"]
    accepted, _ = await _post_all(running_hub, key, rows)
    assert accepted == len(rows)

    after = await gfmis("15012")
    assert after["rejected"] == [] and after["accepted"] == 1
    # Still rejected: an agency no line of e-budgeting named. GF-MIS is not an authority on agencies.
    other = await gfmis("15013")
    assert [r["rule"] for r in other["rejected"]] == ["org.unknown_agency"]
    status, added = await _admin(running_hub, "GET", "/api/v1/classification/additions")
    assert "15013" not in {a["code"] for a in added}
    assert {a["source"]["system"] for a in added} == {"ebudget"}
