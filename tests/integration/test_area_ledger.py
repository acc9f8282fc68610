"""The area ledger against the real store (SQLite and PostgreSQL): rows kept in step with ingest and with an
operator's unlink, a rebuild that gives the same rows, the totals by area, and each reconciliation rule
firing on the figures that break it and not on those that do not."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core import reconciliation
from core.expense_categories import ExpenseCategories
from core.reconciliation import ReconciliationRules
from core.reference_data import load_reference_data
from core.store import Acknowledged, Destination, InboundMessage, IncomingEntity, Store
from core.store.schema import ledger_categories
from tests.integration.test_links import ORG, put

AREA = {"org_type": "subdistrict_municipality", "province_code": "58", "district_code": "5804"}


@pytest.fixture
def ledger_store(store: Store) -> Store:
    store.ledger.areas = lambda code: AREA if code == ORG else None
    reference = load_reference_data()
    store.ledger.categories = ExpenseCategories.from_reference(reference.code_lists, reference.crosswalks)
    return store


def plan(store: Store, amounts: dict[int, str], title: str = "ก่อสร้างถนน") -> str:
    years = [{"fiscal_year": year, "amount": amount} for year, amount in amounts.items()]
    return put(store, "eplan", "plan_project", {"title": title, "budget_by_year": years, "links": {"local_programme": "แผนงานเคหะและชุมชน"}})


def rows(store: Store, project: str) -> dict[int, Any]:
    return {r.fiscal_year: r for r in store.ledger.organisation_projects(ORG, limit=1000) if r.entity_id == project}


def chain_of(store: Store, *, budget: str | None, procured: str | None, contracted: str | None, paid: str | None) -> str:
    """A project of FY 2570 with a budget line, procurement, contract and payment of these amounts (None: none)."""
    project = plan(store, {2570: "1000000.00"})
    if budget is not None:
        put(store, "elaas", "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ค่าก่อสร้าง",
                                            "amount": budget, "project_id": project})  # fmt: skip
    if procured is not None:
        procurement = put(store, "egp", "procurement", {"fiscal_year": 2570, "title": "จ้างก่อสร้าง", "procurement_type": "hire",
                                                        "budget_amount": procured, "project_id": project})  # fmt: skip
        if contracted is not None:
            contract = put(store, "egp", "contract", {"contract_number": "1/2570", "amount": contracted, "procurement_id": procurement})
            if paid is not None:
                put(store, "gfmis", "disbursement", {"document_number": "3100000001", "fiscal_year": 2570, "paid_on": "2027-01-05",
                                                     "amount": paid, "contract_id": contract})  # fmt: skip
    return project


def test_each_stage_is_projected_as_its_records_arrive(ledger_store: Store) -> None:
    store = ledger_store
    project = plan(store, {2570: "1000000.00", 2571: "500000.00"})
    years = rows(store, project)
    assert {y: (r.stage, r.amounts["planned"]) for y, r in years.items()} == {
        2570: ("planned", Decimal("1000000.00")), 2571: ("planned", Decimal("500000.00"))
    }
    procurement = put(store, "egp", "procurement", {"fiscal_year": 2570, "title": "จ้าง", "procurement_type": "hire",
                                                    "budget_amount": "990000.00", "project_id": project})  # fmt: skip
    contract = put(store, "egp", "contract", {"contract_number": "7/2570", "amount": "950000.00", "procurement_id": procurement})
    put(store, "gfmis", "disbursement", {"document_number": "31", "fiscal_year": 2570, "paid_on": "2027-02-01",
                                         "amount": "950000.00", "contract_id": contract})  # fmt: skip
    row = rows(store, project)[2570]
    assert row.stage == "completed"
    assert (row.amounts["procured"], row.amounts["contracted"], row.amounts["disbursed"]) == (
        Decimal("990000.00"), Decimal("950000.00"), Decimal("950000.00"))
    assert rows(store, project)[2571].stage == "planned"

    # An operator takes the payment off the contract: the project's figures follow in the same transaction.
    [payment_link] = [v for v in store.links.links_of(contract) if v.to_id == contract]
    store.links.unlink(payment_link.from_id, contract, actor="test")
    assert rows(store, project)[2570].stage == "contracted"

    # A rebuild from the entities gives the same rows.
    before = {(r.entity_id, r.fiscal_year, r.stage, tuple(r.amounts.items())) for r in store.ledger.organisation_projects(ORG, limit=1000)}
    assert store.ledger.rebuild(page_size=1) >= 1
    after = {(r.entity_id, r.fiscal_year, r.stage, tuple(r.amounts.items())) for r in store.ledger.organisation_projects(ORG, limit=1000)}
    assert after == before


def test_totals_group_by_area_type_and_programme(ledger_store: Store) -> None:
    store = ledger_store
    plan(store, {2570: "100.00"}, "ก")
    plan(store, {2570: "250.50"}, "ข")
    [province] = store.ledger.area_totals("province", "58", 2570, "province")
    assert (province.code, province.projects, province.amounts["planned"], province.stages["planned"]) == ("58", 2, Decimal("350.50"), 2)
    [by_type] = store.ledger.area_totals("district", "5804", None, "org_type")
    assert by_type.code == "subdistrict_municipality"
    [by_programme] = store.ledger.area_totals("province", "58", 2570, "programme")
    assert by_programme.code == "แผนงานเคหะและชุมชน"
    assert store.ledger.area_totals("province", "10", 2570, "province") == []


def local_line(store: Store, project: str, amount: str, code: str, level: str = "budget_group") -> str:
    return put(store, "elaas", "budget_line", {
        "fiscal_year": 2570, "phase": "approved", "description": "รายการ", "amount": amount, "project_id": project,
        "classification": [{"scheme": "local-expense-category", "level": level, "code": code}],
    })  # fmt: skip


def by_code(totals: list[Any]) -> dict[Any, tuple[Any, ...]]:
    return {(t.code, t.without_code): (t.projects, t.amounts["budgeted"], t.amounts["requested"], t.amounts["approved"]) for t in totals}


def category_rows(store: Store) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in store.read(lambda conn: conn.execute(ledger_categories.select()).all())}


def test_totals_by_budget_classification_local_and_national_through_the_crosswalk(ledger_store: Store) -> None:
    store = ledger_store
    roads = plan(store, {2570: "1000000.00"}, "ถนน")
    local_line(store, roads, "600000.00", "investment")
    local_line(store, roads, "45000.50", "operating.services", level="expense_category")  # a หมวด counts in its งบ
    local_line(store, roads, "20000.00", "central")  # งบกลาง: no national งบรายจ่าย
    put(store, "ebudget", "budget_request", {"fiscal_year": 2570, "amount": "300000.00", "approved_amount": "250000.00",
                                             "budget_type": "งบอุดหนุน", "status": "approved", "project_id": roads})  # fmt: skip
    school = plan(store, {2570: "80000.00"}, "โรงเรียน")
    local_line(store, school, "80000.00", "investment")
    put(store, "elaas", "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ไม่ระบุงบ",
                                        "amount": "1.25", "project_id": school})  # fmt: skip

    local = store.ledger.area_totals("province", "58", 2570, "local_expense_category")
    assert by_code(local) == {
        ("central", None): (1, Decimal("20000.00"), Decimal("0.00"), Decimal("0.00")),
        ("investment", None): (2, Decimal("680000.00"), Decimal("0.00"), Decimal("0.00")),
        ("operating", None): (1, Decimal("45000.50"), Decimal("0.00"), Decimal("0.00")),
        # The request names only a national งบรายจ่าย; the bare line names none.
        (None, "unclassified"): (2, Decimal("1.25"), Decimal("300000.00"), Decimal("250000.00")),
    }
    national = store.ledger.area_totals("province", "58", 2570, "national_expense_category")
    assert by_code(national) == {
        ("investment", None): (2, Decimal("680000.00"), Decimal("0.00"), Decimal("0.00")),
        ("operating", None): (1, Decimal("45000.50"), Decimal("0.00"), Decimal("0.00")),
        ("subsidy", None): (1, Decimal("0.00"), Decimal("300000.00"), Decimal("250000.00")),
        (None, "unmapped"): (1, Decimal("20000.00"), Decimal("0.00"), Decimal("0.00")),
        (None, "unclassified"): (1, Decimal("1.25"), Decimal("0.00"), Decimal("0.00")),
    }
    for scheme, totals in (("local_expense_category", local), ("national_expense_category", national)):
        pages = [store.ledger.area_totals("province", "58", 2570, scheme, page=(2, offset)) for offset in (0, 2, 4)]
        assert [len(p) for p in pages] == [2, 2, len(totals) - 4]
        assert [t for p in pages for t in p] == totals  # pages in the list's own order, none skipped or twice
    # Every satang of the stage totals is in one group of each scheme.
    [whole] = store.ledger.area_totals("province", "58", 2570, "province")
    for scheme in (local, national):
        for name in ("budgeted", "requested", "approved"):
            assert sum((t.amounts[name] for t in scheme), Decimal("0.00")) == whole.amounts[name]
    assert {t.stages["budgeted"] + t.stages["requested"] for t in national if t.code == "investment"} == {2}
    # The same filters as the other totals: another area has none, one organisation has them all.
    assert store.ledger.area_totals("province", "10", 2570, "national_expense_category") == []
    assert by_code(store.ledger.area_totals("organisation", ORG, None, "national_expense_category")) == by_code(national)

    before = category_rows(store)
    assert store.ledger.rebuild(page_size=1) == 2
    assert category_rows(store) == before


def test_a_crosswalk_row_not_yet_in_effect_leaves_the_national_code_empty(ledger_store: Store) -> None:
    store = ledger_store
    # The crosswalk's rows start with FY 2559 (1 October 2015): a line of FY 2558 is unmapped, not guessed.
    old = put(store, "eplan", "plan_project", {"title": "เก่า", "budget_by_year": [{"fiscal_year": 2558, "amount": "10.00"}]})
    put(store, "elaas", "budget_line", {"fiscal_year": 2558, "phase": "approved", "description": "ลงทุน", "amount": "10.00",
                                        "project_id": old, "classification": [
                                            {"scheme": "local-expense-category", "level": "budget_group", "code": "investment"}]})  # fmt: skip
    [unmapped] = store.ledger.area_totals("province", "58", 2558, "national_expense_category")
    assert (unmapped.code, unmapped.without_code, unmapped.amounts["budgeted"]) == (None, "unmapped", Decimal("10.00"))
    [local] = store.ledger.area_totals("province", "58", 2558, "local_expense_category")
    assert (local.code, local.without_code) == ("investment", None)


CASES = [
    # rule, the figures that break it, the figures that do not
    ("contract_above_budget", dict(budget="1000000.00", procured="1000000.00", contracted="1000000.01", paid=None),
     dict(budget="1000000.00", procured="1000000.00", contracted="1000000.00", paid=None)),
    ("disbursed_above_contract", dict(budget="1000000.00", procured="900000.00", contracted="900000.00", paid="900000.01"),
     dict(budget="1000000.00", procured="900000.00", contracted="900000.00", paid="900000.00")),
    ("procurement_without_budget", dict(budget=None, procured="500000.00", contracted=None, paid=None),
     dict(budget="500000.00", procured="500000.00", contracted=None, paid=None)),
    ("project_without_budget", dict(budget=None, procured=None, contracted=None, paid=None),
     dict(budget="1000000.00", procured=None, contracted=None, paid=None)),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "breaks", "keeps"), CASES, ids=[c[0] for c in CASES])
def test_a_reconciliation_rule_fires_on_disagreeing_amounts_and_not_otherwise(
    ledger_store: Store, rule: str, breaks: dict[str, Any], keeps: dict[str, Any]
) -> None:
    store = ledger_store
    flagged_project = chain_of(store, **breaks)
    clean_project = chain_of(store, **keeps)
    found = {(f.rule, f.entity_id) for f in store.ledger.flagged(level=None, code=None, fiscal_year=2570, rule=None, limit=100, offset=0)}
    assert (rule, flagged_project) in found
    assert not any(entity_id == clean_project for _, entity_id in found)
    assert store.ledger.flag_counts()[rule] == 1
    only = store.ledger.flagged(level="province", code="58", fiscal_year=None, rule=rule, limit=100, offset=0)
    assert [f.entity_id for f in only] == [flagged_project]


def test_a_tolerance_lets_a_small_excess_pass(ledger_store: Store) -> None:
    store = ledger_store
    store.ledger.rules = ReconciliationRules.model_validate({"contract_above_budget": {"tolerance_pct": "5"}})
    within = chain_of(store, budget="1000000.00", procured="1000000.00", contracted="1050000.00", paid=None)
    beyond = chain_of(store, budget="1000000.00", procured="1000000.00", contracted="1050000.01", paid=None)
    found = {f.entity_id for f in store.ledger.flagged(level=None, code=None, fiscal_year=None, rule="contract_above_budget",
                                                       limit=100, offset=0)}  # fmt: skip
    assert found == {beyond} and within not in found


def test_a_project_without_budget_is_flagged_only_once_its_year_has_started() -> None:
    rules = ReconciliationRules.model_validate({"project_without_budget": {"grace_days": 30}})
    assert rules.started_years(date(2026, 10, 15)) == 2569  # FY 2570 began on 1 October 2026; 30 days' grace
    assert rules.started_years(date(2026, 11, 1)) == 2570
    bits = reconciliation.PROJECT_WITHOUT_BUDGET.bit
    assert reconciliation.names(bits, 2570, 2569) == [] and reconciliation.names(bits, 2570, 2570) == ["project_without_budget"]


def test_a_local_budget_line_no_project_owns_is_flagged_and_a_national_one_is_not(ledger_store: Store) -> None:
    store = ledger_store
    local = put(store, "elaas", "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ค่าวัสดุ", "amount": "5000.00"})
    put(store, "ebudget", "budget_line", {"org_code": "15008", "fiscal_year": 2570, "phase": "approved",
                                          "description": "เงินอุดหนุน", "amount": "9.00"})  # fmt: skip
    found = store.ledger.flagged(level=None, code=None, fiscal_year=None, rule="budget_line_without_project", limit=100, offset=0)
    assert [f.entity_id for f in found] == [local]
    assert store.ledger.flag_counts()["budget_line_without_project"] == 1
    linked = plan(store, {2570: "5000.00"})
    put(store, "elaas", "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ค่าวัสดุ", "amount": "5000.00",
                                        "project_id": linked})  # fmt: skip
    assert store.ledger.flag_counts()["budget_line_without_project"] == 1


def test_prasan_projections_rebuild_restores_the_ledger_from_the_entities(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import delete

    from core.store.schema import ledger_projects
    from prasan.cli import main

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("PRASAN_DATABASE_URL", url)
    monkeypatch.setenv("PRASAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PRASAN_CONFIG_DIR", raising=False)
    store = Store(url)
    store.upgrade()
    project = plan(store, {2570: "700.00"})
    local_line(store, project, "700.00", "central")
    # As a database upgraded to 0007 (0010) starts.
    store.write(lambda conn: (conn.execute(delete(ledger_projects)), conn.execute(delete(ledger_categories))))
    assert store.ledger.organisation_projects(ORG) == []
    assert main(["projections", "rebuild", "--page-size", "2"]) == 0
    assert "1 plan projects read" in capsys.readouterr().out
    [row] = store.ledger.organisation_projects(ORG)
    assert (row.entity_id, row.fiscal_year, row.amounts["planned"]) == (project, 2570, Decimal("700.00"))
    # The command reads the reference data's code lists and crosswalk: the งบกลาง line is unmapped nationally.
    assert by_code(store.ledger.area_totals("organisation", ORG, 2570, "national_expense_category")) == {
        (None, "unmapped"): (1, Decimal("700.00"), Decimal("0.00"), Decimal("0.00"))}
    store.dispose()


def test_a_fault_in_the_projection_refuses_neither_the_ingest_nor_the_delivery(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ledger_store
    kept = plan(store, {2570: "100.00"}, "ก่อนความผิดพลาด")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a record no rule foresaw")

    monkeypatch.setattr("core.ledger.project_years", broken)
    project = plan(store, {2570: "200.00"}, "ระหว่างความผิดพลาด")  # stored, its ledger rows not
    assert store.entities.get_entity(project) is not None
    assert rows(store, project) == {} and set(rows(store, kept)) == {2570}
    monkeypatch.undo()
    assert store.ledger.rebuild() == 2
    assert rows(store, project)[2570].amounts["planned"] == Decimal("200.00")


def test_amounts_are_kept_to_the_satang_and_an_implausible_one_is_left_out(ledger_store: Store) -> None:
    store = ledger_store
    # Floats would lose the satang here: 0.1 + 0.2, and totals past fifteen significant digits.
    for amount in ("0.10", "0.20", "4503599627370.49", "4503599627370.49"):
        plan(store, {2571: amount}, f"โครงการ {amount}")
    [total] = store.ledger.area_totals("province", "58", 2571, "province")
    assert total.amounts["planned"] == Decimal("9007199254741.28")
    huge = plan(store, {2572: "99999999999999.00"}, "เกินจริง")
    assert store.entities.get_entity(huge) is not None and rows(store, huge) == {}


def _push_to_elaas(store: Store, title: str) -> str:
    """A plan project from e-Plan, routed to e-LAAS; its entity id."""
    body = {"org_code": ORG, "title": title, "budget_by_year": [{"fiscal_year": 2570, "amount": "700000.00"}]}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    record = IncomingEntity(1, "plan_project", "P-elaas-1", ORG, None, body, digest)
    message = InboundMessage(system="eplan", payload=b"{}", media_type="application/json")
    outcome = store.inbox.ingest(message, [record], [], lambda s, e: [Destination("elaas", "plans-to-elaas", 8)])
    return outcome.entities[0].entity_id


def _deliver_to_elaas(store: Store) -> None:
    (item,) = store.outbox.claim_due("w", destination="elaas")
    store.outbox.complete([Acknowledged(item.outbox_id, "E-1", None, attempt=item.attempts)])


def test_a_plan_project_is_budgeted_by_its_first_delivery_to_elaas_and_a_later_one_rewrites_nothing(ledger_store: Store) -> None:
    store = ledger_store
    push = functools.partial(_push_to_elaas, store)
    deliver = functools.partial(_deliver_to_elaas, store)

    project = push("ถนนสายใหม่")  # new and sent to e-LAAS: its rows wait for that delivery (decision 0017)
    assert rows(store, project) == {}
    deliver()
    assert rows(store, project)[2570].stage == "budgeted"
    assert rows(store, project)[2570].amounts["budgeted"] == Decimal("700000.00")
    assert store.ledger.catch_up(0) == 0  # the delivery ended its wait

    push("ถนนสายใหม่ (แก้ไข)")  # a new version keeps what its delivery made it
    after_ingest = rows(store, project)[2570]
    assert (after_ingest.stage, after_ingest.title) == ("budgeted", "ถนนสายใหม่ (แก้ไข)")
    deliver()  # the second delivery to e-LAAS changes no figure: the row is not rewritten
    assert rows(store, project)[2570] == after_ingest


def test_a_new_plan_project_whose_delivery_does_not_come_is_projected_by_the_catch_up(ledger_store: Store) -> None:
    store = ledger_store
    project = _push_to_elaas(store, "ถนนรอส่ง")
    assert store.ledger.catch_up(3600) == 0  # not waited that long yet
    assert rows(store, project) == {}
    assert store.ledger.catch_up(0) == 1
    assert (rows(store, project)[2570].stage, rows(store, project)[2570].amounts["planned"]) == ("planned", Decimal("700000.00"))
    assert store.ledger.catch_up(0) == 0  # projected once
    _deliver_to_elaas(store)  # the late delivery still moves its stage
    assert rows(store, project)[2570].stage == "budgeted"


async def test_the_scheduler_leader_catches_the_ledger_up_at_its_interval(tmp_path: Path) -> None:
    from core.hub import Hub
    from core.settings import HubSettings

    hub = Hub.build(HubSettings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}", ledger={"wait_for_delivery_s": 0, "catch_up_interval_s": 7},
        delivery={"hold_unconfigured": True},
    ))  # fmt: skip
    await hub.start(workers=False)
    try:
        job = hub.scheduler.get_job("ledger-catch-up") if hub.scheduler else None
        assert job is not None and job.trigger.interval == timedelta(seconds=7)
        project = _push_to_elaas(hub.store, "ถนนรอรอบของผู้นำ")
        assert rows(hub.store, project) == {}
        await job.func()  # what the scheduler runs
        assert rows(hub.store, project)[2570].stage == "planned"
    finally:
        await hub.stop()
