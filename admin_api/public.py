"""The public API (`/api/v1/public/`): what citizens and anyone else may read without credentials.

Areas come from the master data (province > district > local organisation); projects and their figures
from the area ledger (core/ledger.py). Only public facts are answered: organisations, project titles,
amounts, stages, dates and each system's public record number; nothing about people, the hub's clients,
tokens or payloads (tests/e2e/test_public_api.py holds every answer to an allow-list of fields). Answers
are cacheable (ETag, Cache-Control), kept by the hub for as long, and limited per address like every
`/api/v1/` route.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from admin_api.problems import problem
from admin_api.spec import Call, operation
from admin_api.models import Strict
from admin_api.types import FiscalYear, Limit, Offset, Text
from canonical_model.codelists import name_key
from core import ledger, reconciliation

CACHE_S = 60
PUBLIC = "public"


class PublicQuery(Strict):
    q: Text | None = Field(None, max_length=100, description="part of a Thai (or English) name")


class ProvincePath(Strict):
    province_code: str = Field(pattern=r"^[0-9]{2}$")


class OrganisationPath(Strict):
    org_code: str = Field(pattern=r"^[0-9]{7}$")


class ProjectPath(Strict):
    project_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class ProjectsQuery(Strict):
    fiscal_year: FiscalYear | None = None
    limit: Limit = 100
    offset: Offset = 0


class ProvinceOut(BaseModel):
    code: str
    name_th: str
    name_en: str | None


class OrganisationOut(BaseModel):
    org_code: str
    name_th: str
    org_type: str
    province_code: str | None
    district_code: str | None


class DistrictOut(BaseModel):
    code: str | None = Field(description="DOPA district code; null for organisations the registry places by a name DOPA lacks")
    name_th: str | None
    organisations: list[OrganisationOut]


class ProvinceDetailOut(BaseModel):
    province: ProvinceOut
    districts: list[DistrictOut]


class Amounts(BaseModel):
    planned: Decimal
    budgeted: Decimal
    requested: Decimal
    approved: Decimal
    procured: Decimal
    contracted: Decimal
    disbursed: Decimal


class ProjectSummaryOut(BaseModel):
    id: str
    title: str
    fiscal_year: int
    stage: str
    amounts: Amounts


class OrganisationProjectsOut(BaseModel):
    organisation: OrganisationOut
    fiscal_year: int | None
    projects: list[ProjectSummaryOut]
    limit: int
    offset: int


class StepOut(BaseModel):
    stage: str
    on: date | None
    amount: Decimal | None
    system: str | None
    record_id: str | None = Field(description="the record's number in that system")
    fiscal_year: int | None


class FlagOut(BaseModel):
    rule: str
    description: str


class YearOut(BaseModel):
    fiscal_year: int
    stage: str
    amounts: Amounts
    flags: list[FlagOut] = Field(description="amounts of this year that disagree across systems (reconciliation rules)")


class ProjectOut(BaseModel):
    id: str
    title: str
    organisation: OrganisationOut | None
    years: list[YearOut]
    timeline: list[StepOut]
    as_of: dict[str, datetime] = Field(description="per system, when the hub last stored a record of this project from it")


def matches(q: str, *names: str | None) -> bool:
    """Whether any of the names holds the query, compared as the registry compares names (spacing and
    prefix marks folded), so that 'บ้าน ใหญ่' finds บ้านใหญ่."""
    wanted = name_key(q).replace(" ", "").casefold()
    return any(wanted in name_key(name).replace(" ", "").casefold() for name in names if name)


def _province(reference: Any, code: str) -> ProvinceOut:
    p = reference.provinces[code]
    return ProvinceOut(code=code, name_th=p["name_th"], name_en=p.get("name_en"))


def _organisation(org: dict[str, Any]) -> OrganisationOut:
    return OrganisationOut(
        org_code=org["org_code"], name_th=org["name_th"], org_type=org["org_type"],
        province_code=org.get("province_code"), district_code=org.get("district_code"),
    )  # fmt: skip


@operation("GET", "/api/v1/public/areas", role=PUBLIC, response=list[ProvinceOut], query_model=PublicQuery,
           tag="public", cache_s=CACHE_S)  # fmt: skip
async def public_provinces(call: Call) -> Any:
    """The provinces, by DOPA code and Thai name: where a citizen starts."""
    reference = call.hub.reference
    q = call.query.q
    return [_province(reference, code) for code in sorted(reference.provinces)
            if q is None or matches(q, reference.provinces[code]["name_th"], reference.provinces[code].get("name_en"))]  # fmt: skip


@operation("GET", "/api/v1/public/areas/{province_code}", role=PUBLIC, response=ProvinceDetailOut,
           path_model=ProvincePath, query_model=PublicQuery, tag="public", errors=(404,), cache_s=CACHE_S)  # fmt: skip
async def public_province(call: Call) -> Any:
    """A province's districts and the local organisations in each, searchable by Thai name."""
    reference = call.hub.reference
    code, q = call.path.province_code, call.query.q
    if code not in reference.provinces:
        return problem(404, "Not Found", f"no province {code}")
    by_district: dict[str | None, list[OrganisationOut]] = {}
    for org in reference.organizations.values():
        if org["province_code"] == code and (q is None or matches(q, org["name_th"])):
            by_district.setdefault(org.get("district_code"), []).append(_organisation(org))
    districts = [
        DistrictOut(code=d, name_th=(reference.districts.get(d) or {}).get("name_th") if d else None,
                    organisations=sorted(orgs, key=lambda o: o.org_code))  # fmt: skip
        for d, orgs in sorted(by_district.items(), key=lambda item: item[0] or "~")
    ]
    return ProvinceDetailOut(province=_province(reference, code), districts=districts)


