"""`prasan pilot`: the 2021-22 pilot's scenario, played against a running `prasan demo`.

An อบต. in Nakhon Nayok (อบต.บ้านใหญ่, DLA code 6260105) enters a road project once, in e-Plan, funded
by a specific grant. The hub files it at e-LAAS (a budget line) and at e-budgeting (a grant request).
The Budget Bureau approves the request with the GF-MIS budget code it will be paid from; e-GP publishes
the procurement and its contract; e-Plan's follow-up records the e-GP number; GF-MIS pays the grant.
Each system's record finds the project by the codes it carries, and the project's chain shows them all.

The records are the scenario's own (made up, in each system's real shape); the steps talk HTTP only, to
the hub's inbound endpoints and, for the Bureau's decision, to the e-budgeting simulator.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

ORG = "6260105"  # องค์การบริหารส่วนตำบลบ้านใหญ่, อำเภอเมืองนครนายก
PROJECT_CODE = "70-03-001"
TITLE = "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านใหญ่-บ้านดง หมู่ที่ 4"
EGP_NUMBER = "70019123456"
BUDGET_CODE = "15008700041000000123"
# How long the scenario waits for the hub to file the project at both systems.
DELIVERY_WAIT_S = 60.0


def p02_row(*, egp_number: str = "") -> bytes:
    """The project as e-Plan exports it (Thai digits in the amount, as the ผ.02 prints them); the follow-up
    export carries the e-GP number too."""
    header = "รหัส อปท.,รหัสโครงการ,แผนงาน,ชื่อโครงการ,แหล่งงบประมาณ,งบประมาณ ๒๕๗๐,เลขที่โครงการ e-GP\n"
    row = f'{ORG},{PROJECT_CODE},อุตสาหกรรมและการโยธา,{TITLE},เงินอุดหนุนเฉพาะกิจ,"๒,๔๕๐,๐๐๐",{egp_number}\n'
    return (header + row).encode("utf-8")


def egp_project() -> dict[str, Any]:
    """e-GP's JSON for the road's e-bidding and its contract (the contract number in Thai digits)."""
    return {"result": [{
        "project_id": EGP_NUMBER, "project_name": "ประกวดราคาจ้างก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านใหญ่-บ้านดง",
        "project_type_name": "จ้างก่อสร้าง", "dept_code": ORG, "dept_name": "กรมส่งเสริมการปกครองท้องถิ่น",
        "dept_sub_name": "องค์การบริหารส่วนตำบลบ้านใหญ่", "purchase_method_name": "ประกวดราคาอิเล็กทรอนิกส์ (e-bidding)",
        "announce_date": "2570-01-12", "transaction_date": "2570-02-20", "project_money": 2450000,
        "price_build": 2431000.00, "sum_price_agree": 2198000, "budget_year": "2570",
        "project_status": "จัดทำสัญญา/บริหารสัญญา", "province": "นครนายก", "project_location": "",
        "contract": [{"winner": "ห้างหุ้นส่วนจำกัด นครนายกโยธา", "winner_tin": "0263556000111",
                      "contract_no": "อบต.บญ.๗/๒๕๗๐", "contract_date": "2570-02-20",
                      "contract_finish_date": "2570-06-19", "contract_price_agree": 2198000, "status": "อยู่ระหว่างดำเนินการ"}],
    }]}  # fmt: skip


def gfmis_payment() -> list[dict[str, Any]]:
    """DLA (15008) paying the grant's first instalment from the approved budget code (fund of FY 2570)."""
    return [{
        "BUKRS": "15008", "ZZPMT": "1500800008", "KOSTL": "1500800008", "FISTL": BUDGET_CODE, "GEBER": 7011410,
        "HKONT": "5104010107", "BELNR": "3100012345", "BUZEI": 1, "BUDAT": "2027-03-15", "WRBTR": "1099000.00",
        "search_term": "0994000456789",
    }]  # fmt: skip


class PilotError(Exception):
    pass


