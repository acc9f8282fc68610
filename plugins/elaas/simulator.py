"""An imitation of e-LAAS (DLA local accounting) for tests and demos: GUID master data, budget expense writes.

The real e-LAAS is an ASP.NET WebForms site with no public API; this simulator gives it the API an
adapter would need while keeping its flavour: GUID-keyed dropdowns from `DropDownService.asmx` as XML,
ASP.NET `{"d": ...}` answers and `{"Message": ...}` errors. It keeps its own storage (sqlite, in memory
unless a state directory is given), honours `Idempotency-Key`, and can be told to fail on purpose.

    POST   /api/BudgetExpense                        one document (X-Api-Key and Idempotency-Key required)
    POST   /api/BudgetExpense/Batch                  {"Items": [{"IdempotencyKey", "Document"}]}
    PUT    /api/BudgetExpense/{RecordID}             replace a document (a new version of the same record)
    GET    /DropDownService.asmx/GetExpExpensePlan   แผนงาน
    GET    /DropDownService.asmx/GetExpExpenseJob?PlanID=<guid>          งาน of a แผนงาน
    GET    /DropDownService.asmx/GetExpBudget                            งบ
    GET    /DropDownService.asmx/GetExpExpenseCategory?budgetID=<guid>   หมวด of a งบ
    GET    /DropDownService.asmx/GetExpExpenseType?categoryID=<guid>     ประเภท of a หมวด
    GET    /_sim/health  /_sim/log  /_sim/records
    POST   /_sim/faults  {"status": 503, "times": 3, "retry_after": 0, "message": "...", "delay_s": 0,
                          "match": "<text in the document>"}
    DELETE /_sim/faults
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from plugins.elaas.guids import GuidCrosswalk, default_guids
from prasan import testing

DEFAULT_API_KEY = "elaas-sim-key"
SIMULATOR_SETTINGS = {"api_key": DEFAULT_API_KEY}  # what points e-LAAS at this simulator, besides its URL
_AMOUNT = re.compile(r"^\d{1,16}\.\d{2}$")
_LAO_CODE = re.compile(r"^\d{7}$")
# Which GUID field of a line names which master-data level, and which field must be its parent.
_LINE_GUIDS = (
    ("PlanGUID", "programme", None),
    ("JobGUID", "activity", "PlanGUID"),
    ("BudgetGroupGUID", "budget_group", None),
    ("CategoryGUID", "expense_category", "BudgetGroupGUID"),
    ("ExpenseTypeGUID", "expense_type", "CategoryGUID"),
)


@dataclass
class Fault(testing.Fault):
    # Only requests (or batch items) whose document JSON contains this text fail; None: every request.
    match: str | None = None


class SimState:
    """The simulator's storage: written documents, the idempotency table and the request log."""

    def __init__(self, state_dir: Path | str | None, guids: GuidCrosswalk) -> None:
        self.guids = guids
        self.db = testing.simulator_database(
            state_dir,
            "elaas-sim.sqlite",
            """
            CREATE TABLE IF NOT EXISTS documents (record_id TEXT PRIMARY KEY, idempotency_key TEXT,
                body TEXT NOT NULL, received_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, body_hash TEXT NOT NULL,
                status INTEGER NOT NULL, answer TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                method TEXT, path TEXT, idempotency_key TEXT, body TEXT, status INTEGER, replayed INTEGER);
            """,
        )
        self.faults: list[Fault] = []
        self.lock = asyncio.Lock()

    def log(self, request: web.Request, key: str | None, body: Any, status: int, replayed: bool = False) -> None:
        self.db.execute(
            "INSERT INTO log (at, method, path, idempotency_key, body, status, replayed) VALUES (?,?,?,?,?,?,?)",
            (_now(), request.method, request.path, key, json.dumps(body, ensure_ascii=False), status, int(replayed)),
        )
        self.db.commit()

    def next_fault(self, document_text: str, *, matched_only: bool = False) -> Fault | None:
        self.faults = [fault for fault in self.faults if fault.times > 0]
        for fault in self.faults:
            if fault.match is None and matched_only:
                continue
            if fault.match is not None and (fault.match not in document_text):
                continue
            fault.times -= 1
            return fault
        return None


