"""Payloads stored together (group commit, `InboxRepository.ingest_together`), against the real store on
SQLite and PostgreSQL: each is answered and kept as if it had been stored alone in turn, and one that fails
fails alone, the others stored."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from canonical_model.envelope import content_hash
from core.paths import SHIPPED_IDENTITY_FILE
from core.record_identity import IdentityRules
from core.store import IdempotencyConflict, InboundMessage, IncomingEntity, Store
from core.store.records import Destination, IngestOutcome
from core.store.repos.inbox import IngestRequest

ORG = "6260105"
_rows = itertools.count(1)


def route(system: str, entity: IncomingEntity) -> list[Destination]:
    return [Destination("elaas", "plans-to-elaas")]


@pytest.fixture
def identity_store(store: Store) -> Store:
    store.inbox.identity = IdentityRules.from_file(SHIPPED_IDENTITY_FILE)
    return store


def project(code: str, title: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entity_type": "plan_project", "org_code": ORG, "plan_id": None, "project_code": code,
        "title": title, "objective": None, "target": None, "kpi": None,
        "expected_result": None, "responsible_unit": None, "budget_by_year": [], "funding_source": None,
        "location": None, "links": {}, "revision": None, "egp_project_number": None,
    }  # fmt: skip
    body.update(fields)
    return body


def request(system: str, external_id: str, body: dict[str, Any], key: str | None = None) -> IngestRequest:
    incoming = IncomingEntity(next(_rows), "plan_project", external_id, ORG, None, body, content_hash(body))
    message = InboundMessage(
        system=system, payload=repr(body).encode(), media_type="application/json", client_name="c", idempotency_key=key
    )
    message.record_count = 1
    respond = (lambda outcome: {"accepted": len(outcome.entities)}) if key else None
    return IngestRequest(message, [incoming], [], route, respond=respond)


def test_payloads_stored_together_are_kept_and_answered_as_if_stored_alone_in_turn(identity_store: Store) -> None:
    store = identity_store
    planned = [{"fiscal_year": 2570, "amount": "2450000.00"}]
    [first] = store.inbox.ingest_together([request("eplan", f"{ORG}:P1", project("P1", "ถนน หมู่ 1", budget_by_year=planned))])
    assert isinstance(first, IngestOutcome)
    plan_id = first.entities[0].entity_id

    offered = [{"fiscal_year": 2570, "amount": "2500000.00"}]
    sola_p1 = request("sola", "SOLA-1", project("P1", "ถนน หมู่ 1", budget_by_year=offered, responsible_unit="กองช่าง"))
    sola_p2 = request("sola", "SOLA-2", project("P2", "ประปา หมู่ 2"))
    sola_p1_again = request("sola", "SOLA-1", project("P1", "ถนน หมู่ 1", budget_by_year=offered, responsible_unit="กองคลัง"))
    keyed = request("sola", "SOLA-3", project("P3", "ไฟฟ้า หมู่ 3"), key="k-3")
    answers = store.inbox.ingest_together([sola_p1, sola_p2, sola_p1_again, keyed])

    assert all(isinstance(a, IngestOutcome) for a in answers)
    outcomes: list[IngestOutcome] = answers  # type: ignore[assignment]
    assert [o.message_id for o in outcomes] == [r.message.message_id for r in (sola_p1, sola_p2, sola_p1_again, keyed)]
    # SOLA's record of P1 joins e-Plan's entity by its match key (version 2), the repeat with another unit
    # makes version 3 of the same entity; P2 and P3 are new entities.
    (p1,), (p2,), (p1_again,), (p3,) = (o.entities for o in outcomes)
    assert (p1.entity_id, p1.version, p1.changed) == (plan_id, 2, True)
    assert (p1_again.entity_id, p1_again.version, p1_again.changed) == (plan_id, 3, True)
    assert len({plan_id, p2.entity_id, p3.entity_id}) == 3 and p2.version == p3.version == 1
    assert all(e.destinations == ("elaas",) for e in (p1, p2, p1_again, p3))
    # The refused budget figure is recorded against the message that offered it.
    conflict_messages = {c.message_id for c in store.entities.conflicts(plan_id)}
    assert sola_p1.message.message_id in conflict_messages
    assert conflict_messages <= {sola_p1.message.message_id, sola_p1_again.message.message_id}
    # Each message is kept with its own counts, the keyed one with its answer for a repeat.
    for r in (sola_p1, sola_p2, sola_p1_again, keyed):
        kept = store.inbox.get_message(r.message.message_id)
        assert kept is not None
        assert (kept.outcome, kept.accepted_count, kept.rejected_count) == ("accepted", 1, 0)
    replay = store.inbox.find_message_by_idempotency_key("c", "k-3")
    assert replay is not None and replay.response == {"accepted": 1}
    view = store.entities.get_entity(plan_id)
    assert view is not None and view.payload["responsible_unit"] == "กองคลัง"


def test_a_payload_that_fails_fails_alone_and_the_others_are_stored(store: Store) -> None:
    [earlier] = store.inbox.ingest_together([request("eplan", f"{ORG}:A", project("A", "ก"), key="used")])
    assert isinstance(earlier, IngestOutcome)
    before = request("eplan", f"{ORG}:B", project("B", "ข"))
    reused = request("eplan", f"{ORG}:C", project("C", "ค"), key="used")
    twice = request("eplan", f"{ORG}:D", project("D", "ง"), key="twice")
    twice_again = request("eplan", f"{ORG}:E", project("E", "จ"), key="twice")
    after = request("eplan", f"{ORG}:F", project("F", "ฉ"))

    answers = store.inbox.ingest_together([before, reused, twice, twice_again, after])

    assert isinstance(answers[1], IdempotencyConflict) and answers[1].message_id == earlier.message_id
    assert isinstance(answers[3], IdempotencyConflict) and answers[3].message_id == twice.message.message_id
    for r, answer in ((before, answers[0]), (twice, answers[2]), (after, answers[4])):
        assert isinstance(answer, IngestOutcome) and answer.message_id == r.message.message_id
        assert store.inbox.get_message(r.message.message_id) is not None
    for refused in (reused, twice_again):
        assert store.inbox.get_message(refused.message.message_id) is None
