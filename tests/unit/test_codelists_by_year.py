"""Code lists by fiscal year: "which nodes exist in FY N", from the nodes' own dates and from the layer of
nodes an authority added for that year; and which nodes e-budgeting's lines add."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical_model.codelists import CodeList, CodeListError, CodeNode, YearlyCodeList
from canonical_model.entities import BudgetLine
from canonical_model.rejection import Rejection
from core.classification import Classifications, native_values
from core.ingest import require_owner
from core.reference_data import load_reference_data
from core.store.records import IncomingEntity

LEVELS = ["ministry", "budgetary_unit", "budget_plan"]


def node(code: str, parent: str | None, level: str, valid_from: date | None = None, valid_to: date | None = None) -> CodeNode:
    return CodeNode("t", code, f"name {code}", parent, level, valid_from, valid_to)


def tree() -> CodeList:
    return CodeList(
        "t",
        LEVELS,
        [
            node("1", None, "ministry"),
            node("11", "1", "budgetary_unit"),
            # FY 2559 only: 1 October 2015 to 30 September 2016.
            node("11-01", "11", "budget_plan", date(2015, 10, 1), date(2016, 9, 30)),
            node("12", "1", "budgetary_unit", valid_to=date(2016, 9, 30)),
            node("12-01", "12", "budget_plan"),  # undated, but its agency ends with FY 2559
            node("11-02", "11", "budget_plan", valid_from=date(2016, 10, 1)),  # from FY 2560 on
        ],
    )


def codes(code_list: CodeList) -> list[str]:
    return [n.code for n in code_list]


def test_a_fiscal_year_holds_the_nodes_valid_on_one_of_its_days_with_everything_above_them() -> None:
    assert codes(tree().in_fiscal_year(2559)) == ["1", "11", "11-01", "12", "12-01"]
    assert codes(tree().in_fiscal_year(2560)) == ["1", "11", "11-02"]
    assert codes(tree().in_fiscal_year(2558)) == ["1", "11", "12", "12-01"]


def test_the_fiscal_year_runs_october_to_september() -> None:
    ends = node("x", None, "ministry", valid_to=date(2016, 10, 1))  # one day into FY 2560
    assert ends.valid_in_fiscal_year(2560) and ends.valid_in_fiscal_year(2559)
    starts = node("y", None, "ministry", valid_from=date(2016, 9, 30))  # the last day of FY 2559
    assert starts.valid_in_fiscal_year(2559) and not starts.valid_in_fiscal_year(2558)


def test_a_layer_belongs_to_its_year_only() -> None:
    yearly = YearlyCodeList(tree())
    added = yearly.with_added(2561, [node("11-51", "11", "budget_plan"), node("13", "1", "budgetary_unit")])
    assert codes(added.in_fiscal_year(2561)) == ["1", "11", "11-02", "11-51", "13"]
    assert added.get("11-51", 2561).valid_from == date(2017, 10, 1)
    assert added.get("11-51", 2561).valid_to == date(2018, 9, 30)
    assert added.get("11-51", 2562) is None and added.get("11-51", 2560) is None
    assert added.get("11-51") is not None  # in some year
    assert added.added(2561)[0].code == "11-51" and added.years_added() == [2561]
    # Immutable: the list it came from is unchanged.
    assert yearly.get("11-51") is None and yearly.added() == []


def test_adding_a_node_the_year_already_has_changes_nothing() -> None:
    yearly = YearlyCodeList(tree())
    assert yearly.with_added(2561, [node("11", "1", "budgetary_unit")]) is yearly


def test_a_layer_that_does_not_fit_the_tree_is_refused() -> None:
    with pytest.raises(CodeListError, match="parent '99' does not exist"):
        YearlyCodeList(tree(), {2561: [node("99-01", "99", "budget_plan")]})
    # The parent of an added plan must exist in that year: agency 12 ended with FY 2559.
    with pytest.raises(CodeListError, match="FY 2561"):
        YearlyCodeList(tree()).with_added(2561, [node("12-51", "12", "budget_plan")])


def test_the_shipped_fy2559_list_is_whole_in_fy2559() -> None:
    national = load_reference_data().code_lists["national-classification"]
    assert len(national.in_fiscal_year(2559)) == len(national) == 53


# --- what e-budgeting's lines add -------------------------------------------------------------------


@pytest.fixture
def classifications() -> Classifications:
    reference = load_reference_data()
    # The store is only read by load(); these tests stay in memory.
    return Classifications(None, reference.code_lists, {"national-classification": ["ebudget"]})


def line(fiscal_year: int, ministry: str, agency: str, plan: str, plan_name: str = "แผนงานบูรณาการทดสอบ") -> BudgetLine:
    items = [
        ("ministry", ministry, "กระทรวงทดสอบ"),
        ("budgetary_unit", agency, "กรมทดสอบ"),
        ("budget_plan", plan, plan_name),
    ]
    return BudgetLine.model_validate(
        {
            "org_code": agency, "fiscal_year": fiscal_year, "phase": "approved", "description": "รายการทดสอบ",
            "amount": Decimal("1000.00"),
            "classification": [
                {"scheme": "national-classification", "level": lv, "code": c, "name": n} for lv, c, n in items
            ],
        }
    )  # fmt: skip


def test_the_authority_adds_what_the_year_lacks_and_nothing_it_has(classifications: Classifications) -> None:
    native = {"bb_code": "1500851000000001", "plan_name": "แผนงานบูรณาการทดสอบ", "compare": [{"bb_amount": 1}],
              "amount": Decimal("1000.50")}  # fmt: skip
    found = classifications.additions_for("ebudget", line(2561, "15000", "15008", "15008-51"), 3, "x", native)
    assert [(a.level, a.code, a.parent, a.fiscal_year) for a in found] == [("budget_plan", "15008-51", "15008", 2561)]
    assert found[0].native == {"bb_code": "1500851000000001", "plan_name": "แผนงานบูรณาการทดสอบ", "amount": "1000.50"}
    assert found[0].system == "ebudget" and found[0].row == 3 and found[0].key == "2561:national-classification:15008-51"
    # The FY 2559 list's own nodes are not added again.
    assert classifications.additions_for("ebudget", line(2561, "15000", "15008", "15008-74"), 1, "x", {}) == ()


def test_a_new_ministry_and_agency_are_added_parents_first(classifications: Classifications) -> None:
    found = classifications.additions_for("ebudget", line(2561, "13000", "13002", "13002-51"), 1, "x", {})
    assert [(a.level, a.code, a.parent) for a in found] == [
        ("ministry", "13000", None),
        ("budgetary_unit", "13002", "13000"),
        ("budget_plan", "13002-51", "13002"),
    ]
    # Its own additions make the agency a known owner of this very line.
    require_owner(load_reference_data(), "13002", classifications, found)
    with pytest.raises(Rejection, match="no budgetary unit"):
        require_owner(load_reference_data(), "13002", classifications)


def test_other_systems_add_nothing(classifications: Classifications) -> None:
    assert classifications.additions_for("gfmis", line(2561, "13000", "13002", "13002-51"), 1, "x", {}) == ()


def test_a_code_in_another_place_of_the_tree_is_rejected(classifications: Classifications) -> None:
    with pytest.raises(Rejection) as caught:
        classifications.additions_for("ebudget", line(2561, "15000", "15007", "15008-74"), 1, "x", {})
    assert caught.value.rule == "classification.conflict" and caught.value.field == "classification.2.code"


def test_added_nodes_are_known_after_they_are_stored(classifications: Classifications) -> None:
    found = classifications.additions_for("ebudget", line(2561, "13000", "13002", "13002-51"), 1, "x", {})
    entity = IncomingEntity(1, "budget_line", "x", "13002", 2561, {}, "h", classification_additions=found)
    classifications.applied([entity])
    assert classifications.is_agency("13002")
    assert classifications.in_fiscal_year("national-classification", 2561).get("13002-51") is not None
    assert classifications.in_fiscal_year("national-classification", 2562).get("13002-51") is None
    assert classifications.additions_for("ebudget", line(2561, "13000", "13002", "13002-51"), 1, "x", {}) == ()
    # A second year's lines add the same agency to that year too.
    assert [a.code for a in classifications.additions_for("ebudget", line(2562, "13000", "13002", "13002-51"), 1, "x", {})] == [
        "13000", "13002", "13002-51",
    ]  # fmt: skip


def test_native_values_are_scalars_and_bounded() -> None:
    kept = native_values({"a": "x" * 1000, "b": [1], "c": {"d": 1}, "e": None, "f": 3, **{f"k{i}": i for i in range(100)}})
    assert kept["a"] == "x" * 500 and "b" not in kept and "c" not in kept and kept["e"] is None and kept["f"] == 3
    assert len(kept) == 40
