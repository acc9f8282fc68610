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
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from prasan.canonical import to_thai_digits
from prasan.testing import (
    close_on_cleanup,
    database_log,
    run_simulator,
    seed_data,
    simulator_arguments,
    simulator_database,
)

MAX_LIMIT = 500
ORG = "รหัส อปท."
CODE = "รหัสโครงการ"
TITLE = "ชื่อโครงการ"

# ผ.02 rows of three local administrations, keyed by the export's Thai column headers.
SEED_PROJECTS: list[dict[str, Any]] = seed_data(__file__)


class SimState:
    """Projects with their change sequence, and the log of state-changing requests."""

    def __init__(self, state_dir: Path | str | None, seed: bool) -> None:
        self.db = simulator_database(
            state_dir,
            "eplan-sim.sqlite",
            """
            CREATE TABLE IF NOT EXISTS projects (project_code TEXT PRIMARY KEY, updated_seq INTEGER NOT NULL,
                updated_on TEXT NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                method TEXT, path TEXT, idempotency_key TEXT, body TEXT, status INTEGER);
            """,
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


async def sim_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "system": "eplan-simulator"})


def create_app(state_dir: Path | str | None = None, *, seed: bool = True) -> web.Application:
    """The simulator as an aiohttp application; state in memory unless `state_dir` is given."""
    app = web.Application()
    app[STATE] = SimState(state_dir, seed)
    app.router.add_get("/api/v1/projects", get_projects)
    app.router.add_post("/api/v1/projects", post_project)
    app.router.add_get("/_sim/log", database_log(app[STATE].db))
    app.router.add_get("/_sim/health", sim_health)
    close_on_cleanup(app, app[STATE].db)
    return app


def main() -> None:
    parser = simulator_arguments("e-Plan simulator", 8091)
    parser.add_argument("--state-dir", default=None)
    run_simulator(parser, lambda args: create_app(args.state_dir))


if __name__ == "__main__":
    main()
