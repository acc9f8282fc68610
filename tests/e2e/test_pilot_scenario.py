"""The pilot's scenario end to end, over real HTTP on SQLite and PostgreSQL, every system a simulator:

an อบต. in Nakhon Nayok (อบต.บ้านใหญ่) enters a road project once, in e-Plan, funded by a specific grant;
the hub delivers it to e-LAAS as a budget line and to e-budgeting as a grant request; the Bureau approves
the request with the GF-MIS budget code it will be paid from; e-GP publishes the procurement and its
contract; e-Plan's follow-up records the e-GP number; GF-MIS pays the grant. Nobody types the project
again, and the project's chain shows every system's id, every delivery and every amount.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from prasan.cli.pilot import BUDGET_CODE, EGP_NUMBER, ORG, PROJECT_CODE, TITLE, egp_project, gfmis_payment, p02_row
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import documents_by_project
from tests.e2e.test_links_chain import _post, call, ids_of, push, xref_systems

pytestmark = pytest.mark.e2e

async def test_enter_once_and_every_system_recognises_the_project(running_hub: RunningHub) -> None:
    hub = running_hub
    ebudget_url = hub.hub.settings.systems["ebudget"]["base_url"]

    # 1. Entered once, in e-Plan (Thai digits in the amount, as the ผ.02 prints them).
    status, answer = await _post(hub, "eplan", p02_row(), "text/csv; charset=utf-8", hub.eplan_key)
    assert status == 202 and answer["rejected"] == [], answer
    [plan] = ids_of(answer, "plan_project")

    # 2. Delivered to e-LAAS as a budget line and to e-budgeting as a grant request, with no one retyping it.
    async def delivered() -> bool:
        view = await asyncio.to_thread(hub.hub.store.entities.get_entity, plan)
        return view is not None and {"elaas", "ebudget"} <= {x["system"] for x in view.xrefs}

    await hub.wait_until(delivered, "the project filed at e-LAAS and at e-budgeting")
    view = hub.hub.store.entities.get_entity(plan)
    assert view is not None
    request_no = xref_systems({"xrefs": view.xrefs})["ebudget"]
    filed = await hub.get_json(f"{ebudget_url}/bbl/api/v1/requests/{request_no}")
    assert (filed["lao_code"], filed["budget_year"], filed["request_amount"]) == (ORG, 2570, "2450000.00")
    assert (filed["grant_type"], filed["project_ref"]) == ("เงินอุดหนุนเฉพาะกิจ", plan)
    [line] = (await documents_by_project(hub))[TITLE]
    assert line["ProjectName"] == TITLE

    # 3. The Bureau approves; e-budgeting's answer reaches the hub and finds the project by the hub's id.
    async with hub.http.post(f"{ebudget_url}/_sim/approve/{request_no}", json={"budget_code": BUDGET_CODE}) as response:
        assert response.status == 200
        approval = await response.json()
    approved = await push(hub, "ebudget", json.dumps([approval], ensure_ascii=False).encode(), "application/json")
    [grant] = ids_of(approved, "budget_request")

    # 4. e-GP publishes the procurement and its contract before e-Plan knows the e-GP number: the contract
    # finds its procurement at once, the procurement waits, listed, for a plan project with that number.
    egp = await push(hub, "egp", json.dumps(egp_project(), ensure_ascii=False).encode(), "application/json")
    [procurement] = ids_of(egp, "procurement")
    [contract] = ids_of(egp, "contract")
    status, waiting = await call(hub, "GET", "/api/v1/links/unlinked", system="egp")
    assert [(u["entity_id"], u["reason"]) for u in waiting] == [(procurement, "link.no_match")]

    # 5. e-Plan's follow-up records the e-GP number: a new version of the same project, and the link.
    status, answer = await _post(hub, "eplan", p02_row(egp_number=EGP_NUMBER), "text/csv; charset=utf-8", hub.eplan_key)
    assert status == 202 and ids_of(answer, "plan_project") == [plan]
    status, waiting = await call(hub, "GET", "/api/v1/links/unlinked", system="egp")
    assert waiting == []

    # 6. GF-MIS pays the grant from the approved budget code.
    paid = await push(hub, "gfmis", json.dumps(gfmis_payment()).encode(), "application/json")
    [payment] = ids_of(paid, "disbursement")

    await hub.wait_until(hub.settled, "every delivery of both versions settled")
    status, chain = await call(hub, "GET", f"/api/v1/entities/{plan}/chain")
    assert status == 200, chain
    root = chain["root"]
    assert xref_systems(root) == {"eplan": f"{ORG}:{PROJECT_CODE}", "elaas": xref_systems(root)["elaas"], "ebudget": request_no}
    assert {"name": "budget_by_year", "fiscal_year": 2570, "amount": "2450000.00"} in root["amounts"]
    deliveries = sorted((d["destination"], d["version"], d["state"]) for d in root["deliveries"])
    assert deliveries == [("ebudget", 1, "delivered"), ("ebudget", 2, "delivered"), ("elaas", 1, "delivered"), ("elaas", 2, "delivered")]

    [request] = chain["budget_requests"]
    assert request["id"] == grant and xref_systems(request) == {"ebudget": request_no}
    assert [(link["to_id"], link["rule"]) for link in request["links"]] == [(plan, "budget_request.project_ref")]
    assert request["amounts"] == [
        {"name": "amount", "fiscal_year": None, "amount": "2450000.00"},
        {"name": "approved_amount", "fiscal_year": None, "amount": "2450000.00"},
    ]

    [bought] = chain["procurements"]
    assert bought["id"] == procurement and xref_systems(bought) == {"egp": EGP_NUMBER}
    assert [(link["to_id"], link["rule"], link["evidence"]) for link in bought["links"]] == [
        (plan, "procurement.plan_egp_number", {"org_code": ORG, "egp_project_number": EGP_NUMBER})
    ]
    [signed] = chain["contracts"]
    assert signed["id"] == contract and xref_systems(signed)["egp"].startswith(f"{EGP_NUMBER}/")
    assert {"name": "amount", "fiscal_year": None, "amount": "2198000.00"} in signed["amounts"]

    [paid_out] = chain["disbursements"]
    assert paid_out["id"] == payment and xref_systems(paid_out) == {"gfmis": "15008:2570:3100012345:1"}
    assert [(link["to_id"], link["rule"]) for link in paid_out["links"]] == [(grant, "disbursement.grant_budget_code")]
    assert paid_out["amounts"] == [{"name": "amount", "fiscal_year": None, "amount": "1099000.00"}]
