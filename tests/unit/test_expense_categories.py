"""Which งบ a ledger amount is in, on both sides: the local งบ a budget line names (or the งบ above its หมวด),
the national งบรายจ่าย through the crosswalk in effect on the fiscal year's first day, or named by the record
itself; and an empty code, never a guessed one, where there is no answer."""

from __future__ import annotations

from typing import Any

import pytest

from core.expense_categories import ExpenseCategories
from core.ledger import Member
from core.reference_data import load_reference_data


@pytest.fixture(scope="module")
def categories() -> ExpenseCategories:
    reference = load_reference_data()
    return ExpenseCategories.from_reference(reference.code_lists, reference.crosswalks)


def record(entity_type: str, **payload: Any) -> Member:
    return Member("e" * 32, entity_type, payload, {})


def local(code: str, level: str = "budget_group") -> dict[str, str]:
    return {"scheme": "local-expense-category", "level": level, "code": code}


@pytest.mark.parametrize(
    ("member", "year", "expected"),
    [
        (record("budget_line", classification=[local("investment")]), 2570, ("investment", "investment")),
        # A line naming its หมวด and ประเภท counts in their งบ.
        (record("budget_line", classification=[local("personnel.political_salary.executive", "expense_type")]), 2570,
         ("personnel", "personnel")),
        # งบกลาง has no row; FY 2558 is before the crosswalk's first row: both unmapped.
        (record("budget_line", classification=[local("central")]), 2570, ("central", "")),
        (record("budget_line", classification=[local("investment")]), 2558, ("investment", "")),
        # e-budgeting's lines name the งบรายจ่าย (LV1 or below); a request may name it by its Thai name or alias.
        (record("budget_line", classification=[{"scheme": "national-expense-category", "level": "category_lv2",
                                                "code": "subsidy.general"}]), 2570, ("", "subsidy")),
        (record("budget_request", budget_type="รายจ่ายอื่น"), 2570, ("", "other")),
        # Nothing the code lists know: unclassified.
        (record("budget_request", budget_type="งบพิเศษ"), 2570, ("", "")),
        (record("budget_line", classification=[local("no-such-code")]), 2570, ("", "")),
        (record("budget_line", classification="not a list"), 2570, ("", "")),
    ],
)  # fmt: skip
def test_the_two_budget_classifications_of_a_record(
    categories: ExpenseCategories, member: Member, year: int, expected: tuple[str, str]
) -> None:
    assert categories(member, year) == expected


def test_without_reference_data_every_record_is_unclassified() -> None:
    assert ExpenseCategories()(record("budget_line", classification=[local("investment")]), 2570) == ("", "")
