"""An imitation of e-Plan (DLA local development plans) for tests and demos: ผ.02 projects, polled by cursor.

The real e-Plan publishes no API; this one serves what an export of the ผ.02 table would hold, keyed by
the Thai column headers, with amounts as text with thousands separators. Every change gets the next
`updated_seq`, and polling with `since=<seq>` returns what changed after it, so the hub can read
incrementally. Its quirk, deterministic so tests can rely on it: every third record in the store is
served as a printed form would write it, amounts in Thai digits and the update date as a BE date.

    GET  /api/v1/projects?since=<seq>&limit=<n>   {"records": [...], "next_since": "<seq>", "more": bool}
    POST /api/v1/projects                         add or modify one project (keyed by รหัสโครงการ)
    GET  /_sim/log     every state-changing request, with its Idempotency-Key
    GET  /_sim/health
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from prasan.canonical import to_thai_digits
from prasan.testing import simulator_arguments

MAX_LIMIT = 500
ORG = "รหัส อปท."
CODE = "รหัสโครงการ"
TITLE = "ชื่อโครงการ"

SEED_PROJECTS: list[dict[str, Any]] = [
    {
        CODE: "5400103-2566-001", ORG: "5400103", "ยุทธศาสตร์": "การพัฒนาโครงสร้างพื้นฐาน",
        "แผนงาน": "อุตสาหกรรมและการโยธา", TITLE: "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านเป็ด-บ้านโนนท่อน หมู่ที่ 5",
        "วัตถุประสงค์": "เพื่อให้ประชาชนสัญจรไปมาได้สะดวกและปลอดภัย",
        "เป้าหมาย (ผลผลิตของโครงการ)": "ถนน คสล. กว้าง 5 เมตร ยาว 450 เมตร หนา 0.15 เมตร",
        "งบประมาณ 2566": "1,200,000", "งบประมาณ 2567": "-", "งบประมาณ 2568": "1,350,000",
        "ตัวชี้วัด (KPI)": "ร้อยละ 80 ของประชาชนที่ใช้เส้นทางมีความพึงพอใจ",
        "ผลที่คาดว่าจะได้รับ": "ประชาชนสัญจรได้สะดวก ลดอุบัติเหตุ", "หน่วยงานรับผิดชอบหลัก": "กองช่าง",
    },
    {
        CODE: "5400103-2566-002", ORG: "5400103", "ยุทธศาสตร์": "การพัฒนาคุณภาพชีวิต",
        "แผนงาน": "การศึกษา", TITLE: "อาหารกลางวันศูนย์พัฒนาเด็กเล็กบ้านเป็ด",
        "วัตถุประสงค์": "เพื่อให้เด็กเล็กได้รับอาหารที่มีคุณค่าครบถ้วน",
        "เป้าหมาย (ผลผลิตของโครงการ)": "เด็กเล็ก 120 คน", "งบประมาณ 2566": "504,000.00",
        "งบประมาณ 2567": "504,000.00", "งบประมาณ 2568": "529,200.00",
        "ตัวชี้วัด (KPI)": "เด็กเล็กร้อยละ 95 มีภาวะโภชนาการตามเกณฑ์",
        "ผลที่คาดว่าจะได้รับ": "เด็กเล็กมีสุขภาพแข็งแรง", "หน่วยงานรับผิดชอบหลัก": "กองการศึกษา",
    },
    {
        CODE: "4500103-2566-014", ORG: "4500103", "ยุทธศาสตร์": "การพัฒนาสาธารณสุขและสิ่งแวดล้อม",
        "แผนงาน": "สาธารณสุข", TITLE: "ป้องกันและควบคุมโรคไข้เลือดออก",
        "วัตถุประสงค์": "เพื่อลดอัตราการป่วยด้วยโรคไข้เลือดออกในเขตเทศบาล",
        "เป้าหมาย (ผลผลิตของโครงการ)": "ชุมชน 12 ชุมชนในเขตเทศบาลเมืองแม่เหียะ",
        "งบประมาณ 2566": "150,000", "งบประมาณ 2567": "150,000", "งบประมาณ 2568": "180,000",
        "ตัวชี้วัด (KPI)": "อัตราป่วยลดลงร้อยละ 20", "ผลที่คาดว่าจะได้รับ": "ประชาชนปลอดภัยจากโรคไข้เลือดออก",
        "หน่วยงานรับผิดชอบหลัก": "กองสาธารณสุขและสิ่งแวดล้อม",
    },
    {
        CODE: "4500103-2566-021", ORG: "4500103", "ยุทธศาสตร์": "การพัฒนาสาธารณสุขและสิ่งแวดล้อม",
        "แผนงาน": "เคหะและชุมชน", TITLE: "จัดซื้อรถบรรทุกขยะมูลฝอยแบบอัดท้าย ขนาด 6 ตัน",
        "วัตถุประสงค์": "เพื่อเพิ่มประสิทธิภาพการเก็บขนขยะมูลฝอย",
        "เป้าหมาย (ผลผลิตของโครงการ)": "รถบรรทุกขยะ 1 คัน", "งบประมาณ 2567": "2,500,000.00",
        "ตัวชี้วัด (KPI)": "เก็บขนขยะได้ครบทุกชุมชน", "ผลที่คาดว่าจะได้รับ": "ชุมชนสะอาด ไม่มีขยะตกค้าง",
        "หน่วยงานรับผิดชอบหลัก": "กองสาธารณสุขและสิ่งแวดล้อม",
    },
    {
        CODE: "2500101-2566-103", ORG: "2500101", "ยุทธศาสตร์": "การบริหารจัดการที่ดี",
        "แผนงาน": "บริหารงานทั่วไป", TITLE: "ฝึกอบรมเพิ่มประสิทธิภาพการปฏิบัติงานของบุคลากร อบจ.เชียงใหม่",
        "วัตถุประสงค์": "เพื่อพัฒนาความรู้และทักษะของบุคลากร",
        "เป้าหมาย (ผลผลิตของโครงการ)": "บุคลากร 200 คน", "งบประมาณ 2566": "300,000", "งบประมาณ 2567": "300,000",
        "ผลที่คาดว่าจะได้รับ": "บุคลากรปฏิบัติงานได้อย่างมีประสิทธิภาพ", "หน่วยงานรับผิดชอบหลัก": "สำนักปลัด อบจ.",
    },
]


class SimState:
    """Projects with their change sequence, and the log of state-changing requests."""

    def __init__(self, state_dir: Path | str | None, seed: bool) -> None:
        path = ":memory:" if state_dir is None else str(Path(state_dir) / "eplan-sim.sqlite")
        if state_dir is not None:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS projects (project_code TEXT PRIMARY KEY, updated_seq INTEGER NOT NULL,
                updated_on TEXT NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                method TEXT, path TEXT, idempotency_key TEXT, body TEXT, status INTEGER);
            """
        )
        empty = self.db.execute("SELECT COUNT(*) FROM projects").fetchone()[0] == 0
        if seed and empty:
            for project in SEED_PROJECTS:
                self.upsert(project, date(2023, 6, 11))

    def upsert(self, project: dict[str, Any], updated_on: date | None = None) -> int:
        seq = (self.db.execute("SELECT COALESCE(MAX(updated_seq), 0) FROM projects").fetchone()[0]) + 1
        day = (updated_on or datetime.now(timezone.utc).date()).isoformat()
        self.db.execute(
            "INSERT INTO projects (project_code, updated_seq, updated_on, body) VALUES (?,?,?,?) "
            "ON CONFLICT(project_code) DO UPDATE SET updated_seq=excluded.updated_seq, "
            "updated_on=excluded.updated_on, body=excluded.body",
            (project[CODE], seq, day, json.dumps(project, ensure_ascii=False)),
        )
        self.db.commit()
        return seq

    def since(self, since: int, limit: int) -> tuple[list[tuple[int, str, dict[str, Any]]], bool]:
        rows = self.db.execute(
            "SELECT updated_seq, updated_on, body FROM projects WHERE updated_seq > ? ORDER BY updated_seq LIMIT ?",
            (since, limit + 1),
        ).fetchall()
        return [(r[0], r[1], json.loads(r[2])) for r in rows[:limit]], len(rows) > limit

    def log(self, request: web.Request, body: Any, status: int) -> None:
        self.db.execute(
            "INSERT INTO log (at, method, path, idempotency_key, body, status) VALUES (?,?,?,?,?,?)",
            (
                datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                request.method,
                request.path_qs,
                request.headers.get("Idempotency-Key"),
                json.dumps(body, ensure_ascii=False),
                status,
            ),
        )
        self.db.commit()


