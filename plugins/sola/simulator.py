"""An imitation of SOLA for tests and demos, on prasan.testing's simulator helper.

SOLA's real interface is not public; this imitates the placeholder the shipped transport.yaml declares,
and, with another `Shape`, a differently shaped SOLA (a TIS-620 CSV export paged by offset), so that a
test can show the plugin following a new declaration without a change of code. Its quirks, all
deterministic so that tests can rely on them:

- every third record is served as typed on a Thai keyboard: codes and amounts in Thai digits, amounts
  with "บาท", a year with no amount as "-";
- a project typed in before SOLA numbered it has no project_id;
- `rate_limit_every=N` answers every Nth list request 429 with `Retry-After`;
- the CSV shape says `text/csv` without a charset although its bytes are TIS-620;
- writes are idempotent per Idempotency-Key, answer `{"data": {"project_id": ...}}`, refuse a record
  without organisation or name with 422 `{"error": {"message": ...}}`, and show up in the list feed.

    GET  <path>?cursor=&per_page=            {"data": {"items": [...]}, "paging": {"next_cursor", "has_more"}}
    GET  <path>?start=&rows=                 (CSV shape) one page of the export, header line first
    POST <path>        PUT <path>/{id}       write one project
    GET  /api/v1/health, and the helper's /_sim/log, /_sim/records, /_sim/faults
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from prasan.testing import SimulatorState, run_simulator, simulator_app, simulator_arguments
from prasan.canonical import to_thai_digits

API_KEY = "sola-sim-key"
SIMULATOR_SETTINGS = {"api_key": API_KEY}

SEED_PROJECTS: list[dict[str, Any]] = [
    {
        "project_id": "SOLA-5400103-68-0001", "lao_code": "5400103",
        "project_name": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านเป็ด-บ้านโนนท่อน หมู่ที่ 5",
        "objective": "เพื่อให้ประชาชนสัญจรไปมาได้สะดวกและปลอดภัย",
        "target": "ถนน คสล. กว้าง 5 เมตร ยาว 450 เมตร หนา 0.15 เมตร",
        "kpi": "ร้อยละ 80 ของประชาชนที่ใช้เส้นทางมีความพึงพอใจ", "expected_result": "ประชาชนสัญจรได้สะดวก ลดอุบัติเหตุ",
        "department": "กองช่าง", "plan_name": "แผนงานอุตสาหกรรมและการโยธา", "strategy": "การพัฒนาโครงสร้างพื้นฐาน",
        "funding_source_code": "01", "budget_2568": "1,350,000.00", "budget_2569": "-",
    },
    {
        "project_id": "SOLA-6810403-68-0007", "lao_code": "6810403",
        "project_name": "ขุดลอกคลองส่งน้ำเพื่อการเกษตร หมู่ที่ 2 บ้านคลองท่อมเหนือ",
        "objective": "เพื่อให้เกษตรกรมีน้ำใช้ในฤดูแล้ง", "target": "คลองยาว 1,200 เมตร",
        "department": "กองช่าง", "plan_name": "แผนงานการเกษตร", "strategy": "การพัฒนาเศรษฐกิจและการเกษตร",
        "funding_source_code": "03", "tambon_code": "810402", "budget_2568": "480,000", "budget_2569": "500,000",
    },
    {
        "project_id": "SOLA-5810401-68-0012", "lao_code": "5810401",
        "project_name": "อาหารเสริม (นม) โรงเรียนสังกัด สพฐ. ในเขตเทศบาล",
        "objective": "เพื่อให้เด็กนักเรียนได้รับสารอาหารครบถ้วน", "target": "นักเรียน ๔๒๐ คน",
        "department": "กองการศึกษา", "plan_name": "แผนงานการศึกษา", "funding_source_code": "01",
        "tambon_code": "810401", "budget_2568": "612,500.00",
    },
    {
        # Typed in before SOLA numbered it: named by organisation and title instead.
        "project_id": "", "lao_code": "2810101",
        "project_name": "ฝึกอบรมอาสาสมัครป้องกันภัยฝ่ายพลเรือน (อปพร.) ประจำปี",
        "objective": "เพื่อเพิ่มศักยภาพการป้องกันและบรรเทาสาธารณภัย", "department": "สำนักปลัด อบจ.",
        "plan_name": "แผนงานการรักษาความสงบภายใน", "funding_source_code": "02",
        "budget_2568": "250,000", "budget_2569": "250,000",
    },
    {
        "project_id": "SOLA-6810403-68-0009", "lao_code": "6810403",
        "project_name": "จัดซื้อครุภัณฑ์คอมพิวเตอร์ สำนักปลัด", "department": "สำนักปลัด",
        "plan_name": "แผนงานบริหารงานทั่วไป", "funding_source_code": "01", "budget_2568": "64,000.00",
    },
]

#: the CSV export's Thai headers for the JSON field names
THAI_COLUMNS = {
    "project_id": "รหัสโครงการ SOLA", "lao_code": "รหัส อปท.", "project_name": "ชื่อโครงการ",
    "objective": "วัตถุประสงค์", "target": "เป้าหมาย", "kpi": "ตัวชี้วัด", "expected_result": "ผลที่คาดว่าจะได้รับ",
    "department": "หน่วยงานรับผิดชอบ", "plan_name": "แผนงาน", "strategy": "ยุทธศาสตร์",
    "funding_source_code": "รหัสแหล่งเงิน", "tambon_code": "รหัสตำบล",
}
BUDGET_PREFIX = "budget_"
TYPED_FIELDS = ("lao_code", "tambon_code")


@dataclass(frozen=True)
class Shape:
    """What this SOLA looks like on the wire; the same code serves every shape."""

    path: str = "/api/v1/local-projects"
    media_type: str = "application/json"
    charset: str = "utf-8"
    declare_charset: bool = True
    records_path: str = "data.items"
    paging: str = "cursor"  # "cursor" or "offset"
    cursor_param: str = "cursor"
    offset_param: str = "start"
    limit_param: str = "per_page"
    thai_columns: bool = False
    rate_limit_every: int = 0
    retry_after: int = 1
    typed_every: int = 3


JSON_API = Shape()
CSV_EXPORT = Shape(
    path="/export/local-projects.csv", media_type="text/csv", charset="tis-620", declare_charset=False,
    paging="offset", limit_param="rows", thai_columns=True,
)


@dataclass
class Feed:
    """Projects in the order they last changed (the list feed), beside the helper's records and log."""

    shape: Shape
    order: list[str] = field(default_factory=list)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(100))
    list_requests: int = 0

    def touch(self, record_id: str) -> None:
        if record_id in self.order:
            self.order.remove(record_id)
        self.order.append(record_id)


