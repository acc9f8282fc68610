"""Public downloads under `/api/v1/public/`: procurements and contracts as OCDS 1.1 release packages
(core/ocds.py, docs/ocds.md) and a province's area totals as CSV and XLSX (core/area_table.py), per
organisation, district, local งบ or national งบรายจ่าย.

Like the rest of the public API (admin_api/public.py): no credentials, only public facts, cacheable
(ETag, Cache-Control) and kept by the hub as long, limited per address, and bounded: a package holds at
most `limit` releases, a table one row per organisation (district, งบ) and fiscal year of one province.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field

from admin_api.problems import problem
from admin_api.public import CACHE_S, PUBLIC, OrganisationPath, ProjectsQuery, ProvincePath
from admin_api.models import Strict
from admin_api.spec import Call, Rendered, operation
from admin_api.types import FiscalYear
from core import area_table, expense_categories, ocds
from core.payloads import XLSX_MEDIA_TYPE

OCDS_TYPE = "application/json"
MAX_RELEASES = 100


class OcdsQuery(ProjectsQuery):
    limit: int = Field(50, ge=1, le=MAX_RELEASES, description="releases in the package")


class ReleasePath(Strict):
    egp_project_number: str = Field(pattern=r"^[0-9]{11}$")


class TotalsQuery(Strict):
    fiscal_year: FiscalYear | None = Field(None, description="Buddhist-Era fiscal year; none: every year")
    by: Literal["organisation", "district", "local_expense_category", "national_expense_category"] = Field(
        "organisation", description="one row per organisation, per district, or per งบ: local, or national งบรายจ่าย "
                                    "through the crosswalk (budgeted, requested and approved amounts)")


def publication(call: Call) -> ocds.Publication:
    s = call.hub.settings.ocds
    return ocds.Publication(s.ocid_prefix, s.publisher_name, s.publisher_uri, s.license)


def _uri(call: Call) -> str:
    base = call.hub.settings.ocds.public_url or f"{call.request.scheme}://{call.request.host}"
    return base + call.request.path_qs


def _buyer(reference: Any, org_code: str | None) -> ocds.Buyer | None:
    org = reference.organizations.get(org_code or "")
    if org is None:
        return None
    district = reference.districts.get(org.get("district_code") or "") or {}
    province = reference.provinces.get(org.get("province_code") or "") or {}
    return ocds.Buyer(org["org_code"], org["name_th"], district.get("name_th"), province.get("name_th"))


def _package(call: Call, processes: list[ocds.Process]) -> Rendered:
    settings = publication(call)
    reference = call.hub.reference
    releases = [
        ocds.release(replace(p, buyer=_buyer(reference, p.procurement.payload.get("org_code"))), settings) for p in processes
    ]
    return Rendered(ocds.dumps(ocds.package(releases, _uri(call), settings)), OCDS_TYPE)


@operation("GET", "/api/v1/public/ocds/releases/{egp_project_number}", role=PUBLIC, response=dict[str, Any],
           path_model=ReleasePath, tag="public", errors=(404,), cache_s=CACHE_S, media_type=OCDS_TYPE)  # fmt: skip
async def public_ocds_release(call: Call) -> Any:
    """One e-GP project as an OCDS 1.1 release package: tender, awards, contracts and the plan's budget."""
    found = await asyncio.to_thread(call.hub.store.contracting.by_number, call.path.egp_project_number)
    if found is None:
        return problem(404, "Not Found", f"no procurement with e-GP project number {call.path.egp_project_number}")
    return _package(call, [found])


@operation("GET", "/api/v1/public/ocds/{org_code}", role=PUBLIC, response=dict[str, Any], path_model=OrganisationPath,
           query_model=OcdsQuery, tag="public", errors=(404,), cache_s=CACHE_S, media_type=OCDS_TYPE)  # fmt: skip
