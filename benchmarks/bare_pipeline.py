"""The bare pipeline: what the hub does with nothing but the essentials, as a yardstick.

aiohttp takes JSON batches → pydantic validates each record → one outbox row per record in SQLite (one
transaction per batch) → a worker claims pending rows → HTTP POST of the batch to a sink → the rows are
marked delivered. No inbox copy of the payload, no mapping, no entity versions, no xrefs, no routes.

    python -m benchmarks.bare_pipeline --db FILE --sink URL --role all|api|worker   # prints READY <port>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import threading
import time
from decimal import Decimal
from typing import Annotated

from aiohttp import ClientSession, web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

Money = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(,\d{3})*(\.\d{1,2})?$")]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    org_code: Annotated[str, StringConstraints(pattern=r"^\d{7}$")] = Field(alias="รหัส อปท.")
    programme: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(alias="แผนงาน")
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(alias="ชื่อโครงการ")
    objective: str | None = Field(None, alias="วัตถุประสงค์", max_length=2000)
    budget_2568: Money | None = Field(None, alias="งบประมาณ 2568")
    budget_2569: Money | None = Field(None, alias="งบประมาณ 2569")
    unit: str | None = Field(None, alias="หน่วยงานรับผิดชอบหลัก", max_length=200)

    def amount(self, value: str | None) -> str | None:
        return None if value is None else str(Decimal(value.replace(",", "")))


BATCH = TypeAdapter(list[Record])
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, state TEXT NOT NULL,
    received_at REAL NOT NULL, claimed_at REAL, delivered_at REAL);
CREATE INDEX IF NOT EXISTS ix_outbox_pending ON outbox(id) WHERE state = 'pending';
"""


class Db:
    """One sqlite3 connection per thread (the handlers run in asyncio.to_thread, as the hub's store does)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self.local.conn = conn
        return conn

    def insert(self, rows: list[tuple[str, str, float]]) -> None:
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO outbox (payload, state, received_at) VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")

    def claim(self, limit: int) -> list[tuple[int, str]]:
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute("SELECT id, payload FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)).fetchall()
        if rows:
            now = time.time()
            conn.executemany("UPDATE outbox SET state = 'in_flight', claimed_at = ? WHERE id = ?", [(now, r[0]) for r in rows])
        conn.execute("COMMIT")
        return rows

    def acknowledge(self, ids: list[int]) -> None:
        conn = self.conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE outbox SET state = 'delivered', delivered_at = ? WHERE id = ?", [(now, i) for i in ids])
        conn.execute("COMMIT")


def api_app(db: Db) -> web.Application:
    async def ingest(request: web.Request) -> web.Response:
        received = time.time()
        records = BATCH.validate_json(await request.read())
        rows = [
            (
                json.dumps(
                    {
                        "org_code": r.org_code,
                        "programme": r.programme,
                        "title": r.title,
                        "objective": r.objective,
                        "budget": {"2568": r.amount(r.budget_2568), "2569": r.amount(r.budget_2569)},
                        "unit": r.unit,
                    },
                    ensure_ascii=False,
                ),
                "pending",
                received,
            )
            for r in records
        ]
        await asyncio.to_thread(db.insert, rows)
        return web.json_response({"accepted": len(rows)}, status=202)

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_post("/ingest", ingest)
    return app


async def worker(db: Db, sink: str, stop: asyncio.Event, claim: int = 500) -> None:
    async with ClientSession() as http:
        while not stop.is_set():
            rows = await asyncio.to_thread(db.claim, claim)
            if not rows:
                try:
                    await asyncio.wait_for(stop.wait(), 0.02)
                except TimeoutError:
                    pass
                continue
            body = ("[" + ",".join(payload for _, payload in rows) + "]").encode("utf-8")
            async with http.post(sink, data=body, headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"sink answered {answer.status}")
            await asyncio.to_thread(db.acknowledge, [i for i, _ in rows])


async def main(args: argparse.Namespace) -> None:
    db = Db(args.db)
    db.conn().executescript(SCHEMA)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = None
    port = 0
    if args.role in ("all", "api"):
        runner = web.AppRunner(api_app(db), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    tasks = []
    if args.role in ("all", "worker"):
        tasks = [asyncio.create_task(worker(db, args.sink, stop)) for _ in range(args.workers)]
    print(f"READY {port}", flush=True)
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    if runner is not None:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--role", choices=["all", "api", "worker"], default="all")
    parser.add_argument("--workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
