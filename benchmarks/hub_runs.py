"""The hub measured end to end: generated ผ.02 CSV posted to POST /api/v1/inbound/eplan, delivered to
a destination (benchmarks/sink.py, or the e-LAAS simulator), in hub processes started by
benchmarks/hub_process.py. Used by benchmarks/run_all.py and benchmarks/profile_run.py."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import Database, Proc, csv_batches, csv_body, pcts, start, stop_all

DELIVERY = {"workers": 2, "batch_size": 1000, "poll_interval_s": 0.02}
OPEN_LIMITS = {  # the benchmark client is one address and one key: rate limits would measure themselves
    "rate_limit_per_s": 1_000_000,
    "rate_limit_burst": 1_000_000,
    "address_rate_limit_per_s": 1_000_000,
    "address_rate_limit_burst": 1_000_000,
}


def prepare(db: Database) -> str:
    """Migrate the empty database and create the producer's API key (the hub's own store code)."""
    from core.store import Store

    store = Store(db.url)
    try:
        store.upgrade()
        clients = getattr(store, "access", store)  # Store.access.add_client since the store's split into repositories
        _, key = clients.add_client(f"bench-{uuid.uuid4().hex[:6]}", "eplan")
    finally:
        store.dispose()
    return key


def hub_env(db: Database, role: str, sink_url: str, api_key: str, **extra: Any) -> dict[str, str]:
    systems: dict[str, Any] = {"elaas": {"base_url": sink_url, "api_key": api_key}}
    if extra.pop("grant_requests", False):  # the second destination of grant projects, at the same sink
        systems["ebudget"] = {"base_url": sink_url, "requests_api_key": api_key}
    env = {
        "PRASAN_DATABASE_URL": db.url,
        "PRASAN_ROLE": role,
        "PRASAN_SCHEDULER_ENABLED": "false",
        "PRASAN_LOG_LEVEL": "warning",
        "PRASAN_LOG_FORMAT": "json",
        "PRASAN_DELIVERY": json.dumps(extra.pop("delivery", DELIVERY)),
        "PRASAN_SYSTEMS": json.dumps(systems),
        "PRASAN_SECURITY": json.dumps(extra.pop("security", OPEN_LIMITS)),
    }
    for section in ("limits", "imports"):
        if section in extra:
            env[f"PRASAN_{section.upper()}"] = json.dumps(extra.pop(section))
    return env


@dataclass
class HubSession:
    """Hub processes on one database: an API process (role all or api) and `workers` worker processes."""

    db: Database
    sink_url: str
    sink_key: str
    workers: int  # 0: one process doing everything (role all)
    profile_prefix: Path | None = None
    profile_records: int = 1
    pyinstrument: bool = False
    api_role: str | None = None  # override the first process's role (e.g. "api" with no workers at all)
    settings: dict[str, Any] = field(default_factory=dict)
    # Every record a grant project: delivered to e-budgeting as well as e-LAAS (two outbox rows each).
    grant_requests: bool = False
    procs: list[Proc] = field(default_factory=list)
    key: str = ""
    url: str = ""
    delivered_seen: int = 0
    last_outbox_id: int = 0

    def __enter__(self) -> HubSession:
        self.key = prepare(self.db)
        self.empty_bytes = self.db.size_bytes()
        roles = [(self.api_role or ("all" if self.workers == 0 else "api"), "api")] + [("worker", f"worker{i + 1}") for i in range(self.workers)]
        for role, name in roles:
            args = ["-m", "benchmarks.hub_process"]
            if self.profile_prefix is not None:
                args += ["--profile", str(self.profile_prefix) + f"-{name}", "--records", str(self.profile_records)]
                if self.pyinstrument:
                    args.append("--pyinstrument")
            env = hub_env(self.db, role, self.sink_url, self.sink_key, grant_requests=self.grant_requests, **dict(self.settings))
            self.procs.append(start(f"hub-{name}", args, env))
        self.url = f"http://127.0.0.1:{self.procs[0].port}/api/v1/inbound/eplan"
        return self

    def __exit__(self, *exc: object) -> None:
        self.rss = stop_all(self.procs)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "text/csv; charset=utf-8"}

    @property
    def destinations(self) -> int:
        return 2 if self.grant_requests else 1

    def delivered(self) -> int:
        return int(self.db.query("SELECT count(*) FROM outbox WHERE state = 'delivered'")[0][0])

    def stuck(self) -> list[tuple[Any, ...]]:
        return self.db.query("SELECT state, count(*) FROM outbox WHERE state NOT IN ('pending','in_flight','delivered') GROUP BY state")

    async def wait_delivered(self, total: int, timeout: float = 600.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = await asyncio.to_thread(self.delivered)
            if done >= total:
                return time.perf_counter()
            bad = await asyncio.to_thread(self.stuck)
            if bad:
                raise RuntimeError(f"deliveries failed: {bad}")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"only {self.delivered()} of {total} delivered within {timeout} s")

    def latencies(self) -> list[float]:
        """Receipt (the message's received_at) to acknowledgement (delivered_at) of rows not yet read."""
        rows = self.db.query(
            f"SELECT id, received_at, delivered_at FROM outbox WHERE delivered_at IS NOT NULL AND id > {self.last_outbox_id}"
        )
        out = []
        for outbox_id, received, delivered in rows:
            self.last_outbox_id = max(self.last_outbox_id, outbox_id)
            out.append((_ts(delivered) - _ts(received)).total_seconds())
        return out


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], busy_ok: bool = False
) -> int:
    """The records accepted; with busy_ok, -1 for a 503 (the hub's ingest.max_waiting_parses)."""
    async with http.post(url, data=body, headers=headers) as response:
        answer = await response.json()
        if busy_ok and response.status == 503:
            return -1
        if response.status != 202:
            raise RuntimeError(f"post failed: {response.status} {str(answer)[:300]}")
        return int(answer["accepted"])


