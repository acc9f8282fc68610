"""What one claim costs as the backlog grows: BACKLOG new plan projects queued for e-LAAS (no record identity,
links or ledger), then ten claims of 1,000 rows, each acknowledged, timed alone.

    python -m benchmarks.claim_backlog [--backlog 20000 100000 300000]

A national resync queues millions of rows: a claim must cost what it takes, not what waits behind it.
Writes benchmarks/results/claim_backlog.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.store_plan_bench import RESULTS_DIR, _entity, _route
from core.reference_data import load_reference_data
from core.store import Acknowledged, InboundMessage, Store, make_store_url_for_sqlite

CLAIMS = 10
CLAIM_ROWS = 1_000


def run(backlog: int, orgs: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(make_store_url_for_sqlite(Path(folder) / "claims.db"))
        store.upgrade()
        store.inbox.after_ingest.clear()
        store.outbox.after_complete.clear()
        try:
            for start in range(0, backlog, 2_000):
                rows = [_entity(i, orgs, "c") for i in range(start, min(backlog, start + 2_000))]
                store.inbox.ingest(InboundMessage(system="eplan", payload=b"[]", media_type="application/json"), rows, [], _route)
            cpu = wall = 0.0
            for _ in range(CLAIMS):
                started, clock = time.perf_counter(), time.process_time()
                claimed = store.outbox.claim_due("bench", limit=CLAIM_ROWS, destination="elaas")
                cpu, wall = cpu + time.process_time() - clock, wall + time.perf_counter() - started
                now = datetime.now(UTC)
                store.outbox.complete([Acknowledged(c.outbox_id, f"E-{c.outbox_id}", now, attempt=c.attempts) for c in claimed])
        finally:
            store.dispose()
    return {
        "backlog": backlog, "claim_cpu_ms": round(cpu / CLAIMS * 1e3, 1), "claim_wall_ms": round(wall / CLAIMS * 1e3, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, nargs="+", default=[20_000, 100_000, 300_000])
    args = parser.parse_args()
    orgs = sorted(load_reference_data().organizations)
    results = [run(backlog, orgs) for backlog in args.backlog]
    out = {"engine": "sqlite", "claim_rows": CLAIM_ROWS, "claims": CLAIMS, "runs": results,
           "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    (RESULTS_DIR / "claim_backlog.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