def _call(method: str, url: str, token: str | None = None, body: bytes | None = None, content_type: str | None = None) -> Any:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the demo's own URLs
            return json.loads(response.read().decode("utf-8"))
    except HTTPError as exc:
        raise PilotError(f"{method} {url} answered {exc.code}: {exc.read().decode('utf-8', 'replace')[:500]}") from None


def _push(demo: dict[str, Any], system: str, body: bytes, content_type: str) -> dict[str, Any]:
    answer = _call("POST", f"{demo['hub_url']}/api/v1/inbound/{system}", demo["clients"][system], body, content_type)
    if answer.get("rejected"):
        raise PilotError(f"{system} refused the scenario's record: {answer['rejected']}")
    return answer


def _ids(answer: dict[str, Any], entity_type: str) -> list[str]:
    return [e["id"] for e in answer["entities"] if e["entity_type"] == entity_type]


def run(demo: dict[str, Any], say: Any = print) -> dict[str, Any]:
    """Play the scenario against the demo described by `demo` (its demo.json); returns the project's chain."""
    hub, admin = demo["hub_url"], demo["admin_token"]
    csv = "text/csv; charset=utf-8"
    [plan] = _ids(_push(demo, "eplan", p02_row(), csv), "plan_project")
    say(f"1. e-Plan: the project entered once -> hub id {plan}")

    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        xrefs = {x["system"]: x["external_id"] for x in _call("GET", f"{hub}/api/v1/entities/{plan}", admin)["xrefs"]}
        if {"elaas", "ebudget"} <= set(xrefs):
            break
        if time.monotonic() > deadline:
            raise PilotError(f"the project was not filed at e-LAAS and e-budgeting within {DELIVERY_WAIT_S:.0f} s: {xrefs}")
        time.sleep(0.5)
    say(f"2. the hub filed it: e-LAAS budget line {xrefs['elaas']}, e-budgeting grant request {xrefs['ebudget']}")

    decision = json.dumps({"budget_code": BUDGET_CODE}).encode()
    approval = _call("POST", f"{demo['simulators']['ebudget']}/_sim/approve/{xrefs['ebudget']}", None, decision, "application/json")
    [grant] = _ids(_push(demo, "ebudget", json.dumps([approval], ensure_ascii=False).encode(), "application/json"), "budget_request")
    say(f"3. e-budgeting approved the request, to be paid from GF-MIS budget code {BUDGET_CODE} -> {grant}")

    egp = _push(demo, "egp", json.dumps(egp_project(), ensure_ascii=False).encode(), "application/json")
    say(f"4. e-GP published procurement {EGP_NUMBER} and its contract -> {_ids(egp, 'procurement') + _ids(egp, 'contract')}")
    _push(demo, "eplan", p02_row(egp_number=EGP_NUMBER), csv)
    say(f"5. e-Plan's follow-up recorded e-GP number {EGP_NUMBER}: the procurement is linked to the project")
    paid = _push(demo, "gfmis", json.dumps(gfmis_payment()).encode(), "application/json")
    say(f"6. GF-MIS paid the first instalment from {BUDGET_CODE} -> {_ids(paid, 'disbursement')}")

    chain: dict[str, Any] = _call("GET", f"{hub}/api/v1/entities/{plan}/chain", admin)
    say("")
    say("The project's chain (every system's id and amount):")
    for group in ("budget_requests", "procurements", "contracts", "disbursements"):
        for member in chain[group]:
            ids = ", ".join(f"{x['system']} {x['external_id']}" for x in member["xrefs"])
            amounts = ", ".join(f"{a['name']} {a['amount']}" for a in member["amounts"])
            say(f"  {group[:-1]}: {ids}; {amounts}")
    say("See it whole:")
    say(f"  curl -sS -H 'Authorization: Bearer {admin}' {hub}/api/v1/entities/{plan}/chain")
    return chain


def run_pilot(demo_file: Path) -> int:
    if not demo_file.is_file():
        print(f"{demo_file} not found: start `prasan demo` (or `make run`) first, then run this beside it")
        return 2
    try:
        run(json.loads(demo_file.read_text(encoding="utf-8")))
    except (PilotError, OSError) as exc:
        print(f"the pilot scenario stopped: {exc}")
        return 1
    return 0
