"""The database going away under a running hub.

PostgreSQL: the test owns its cluster (tests/postgres_cluster.py), stops it with `pg_ctl -m immediate`
while a producer keeps posting, and starts it again. The producer must only ever see 202 for what was
stored or 503 with Retry-After; /readyz says why; the loops wait without logging every round; the hub
comes back by itself and delivers everything it answered 202 for.

SQLite: a database file locked by someone else past the busy timeout answers 503, not 500, and keeps nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from sqlalchemy import func, select

import core.store.engine
from core.settings import DeliverySettings
from core.store.schema import inbox_messages
from tests.e2e.conftest import RunningHub, hub_with_simulators
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv
from tests.observability.metrics_text import parse, value
from tests.postgres_cluster import PostgresCluster, bindir_or_skip

pytestmark = pytest.mark.e2e

DELIVERY = DeliverySettings(backoff_base_s=0.05, backoff_max_s=0.2, poll_interval_s=0.02, workers=2)


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    bindir = bindir_or_skip()
    # Not pytest's tmp_path: its parents are private to this user, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="prasan-pg-outage-"))
    cluster = PostgresCluster(bindir, root)
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def make_hub() -> AsyncIterator[Any]:
    """Starts a hub (scheduler leadership included) on a database URL, with e-plan and e-LAAS simulators."""
    async with AsyncExitStack() as stack:

        async def make(database_url: str) -> RunningHub:
            return await stack.enter_async_context(hub_with_simulators(database_url, delivery=DELIVERY))

        yield make


def batch(number: int, size: int = 3) -> bytes:
    """`size` projects of their own per batch number (their names carry it)."""
    rows = p02_rows(size)
    for row in rows:
        row[4] = f"{row[4]} ชุดที่ {number}"
    return to_csv(rows)


async def post(hub: RunningHub, body: bytes) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {hub.eplan_key}"}
    async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None), response.headers


def stored_keys(answer: dict[str, Any]) -> set[str]:
    """The e-LAAS delivery keys a 202 answer stands for (new or changed versions only)."""
    return {f"elaas:{e['id']}:{e['version']}" for e in answer["entities"] if e["changed"]}


async def acknowledged_keys(hub: RunningHub) -> set[str]:
    """Every delivery key e-LAAS answered with success, single writes and batch items alike."""
    keys: set[str] = set()
    for entry in (await hub.elaas("log"))["entries"]:
        if entry["status"] >= 300:
            continue
        if entry["idempotency_key"]:
            keys.add(entry["idempotency_key"])
        body = entry["body"]
        if isinstance(body, dict):
            keys.update(item["IdempotencyKey"] for item in body.get("Items", []))
    return keys


@pytest.mark.postgres
async def test_postgres_stopped_and_restarted_mid_flow(cluster: PostgresCluster, make_hub: Any) -> None:
    hub = await make_hub(cluster.url)
    status = hub.hub.store.status
    promised: set[str] = set()  # every version a producer was told (202) is stored
    answers: dict[int, int] = {}
    number = 0

    async def produce() -> tuple[int, Any, Any]:
        nonlocal number
        number += 1
        code, answer, headers = await post(hub, batch(number))
        answers[code] = answers.get(code, 0) + 1
        if code == 202:
            promised.update(stored_keys(answer))
        else:
            assert code == 503, (code, answer)
            assert answer["rule"] == "database.unavailable"
            assert int(headers["Retry-After"]) >= 1
        return code, answer, headers

    for _ in range(3):
        assert (await produce())[0] == 202
    with structlog.testing.capture_logs() as logs:
        await asyncio.to_thread(cluster.stop, "immediate")
        outage_started = time.monotonic()
        for _ in range(20):
            await produce()
            await asyncio.sleep(0.1)
        assert answers.get(503, 0) >= 15  # the database was really away for this stretch
        ready = await hub.get_json(f"{hub.url}/readyz")
        assert ready["status"] == "not ready"
        assert ready["checks"]["database"].startswith("unreachable: ")
        assert ready["checks"]["database_outage"]["paused"] == ["delivery", "scheduling"]
        async with hub.http.get(f"{hub.url}/metrics") as response:  # the scrape still answers
            assert response.status == 200
            assert value(parse(await response.text()), "prasan_database_up") == 0
        during = status.outage
        assert during is not None
        outage_s = time.monotonic() - outage_started
        # Without backoff each of the four delivery workers would fail every poll (20 ms): about 100
        # failures a second each. The producer's posts, the /readyz probe and the scrape fail once each.
        loops = len(hub.hub.workers) + 2  # workers, leadership, route refresh
        assert during.failures - answers[503] - 2 <= loops * (outage_s / status.retry_min_s + 3)

        await asyncio.to_thread(cluster.start)
        restarted = time.monotonic()
        while (await produce())[0] != 202:
            assert time.monotonic() - restarted < 30, "the hub did not come back within 30 s of the database"
            await asyncio.sleep(0.1)
        recovered_s = time.monotonic() - restarted
        await hub.wait_until(lambda: _true(status.available), "the store's status back to available")
    print(f"database outage: {answers} answers; first 202 {recovered_s:.2f} s after the restart")

    events = [entry["event"] for entry in logs]
    assert events.count("database_unavailable") == 1  # logged once per change of state, not per loop
    assert events.count("database_available") == 1
    assert not {"delivery_round_failed", "scheduler_lease_unreachable", "metrics_database_unreachable"} & set(events)

    for _ in range(2):  # and it keeps working as before
        assert (await produce())[0] == 202
    await hub.wait_until(hub.settled, "everything stored delivered after recovery", limit_s=60)
    missing = promised - await acknowledged_keys(hub)
    assert not missing, f"{len(missing)} versions answered 202 but never delivered: {sorted(missing)[:5]}"
    assert len(promised) >= 3 * 6
    ready = await hub.get_json(f"{hub.url}/readyz")
    assert ready["checks"]["database"] == "ok" and "database_outage" not in ready["checks"]


async def _true(value: bool) -> bool:
    return value


async def test_a_locked_sqlite_file_answers_503_and_keeps_nothing(
    tmp_path: Path, make_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer holding the file for longer than the busy timeout: a quarter second instead of
    # 30 s, so the test does not wait that long.
    monkeypatch.setattr(core.store.engine, "SQLITE_BUSY_TIMEOUT_MS", 250)
    path = tmp_path / "hub.db"
    hub = await make_hub(f"sqlite:///{path}")
    assert (await post(hub, batch(1)))[0] == 202

    def inbox_count() -> int:
        with hub.hub.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(inbox_messages)).scalar_one())

    before = await asyncio.to_thread(inbox_count)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        with structlog.testing.capture_logs() as logs:
            code, answer, headers = await post(hub, batch(2))
        assert code == 503, answer
        assert answer["rule"] == "database.unavailable" and int(headers["Retry-After"]) >= 1
        noticed = [entry["reason"] for entry in logs if entry["event"] == "database_unavailable"]
        assert noticed and all("database is locked" in reason for reason in noticed), logs
        # The hub's reads beside the held write lock succeed meanwhile, and end nothing.
        await asyncio.to_thread(hub.hub.store.read, lambda conn: conn.execute(select(func.count()).select_from(inbox_messages)))
        assert hub.hub.store.status.outage is not None and "locked" in hub.hub.store.status.outage.reason
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await asyncio.to_thread(inbox_count) == before  # the 503 kept nothing
    code, answer, _ = await post(hub, batch(2))
    assert code == 202 and answer["accepted"] == 3
    assert hub.hub.store.status.available  # a write ended it
    assert await asyncio.to_thread(inbox_count) == before + 1
