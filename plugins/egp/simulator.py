"""An imitation of e-GP's machine feeds for tests and demos, on prasan.testing's simulator helper.

    GET /govspending/cgdcontract?year=<BE>&dept_code=<code>&offset=<n>&limit=<n>
        the CGDCONTRACT API (header api-key): {"result": [project, ...], "offset", "limit", "total"};
        projects in the order they were published, amounts as JSON numbers, dates ISO with a BE year
    GET /EPROCRssFeedWeb/egpannouncerss.xml?deptsubId=<code>&anounceType=<type>
        the announcement RSS, no key: Windows-874 bytes, the encoding declared only in the XML prolog
    POST /_sim/egp/projects        add a project (a CGDCONTRACT object)
    POST /_sim/egp/announcements   add an announcement {deptsubId, anounceType, projectId, title, published}
    plus the helper's /_sim/log, /_sim/records, /_sim/faults, /_sim/health

Quirks, deterministic so tests can rely on them: every `rate_limit_every`-th API request is answered
429 with `Retry-After` (the data.go.th quota), the feed is served as described, and a slow answer or any
status can be injected through /_sim/faults.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from prasan.testing import SimulatorState, run_simulator, seed_data, simulator_app, simulator_arguments

API_KEY = "egp-sim-key"
SIMULATOR_SETTINGS = {"api_key": API_KEY, "dept_sub_ids": ["5810401", "6810403", "4500103"]}
API_HEADER = "api-key"
CONTRACTS = "/govspending/cgdcontract"
FEED = "/EPROCRssFeedWeb/egpannouncerss.xml"
BANGKOK = timezone(timedelta(hours=7))
MAX_LIMIT = 500
LINK = (
    "https://process3.gprocurement.go.th/egp2procmainWeb/jsp/procsearch.sch?servlet=gojsp&proc_id=ShowHTMLFile"
    "&processFlows=Procure&projectId={project}&templateType={type}&temp_Announ=A&temp_itemNo=0&seqNo=1"
)

# Amounts are exact (Decimal), as the API's JSON numbers are read.
_SEED = seed_data(__file__, parse_float=Decimal, parse_int=Decimal)
SEED_PROJECTS: list[dict[str, Any]] = _SEED["projects"]
SEED_ANNOUNCEMENTS: list[dict[str, Any]] = _SEED["announcements"]


@dataclass
class EgpData:
    """What the simulated e-GP holds, and how many API requests it has answered (for the quota)."""

    projects: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(SEED_PROJECTS))
    announcements: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(SEED_ANNOUNCEMENTS))
    rate_limit_every: int = 0
    retry_after_s: int = 1
    api_requests: int = 0


DATA = web.AppKey("egp_data", EgpData)
_NUMBER = re.compile(r'"\\u0000dec:([0-9.]+)"')


def dumps(value: Any) -> str:
    """JSON with amounts as numbers, as the API writes them, without passing them through a float."""
    text = json.dumps(value, ensure_ascii=False, default=lambda d: f"\u0000dec:{d}")
    return _NUMBER.sub(r"\1", text)


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=json.dumps({"error": f"{name} must be a whole number"}), content_type="application/json")
    return int(raw)


async def get_contracts(request: web.Request) -> web.Response:
    state, data = SimulatorState.of(request), request.app[DATA]
    if request.headers.get(API_HEADER) != API_KEY:
        state.log(request, key=None, status=401)
        return web.json_response({"error": "invalid or missing api-key"}, status=401)
    data.api_requests += 1
    if data.rate_limit_every and data.api_requests % data.rate_limit_every == 0:
        state.log(request, key=None, status=429)
        headers = {"Retry-After": str(data.retry_after_s)}
        return web.json_response({"error": "API rate limit exceeded"}, status=429, headers=headers)
    year = request.query.get("year", "")
    dept = request.query.get("dept_code", "")
    offset, limit = _int(request, "offset", 0), min(_int(request, "limit", 50) or 50, MAX_LIMIT)
    chosen = [
        p for p in data.projects if (not year or p["budget_year"] == year) and (not dept or p["dept_code"] == dept)
    ]
    page = chosen[offset : offset + limit]
    body = {"result": page, "offset": offset, "limit": limit, "total": len(chosen)}
    return web.Response(body=dumps(body).encode(), content_type="application/json")


def rss(items: list[dict[str, Any]], channel: str) -> bytes:
    """The feed as e-GP serves it: Windows-874 bytes, the encoding named only in the prolog."""
    parts = [
        '<?xml version="1.0" encoding="windows-874"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(channel)}</title><link>https://process3.gprocurement.go.th</link>",
        "<description>ประกาศจัดซื้อจัดจ้าง</description>",
    ]
    for item in sorted(items, key=lambda i: i["published"], reverse=True):
        published = datetime.fromisoformat(item["published"]).astimezone(BANGKOK)
        link = LINK.format(project=item["projectId"], type=item["anounceType"])
        parts.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(link)}</link>"
            f"<description>{escape(item['title'])}</description>"
            f"<pubDate>{format_datetime(published)}</pubDate></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("cp874")


async def get_feed(request: web.Request) -> web.Response:
    data = request.app[DATA]
    dept, kind = request.query.get("deptsubId", ""), request.query.get("anounceType", "")
    items = [a for a in data.announcements if a["deptsubId"] == dept and (not kind or a["anounceType"] == kind)]
    # e-GP names no charset in the header: only the XML prolog says what the bytes are.
    return web.Response(body=rss(items, f"ประกาศ e-GP {dept}"), headers={"Content-Type": "text/xml"})


async def add_project(request: web.Request) -> web.Response:
    body = json.loads(await request.text(), parse_float=Decimal)
    request.app[DATA].projects.append(body)
    return web.json_response({"total": len(request.app[DATA].projects)})


async def add_announcement(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[DATA].announcements.append(body)
    return web.json_response({"total": len(request.app[DATA].announcements)})


def create_app(*, rate_limit_every: int = 0, retry_after_s: int = 1) -> web.Application:
    """The simulator; `rate_limit_every=n` answers every n-th contract API request 429 with Retry-After."""
    # The helper's credential check would guard the feed too, which e-GP publishes without a key;
    # the API checks its own header instead.
    app = simulator_app(
        SimulatorState(api_key=None),
        [
            web.get(CONTRACTS, get_contracts),
            web.get(FEED, get_feed),
            web.post("/_sim/egp/projects", add_project),
            web.post("/_sim/egp/announcements", add_announcement),
        ],
    )
    app[DATA] = EgpData(rate_limit_every=rate_limit_every, retry_after_s=retry_after_s)
    return app


def main() -> None:
    parser = simulator_arguments("e-GP simulator", 8094)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    run_simulator(parser, lambda args: create_app(rate_limit_every=args.rate_limit_every))


if __name__ == "__main__":
    main()
