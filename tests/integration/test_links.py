"""Every link rule of core/linking.py against the real store (SQLite and PostgreSQL): it fires on one
candidate, does not fire on none (and the record is listed unlinked until its target arrives), and stays
unlinked on two; operator links and unlinks, the migration from 0004, and the gauge."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core import linking
from core.linking import LinkRule
from core.store import InboundMessage, IncomingEntity, Store
from tests.integration.test_store import downgrade

T0 = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)
ORG = "5810401"
YEAR = 2568
_ids = itertools.count(1)


def put(store: Store, system: str, entity_type: str, payload: dict[str, Any], external_id: str | None = None) -> str:
    """Store one record as `system` sent it; returns its canonical id."""
    body = {"org_code": ORG, **payload}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    ext = external_id or f"{entity_type}-{next(_ids)}"
    incoming = IncomingEntity(1, entity_type, ext, body["org_code"], body.get("fiscal_year"), body, digest)
    message = InboundMessage(system=system, payload=b"{}", media_type="application/json", received_at=T0)
    outcome = store.inbox.ingest(message, [incoming], [], lambda s, e: [], now=T0)
    return outcome.entities[0].entity_id


def _value(path: str, n: int) -> Any:
    return {"org_code": ORG, "fiscal_year": YEAR}.get(path, f"C{n}-{path[:4]}")


def target_payload(rule: LinkRule, values: tuple[Any, ...]) -> dict[str, Any]:
    """A record of rule.to_type that the rule's key finds with `values`."""
    key = linking.KEYS_BY_NAME[rule.target]
    payload: dict[str, Any] = {}
    for path, value in zip(key.fields, values, strict=True):
        if path.startswith("classification["):
            payload["classification"] = [{"scheme": "gfmis-budget", "level": "budget_code", "code": value}]
        else:
            payload[path] = value
    return payload


def source_record(rule: LinkRule, values: tuple[Any, ...]) -> tuple[str, dict[str, Any], str | None]:
    """(system, payload, external id) of a rule.from_type record carrying `values` in the rule's fields."""
    payload: dict[str, Any] = {}
    external_id = None
    system = "eplan"
    for path, value in zip(rule.source, values, strict=True):
        if path.startswith("@xref:egp"):
            system, external_id = "egp", f"{value}/K{next(_ids)}"
        else:
            payload[path] = value
    return system, payload, external_id


