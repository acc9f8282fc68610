"""The store alone on the plan-project hot path: new e-Plan plan projects ingested in batches with record
identity and the area ledger on or off, then delivered once to e-LAAS (claim + acknowledge), the first
delivery that makes each project budgeted in the ledger. No HTTP, no mapping, no plugin.

    python -m benchmarks.store_plan_bench [--projects 5000] [--batch 1000] [--url URL] [--profile]

Writes benchmarks/results/store_plan.json (store_plan_postgresql.json for a PostgreSQL URL); with
--profile, also store_plan.profile.txt: cProfile of the run with identity and ledger, heaviest first.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

from core.record_identity import IdentityRules
from core.reference_data import load_reference_data
from core.settings import SHIPPED_CONFIG_DIR
from core.store import Acknowledged, Destination, InboundMessage, IncomingEntity, Store, make_store_url_for_sqlite

RESULTS_DIR = Path(__file__).parent / "results"
CONFIGURATIONS = {"bare": (False, False), "identity": (True, False), "ledger": (False, True), "both": (True, True)}


def _entity(i: int, orgs: list[str], run: str) -> IncomingEntity:
    org = orgs[i % len(orgs)]
    body = {
        "org_code": org, "fiscal_year": 2569, "plan_id": f"{org}-2566-2570", "project_code": f"{run}{i:07d}",
        "title": f"โครงการก่อสร้างถนนคอนกรีตเสริมเหล็ก หมู่ที่ {i % 20 + 1} เลขที่ {run}{i}",
        "objective": "เพื่อการสัญจร", "responsible_unit": "กองช่าง",
        "budget_by_year": [{"fiscal_year": 2569, "amount": f"{100_000 + i}.00"}, {"fiscal_year": 2570, "amount": "0.00"}],
        "links": {"local_programme": "แผนงานเคหะและชุมชน"},
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return IncomingEntity(i, "plan_project", f"{org}-{run}{i:07d}", org, 2569, body, digest, "eplan@1")


def _route(system: str, entity: IncomingEntity) -> list[Destination]:
    return [Destination("elaas", "plans-to-elaas", 8)]


def run(url: str, projects: int, batch: int, identity: bool, ledger: bool, run_id: str) -> dict[str, Any]:
    orgs = sorted(load_reference_data().organizations)
    store = Store(url)
    store.upgrade()
    if identity:
        store.inbox.identity = IdentityRules.from_file(SHIPPED_CONFIG_DIR / "identity.yaml")
    if ledger:
        store.ledger.areas = load_reference_data().organizations.get
    else:
        store.inbox.after_ingest.remove(store.ledger.on_ingested)
        store.outbox.after_complete.remove(store.ledger.on_completed)
    batches = [[_entity(i, orgs, run_id) for i in range(s, min(projects, s + batch))] for s in range(0, projects, batch)]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for rows in batches:
            message = InboundMessage(system="eplan", payload=b"[]", media_type="application/json")
            store.inbox.ingest(message, rows, [], _route)
        ingest_s, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        delivered = 0
        while claimed := store.outbox.claim_due("bench", limit=batch, destination="elaas"):
            now = datetime.now(UTC)
            store.outbox.complete([Acknowledged(c.outbox_id, f"E-{c.outbox_id}", now, attempt=c.attempts, body=c.payload) for c in claimed])
            delivered += len(claimed)
        deliver_s, deliver_cpu = time.perf_counter() - started, time.process_time() - cpu
        stages = store.read(lambda conn: conn.exec_driver_sql("SELECT stage, count(*) FROM ledger_projects GROUP BY stage").all())
    finally:
        store.dispose()
    return {
        "ingest_records_per_s": round(projects / ingest_s, 1),
        "deliver_records_per_s": round(delivered / deliver_s, 1),
        # CPU of this process per record: steadier than the rate on a machine other work shares.
        "ingest_cpu_us_per_record": round(ingest_cpu / projects * 1e6, 1),
        "deliver_cpu_us_per_record": round(deliver_cpu / max(1, delivered) * 1e6, 1),
        "delivered": delivered,
        "ledger_rows_by_stage": {stage: count for stage, count in stages},
    }


def _fresh(url: str | None, folder: Path, name: str) -> str:
    if url is None:
        return make_store_url_for_sqlite(folder / f"{name}.db")
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # one empty schema per configuration
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database (its public schema is dropped)")
    parser.add_argument("--profile", action="store_true", help="also profile the identity + ledger run")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (identity, ledger) in CONFIGURATIONS.items():
            results[name] = run(_fresh(args.url, Path(folder), name), args.projects, args.batch, identity, ledger, name)
        if args.profile:
            profiler = cProfile.Profile()
            url = _fresh(args.url, Path(folder), "profiled")
            profiler.enable()
            run(url, args.projects, args.batch, True, True, "profiled")
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative").print_stats(60)
            (RESULTS_DIR / "store_plan.profile.txt").write_text(text.getvalue(), encoding="utf-8")
    engine = "sqlite" if args.url is None else sqlalchemy.engine.make_url(args.url).get_backend_name()
    out = {
        "engine": engine, "projects": args.projects, "batch": args.batch, "configurations": results,
        "load_average": os.getloadavg(), "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "sqlalchemy": sqlalchemy.__version__,
    }  # fmt: skip
    name = "store_plan.json" if engine == "sqlite" else f"store_plan_{engine}.json"
    (RESULTS_DIR / name).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
