"""Area figures for central agencies (role analyst and above): the ledger's totals by province, district,
organisation, organisation type, fiscal year and local classification (แผนงาน), and by budget classification,
local งบ or national งบรายจ่าย through the crosswalk (core/expense_categories.py); and the records the
reconciliation rules flag (core/reconciliation.py), by area. The same figures as the public pages, plus what
is flagged and what no rule could link."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from admin_api.problems import problem
from admin_api.spec import Call, operation
from admin_api.models import Strict
from admin_api.types import FiscalYear, Limit, Offset
from core import expense_categories, reconciliation

ANALYST = "analyst"
Level = Literal["country", "province", "district", "organisation"]
GroupBy = Literal["province", "district", "organisation", "org_type", "programme", "local_expense_category", "national_expense_category"]


class AreaQuery(Strict):
    level: Level = Field("country", description="the area the totals are of")
    code: str | None = Field(None, pattern=r"^[0-9]{2,7}$", description="its code (DOPA province or district, DLA organisation)")
    fiscal_year: FiscalYear | None = None
    group_by: GroupBy = Field("province", description="an area level, the organisation type, the local แผนงาน (programme), "
                              "or the budget classification: local งบ or national งบรายจ่าย LV1 (through the crosswalk)")
    org_type: str | None = Field(None, pattern=r"^[a-z_]{1,40}$")
    limit: Limit = Field(1000, description="rows to answer: by organisation or programme a country has tens of thousands")
    offset: Offset = Field(0, description="rows to skip, in the answer's order (fiscal year, newest first, then group)")


class AreaTotalOut(BaseModel):
    code: str | None = Field(description="the group's code (or name, for a programme)")
    name_th: str | None
    fiscal_year: int
    projects: int
    amounts: dict[str, Decimal] = Field(description="by stage; by งบ, only the stages whose records name one: budgeted, "
                                                    "requested, approved")
    stages: dict[str, int] = Field(description="project-years by the stage reached")
    flagged: int = Field(description="project-years a reconciliation rule flags")
    without_code: Literal["unmapped", "unclassified"] | None = Field(
        None, description="by งบ, why a group has no code: `unmapped`, a local งบ the crosswalk has no national งบรายจ่าย "
                          "for (งบกลาง); `unclassified`, records that name no งบ")


class ReconciliationQuery(Strict):
    level: Level = "country"
    code: str | None = Field(None, pattern=r"^[0-9]{2,7}$")
    fiscal_year: FiscalYear | None = None
    rule: Literal[tuple(reconciliation.RULES)] | None = None  # type: ignore[valid-type]
    limit: Limit = 100
    offset: Offset = 0


class FlaggedOut(BaseModel):
    rule: str
    description: str
    entity_id: str
    entity_type: str
    org_code: str | None
    fiscal_year: int | None
    label: str
    amounts: dict[str, Decimal]


def _area(call: Call, level: str, code: str | None) -> tuple[str | None, str | None, list[str] | None] | Any:
    """(ledger level, code, organisations of the area) or a problem answer for an unknown area."""
    reference = call.hub.reference
    if level == "country":
        return None, None, None
    if code is None:
        return problem(400, "Bad Request", f"level {level} needs a code")
    known = {"province": reference.provinces, "district": reference.districts, "organisation": reference.organizations}[level]
    if code not in known:
        return problem(404, "Not Found", f"no {level} {code}")
    column = {"province": "province_code", "district": "district_code", "organisation": "org_code"}[level]
    orgs = [c for c, org in reference.organizations.items() if org.get(column) == code]
    return level, code, orgs


def _name(call: Call, group_by: str, code: str | None) -> str | None:
    reference = call.hub.reference
    if group_by in expense_categories.GROUPS:
        return expense_categories.names_th(reference.code_lists, group_by).get(code or "")
    table = {"province": reference.provinces, "district": reference.districts, "organisation": reference.organizations}.get(group_by)
    return (table or {}).get(code or "", {}).get("name_th") if table is not None else code


@operation("GET", "/api/v1/areas", role=ANALYST, response=list[AreaTotalOut], query_model=AreaQuery, tag="areas", errors=(404,))
async def area_totals(call: Call) -> Any:
    """Totals of an area by fiscal year: projects, amounts at each stage, stages reached, flagged records; by
    งบ (local, or national through the crosswalk), the budgeted, requested and approved amounts."""
    q = call.query
    area = _area(call, q.level, q.code)
    if not isinstance(area, tuple):
        return area
    level, code, _ = area
    rows = await asyncio.to_thread(call.hub.store.ledger.area_totals, level or "province", code, q.fiscal_year, q.group_by,
                                   q.org_type, (q.limit, q.offset))  # fmt: skip
    return [
        AreaTotalOut(code=r.code, name_th=_name(call, q.group_by, r.code), fiscal_year=r.fiscal_year, projects=r.projects,
                     amounts=r.amounts, stages=r.stages, flagged=r.flagged, without_code=r.without_code)  # fmt: skip
        for r in rows
    ]


@operation("GET", "/api/v1/reconciliation", role=ANALYST, response=list[FlaggedOut], query_model=ReconciliationQuery,
           tag="areas", errors=(404,))  # fmt: skip
async def reconciliation_flags(call: Call) -> Any:
    """Amounts that disagree across systems, by area: each flagged record with the rule and its figures."""
    q = call.query
    area = _area(call, q.level, q.code)
    if not isinstance(area, tuple):
        return area
    level, code, orgs = area
    found = await asyncio.to_thread(
        call.hub.store.ledger.flagged, level=level, code=code, fiscal_year=q.fiscal_year, rule=q.rule,
        limit=q.limit, offset=q.offset, area_orgs=orgs,
    )  # fmt: skip
    return [
        FlaggedOut(rule=f.rule, description=reconciliation.RULES[f.rule].description, entity_id=f.entity_id,
                   entity_type=f.entity_type, org_code=f.org_code, fiscal_year=f.fiscal_year, label=f.title, amounts=f.amounts)  # fmt: skip
        for f in found
    ]
