"""Central agencies' view over real HTTP, on SQLite and PostgreSQL, with the pilot's scenario loaded: an
analyst token reads every area's totals and the reconciliation flags and nothing of the hub's operation;
the figures are the public page's; a flagged record shows in the list, the metric and the timeline."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from prasan.cli.pilot import ORG, gfmis_payment
from tests.e2e.conftest import RunningHub
from tests.e2e.pilot_loader import load_pilot
from tests.e2e.test_links_chain import call, push
from tests.observability.metrics_text import parse, value

pytestmark = pytest.mark.e2e


async def test_an_analyst_reads_every_area_and_the_flags_and_nothing_else(running_hub: RunningHub) -> None:
    hub = running_hub
    plan = await load_pilot(hub)
    _, analyst = await asyncio.to_thread(hub.hub.store.access.add_admin_token, "nesdc", "analyst", actor="test")

    status, country = await call(hub, "GET", "/api/v1/areas", token=analyst, fiscal_year=2570)
    assert status == 200
    [nakhon_nayok] = [row for row in country if row["code"] == "26"]
    assert nakhon_nayok["name_th"] == "นครนายก" and nakhon_nayok["projects"] == 1
    assert nakhon_nayok["amounts"]["contracted"] == "2198000.00" and nakhon_nayok["stages"]["disbursing"] == 1
    # By งบ: each scheme's groups hold the province's budgeted and requested amounts to the satang, and say
    # why a group has no code (the pilot's plan is budgeted and requested by its deliveries, which name no งบ).
    for scheme in ("local_expense_category", "national_expense_category"):
        status, by_category = await call(hub, "GET", "/api/v1/areas", token=analyst, level="province", code="26",
                                         fiscal_year=2570, group_by=scheme)  # fmt: skip
        assert status == 200 and by_category
        for stage in ("budgeted", "requested"):
            assert sum(Decimal(r["amounts"][stage]) for r in by_category) == Decimal(nakhon_nayok["amounts"][stage]) > 0
        assert all((r["code"] is None) == (r["without_code"] is not None) for r in by_category)
        assert all(r["name_th"] for r in by_category if r["code"] is not None)
        # Paged: each full page links the next (RFC 8288), the last one links nothing.
        pages, url = [], f"{hub.url}/api/v1/areas?level=province&code=26&fiscal_year=2570&group_by={scheme}&limit=1"
        while url:
            async with hub.http.get(url, headers={"Authorization": f"Bearer {analyst}"}) as response:
                pages.append(await response.json())
                link = response.headers.get("Link")
            url = f"{hub.url}{link.split('>')[0][1:]}" if link else ""
            assert len(pages) <= len(by_category) + 1, "the next links never end"
        assert [row for page in pages for row in page] == by_category and pages[-1] == []
    status, by_org = await call(hub, "GET", "/api/v1/areas", token=analyst, level="province", code="26", group_by="organisation")
    assert [(r["code"], r["name_th"], r["fiscal_year"]) for r in by_org] == [(ORG, "บ้านใหญ่", 2570)]
    status, _ = await call(hub, "GET", "/api/v1/areas", token=analyst, level="province", code="99")
    assert status == 404
    status, _ = await call(hub, "GET", "/api/v1/areas", token=analyst, level="province")
    assert status == 400
    # Nothing of the hub's operation: messages, clients and entities need a viewer.
    for path in ("/api/v1/messages", "/api/v1/clients", f"/api/v1/entities/{plan}"):
        status, _ = await call(hub, "GET", path, token=analyst)
        assert status == 403, path

    status, flags = await call(hub, "GET", "/api/v1/reconciliation", token=analyst, level="province", code="26")
    assert status == 200 and flags == []

    # GF-MIS pays twice the contract: more paid than contracted is flagged, listed, counted and shown.
    overpaid = gfmis_payment()
    overpaid[0].update(BELNR="3100099999", WRBTR="1100000.00")
    await push(hub, "gfmis", json.dumps(overpaid).encode(), "application/json")
    status, flags = await call(hub, "GET", "/api/v1/reconciliation", token=analyst, level="province", code="26")
    assert [(f["rule"], f["entity_id"], f["amounts"]["disbursed"]) for f in flags] == [
        ("disbursed_above_contract", plan, "2199000.00")
    ]
    status, viewer_view = await call(hub, "GET", "/api/v1/reconciliation", rule="disbursed_above_contract")
    assert status == 200 and [f["entity_id"] for f in viewer_view] == [plan]
    async with hub.http.get(f"{hub.url}/metrics") as response:
        samples = parse(await response.text())
    assert value(samples, "prasan_reconciliation_flags", rule="disbursed_above_contract") == 1
    assert value(samples, "prasan_reconciliation_flags", rule="contract_above_budget") == 0
    async with hub.http.get(f"{hub.url}/api/v1/public/projects/{plan}") as response:
        story: dict[str, Any] = await response.json()
    [year] = story["years"]
    assert [f["rule"] for f in year["flags"]] == ["disbursed_above_contract"]
