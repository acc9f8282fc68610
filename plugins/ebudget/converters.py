"""Converters the e-budgeting mappings need beyond the core set, contributed as `ebudget.<name>`.

The national classification the hub ships was derived from one fiscal year; e-budgeting is the
authority on national plans, so a plan it names that the list has not seen yet must still make a
resolvable reference rather than a rejection. The BB code carries what is needed: its first five
digits are the budgetary unit and its sixth and seventh the plan number [I], which is how the shipped
list derives its plan codes too, so a derived code is the one that list will hold once the plan is added.
"""

from __future__ import annotations

from typing import Any

from prasan import Converter, ConverterArgs, Rejection
from prasan.canonical import normalize_code

AGENCY_DIGITS = 5
PLAN_DIGITS = slice(5, 7)


def _bb_code(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str):
        raise Rejection("ebudget.bb_code_type", "a BB code is text of 16 characters", value)
    return normalize_code(value).upper()


class PlanCodeArgs(ConverterArgs):
    pass


def plan_code(args: PlanCodeArgs, reference: Any) -> Converter:
    """A BB code (already checked as `bb-budget`) as the national plan code `<agency>-<plan number>`."""

    def forward(value: Any) -> str:
        code = _bb_code(value)
        digits = code[PLAN_DIGITS]
        if not digits.isdigit():
            reason = "characters 6-7 of a BB code are the plan number, two digits"
            raise Rejection("ebudget.plan_number", reason, value)
        return f"{code[:AGENCY_DIGITS]}-{digits}"

    return Converter(forward, None)


class AgencyArgs(ConverterArgs):
    bb_code_field: str = "bb_code"


def agency(args: AgencyArgs, reference: Any) -> Converter:
    """The budgetary unit's 5-digit code, which must be the one the row's BB code begins with: a row
    whose two disagree has been filed under the wrong agency by someone, and which is right is unknown."""
    field = args.bb_code_field

    def forward(value: Any, ctx: dict[str, Any]) -> str:
        readable = isinstance(value, (str, int)) and not isinstance(value, bool)
        code = normalize_code(str(value)) if readable else ""
        if len(code) != AGENCY_DIGITS or not code.isdigit():
            raise Rejection("ebudget.agency_code", "a budgetary unit code is 5 digits", value)
        bb_code = ctx.get(field)
        if isinstance(bb_code, str) and bb_code.strip() and not _bb_code(bb_code).startswith(code):
            raise Rejection(
                "ebudget.agency_mismatch", f"the BB code {bb_code!r} belongs to another budgetary unit", value
            )
        return code

    return Converter(forward, lambda value: value, context=(field,))


class LaoArgs(ConverterArgs):
    pass


def lao(args: LaoArgs, reference: Any) -> Converter:
    """A DLA code of an organisation the registry knows, checked both ways: only a local administrative
    organisation asks through the request channel, so a central agency's request must not be filed there."""

    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            value = "" if value is None else value
        return str(reference.require_org(str(value))["org_code"])

    return Converter(check, check)