async def throughput(session: HubSession, orgs: list[str], records: int, batch: int, producers: int = 2) -> dict[str, Any]:
    """Post `records` in batches with `producers` concurrent clients; wait until every one is delivered."""
    run = uuid.uuid4().hex[:6]
    bodies = csv_batches(records, batch, orgs, run, session.grant_requests)
    already = session.delivered()
    queue = list(reversed(bodies))
    post_s: list[float] = []

    async def producer(http: aiohttp.ClientSession) -> int:
        count = 0
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            count += await post(http, session.url, body, session.headers)
            post_s.append(time.perf_counter() - t)
        return count

    connector = aiohttp.TCPConnector(limit=producers)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        accepted = sum(await asyncio.gather(*(producer(http) for _ in range(producers))))
        ingested = time.perf_counter()
    finished = await session.wait_delivered(already + records * session.destinations)
    if accepted != records:
        raise RuntimeError(f"{accepted} of {records} accepted")
    latencies = await asyncio.to_thread(session.latencies)
    return {
        "records": records,
        "batch_rows": batch,
        "producers": producers,
        "seconds_total": round(finished - started, 3),
        "seconds_ingest": round(ingested - started, 3),
        "records_per_s": round(records / (finished - started), 1),
        "ingest_records_per_s": round(records / (ingested - started), 1),
        "ingest_requests_per_s": round(len(bodies) / (ingested - started), 2),
        "post_latency_s": pcts(post_s, 3),
        "receipt_to_delivered_s_backlog": pcts(latencies, 3),
    }


async def paced(
    session: HubSession, orgs: list[str], rate: float, batch: int, seconds: float, wait_delivery: bool = True
) -> dict[str, Any]:
    """Open loop: a batch of `batch` records every batch/rate seconds for `seconds`, whatever the answers
    take (so a slow answer cannot slow the offered load down); request and delivery latencies."""
    run = uuid.uuid4().hex[:6]
    count = max(1, int(rate * seconds / batch))
    bodies = [csv_body(i * batch, (i + 1) * batch, orgs, run) for i in range(count)]
    already = session.delivered()
    await asyncio.to_thread(session.latencies)  # skip rows of earlier phases
    post_s: list[float] = []
    busy: list[int] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(body: bytes) -> None:
            t = time.perf_counter()
            while await post(http, session.url, body, session.headers, busy_ok=True) < 0:
                busy.append(1)  # 503: ingest.max_waiting_parses reached; the time until accepted counts
                await asyncio.sleep(0.05)
            post_s.append(time.perf_counter() - t)

        started = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            delay = started + i * batch / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
        sent_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "offered_records_per_s": round(rate, 1),
        "achieved_records_per_s": round(count * batch / sent_s, 1),
        "batch_rows": batch,
        "records": count * batch,
        "post_latency_s": pcts(post_s, 4),
        "busy_503": len(busy),
    }
    if wait_delivery:
        await session.wait_delivered(already + count * batch)
        result["receipt_to_delivered_s"] = pcts(await asyncio.to_thread(session.latencies), 4)
    return result


async def single_posts(session: HubSession, orgs: list[str], seconds: float = 8.0, concurrency: int = 16) -> dict[str, Any]:
    """Closed loop: `concurrency` clients each posting one-record CSVs for `seconds`. A 503 (more payloads
    waiting to be read than ingest.max_waiting_parses, 16 by default) is counted and sent again 50 ms later."""
    run = uuid.uuid4().hex[:6]
    counter = iter(range(10**9))
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    already = session.delivered()

    async def client(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop_at:
            i = next(counter)
            body = csv_body(i, i + 1, orgs, run)
            while True:
                t = time.perf_counter()
                if await post(http, session.url, body, session.headers, busy_ok=True) >= 0:
                    latencies.append(time.perf_counter() - t)
                    break
                busy.append(1)
                await asyncio.sleep(0.05)

    busy: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    await session.wait_delivered(already + len(latencies))
    return {
        "posts": len(latencies),
        "concurrency": concurrency,
        "posts_per_s": round(len(latencies) / elapsed, 1),
        "busy_503": len(busy),
        "post_latency_s": pcts(latencies, 4),
    }
