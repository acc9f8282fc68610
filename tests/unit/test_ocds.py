"""The OCDS mapping (core/ocds.py) on its own: each release checked against the official 1.1 schema, with
no field the schema does not define, and the cases that are easy to get wrong: a procurement with no
plan project, a contract number in Thai digits, satang, a supplier who is a person."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from core import ocds
from core.ledger import Member
from core.settings import OcdsSettings
from tests.ocds_schema import problems

NUMBER = "70019123456"
AT = datetime(2027, 3, 15, 4, 30, tzinfo=UTC)
PUBLICATION = ocds.Publication("ocds-prasan-", "Prasan test", "https://example.org/prasan", None)
BUYER = ocds.Buyer("6260105", "บ้านใหญ่", "เมืองนครนายก", "นครนายก")
COMPANY_TIN = "0263556000111"


def procurement(**fields: Any) -> Member:
    payload = {
        "entity_type": "procurement", "org_code": "6260105", "egp_project_number": NUMBER, "fiscal_year": 2570,
        "title": "ประกวดราคาจ้างก่อสร้างถนนคอนกรีตเสริมเหล็ก", "procurement_type": "hire",
        "method": "ประกวดราคาอิเล็กทรอนิกส์ (e-bidding)", "announced_on": "2027-01-12", "budget_amount": "2450000.00",
        "reference_price": "2431000.00", "agreed_price": "2198000.00", "status": "จัดทำสัญญา/บริหารสัญญา",
        "winner": {"name": "ห้างหุ้นส่วนจำกัด นครนายกโยธา", "tax_id": COMPANY_TIN},
    }  # fmt: skip
    return Member("p" * 32, "procurement", {**payload, **fields}, {"egp": NUMBER})


def contract(number: str = "อบต.บญ.๗/๒๕๗๐", amount: str = "2198000.00", egp_id: str | None = None, **fields: Any) -> Member:
    payload = {"entity_type": "contract", "org_code": "6260105", "contract_number": number, "supplier_tax_id": COMPANY_TIN,
               "signed_on": "2027-02-20", "ends_on": "2027-06-19", "amount": amount, "status": "อยู่ระหว่างดำเนินการ", **fields}  # fmt: skip
    return Member("c" * 32, "contract", payload, {"egp": egp_id} if egp_id else {})


def process(*contracts: Member, plan: Member | None = None, plan_members: tuple[Member, ...] = (), **fields: Any) -> ocds.Process:
    return ocds.Process(procurement(**fields), list(contracts), BUYER, AT, plan, plan_members)


def valid(*releases: dict[str, Any]) -> dict[str, Any]:
    """The package of these releases, as a client reads it back, after it passed the schema strictly."""
    package = json.loads(ocds.dumps(ocds.package(list(releases), "https://hub.example/api/v1/public/ocds/6260105", PUBLICATION)),
                         parse_float=Decimal)  # fmt: skip
    assert problems(package, strict=True) == []
    return package


def test_a_procurement_without_a_plan_project_has_tender_award_and_contract_but_no_planning() -> None:
    [release] = valid(ocds.release(process(contract()), PUBLICATION))["releases"]
    assert release["ocid"] == f"ocds-prasan-{NUMBER}" and release["initiationType"] == "tender"
    assert release["tag"] == ["tender", "award", "contract"] and "planning" not in release
    assert release["date"] == "2027-03-15T04:30:00Z" and release["language"] == "th"
    tender = release["tender"]
    assert tender["value"] == {"amount": Decimal("2450000.00"), "currency": "THB"}
    assert (tender["status"], tender["procurementMethod"], tender["mainProcurementCategory"]) == ("complete", "open", "works")
    assert tender["procurementMethodDetails"] == "ประกวดราคาอิเล็กทรอนิกส์ (e-bidding)"
    assert tender["tenderPeriod"] == {"startDate": "2027-01-12T00:00:00+07:00"}
    assert tender["procuringEntity"] == release["buyer"] == {"id": "DLA-6260105", "name": "บ้านใหญ่"}
    buyer, supplier = release["parties"]
    assert buyer["roles"] == ["buyer", "procuringEntity"] and buyer["address"]["region"] == "นครนายก"
    assert supplier["identifier"] == {"scheme": "TH-TIN", "id": COMPANY_TIN, "legalName": "ห้างหุ้นส่วนจำกัด นครนายกโยธา"}
    [award], [signed] = release["awards"], release["contracts"]
    assert award["suppliers"] == [{"id": f"TH-TIN-{COMPANY_TIN}", "name": "ห้างหุ้นส่วนจำกัด นครนายกโยธา"}]
    assert signed["awardID"] == award["id"] and signed["status"] == "active"
    assert signed["dateSigned"] == "2027-02-20T00:00:00+07:00"
    assert signed["period"] == {"startDate": "2027-02-20T00:00:00+07:00", "endDate": "2027-06-19T00:00:00+07:00"}


def test_a_contract_in_thai_digits_keeps_one_id_written_in_arabic_digits() -> None:
    thai = ocds.release(process(contract("อบต.บญ.๗/๒๕๗๐")), PUBLICATION)
    arabic = ocds.release(process(contract("อบต.บญ.7/2570")), PUBLICATION)
    assert thai["contracts"][0]["id"] == arabic["contracts"][0]["id"] == f"{NUMBER}/อบต.บญ.7/2570"
    assert thai["contracts"][0]["title"] == "อบต.บญ.๗/๒๕๗๐"  # the number as the contract prints it
    from_egp = ocds.release(process(contract(egp_id=f"{NUMBER}/อบต.บญ.๗/๒๕๗๐")), PUBLICATION)
    assert from_egp["contracts"][0]["id"] == f"{NUMBER}/อบต.บญ.7/2570"
    valid(thai)


def test_amounts_with_satang_are_json_numbers_written_exactly() -> None:
    # 9007199254740993.01 has no binary float: through a float it would come out as ...992 or ...994.
    release = ocds.release(process(contract(amount="2198000.50"), budget_amount="9007199254740993.01"), PUBLICATION)
    text = ocds.dumps(release).decode("utf-8")
    assert '"amount":2198000.50' in text and '"amount":9007199254740993.01' in text
    package = valid(release)
    assert package["releases"][0]["contracts"][0]["value"]["amount"] == Decimal("2198000.50")
    assert package["releases"][0]["tender"]["value"]["amount"] == Decimal("9007199254740993.01")


def test_the_linked_plan_project_gives_planning_its_budget() -> None:
    plan = Member("a" * 32, "plan_project", {
        "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านใหญ่-บ้านดง หมู่ที่ 4", "funding_source": "เงินอุดหนุนเฉพาะกิจ",
        "budget_by_year": [{"fiscal_year": 2570, "amount": "2450000.00"}, {"fiscal_year": 2571, "amount": "100000.00"}],
    }, {"eplan": "6260105:70-03-001", "ebudget": "REQ-1"})  # fmt: skip
    grant = Member("b" * 32, "budget_request", {"fiscal_year": 2570, "amount": "2450000.00", "status": "approved",
                                                 "approved_amount": "2400000.00", "budget_code": "15008700041000000123"},
                   {"ebudget": "REQ-1"})  # fmt: skip
    [release] = valid(ocds.release(process(contract(), plan=plan, plan_members=(grant,)), PUBLICATION))["releases"]
    assert release["tag"] == ["planning", "tender", "award", "contract"]
    assert release["planning"]["budget"] == {
        "id": "15008700041000000123", "description": "เงินอุดหนุนเฉพาะกิจ", "project": plan.payload["title"],
        "projectID": "6260105:70-03-001", "amount": {"amount": Decimal("2400000.00"), "currency": "THB"},
    }  # fmt: skip
    line = Member("d" * 32, "budget_line", {"fiscal_year": 2570, "phase": "approved", "description": "ค่าก่อสร้างถนน คสล.",
                                             "amount": "2300000.00"}, {"elaas": "BL-77"})  # fmt: skip
    [release] = valid(ocds.release(process(plan=plan, plan_members=(line,)), PUBLICATION))["releases"]
    assert release["planning"]["budget"]["id"] == "BL-77" and release["planning"]["budget"]["description"] == "ค่าก่อสร้างถนน คสล."
    assert release["planning"]["budget"]["amount"]["amount"] == Decimal("2300000.00")


def test_a_second_supplier_of_the_project_is_identified_by_its_tax_id_alone() -> None:
    other = "0105536000315"
    second = Member("e" * 32, "contract", {**contract("อบต.บญ.8/2570").payload, "supplier_tax_id": other}, {})
    [release] = valid(ocds.release(process(contract(), second), PUBLICATION))["releases"]
    parties = {p["id"]: p for p in release["parties"]}
    assert parties[f"TH-TIN-{other}"] == {"id": f"TH-TIN-{other}", "identifier": {"scheme": "TH-TIN", "id": other}, "roles": ["supplier"]}
    assert parties[f"TH-TIN-{COMPANY_TIN}"]["name"] == "ห้างหุ้นส่วนจำกัด นครนายกโยธา"
    assert [a["suppliers"][0]["id"] for a in release["awards"]] == [f"TH-TIN-{COMPANY_TIN}", f"TH-TIN-{other}"]


def test_a_supplier_who_is_a_person_is_not_named_nor_identified() -> None:
    person = "3509900123451"  # a citizen id's shape: a natural person
    release = ocds.release(process(contract(supplier_tax_id=person), winner={"name": "นายสมชาย ใจดี", "tax_id": person}), PUBLICATION)
    text = ocds.dumps(release).decode("utf-8")
    assert person not in text and "สมชาย" not in text
    supplier = release["parties"][1]
    assert supplier["name"] == ocds.INDIVIDUAL_SUPPLIER and "identifier" not in supplier
    assert release["awards"][0]["suppliers"] == [{"id": supplier["id"], "name": ocds.INDIVIDUAL_SUPPLIER}]
    valid(release)


def test_a_winner_without_a_contract_is_an_award_of_the_agreed_price() -> None:
    [release] = valid(ocds.release(process(), PUBLICATION))["releases"]
    assert release["tag"] == ["tender", "award"] and "contracts" not in release
    assert release["awards"][0]["value"] == {"amount": Decimal("2198000.00"), "currency": "THB"}


def test_unknown_statuses_and_methods_are_left_out_rather_than_guessed() -> None:
    [release] = valid(ocds.release(process(contract(status="รอตรวจรับ"), status="สถานะใหม่", method="วิธีใหม่",
                                           procurement_type="rent"), PUBLICATION))["releases"]  # fmt: skip
    assert {"status", "procurementMethod", "mainProcurementCategory"}.isdisjoint(release["tender"])
    assert release["tender"]["procurementMethodDetails"] == "วิธีใหม่"
    assert "status" not in release["contracts"][0]


def test_the_release_id_changes_with_the_content_and_only_with_it() -> None:
    first = ocds.release(process(contract()), PUBLICATION)
    assert ocds.release(process(contract()), PUBLICATION)["id"] == first["id"]
    assert ocds.release(process(contract(amount="2198000.01")), PUBLICATION)["id"] != first["id"]
    assert first["id"].startswith(f"{NUMBER}-")


def test_a_procurement_without_an_egp_number_and_an_empty_package_are_refused() -> None:
    without = ocds.Process(Member("p" * 32, "procurement", {"title": "x"}, {}), [], BUYER, AT)
    with pytest.raises(ValueError, match="no e-GP project number"):
        ocds.release(without, PUBLICATION)
    with pytest.raises(ValueError, match="at least one release"):
        ocds.package([], "https://hub.example/x", PUBLICATION)


def test_the_ocid_prefix_must_have_the_registered_shape() -> None:
    assert OcdsSettings().ocid_prefix == "ocds-prasan-"
    assert OcdsSettings(ocid_prefix="ocds-a1b2c3-").ocid_prefix == "ocds-a1b2c3-"
    for wrong in ("prasan-", "ocds-prasan", "ocds-toolongx-"):
        with pytest.raises(ValidationError):
            OcdsSettings(ocid_prefix=wrong)
