"""The nine canonical entity types: exact JSON round trips, no float anywhere, named rejections."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical_model import ENTITY_TYPES, PlanProject, content_hash
from canonical_model.envelope import body_text, field_or_none
from canonical_model.rejection import rejections_from_validation_error

EXAMPLES: dict[str, dict[str, Any]] = {
    "organization": {
        "org_code": "2810101",
        "name_th": "องค์การบริหารส่วนจังหวัดกระบี่",
        "org_type": "provincial_admin_org",
        "province_code": "81",
        "district_code": "8101",
        "subdistrict_codes": ["810101"],
        "lat": "8.0863",
        "lon": "98.9063",
    },
    "development_plan": {
        "org_code": "5810401",
        "plan_kind": "five_year",
        "period_start": 2566,
        "period_end": 2570,
        "revision": {"kind": "addition", "number": 1, "reason": "เพิ่มเติมโครงการ", "approved_on": "19 มิ.ย. 68"},
        "grouping": "issue",
    },
    "plan_project": {
        "org_code": "6810403",
        "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก หมู่ที่ ๒",
        "objective": "เพื่อให้ประชาชนสัญจรสะดวก",
        "budget_by_year": [
            {"fiscal_year": 2566, "amount": "1,200,000"},
            {"fiscal_year": "๒๕๖๗", "amount": "๕๐๐,๐๐๐.๕๐"},
        ],
        "location": {"subdistrict_code": "810403", "lat": "7.95", "lon": "99.15"},
        "links": {"national_strategy": 2, "nesdp_milestone": 8, "local_programme": "เคหะและชุมชน"},
    },
    "budget_request": {
        "org_code": "4810102",
        "fiscal_year": 2568,
        "amount": "3,498,760,900.00",
        "grant_kind": "specific",
        "status": "submitted",
    },
    "budget_line": {
        "org_code": "15008",
        "fiscal_year": "2559",
        "phase": "approved",
        "classification": [
            {"scheme": "national-classification", "level": "ministry", "code": "15000", "name": "กระทรวงมหาดไทย"}
        ],
        "description": 'ก่อสร้างอาคารเรียน 4 ชั้น\tเทศบาลตำบลหัวดง"',
        "amount": 10444000,
    },
    "procurement": {
        "org_code": "5810401",
        "egp_project_number": "68069160377",
        "title": "จ้างก่อสร้างถนน",
        "procurement_type": "hire",
        "announced_on": "19 มิ.ย. 68",
        "budget_amount": "1,000 บาท",
        "winner": {"name": "บริษัท ตัวอย่าง จำกัด", "tax_id": "0105549007974"},
    },
    "contract": {
        "org_code": "5810401",
        "contract_number": "กจด.ป.๑๑๕/๒๕๖๘",
        "supplier_tax_id": "0105549007974",
        "signed_on": "01/07/2568",
        "ends_on": "2568-09-30",
        "amount": "990000.00",
    },
    "disbursement": {
        "org_code": "15008",
        "document_number": "3100000123",
        "paid_on": "25 กรกฎาคม 2559",
        "amount": "10444000",
        "fund_source": "5911410",
        "gl_account": "5104010107",
        "cost_center": "0300200005",
    },
    "progress_report": {
        "org_code": "6810403",
        "project_id": "ent_0001",
        "as_of": "2025-06-30",
        "physical_progress_pct": "45.50",
        "spent_amount": "0",
    },
}


def _floats_in(value: Any) -> list[Any]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats_in(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats_in(item)]
    return []


def test_every_entity_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(ENTITY_TYPES)
    assert len(ENTITY_TYPES) == 9


@pytest.mark.parametrize("entity_type", sorted(EXAMPLES))
def test_json_round_trip_is_exact_and_float_free(entity_type: str) -> None:
    model = ENTITY_TYPES[entity_type]
    entity = model.model_validate(EXAMPLES[entity_type])
    assert entity.entity_type == entity_type
    text = entity.model_dump_json()
    again = model.model_validate_json(text)
    assert again == entity
    assert again.model_dump_json() == text
    assert _floats_in(json.loads(text, parse_float=float)) == []


def test_money_is_decimal_and_a_two_place_string_in_json() -> None:
    line = ENTITY_TYPES["budget_line"].model_validate(EXAMPLES["budget_line"])
    assert line.amount == Decimal("10444000.00")
    assert json.loads(line.model_dump_json())["amount"] == "10444000.00"


def test_values_are_normalised_on_the_way_in() -> None:
    project = PlanProject.model_validate(EXAMPLES["plan_project"])
    assert [item.fiscal_year for item in project.budget_by_year] == [2566, 2567]
    assert project.budget_by_year[1].amount == Decimal("500000.50")
    contract = ENTITY_TYPES["contract"].model_validate(EXAMPLES["contract"])
    assert contract.contract_number_normalized == "กจด.ป.115/2568"
    assert contract.signed_on.isoformat() == "2025-07-01"
    line = ENTITY_TYPES["budget_line"].model_validate(EXAMPLES["budget_line"])
    assert "\t" not in line.description and not line.description.endswith('"')


@pytest.mark.parametrize(
    ("entity_type", "change", "field", "rule"),
    [
        ("budget_line", {"amount": "-5"}, "amount", "money.negative"),
        ("budget_line", {"amount": 1.5}, "amount", "money.float"),
        ("budget_line", {"amount": "NaN"}, "amount", None),
        ("budget_line", {"fiscal_year": 2016}, "fiscal_year", "fiscal_year.ce_where_be_expected"),
        ("budget_line", {"phase": "spent"}, "phase", "literal_error"),
        ("budget_line", {"colour": "red"}, "colour", "extra_forbidden"),
        ("contract", {"ends_on": "01/01/2568"}, "", "contract.ends_before_signed"),
        ("contract", {"supplier_tax_id": "0105549007975"}, "supplier_tax_id", "code.th-tin.check_digit"),
        ("plan_project", {"budget_by_year": [{"fiscal_year": 2566, "amount": "1"}] * 2}, "", "plan_project.duplicate_year"),
        ("development_plan", {"period_end": 2560}, "", "plan.period_reversed"),
        ("progress_report", {"physical_progress_pct": "101"}, "physical_progress_pct", "less_than_equal"),
    ],
)
def test_rejections_name_field_value_and_rule(entity_type: str, change: dict, field: str, rule: str | None) -> None:
    model = ENTITY_TYPES[entity_type]
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**EXAMPLES[entity_type], **change})
    rejections = rejections_from_validation_error(caught.value)
    assert rejections, "a validation error must produce at least one rejection"
    fields = [r.field or "" for r in rejections]
    assert any(f == field or f.startswith(field) for f in fields), fields
    if rule is not None:
        assert rule in [r.rule for r in rejections]


def test_content_hash_ignores_envelope_and_field_order() -> None:
    project = PlanProject.model_validate(EXAMPLES["plan_project"])
    body = project.content()
    reordered = dict(reversed(list(body.items())))
    assert content_hash(body) == content_hash(reordered)
    versioned = project.model_copy(update={"id": "x", "version": 3})
    assert versioned.compute_content_hash() == project.compute_content_hash()
    changed = project.model_copy(update={"title": "อื่น"})
    assert changed.compute_content_hash() != project.compute_content_hash()


def _number_fields(schema: Any, path: str = "") -> list[str]:
    if isinstance(schema, dict):
        found = [path] if schema.get("type") == "number" else []
        return found + [f for key, value in schema.items() for f in _number_fields(value, f"{path}/{key}")]
    if isinstance(schema, list):
        return [f for i, value in enumerate(schema) for f in _number_fields(value, f"{path}/{i}")]
    return []


@pytest.mark.parametrize("entity_type", sorted(ENTITY_TYPES))
def test_no_entity_type_has_a_number_field(entity_type: str) -> None:
    """What lets orjson write canonical bodies (canonical_model/envelope.py body_text, content_hash): it
    writes floats otherwise than json.dumps, which would change the hash of every body holding one. (A
    Decimal is taken as a number or a string, but written as a string: the schema of what is written.)"""
    assert _number_fields(ENTITY_TYPES[entity_type].model_json_schema(mode="serialization")) == []


_AWKWARD_TEXT = "".join(chr(c) for c in range(0x00, 0x250)) + "ก\u0e33๑๒๓\u200b\u202e\u2028\u2029\ufeff\"'\\😀"


@pytest.mark.parametrize("entity_type", sorted(EXAMPLES))
def test_body_text_and_content_hash_write_what_json_dumps_wrote(entity_type: str) -> None:
    body = ENTITY_TYPES[entity_type].model_validate(EXAMPLES[entity_type]).content()
    bodies = [body, {**body, "notes": _AWKWARD_TEXT, "nested": [{"z": None, "a": [True, False, 0, -1, 2**63 - 1]}]}]
    for value in bodies:
        assert body_text(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        written = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert content_hash(value) == hashlib.sha256(written.encode("utf-8")).hexdigest()


def test_body_text_writes_what_orjson_cannot_as_json_does() -> None:
    awkward = {1: "key not text", "big": 2**70, "amount": Decimal("1.50"), "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)}
    assert body_text(awkward) == json.dumps(awkward, ensure_ascii=False, separators=(",", ":"), default=str)
    dated = {"at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "day": date(2026, 1, 2), "amount": Decimal("1.50")}
    assert body_text(dated) == json.dumps(dated, ensure_ascii=False, separators=(",", ":"), default=str)
    assert json.loads(body_text(dated)) == {"at": "2026-01-02 03:04:00+00:00", "day": "2026-01-02", "amount": "1.50"}
    big = {"b": 2**70, "a": "ก"}
    written = json.dumps(big, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(big) == hashlib.sha256(written.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("entity_type", sorted(EXAMPLES))
def test_field_or_none_answers_what_getattr_answers(entity_type: str) -> None:
    entity = ENTITY_TYPES[entity_type].model_validate(EXAMPLES[entity_type])
    names = ["fiscal_year", "classification", "org_code", "sources", "id", "content", "not_a_field", *EXAMPLES[entity_type]]
    for name in names:
        assert field_or_none(entity, name) == getattr(entity, name, None), name
    assert field_or_none(SimpleNamespace(fiscal_year=2568), "fiscal_year") == 2568
    assert field_or_none(SimpleNamespace(), "fiscal_year") is None


@settings(max_examples=150, deadline=None)
@given(
    amounts=st.lists(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False), min_size=1, max_size=5),
    start=st.integers(min_value=2400, max_value=2690),
)
def test_plan_project_round_trips_any_amounts(amounts: list[Decimal], start: int) -> None:
    project = PlanProject(
        org_code="6810403",
        title="โครงการ",
        budget_by_year=[{"fiscal_year": start + i, "amount": str(a)} for i, a in enumerate(amounts)],
    )
    again = PlanProject.model_validate_json(project.model_dump_json())
    assert again == project
    assert [item.amount for item in again.budget_by_year] == [a.quantize(Decimal("0.01")) for a in amounts]
