"""The citizens' pages, served by the hub itself: from `/` a person picks a province, then a local
organisation, sees its projects of a fiscal year with a bar of how much was planned, budgeted,
contracted and paid, and opens one project's timeline.

Plain HTML from the templates in admin_api/templates (Jinja2, escaping on), in Thai, with its CSS inline
and no script: every step is a link or a GET form, so the pages work without JavaScript, on a phone and
on a slow line, and fetch nothing from any other site (the Content-Security-Policy says so to the browser
too). They read what the public API reads (the master data and the area ledger, admin_api/public.py) and
answer only public facts. Like the API's answers they are kept by the hub and may be cached by anyone
for `CACHE_S` (ETag, Cache-Control); a request the hub must compute spends the address's rate limit.
A malformed address or query gets a Thai 400 page, an unknown one a 404 page.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError, field_validator

from admin_api import thai_display as th
from admin_api.access import Access, declare
from admin_api.keys import ADDRESS_LIMITER, HUB
from admin_api.public import CACHE_S, matches
from admin_api.ratelimit import retry_after_header
from admin_api.spec import RESPONSE_CACHE
from admin_api.types import Text
from canonical_model import to_arabic_digits
from core.hub import Hub

PAGE_SIZE = 50
PROVINCE = re.compile(r"[0-9]{2}")
ORGANISATION = re.compile(r"[0-9]{7}")
PROJECT = re.compile(r"[0-9a-f]{32}")
# Nothing but this page's own inline styles: no scripts, no other site, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Kinds of organisation in the order a province lists them: the province's own first.
ORG_TYPE_ORDER = {name: i for i, name in enumerate(th.ORG_TYPE_TH)}

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("admin_api", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(
    baht=th.baht, thai_date=th.thai_date, thai_time=th.thai_time, system_name=th.system_name,
    org_name=th.organisation_name, org_kind=th.organisation_kind, province_name=th.province_name,
)  # fmt: skip
TEMPLATES.globals.update(stage_th=th.STAGE_TH, step_th=th.STEP_TH, bars=th.bars)


class PageQuery(BaseModel):
    """What a page reads from its query string. Anything else (a share link's tracking tags) is ignored,
    and left out of the cache key, so it neither fails the page nor makes the hub compute it again."""

    model_config = {"extra": "ignore"}
    q: Text | None = Field(None, max_length=100)
    fy: int | None = Field(None, ge=2400, le=2700)
    page: int = Field(1, ge=1, le=10_000)

    @field_validator("fy", "page", mode="before")
    @classmethod
    def _thai_digits(cls, value: Any) -> Any:
        return to_arabic_digits(value) if isinstance(value, str) else value

    def cache_key(self) -> str:
        return urlencode({"q": self.q or "", "fy": self.fy or "", "page": self.page})


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


View = Callable[[web.Request, Hub, PageQuery], Awaitable[str]]


def render(template: str, **context: Any) -> str:
    return TEMPLATES.get_template(template).render(**context)


def _html(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=body, content_type="text/html", charset="utf-8", headers={**SECURITY_HEADERS, **(headers or {})}
    )


def _error_page(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    titles = {400: "คำขอไม่ถูกต้อง", 404: "ไม่พบหน้าที่ต้องการ", 429: "มีการเรียกดูถี่เกินไป"}
    page = render("error.html", status=status, title=titles.get(status, "เกิดข้อผิดพลาด"), message=message)
    return _html(status, page.encode("utf-8"), headers)


def _query(request: web.Request) -> PageQuery:
    # A blank field (an empty search box submitted) is no field.
    wanted = {name: value for name in PageQuery.model_fields if (value := request.query.get(name, "").strip())}
    try:
        return PageQuery.model_validate(wanted)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors(include_url=False)})
        explain = {
            "q": "คำค้นต้องเป็นข้อความยาวไม่เกิน 100 ตัวอักษร",
            "fy": "ปีงบประมาณต้องเป็นปีพุทธศักราช 4 หลัก เช่น 2570",
            "page": "หน้าที่ต้องเป็นตัวเลขตั้งแต่ 1",
        }
        raise PageError(400, " ".join(explain.get(f, f) for f in fields)) from None


@functools.lru_cache(maxsize=128)
def _gzipped(body: bytes) -> bytes:
    """A cached page compressed once, not on every request that reads it (Thai text shrinks some sevenfold)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def page(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page answered from the hub's cache when it has it; computed (and the address's limit spent) when not."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            query = _query(request)
            key = f"page:{request.path}?{query.cache_key()}"
            cache = request.app[RESPONSE_CACHE]
            found = cache.get(key)
            if found is None:
                wait = request.app[ADDRESS_LIMITER].take(f"address:{request.remote or 'unknown'}")
                if wait is not None:
                    seconds = retry_after_header(wait)
                    return _error_page(429, f"โปรดลองใหม่ในอีก {seconds} วินาที", {"Retry-After": str(seconds)})
                body = (await view(request, request.app[HUB], query)).encode("utf-8")
                etag = cache.put(key, CACHE_S, 200, body, {"Content-Type": "text/html; charset=utf-8"})
            else:
                _, body, etag, _ = found
        except PageError as exc:
            return _error_page(exc.status, exc.message)
        headers = {"Cache-Control": f"public, max-age={CACHE_S}", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            body, etag = _gzipped(body), etag[:-1] + '-gzip"'  # other bytes, so another tag
            headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Encoding"})
        return _html(200, body, headers)

    handler.__name__ = view.__name__
    return handler


def _path(request: web.Request, name: str, pattern: re.Pattern[str], what: str) -> str:
    value = request.match_info[name]
    if not pattern.fullmatch(value):
        raise PageError(400, f"{what}ในที่อยู่หน้าเว็บไม่ถูกต้อง")
    return value


def _province(hub: Hub, code: str) -> dict[str, Any]:
    province = hub.reference.provinces.get(code)
    if province is None:
        raise PageError(404, f"ไม่พบจังหวัดรหัส {code}")
    return province


async def home(request: web.Request, hub: Hub, query: PageQuery) -> str:
    """The provinces by region, or those whose name holds the search."""
    regions: dict[str, list[dict[str, Any]]] = {}
    for province in hub.reference.provinces.values():
        if query.q is None or matches(query.q, province["name_th"], province.get("name_en")):
            regions.setdefault(province.get("region_th") or "", []).append(province)
    grouped = [
        (region, sorted(provinces, key=lambda p: th.thai_sort_key(p["name_th"])))
        for region, provinces in sorted(regions.items(), key=lambda item: th.thai_sort_key(item[0]))
    ]
    return render("home.html", q=query.q, regions=grouped, found=sum(len(p) for _, p in grouped))


async def province_page(request: web.Request, hub: Hub, query: PageQuery) -> str:
    """A province's local organisations by district, or those whose name holds the search."""
    province = _province(hub, _path(request, "province", PROVINCE, "รหัสจังหวัด"))
    districts: dict[str | None, list[dict[str, Any]]] = {}
    for org in hub.reference.organizations.values():
        if org["province_code"] == province["code"] and (query.q is None or matches(query.q, org["name_th"], th.organisation_name(org))):
            districts.setdefault(org.get("district_code"), []).append(org)
    # Districts in DOPA's order (the province's capital district first), those the registry names but
    # DOPA lacks last.
    grouped = [
        (th.district_name(hub.reference.districts.get(code) if code else None),
         sorted(orgs, key=lambda o: (ORG_TYPE_ORDER.get(o["org_type"], 99), th.thai_sort_key(o["name_th"]))))
        for code, orgs in sorted(districts.items(), key=lambda item: item[0] or "~")
    ]  # fmt: skip
    return render("province.html", province=province, q=query.q, districts=grouped, found=sum(len(o) for _, o in grouped))


async def organisation_page(request: web.Request, hub: Hub, query: PageQuery) -> str:
    """A local organisation's projects of one fiscal year (the current one unless chosen), with their money."""
    code = _path(request, "org_code", ORGANISATION, "รหัสองค์กรปกครองส่วนท้องถิ่น")
    org = hub.reference.organizations.get(code)
    if org is None:
        raise PageError(404, f"ไม่พบองค์กรปกครองส่วนท้องถิ่นรหัส {code}")
    ledger = hub.store.ledger
    years = await asyncio.to_thread(ledger.area_totals, "organisation", code, None, "organisation")
    fiscal_year = query.fy or th.current_fiscal_year()
    offset = (query.page - 1) * PAGE_SIZE
    rows = await asyncio.to_thread(ledger.organisation_projects, code, fiscal_year, limit=PAGE_SIZE + 1, offset=offset)
    by_year = {y.fiscal_year: y for y in years}
    choices = sorted({*by_year, fiscal_year, th.current_fiscal_year()}, reverse=True)
    return render(
        "organisation.html",
        org=org, province=hub.reference.provinces.get(org["province_code"]),
        district=th.district_name(hub.reference.districts.get(org.get("district_code") or "")),
        fiscal_year=fiscal_year, year_total=by_year.get(fiscal_year), choices=choices, counts={y: t.projects for y, t in by_year.items()},
        projects=rows[:PAGE_SIZE], page=query.page, has_next=len(rows) > PAGE_SIZE, first=offset + 1,
    )  # fmt: skip


async def project_page(request: web.Request, hub: Hub, query: PageQuery) -> str:
    """One project: its money by fiscal year and its timeline, each step with its date, amount and source."""
    project_id = _path(request, "project_id", PROJECT, "รหัสโครงการ")
    story = await asyncio.to_thread(hub.store.ledger.project_story, project_id)
    if story is None:
        raise PageError(404, "ไม่พบโครงการนี้")
    found, years, steps, as_of = story
    org = hub.reference.organizations.get(found.root.org_code or "")
    return render(
        "project.html",
        project_id=project_id, title=str(found.root.payload.get("title") or "โครงการไม่มีชื่อ"), org=org,
        province=hub.reference.provinces.get(org["province_code"]) if org else None,
        years=years, steps=steps, as_of=sorted(as_of.items(), key=lambda item: item[1], reverse=True),
    )  # fmt: skip


def setup(router: web.UrlDispatcher) -> None:
    declare(router, "GET", "/", page(home), Access.PUBLIC, name="citizen_home")
    declare(router, "GET", "/p/{province}", page(province_page), Access.PUBLIC, name="citizen_province")
    declare(router, "GET", "/o/{org_code}", page(organisation_page), Access.PUBLIC, name="citizen_organisation")
    declare(router, "GET", "/project/{project_id}", page(project_page), Access.PUBLIC, name="citizen_project")
