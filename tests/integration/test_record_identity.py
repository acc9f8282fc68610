"""Records of two systems that are one record, against the real store (SQLite and PostgreSQL): the same
project from e-Plan and SOLA becomes one entity by the shipped match keys; each system's authoritative
fields survive the other's updates; a refused value is kept as a conflict; a guess is never made."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canonical_model.envelope import content_hash
from core.paths import SHIPPED_IDENTITY_FILE
from core.record_identity import IdentityRules
from core.store import InboundMessage, IncomingEntity, Store

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
ORG = "6260105"
_rows = itertools.count(1)


@pytest.fixture
def identity_store(store: Store) -> Store:
    store.inbox.identity = IdentityRules.from_file(SHIPPED_IDENTITY_FILE)
    return store


def project(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entity_type": "plan_project", "org_code": ORG, "plan_id": None, "project_code": None,
        "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก หมู่ที่ 3", "objective": None, "target": None, "kpi": None,
        "expected_result": None, "responsible_unit": None, "budget_by_year": [], "funding_source": None,
        "location": None, "links": {}, "revision": None, "egp_project_number": None,
    }  # fmt: skip
    body.update(fields)
    return body


def put(store: Store, system: str, external_id: str, body: dict[str, Any], minutes: int = 0) -> tuple[str, int, bool]:
    """Store one record as `system` sent it: (entity id, version, changed)."""
    incoming = IncomingEntity(next(_rows), "plan_project", external_id, ORG, None, body, content_hash(body))
    at = T0 + timedelta(minutes=minutes)
    message = InboundMessage(system=system, payload=b"{}", media_type="application/json", received_at=at)
    [out] = store.inbox.ingest(message, [incoming], [], lambda s, e: [], now=at).entities
    return out.entity_id, out.version, out.changed


def current(store: Store, entity_id: str) -> dict[str, Any]:
    view = store.entities.get_entity(entity_id)
    assert view is not None
    return view.payload


def test_the_same_project_from_eplan_and_sola_is_one_entity(identity_store: Store) -> None:
    store = identity_store
    planned = [{"fiscal_year": 2570, "amount": "2450000.00"}]
    eplan_id, _, _ = put(store, "eplan", f"{ORG}:P70-003", project(project_code="P70-003", budget_by_year=planned))
    sola_id, version, changed = put(
        store, "sola", "SOLA-881",
        project(project_code="P70-003", responsible_unit="กองช่าง", funding_source="เงินอุดหนุนเฉพาะกิจ",
                budget_by_year=[{"fiscal_year": 2570, "amount": "2500000.00"}]),
        minutes=1,
    )  # fmt: skip
    assert (sola_id, version, changed) == (eplan_id, 2, True)
    view = store.entities.get_entity(eplan_id)
    assert view is not None
    assert {x["system"]: x["external_id"] for x in view.xrefs} == {"eplan": f"{ORG}:P70-003", "sola": "SOLA-881"}
    body = view.payload
    # SOLA's own fields are taken; e-Plan's planned money is e-Plan's, so SOLA's figure is refused and kept.
    assert (body["responsible_unit"], body["funding_source"]) == ("กองช่าง", "เงินอุดหนุนเฉพาะกิจ")
    assert body["budget_by_year"] == planned
    [conflict] = store.entities.conflicts(eplan_id)
    assert (conflict.field, conflict.system, conflict.kept_by) == ("budget_by_year", "sola", "eplan")
    assert conflict.offered == [{"fiscal_year": 2570, "amount": "2500000.00"}] and conflict.kept == planned

    # e-Plan's next edition changes the money and sends no responsible unit: SOLA's stays, the money moves.
    revised = [{"fiscal_year": 2570, "amount": "2600000.00"}]
    _, version, _ = put(store, "eplan", f"{ORG}:P70-003", project(project_code="P70-003", budget_by_year=revised), minutes=2)
    assert version == 3
    body = current(store, eplan_id)
    assert body["budget_by_year"] == revised and body["responsible_unit"] == "กองช่าง"
    assert len(store.entities.conflicts(eplan_id)) == 1  # an authority's own change is no conflict

    # SOLA repeating what it sent changes nothing more: the merged body is what is already stored.
    _, version, changed = put(
        store, "sola", "SOLA-881",
        project(project_code="P70-003", responsible_unit="กองช่าง", funding_source="เงินอุดหนุนเฉพาะกิจ",
                budget_by_year=revised),
        minutes=3,
    )  # fmt: skip
    assert (version, changed) == (3, False)
    # ... and the same refused figure sent again is still the one conflict.
    put(store, "sola", "SOLA-881",
        project(project_code="P70-003", responsible_unit="กองช่าง", funding_source="เงินอุดหนุนเฉพาะกิจ",
                budget_by_year=[{"fiscal_year": 2570, "amount": "2500000.00"}]), minutes=4)  # fmt: skip
    put(store, "sola", "SOLA-881",
        project(project_code="P70-003", responsible_unit="กองช่าง", funding_source="เงินอุดหนุนเฉพาะกิจ",
                budget_by_year=[{"fiscal_year": 2570, "amount": "2500000.00"}]), minutes=5)  # fmt: skip
    assert len(store.entities.conflicts(eplan_id)) == 2  # the 2.5 M offer against e-Plan's new 2.6 M, once


def test_a_project_without_a_code_is_found_by_its_organisation_and_exact_title(identity_store: Store) -> None:
    store = identity_store
    eplan_id, _, _ = put(store, "eplan", "h:abc", project(title="ขุดลอกคลองสาธารณะ บ้านใหญ่"))
    sola_id, _, _ = put(store, "sola", "SOLA-9", project(title="ขุดลอกคลองสาธารณะ บ้านใหญ่", location={"subdistrict_code": "260105"}))
    assert sola_id == eplan_id
    other, _, _ = put(store, "sola", "SOLA-10", project(title="ขุดลอกคลองสาธารณะ บ้านเหนือ"))
    assert other != eplan_id


def test_two_candidates_join_nothing_and_one_system_never_merges_its_own_records(identity_store: Store) -> None:
    store = identity_store
    a, _, _ = put(store, "eplan", "h:a", project(project_code="DUP-1", title="โครงการ ก"))
    b, _, _ = put(store, "eplan", "h:b", project(project_code="DUP-1", title="โครงการ ข"))
    assert a != b  # e-Plan's two records stay two, though they share a code
    guessed, _, _ = put(store, "sola", "SOLA-1", project(project_code="DUP-1", title="โครงการ ค"))
    assert guessed not in (a, b)
    assert store.entities.conflicts(a) == [] and store.entities.conflicts(b) == []


def test_without_identity_rules_every_system_keeps_its_own_entity(store: Store) -> None:
    eplan_id, _, _ = put(store, "eplan", "E-1", project(project_code="X-1"))
    sola_id, _, _ = put(store, "sola", "S-1", project(project_code="X-1"))
    assert eplan_id != sola_id
