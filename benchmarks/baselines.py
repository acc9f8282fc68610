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
from dataclasses import dataclass
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


# The tables the hub writes for a new ผ.02 record and its delivery, parents first (the order PostgreSQL's
# foreign keys need), and the column that ties a table's rows to one posted batch.
HUB_TABLES = (
    ("inbox_messages", "message_id"),
    ("inbox_payloads", "message_id"),
    ("entities", "entity_id"),
    ("entity_versions", "entity_id"),
    ("xrefs", "entity_id"),
    ("outbox", "entity_id"),
    ("identity_keys", "entity_id"),
    ("ledger_projects", "entity_id"),
    ("ledger_categories", "entity_id"),
)
LEDGER_TABLES = ("ledger_projects", "ledger_categories")


@dataclass
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class WrittenBatch:
    """What the hub wrote for one posted batch: `ingested` in the ingest transaction; then the claim (the
    outbox keys), then the acknowledgement: the outbox's delivered columns, the destination's xrefs and the
    plan projects' ledger rows as the first delivery rewrites them."""

    ingested: dict[str, Rows]
    outbox_ids: list[int]
    delivered: Rows  # outbox: id, state, attempts, delivered_at
    destination_xrefs: Rows
    ledger: dict[str, Rows]


def _table_rows(conn: sqlite3.Connection, table: str, where: str = "") -> Rows:
    cursor = conn.execute(f'SELECT * FROM "{table}" {where}')
    return Rows([d[0] for d in cursor.description], cursor.fetchall())


def _by_batch(snapshot: Rows, key: str, batches: list[set[str]]) -> list[Rows]:
    position = snapshot.columns.index(key)
    of = {k: i for i, keys in enumerate(batches) for k in keys}
    out = [Rows(snapshot.columns, []) for _ in batches]
    for row in snapshot.rows:
        out[of[row[position]]].rows.append(row)
    return out


async def hub_written_rows(orgs: list[str], records: int, batch: int) -> list[WrittenBatch]:
    """The rows the hub itself writes per batch, read back from a scratch SQLite database: each batch
    posted through the hub's ingest (parse, map, record identity, ledger: the same code as POST
    /api/v1/inbound/eplan), then every outbox row claimed and acknowledged at e-LAAS through the store's
    claim and completion (with the external id the sink answers, the delivery key), as the worker does.
    Read after ingest and again after delivery, so the replay (`storage_limit`) writes each row in the
    transaction the hub writes it in, with the same values."""
    import structlog

    from core.hub import Hub
    from core.settings import HubSettings
    from core.store import Acknowledged, InboundMessage

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # a line per batch is noise here
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hub.db"
        hub = Hub.build(HubSettings(database_url=f"sqlite:///{path}", scheduler_enabled=False))
        hub.store.upgrade()
        plugin = hub.systems.get("eplan")
        messages = []
        for s in range(0, records, batch):
            message = InboundMessage("eplan", csv_body(s, min(records, s + batch), orgs, "storage"), "text/csv", "utf-8", "bench")
            report = await hub.ingestor.ingest_payload(plugin, message)
            if report.outcome.rejected:
                raise RuntimeError(f"the hub rejected records of the storage batch: {report.outcome.rejected[:3]}")
            messages.append(message.message_id)
        conn = sqlite3.connect(path)
        try:
            entity_ids: list[set[str]] = [set() for _ in messages]
            batch_of = {m: i for i, m in enumerate(messages)}
            for entity_id, message_id in conn.execute("SELECT entity_id, message_id FROM entity_versions"):
                entity_ids[batch_of[message_id]].add(entity_id)
            ingested = {
                table: _by_batch(_table_rows(conn, table), key, [{m} for m in messages] if key == "message_id" else entity_ids)
                for table, key in HUB_TABLES
            }
            while claimed := hub.store.outbox.claim_due("bench", limit=batch, destination="elaas"):
                now = datetime.now(UTC)
                hub.store.outbox.complete([Acknowledged(c.outbox_id, c.delivery_key, now, attempt=c.attempts, body=c.payload) for c in claimed])
            delivered = _by_batch(_table_rows(conn, "outbox", "WHERE state = 'delivered'"), "entity_id", entity_ids)
            pending = conn.execute("SELECT count(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
            if pending:
                raise RuntimeError(f"{pending} outbox rows of the storage batches were not delivered")
            refs = _by_batch(_table_rows(conn, "xrefs", "WHERE system = 'elaas'"), "entity_id", entity_ids)
            ledger = {table: _by_batch(_table_rows(conn, table), "entity_id", entity_ids) for table in LEDGER_TABLES}
        finally:
            conn.close()
            hub.store.dispose()
    keep = ("id", "state", "attempts", "delivered_at")
    out = []
    for i in range(len(messages)):
        done = delivered[i]
        picked = [done.columns.index(c) for c in keep]
        out.append(
            WrittenBatch(
                ingested={table: ingested[table][i] for table, _ in HUB_TABLES},
                outbox_ids=[row[done.columns.index("id")] for row in ingested["outbox"][i].rows],
                delivered=Rows(list(keep), [tuple(row[p] for p in picked) for row in done.rows]),
                destination_xrefs=refs[i],
                ledger={table: ledger[table][i] for table in LEDGER_TABLES},
            )
        )
    return out


def _insert(cur: Any, sql: Any, table: str, rows: Rows, copy: bool = False) -> None:
    if not rows.rows:
        return
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    if copy:
        with cur.copy(f'COPY "{table}" ({columns}) FROM STDIN') as stream:
            for row in rows.rows:
                stream.write_row(row)
        return
    cur.executemany(sql(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(rows.columns))})'), rows.rows)