STATE = web.AppKey("elaas_state", SimState)
API_KEY = web.AppKey("elaas_api_key", str)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _error(status: int, message: str, exception_type: str = "System.ArgumentException") -> web.Response:
    return web.json_response({"Message": message, "ExceptionType": exception_type}, status=status)


def _body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def validate_document(doc: Any, guids: GuidCrosswalk) -> list[str]:
    """Every reason e-LAAS would refuse the document; empty when it is acceptable."""
    if not isinstance(doc, dict):
        return ["the body must be a JSON object"]
    problems = []
    if not _LAO_CODE.match(str(doc.get("LaoCode", ""))):
        problems.append(f"LaoCode {doc.get('LaoCode')!r} must be a 7-digit DLA code")
    lines = doc.get("Lines")
    if not isinstance(lines, list) or not lines:
        return problems + ["Lines must be a non-empty list"]
    for i, line in enumerate(lines):
        where = f"Lines[{i}]"
        if not isinstance(line, dict):
            problems.append(f"{where} must be an object")
            continue
        year = line.get("BudgetYear", doc.get("BudgetYear"))
        if not isinstance(year, int) or not 2400 <= year <= 2700:
            problems.append(f"{where}.BudgetYear {year!r} must be a Buddhist-Era year such as 2568")
        if not _AMOUNT.match(str(line.get("Amount", ""))):
            problems.append(f"{where}.Amount {line.get('Amount')!r} must be a string with two decimals")
        if not str(line.get("Description") or "").strip():
            problems.append(f"{where}.Description is required")
        if not line.get("PlanGUID"):
            problems.append(f"{where}.PlanGUID is required")
        for j, past in enumerate(line.get("PastYears") or []):
            # The ordinance's columns of earlier years: actual spending, each of a year before this one.
            if not isinstance(past, dict) or not isinstance(past.get("BudgetYear"), int) or not isinstance(year, int):
                problems.append(f"{where}.PastYears[{j}] must be an object with an integer BudgetYear")
            elif past["BudgetYear"] >= year:
                problems.append(f"{where}.PastYears[{j}].BudgetYear {past['BudgetYear']} is not before {year}")
            elif not _AMOUNT.match(str(past.get("ActualAmount", ""))):
                problems.append(f"{where}.PastYears[{j}].ActualAmount {past.get('ActualAmount')!r} must have two decimals")
        for name, level, parent_field in _LINE_GUIDS:
            value = line.get(name)
            if value in (None, ""):
                continue
            entry = guids.entry_of_guid(str(value))
            if entry is None or entry.level != level:
                problems.append(f"{where}.{name}: ไม่พบข้อมูล (unknown GUID {value!r})")
                continue
            if parent_field and line.get(parent_field):
                parent = guids.entry_of_guid(str(line[parent_field]))
                if parent is not None and entry.parent != parent.code:
                    problems.append(f"{where}.{name} {value!r} does not belong to {parent_field} {line[parent_field]!r}")
            elif parent_field:
                problems.append(f"{where}.{name} needs {parent_field}")
    return problems


