"""An imitation of e-budgeting for tests and demos: bbgfproject pages by offset, and the local-grant
request channel.

The open-data side answers as the real `bbgfproject` does: `{"result": [...]}`, 20 rows a page by
`offset` whatever `limit` says, no word on whether more follow, filters `year`, `min_code` and
`prov_code`, the credential as the query parameter `user_token`, Thai text with its tabs and stray
quotes, amounts as JSON numbers with satang. Created with `result_as_text=True`, it hands `result` over
as JSON text, as some API versions do [I]. The request channel's API is the project's own design (the
real one publishes none [U]): a request is filed once per Idempotency-Key and answered with a number
`<region>-<fiscal year>-<running number>`; the new version of a filed request amends it in place.

    GET  /api/service/bbgfproject?year=&offset=&min_code=&prov_code=&user_token=
    POST /bbl/api/v1/requests                  file a request (X-Api-Key, Idempotency-Key)
    PUT  /bbl/api/v1/requests/{request_no}     amend a filed request
    GET  /bbl/api/v1/requests/{request_no}
    POST /_sim/approve/{request_no}            the Bureau approves: {"budget_code", "approved_amount"}
    GET  /_sim/health  /_sim/log  /_sim/records      POST|DELETE /_sim/faults   (prasan.testing)

`python -m plugins.ebudget.simulator --port 8094` runs it.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from plugins.ebudget.parse import rows_of
from prasan import loads_strict_json
from prasan.testing import SimulatorState, run_simulator, simulator_app, simulator_arguments

READ_TOKEN = "ebudget-sim-token"
REQUEST_KEY = "ebudget-sim-key"
PAGE_SIZE = 20
SAMPLES = Path(__file__).parent / "samples"
SEEDED_YEARS = (2559, 2568)
# What points e-budgeting at this simulator, besides its URL: both credentials and the years it holds.
SIMULATOR_SETTINGS = {"api_key": READ_TOKEN, "requests_api_key": REQUEST_KEY, "fiscal_years": list(SEEDED_YEARS)}
GRANT_TYPES = {"เงินอุดหนุนทั่วไป", "เงินอุดหนุนเฉพาะกิจ"}
STATUSES = {"ร่างคำขอ", "ยื่นคำขอ", "อนุมัติ", "ไม่อนุมัติ"}
_AMOUNT = re.compile(r"^[0-9]{1,16}\.[0-9]{2}$")
# The channel is organised in regions A1-A6 [C]; which provinces fall in which is not published [U],
# so the simulator groups by the first digit of the DOPA province code, a stand-in.
_REGIONS = {"1": "A1", "2": "A2", "3": "A3", "4": "A4", "5": "A5", "6": "A5", "7": "A1", "8": "A6", "9": "A6"}
# prov_code filter: DOPA province codes of the provinces the seeded rows name.
_PROVINCES = {"10": "กรุงเทพมหานคร", "40": "ขอนแก่น", "50": "เชียงใหม่", "81": "กระบี่", "94": "ปัตตานี"}
ROWS = web.AppKey("ebudget_rows", list)
OPTIONS = web.AppKey("ebudget_options", dict)


def _seed_rows() -> list[dict[str, Any]]:
    """The samples, plus generated grants so that a year spans several pages."""
    rows = rows_of(loads_strict_json((SAMPLES / "bbgfproject_2559.json").read_text(encoding="utf-8")))
    lines = (SAMPLES / "bbgfproject_2568.jsonl").read_text(encoding="utf-8").splitlines()
    rows += [row for row in map(loads_strict_json, lines) if row["bb_year"] == "2568"]
    orgs = [
        ("เทศบาลตำบลบ้านเป็ด", "ขอนแก่น"),
        ("เทศบาลเมืองแม่เหียะ", "เชียงใหม่"),
        ("เทศบาลตำบลคลองท่อมใต้", "กระบี่"),
    ]
    for n in range(1, 43):
        org, province = orgs[n % len(orgs)]
        amount = Decimal(250_000 + 12_345 * n) + Decimal(n % 4) / 4
        rows.append({
            "bb_code": f"1500852002500{n:03d}", "bb_year": "2568", "amount": amount, "min_code": "15000",
            "min": "กระทรวงมหาดไทย", "agc_code": "15008", "agc": "กรมส่งเสริมการปกครองท้องถิ่น",
            "name": f"เงินอุดหนุนสำหรับสนับสนุนการจัดการศึกษาภาคบังคับ {org}\t",
            "plan_name": "แผนงานยุทธศาสตร์ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น ",
            "stg_name": "ยุทธศาสตร์ด้านการปรับสมดุลและพัฒนาระบบการบริหารจัดการภาครัฐ",
            "objc_level1_name": "งบอุดหนุน", "compare": [{"bb_amount": amount, "bb_province": province}],
            "gf_amount_sum": 0,
        })  # fmt: skip
    return rows


_NUMBER = re.compile(r'"\\u0000number:([0-9.-]+)"')


def dumps_json(value: Any, indent: int | None = None) -> str:
    """JSON as the API writes it: amounts as bare numbers, a Decimal with satang digit for digit
    (never through a float)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=_number)
    return _NUMBER.sub(r"\1", text)