def storage_limit(db: Database, batches: list[WrittenBatch], copy: bool = False) -> dict[str, Any]:
    """The rows the hub writes (`hub_written_rows`), replayed by batched executemany in the hub's
    transactions: per batch, the ingest (message, payload and per record its entity, version, source xref,
    outbox row, identity key and ledger rows); then, per batch, the claim (outbox → in_flight) and the
    acknowledgement (outbox → delivered, the destination's xref, the plan projects' ledger rows rewritten as
    the first delivery does: deleted and inserted). No reads, no mapping, no HTTP.

    `copy` (PostgreSQL): the fastest way the server takes the same rows, as the hub writes them there: each
    table's rows in one COPY, each update and delete one statement over arrays. psycopg's executemany sends
    a statement per row, so without it the hub, which copies, can pass the "limit"."""
    from core.store import Store

    store = Store(db.url)
    store.upgrade()
    store.dispose()
    empty = db.size_bytes()
    sqlite = db.engine == "sqlite"
    if sqlite:
        conn: Any = sqlite3.connect(db.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "temp_store=MEMORY", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
    else:
        import psycopg

        conn = psycopg.connect(db.dbapi_dsn, autocommit=True)

    def sql(text: str) -> str:
        return text if sqlite else text.replace("?", "%s")

    def claim_expiry() -> Any:
        expires = datetime.now(UTC) + timedelta(seconds=60)
        return expires.replace(tzinfo=None).isoformat(sep=" ") if sqlite else expires

    if not sqlite:
        batches = [_as_postgresql(written) for written in batches]
    records = sum(len(b.outbox_ids) for b in batches)
    started = time.perf_counter()
    for written in batches:
        cur = conn.cursor()
        cur.execute("BEGIN")
        for table, rows in written.ingested.items():
            _insert(cur, sql, table, rows, copy)
        cur.execute("COMMIT")
    claim_ack_started = time.perf_counter()
    for written in batches:
        cur = conn.cursor()
        cur.execute("BEGIN")
        expires = claim_expiry()
        claim = "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, claimed_by = ?, claim_expires_at = ? WHERE id "
        if copy:
            cur.execute(sql(claim + "= ANY(?)"), ("bench", expires, list(written.outbox_ids)))
        else:
            cur.executemany(sql(claim + "= ?"), [("bench", expires, i) for i in written.outbox_ids])
        cur.execute("COMMIT")
        cur.execute("BEGIN")
        delivered = "state = {}, attempts = {}, delivered_at = {}, claimed_by = NULL, claim_expires_at = NULL, last_error = NULL"
        if copy:
            cur.execute(
                "UPDATE outbox SET " + delivered.format("v.state", "v.attempts", "v.at") + " FROM unnest(%s::int[], "
                "%s::varchar[], %s::int[], %s::timestamptz[]) AS v(id, state, attempts, at) WHERE outbox.id = v.id",
                [list(column) for column in zip(*written.delivered.rows, strict=True)],
            )
        else:
            cur.executemany(
                sql("UPDATE outbox SET " + delivered.format("?", "?", "?") + " WHERE id = ?"),
                [(state, attempts, at, i) for i, state, attempts, at in written.delivered.rows],
            )
        _insert(cur, sql, "xrefs", written.destination_xrefs, copy)
        for table, rows in written.ledger.items():
            entity_ids = list({r[rows.columns.index("entity_id")] for r in rows.rows})
            if copy:
                cur.execute(f'DELETE FROM "{table}" WHERE entity_id = ANY(%s)', (entity_ids,))
            else:
                cur.executemany(sql(f'DELETE FROM "{table}" WHERE entity_id = ?'), [(i,) for i in entity_ids])
            _insert(cur, sql, table, rows, copy)
        cur.execute("COMMIT")
    finished = time.perf_counter()
    counts = {table: db_count(conn, table) for table, _ in HUB_TABLES}
    conn.close()
    size = db.size_bytes() - empty
    return {
        "records": records,
        "records_per_s": round(records / (finished - started), 1),
        "insert_only_records_per_s": round(records / (claim_ack_started - started), 1),
        "claim_ack_records_per_s": round(records / (finished - claim_ack_started), 1),
        "db_bytes_per_million_records": int(size / records * 1_000_000),
        "rows_per_table": counts,
    }


def _as_postgresql(written: WrittenBatch) -> WrittenBatch:
    """The rows as read from SQLite, with its timestamp text (naive UTC) made the aware datetimes a
    PostgreSQL timestamptz column takes, so that the session's time zone cannot shift them."""
    from core.store import schema

    def typed(table: str, rows: Rows) -> Rows:
        columns = schema.metadata.tables[table].c
        stamps = [i for i, name in enumerate(rows.columns) if isinstance(columns[name].type, schema.UTCDateTime)]
        if not stamps:
            return rows
        out = []
        for row in rows.rows:
            values = list(row)
            for i in stamps:
                if values[i] is not None:
                    values[i] = datetime.fromisoformat(values[i]).replace(tzinfo=UTC)
            out.append(tuple(values))
        return Rows(rows.columns, out)

    return WrittenBatch(
        {table: typed(table, rows) for table, rows in written.ingested.items()},
        written.outbox_ids,
        typed("outbox", written.delivered),
        written.destination_xrefs,
        {table: typed(table, rows) for table, rows in written.ledger.items()},
    )


def db_count(conn: Any, table: str) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


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
