"""The area ledger: what a plan project's chain (core/store/links.py) says about its money, stage by stage.

A project is planned in e-Plan, budgeted in e-LAAS, asked for at e-budgeting (a grant), procured and
contracted in e-GP and paid through GF-MIS. The hub holds each of those records, linked to the project
(decision 0012). This module turns one project's chain into what citizens and central agencies read: per
fiscal year, the amount at each stage and the stage reached; and the project's timeline, each step with
its date, amount and the system it came from. It does no I/O; core/store/ledger.py keeps its rows.

Where a record carries no fiscal year of its own it counts in the project's first planned year. A
delivery counts as a stage reached: a plan project the hub filed at e-LAAS is budgeted (e-LAAS holds
its yearly amounts as budget lines), one filed at e-budgeting is requested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from canonical_model.thai_dates import day_in_thailand

STAGES = ("planned", "budgeted", "requested", "procured", "contracted", "disbursing", "completed")
AMOUNTS = ("planned", "budgeted", "requested", "approved", "procured", "contracted", "disbursed")
# The stages whose records name a งบ (budget lines, budget requests): the amounts split by classification.
CLASSIFIED_AMOUNTS = ("budgeted", "requested", "approved")
ZERO = Decimal("0.00")
# Systems whose delivery of a plan project is itself a stage of it.
BUDGETED_BY_DELIVERY = "elaas"
REQUESTED_BY_DELIVERY = "ebudget"


@dataclass(frozen=True)
class Member:
    """One record of a project's chain as the ledger reads it."""

    entity_id: str
    entity_type: str
    payload: Mapping[str, Any]
    systems: Mapping[str, str]  # system -> the record's id there
    deliveries: Sequence[Mapping[str, Any]] = ()
    linked_to: tuple[str, ...] = ()  # the records nearer the project it is linked to
    source: str | None = None  # the system its first version came from


# (local งบ, national งบรายจ่าย LV1) of an amount; "" where there is none (core/expense_categories.py).
CategoryKey = tuple[str, str]
UNCLASSIFIED: CategoryKey = ("", "")
Categorise = Callable[[Member, int], CategoryKey]


@dataclass
class YearRow:
    """One project in one fiscal year: amounts by stage and the stage reached, and the classified stages'
    amounts split by งบ (they add up to the row's own)."""

    fiscal_year: int
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(AMOUNTS, ZERO))
    by_category: dict[CategoryKey, dict[str, Decimal]] = field(default_factory=dict)

    def add(self, amount_name: str, amount: Decimal, category: CategoryKey | None = None) -> None:
        self.amounts[amount_name] += amount
        if category is not None:
            split = self.by_category.get(category)
            if split is None:
                split = self.by_category[category] = dict.fromkeys(CLASSIFIED_AMOUNTS, ZERO)
            split[amount_name] += amount

    @property
    def stage(self) -> str:
        a = self.amounts
        if a["disbursed"] > 0:
            return "completed" if a["contracted"] > 0 and a["disbursed"] >= a["contracted"] else "disbursing"
        for stage, amount in (("contracted", "contracted"), ("procured", "procured"), ("requested", "requested"),
                              ("budgeted", "budgeted")):  # fmt: skip
            if a[amount] > 0:
                return stage
        return "planned"


@dataclass(frozen=True)
class Step:
    """One step of a project's timeline."""

    stage: str
    on: date | None
    amount: Decimal | None
    system: str | None
    record_id: str | None  # the record's id at that system
    entity_type: str
    fiscal_year: int | None


