"""The database gauges behind /metrics at national size: PostgreSQL holding ten million delivered outbox
rows (and a realistic open backlog and dead letters), timed as a scrape runs them.

Run: `.venv/bin/python -m benchmarks.metrics_scrape [--url URL] [--rows N] [--scrapes K]`
(URL: a PostgreSQL database, default $PRASAN_TEST_POSTGRES_URL; scripts/ci_postgres.sh starts one).
The rows are made with generate_series in a schema of their own, dropped afterwards. Writes
benchmarks/results/metrics_scrape.json: the fill, the scrape's timings (the gauge snapshot, as
`DatabaseCollector` runs it), each query's plan, and for comparison the query counting every state
that the gauges ran before migration 0009. The target is a scrape under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, func, select, text

from core.store import Store
from core.store.schema import outbox

RESULTS = Path(__file__).parent / "results" / "metrics_scrape.json"
DESTINATIONS = 10
ENTITIES = 1_000_000
PUSH_SYSTEMS = ("eplan", "sola")

FILL = [
    # Entities the deliveries belong to (the outbox's foreign key).
    """INSERT INTO entities (entity_id, entity_type, org_code, fiscal_year, current_version, content_hash,
                             created_at, updated_at)
       SELECT lpad(to_hex(n), 32, '0'), 'plan_project', lpad((n % 7850)::text, 7, '0'), 2569, 1, md5(n::text),
              now() - interval '400 days', now() - interval '400 days'
       FROM generate_series(0, :entities - 1) AS n""",
    # The delivered rows: one per entity and destination, spread over the last year.
    """INSERT INTO outbox (delivery_key, destination, route, entity_id, entity_type, version, state, attempts,
                           max_attempts, next_attempt_at, received_at, delivered_at, created_at)
       SELECT 'd' || (n / :entities) || ':' || lpad(to_hex(n % :entities), 32, '0') || ':' || 1, 'd' || (n / :entities),
              'r', lpad(to_hex(n % :entities), 32, '0'), 'plan_project', 1, 'delivered', 1, 8,
              now() - (n % 365) * interval '1 day', now() - (n % 365) * interval '1 day',
              now() - (n % 365) * interval '1 day', now() - (n % 365) * interval '1 day'
       FROM generate_series(0, :rows - 1) AS n""",
    # An open backlog: pending, in flight and held rows (version 2 of some entities).
    """INSERT INTO outbox (delivery_key, destination, route, entity_id, entity_type, version, state, attempts,
                           max_attempts, next_attempt_at, claimed_by, claim_expires_at, created_at)
       SELECT 'd' || (n % :destinations) || ':' || lpad(to_hex(n), 32, '0') || ':' || 2, 'd' || (n % :destinations),
              'r', lpad(to_hex(n), 32, '0'), 'plan_project', 2,
              CASE WHEN n % 20 = 0 THEN 'in_flight' WHEN n % 20 = 1 THEN 'held' ELSE 'pending' END, 0, 8, now(),
              CASE WHEN n % 20 = 0 THEN 'bench' END, CASE WHEN n % 20 = 0 THEN now() + interval '1 minute' END,
              now() - (n % 3600) * interval '1 second'
       FROM generate_series(0, :backlog - 1) AS n""",
    # Dead rows and their dead letters: most resolved long ago, some open.
    """INSERT INTO outbox (delivery_key, destination, route, entity_id, entity_type, version, state, attempts,
                           max_attempts, next_attempt_at, created_at)
       SELECT 'd' || (n % :destinations) || ':' || lpad(to_hex(n), 32, '0') || ':' || 3, 'd' || (n % :destinations),
              'r', lpad(to_hex(n), 32, '0'), 'plan_project', 3, 'dead', 8, 8, now(), now() - interval '30 days'
       FROM generate_series(0, :dead - 1) AS n""",
    """INSERT INTO dead_letters (outbox_id, delivery_key, destination, entity_id, entity_type, version, reason,
                                attempts, created_at, resolved_at, resolution)
       SELECT id, delivery_key, destination, entity_id, entity_type, version, 'rejected', 8, created_at,
              CASE WHEN id % 50 = 0 THEN NULL ELSE now() END, CASE WHEN id % 50 = 0 THEN NULL ELSE 'discarded' END
       FROM outbox WHERE state = 'dead'""",
    # Payloads received over the last year: each pushing system's, and the scheduler's pulls after them.
    """INSERT INTO inbox_messages (message_id, system, client_name, received_at, payload_sha256, outcome)
       SELECT lpad(to_hex(n), 32, '0'), CASE n % 3 WHEN 0 THEN 'eplan' WHEN 1 THEN 'sola' ELSE 'gfmis' END,
              CASE WHEN n % 3 = 2 OR n > :messages - 1000 THEN 'scheduler' ELSE 'producer' END,
              now() - (:messages - n) * interval '1 minute', md5(n::text), 'accepted'
       FROM generate_series(0, :messages - 1) AS n""",
    """INSERT INTO pull_cursors (system, entity_type, cursor, updated_at, last_success_at)
       SELECT 's' || n, 'plan_project', '{}', now(), now() FROM generate_series(1, 20) AS n""",
]


def schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


def timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def plans(store: Store) -> dict[str, list[str]]:
    """EXPLAIN of every query a scrape's gauge snapshot runs (captured from the engine while it runs)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.gauge_snapshot(PUSH_SYSTEMS)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    found: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for statement, parameters in captured:
            explain = f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {statement}"
            plan = conn.exec_driver_sql(explain, parameters or None)
            shown = " ".join(statement.split())[:160]
            if parameters:
                shown += f" {parameters}"
            found[shown] = [row[0] for row in plan]
    return found