async def public_ocds_organisation(call: Call) -> Any:
    """A local organisation's e-GP procurements (of a fiscal year, or all) as an OCDS 1.1 release package,
    a page at a time by e-GP project number."""
    org = call.hub.reference.organizations.get(call.path.org_code)
    if org is None:
        return problem(404, "Not Found", f"no organisation {call.path.org_code}")
    q = call.query
    found = await asyncio.to_thread(call.hub.store.contracting.of_organisation, org["org_code"], q.fiscal_year,
                                    limit=q.limit, offset=q.offset)  # fmt: skip
    if not found:
        # A package holds at least one release (the OCDS schema's rule), so an empty page is an absence.
        return problem(404, "Not Found", f"no e-GP procurement of organisation {org['org_code']} on this page")
    return _package(call, found)


def _places(call: Call, province_code: str, by: str) -> dict[str | None, area_table.Place]:
    reference = call.hub.reference
    province = reference.provinces[province_code]["name_th"]
    places: dict[str | None, area_table.Place] = {}
    for org in reference.organizations.values():
        if org["province_code"] != province_code:
            continue
        district_code = org.get("district_code")
        district = (reference.districts.get(district_code or "") or {}).get("name_th")
        area = area_table.Place(province_code, province, district_code, district)
        if by == "district":
            places[district_code] = area
        else:
            places[org["org_code"]] = replace(area, org_code=org["org_code"], organisation=org["name_th"], org_type=org["org_type"])
    return places


async def _totals(call: Call) -> tuple[str, list[tuple[Any, ...]], Any] | Any:
    """(file name, rows, their columns) of the province's totals, or a problem answer."""
    code = call.path.province_code
    reference = call.hub.reference
    if code not in reference.provinces:
        return problem(404, "Not Found", f"no province {code}")
    by = call.query.by
    totals = await asyncio.to_thread(call.hub.store.ledger.area_totals, "province", code, call.query.fiscal_year, by)
    name = f"prasan-totals-{code}{f'-{call.query.fiscal_year}' if call.query.fiscal_year else ''}-{by}"
    if by in expense_categories.GROUPS:
        province = area_table.Place(code, reference.provinces[code]["name_th"])
        names = expense_categories.names_th(reference.code_lists, by)
        return name, area_table.category_rows(totals, province, names), area_table.CATEGORY_COLUMNS
    return name, area_table.rows(totals, _places(call, code, by)), area_table.COLUMNS


@operation("GET", "/api/v1/public/areas/{province_code}/totals.csv", role=PUBLIC, response=str, path_model=ProvincePath,
           query_model=TotalsQuery, tag="public", errors=(404,), cache_s=CACHE_S, media_type="text/csv")  # fmt: skip
async def public_area_totals_csv(call: Call) -> Any:
    """A province's totals per organisation (or district) and fiscal year, as CSV (UTF-8 with BOM): projects,
    amounts at each stage, and projects by stage; or per งบ (local, or national through the crosswalk) and
    fiscal year: the budgeted, requested and approved amounts."""
    found = await _totals(call)
    if not isinstance(found, tuple):
        return found
    name, table, columns = found
    return Rendered(area_table.to_csv(table, columns), area_table.CSV_TYPE, f"{name}.csv")


@operation("GET", "/api/v1/public/areas/{province_code}/totals.xlsx", role=PUBLIC, response=bytes, path_model=ProvincePath,
           query_model=TotalsQuery, tag="public", errors=(404,), cache_s=CACHE_S, media_type=XLSX_MEDIA_TYPE)  # fmt: skip
async def public_area_totals_xlsx(call: Call) -> Any:
    """The same totals as an Excel workbook."""
    found = await _totals(call)
    if not isinstance(found, tuple):
        return found
    name, table, columns = found
    return Rendered(await asyncio.to_thread(area_table.to_xlsx, table, f"totals {call.path.province_code}", columns),
                    XLSX_MEDIA_TYPE, f"{name}.xlsx")  # fmt: skip