def money(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return ZERO
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return ZERO
    return amount if amount.is_finite() else ZERO


def _year(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def planned_years(plan: Member) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    for item in plan.payload.get("budget_by_year") or []:
        if (type(item) is dict or isinstance(item, Mapping)) and _year(item.get("fiscal_year")) is not None:
            out[item["fiscal_year"]] = out.get(item["fiscal_year"], ZERO) + money(item.get("amount"))
    return out


def _delivered(member: Member, system: str) -> datetime | None:
    first: datetime | None = None
    for d in member.deliveries:
        if d.get("destination") == system and d.get("state") == "delivered":
            at = d.get("delivered_at")
            if at is not None and (first is None or at < first):
                first = at
    return first


def _first_money_year(planned: Mapping[int, Decimal]) -> int | None:
    with_money = [year for year, amount in planned.items() if amount > 0]
    return min(with_money) if with_money else min(planned, default=None)


def project_years(plan: Member, members: Iterable[Member], categorise: Categorise | None = None) -> list[YearRow]:
    """The project's rows, one per fiscal year it plans money in or a linked record names; with `categorise`,
    the budgeted, requested and approved amounts are also split by the งบ it says each record is in."""
    planned = planned_years(plan)
    first = _first_money_year(planned)
    rows: dict[int, YearRow] = {}

    def row(year: int | None) -> YearRow | None:
        if year is None:
            if first is None:
                return None
            year = first
        found = rows.get(year)
        if found is None:
            found = rows[year] = YearRow(year)
        return found

    def category(record: Member | None, target: YearRow) -> CategoryKey | None:
        if categorise is None:
            return None
        return categorise(record, target.fiscal_year) if record is not None else UNCLASSIFIED

    for year, amount in planned.items():
        row(year).amounts["planned"] += amount  # type: ignore[union-attr]
    # One pass over the chain: a plan project is projected at every first delivery, most with no members.
    by_type: dict[str, list[Member]] = {}
    for m in members:
        by_type.setdefault(m.entity_type, []).append(m)
    lines = by_type.get("budget_line", [])
    for line in lines:
        if (target := row(_year(line.payload.get("fiscal_year")))) is not None:
            target.add("budgeted", money(line.payload.get("amount")), category(line, target))
    if not lines and _delivered(plan, BUDGETED_BY_DELIVERY) is not None:
        for year, amount in planned.items():
            target = row(year)  # type: ignore[assignment]
            target.add("budgeted", amount, category(None, target))  # type: ignore[union-attr]
    requests = by_type.get("budget_request", [])
    for request in requests:
        if (target := row(_year(request.payload.get("fiscal_year")))) is not None:
            target.add("requested", money(request.payload.get("amount")), category(request, target))
            target.add("approved", money(request.payload.get("approved_amount")), category(request, target))
    if not requests and _delivered(plan, REQUESTED_BY_DELIVERY) is not None and (target := row(first)) is not None:
        target.add("requested", planned.get(first, ZERO), category(None, target))
    procurement_years: dict[str, int | None] = {}
    for procurement in by_type.get("procurement", []):
        year = _year(procurement.payload.get("fiscal_year"))
        procurement_years[procurement.entity_id] = year
        if (target := row(year)) is not None:
            target.amounts["procured"] += money(procurement.payload.get("budget_amount") or procurement.payload.get("agreed_price"))
    for contract in by_type.get("contract", []):
        year = next((procurement_years[i] for i in contract.linked_to if i in procurement_years), None)
        if (target := row(year)) is not None:
            target.amounts["contracted"] += money(contract.payload.get("amount"))
    for payment in by_type.get("disbursement", []):
        if (target := row(_year(payment.payload.get("fiscal_year")))) is not None:
            target.amounts["disbursed"] += money(payment.payload.get("amount"))
    return [rows[year] for year in sorted(rows)]


def _on(value: Any) -> date | None:
    if isinstance(value, datetime):
        return day_in_thailand(value)
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _id_at(member: Member, system: str | None) -> str | None:
    return member.systems.get(system) if system else None


def _source(member: Member) -> str | None:
    return member.source or next(iter(sorted(member.systems)), None)


def timeline(plan: Member, members: Iterable[Member], plan_created: datetime | None = None) -> list[Step]:
    """Each step the project has taken, oldest first (steps without a date last)."""
    planned = planned_years(plan)
    first = _first_money_year(planned)
    plan_system = _source(plan)
    steps = [Step("planned", _on(plan_created), sum(planned.values(), ZERO), plan_system, _id_at(plan, plan_system), "plan_project", first)]
    for system, stage in ((BUDGETED_BY_DELIVERY, "budgeted"), (REQUESTED_BY_DELIVERY, "requested")):
        if (at := _delivered(plan, system)) is not None:
            amount = sum(planned.values(), ZERO) if stage == "budgeted" else planned.get(first or 0, ZERO)
            steps.append(Step(stage, day_in_thailand(at), amount, system, _id_at(plan, system), "plan_project", first))
    for m in members:
        p, system = m.payload, _source(m)
        if m.entity_type == "budget_line":
            steps.append(Step("budgeted", None, money(p.get("amount")), system, _id_at(m, system), m.entity_type, _year(p.get("fiscal_year"))))
        elif m.entity_type == "budget_request":
            stage = "approved" if p.get("status") == "approved" else "requested"
            amount = money(p.get("approved_amount") if stage == "approved" else p.get("amount"))
            steps.append(Step(stage, None, amount, system, _id_at(m, system), m.entity_type, _year(p.get("fiscal_year"))))
        elif m.entity_type == "procurement":
            steps.append(Step("procured", _on(p.get("announced_on")), money(p.get("budget_amount")), system,
                              _id_at(m, system), m.entity_type, _year(p.get("fiscal_year"))))  # fmt: skip
        elif m.entity_type == "contract":
            steps.append(Step("contracted", _on(p.get("signed_on")), money(p.get("amount")), system, _id_at(m, system), m.entity_type, None))
        elif m.entity_type == "disbursement":
            steps.append(Step("disbursed", _on(p.get("paid_on")), money(p.get("amount")), system, _id_at(m, system),
                              m.entity_type, _year(p.get("fiscal_year"))))  # fmt: skip
    order = {name: i for i, name in enumerate(("planned", "budgeted", "requested", "approved", "procured", "contracted", "disbursed"))}
    return sorted(steps, key=lambda s: (s.on is None, s.on or date.min, order[s.stage]))