def links_from(store: Store, entity_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [(v.to_id, v.rule, v.evidence) for v in store.links.links_of(entity_id) if v.from_id == entity_id]


def unlinked(store: Store, entity_id: str) -> Any:
    return next((u for u in store.links.list_unlinked(limit=1000) if u.entity_id == entity_id), None)


@pytest.mark.parametrize("rule", linking.RULES, ids=lambda r: r.name)
def test_a_rule_fires_on_one_candidate_and_records_its_evidence(store: Store, rule: LinkRule) -> None:
    if rule.target == linking.ID:
        target = put(store, "eplan", rule.to_type, {"title": "เป้าหมาย"})
        system, payload, ext = source_record(rule, (target,))
        evidence = {rule.source[0]: target}
    else:
        values = tuple(_value(p, 1) for p in linking.KEYS_BY_NAME[rule.target].fields)
        target = put(store, "eplan", rule.to_type, target_payload(rule, values))
        system, payload, ext = source_record(rule, values)
        evidence = {path: str(v) for path, v in zip(rule.source, values, strict=True)}
    source = put(store, system, rule.from_type, payload, ext)
    assert links_from(store, source) == [(target, rule.name, evidence)]
    assert unlinked(store, source) is None
    [view] = [v for v in store.links.links_of(source)]
    assert view.made_by == f"rule:{rule.name}"


@pytest.mark.parametrize("rule", [r for r in linking.RULES if r.target != linking.ID], ids=lambda r: r.name)
def test_a_keyed_rule_without_a_candidate_waits_and_links_when_the_target_arrives(store: Store, rule: LinkRule) -> None:
    values = tuple(_value(p, 2) for p in linking.KEYS_BY_NAME[rule.target].fields)
    other = tuple(_value(p, 3) for p in linking.KEYS_BY_NAME[rule.target].fields)
    put(store, "eplan", rule.to_type, target_payload(rule, other))  # another code: not a match
    system, payload, ext = source_record(rule, values)
    source = put(store, system, rule.from_type, payload, ext)
    assert links_from(store, source) == []
    waiting = unlinked(store, source)
    assert waiting.reason == linking.NO_MATCH and rule.name in waiting.detail and waiting.system == system

    late = put(store, "sola", rule.to_type, target_payload(rule, values))  # the late target links it
    assert [(to, name) for to, name, _ in links_from(store, source)] == [(late, rule.name)]
    assert unlinked(store, source) is None


@pytest.mark.parametrize("rule", [r for r in linking.RULES if r.target == linking.ID], ids=lambda r: r.name)
def test_an_id_rule_does_not_fire_for_an_unknown_id_or_a_record_of_another_type(store: Store, rule: LinkRule) -> None:
    wrong_type = put(store, "eplan", "organization", {"name_th": "ไม่ใช่"})
    for cited in ("0" * 32, wrong_type):
        system, payload, ext = source_record(rule, (cited,))
        source = put(store, system, rule.from_type, payload, ext)
        assert links_from(store, source) == []
        assert unlinked(store, source).reason == linking.NO_MATCH


@pytest.mark.parametrize("rule", [r for r in linking.RULES if r.target != linking.ID], ids=lambda r: r.name)
def test_two_candidates_leave_the_record_unlinked_naming_both(store: Store, rule: LinkRule) -> None:
    values = tuple(_value(p, 4) for p in linking.KEYS_BY_NAME[rule.target].fields)
    first = put(store, "eplan", rule.to_type, target_payload(rule, values))
    second = put(store, "sola", rule.to_type, target_payload(rule, values))
    system, payload, ext = source_record(rule, values)
    source = put(store, system, rule.from_type, payload, ext)
    assert links_from(store, source) == []
    reason = unlinked(store, source)
    assert reason.reason == linking.AMBIGUOUS and first in reason.detail and second in reason.detail


def test_a_record_with_nothing_to_match_is_listed_and_counted(store: Store) -> None:
    source = put(store, "gfmis", "disbursement", {"document_number": "31000001", "amount": "10.00"})
    assert unlinked(store, source).reason == linking.NO_REFERENCE
    assert store.links.unlinked_counts() == {("gfmis", "disbursement"): 1}
    assert store.gauge_snapshot().unlinked == {("gfmis", "disbursement"): 1}
    assert [u.entity_id for u in store.links.list_unlinked(system="gfmis", entity_type="disbursement", org_code=ORG)] == [source]
    assert store.links.list_unlinked(system="egp") == []


def test_operator_link_and_unlink_are_audited_and_the_rules_do_not_undo_them(store: Store) -> None:
    plan = put(store, "eplan", "plan_project", {"project_code": "P-9", "title": "ถนน"})
    made = put(store, "egp", "procurement", {"project_id": "P-9", "egp_project_number": "68069160377"}, "68069160377")
    assert links_from(store, made)[0][:2] == (plan, "procurement.project_code")

    removed = store.links.unlink(made, plan, actor="token:ops", note="wrong project")
    assert removed is not None and removed.rule == "procurement.project_code"
    assert store.links.unlink(made, plan, actor="token:ops") is None  # nothing left to remove
    assert unlinked(store, made).reason == linking.REMOVED
    # A new version is judged again, but the link the operator removed is not made again.
    put(store, "egp", "procurement", {"project_id": "P-9", "egp_project_number": "68069160377", "status": "x"}, "68069160377")
    assert links_from(store, made) == [] and unlinked(store, made).reason == linking.REMOVED

    other = put(store, "eplan", "plan_project", {"project_code": "P-10", "title": "สะพาน"})
    view = store.links.link(made, other, actor="token:ops", note="the bridge")
    assert (view.made_by, view.rule, view.note) == ("operator:token:ops", "operator", "the bridge")
    assert unlinked(store, made) is None
    actions = [(e.action, e.target, e.actor) for e in store.access.audit_entries(limit=10)]
    assert ("link.create", f"link:{made}->{other}", "token:ops") in actions
    assert ("link.remove", f"link:{made}->{plan}", "token:ops") in actions
    with pytest.raises(linking_refused()):
        store.links.link(made, made, actor="token:ops")
    with pytest.raises(linking_refused()):
        store.links.link(made, "0" * 32, actor="token:ops")


def linking_refused() -> type[Exception]:
    from core.store.repos.links import LinkRefused

    return LinkRefused


def test_the_chain_follows_links_through_procurement_and_contract(store: Store) -> None:
    plan = put(store, "eplan", "plan_project", {"project_code": "68069160377", "title": "ถนน"}, "68069160377")
    procurement = put(store, "egp", "procurement", {"egp_project_number": "68069160377", "budget_amount": "2450000.00"}, "68069160377")
    contract = put(store, "egp", "contract", {"contract_number": "กจด.ป.115/2568", "amount": "2150000.00"}, "68069160377/115/2568")
    payment = put(store, "gfmis", "disbursement", {"document_number": "31", "amount": "1.00", "contract_id": contract})
    chain = store.links.chain(plan)
    assert chain is not None and chain.root.entity_id == plan and not chain.truncated
    by_id = {n.entity_id: n for n in chain.members}
    assert set(by_id) == {procurement, contract, payment}
    assert [(v.to_id, v.rule) for v in by_id[contract].links] == [(procurement, "contract.egp_project_number")]
    assert [(v.to_id, v.rule) for v in by_id[payment].links] == [(contract, "disbursement.contract_id")]
    assert by_id[procurement].xrefs == [{"system": "egp", "external_id": "68069160377"}]
    assert store.links.chain("f" * 32) is None


def test_relink_judges_records_stored_before_links_existed(store: Store) -> None:
    plan = put(store, "eplan", "plan_project", {"project_code": "R-1", "title": "ถนน"})
    source = put(store, "egp", "procurement", {"project_id": "R-1"})
    with store.engine.begin() as conn:
        for table in ("entity_links", "link_keys", "unlinked_records", "link_wanted"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    assert store.links.relink(page_size=1) >= 2
    assert links_from(store, source)[0][:2] == (plan, "procurement.project_code")


def test_migration_0005_upgrades_from_0004(store: Store) -> None:
    plan = put(store, "eplan", "plan_project", {"project_code": "M-1", "title": "ถนน"})
    downgrade(store, "0004_outage_budget")
    store.upgrade()
    assert store.is_current()
    store.links.relink()
    source = put(store, "egp", "procurement", {"project_id": "M-1"})
    assert links_from(store, source)[0][:2] == (plan, "procurement.project_code")