STATE = web.AppKey("eplan_state", SimState)


def _printed_form(record: dict[str, Any], updated_on: str) -> dict[str, Any]:
    """How a hand-made export writes it: Thai digits in amounts, a dd/mm/yyyy BE date."""
    out = {
        key: to_thai_digits(value) if key.startswith("งบประมาณ") and isinstance(value, str) else value
        for key, value in record.items()
    }
    day = date.fromisoformat(updated_on)
    out["วันที่ปรับปรุง"] = to_thai_digits(f"{day.day:02d}/{day.month:02d}/{day.year + 543}")
    return out


def _served(seq: int, updated_on: str, record: dict[str, Any]) -> dict[str, Any]:
    if seq % 3 == 0:
        body = _printed_form(record, updated_on)
    else:
        body = {**record, "วันที่ปรับปรุง": updated_on}
    return {**body, "updated_seq": seq}


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{name} must be a whole number"}), content_type="application/json"
        ) from None
    if value < 0:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"{name} must be >= 0"}), content_type="application/json")
    return value


async def get_projects(request: web.Request) -> web.Response:
    since = _int_param(request, "since", 0)
    limit = min(_int_param(request, "limit", 100) or 100, MAX_LIMIT)
    rows, more = request.app[STATE].since(since, limit)
    records = [_served(seq, updated_on, record) for seq, updated_on, record in rows]
    next_since = str(rows[-1][0]) if rows else str(since)
    return web.json_response({"records": records, "next_since": next_since, "more": more})


