"""Code lists and crosswalks: construction checks on small trees, behaviour on the shipped config files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.shipped_data import bb_sample_rows
import yaml

from canonical_model.codelists import CodeList, CodeListError, CodeNode, Crosswalk, CrosswalkRow
from canonical_model.rejection import Rejection

REPO = Path(__file__).resolve().parents[2]
CODELISTS = REPO / "config" / "codelists"
CROSSWALKS = REPO / "config" / "crosswalks"


def load_list(scheme: str) -> CodeList:
    return CodeList.from_dict(yaml.safe_load((CODELISTS / f"{scheme}.yaml").read_text(encoding="utf-8")))


def load_crosswalk(name: str) -> Crosswalk:
    return Crosswalk.from_dict(yaml.safe_load((CROSSWALKS / f"{name}.yaml").read_text(encoding="utf-8")))


def shipped_list(name: str, scheme: str) -> Any:
    """A module fixture `name`: the shipped code list `scheme`, read once."""

    @pytest.fixture(scope="module", name=name)
    def fixture() -> CodeList:
        return load_list(scheme)

    return fixture


local = shipped_list("local", "local-classification")
local_expense = shipped_list("local_expense", "local-expense-category")
national = shipped_list("national", "national-classification")
national_expense = shipped_list("national_expense", "national-expense-category")


@pytest.fixture(scope="module")
def bb_items() -> list[dict]:
    return bb_sample_rows()


def node(code: str, parent: str | None, level: str, scheme: str = "t") -> CodeNode:
    return CodeNode(scheme, code, f"name {code}", parent, level, None, None)


# --- construction checks -------------------------------------------------------------------------------


def test_a_consistent_tree_builds() -> None:
    tree = CodeList("t", ["a", "b"], [node("1", None, "a"), node("11", "1", "b")])
    assert [n.code for n in tree.path("11")] == ["1", "11"]


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ([node("1", None, "a"), node("1", None, "a")], "duplicate code"),
        ([node("1", None, "a"), node("11", "9", "b")], "parent '9' does not exist"),
        ([node("1", None, "a"), node("11", "1", "b"), node("12", "11", "b")], "needs a parent at level 'a'"),
        ([node("11", None, "b")], "not the top level"),
        ([node("1", None, "a"), node("11", "1", "z")], "level 'z' is not one of"),
        ([node("1", "2", "b"), node("2", "1", "b")], "cycle"),
        ([node("1", None, "a", scheme="other")], "scheme 'other'"),
    ],
)
def test_an_inconsistent_tree_is_refused(nodes: list[CodeNode], expected: str) -> None:
    with pytest.raises(CodeListError, match=expected):
        CodeList("t", ["a", "b"], nodes)


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(CodeListError) as info:
        CodeList("t", ["a", "b"], [node("1", None, "a"), node("1", None, "a"), node("11", "9", "b")])
    assert len(info.value.problems) == 2


def test_a_code_yaml_read_as_a_number_is_refused() -> None:
    # `code: 00110` unquoted is the integer 110 in YAML: the leading zeros are already lost.
    data = yaml.safe_load("scheme: t\nlevels: [a]\nnodes:\n  - {code: 00110, level: a, name_th: x}\n")
    with pytest.raises(CodeListError, match="quoted string"):
        CodeList.from_dict(data)


def test_crosswalk_rows_of_one_code_may_not_overlap_in_time() -> None:
    rows = [
        CrosswalkRow("a", "x", date(2020, 10, 1), date(2022, 9, 30)),
        CrosswalkRow("a", "y", date(2022, 9, 1), None),
    ]
    with pytest.raises(CodeListError, match="overlap"):
        Crosswalk("c", "1", "s", "t", tuple(rows))


def test_crosswalk_picks_the_row_in_effect_and_needs_a_date_when_targets_differ() -> None:
    cw = Crosswalk(
        "c",
        "2",
        "s",
        "t",
        (CrosswalkRow("a", "x", None, date(2022, 9, 30)), CrosswalkRow("a", "y", date(2022, 10, 1), None)),
    )
    assert cw.translate("a", on=date(2021, 1, 1)) == "x"
    assert cw.translate("a", on=date(2023, 1, 1)) == "y"
    with pytest.raises(Rejection) as info:
        cw.translate("a")
    assert info.value.rule == "crosswalk.date_required"


def test_a_many_to_one_crosswalk_has_no_reverse() -> None:
    cw = Crosswalk("c", "1", "s", "t", (CrosswalkRow("a", "x"), CrosswalkRow("b", "x")))
    with pytest.raises(CodeListError, match="not one-to-one"):
        cw.reverse()


def test_validate_against_names_each_missing_code(
    local_expense: CodeList, national_expense: CodeList
) -> None:
    cw = Crosswalk(
        "c",
        "1",
        "local-expense-category",
        "national-expense-category",
        (
            CrosswalkRow("personnel", "personnel"),
            CrosswalkRow("central", "central"),
            CrosswalkRow("nope", "other"),
        ),
    )
    with pytest.raises(CodeListError) as info:
        cw.validate_against(local_expense, national_expense)
    text = " ".join(info.value.problems)
    assert "'central' is not in national-expense-category" in text
    assert "'nope' is not in local-expense-category" in text
    assert len(info.value.problems) == 2


# --- local classification (reference §2.2) -------------------------------------------------------------


def test_local_tree_has_the_4_sectors_and_12_programmes_of_the_reference(local: CodeList) -> None:
    assert len(local.at_level("sector")) == 4
    programmes = local.at_level("programme")
    assert len(programmes) == 12
    # The reference's table gives codes ending in 0 for แผนงาน and 00 for ด้าน: a typo would show here.
    assert all(p.code.endswith("0") and p.parent and p.code[:3] == p.parent[:3] for p in programmes)


def test_path_of_a_real_activity_runs_sector_programme_activity(local: CodeList) -> None:
    path = local.path("00212")
    assert [n.level for n in path] == ["sector", "programme", "activity"]
    assert [n.name_th for n in path] == [
        "ด้านบริการชุมชนและสังคม",
        "แผนงานการศึกษา",
        "งานระดับก่อนวัยเรียนและประถมศึกษา",
    ]


def test_reference_example_resolves_by_name(local: CodeList) -> None:
    # "แผนงานบริหารงานทั่วไป › งานบริหารทั่วไป" (reference §2.2), written as a budget bill writes it.
    programme = local.by_name("แผนงานบริหารงานทั่วไป")
    assert programme is not None
    activity = local.by_name(" งานบริหารทั่วไป\u200b", parent=programme.code)
    assert activity is not None and activity.code == "00111"
    # Runs of spaces and tabs inside a name fold to the single space the list holds.
    assert local.by_name("แผนงานการศาสนา  วัฒนธรรม\tและนันทนาการ ").code == "00260"  # type: ignore[union-attr]


def test_a_name_used_at_two_levels_needs_a_level(local: CodeList) -> None:
    # The reference names both the ด้าน and its first งาน "บริหารทั่วไป".
    with pytest.raises(Rejection) as info:
        local.by_name("บริหารทั่วไป")
    assert info.value.rule == "codelist.ambiguous_name"
    assert local.by_name("บริหารทั่วไป", level="sector").code == "00100"  # type: ignore[union-attr]


def test_children_and_unknown_codes(local: CodeList) -> None:
    assert [n.code for n in local.children("00110")] == ["00111", "00112", "00113"]
    with pytest.raises(Rejection) as info:
        local.require("00999", field="classification.0.code")
    assert (info.value.rule, info.value.value, info.value.field) == (
        "codelist.unknown_code",
        "00999",
        "classification.0.code",
    )
    assert local.get("00999") is None


def test_local_expense_groups_match_the_reference(local_expense: CodeList) -> None:
    groups = {n.name_th for n in local_expense.at_level("budget_group")}
    assert groups == {"งบบุคลากร", "งบดำเนินงาน", "งบลงทุน", "งบเงินอุดหนุน", "งบรายจ่ายอื่น", "งบกลาง"}
    operating = local_expense.by_name("งบดำเนินงาน")
    assert operating is not None
    assert {n.name_th for n in local_expense.children(operating.code)} == {
        "ค่าตอบแทน",
        "ค่าใช้สอย",
        "ค่าวัสดุ",
        "ค่าสาธารณูปโภค",
    }


# --- national classification against the real FY 2559 Budget Bureau sample --------------------------------


def test_every_objc_level1_name_in_the_sample_resolves(
    national_expense: CodeList, bb_items: list[dict]
) -> None:
    seen = {item["objc_level1_name"] for item in bb_items}
    assert "งบอุดหนุน" in seen and "รายจ่ายอื่น" in seen  # the short spellings the aliases exist for
    for name in seen:
        found = national_expense.by_name(name, level="category_lv1")
        assert found is not None, name


def test_every_agency_in_the_sample_is_in_the_national_tree(national: CodeList, bb_items: list[dict]) -> None:
    for item in bb_items:
        agency = national.require(item["agc_code"])
        assert agency.level == "budgetary_unit"
        assert agency.parent == item["min_code"]
        assert national.require(item["min_code"]).name_th == item["min"]


def test_every_plan_of_the_sample_resolves_under_its_agency(national: CodeList, bb_items: list[dict]) -> None:
    # Plan names come with trailing spaces and "บําบัด" typed with nikhahit + sara aa; they must still match.
    for item in bb_items:
        plan = national.by_name(item["plan_name"], level="budget_plan", parent=item["agc_code"])
        assert plan is not None, (item["agc_code"], item["plan_name"])
        assert plan.code == f"{item['agc_code']}-{item['bb_code'][5:7]}"


def test_national_path_of_a_real_plan(national: CodeList) -> None:
    path = national.path("15008-83")
    assert [n.name_th for n in path] == [
        "กระทรวงมหาดไทย",
        "กรมส่งเสริมการปกครองท้องถิ่น",
        "ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น",
    ]


# --- crosswalk local -> national economic ------------------------------------------------------------------


def test_each_shared_local_group_translates_to_the_national_group_of_the_same_name(
    local_expense: CodeList, national_expense: CodeList
) -> None:
    cw = load_crosswalk("local-to-national-expense-category")
    cw.validate_against(local_expense, national_expense)
    shared = [n for n in local_expense.at_level("budget_group") if n.name_th != "งบกลาง"]
    assert len(shared) == 5
    for group in shared:
        target = national_expense.require(cw.translate(group.code, on=date(2025, 6, 11)))
        assert target.level == "category_lv1"
        assert target.name_th == group.name_th


def test_local_central_budget_and_unknown_codes_are_unmapped() -> None:
    cw = load_crosswalk("local-to-national-expense-category")
    for code in ("central", "operating.utilities", "no-such-code"):
        with pytest.raises(Rejection) as info:
            cw.translate(code)
        assert info.value.rule == "crosswalk.unmapped"
        assert info.value.value == code


def test_crosswalk_is_not_in_effect_before_its_first_date() -> None:
    cw = load_crosswalk("local-to-national-expense-category")
    with pytest.raises(Rejection) as info:
        cw.translate("personnel", on=date(2015, 9, 30))
    assert info.value.rule == "crosswalk.unmapped"
    assert cw.translate("personnel", on=date(2015, 10, 1)) == "personnel"


def test_reverse_of_the_one_to_one_crosswalk_round_trips() -> None:
    cw = load_crosswalk("local-to-national-expense-category")
    back = cw.reverse()
    assert (back.source_scheme, back.target_scheme) == (cw.target_scheme, cw.source_scheme)
    for row in cw.rows:
        assert back.translate(cw.translate(row.source_code)) == row.source_code
