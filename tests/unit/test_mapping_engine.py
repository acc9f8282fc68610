"""The mapping engine on small hand-written mappings: rules, converters, unpivot, errors with lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.mapping import Mapping, MappingError, MappingSpecError

HEAD = "mapping: t\nversion: 3\nsystem: demo\nentity_type: plan_project\nfields:\n"


def m(rules: str, **kw: object) -> Mapping:
    return Mapping.from_yaml(HEAD + rules, **kw)


def test_rename_nested_const_default_and_back() -> None:
    mapping = m(
        """\
  - {target: title, source: ชื่อโครงการ, convert: text}
  - {target: location.subdistrict_code, source: place.tambon, convert: {code: dopa-subdistrict}}
  - {target: links.first_kpi, source: "kpis[0].name"}
  - {target: status, const: draft}
  - {target: funding_source, source: แหล่งเงิน, default: own_revenue}
"""
    )
    record = {"ชื่อโครงการ": ' "ถนน\tคสล." ', "place": {"tambon": "๑๐๐๑๐๑"}, "kpis": [{"name": "km"}]}
    payload = mapping.map_in(record)
    assert payload == {
        "title": "ถนน คสล.",
        "location": {"subdistrict_code": "100101"},
        "links": {"first_kpi": "km"},
        "status": "draft",
        "funding_source": "own_revenue",
    }
    assert mapping.map_out(payload) == {
        "ชื่อโครงการ": "ถนน คสล.",
        "place": {"tambon": "100101"},
        "kpis": [{"name": "km"}],
        "แหล่งเงิน": "own_revenue",
    }
    assert mapping.provenance == {"mapping": "t", "version": 3, "system": "demo"}


def test_header_with_dots_is_one_key() -> None:
    mapping = m("  - {target: amount, source: งบประมาณ (บาท.), convert: money}\n")
    assert mapping.map_in({"งบประมาณ (บาท.)": "1,000"}) == {"amount": Decimal("1000.00")}


def test_selector_paths_find_or_create_items() -> None:
    mapping = m(
        """\
  - {target: "classification[level=plan].code", source: plan}
  - {target: "classification[level=unit].code", source: unit}
"""
    )
    payload = mapping.map_in({"plan": "P", "unit": "U"})
    assert payload == {"classification": [{"level": "plan", "code": "P"}, {"level": "unit", "code": "U"}]}
    # Order in the payload does not matter on the way out.
    payload["classification"].reverse()
    assert mapping.map_out(payload) == {"plan": "P", "unit": "U"}


def test_every_problem_is_collected_with_its_yaml_line() -> None:
    mapping = m(
        """\
  - target: amount
    source: งบประมาณ
    convert: money
  - target: fiscal_year
    source: ปี
    convert: fiscal_year
  - target: title
    source: ชื่อ
"""
    )
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"งบประมาณ": "1e5", "ปี": "2024"})
    problems = {p.source_field: p for p in caught.value.problems}
    assert set(problems) == {"งบประมาณ", "ปี", "ชื่อ"}
    assert problems["งบประมาณ"].line == 6 and problems["งบประมาณ"].rule.startswith("money.")
    assert problems["ปี"].line == 9 and problems["ปี"].rule.startswith("fiscal_year.")
    assert problems["ชื่อ"].line == 12 and problems["ชื่อ"].rule == "mapping.missing_field"
    rejections = caught.value.as_rejections()
    assert {r.field for r in rejections} == {"งบประมาณ", "ปี", "ชื่อ"}
    assert all(r.rule and r.reason for r in rejections)


def test_optional_and_empty_markers() -> None:
    mapping = m(
        """\
  - {target: kpi, source: ตัวชี้วัด, required: false, convert: text}
  - {target: signed_on, source: วันที่, required: false, convert: thai_date}
"""
    )
    assert mapping.map_in({"ตัวชี้วัด": "  ", "วันที่": "-"}) == {}
    assert mapping.map_in({}) == {}


def test_each_maps_list_items_and_names_the_item_in_problems() -> None:
    mapping = m(
        """\
  - target: provinces
    each: compare
    fields:
      - {target: province, source: bb_province, convert: text}
      - {target: amount, source: bb_amount, convert: {money: {out: int}}}