async def post_project(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        state.log(request, None, 400)
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    missing = [key for key in (ORG, TITLE) if not isinstance(body, dict) or not str(body.get(key) or "").strip()]
    if missing:
        state.log(request, body, 400)
        return web.json_response({"error": f"missing {', '.join(missing)}"}, status=400)
    if not body.get(CODE):
        count = state.db.execute("SELECT COUNT(*) FROM projects").fetchone()[0]
        body = {**body, CODE: f"{body[ORG]}-NEW-{count + 1:03d}"}
    seq = state.upsert(body)
    state.log(request, body, 200)
    return web.json_response({CODE: body[CODE], "updated_seq": seq})


async def sim_log(request: web.Request) -> web.Response:
    rows = request.app[STATE].db.execute(
        "SELECT seq, at, method, path, idempotency_key, body, status FROM log ORDER BY seq"
    ).fetchall()
    return web.json_response(
        {
            "entries": [
                {"seq": r[0], "time": r[1], "method": r[2], "path": r[3], "idempotency_key": r[4],
                 "body": json.loads(r[5]), "status": r[6]}
                for r in rows
            ]
        }
    )


async def sim_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "system": "eplan-simulator"})


def create_app(state_dir: Path | str | None = None, *, seed: bool = True) -> web.Application:
    """The simulator as an aiohttp application; state in memory unless `state_dir` is given."""
    app = web.Application()
    app[STATE] = SimState(state_dir, seed)
    app.router.add_get("/api/v1/projects", get_projects)
    app.router.add_post("/api/v1/projects", post_project)
    app.router.add_get("/_sim/log", sim_log)
    app.router.add_get("/_sim/health", sim_health)

    async def close_db(app: web.Application) -> None:
        app[STATE].db.close()

    app.on_cleanup.append(close_db)
    return app


def run(host: str = "127.0.0.1", port: int = 8091, state_dir: str | None = None) -> None:
    web.run_app(create_app(state_dir), host=host, port=port)


def main() -> None:
    parser = simulator_arguments("e-Plan simulator", 8091)
    parser.add_argument("--state-dir", default=None)
    args = parser.parse_args()
    run(args.host, args.port, args.state_dir)


if __name__ == "__main__":
    main()
