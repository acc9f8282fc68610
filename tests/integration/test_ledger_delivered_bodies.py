"""The area ledger at a plan project's first delivery to e-LAAS, projected from the body the worker claimed
(Acknowledged.body) rather than read back: the rows are those a rebuild from the entities writes, on SQLite
and PostgreSQL, including for a project whose current version is newer than the one delivered (its body is
read, not the delivered one used) and for a project something links to (its whole chain is read)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select

from core.store import Acknowledged, Destination, InboundMessage, IncomingEntity, Store
from core.store import ledger as store_ledger
from core.store.schema import ledger_categories, ledger_projects
from tests.integration.test_area_ledger import ledger_store  # noqa: F401  (the fixture: areas and งบ as there)
from tests.integration.test_links import ORG, put


def push(store: Store, external_id: str, title: str, amounts: dict[int, str]) -> str:
    """One e-Plan plan project (a new version when `external_id` is known), routed to e-LAAS."""
    years = [{"fiscal_year": year, "amount": amount} for year, amount in amounts.items()]
    body = {"org_code": ORG, "title": title, "budget_by_year": years, "links": {"local_programme": "แผนงานเคหะและชุมชน"}}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    record = IncomingEntity(1, "plan_project", external_id, ORG, None, body, digest)
    message = InboundMessage(system="eplan", payload=b"{}", media_type="application/json")
    outcome = store.inbox.ingest(message, [record], [], lambda s, e: [Destination("elaas", "plans-to-elaas", 8)])
    return outcome.entities[0].entity_id


def ledger_rows(store: Store) -> tuple[list[Any], list[Any]]:
    """Every row of both ledger tables, but the time of writing."""
    projects = [c for c in ledger_projects.c if c.name != "updated_at"]

    def read(conn: Any) -> tuple[list[Any], list[Any]]:
        return (
            [tuple(r) for r in conn.execute(select(*projects).order_by(*ledger_projects.primary_key.columns)).all()],
            [tuple(r) for r in conn.execute(select(ledger_categories).order_by(*ledger_categories.primary_key.columns)).all()],
        )

    return store.ledger.db.read(read)


def test_a_first_delivery_projected_from_the_claimed_body_writes_what_a_rebuild_writes(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ledger_store
    lone = [push(store, f"P-{n}", f"ถนนสาย {n}", {2570: f"{n}00000.00", 2571: "250000.50"}) for n in range(1, 4)]
    linked = push(store, "P-linked", "ประปาหมู่บ้าน", {2570: "800000.00"})
    put(store, "elaas", "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ค่าก่อสร้าง",
                                        "amount": "750000.00", "project_id": linked})  # fmt: skip
    claimed = store.outbox.claim_due("w", limit=100, destination="elaas")
    assert {item.entity_id for item in claimed} == {*lone, linked}
    # A new version of one project arrives while version 1 is on its way: the ledger must count version 2.
    changed = push(store, "P-2", "ถนนสาย 2 (แก้ไข)", {2570: "900000.00"})
    assert changed == lone[1]
    read_back: list[str] = []
    lone_plans = store_ledger._lone_plans

    def reading(conn: Any, ids: Any, known: Any = None) -> Any:
        read_back.extend(ids)
        return lone_plans(conn, ids, known)

    monkeypatch.setattr(store_ledger, "_lone_plans", reading)
    store.outbox.complete([Acknowledged(item.outbox_id, f"E-{item.entity_id}", None, attempt=item.attempts,
                                        body=item.payload) for item in claimed])  # fmt: skip

    # Only the project whose delivered version is no longer its current one was read back.
    assert read_back == [changed]
    delivered = ledger_rows(store)
    titles = {row.entity_id: row.title for row in store.ledger.organisation_projects(ORG, limit=100)}
    assert titles[changed] == "ถนนสาย 2 (แก้ไข)"
    stages = {(row.entity_id, row.fiscal_year): row.stage for row in store.ledger.organisation_projects(ORG, limit=100)}
    assert {stages[(p, 2570)] for p in [*lone, linked]} == {"budgeted"}
    assert (changed, 2571) not in stages  # version 2 has no 2571: its row went with version 1

    monkeypatch.setattr(store_ledger, "_lone_plans", lone_plans)
    assert store.ledger.rebuild(page_size=2) == 4
    assert ledger_rows(store) == delivered
    assert len(delivered[0]) == 6 and delivered[1]  # P-1, P-3: two years each; P-2 (v2), the linked one: one


def test_a_delivery_without_the_body_reads_the_project_back_and_writes_the_same_rows(ledger_store: Store) -> None:
    store = ledger_store
    first = push(store, "P-a", "ถนน ก", {2570: "100000.00"})
    second = push(store, "P-b", "ถนน ข", {2570: "200000.00"})
    claimed = store.outbox.claim_due("w", limit=10, destination="elaas")
    by_body = {item.entity_id: item for item in claimed}
    store.outbox.complete([Acknowledged(by_body[first].outbox_id, "E-a", None, body=by_body[first].payload),
                           Acknowledged(by_body[second].outbox_id, "E-b", None)])  # fmt: skip
    delivered = ledger_rows(store)
    assert {(row[0], row[1]) for row in delivered[0]} == {(first, 2570), (second, 2570)}
    assert store.ledger.rebuild() == 2
    assert ledger_rows(store) == delivered