"""
    )
    record = {"compare": [{"bb_amount": 10, "bb_province": "น่าน"}, {"bb_amount": 20, "bb_province": "แพร่"}]}
    payload = mapping.map_in(record)
    assert payload["provinces"][1] == {"province": "แพร่", "amount": Decimal("20.00")}
    assert mapping.map_out(payload) == record
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"compare": [{"bb_amount": 1, "bb_province": "x"}, {"bb_amount": None, "bb_province": "y"}]})
    [problem] = caught.value.problems
    assert problem.source_field == "compare[1].bb_amount"
    assert problem.target == "provinces[1].amount"
    assert problem.rule == "mapping.missing_field"


UNPIVOT_PATTERN = r"""
  - target: budget_by_year
    unpivot:
      pattern: '^งบประมาณ\s*(?P<fiscal_year>[0-9๐-๙]{4})$'
      column: "งบประมาณ {fiscal_year}"
      keys: {fiscal_year: {fiscal_year: be}}
      value: amount
      convert: money
"""


def test_unpivot_by_pattern_any_years_thai_digits_and_skips_empty() -> None:
    mapping = m(UNPIVOT_PATTERN)
    record = {"ชื่อ": "x", "งบประมาณ 2566": "1,000", "งบประมาณ ๒๕๖๗": "-", "งบประมาณ2568": "", "งบประมาณ 2569": "5"}
    payload = mapping.map_in(record)
    assert payload == {
        "budget_by_year": [
            {"fiscal_year": 2566, "amount": Decimal("1000.00")},
            {"fiscal_year": 2569, "amount": Decimal("5.00")},
        ]
    }
    assert mapping.map_out(payload) == {"งบประมาณ 2566": "1000.00", "งบประมาณ 2569": "5.00"}


def test_unpivot_bad_cell_names_the_column() -> None:
    mapping = m(UNPIVOT_PATTERN)
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"งบประมาณ 2566": "abc", "งบประมาณ 2567": "-5"})
    assert [p.source_field for p in caught.value.problems] == ["งบประมาณ 2566", "งบประมาณ 2567"]


def test_unpivot_ofdp_columns() -> None:
    mapping = m(
        """\
  - target: budget_by_year
    unpivot:
      columns:
        "งบประมาณ 2566": {fiscal_year: 2566}
        "งบประมาณ 2567": {fiscal_year: "2567"}
      keys: {fiscal_year: {fiscal_year: be}}
      convert: {money: {out: thousands}}
