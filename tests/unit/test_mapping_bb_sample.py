"""Every row of the real Budget Bureau sample (govspending bbgfproject, FY 2559) through the bb mapping.

The sample turns out clean on the fields the mapping reads (no zero or negative amounts, no missing
fields, every bb_code of the 16-character shape), so all 7,480 rows map. Its real defects are the ones
the mapping must normalise, not reject: tab characters and wrapping quotes in names, trailing spaces in
plan names, the API's short spellings of งบรายจ่าย (งบอุดหนุน, รายจ่ายอื่น), and bb_codes repeated
across expense categories. The rejection paths are exercised on real rows with one field broken.
"""

from __future__ import annotations

import collections
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canonical_model import ENTITY_TYPES
from core.mapping import Mapping, MappingError
from core.reference_data import load_reference_data
from tests.shipped_data import bb_sample_rows

MAPPING = Path(__file__).resolve().parents[1] / "data" / "mappings" / "bb_grant_budget_line.yaml"

@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return Mapping.from_file(MAPPING, reference=load_reference_data())


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return bb_sample_rows()


def _row(rows: list[dict[str, Any]], bb_code: str, objc: str | None = None) -> dict[str, Any]:
    return next(r for r in rows if r["bb_code"] == bb_code and objc in (None, r["objc_level1_name"]))


def test_every_row_maps_and_validates_or_is_rejected_with_a_reason(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    model = ENTITY_TYPES["budget_line"]
    accepted = 0
    rejected: collections.Counter[str] = collections.Counter()
    for row in rows:
        payload, problems = mapping.try_map_in(row)
        if problems:
            rejections = MappingError(problems).as_rejections()
            assert all(r.rule and r.field for r in rejections)
            rejected.update(r.rule for r in rejections[:1])
            continue
        model.model_validate(payload)
        accepted += 1
    print(f"\nbb sample: accepted {accepted}, rejected {sum(rejected.values())} {dict(rejected)}")
    assert accepted + sum(rejected.values()) == 7480
    assert accepted >= 0.95 * 7480


def test_names_lose_tabs_and_stray_quotes(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    row = next(r for r in rows if r["name"].startswith('"เงินอุดหนุนสำหรับสนับสนุนการบริการสาธารณสุข'))
    assert row["name"] == '"เงินอุดหนุนสำหรับสนับสนุนการบริการสาธารณสุข\t\t"'
    assert mapping.map_in(row)["description"] == "เงินอุดหนุนสำหรับสนับสนุนการบริการสาธารณสุข"


def test_first_row_in_full(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    payload = mapping.map_in(_row(rows, "1500874013500001"))
    assert payload["fiscal_year"] == 2559 and payload["phase"] == "approved"
    assert payload["amount"] == Decimal("57972199200.00")
    assert payload["org_code"] == "15008"
    assert payload["sources"] == [{"system": "ebudget", "external_id": "1500874013500001:subsidy"}]
    assert [(c["level"], c["code"]) for c in payload["classification"]] == [
        ("ministry", "15000"),
        ("budgetary_unit", "15008"),
        ("budget_plan", "15008-74"),
        ("category_lv1", "subsidy"),
    ]
    # The API's spelling งบอุดหนุน becomes the official name.
    assert payload["classification"][3]["name"] == "งบเงินอุดหนุน"


def test_plan_name_with_trailing_space_and_shared_bb_code(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    # One bb_code, two lines (personnel and operating): the external ids must differ.
    personnel = mapping.map_in(_row(rows, "1500425014000000", "งบบุคลากร"))
    operating = mapping.map_in(_row(rows, "1500425014000000", "งบดำเนินงาน"))
    assert personnel["sources"][0]["external_id"] == "1500425014000000:personnel"
    assert operating["sources"][0]["external_id"] == "1500425014000000:operating"
    plan = personnel["classification"][2]
    assert (plan["code"], plan["name"]) == ("15004-25", "พัฒนาเศรษฐกิจระดับฐานราก")  # "...ฐานราก " in the data


def test_map_out_gives_back_the_native_fields(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    row = _row(rows, "1500883002600IT3")
    native = mapping.map_out(mapping.map_in(row))
    assert native["bb_code"] == row["bb_code"] and native["amount"] == row["amount"]
    assert native["bb_year"] == 2559 and native["agc_code"] == row["agc_code"]
    for key in ("min_code", "agc_code", "objc_level1_name"):
        assert native[key] == row[key]
    assert set(native) == {"bb_year", "amount", "name", "bb_code", "min_code", "min", "agc_code", "agc", "plan_name",
                           "objc_level1_name"}


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", 0, None),  # zero is a legal amount for Money (>= 0); it maps
        ("amount", -2457500, "money.negative"),
        ("amount", 2457500.5, "money."),  # a float from a JSON parser is refused, not rounded
        ("amount", None, "mapping.missing_field"),
        ("bb_year", "2016", "fiscal_year."),
        ("bb_code", "15008830026", "code.bb-budget."),
        ("bb_code", "", "mapping.missing_field"),
        ("agc_code", "15099", "codelist.unknown_code"),
        ("plan_name", "แผนงานที่ไม่มี", "codelist.unknown_name"),
        ("objc_level1_name", "งบกลาง", "codelist.unknown_name"),
        ("name", "\t  ", "mapping.missing_field"),
    ],
)
def test_real_row_with_one_field_broken(
    mapping: Mapping, rows: list[dict[str, Any]], field: str, value: Any, rule: str | None
) -> None:
    row = dict(_row(rows, "1500883002600IT3"))
    row[field] = value
    payload, problems = mapping.try_map_in(row)
    if rule is None:
        assert not problems
        return
    assert problems, payload
    rejections = MappingError(problems).as_rejections()
    assert rejections[0].rule.startswith(rule), rejections
    # The rejection names the native field the sender typed.
    assert field in {r.field for r in rejections}


def test_missing_fields_are_all_reported(mapping: Mapping, rows: list[dict[str, Any]]) -> None:
    row = {k: v for k, v in _row(rows, "1500883002600IT3").items() if k not in ("amount", "bb_year", "agc_code")}
    with pytest.raises(MappingError) as caught:
        mapping.map_in(row)
    assert {"amount", "bb_year", "agc_code"} <= {r.field for r in caught.value.as_rejections()}