async def _store_document(
    state: SimState, key: str, doc: dict[str, Any], replace: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Validate and store one document under its idempotency key; a repeated key returns the first answer.
    With `replace`, the document of that RecordID is replaced (a corrected budget line keeps its record)."""
    body_hash = _body_hash(doc)
    row = state.db.execute("SELECT body_hash, status, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
    if row is not None:
        if row[0] != body_hash:
            return 422, {"Message": f"Idempotency-Key {key!r} was already used with a different body",
                         "ExceptionType": "System.InvalidOperationException", "_replayed": False}
        return row[1], {**json.loads(row[2]), "_replayed": True}
    problems = validate_document(doc, state.guids)
    existing = None
    if replace is not None:
        existing = state.db.execute("SELECT body FROM documents WHERE record_id = ?", (replace,)).fetchone()
    if problems:
        status, answer = 400, {"Message": "; ".join(problems), "ExceptionType": "System.ArgumentException"}
    elif replace is not None and existing is None:
        status, answer = 404, {"Message": f"ไม่พบเอกสาร RecordID {replace}", "ExceptionType": "System.Collections.Generic.KeyNotFoundException"}
    else:
        record_id = replace or str(uuid.uuid4())
        line_ids = [str(uuid.uuid4()) for _ in doc["Lines"]]
        revision = json.loads(existing[0]).get("Revision", 1) + 1 if existing else 1
        stored = {**doc, "RecordID": record_id, "Revision": revision, "Lines": [
            {**line, "LineID": line_id} for line, line_id in zip(doc["Lines"], line_ids)
        ]}
        if existing:
            state.db.execute(
                "UPDATE documents SET idempotency_key = ?, body = ?, received_at = ? WHERE record_id = ?",
                (key, json.dumps(stored, ensure_ascii=False), _now(), record_id),
            )
        else:
            state.db.execute(
                "INSERT INTO documents (record_id, idempotency_key, body, received_at) VALUES (?,?,?,?)",
                (record_id, key, json.dumps(stored, ensure_ascii=False), _now()),
            )
        status, answer = 200, {"d": {"RecordID": record_id, "LineIDs": line_ids}}
    state.db.execute(
        "INSERT INTO idempotency (key, body_hash, status, answer) VALUES (?,?,?,?)",
        (key, body_hash, status, json.dumps(answer, ensure_ascii=False)),
    )
    state.db.commit()
    return status, {**answer, "_replayed": False}


def _fault_answer(fault: Fault) -> dict[str, Any]:
    return {"Message": fault.message or f"simulated fault {fault.status}", "ExceptionType": "Simulated"}


async def _guard(request: web.Request, body: Any, *, batch: bool = False) -> web.Response | None:
    """Injected faults first (they imitate a broken gateway in front of e-LAAS), then the API key.
    In a batch, faults aimed at one document (`match`) are answered per item instead."""
    state = request.app[STATE]
    if batch:
        fault = state.next_fault("")  # an empty text matches only the faults aimed at every request
    else:
        fault = state.next_fault(json.dumps(body, ensure_ascii=False))
    key = request.headers.get("Idempotency-Key")
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        state.log(request, key, body, fault.status)
        return web.json_response(_fault_answer(fault), status=fault.status, headers=headers)
    if request.headers.get("X-Api-Key") != request.app[API_KEY]:
        state.log(request, key, body, 401)
        return _error(401, "Authentication failed: missing or wrong X-Api-Key", "System.UnauthorizedAccessException")
    return None


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.HTTPBadRequest  # sentinel: the caller answers 400


async def put_budget_expense(request: web.Request) -> web.Response:
    """Replace the document of one RecordID (the same guards and idempotency as a new one)."""
    return await post_budget_expense(request, replace=request.match_info["record_id"])


async def post_budget_expense(request: web.Request, replace: str | None = None) -> web.Response:
    state = request.app[STATE]
    body = await _read_json(request)
    refused = await _guard(request, None if body is web.HTTPBadRequest else body)
    if refused is not None:
        return refused
    key = request.headers.get("Idempotency-Key", "").strip()
    if body is web.HTTPBadRequest:
        state.log(request, key or None, None, 400)
        return _error(400, "The request body is not valid JSON")
    if not key:
        state.log(request, None, body, 400)
        return _error(400, "The Idempotency-Key header is required")
    async with state.lock:
        status, answer = await _store_document(state, key, body, replace)
    replayed = answer.pop("_replayed")
    state.log(request, key, body, status, replayed)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return web.json_response(answer, status=status, headers=headers)


async def post_budget_expense_batch(request: web.Request) -> web.Response:
    """Many documents in one call; each item carries its own idempotency key and gets its own answer."""
    state = request.app[STATE]
    body = await _read_json(request)
    refused = await _guard(request, None if body is web.HTTPBadRequest else body, batch=True)
    if refused is not None:
        return refused
    items = body.get("Items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        state.log(request, None, body, 400)
        return _error(400, 'The body must be {"Items": [{"IdempotencyKey": ..., "Document": {...}}]}')
    results = []
    async with state.lock:
        for item in items:
            key = str((item or {}).get("IdempotencyKey") or "").strip() if isinstance(item, dict) else ""
            if not key:
                results.append({"Status": 400, "Message": "IdempotencyKey is required"})
                continue
            fault = state.next_fault(json.dumps(item.get("Document"), ensure_ascii=False), matched_only=True)
            if fault is not None:
                results.append({"IdempotencyKey": key, "Status": fault.status, **_fault_answer(fault)})
                continue
            status, answer = await _store_document(state, key, item.get("Document"))
            replayed = answer.pop("_replayed")
            state.log(request, key, item.get("Document"), status, replayed)  # the standard log: one entry per item
            results.append({"IdempotencyKey": key, "Status": status, "Replayed": replayed,
                            **answer.get("d", {}), **({"Message": answer["Message"]} if "Message" in answer else {})})
    state.log(request, None, body, 200)
    return web.json_response({"d": {"Results": results}})


def _dropdown(entries: list[Any]) -> web.Response:
    items = "".join(
        f"<DropdownData><Value>{escape(e.guid)}</Value><Text>{escape(e.name_th)}</Text></DropdownData>"
        for e in entries
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<ArrayOfDropdownData xmlns="http://tempuri.org/">{items}</ArrayOfDropdownData>'
    )
    return web.Response(text=xml, content_type="text/xml", charset="utf-8")


def _dropdown_handler(level: str | None, parent_param: str | None) -> Any:
    async def handler(request: web.Request) -> web.Response:
        guids = request.app[STATE].guids
        if parent_param is None:
            return _dropdown(guids.at_level(level or ""))
        parent = request.query.get(parent_param, "")
        if guids.entry_of_guid(parent) is None:
            return _dropdown([])  # as the real service does: an unknown parent gives an empty list
        return _dropdown(guids.children_of(parent))

    return handler


async def sim_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "system": "elaas-simulator"})


async def sim_records(request: web.Request) -> web.Response:
    rows = request.app[STATE].db.execute(
        "SELECT body, idempotency_key, received_at FROM documents ORDER BY rowid"
    ).fetchall()
    documents = [{**json.loads(r[0]), "_idempotency_key": r[1], "_received_at": r[2]} for r in rows]
    lines = [
        {"RecordID": d["RecordID"], "LaoCode": d.get("LaoCode"), **line} for d in documents for line in d["Lines"]
    ]
    return web.json_response({"documents": documents, "lines": lines})


async def sim_set_faults(request: web.Request) -> web.Response:
    body = await request.json()
    specs = body if isinstance(body, list) else [body]
    state = request.app[STATE]
    for spec in specs:
        state.faults.append(Fault.from_spec(spec, match=spec.get("match")))
    return web.json_response({"pending": [f.__dict__ for f in state.faults]})


async def sim_clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults.clear()
    return web.json_response({"pending": []})


def create_app(
    state_dir: Path | str | None = None, *, api_key: str = DEFAULT_API_KEY, guids: GuidCrosswalk | None = None
) -> web.Application:
    """The simulator as an aiohttp application; state in memory unless `state_dir` is given."""
    app = web.Application()
    app[STATE] = SimState(state_dir, guids or default_guids())
    app[API_KEY] = api_key
    app.router.add_post("/api/BudgetExpense", post_budget_expense)
    app.router.add_post("/api/BudgetExpense/Batch", post_budget_expense_batch)
    app.router.add_put("/api/BudgetExpense/{record_id}", put_budget_expense)
    dropdowns = {
        "GetExpExpensePlan": ("programme", None),
        "GetExpExpenseJob": (None, "PlanID"),
        "GetExpBudget": ("budget_group", None),
        "GetExpExpenseCategory": (None, "budgetID"),
        "GetExpExpenseType": (None, "categoryID"),
    }
    for name, (level, param) in dropdowns.items():
        app.router.add_get(f"/DropDownService.asmx/{name}", _dropdown_handler(level, param))
    app.router.add_get("/_sim/health", sim_health)
    app.router.add_get("/_sim/log", testing.database_log(app[STATE].db))
    app.router.add_get("/_sim/records", sim_records)
    app.router.add_post("/_sim/faults", sim_set_faults)
    app.router.add_delete("/_sim/faults", sim_clear_faults)
    testing.close_on_cleanup(app, app[STATE].db)
    return app


def main() -> None:
    parser = testing.simulator_arguments("e-LAAS simulator", 8092)
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    testing.run_simulator(parser, lambda args: create_app(args.state_dir, api_key=args.api_key))


if __name__ == "__main__":
    main()