def _number(value: Any) -> str:
    return f"\x00number:{value}" if isinstance(value, Decimal) else str(value)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=dumps_json)


def _matches(row: dict[str, Any], query: Any) -> bool:
    if str(row.get("bb_year")) != query.get("year"):
        return False
    if query.get("min_code") and row.get("min_code") != query["min_code"]:
        return False
    province = _PROVINCES.get(query.get("prov_code", ""), query.get("prov_code"))
    return not province or any(item.get("bb_province") == province for item in row.get("compare") or [])


async def get_bbgfproject(request: web.Request) -> web.Response:
    if request.query.get("user_token") != READ_TOKEN:
        return _error(401, "invalid user_token")
    offset = request.query.get("offset", "0")
    if not request.query.get("year") or not offset.isdigit():
        return _error(400, "year is required and offset must be a whole number")
    rows = [row for row in request.app[ROWS] if _matches(row, request.query)]
    page = rows[int(offset) : int(offset) + PAGE_SIZE]
    result: Any = dumps_json(page) if request.app[OPTIONS]["result_as_text"] else page
    return web.json_response({"result": result}, dumps=dumps_json)


def _problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the request must be a JSON object"]
    problems = []
    if not re.fullmatch(r"[2-6][0-9]{6}", str(body.get("lao_code", ""))):
        problems.append(f"lao_code {body.get('lao_code')!r} is not a DLA code of 7 digits")
    if not isinstance(body.get("budget_year"), int) or not 2400 <= body["budget_year"] <= 2700:
        problems.append(f"budget_year {body.get('budget_year')!r} must be a Buddhist-Era year such as 2568")
    for field in ("request_amount", "approved_amount"):
        if (field in body or field == "request_amount") and not _AMOUNT.match(str(body.get(field, ""))):
            problems.append(f"{field} {body.get(field)!r} must be text with two decimals")
    if body.get("grant_type") not in GRANT_TYPES:
        problems.append(f"grant_type {body.get('grant_type')!r} is not one of {sorted(GRANT_TYPES)}")
    if body.get("request_status", "ร่างคำขอ") not in STATUSES:
        problems.append(f"request_status {body.get('request_status')!r} is not one of {sorted(STATUSES)}")
    return problems