FEED = web.AppKey("sola_feed", Feed)


def typed(record: dict[str, Any]) -> dict[str, Any]:
    """As a clerk types it: Thai digits in codes and amounts, "บาท" after an amount."""
    out = dict(record)
    for key, value in record.items():
        if key.startswith(BUDGET_PREFIX) and value not in ("", "-"):
            out[key] = to_thai_digits(str(value)) + " บาท"
        elif key in TYPED_FIELDS and value:
            out[key] = to_thai_digits(str(value))
    return out


def _served(feed: Feed, position: int, record: dict[str, Any]) -> dict[str, Any]:
    shape = feed.shape
    body = typed(record) if shape.typed_every and position % shape.typed_every == 0 else dict(record)
    if shape.thai_columns:
        body = {
            THAI_COLUMNS.get(k, f"งบประมาณ {k[len(BUDGET_PREFIX):]}" if k.startswith(BUDGET_PREFIX) else k): v
            for k, v in body.items()
        }
    return body


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"after:{position}".encode()).decode()


def _position(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": {"message": "unknown cursor"}}),
                                 content_type="application/json") from None


def _number(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if not raw.isdigit():
        if raw:
            raise web.HTTPBadRequest(text=json.dumps({"error": {"message": f"{name} must be a whole number"}}),
                                     content_type="application/json")
        return default
    return int(raw)


def _csv_page(records: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or ["รหัส อปท."], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


async def list_projects(request: web.Request) -> web.Response:
    state, feed = SimulatorState.of(request), request.app[FEED]
    shape = feed.shape
    feed.list_requests += 1
    if shape.rate_limit_every and feed.list_requests % shape.rate_limit_every == 0:
        return web.json_response({"error": {"message": "too many requests"}}, status=429,
                                 headers={"Retry-After": str(shape.retry_after)})
    limit = max(1, min(_number(request, shape.limit_param, 50), 500))
    if shape.paging == "offset":
        start = _number(request, shape.offset_param, 0)
    else:
        cursor = request.query.get(shape.cursor_param, "")
        start = _position(cursor) if cursor else 0
    ids = feed.order[start : start + limit]
    page = [_served(feed, start + n, state.records[i].record) for n, i in enumerate(ids, start=1)]
    if shape.media_type == "text/csv":
        charset = f"; charset={shape.charset}" if shape.declare_charset else ""
        return web.Response(body=_csv_page(page).encode(shape.charset),
                            headers={"Content-Type": f"text/csv{charset}"})
    end = start + len(ids)
    body = {"data": {"items": page}, "paging": {"next_cursor": _cursor(end), "has_more": end < len(feed.order)}}
    return web.json_response(_nest(shape.records_path, body), dumps=_dumps)


def _nest(records_path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The page with its records under `records_path` instead of data.items."""
    if records_path == "data.items":
        return body
    out: dict[str, Any] = {"paging": body["paging"]}
    target = out
    *parents, last = records_path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = body["data"]["items"]
    return out


async def _write(request: web.Request, record_id: str | None) -> web.Response:
    state, feed = SimulatorState.of(request), request.app[FEED]
    key = state.key_of(request)
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        state.log(request, key=key, status=400)
        return web.json_response({"error": {"message": "the body is not JSON"}}, status=400)
    missing = [name for name in ("lao_code", "project_name") if not isinstance(body, dict) or not body.get(name)]
    if missing:
        state.log(request, key=key, status=422)
        return web.json_response({"error": {"message": f"ต้องระบุ {', '.join(missing)}"}}, status=422)
    if record_id is not None and record_id not in state.records:
        state.log(request, key=key, status=404)
        return web.json_response({"error": {"message": f"no project {record_id}"}}, status=404)
    new_id = record_id or f"SOLA-{body['lao_code']}-68-{next(feed.numbers):04d}"
    stored, first = state.apply(key, {**body, "project_id": new_id}, record_id=new_id)
    if first:
        feed.touch(stored)
    status = 200 if record_id else 201
    state.log(request, key=key, status=status, replayed=not first, record_id=stored)
    return web.json_response({"data": {"project_id": stored}}, status=status)


async def post_project(request: web.Request) -> web.Response:
    return await _write(request, None)


async def put_project(request: web.Request) -> web.Response:
    return await _write(request, request.match_info["project_id"])


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "projects": len(request.app[FEED].order)})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def create_app(shape: Shape = JSON_API, *, seed: list[dict[str, Any]] | None = None,
               api_key: str = API_KEY) -> web.Application:
    """The simulator in `shape`, holding `seed` (default: the sample projects) in that order."""
    state = SimulatorState(api_key=api_key)
    feed = Feed(shape)
    for n, project in enumerate(SEED_PROJECTS if seed is None else seed, start=1):
        record_id = project.get("project_id") or f"unnumbered-{n}"
        state.apply(None, dict(project), record_id=record_id)
        feed.touch(record_id)
    app = simulator_app(state, [
        web.get(shape.path, list_projects),
        web.post(shape.path, post_project),
        web.put(f"{shape.path}/{{project_id}}", put_project),
        web.get("/api/v1/health", health),
    ])
    app[FEED] = feed
    return app


def main() -> None:
    parser = simulator_arguments("SOLA simulator (placeholder interface)", 8094)
    parser.add_argument("--csv-export", action="store_true", help="serve the TIS-620 CSV export shape")
    run_simulator(parser, lambda args: create_app(CSV_EXPORT if args.csv_export else JSON_API))


if __name__ == "__main__":
    main()
