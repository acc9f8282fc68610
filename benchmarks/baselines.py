"""The baselines that give the hub's figures a meaning, measured in the same run (benchmarks/run_all.py):

- storage limit: the rows the hub writes for each record, written straight through the database driver
  with batched executemany, on a database migrated by the hub itself (same tables, indexes, pragmas);
- peer: dlt loading the same (canonical) records from a Python generator into the same kind of database;
- bare pipeline: benchmarks/bare_pipeline.py (aiohttp → pydantic → SQLite outbox → claim → POST → ack).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import Database, csv_body, json_batches, pcts, start, stop_all


async def canonical_entities(orgs: list[str], records: int, batch: int) -> list[tuple[bytes, list[Any]]]:
    """The hub's own parse and map of the generated CSV batches: (CSV body, IncomingEntity list) each."""
    from core.hub import Hub
    from core.settings import HubSettings

    with tempfile.TemporaryDirectory() as folder:
        hub = Hub.build(HubSettings(database_url=f"sqlite:///{folder}/x.db", scheduler_enabled=False))
        plugin = hub.systems.get("eplan")
        out = []
        for s in range(0, records, batch):
            body = csv_body(s, min(records, s + batch), orgs, "storage")
            entities, rejected = await hub.ingestor.map_records(plugin, plugin.parse(body, "text/csv", "utf-8"))
            assert not rejected, rejected[:3]
            out.append((body, entities))
        return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def storage_limit(db: Database, batches: list[tuple[bytes, list[Any]]]) -> dict[str, Any]:
    """Per batch, one transaction: the inbox message (with the payload) and per record an entity, its first
    version, its source xref and an outbox row; then, per batch, the claim (outbox → in_flight) and the
    acknowledgement (outbox → delivered, plus the destination's xref) in a transaction each: every row
    the hub writes for a record, and nothing else (no reads, no mapping, no HTTP)."""
    from core.store import Store

    store = Store(db.url)
    store.upgrade()
    store.dispose()
    empty = db.size_bytes()
    sqlite = db.engine == "sqlite"
    p = "?" if sqlite else "%s"
    if sqlite:
        conn: Any = sqlite3.connect(db.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "temp_store=MEMORY", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
    else:
        import psycopg

        conn = psycopg.connect(db.dbapi_dsn, autocommit=True)

    def ts(value: datetime) -> Any:
        return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value

    def sql(text: str) -> str:
        return text.replace("?", p)

    records = sum(len(e) for _, e in batches)
    started = time.perf_counter()
    ingest_s = 0.0
    done: list[tuple[list[str], list[str]]] = []
    for body, entities in batches:
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        message_id = uuid.uuid4().hex
        ids = [uuid.uuid4().hex for _ in entities]
        cur = conn.cursor()
        cur.execute("BEGIN")
        cur.execute(
            sql(
                "INSERT INTO inbox_messages (message_id, system, client_name, received_at, media_type, charset, "
                "payload_sha256, record_count, accepted_count, rejected_count, outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            ),
            (message_id, "eplan", "bench", ts(now), "text/csv", "utf-8", "0" * 64, len(entities), len(entities), 0, "accepted"),
        )
        cur.execute(sql("INSERT INTO inbox_payloads (message_id, payload) VALUES (?,?)"), (message_id, body))
        cur.executemany(
            sql(
                "INSERT INTO entities (entity_id, entity_type, org_code, fiscal_year, current_version, content_hash, "
                "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)"
            ),
            [(i, e.entity_type, e.org_code, e.fiscal_year, 1, e.content_hash, ts(now), ts(now)) for i, e in zip(ids, entities)],
        )
        cur.executemany(
            sql("INSERT INTO xrefs (entity_id, system, entity_type, external_id) VALUES (?,?,?,?)"),
            [(i, "eplan", e.entity_type, e.external_id) for i, e in zip(ids, entities)],
        )
        cur.executemany(
            sql(
                "INSERT INTO entity_versions (entity_id, version, content_hash, payload, message_id, source_system, "
                "mapping_version, created_at) VALUES (?,?,?,?,?,?,?,?)"
            ),
            [(i, 1, e.content_hash, _dumps(e.payload), message_id, "eplan", e.mapping_version, ts(now)) for i, e in zip(ids, entities)],
        )
        cur.executemany(
            sql(
                "INSERT INTO outbox (delivery_key, destination, route, entity_id, entity_type, version, state, attempts, "
                "max_attempts, next_attempt_at, received_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            ),
            [
                (f"elaas:{i}:1", "elaas", "eplan-projects-to-elaas", i, e.entity_type, 1, "pending", 0, 8, ts(now), ts(now), ts(now))
                for i, e in zip(ids, entities)
            ],
        )
        cur.execute("COMMIT")
        ingest_s += time.perf_counter() - t0
        # the claim and the acknowledgement below address rows by their unique delivery key
        done.append(([f"elaas:{i}:1" for i in ids], ids))
    claim_ack_started = time.perf_counter()
    for keys, ids in done:
        now = datetime.now(UTC)
        cur = conn.cursor()
        cur.execute("BEGIN")
        cur.executemany(
            sql("UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, claimed_by = ?, claim_expires_at = ? WHERE delivery_key = ?"),
            [("bench", ts(now + timedelta(seconds=60)), k) for k in keys],
        )
        cur.execute("COMMIT")
        cur.execute("BEGIN")
        cur.executemany(
            sql("UPDATE outbox SET state = 'delivered', delivered_at = ?, claimed_by = NULL, claim_expires_at = NULL WHERE delivery_key = ?"),
            [(ts(now), k) for k in keys],
        )
        cur.executemany(
            sql("INSERT INTO xrefs (entity_id, system, entity_type, external_id) VALUES (?,?,?,?)"),
            [(i, "elaas", "plan_project", k) for i, k in zip(ids, keys)],
        )
        cur.execute("COMMIT")
    finished = time.perf_counter()
    conn.close()
    size = db.size_bytes() - empty
    return {
        "records": records,
        "records_per_s": round(records / (finished - started), 1),
        "insert_only_records_per_s": round(records / ingest_s, 1),
        "claim_ack_records_per_s": round(records / (finished - claim_ack_started), 1),
        "db_bytes_per_million_records": int(size / records * 1_000_000),
    }


def dlt_load(db: Database, batches: list[tuple[bytes, list[Any]]], folder: Path) -> dict[str, Any]:
    """dlt (extract → normalize → load) of the canonical records from a generator into a fresh database;
    its nested budget_by_year list becomes a child table, as dlt does."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    import dlt

    records = sum(len(e) for _, e in batches)

    def generate() -> Any:
        for _, entities in batches:
            for e in entities:
                yield {"external_id": e.external_id, **e.payload}

    if db.engine == "sqlite":
        destination = dlt.destinations.sqlalchemy(db.url)
        dataset = "main"
    else:
        # dlt counts credentials without a password as missing; the throwaway server trusts local users,
        # so any password will do.
        dsn = db.dbapi_dsn
        if "@" in dsn and ":" not in dsn.split("//", 1)[1].split("@", 1)[0]:
            dsn = dsn.replace("@", ":bench@", 1)
        destination = dlt.destinations.postgres(dsn)
        dataset = "dlt_bench"
    pipelines = folder / f"dlt-{uuid.uuid4().hex[:6]}"
    empty = db.size_bytes() if db.engine == "postgresql" else 0
    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{uuid.uuid4().hex[:6]}", destination=destination, dataset_name=dataset, pipelines_dir=str(pipelines)
    )
    info = pipeline.run(dlt.resource(generate(), name="plan_project"), write_disposition="append")
    elapsed = time.perf_counter() - started
    info.raise_on_failed_jobs()
    loaded = db.query(
        "SELECT count(*) FROM plan_project" if db.engine == "sqlite" else "SELECT count(*) FROM dlt_bench.plan_project"
    )[0][0]
    if loaded != records:
        raise RuntimeError(f"dlt loaded {loaded} of {records}")
    size = db.size_bytes() - empty
    shutil.rmtree(pipelines, ignore_errors=True)
    return {
        "records": records,
        "records_per_s": round(records / elapsed, 1),
        "seconds": round(elapsed, 3),
        "dlt_version": dlt.__version__,
        "destination": "sqlalchemy (SQLite)" if db.engine == "sqlite" else "postgres (psycopg2)",
        "db_bytes_per_million_records": int(size / records * 1_000_000),
    }


async def bare_pipeline(
    db: Database, sink_port: int, orgs: list[str], records: int, batch: int, processes: int, producers: int = 2,
    paced_rate: float | None = None,
) -> dict[str, Any]:
    from benchmarks.bare_pipeline import SCHEMA

    assert db.path is not None
    with sqlite3.connect(db.path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
    sink = f"http://127.0.0.1:{sink_port}/sink"
    args = ["-m", "benchmarks.bare_pipeline", "--db", str(db.path), "--sink", sink]
    procs = [start("bare-api", [*args, "--role", "all" if processes == 1 else "api"])]
    if processes == 2:
        procs.append(start("bare-worker", [*args, "--role", "worker"]))
    url = f"http://127.0.0.1:{procs[0].port}/ingest"
    bodies = json_batches(records, batch, orgs, uuid.uuid4().hex[:6])
    queue = list(reversed(bodies))

    def delivered() -> int:
        return int(db.query("SELECT count(*) FROM outbox WHERE state = 'delivered'")[0][0])

    async def producer(http: aiohttp.ClientSession) -> None:
        while queue:
            async with http.post(url, data=queue.pop(), headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                if answer.status != 202:
                    raise RuntimeError(f"bare pipeline answered {answer.status}")

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=producers)) as http:
            started = time.perf_counter()
            await asyncio.gather(*(producer(http) for _ in range(producers)))
            ingested = time.perf_counter()
        while await asyncio.to_thread(delivered) < records:
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
        latencies = [d - r for r, d in db.query("SELECT received_at, delivered_at FROM outbox")]
    finally:
        rss = stop_all(procs)
    return {
        "processes": processes,
        "records": records,
        "records_per_s": round(records / (finished - started), 1),
        "ingest_records_per_s": round(records / (ingested - started), 1),
        "receipt_to_delivered_s_backlog": pcts(latencies, 3),
        "peak_rss_mb": rss,
        "db_bytes_per_million_records": int(db.size_bytes() / records * 1_000_000),
    }