def _body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def _file(request: web.Request, request_no: str | None) -> web.Response:
    state = SimulatorState.of(request)
    key = state.key_of(request)
    if request.headers.get("X-Api-Key") != REQUEST_KEY:
        state.log(request, key=key, status=401)
        return _error(401, "missing or wrong X-Api-Key")
    if key is None:
        state.log(request, key=None, status=400)
        return _error(400, "Idempotency-Key is required: the channel files each request once")
    try:
        body = loads_strict_json(await request.text())
    except ValueError as exc:
        state.log(request, key=key, status=400)
        return _error(400, f"the body is not JSON: {exc}")
    earlier = next((a for a in state.records.values() if key in a.record.get("_keys", {})), None)
    if earlier is not None:
        if earlier.record["_keys"][key] != _body_hash(body):
            state.log(request, key=key, status=409)
            return _error(409, f"Idempotency-Key {key!r} was used for another request body")
        state.log(request, key=key, status=200, replayed=True, request_no=earlier.record_id)
        return web.json_response({"request_no": earlier.record_id, "revision": earlier.record["revision"]})
    problems = _problems(body)
    if problems:
        state.log(request, key=key, status=422)
        return _error(422, "; ".join(problems))
    previous = state.records.get(request_no) if request_no else None
    if request_no and previous is None:
        state.log(request, key=key, status=404)
        return _error(404, f"no request {request_no}")
    if previous is None:
        region = _REGIONS.get(body["lao_code"][1], "A1")
        request_no = f"{region}-{body['budget_year']}-{len(state.records) + 1:06d}"
    keys = {**(previous.record["_keys"] if previous else {}), key: _body_hash(body)}
    revision = previous.record["revision"] + 1 if previous else 1
    request_no, _ = state.apply(key, {**body, "revision": revision, "_keys": keys}, record_id=request_no)
    status = 200 if previous else 201
    state.log(request, key=key, status=status, replayed=False, request_no=request_no)
    return web.json_response({"request_no": request_no, "revision": revision}, status=status)


async def post_request(request: web.Request) -> web.Response:
    return await _file(request, None)


async def put_request(request: web.Request) -> web.Response:
    return await _file(request, request.match_info["request_no"])


async def get_request(request: web.Request) -> web.Response:
    found = SimulatorState.of(request).records.get(request.match_info["request_no"])
    if found is None:
        return _error(404, "no such request")
    return web.json_response({k: v for k, v in found.record.items() if k != "_keys"}, dumps=dumps_json)


async def approve_request(request: web.Request) -> web.Response:
    """The Bureau's decision, for tests and demos: the request approved with an amount and the GF-MIS budget
    code it will be paid from; answered with the request as the channel now holds it."""
    state = SimulatorState.of(request)
    found = state.records.get(request.match_info["request_no"])
    if found is None:
        return _error(404, "no such request")
    try:
        decision = loads_strict_json(await request.text() or "{}")
    except ValueError as exc:
        return _error(400, f"the body is not JSON: {exc}")
    if not isinstance(decision, dict) or not re.fullmatch(r"[0-9]{20}", str(decision.get("budget_code", ""))):
        return _error(422, "budget_code must be the 20-digit GF-MIS budget code")
    approved = str(decision.get("approved_amount") or found.record["request_amount"])
    found.record.update(request_status="อนุมัติ", approved_amount=approved, budget_code=decision["budget_code"])
    state.save()
    return web.json_response(
        {"request_no": found.record_id, **{k: v for k, v in found.record.items() if k != "_keys"}}, dumps=dumps_json
    )


def create_app(state_dir: Path | None = None, *, result_as_text: bool = False) -> web.Application:
    """`state_dir`: where the filed requests and the log are kept across restarts (None: in memory)."""
    # Credentials are checked per channel by the handlers (a query token here, a header there).
    state_file = state_dir / "requests.json" if state_dir is not None else None
    app = simulator_app(SimulatorState(api_key=None, state_file=state_file), [
        web.get("/api/service/bbgfproject", get_bbgfproject),
        web.post("/bbl/api/v1/requests", post_request),
        web.put("/bbl/api/v1/requests/{request_no}", put_request),
        web.get("/bbl/api/v1/requests/{request_no}", get_request),
        web.post("/_sim/approve/{request_no}", approve_request),
    ])  # fmt: skip
    app[ROWS] = _seed_rows()
    app[OPTIONS] = {"result_as_text": result_as_text}
    return app


def main() -> None:
    run_simulator(simulator_arguments("e-budgeting simulator", 8094), lambda args: create_app())


if __name__ == "__main__":
    main()
