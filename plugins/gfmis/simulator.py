"""An imitation of GF-MIS (New GFMIS Thai, CGD) for tests and demos: disbursement lines, polled by cursor.

The real GF-MIS publishes no API (integrators download its reports); this one serves the lines such a
download holds, keyed by the SAP names of the coding block, and behaves the way a fragile government
service does:

- it is rate limited: more than `rate_limit` page requests within `window_s` seconds are answered 429
  with `Retry-After` (whole seconds until the window frees a slot);
- it is sometimes slow: every `slow_every`-th page request is answered after `slow_delay_s` seconds;
- it writes amounts and dates as Thai exports do, deterministically so tests can rely on it: every
  third line has its amount in Thai digits and its posting date as "25 ก.ค. 68", the others
  "1,250,000.00" and SAP's dotted BE date "25.07.2568"; the fund source (GEBER) is a JSON number;
  GL accounts may carry the agency's sub-account suffix ("5104010107.101").

    GET  /api/v1/disbursements?cursor=<seq>&limit=<n>  {"records": [...], "next_cursor": "<seq>", "more": bool}
    POST /api/v1/disbursements    post one line (SAP names), once per Idempotency-Key
    POST /_sim/quirks             {"rate_limit", "window_s", "slow_every", "slow_delay_s"}
    and the helper's /_sim/health, /_sim/log, /_sim/records, /_sim/faults

`python -m plugins.gfmis.simulator --port 8094` runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from prasan.canonical import format_thai_date, to_thai_digits
from prasan.testing import SimulatorState, run_simulator, seed_data, simulator_app, simulator_arguments

API_KEY = "gfmis-sim-key"
SIMULATOR_SETTINGS = {"api_key": API_KEY}
LINES = "/api/v1/disbursements"
MAX_LIMIT = 1000

# Grants of กรมส่งเสริมการปกครองท้องถิ่น (15008) and two lines of กรมการปกครอง (15003), FY 2568 postings.
# Budget codes are made up in the 20-digit shape (the real layout is not public); funds and GL
# accounts follow the published patterns. Amounts are kept as exact text, dates as ISO CE, and
# turned into the export's forms when served.
SEED_LINES: list[dict[str, Any]] = seed_data(__file__)


@dataclass
class Quirks:
    rate_limit: int = 50
    window_s: float = 1.0
    slow_every: int = 0  # 0: never slow
    slow_delay_s: float = 0.0


@dataclass
class Ledger:
    """The simulator's own storage: lines in posting order (seq from 1), and when pages were asked for."""

    quirks: Quirks
    lines: list[dict[str, Any]] = field(default_factory=list)
    asked: deque[float] = field(default_factory=deque)
    seq_of: dict[str, int] = field(default_factory=dict)  # posted record id -> its seq
    pages_served: int = 0

    def post(self, line: dict[str, Any]) -> int:
        self.lines.append(line)
        return len(self.lines)

    def wait_needed(self) -> float:
        """0 when a page may be served now (and counts it), else the seconds until a slot frees."""
        now = time.monotonic()
        while self.asked and now - self.asked[0] >= self.quirks.window_s:
            self.asked.popleft()
        if len(self.asked) >= self.quirks.rate_limit:
            return self.quirks.window_s - (now - self.asked[0])
        self.asked.append(now)
        return 0.0


LEDGER = web.AppKey("gfmis_ledger", Ledger)


def _served(seq: int, line: dict[str, Any]) -> dict[str, Any]:
    """The line as the export writes it (see the module doc); the stored line stays exact."""
    posted = date.fromisoformat(line["BUDAT"])
    amount = _thousands(line["WRBTR"])
    if seq % 3 == 0:
        return {**line, "WRBTR": to_thai_digits(amount), "BUDAT": format_thai_date(posted, "abbr_2digit")}
    return {**line, "WRBTR": amount, "BUDAT": f"{posted.day:02d}.{posted.month:02d}.{posted.year + 543}"}


def _thousands(text: str) -> str:
    """'1250000.00' -> '1,250,000.00' on the text itself, so no amount passes through a float."""
    whole, _, fraction = str(text).partition(".")
    grouped = f"{int(whole):,}"
    return f"{grouped}.{(fraction + '00')[:2]}"


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = -1
    if value < 0:
        raise web.HTTPBadRequest(text=f'{{"error": "{name} must be a whole number >= 0"}}', content_type="application/json")
    return value


async def get_lines(request: web.Request) -> web.Response:
    ledger = request.app[LEDGER]
    wait = ledger.wait_needed()
    if wait > 0:
        return web.json_response(
            {"error": "too many requests; slow down"}, status=429, headers={"Retry-After": str(max(1, math.ceil(wait)))}
        )
    ledger.pages_served += 1
    quirks = ledger.quirks
    if quirks.slow_every and ledger.pages_served % quirks.slow_every == 0:
        await asyncio.sleep(quirks.slow_delay_s)
    cursor = _int_param(request, "cursor", 0)
    limit = min(_int_param(request, "limit", 200) or 200, MAX_LIMIT)
    page = [(seq, line) for seq, line in enumerate(ledger.lines, start=1) if seq > cursor][:limit]
    next_cursor = page[-1][0] if page else cursor
    return web.json_response(
        {"records": [_served(seq, line) for seq, line in page], "next_cursor": str(next_cursor),
         "more": next_cursor < len(ledger.lines)}
    )


async def post_line(request: web.Request) -> web.Response:
    state, ledger = SimulatorState.of(request), request.app[LEDGER]
    key = state.key_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    missing = [name for name in ("BUKRS", "BELNR", "BUDAT", "WRBTR") if not isinstance(body, dict) or not body.get(name)]
    if missing:
        state.log(request, key=key, status=400)
        return web.json_response({"error": f"missing {', '.join(missing)}"}, status=400)
    record_id, first = state.apply(key, body)
    if first:
        ledger.seq_of[record_id] = ledger.post(body)
    seq = ledger.seq_of[record_id]
    state.log(request, key=key, status=201, replayed=not first, record_id=record_id)
    return web.json_response({"seq": seq, "BELNR": body["BELNR"]}, status=201)


async def set_quirks(request: web.Request) -> web.Response:
    ledger = request.app[LEDGER]
    try:
        body = await request.json()
        ledger.quirks = dataclasses.replace(ledger.quirks, **body)
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": f"quirks are {list(Quirks.__dataclass_fields__)}: {exc}"}, status=400)
    ledger.asked.clear()
    return web.json_response(dataclasses.asdict(ledger.quirks))


def create_app(*, api_key: str | None = API_KEY, quirks: Quirks | None = None, seed: bool = True) -> web.Application:
    """The simulator as an aiohttp application, its state in memory."""
    state = SimulatorState(api_key=api_key)
    app = simulator_app(state, [web.get(LINES, get_lines), web.post(LINES, post_line)])
    app[LEDGER] = Ledger(quirks or Quirks(), [dict(line) for line in SEED_LINES] if seed else [])
    app.router.add_post("/_sim/quirks", set_quirks)
    return app


def main() -> None:
    run_simulator(simulator_arguments("GF-MIS simulator", 8094), lambda args: create_app())


if __name__ == "__main__":
    main()
