"""The area ledger at national size: area aggregates over a million projected project-years, and the public
API served from its cache.

The ledger is filled directly (one row per project-year, spread over every organisation of the registry and
fiscal years 2566-2570, stages and amounts varied), as `prasan projections rebuild` would leave it after a
decade of plans. Then:
  - `store.ledger.area_totals` for the province with the most organisations, by district for one fiscal
    year and by organisation over all years, and the whole country by province: median, p95 and max of
    repeated calls (the issue's bound: a province aggregate under 200 ms);
  - a hub process (`benchmarks.hub_process`) on that database answers GET /api/v1/public/... from its
    response cache to client processes on 127.0.0.1: requests per second (the bound: at least 1,000).

    python -m benchmarks.area_ledger [--rows 1000000] [--engine sqlite|postgres|both] [--seconds 10]

Writes benchmarks/results/area_ledger.json and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.common import RESULTS_DIR, fresh_database, start, stop_all
from core import ledger
from core.reference_data import load_reference_data
from core.store import Store
from core.store.ledger import to_satang
from core.store.schema import entities, ledger_categories, ledger_projects

YEARS = (2566, 2567, 2568, 2569, 2570)
BATCH = 20_000
# (local งบ, national งบรายจ่าย LV1) as the crosswalk maps them; งบกลาง has no national code.
CATEGORIES = (("investment", "investment"), ("operating", "operating"), ("subsidy", "subsidy"), ("personnel", "personnel"),
              ("central", ""))  # fmt: skip


def fill(store: Store, rows: int, seed: int = 2570) -> dict[str, Any]:
    """`rows` project-years over every organisation; returns the province with the most organisations."""
    reference = load_reference_data()
    orgs = sorted(reference.organizations.values(), key=lambda o: o["org_code"])
    rng = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    made = categories = 0
    while made < rows:
        size = min(BATCH, rows - made)
        entity_rows, ledger_rows, category_rows = [], [], []
        for i in range(made, made + size):
            org = orgs[i % len(orgs)]
            entity_id = f"{i:032x}"
            year = YEARS[(i // len(orgs)) % len(YEARS)]
            planned = Decimal(rng.randrange(50_000, 20_000_000)) / 100 * 100
            stage = rng.choice(ledger.STAGES)
            reached = ledger.STAGES.index(stage)
            amounts = {name: Decimal("0.00") for name in ledger.AMOUNTS}
            amounts["planned"] = planned
            for name, at in (("budgeted", 1), ("requested", 2), ("approved", 2), ("procured", 3), ("contracted", 4)):
                if reached >= at:
                    amounts[name] = planned
            if reached >= 5:
                amounts["disbursed"] = planned if stage == "completed" else planned / 2
            entity_rows.append({
                "entity_id": entity_id, "entity_type": "plan_project", "org_code": org["org_code"], "fiscal_year": None,
                "current_version": 1, "content_hash": "0" * 64, "created_at": now, "updated_at": now,
            })  # fmt: skip
            ledger_rows.append({
                "entity_id": entity_id, "fiscal_year": year, "org_code": org["org_code"], "org_type": org["org_type"],
                "province_code": org["province_code"], "district_code": org["district_code"], "title": f"โครงการที่ {i}",
                "programme": rng.choice(("แผนงานการศึกษา", "แผนงานเคหะและชุมชน", "แผนงานสาธารณสุข")), "stage": stage,
                **{name: to_satang(value) for name, value in amounts.items()},
                "flags": 1 if rng.random() < 0.01 else 0, "updated_at": now,
            })  # fmt: skip
            category_rows += _split(ledger_rows[-1], rng)
        store.write(lambda conn, e=entity_rows, r=ledger_rows, c=category_rows: (
            conn.execute(insert(entities), e), conn.execute(insert(ledger_projects), r), conn.execute(insert(ledger_categories), c)))
        made += size
        categories += len(category_rows)
    if store.dialect == "postgresql":
        store.write(lambda conn: (conn.exec_driver_sql("ANALYZE ledger_projects"), conn.exec_driver_sql("ANALYZE ledger_categories")))
    else:
        store.write(lambda conn: conn.exec_driver_sql("ANALYZE"))
    by_province: dict[str, int] = {}
    for org in orgs:
        by_province[org["province_code"]] = by_province.get(org["province_code"], 0) + 1
    biggest = max(by_province, key=lambda code: by_province[code])
    return {
        "fill_s": round(time.perf_counter() - started, 1), "rows": rows, "organisations": len(orgs),
        "province": biggest, "province_name": reference.provinces[biggest]["name_th"],
        "province_rows": round(rows * by_province[biggest] / len(orgs)), "category_rows": categories,
    }  # fmt: skip


def _split(row: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """A budgeted project-year's budgeted, requested and approved satang in one งบ, or two (a third of them)."""
    if row["budgeted"] == 0:
        return []
    local = "central" if rng.random() < 0.1 else rng.choice(CATEGORIES[:4])[0]
    keys = [(local, dict(CATEGORIES)[local])]
    if rng.random() < 1 / 3 and (other := rng.choice(CATEGORIES[:4])) != keys[0]:
        keys.append(other)
    common = {name: row[name] for name in ("entity_id", "fiscal_year", "org_code", "org_type", "province_code", "district_code",
                                           "stage", "flags")}  # fmt: skip
    out = []
    for n, (local_code, national_code) in enumerate(keys):
        share = {name: row[name] // len(keys) + (row[name] % len(keys) if n == 0 else 0) for name in ledger.CLASSIFIED_AMOUNTS}
        out.append({**common, "local_category": local_code, "national_category": national_code, **share})
    return out


def timed(call: Any, repeat: int) -> dict[str, float]:
    call()  # warm the caches the way a live hub has them
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "max_ms": round(times[-1], 1)}  # fmt: skip