"""
    )
    payload = mapping.map_in({"งบประมาณ 2566": "1000", "งบประมาณ 2567": "2,500.5", "งบประมาณ 2570": "9"})
    assert payload["budget_by_year"] == [
        {"fiscal_year": 2566, "amount": Decimal("1000.00")},
        {"fiscal_year": 2567, "amount": Decimal("2500.50")},
    ]
    assert mapping.map_out(payload) == {"งบประมาณ 2566": "1,000.00", "งบประมาณ 2567": "2,500.50"}
    with pytest.raises(MappingError) as caught:
        mapping.map_out({"budget_by_year": [{"fiscal_year": 2599, "amount": "1"}]})
    assert caught.value.rules == ["mapping.no_column"]


@pytest.mark.parametrize(
    ("step", "native", "canonical", "back"),
    [
        ("{fiscal_year: ce}", "2022", 2565, 2022),
        ("{fiscal_year: {era: two_digit_be}}", "68", 2568, "68"),
        ("{thai_date: abbr_2digit}", "2568-06-19", dt.date(2025, 6, 19), "19 มิ.ย. 68"),
        ("{thai_date: full}", "19 มิ.ย. 68", dt.date(2025, 6, 19), "19 มิถุนายน 2568"),
        ("{thai_date: slash_be}", "19/06/2568", dt.date(2025, 6, 19), "19/06/2568"),
        ("{money: {allow_negative: true}}", "-1,234.5", Decimal("-1234.50"), "-1234.50"),
        ("{money: {out: int}}", 1000, Decimal("1000.00"), 1000),
        ("int", "๑๒", 12, 12),
        ("decimal_percent", "๘๐ %", Decimal("80"), "80"),
        ("{code: {scheme: dla-lao, pad: 7}}", 5810401, "5810401", "5810401"),
        ("{map: {ซื้อ: purchase, จ้าง: hire}}", " จ้าง ", "hire", "จ้าง"),
        ("[text, {map: {อนุมัติ: approved}}]", "อนุมัติ\t", "approved", "อนุมัติ"),
    ],
)
def test_converter_and_inverse(step: str, native: object, canonical: object, back: object) -> None:
    mapping = m(f"  - target: v\n    source: x\n    convert: {step}\n")
    assert mapping.map_in({"x": native}) == {"v": canonical}
    assert mapping.map_out({"v": canonical}) == {"x": back}


def test_rejection_rules_come_from_the_value_parsers() -> None:
    mapping = m("  - {target: v, source: x, convert: money}\n  - {target: w, source: y, convert: {map: {a: 1}}}\n")
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"x": 1.5, "y": "b"})
    rules = caught.value.rules
    assert rules[0].startswith("money.") and rules[1] == "mapping.unmapped_value"


def test_hash_is_stable_under_normalisation_and_one_way() -> None:
    mapping = m(
        "  - {target: key, convert: {hash: {fields: [หน่วยงาน, ชื่อ, วันที่], length: 16, prefix: 'fb-'}}}\n"
        "  - {target: title, source: ชื่อ}\n"
    )
    one = mapping.map_in({"หน่วยงาน": "อบต.ก", "ชื่อ": "ถนน ๑", "วันที่": "x"})["key"]
    two = mapping.map_in({"หน่วยงาน": " อบต.ก\t", "ชื่อ": "ถนน  1", "วันที่": "x"})["key"]
    assert one == two and one.startswith("fb-") and len(one) == 19
    assert mapping.map_out({"key": one, "title": "t"}) == {"ชื่อ": "t"}  # hash skipped on the way out


def test_template_builds_and_parses_back_and_requires_all_parts() -> None:
    mapping = m(
        "  - target: external_id\n"
        "    convert: {template: {template: '{dept}/{no}', parts: {no: {code: egp-project}}}}\n"
    )
    assert mapping.map_in({"dept": "0301", "no": "๖๘๐๖๙๑๖๐๓๗๗"}) == {"external_id": "0301/68069160377"}
    assert mapping.map_out({"external_id": "0301/68069160377"}) == {"dept": "0301", "no": "68069160377"}
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"dept": "0301", "no": "123"})
    assert caught.value.rules[0].startswith("code.egp-project")
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"dept": "0301"})
    assert caught.value.problems[0].source_field == "no"


def test_concat_joins_present_parts() -> None:
    mapping = m("  - {target: t, convert: {concat: {fields: [a, b, c], sep: ' - '}}}\n")
    assert mapping.map_in({"a": "x", "c": " y "}) == {"t": "x - y"}


def test_out_block_for_one_way_rules() -> None:
    mapping = m(
        "  - target: fiscal_year\n    source: เลขที่โครงการ\n    convert: {fiscal_year: egp_project_number}\n"
        "    out: {target: ปีงบประมาณ}\n"
        "  - {target: phase, const: approved, out: {target: สถานะ, const: อนุมัติ}}\n"
    )
    assert mapping.map_in({"เลขที่โครงการ": "68069160377"}) == {"fiscal_year": 2568, "phase": "approved"}
    assert mapping.map_out({"fiscal_year": 2568, "phase": "approved"}) == {"ปีงบประมาณ": 2568, "สถานะ": "อนุมัติ"}


class _Node:
    def __init__(self, code: str, name_th: str, level: str, parent: str | None = None) -> None:
        self.code, self.name_th, self.level, self.parent = code, name_th, level, parent


class _CodeList:
    levels = ["unit", "plan"]

    def __init__(self) -> None:
        self.nodes = [_Node("A", "กรมเอ", "unit"), _Node("A-1", "แผนหนึ่ง", "plan", "A"), _Node("B-1", "แผนหนึ่ง", "plan", "B")]

    def get(self, code: str) -> _Node | None:
        return next((n for n in self.nodes if n.code == code), None)

    def by_name(self, name: str, level: str | None = None, parent: str | None = None) -> _Node | None:
        found = [n for n in self.nodes if n.name_th == name and level in (None, n.level) and parent in (None, n.parent)]
        return found[0] if len(found) == 1 else None


class _Crosswalk:
    rows = [{"source_code": "L1", "target_code": "N1"}]

    def translate(self, code: str) -> str:
        from canonical_model.rejection import Rejection

        if code != "L1":
            raise Rejection("crosswalk.unmapped", "no row", code)
        return "N1"


class _Reference:
    code_lists = {"demo": _CodeList()}
    crosswalks = {"l2n": _Crosswalk()}


def test_codelist_by_name_under_parent_and_crosswalk_both_ways() -> None:
    mapping = m(
        "  - {target: plan, source: แผน, convert: {codelist: {scheme: demo, match: name, level: plan, parent_field: หน่วย}}}\n"
        "  - {target: unit, source: หน่วย, convert: {codelist: {scheme: demo, level: unit}}}\n"
        "  - {target: national, source: local, convert: {crosswalk: l2n}}\n",
        reference=_Reference(),
    )
    payload = mapping.map_in({"แผน": "แผนหนึ่ง", "หน่วย": "A", "local": "L1"})
    assert payload == {"plan": "A-1", "unit": "A", "national": "N1"}
    assert mapping.map_out(payload) == {"แผน": "แผนหนึ่ง", "หน่วย": "A", "local": "L1"}
    with pytest.raises(MappingError) as caught:
        mapping.map_in({"แผน": "แผนสอง", "หน่วย": "A-1", "local": "L9"})
    assert caught.value.rules == ["codelist.unknown_name", "codelist.wrong_level", "crosswalk.unmapped"]


@pytest.mark.parametrize(
    ("rules", "line", "rule"),
    [
        ("  - {target: a, source: b}\n  - {target: c, sorce: d}\n", 7, "mapping.unknown_key"),
        ("  - {target: a, source: b}\n  - target: c\n    source: d\n    convert: mony\n", 7, "mapping.unknown_converter"),
        ("  - target: c\n    source: d\n    convert: {money: {allow_negativ: true}}\n", 6, "mapping.bad_args"),
        ("  - target: c\n    source: d\n    convert: {fiscal_year: julian}\n", 6, "mapping.bad_args"),
        ("  - {target: c, source: d, convert: {codelist: x}}\n", 6, "mapping.reference_missing"),
        ("  - {target: c, source: d, const: 1}\n", 6, "mapping.spec"),
        ("  - {target: 'c..d', source: d}\n", 6, "mapping.bad_path"),
        ("  - target: c\n    unpivot: {pattern: '^y(\\d+)$'}\n", 6, "mapping.bad_pattern"),
        ("  - {target: c, convert: {hash: [a]}, out: true}\n", 6, "mapping.one_way"),
        ("  - {target: c, source: d\n", 6, "mapping.yaml"),
    ],
)
def test_malformed_mapping_fails_at_load_with_line(rules: str, line: int, rule: str) -> None:
    with pytest.raises(MappingSpecError) as caught:
        m(rules)
    assert caught.value.problems[0].rule == rule, caught.value
    assert caught.value.line == line, caught.value


def test_header_is_checked() -> None:
    with pytest.raises(MappingSpecError) as caught:
        Mapping.from_yaml("mapping: t\nversion: 1\nsystem: s\nentity_type: e\ndirection: sideways\nfields: []\n")
    assert caught.value.line == 5


def test_direction_is_enforced() -> None:
    one_way = Mapping.from_yaml("mapping: t\nversion: 1\nsystem: s\nentity_type: e\ndirection: in\nfields:\n"
                                "  - {target: k, convert: {hash: [a]}}\n")
    assert "k" in one_way.map_in({"a": "1"})
    with pytest.raises(RuntimeError):
        one_way.map_out({"k": "x"})


def test_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "  - {target: a, source: b}\n", encoding="utf-8")
    assert Mapping.from_file(path).map_in({"b": 1}) == {"a": 1}
    assert Mapping.from_yaml(str(path)).name == "t"
