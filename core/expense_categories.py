"""Which งบ an amount of the area ledger is in, on both sides: the local งบ (local-expense-category) and
the national งบรายจ่าย LV1 (national-expense-category), read together through the crosswalk
local-to-national-expense-category (decision 0001).

An e-LAAS budget line names its local งบ (or a หมวด/ประเภท under it); its national งบรายจ่าย is the
crosswalk's row in effect on the first day of the fiscal year the amount counts in. A line of e-budgeting
names its งบรายจ่าย itself, and a budget request may name it as text (`budget_type`). Where the crosswalk
has no row (local งบกลาง, which nationally is a budgetary unit, not a งบรายจ่าย) the national code stays
empty: the amount is "unmapped", never put under a guessed งบรายจ่าย. A record naming neither is
"unclassified".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canonical_model.codelists import CodeList, Crosswalk
from canonical_model.fiscal_year import fiscal_year_bounds
from canonical_model.rejection import Rejection
from core.ledger import UNCLASSIFIED, CategoryKey, Member

LOCAL = "local-expense-category"
NATIONAL = "national-expense-category"
CROSSWALK = "local-to-national-expense-category"
# Why a group of classified totals has no code (see the module's docstring).
UNMAPPED = "unmapped"
NOT_CLASSIFIED = "unclassified"
# The area totals' group_by values by งบ, and the scheme each one's codes are of.
GROUPS = {"local_expense_category": LOCAL, "national_expense_category": NATIONAL}


def names_th(code_lists: Mapping[str, CodeList], group_by: str) -> dict[str, str]:
    """The Thai name of each code a group_by by งบ can answer."""
    codes = code_lists.get(GROUPS[group_by])
    return {node.code: node.name_th for node in codes} if codes is not None else {}


class ExpenseCategories:
    """The two งบ of a budget line or request, from the code lists and the crosswalk of the reference data."""

    def __init__(self, local: CodeList | None = None, national: CodeList | None = None, crosswalk: Crosswalk | None = None) -> None:
        self.local = local
        self.national = national
        self.crosswalk = crosswalk

    @classmethod
    def from_reference(cls, code_lists: Mapping[str, CodeList], crosswalks: Mapping[str, Crosswalk]) -> ExpenseCategories:
        return cls(code_lists.get(LOCAL), code_lists.get(NATIONAL), crosswalks.get(CROSSWALK))

    def __call__(self, record: Member, fiscal_year: int) -> CategoryKey:
        local = self._root(self.local, _cited(record.payload, LOCAL))
        national = self._root(self.national, _cited(record.payload, NATIONAL))
        if not national and record.entity_type == "budget_request":
            national = self._named(record.payload.get("budget_type"))
        if not national and local:
            national = self._through_crosswalk(local, fiscal_year)
        return (local, national) if local or national else UNCLASSIFIED

    @staticmethod
    def _root(codes: CodeList | None, cited: list[str]) -> str:
        """The top of the tree (งบ, งบรายจ่าย LV1) of the first cited code the list holds; "" for none."""
        known = next((code for code in cited if codes is not None and codes.get(code) is not None), None)
        return codes.path(known)[0].code if codes is not None and known is not None else ""

    def _named(self, text: Any) -> str:
        if self.national is None or not isinstance(text, str):
            return ""
        try:
            node = self.national.by_name(text)
        except Rejection:  # a name several nodes share says no one งบรายจ่าย
            return ""
        return self._root(self.national, [node.code]) if node is not None else ""

    def _through_crosswalk(self, local: str, fiscal_year: int) -> str:
        if self.crosswalk is None:
            return ""
        try:
            return self.crosswalk.translate(local, on=fiscal_year_bounds(fiscal_year)[0])
        except Rejection:  # no row in effect that day: unmapped, the caller sees the empty code
            return ""


def _cited(payload: Mapping[str, Any], scheme: str) -> list[str]:
    """The codes of the scheme the record cites (one per level)."""
    items = payload.get("classification")
    found = [item.get("code") for item in items if isinstance(item, Mapping) and item.get("scheme") == scheme] if isinstance(items, list) else []
    return [code for code in found if isinstance(code, str)]