def aggregates(store: Store, province: str, repeat: int) -> dict[str, Any]:
    area = store.ledger.area_totals
    return {
        "province_by_district_one_year": timed(lambda: area("province", province, 2570, "district"), repeat),
        "province_by_organisation_all_years": timed(lambda: area("province", province, None, "organisation"), repeat),
        "province_by_programme_one_year": timed(lambda: area("province", province, 2570, "programme"), repeat),
        "province_by_local_category_one_year": timed(lambda: area("province", province, 2570, "local_expense_category"), repeat),
        "province_by_national_category_one_year": timed(
            lambda: area("province", province, 2570, "national_expense_category"), repeat),
        "country_by_province_one_year": timed(lambda: area("province", None, 2570, "province"), max(3, repeat // 5)),
    }


def _client(url: str, paths: list[str], seconds: float, concurrency: int, out: Any) -> None:
    import aiohttp

    async def run() -> tuple[int, int]:
        done = failed = 0
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

            async def worker(n: int) -> None:
                nonlocal done, failed
                i = n
                while time.monotonic() < deadline:
                    async with http.get(url + paths[i % len(paths)]) as response:
                        await response.read()
                        if response.status == 200:
                            done += 1
                        else:
                            failed += 1
                    i += 1

            await asyncio.gather(*(worker(n) for n in range(concurrency)))
        return done, failed

    out.put(asyncio.run(run()))


def public_cache(database_url: str, province: str, org_codes: list[str], seconds: float, clients: int) -> dict[str, Any]:
    env = {
        "PRASAN_DATABASE_URL": database_url, "PRASAN_SCHEDULER_ENABLED": "false", "PRASAN_LOG_LEVEL": "warning",
        # One address is all a benchmark has; the per-address limit protects a hub from one client, not this.
        "PRASAN_SECURITY__ADDRESS_RATE_LIMIT_PER_S": "1000000", "PRASAN_SECURITY__ADDRESS_RATE_LIMIT_BURST": "1000000",
        "PRASAN_DELIVERY__HOLD_UNCONFIGURED": "true",
    }  # fmt: skip
    hub = start("hub", ["-m", "benchmarks.hub_process"], env)
    try:
        url = f"http://127.0.0.1:{hub.port}"
        paths = ["/api/v1/public/areas", f"/api/v1/public/areas/{province}"]
        paths += [f"/api/v1/public/organisations/{code}/projects?fiscal_year=2570" for code in org_codes[:20]]
        queue: Any = multiprocessing.Queue()
        _client(url, paths, 1.0, 4, queue)  # fill the cache
        queue.get()
        workers = [multiprocessing.Process(target=_client, args=(url, paths, seconds, 32, queue)) for _ in range(clients)]
        for w in workers:
            w.start()
        results = [queue.get() for _ in workers]
        for w in workers:
            w.join()
    finally:
        rss = stop_all([hub])
    done = sum(r[0] for r in results)
    return {"requests_per_s": round(done / seconds), "failed": sum(r[1] for r in results), "seconds": seconds,
            "client_processes": clients, "distinct_paths": len(paths), "hub_peak_rss_mb": rss.get("hub")}  # fmt: skip


def run(engine: str, rows: int, seconds: float, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, fresh_database(engine, Path(folder), "ledger") as database:
        store = Store(database.url)
        store.upgrade()
        filled = fill(store, rows)
        result: dict[str, Any] = {"engine": engine, **filled, "aggregates": aggregates(store, filled["province"], repeat)}
        reference = load_reference_data()
        org_codes = sorted(c for c, o in reference.organizations.items() if o["province_code"] == filled["province"])
        store.dispose()
        result["public_cache"] = public_cache(database.url, filled["province"], org_codes, seconds, clients=1)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "runs": [run(engine, args.rows, args.seconds, args.repeat) for engine in engines],
    }  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "area_ledger.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
