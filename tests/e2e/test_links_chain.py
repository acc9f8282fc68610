"""Systems that recognise each other's records, over real HTTP on SQLite and PostgreSQL: a plan project
from e-Plan, its procurement and contract from e-GP (linked by the rules), a GF-MIS payment that no rule
can place (listed unlinked with its reason and counted by the metric) linked by an operator, and the
chain of the project showing every system's id; links made and removed by hand are audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningHub
from tests.observability.metrics_text import parse, value

pytestmark = pytest.mark.e2e

EGP_SAMPLE = Path(__file__).parents[2] / "plugins" / "egp" / "samples" / "egp_contracts_utf8.csv"
GFMIS_SAMPLE = Path(__file__).parents[2] / "plugins" / "gfmis" / "samples" / "disbursements.json"
EGP_NUMBER = "68069160377"


def p02_with_code() -> bytes:
    """One ผ.02 row of เทศบาลตำบลคลองท่อมใต้ whose project code is the e-GP project number."""
    header = "รหัส อปท.,รหัสโครงการ,แผนงาน,ชื่อโครงการ,งบประมาณ ๒๕๖๘\n"
    row = f'5810401,{EGP_NUMBER},อุตสาหกรรมและการโยธา,ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านควนโอ หมู่ที่ 2,"2,450,000.00"\n'
    return (header + row).encode("utf-8")


def egp_rows() -> bytes:
    """The e-GP sample's first two rows: the road (with its contract) and another organisation's purchase."""
    lines = EGP_SAMPLE.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    return "".join(lines[:3]).encode("utf-8")


async def push(hub: RunningHub, system: str, body: bytes, content_type: str) -> dict[str, Any]:
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, f"e2e-{system}", system)
    status, answer = await _post(hub, system, body, content_type, key)
    assert status == 202, answer
    assert answer["rejected"] == [], answer["rejected"]
    return answer


async def _post(hub: RunningHub, system: str, body: bytes, content_type: str, key: str) -> tuple[int, Any]:
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {key}"}
    async with hub.http.post(f"{hub.url}/api/v1/inbound/{system}", data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def call(hub: RunningHub, method: str, path: str, body: Any = None, token: str | None = None, **params: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token or hub.admin_token}"}
    async with hub.http.request(method, f"{hub.url}{path}", json=body, params=params, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def ids_of(answer: dict[str, Any], entity_type: str) -> list[str]:
    return [e["id"] for e in answer["entities"] if e["entity_type"] == entity_type]


def xref_systems(member: dict[str, Any]) -> dict[str, str]:
    return {x["system"]: x["external_id"] for x in member["xrefs"]}


async def test_plan_procurement_contract_and_payment_form_one_chain(running_hub: RunningHub) -> None:
    hub = running_hub
    status, plan_answer = await _post(hub, "eplan", p02_with_code(), "text/csv; charset=utf-8", hub.eplan_key)
    assert status == 202 and plan_answer["rejected"] == []
    [plan] = ids_of(plan_answer, "plan_project")

    egp = await push(hub, "egp", egp_rows(), "text/csv; charset=utf-8")
    road, other = ids_of(egp, "procurement")
    contract, other_contract = ids_of(egp, "contract")

    gfmis_line = json.loads(GFMIS_SAMPLE.read_text(encoding="utf-8"))[:1]
    gfmis = await push(hub, "gfmis", json.dumps(gfmis_line).encode(), "application/json")
    [payment] = ids_of(gfmis, "disbursement")

    # Nothing links the payment (its budget code has no budget line here) or the other organisation's
    # purchase (no plan project of theirs is coded with its number): both are listed, with the reason.
    status, waiting = await call(hub, "GET", "/api/v1/links/unlinked")
    assert status == 200
    reasons = {u["entity_id"]: u for u in waiting}
    assert set(reasons) == {other, payment}
    assert reasons[other]["reason"] == "link.no_match" and "procurement.egp_project_number" in reasons[other]["detail"]
    assert reasons[other]["system"] == "egp" and reasons[other]["org_code"] == "6810403"
    assert reasons[payment]["reason"] == "link.no_match" and "disbursement.budget_code" in reasons[payment]["detail"]
    status, only_gfmis = await call(hub, "GET", "/api/v1/links/unlinked", system="gfmis", entity_type="disbursement")
    assert [u["entity_id"] for u in only_gfmis] == [payment]
    async with hub.http.get(f"{hub.url}/metrics") as response:
        samples = parse(await response.text())
    assert value(samples, "prasan_unlinked_records", system="egp", entity_type="procurement") == 1
    assert value(samples, "prasan_unlinked_records", system="gfmis", entity_type="disbursement") == 1

    # A viewer may read but not link; an operator links the payment to the contract it pays.
    _, viewer = await asyncio.to_thread(hub.hub.store.access.add_admin_token, "e2e-viewer", "viewer", actor="test")
    status, _ = await call(hub, "POST", "/api/v1/links", {"from": payment, "to": contract}, token=viewer)
    assert status == 403
    status, made = await call(hub, "POST", "/api/v1/links", {"from": payment, "to": contract, "note": "ฎีกาเบิกจ่ายงวด 1"})
    assert status == 201, made
    assert (made["made_by"], made["rule"], made["note"]) == ("operator:token:e2e-admin", "operator", "ฎีกาเบิกจ่ายงวด 1")
    status, _ = await call(hub, "POST", "/api/v1/links", {"from": payment, "to": "0" * 32})
    assert status == 400

    await hub.wait_until(hub.settled, "the plan project delivered to e-LAAS")
    status, chain = await call(hub, "GET", f"/api/v1/entities/{plan}/chain")
    assert status == 200, chain
    assert chain["root"]["id"] == plan
    assert set(xref_systems(chain["root"])) == {"eplan", "elaas"}  # e-LAAS's id, given on delivery
    assert xref_systems(chain["root"])["eplan"] == f"5810401:{EGP_NUMBER}"
    assert {"name": "budget_by_year", "fiscal_year": 2568, "amount": "2450000.00"} in chain["root"]["amounts"]
    assert [p["id"] for p in chain["procurements"]] == [road]
    [procurement] = chain["procurements"]
    assert xref_systems(procurement) == {"egp": EGP_NUMBER}
    assert [(link["to_id"], link["rule"], link["evidence"]) for link in procurement["links"]] == [
        (plan, "procurement.egp_project_number", {"org_code": "5810401", "egp_project_number": EGP_NUMBER})
    ]
    assert {"name": "budget_amount", "fiscal_year": None, "amount": "2450000.00"} in procurement["amounts"]
    [on_contract] = chain["contracts"]
    assert on_contract["id"] == contract and xref_systems(on_contract)["egp"].startswith(f"{EGP_NUMBER}/")
    assert on_contract["links"][0]["rule"] == "contract.egp_project_number"
    [paid] = chain["disbursements"]
    assert paid["id"] == payment and xref_systems(paid) == {"gfmis": "15008:2568:3100004127:1"}
    assert paid["amounts"] == [{"name": "amount", "fiscal_year": None, "amount": "1250000.00"}]
    # Deliveries ride along: e-Plan projects go to e-LAAS by the shipped route.
    assert [(d["destination"], d["state"]) for d in chain["root"]["deliveries"]] == [("elaas", "delivered")]
    assert other not in json.dumps(chain) and other_contract not in json.dumps(chain)

    # The operator takes the link back: audited, and the payment is unlinked again, saying why.
    status, removed = await call(hub, "DELETE", f"/api/v1/links/{payment}/{contract}")
    assert status == 200 and removed["made_by"] == "operator:token:e2e-admin"
    status, _ = await call(hub, "DELETE", f"/api/v1/links/{payment}/{contract}")
    assert status == 404
    status, audit = await call(hub, "GET", "/api/v1/audit", action="link.remove")
    assert [(a["target"], a["actor"]) for a in audit] == [(f"link:{payment}->{contract}", "token:e2e-admin")]
    status, audit = await call(hub, "GET", "/api/v1/audit", action="link.create")
    assert audit[0]["after"]["to"] == contract and audit[0]["detail"] == "ฎีกาเบิกจ่ายงวด 1"
    status, waiting = await call(hub, "GET", "/api/v1/links/unlinked", system="gfmis")
    assert [(u["entity_id"], u["reason"]) for u in waiting] == [(payment, "link.removed_by_operator")]
    status, chain = await call(hub, "GET", f"/api/v1/entities/{plan}/chain")
    assert chain["disbursements"] == []
    status, missing = await call(hub, "GET", f"/api/v1/entities/{'f' * 32}/chain")
    assert status == 404
