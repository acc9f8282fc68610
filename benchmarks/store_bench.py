"""Store throughput on SQLite: ingest 20k entities in batches of 500, then claim + complete them.

Run: `.venv/bin/python -m benchmarks.store_bench [--entities N] [--batch B] [--url URL]`.
Writes benchmarks/results/store.json (store_postgresql.json when --url points at PostgreSQL). The hub's end-to-end target is >= 3,000 records/s, so the
store alone has to be well above that.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

from core.store import Acknowledged, Destination, InboundMessage, IncomingEntity, Store, make_store_url_for_sqlite

RESULTS_DIR = Path(__file__).parent / "results"


def _payload(i: int, revision: int) -> dict[str, Any]:
    return {
        "org_code": f"63{i % 7850:05d}",
        "fiscal_year": 2569,
        "project_code": f"P69-{i:07d}",
        "name_th": f"โครงการก่อสร้างถนนคอนกรีตเสริมเหล็ก หมู่ที่ {i % 20 + 1} ตำบลแม่สอด",
        "strategy": "ยุทธศาสตร์ที่ 2 การพัฒนาโครงสร้างพื้นฐาน",
        "budget": f"{(i * 1013) % 5_000_000 + revision}.00",
        "budget_source": "เงินอุดหนุนทั่วไป",
        "province": "63",
        "district": "6306",
        "subdistrict": "630601",
        "start_date": "2025-10-01",
        "end_date": "2026-09-30",
        "responsible_unit": "กองช่าง",
        "status": "approved",
        "revision": revision,
    }


def _entity(i: int, revision: int) -> IncomingEntity:
    body = _payload(i, revision)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return IncomingEntity(i, "project", f"P69-{i:07d}", body["org_code"], 2569, body, digest, "eplan@1")


def _route(system: str, entity: IncomingEntity) -> list[Destination]:
    return [Destination("gfmis", "plans-to-gfmis", 8), Destination("egp", "plans-to-egp", 8)]


def _ingest_all(store: Store, n: int, batch: int, revision: int) -> float:
    started = time.perf_counter()
    for start in range(0, n, batch):
        rows = [_entity(i, revision) for i in range(start, min(n, start + batch))]
        raw = json.dumps([r.payload for r in rows], ensure_ascii=False).encode()
        store.inbox.ingest(InboundMessage(system="eplan", payload=raw, media_type="application/json"), rows, [], _route)
    return time.perf_counter() - started


def _drain(store: Store, batch: int) -> tuple[float, int]:
    started = time.perf_counter()
    done = 0
    # By destination, as the hub's delivery workers claim (core/delivery.py), one claim of each in turn.
    open_destinations = ["gfmis", "egp"]
    while open_destinations:
        for destination in list(open_destinations):
            claimed = store.outbox.claim_due("bench", limit=batch, destination=destination)
            if not claimed:
                open_destinations.remove(destination)
                continue
            now = datetime.now(UTC)
            store.outbox.complete([Acknowledged(c.outbox_id, f"X-{c.outbox_id}", now, attempt=c.attempts) for c in claimed])
            done += len(claimed)
    return time.perf_counter() - started, done


def run(url: str, n: int, batch: int) -> dict[str, Any]:
    store = Store(url)
    store.upgrade()
    cpu = time.process_time()
    try:
        t_new = _ingest_all(store, n, batch, revision=1)
        t_same = _ingest_all(store, n, batch, revision=1)
        t_drain1, delivered1 = _drain(store, batch)
        t_changed = _ingest_all(store, n, batch, revision=2)
        t_drain2, delivered2 = _drain(store, batch)
        t_stats = time.perf_counter()
        store.outbox.outbox_stats()
        t_stats = time.perf_counter() - t_stats
    finally:
        store.dispose()
    rate = lambda count, secs: round(count / secs, 1)  # noqa: E731
    return {
        "engine": sqlalchemy.engine.make_url(url).get_backend_name(),
        "entities": n,
        "batch_size": batch,
        "destinations_per_entity": 2,
        "ingest_new_records_per_s": rate(n, t_new),
        "ingest_unchanged_repeat_records_per_s": rate(n, t_same),
        "ingest_changed_records_per_s": rate(n, t_changed),
        "claim_complete_deliveries_per_s_first_pass": rate(delivered1, t_drain1),
        "claim_complete_deliveries_per_s_second_pass": rate(delivered2, t_drain2),
        "deliveries_first_pass": delivered1,
        "deliveries_second_pass": delivered2,
        "outbox_stats_seconds": round(t_stats, 4),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "load_average_at_end": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--url", default=None, help="database URL (default: a fresh SQLite file in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or make_store_url_for_sqlite(Path(tmp) / "bench.db")
        result = run(url, args.entities, args.batch)
    result.update(
        {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__,
            "machine": f"{platform.machine()} {platform.system()}",
        }
    )
    name = "store.json" if result["engine"] == "sqlite" else f"store_{result['engine']}.json"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