@operation("GET", "/api/v1/public/organisations/{org_code}/projects", role=PUBLIC, response=OrganisationProjectsOut,
           path_model=OrganisationPath, query_model=ProjectsQuery, tag="public", errors=(404,), cache_s=CACHE_S)  # fmt: skip
async def public_organisation_projects(call: Call) -> Any:
    """A local organisation's projects (of a fiscal year, or all), each with its stage and amounts."""
    org = call.hub.reference.organizations.get(call.path.org_code)
    if org is None:
        return problem(404, "Not Found", f"no organisation {call.path.org_code}")
    query = call.query
    rows = await asyncio.to_thread(
        call.hub.store.ledger.organisation_projects, org["org_code"], query.fiscal_year, limit=query.limit, offset=query.offset
    )
    projects = [
        ProjectSummaryOut(id=r.entity_id, title=r.title, fiscal_year=r.fiscal_year, stage=r.stage, amounts=Amounts(**r.amounts))
        for r in rows
    ]
    return OrganisationProjectsOut(
        organisation=_organisation(org), fiscal_year=query.fiscal_year, projects=projects, limit=query.limit, offset=query.offset
    )


@operation("GET", "/api/v1/public/projects/{project_id}", role=PUBLIC, response=ProjectOut, path_model=ProjectPath,
           tag="public", errors=(404,), cache_s=CACHE_S)  # fmt: skip
async def public_project(call: Call) -> Any:
    """One project's timeline: each stage with its date, amount and the system it came from."""
    story = await asyncio.to_thread(call.hub.store.ledger.project_story, call.path.project_id)
    if story is None:
        return problem(404, "Not Found", "no plan project with this id")
    found, years, steps, as_of = story
    org = call.hub.reference.organizations.get(found.root.org_code or "")
    rules = call.hub.store.ledger.rules
    started = rules.started_years(datetime.now(UTC).date())

    def flags(year: ledger.YearRow) -> list[FlagOut]:
        names = reconciliation.names(rules.flags_of(year), year.fiscal_year, started)
        return [FlagOut(rule=name, description=reconciliation.RULES[name].description) for name in names]

    return ProjectOut(
        id=found.root.entity_id,
        title=str(found.root.payload.get("title") or ""),
        organisation=_organisation(org) if org else None,
        years=[YearOut(fiscal_year=y.fiscal_year, stage=y.stage, amounts=Amounts(**y.amounts), flags=flags(y)) for y in years],
        timeline=[
            StepOut(stage=s.stage, on=s.on, amount=s.amount, system=s.system, record_id=s.record_id, fiscal_year=s.fiscal_year)
            for s in steps
        ],
        as_of=as_of,
    )