def run(url: str, rows: int, scrapes: int) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store(schema_url(url, schema))
    try:
        store.upgrade()
        backlog, dead = 20_000, 5_000
        params = {
            "entities": min(ENTITIES, rows), "rows": rows, "destinations": DESTINATIONS, "backlog": backlog, "dead": dead,
            "messages": 500_000,
        }
        fill_started = time.perf_counter()
        with store.engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement), params)
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        fill_s = time.perf_counter() - fill_started
        with store.engine.connect() as conn:
            counts = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
            size = conn.exec_driver_sql("SELECT pg_size_pretty(pg_total_relation_size('outbox'))").scalar_one()

        # As a scrape asks: with the systems that push, whose newest payload is looked up too.
        scrape = lambda: store.gauge_snapshot(PUSH_SYSTEMS)  # noqa: E731
        snap = scrape()
        assert sum(sum(s.values()) for s in snap.rows_by_state.values()) == backlog
        assert set(snap.last_received_at) == set(PUSH_SYSTEMS)
        load_before = os.getloadavg()[0]
        first = timed(scrape)
        times = [timed(scrape) for _ in range(scrapes)]
        load_after = os.getloadavg()[0]
        every_state = select(outbox.c.destination, outbox.c.state, func.count()).group_by(
            outbox.c.destination, outbox.c.state
        )
        before = [timed(lambda: store.read(lambda conn: conn.execute(every_state).all())) for _ in range(3)]
        return {
            "what": "database gauges of one /metrics scrape (core/store/gauges.py snapshot) on PostgreSQL",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            # The machine is shared: a load average well above its cores inflates every figure.
            "load_average_1m": [round(load_before, 2), round(load_after, 2)],
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "postgresql": store.read(lambda c: c.exec_driver_sql("SHOW server_version").scalar_one())},
            "outbox_rows_by_state": counts,
            "outbox_total_size": size,
            "open_dead_letters": sum(snap.unresolved_dead_letters.values()),
            "fill_s": round(fill_s, 1),
            "scrape_ms": {
                "first": round(first, 2),
                "median": round(statistics.median(times), 2),
                "p95": round(sorted(times)[max(0, int(len(times) * 0.95) - 1)], 2),
                "max": round(max(times), 2),
                "scrapes": scrapes,
            },
            "target_ms": 100,
            "before_0009_every_state_count_ms": [round(t, 1) for t in before],
            "plans": plans(store),
        }
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PRASAN_TEST_POSTGRES_URL"))
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    if not args.url or not args.url.startswith("postgresql"):
        parser.error("a PostgreSQL URL is needed (--url or PRASAN_TEST_POSTGRES_URL; scripts/ci_postgres.sh)")
    result = run(args.url, args.rows, args.scrapes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "plans"}, indent=2))


if __name__ == "__main__":
    main()
